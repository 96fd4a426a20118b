//! Server functions through which pages get content: answered from the parsed files on the
//! server, and serialised into the page so the browser hydrates with the same data.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::model::{Post, PostMeta, Profile, TagCount};

/// What the Home page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeData {
    /// The person.
    pub profile: Profile,
    /// The newest posts.
    pub latest: Vec<PostMeta>,
    /// The runnable block beside the home page's shell, as HTML (see [`HOME_BLOCK`]).
    #[serde(default)]
    pub block_html: String,
}

/// The block a visitor can run from the home page, as Markdown.
pub const HOME_BLOCK: &str =
    "```sh run\necho \"hello from $(hostname), as $(whoami)\"\nls ~\n```\n";

/// A list of posts, for the blog index or a tag page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostList {
    /// Matching published posts, newest first.
    pub posts: Vec<PostMeta>,
    /// Every tag in use, for the filter.
    pub tags: Vec<TagCount>,
}

/// What a post page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostPage {
    /// The post.
    pub post: Post,
    /// Who wrote it.
    pub author: String,
    /// Other posts to read next, most related first.
    pub more: Vec<PostMeta>,
}

/// How many posts the Home page and "more articles" show.
pub const SHORT_LIST: usize = 3;

#[cfg(feature = "ssr")]
fn content() -> Result<&'static super::Site, ServerFnError> {
    super::site().map_err(|error| ServerFnError::new(error.to_string()))
}

/// The profile and the newest posts.
#[server(endpoint = "content/home")]
pub async fn get_home() -> Result<HomeData, ServerFnError> {
    let site = content()?;
    Ok(HomeData {
        profile: site.profile.clone(),
        latest: site
            .published()
            .take(SHORT_LIST)
            .map(|post| post.meta.clone())
            .collect(),
        block_html: super::markdown::render(HOME_BLOCK)
            .map(|rendered| rendered.html)
            .map_err(ServerFnError::new)?,
    })
}

/// The profile, for the About and Projects pages.
#[server(endpoint = "content/profile")]
pub async fn get_profile() -> Result<Profile, ServerFnError> {
    Ok(content()?.profile.clone())
}

/// Published posts, all or those with `tag`; `None` when no published post has that tag.
#[server(endpoint = "content/posts")]
pub async fn get_posts(tag: Option<String>) -> Result<Option<PostList>, ServerFnError> {
    let site = content()?;
    let tags = site.tags();
    if let Some(tag) = &tag {
        if !tags.iter().any(|known| &known.tag == tag) {
            return Ok(None);
        }
    }
    let posts = site
        .published()
        .filter(|post| tag.as_ref().is_none_or(|tag| post.meta.tags.contains(tag)))
        .map(|post| post.meta.clone())
        .collect();
    Ok(Some(PostList { posts, tags }))
}

/// A published post and what to read next; `None` for unknown slugs and drafts.
#[server(endpoint = "content/post")]
pub async fn get_post(slug: String) -> Result<Option<PostPage>, ServerFnError> {
    let site = content()?;
    let Some(post) = site.post(&slug) else {
        return Ok(None);
    };
    let shared = |other: &Post| {
        other
            .meta
            .tags
            .iter()
            .filter(|tag| post.meta.tags.contains(tag))
            .count()
    };
    let mut others: Vec<&Post> = site
        .published()
        .filter(|other| other.meta.slug != slug)
        .collect();
    // Stable sort: among equally related posts, the newest stays first.
    others.sort_by_key(|other| std::cmp::Reverse(shared(other)));
    Ok(Some(PostPage {
        post: post.clone(),
        author: site.profile.name.clone(),
        more: others
            .into_iter()
            .take(SHORT_LIST)
            .map(|other| other.meta.clone())
            .collect(),
    }))
}
