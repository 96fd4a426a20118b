//! The blog index (newest first, filtered by `?tag=`) and the page for one tag.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::{LoadError, Loading, NotFound, PageMeta, PostCards};
use crate::content::model::TagCount;
use crate::content::query::get_posts;

/// Tag filter links; the current one is marked for screen readers and styled.
#[component]
fn TagFilter(tags: Vec<TagCount>, current: Option<String>) -> impl IntoView {
    let all_current = current.is_none().then_some("page");
    view! {
        <nav class="tag-filter" aria-label="Filter posts by tag">
            <ul>
                <li><a href="/blog" aria-current=all_current>"All"</a></li>
                {tags
                    .into_iter()
                    .map(|TagCount { tag, count }| {
                        let href = format!("/blog?tag={tag}");
                        let is_current = (current.as_deref() == Some(tag.as_str())).then_some("page");
                        view! {
                            <li>
                                <a href=href aria-current=is_current>
                                    {format!("#{tag}")}
                                    <span class="count">{format!(" ({count})")}</span>
                                </a>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </nav>
    }
}

/// A list of posts for an optional tag, with its head tags; 404 for unknown tags.
fn listing(tag: Option<String>) -> impl IntoView {
    view! {
        <Suspense fallback=Loading>
            {move || {
                let tag = tag.clone();
                Suspend::new(async move {
                    match get_posts(tag.clone()).await {
                        Ok(Some(list)) => {
                            // A filtered index and the tag's own page are the same list: both
                            // name the tag page as canonical.
                            let (title, path) = match &tag {
                                Some(tag) => (format!("Posts tagged #{tag}"), format!("/tags/{tag}")),
                                None => ("Blog".to_string(), "/blog".to_string()),
                            };
                            let description = match &tag {
                                Some(tag) => format!("Every post about {tag}, newest first."),
                                None => "Notes on systems, storage and containers, newest first.".to_string(),
                            };
                            view! {
                                <PageMeta title=title.clone() description path />
                                <header class="page-header">
                                    <h1>{title}</h1>
                                    <p class="lede">
                                        <a href="/feed.xml">"Subscribe with the Atom feed"</a>
                                    </p>
                                </header>
                                <TagFilter tags=list.tags current=tag.clone() />
                                <PostCards posts=list.posts top_level=true />
                            }
                                .into_any()
                        }
                        Ok(None) => view! { <NotFound /> }.into_any(),
                        Err(error) => view! { <LoadError error /> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// `/blog` and `/blog?tag=rust`.
#[component]
pub fn Blog() -> impl IntoView {
    let query = use_query_map();
    move || listing(query.read().get("tag").filter(|tag| !tag.is_empty()))
}

/// `/tags/:tag`.
#[component]
pub fn Tag() -> impl IntoView {
    let params = use_params_map();
    move || listing(params.read().get("tag"))
}
