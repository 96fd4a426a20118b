//! The site's pages, one module each, and the pieces they share.

mod about;
mod blog;
mod home;
mod meta;
mod not_found;
mod post;
mod projects;
mod terminal;
mod watch;

pub use about::About;
pub use blog::{Blog, Tag};
pub use home::Home;
pub use meta::PageMeta;
pub use not_found::NotFound;
pub use post::PostView;
pub use projects::Projects;
pub use terminal::TerminalPage;
pub use watch::WatchPage;

use leptos::prelude::*;

use crate::content::model::{PostMeta, SiteInfo};

// Pages await their server function inside a `Suspend` rather than a `Resource`: only the
// terminal island is ever hydrated, so a resource would only copy the whole page into a JSON
// script for nobody.

/// The site's name and address, read once per render and shared through context.
pub fn site_info() -> SiteInfo {
    use_context::<SiteInfo>().unwrap_or_else(|| SiteInfo {
        name: String::new(),
        role: String::new(),
        site_url: String::new(),
    })
}

/// What a page would show while its content loads: never sent in practice, since pages render in
/// async mode and arrive whole, but `Suspense` needs a fallback.
#[component]
pub fn Loading() -> impl IntoView {
    view! { <p class="loading" aria-live="polite">"Loading…"</p> }
}

/// What a page shows when the server could not answer.
#[component]
pub fn LoadError(error: ServerFnError) -> impl IntoView {
    view! {
        <section class="load-error" role="alert">
            <h1>"This page could not be loaded"</h1>
            <p>{format!("The server said: {error}. Reloading usually helps.")}</p>
        </section>
    }
}

/// Links to tag pages.
#[component]
pub fn TagLinks(tags: Vec<String>) -> impl IntoView {
    view! {
        <ul class="tags" aria-label="Tags">
            {tags
                .into_iter()
                .map(|tag| {
                    let href = format!("/tags/{tag}");
                    view! { <li><a class="tag" href=href>{format!("#{tag}")}</a></li> }
                })
                .collect_view()}
        </ul>
    }
}

/// A post's date and reading time, in one line.
#[component]
pub fn PostFacts(meta: PostMeta) -> impl IntoView {
    view! {
        <p class="post-facts">
            <time datetime=meta.date.iso()>{meta.date.human()}</time>
            " · "
            <span data-testid="reading-time">{format!("{} min read", meta.reading_minutes)}</span>
        </p>
    }
}

/// A list of posts: title, facts, summary, tags.
#[component]
pub fn PostCards(
    /// The posts, in the order to show them.
    posts: Vec<PostMeta>,
    /// Titles as `<h2>` where the list sits right under the page's `<h1>` (headings must not
    /// skip a level), `<h3>` under a section heading.
    #[prop(optional)]
    top_level: bool,
) -> impl IntoView {
    view! {
        <ol class="post-list">
            {posts
                .into_iter()
                .map(|meta| {
                    let href = format!("/blog/{}", meta.slug);
                    view! {
                        <li class="post-card">
                            {if top_level {
                                view! { <h2 class="post-title"><a href=href>{meta.title.clone()}</a></h2> }
                                    .into_any()
                            } else {
                                view! { <h3 class="post-title"><a href=href>{meta.title.clone()}</a></h3> }
                                    .into_any()
                            }}
                            <PostFacts meta=meta.clone() />
                            <p>{meta.summary.clone()}</p>
                            <TagLinks tags=meta.tags.clone() />
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
}
