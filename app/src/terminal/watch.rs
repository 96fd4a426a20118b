//! The spectator's panel on a share link's page: the shared terminal, live, at its owner's size.

use leptos::prelude::*;

/// Where a spectator's view stands, shown and exposed as `data-state` for tests. Only the
/// browser side moves it past `Connecting`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub enum WatchState {
    /// Opening the link.
    Connecting,
    /// Watching; keys go nowhere.
    Watching,
    /// Watching through the pair link: keys reach the shell.
    Typing,
    /// The shared terminal ended, or its owner stopped sharing.
    Ended,
    /// The link shows nothing: mistyped, stopped, expired, or full.
    Invalid,
}

impl WatchState {
    /// The `data-state` attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Watching => "watching",
            Self::Typing => "typing",
            Self::Ended => "ended",
            Self::Invalid => "invalid",
        }
    }

    fn status(self) -> &'static str {
        match self {
            Self::Connecting => "connecting…",
            Self::Watching => "live, read-only",
            Self::Typing => "live: your keys reach this shell (pair link)",
            Self::Ended => "ended",
            Self::Invalid => "this link does not work",
        }
    }
}

/// What the spectator's panel shares with its browser-side client.
#[derive(Debug, Clone, Copy)]
pub struct WatchSignals {
    /// Where the view stands.
    pub state: RwSignal<WatchState>,
    /// Why the view ended or cannot start, for the spectator; empty while watching.
    pub message: RwSignal<String>,
}

/// A shared terminal, live. An island: the share link's page runs only this in the browser.
#[island]
pub fn Watch() -> impl IntoView {
    let host = NodeRef::<leptos::html::Div>::new();
    let signals = WatchSignals {
        state: RwSignal::new(WatchState::Connecting),
        message: RwSignal::new(String::new()),
    };
    let WatchSignals { state, message } = signals;
    #[cfg(feature = "hydrate")]
    Effect::new(move |started: Option<bool>| {
        if started == Some(true) {
            return true;
        }
        match host.get() {
            Some(element) => {
                let host: web_sys::HtmlElement = element.into();
                leptos::task::spawn_local(async move {
                    if super::lazy::watch(host, signals).await.is_err() {
                        signals.message.set(String::from(
                            "The viewer's code could not be loaded: check the connection and reload the page.",
                        ));
                        signals.state.set(WatchState::Invalid);
                    }
                });
                true
            }
            None => false,
        }
    });
    view! {
        <section class="terminal-panel" aria-label="The shared terminal" data-watch-panel="">
            <div class="terminal-bar">
                <span class="terminal-title">"shared terminal"</span>
                <span
                    class="terminal-status"
                    data-testid="watch-status"
                    data-state=move || state.get().as_str()
                    role="status"
                >
                    {move || state.get().status()}
                </span>
            </div>
            <p
                class="watch-message"
                role="alert"
                data-testid="watch-message"
                hidden=move || message.with(String::is_empty)
            >
                {move || message.get()}
            </p>
            <div class="watch-host" node_ref=host></div>
            <noscript>
                <p class="terminal-noscript">
                    "Watching needs JavaScript: the terminal is drawn by xterm.js."
                </p>
            </noscript>
        </section>
    }
}
