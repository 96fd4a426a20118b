//! Pages of the site.

use leptos::prelude::*;

use crate::terminal::Terminal;

/// The landing page: who, what, and the live shell.
#[component]
pub fn Home() -> impl IntoView {
    view! {
        <header class="hero">
            <h1>"Ada Quill"</h1>
            <p class="role">"Systems engineer — containers, storage engines, Rust"</p>
            <p class="summary">
                "I build fast, boring, reliable infrastructure. Below is a real Linux shell in a "
                "container made for this tab alone: "
                <code>"cat about.md"</code>", compile some C, run Python."
            </p>
        </header>
        <Terminal />
    }
}

/// The page for any unknown path.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <h1>"Page not found"</h1>
        <p><a href="/">"Back to the start"</a></p>
    }
}
