//! A share link's page: someone's terminal, live, for a spectator.

use leptos::prelude::*;
use leptos_meta::Meta;

use super::PageMeta;
use crate::terminal::Watch;

/// The `/watch/TOKEN` page. The token stays in the address bar: the island reads it there, so
/// the page itself is the same for every link (and says nothing about one).
#[component]
pub fn WatchPage() -> impl IntoView {
    view! {
        <PageMeta
            title="A shared terminal"
            description="Someone shared their sandbox's terminal: watch it live."
            path="/watch"
        />
        // A link is private to whoever was given it.
        <Meta name="robots" content="noindex" />
        <header class="page-header">
            <h1>"A shared terminal"</h1>
            <p class="lede">
                "Someone is sharing their sandbox with you: you see their terminal live, and "
                "nothing you type reaches it unless they gave you their pair link. "
                <a href="/terminal">"Get a shell of your own"</a>"."
            </p>
        </header>
        <Watch />
    }
}
