//! The terminal panel: server-rendered placeholder, then xterm.js attached to the sandbox.

#[cfg(feature = "hydrate")]
mod client;
#[cfg(feature = "hydrate")]
mod extra;
mod keys;
#[cfg(feature = "hydrate")]
mod lazy;
#[cfg(feature = "hydrate")]
mod replay;
#[cfg(feature = "hydrate")]
mod replay_bar;
#[cfg(feature = "hydrate")]
mod sharing;
#[cfg(feature = "hydrate")]
mod spectator;
mod watch;

use leptos::prelude::*;

pub use keys::{with_ctrl, BarKey};
pub use watch::Watch;

/// The reactive state the panel shares with its browser-side client.
#[derive(Debug, Clone, Copy)]
pub struct PanelSignals {
    /// What the panel is doing.
    pub state: RwSignal<PanelState>,
    /// A short status line for the bar.
    pub status: RwSignal<String>,
    /// When the session reaches its lifetime, in milliseconds since the epoch (browser clock).
    pub deadline_ms: RwSignal<Option<f64>>,
    /// Whether the bar's Ctrl is held for the next key.
    pub ctrl: RwSignal<bool>,
    /// How far the upload under way is, 0 to 1; `None` when none is.
    pub upload: RwSignal<Option<f64>>,
    /// The numbers of the session's terminals open, the first (0) included.
    pub tabs: RwSignal<Vec<u8>>,
    /// The number of the terminal shown.
    pub active: RwSignal<u8>,
    /// The replay of the session's recording.
    pub replay: ReplaySignals,
    /// The session's share links and how many watch (no links: not shared).
    pub sharing: RwSignal<rootresume_protocol::Sharing>,
    /// The sandbox's latest resource reading, while the meter reads.
    pub meter: RwSignal<Option<rootresume_protocol::MeterReading>>,
}

/// What the replay of the session's recording shows.
#[derive(Debug, Clone, Copy)]
pub struct ReplaySignals {
    /// Whether it is playing.
    pub playing: RwSignal<bool>,
    /// Where it is in the recording, in milliseconds.
    pub position_ms: RwSignal<u32>,
    /// How long the recording is, in milliseconds.
    pub length_ms: RwSignal<u32>,
    /// What the replay says (loading, an error, a saved file).
    pub note: RwSignal<String>,
}

/// What the panel is doing, shown to the visitor and exposed as `data-state` for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanelState {
    /// Server-rendered on a page where the shell starts when the visitor asks for it.
    Waiting,
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
            Self::Waiting => "waiting",
            Self::Starting => "starting",
            Self::Ready => "ready",
            Self::Reconnecting => "reconnecting",
            Self::Ended => "ended",
            Self::Unavailable => "unavailable",
        }
    }
}

/// Formats the time left as `m:ss`, or `h:mm:ss` past an hour.
pub fn format_time_left(seconds: u64) -> String {
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if hours > 0 {
        format!("{hours}:{minutes:02}:{seconds:02}")
    } else {
        format!("{minutes}:{seconds:02}")
    }
}

/// The live shell panel, started as the page loads (`/terminal`). An island: the only part of a
/// page that runs in the browser. Two islands without props rather than one with a flag: an
/// island's props reach the browser as JSON, which would bring a JSON parser into the bundle.
#[island]
pub fn Terminal() -> impl IntoView {
    panel(false)
}

/// The live shell panel of a page that loads the terminal only when the visitor presses or
/// focuses the panel (see [`crate::TERMINAL_LOADER`]); until then it offers a button.
#[island]
pub fn TerminalOnRequest() -> impl IntoView {
    panel(true)
}

