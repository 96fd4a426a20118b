//! The panel's share strip: the links to the terminal shown, how many watch, and the controls.

use leptos::prelude::*;
use rootresume_protocol::{Sharing, WATCH_PATH};

/// What the share controls ask for (carried out by the browser side only).
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub enum ShareAction {
    /// Share the terminal shown (again), with or without a pair link.
    Share {
        /// Whether to have a pair link too.
        pair: bool,
    },
    /// Copy a link.
    Copy(String),
    /// Stop sharing.
    Stop,
}

/// A link's full address, from its token.
fn link(token: &str) -> String {
    #[cfg(feature = "hydrate")]
    let origin = web_sys::window()
        .and_then(|window| window.location().origin().ok())
        .unwrap_or_default();
    #[cfg(not(feature = "hydrate"))]
    let origin = String::new();
    format!("{origin}{WATCH_PATH}/{token}")
}

/// The links while the session is shared (hidden otherwise).
#[component]
pub fn ShareStrip(
    sharing: RwSignal<Sharing>,
    on_share: impl Fn(ShareAction) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let paired = move || sharing.with(|s| !s.pair.is_empty());
    view! {
        <div
            class="terminal-share"
            role="region"
            aria-label="Sharing"
            hidden=move || sharing.with(|s| s.watch.is_empty())
        >
            <LinkField name="Watch link" testid="watch-link" token=Signal::derive(move || sharing.with(|s| s.watch.clone())) />
            <button
                type="button"
                class="terminal-action"
                on:click=move |_| on_share(ShareAction::Copy(link(&sharing.with_untracked(|s| s.watch.clone()))))
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
                    on:change=move |event| on_share(ShareAction::Share { pair: event_target_checked(&event) })
                />
                "Let viewers type (pair link)"
            </label>
            <Show when=paired>
                <LinkField name="Pair link" testid="pair-link" token=Signal::derive(move || sharing.with(|s| s.pair.clone())) />
            </Show>
            <button type="button" class="terminal-action" on:click=move |_| on_share(ShareAction::Stop)>
                "Stop sharing"
            </button>
        </div>
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
