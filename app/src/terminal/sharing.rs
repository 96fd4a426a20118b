//! The panel's share strip: the links to the terminal shown, how many watch, and the controls.
//! A part of the bundle loaded once the session is shared (see `lazy.rs`), not with the page.

use leptos::prelude::*;
use rootresume_protocol::{Sharing, WATCH_PATH};

use super::client;

/// A link's full address, from its token.
fn link(token: &str) -> String {
    let origin = web_sys::window()
        .and_then(|window| window.location().origin().ok())
        .unwrap_or_default();
    format!("{origin}{WATCH_PATH}/{token}")
}

/// The strip's contents while the session is shared (the panel hides the strip otherwise).
pub fn strip(handle: u32, sharing: RwSignal<Sharing>) -> impl IntoView {
    let paired = move || sharing.with(|s| !s.pair.is_empty());
    view! {
        <LinkField name="Watch link" testid="watch-link" token=Signal::derive(move || sharing.with(|s| s.watch.clone())) />
        <button
            type="button"
            class="terminal-action"
            on:click=move |_| client::copy_text(handle, &link(&sharing.with_untracked(|s| s.watch.clone())))
        >
            "Copy link"
        </button>
        <span class="terminal-share-viewers" role="status" data-testid="viewers">
            {move || format!("{} watching", sharing.with(|s| s.viewers))}
        </span>
        <label class="terminal-share-pair" title="A second link whose viewers can type in this terminal">
            <input
                type="checkbox"
                prop:checked=paired
                on:change=move |event| client::share(handle, event_target_checked(&event))
            />
            "Let viewers type (pair link)"
        </label>
        <Show when=paired>
            <LinkField name="Pair link" testid="pair-link" token=Signal::derive(move || sharing.with(|s| s.pair.clone())) />
        </Show>
        <button type="button" class="terminal-action" on:click=move |_| client::stop_sharing(handle)>
            "Stop sharing"
        </button>
    }
}

/// One link, read-only and selectable.
#[component]
fn LinkField(name: &'static str, testid: &'static str, token: Signal<String>) -> impl IntoView {
    view! {
        <label class="terminal-share-link">
            <span>{name}</span>
            <input
                type="text"
                readonly
                aria-label=name
                data-testid=testid
                prop:value=move || link(&token.get())
            />
        </label>
    }
}