/// The panel both islands show; `on_request` as for [`TerminalOnRequest`].
fn panel(on_request: bool) -> impl IntoView {
    let host = NodeRef::<leptos::html::Div>::new();
    let (first_state, first_status) = if on_request {
        (PanelState::Waiting, "not started")
    } else {
        (PanelState::Starting, "starting your sandbox…")
    };
    let panel = PanelSignals {
        state: RwSignal::new(first_state),
        status: RwSignal::new(String::from(first_status)),
        deadline_ms: RwSignal::new(None),
        ctrl: RwSignal::new(false),
        upload: RwSignal::new(None),
        tabs: RwSignal::new(vec![0]),
        active: RwSignal::new(0),
        replay: ReplaySignals {
            playing: RwSignal::new(false),
            position_ms: RwSignal::new(0),
            length_ms: RwSignal::new(0),
            note: RwSignal::new(String::new()),
        },
        sharing: RwSignal::new(Default::default()),
        meter: RwSignal::new(None),
    };
    let PanelSignals {
        state,
        status,
        deadline_ms,
        ctrl,
        upload,
        tabs,
        active,
        replay,
        sharing,
        meter,
    } = panel;
    // The parts of the panel drawn by code loaded on first use (see lazy.rs): the replay's bar,
    // and the share strip's links. Empty in the server's HTML.
    let replay_part = RwSignal::new(None::<ViewFn>);
    let share_part = RwSignal::new(None::<ViewFn>);
    // The browser clock, ticking once a second while a countdown is shown.
    let now_ms = RwSignal::new(0.0_f64);
    let handle = StoredValue::new(None::<u32>);

    #[cfg(feature = "hydrate")]
    {
        Effect::new(move |_| {
            if let Some(element) = host.get() {
                if handle.get_value().is_none() {
                    handle.set_value(Some(client::start(element.into(), panel)));
                }
            }
        });
        // The share strip's code comes once the session is shared (here or in another tab).
        let strip_asked = StoredValue::new(false);
        Effect::new(move |_| {
            let shared = sharing.with(|s| !s.watch.is_empty());
            let Some(handle) = handle.get_value() else {
                return;
            };
            if shared && !strip_asked.get_value() {
                strip_asked.set_value(true);
                leptos::task::spawn_local(async move {
                    match lazy::share_strip(handle, sharing).await {
                        Ok(part) => share_part.set(Some(part)),
                        Err(error) => {
                            strip_asked.set_value(false);
                            status.set(error.to_string());
                        }
                    }
                });
            }
        });
        now_ms.set(js_sys::Date::now());
        let ticker = set_interval_with_handle(
            move || now_ms.set(js_sys::Date::now()),
            std::time::Duration::from_secs(1),
        )
        .ok();
        on_cleanup(move || {
            if let Some(ticker) = ticker {
                ticker.clear();
            }
            if let Some(handle) = handle.try_get_value().flatten() {
                client::stop(handle);
            }
        });
    }

    let time_left = move || {
        let deadline = deadline_ms.get()?;
        if matches!(state.get(), PanelState::Ended | PanelState::Unavailable) {
            return None;
        }
        let seconds = ((deadline - now_ms.get()) / 1000.0).max(0.0).round() as u64;
        Some(format!("{} left", format_time_left(seconds)))
    };
    let restart = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(handle) = handle.get_value() {
            client::restart(handle);
        }
    };
    let download_home = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(handle) = handle.get_value() {
            leptos::task::spawn_local(async move {
                if let Err(error) = lazy::download(handle, None).await {
                    status.set(error.to_string());
                }
            });
        }
    };
    // The Upload and Restore home inputs: their files go to the client, then the input is
    // emptied so the same file chosen again is a new upload.
    let send_files = move |event: leptos::ev::Event, restore: bool| {
        #[cfg(feature = "hydrate")]
        if let Some(handle) = handle.get_value() {
            use wasm_bindgen::JsCast;
            if let Some(input) = event
                .target()
                .and_then(|target| target.dyn_into::<web_sys::HtmlInputElement>().ok())
            {
                // Taken out of the input before it is emptied, which empties its list.
                let files = input
                    .files()
                    .map(|list| client::files(&list))
                    .unwrap_or_default();
                input.set_value("");
                leptos::task::spawn_local(async move {
                    if let Err(error) = lazy::upload(handle, files, restore).await {
                        status.set(error.to_string());
                    }
                });
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (event, restore);
    };
    // The terminal tabs: show one, close one, open another.
    let on_tab = move |number: u8, close: bool| {
        #[cfg(feature = "hydrate")]
        if let Some(handle) = handle.get_value() {
            if close {
                client::close_terminal(handle, number);
            } else {
                client::select_terminal(handle, number);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (number, close);
    };
    let new_terminal = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(handle) = handle.get_value() {
            client::new_terminal(handle);
        }
    };
    // The replay: its bar and screen come with their code, then fetch the recording and play.
    let open_replay = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(handle) = handle.get_value() {
            if replay_part.with_untracked(Option::is_some) {
                return;
            }
            leptos::task::spawn_local(async move {
                match lazy::replay_bar(handle, replay, replay_part).await {
                    Ok(part) => replay_part.set(Some(part)),
                    Err(error) => status.set(error.to_string()),
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = replay;
    };
    // A pointer over (or the focus on) a control whose code is a part loaded on first use starts
    // fetching that part, so the press rarely waits for it.
    let warm = move |target: Option<leptos::web_sys::EventTarget>| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let part = target
                .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
                .and_then(|element| element.closest("[data-part]").ok().flatten())
                .and_then(|element| element.get_attribute("data-part"));
            if let Some(part) = part {
                lazy::warm(&part);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = target;
    };
    let share = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(handle) = handle.get_value() {
            client::share(handle, sharing.with_untracked(|s| !s.pair.is_empty()));
        }
    };
    let press = move |key: BarKey| {
        #[cfg(feature = "hydrate")]
        if let Some(handle) = handle.get_value() {
            client::press(handle, key);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (key, handle);
    };

    view! {
        <section class="terminal-panel" aria-label="Your sandbox shell" data-terminal-panel="">
            <div
                class="terminal-bar"
                on:pointerover=move |event| warm(event.target())
                on:focusin=move |event| warm(event.target())
            >
                <span class="terminal-title">"visitor@sandbox"</span>
                <div class="terminal-tabs" role="group" aria-label="Terminals">
                    {move || {
                        tabs.get()
                            .into_iter()
                            .map(|number| {
                                let name = (u16::from(number) + 1).to_string();
                                let shown = move || active.get() == number;
                                view! {
                                    <span class="terminal-tab" data-terminal-tab=number>
                                        <button
                                            type="button"
                                            aria-pressed=move || shown().to_string()
                                            aria-label=format!("Terminal {name}")
                                            on:click=move |_| on_tab(number, false)
                                        >
                                            {name.clone()}
                                        </button>
                                        {(number != 0)
                                            .then(|| {
                                                view! {
                                                    <button
                                                        type="button"
                                                        class="terminal-tab-close"
                                                        aria-label=format!("Close terminal {}", u16::from(number) + 1)
                                                        on:click=move |_| on_tab(number, true)
                                                    >
                                                        "×"
                                                    </button>
                                                }
                                            })}
                                    </span>
                                }
                            })
                            .collect_view()
                    }}
                    <button
                        type="button"
                        class="terminal-tab-new"
                        aria-label="New terminal"
                        title="Another shell in the same sandbox"
                        disabled=move || state.get() != PanelState::Ready
                        on:click=new_terminal
                    >
                        "+"
                    </button>
                </div>
                <span
                    class="terminal-status"
                    data-testid="terminal-status"
                    data-state=move || state.get().as_str()
                    role="status"
                >
                    {move || status.get()}
                </span>
                <Show when=move || state.get() == PanelState::Ready>
                    <label class="terminal-action terminal-upload" data-part="files" title="Files you choose (or drop on the terminal) go into your home; 10 MiB each at most">
                        "Upload"
                        <input
                            type="file"
                            multiple
                            aria-label="Upload"
                            data-testid="upload"
                            on:change=move |event| send_files(event, false)
                        />
                    </label>
                    <label class="terminal-action terminal-upload" data-part="files" title="Unpack a home archive (a Download home .tar.gz) into your home">
                        "Restore home"
                        <input
                            type="file"
                            accept=".tar.gz,.tgz,application/gzip"
                            aria-label="Restore home"
                            on:change=move |event| send_files(event, true)
                        />
                    </label>
                    {move || {
                        upload
                            .get()
                            .map(|done| {
                                view! {
                                    <progress
                                        class="terminal-progress"
                                        max="100"
                                        // A whole percentage: no float printing in the WASM.
                                        value=(done * 100.0).round() as u32
                                        aria-label="Upload progress"
                                    ></progress>
                                }
                            })
                    }}
                    <button
                        type="button"
                        class="terminal-action"
                        aria-pressed=move || (!sharing.with(|s| s.watch.is_empty())).to_string()
                        data-part="sharing"
                        title="A read-only link to this terminal, live: anyone with it can watch"
                        on:click=share
                    >
                        "Share"
                    </button>
                    <button
                        type="button"
                        class="terminal-action"
                        data-part="replay"
                        title="Play back what this sandbox's terminal showed; save it as a .cast file"
                        on:click=open_replay
                    >
                        "Replay"
                    </button>
                    <button
                        type="button"
                        class="terminal-action"
                        data-testid="download-home"
                        data-part="files"
                        title="Your home folder as a .tar.gz"
                        on:click=download_home
                    >
                        "Download home"
                    </button>
                </Show>
                <span
                    class="terminal-time-left"
                    data-testid="terminal-time-left"
                    title="Time until this sandbox is removed"
                >
                    {time_left}
                </span>
            </div>
            <Show when=move || meter.with(Option::is_some)>
                <dl class="terminal-meter" aria-label="Resources of this sandbox" data-testid="meter">
                    {move || meter.get().map(|reading| view! { <MeterFigures reading /> })}
                </dl>
            </Show>
            <div
                class="terminal-share"
                role="region"
                aria-label="Sharing"
                hidden=move || sharing.with(|s| s.watch.is_empty())
            >
                {move || share_part.get().map(|part| part.run())}
            </div>
            <div class="terminal-host" node_ref=host></div>
            <div
                class="terminal-replay"
                role="region"
                aria-label="Replay of this sandbox's recording"
                hidden=move || replay_part.with(Option::is_none)
            >
                {move || replay_part.get().map(|part| part.run())}
            </div>
            <Show when=move || state.get() == PanelState::Waiting>
                // Pressing it is what the page's loader waits for; the hydrated client then
                // starts the session, and this goes.
                <div class="terminal-waiting">
                    <button class="button primary" type="button" data-testid="terminal-start">
                        "Start your sandbox"
                    </button>
                    <p>"A Linux shell in a container made for this tab: about a second to start."</p>
                </div>
            </Show>
            <Show when=move || state.get() == PanelState::Ended>
                <div class="terminal-ended">
                    <button class="button" data-testid="terminal-restart" on:click=restart>
                        "Start a new sandbox"
                    </button>
                </div>
            </Show>
            <div class="terminal-keys" role="toolbar" aria-label="Keys a phone keyboard lacks">
                {BarKey::ALL
                    .into_iter()
                    .take(2)
                    .map(|key| view! { <KeyButton key press /> })
                    .collect_view()}
                <button
                    type="button"
                    class="terminal-key"
                    aria-pressed=move || ctrl.get().to_string()
                    // Keeps focus (and the phone keyboard) in the terminal.
                    on:mousedown=|event| event.prevent_default()
                    on:click=move |_| ctrl.update(|held| *held = !*held)
                >
                    "Ctrl"
                </button>
                {BarKey::ALL
                    .into_iter()
                    .skip(2)
                    .map(|key| view! { <KeyButton key press /> })
                    .collect_view()}
            </div>
            <noscript>
                <p class="terminal-noscript">
                    "The live shell needs JavaScript: it is a terminal (xterm.js) connected to a "
                    "container made for your tab. Everything else on this site works without it."
                </p>
            </noscript>
        </section>
    }
}

/// The meter's four figures, as a definition list's terms and values.
#[component]
fn MeterFigures(reading: rootresume_protocol::MeterReading) -> impl IntoView {
    let cpu = reading
        .cpu_percent
        .map_or_else(|| "…".to_owned(), |percent| format!("{percent} %"));
    let memory = format!(
        "{} of {} MiB",
        mebibytes(reading.memory),
        mebibytes(reading.memory_limit)
    );
    let disk = reading.disk.map_or_else(
        || "…".to_owned(),
        |d| {
            format!(
                "home {} of {} MiB, /tmp {} of {} MiB",
                mebibytes(d.home_used),
                mebibytes(d.home_size),
                mebibytes(d.tmp_used),
                mebibytes(d.tmp_size)
            )
        },
    );
    let processes = format!("{} of {}", reading.processes, reading.processes_limit);
    view! {
        <div><dt>"CPU"</dt><dd data-meter="cpu">{cpu}</dd></div>
        <div><dt>"Memory"</dt><dd data-meter="memory">{memory}</dd></div>
        <div><dt>"Disk"</dt><dd data-meter="disk">{disk}</dd></div>
        <div><dt>"Processes"</dt><dd data-meter="processes">{processes}</dd></div>
    }
}

/// Bytes as MiB with one decimal, in whole-number arithmetic (no float printing in the WASM).
fn mebibytes(bytes: u64) -> String {
    let tenths = bytes.saturating_mul(10) / (1 << 20);
    format!("{}.{}", tenths / 10, tenths % 10)
}

/// One key of the phone key bar.
#[component]
fn KeyButton(key: BarKey, press: impl Fn(BarKey) + Copy + Send + Sync + 'static) -> impl IntoView {
    view! {
        <button
            type="button"
            class="terminal-key"
            aria-label=key.name()
            // Keeps focus (and the phone keyboard) in the terminal.
            on:mousedown=|event| event.prevent_default()
            on:click=move |_| press(key)
        >
            {key.label()}
        </button>
    }
}

#[cfg(test)]
mod tests {
    use super::format_time_left;

    #[test]
    fn mebibytes_have_one_decimal() {
        assert_eq!(super::mebibytes(0), "0.0");
        assert_eq!(super::mebibytes(34 << 20), "34.0");
        assert_eq!(super::mebibytes((1 << 20) + (1 << 19)), "1.5");
        assert!(!super::mebibytes(u64::MAX).is_empty());
    }

    #[test]
    fn time_left_reads_like_a_clock() {
        assert_eq!(format_time_left(0), "0:00");
        assert_eq!(format_time_left(59), "0:59");
        assert_eq!(format_time_left(3599), "59:59");
        assert_eq!(format_time_left(3600), "1:00:00");
    }
}
