//! The replay's bar and screen, drawn over the terminal once Replay is pressed: a part of the
//! bundle loaded then (see `lazy.rs`), not with the page.

use leptos::prelude::*;

use super::{client, format_time_left, ReplaySignals};

/// The replay's controls and its screen; the recording is fetched and played once the screen
/// is on the page. Close takes it all away again (`part` set to `None`).
pub fn bar(handle: u32, replay: ReplaySignals, part: RwSignal<Option<ViewFn>>) -> impl IntoView {
    let screen = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |opened: Option<bool>| {
        if opened == Some(true) {
            return true;
        }
        match screen.get() {
            Some(screen) => {
                client::replay_open(handle, screen.into());
                true
            }
            None => false,
        }
    });
    let close = move |_| {
        client::replay_close(handle);
        part.set(None);
    };
    view! {
        <div class="terminal-replay-bar">
            <button
                type="button"
                class="terminal-action"
                on:click=move |_| client::replay_toggle(handle)
            >
                {move || if replay.playing.get() { "Pause" } else { "Play" }}
            </button>
            <input
                type="range"
                aria-label="Position"
                min="0"
                max=move || replay.length_ms.get()
                prop:value=move || replay.position_ms.get()
                on:input=move |event| {
                    let ms = event_target_value(&event).parse().unwrap_or(0);
                    client::replay_seek(handle, ms);
                }
            />
            <span class="terminal-replay-time" data-testid="replay-time">
                {move || {
                    format!(
                        "{} / {}",
                        format_time_left(u64::from(replay.position_ms.get() / 1000)),
                        format_time_left(u64::from(replay.length_ms.get().div_ceil(1000))),
                    )
                }}
            </span>
            <select
                aria-label="Speed"
                on:change=move |event| {
                    // In percent: parsing a float would pull float parsing into the WASM.
                    let percent: u32 = event_target_value(&event).parse().unwrap_or(100);
                    client::replay_speed(handle, f64::from(percent) / 100.0);
                }
            >
                <option value="50">"0.5×"</option>
                <option value="100" selected>"1×"</option>
                <option value="200">"2×"</option>
                <option value="400">"4×"</option>
                <option value="1600">"16×"</option>
            </select>
            <button
                type="button"
                class="terminal-action"
                on:click=move |_| client::download_recording(handle)
            >
                "Download recording"
            </button>
            <button type="button" class="terminal-action" on:click=close>
                "Close replay"
            </button>
            <span class="terminal-replay-note" role="status">
                {move || replay.note.get()}
            </span>
        </div>
        <div class="terminal-replay-screen" node_ref=screen></div>
    }
}
