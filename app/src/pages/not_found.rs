//! The 404 page, for unknown paths, slugs and tags.

use leptos::prelude::*;

use super::PageMeta;

/// Sets status 404 and says where to go instead.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <PageMeta title="Page not found" description="There is no page at this address." path="/404" />
        <section class="not-found">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. It may have moved, or never existed."</p>
            <ul>
                <li><a href="/">"Back to the start"</a></li>
                <li><a href="/blog">"Read the blog"</a></li>
                <li><a href="/terminal">"Open a shell"</a></li>
            </ul>
        </section>
    }
}
