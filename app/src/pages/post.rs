//! One post: title, tags, date, reading time, author, the body, and more to read.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::{LoadError, Loading, NotFound, PageMeta, PostCards, PostFacts, TagLinks};
use crate::content::query::get_post;
use crate::terminal::TerminalOnRequest;

/// `/blog/:slug`; unknown slugs and drafts give the 404 page.
#[component]
pub fn PostView() -> impl IntoView {
    let params = use_params_map();
    view! {
        <Suspense fallback=Loading>
            {move || {
                let slug = params.read().get("slug").unwrap_or_default();
                Suspend::new(async move {
                match get_post(slug).await {
                    Ok(Some(page)) => {
                        let meta = page.post.meta.clone();
                        let runnable = page.post.runnable;
                        let path = format!("/blog/{}", meta.slug);
                        view! {
                            <PageMeta title=meta.title.clone() description=meta.summary.clone() path article=true />
                            <article class="post">
                                <header class="post-header">
                                    <p class="back"><a href="/blog">"← All posts"</a></p>
                                    <h1>{meta.title.clone()}</h1>
                                    <p class="byline">"By "<span class="author">{page.author}</span></p>
                                    <PostFacts meta=meta.clone() />
                                    <TagLinks tags=meta.tags.clone() />
                                </header>
                                <div class="prose" inner_html=page.post.html></div>
                            </article>
                            {runnable.then(|| view! { <TerminalDock /> })}
                            <aside class="more" aria-labelledby="more">
                                <h2 id="more">"More articles"</h2>
                                <PostCards posts=page.more />
                                <p><a href="/blog">"Back to the blog"</a></p>
                            </aside>
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

/// The terminal of a post with runnable blocks: docked at the bottom of the window, hidden until
/// a Run button opens it (see `crate::TERMINAL_LOADER`), so the block and its output are seen
/// together.
#[component]
fn TerminalDock() -> impl IntoView {
    view! {
        <div class="terminal-dock" id="shell" data-terminal-dock="" hidden>
            <div class="terminal-dock-bar">
                <span>"Your sandbox: this post's blocks run here"</span>
                <button type="button" class="button" data-dock-close="" aria-label="Hide the terminal (your sandbox keeps running)">
                    "Hide"
                </button>
            </div>
            <TerminalOnRequest />
        </div>
    }
}
