//! The terminal panel: server-rendered placeholder, then xterm.js attached to the sandbox.

#[cfg(feature = "hydrate")]
mod client;

use leptos::prelude::*;

/// What the panel is doing, shown to the visitor and exposed as `data-state` for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanelState {
    /// Creating the session or waiting for the container.
    Starting,
    /// The shell is attached.
    Ready,
    /// The socket dropped; trying again.
    Reconnecting,
    /// The session is over; Enter starts a new one.
    Ended,
    /// The sandbox cannot be had right now; retrying.
    Unavailable,
}

impl PanelState {
    /// The `data-state` attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Ready => "ready",
            Self::Reconnecting => "reconnecting",
            Self::Ended => "ended",
            Self::Unavailable => "unavailable",
        }
    }
}

/// The live shell panel.
#[component]
pub fn Terminal() -> impl IntoView {
    let host = NodeRef::<leptos::html::Div>::new();
    let state = RwSignal::new(PanelState::Starting);
    let status = RwSignal::new(String::from("starting your sandbox…"));

    #[cfg(feature = "hydrate")]
    {
        let handle = StoredValue::new(None::<u32>);
        Effect::new(move |_| {
            if let Some(element) = host.get() {
                if handle.get_value().is_none() {
                    handle.set_value(Some(client::start(element.into(), state, status)));
                }
            }
        });
        on_cleanup(move || {
            if let Some(handle) = handle.try_get_value().flatten() {
                client::stop(handle);
            }
        });
    }

    view! {
        <section class="terminal-panel" aria-label="Your sandbox shell">
            <div class="terminal-bar">
                <span class="terminal-title">"visitor@sandbox"</span>
                <span
                    class="terminal-status"
                    data-testid="terminal-status"
                    data-state=move || state.get().as_str()
                    role="status"
                >
                    {move || status.get()}
                </span>
            </div>
            <div class="terminal-host" node_ref=host></div>
            <noscript>
                <p class="terminal-noscript">
                    "The live shell needs JavaScript: it is a terminal (xterm.js) connected to a "
                    "container made for your tab. Everything else on this site works without it."
                </p>
            </noscript>
        </section>
    }
}
