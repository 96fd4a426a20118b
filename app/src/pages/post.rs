//! One post: title, tags, date, reading time, author, the body, and more to read.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::{LoadError, Loading, NotFound, PageMeta, PostCards, PostFacts, TagLinks};
use crate::content::query::get_post;

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
