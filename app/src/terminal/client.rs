//! The browser side of the terminal: xterm.js, the session id in `sessionStorage`, and the
//! WebSocket speaking the binary protocol.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use rootresume_protocol::{
    ClientMessage, EndReason, ErrorCode, RunLang, RunRequest, ServerMessage, SessionNotice,
    DOWNLOAD_OSC, DOWNLOAD_PATH, MAX_DATA_LEN, MAX_FRAME_LEN, MAX_UPLOAD, RECORDING_PATH,
    RESTORE_PATH, UPLOAD_PATH, WS_PATH,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, Element, HtmlElement, MessageEvent, WebSocket};
use xterm_js_rs::addons::fit::FitAddon;
use xterm_js_rs::{Terminal, TerminalAddon, TerminalOptions, Theme};

use super::extra::{new_screen, Extra};
use super::replay::Player;
use super::{with_ctrl, BarKey, PanelSignals, PanelState};

/// Where the tab keeps its session id: survives a reload, not shared with new tabs.
const STORAGE_KEY: &str = "rootresume.session";
/// Longest wait between reconnection attempts, in milliseconds.
const MAX_BACKOFF_MS: i32 = 10_000;

#[wasm_bindgen]
extern "C" {
    /// The same xterm.js `Terminal`, seen through the bindings the crate lacks.
    pub(super) type ByteTerminal;

    // xterm.js 5 and later take bytes through `write`; the crate binds xterm.js 4's `writeUtf8`.
    #[wasm_bindgen(method, js_name = "write")]
    pub(super) fn write_bytes(this: &ByteTerminal, data: &js_sys::Uint8Array);

    /// `write` with the callback xterm.js calls once everything written before is parsed.
    #[wasm_bindgen(method, js_name = "write")]
    fn write_then(this: &ByteTerminal, data: &str, callback: &js_sys::Function);
}

thread_local! {
    /// Live terminals by handle, so a component's cleanup (which must be `Send`) can reach its
    /// terminal by number.
    static CLIENTS: RefCell<std::collections::HashMap<u32, Rc<Client>>> = RefCell::default();
    static NEXT_HANDLE: Cell<u32> = const { Cell::new(1) };
}

struct Client {
    /// Its handle, by which the parts of the bundle loaded later reach it (see `lazy.rs`).
    handle: u32,
    /// The first terminal: the sandbox's own shell.
    term: Terminal,
    /// Where the first terminal draws, inside the panel's host.
    screen: HtmlElement,
    /// The panel's host, where the terminals beside the first get their screens.
    host: HtmlElement,
    /// The terminals beside the first, in the order opened.
    extras: RefCell<Vec<Rc<Extra>>>,
    /// The numbers of the terminals open, for the tab bar.
    tabs: RwSignal<Vec<u8>>,
    /// The number of the terminal shown.
    active: RwSignal<u8>,
    /// Set when New terminal was pressed: the next terminal to appear is shown.
    want_new: Cell<bool>,
    /// The recording being replayed, while the replay is open.
    player: RefCell<Option<Rc<Player>>>,
    replay: super::ReplaySignals,
    /// Set when the panel is gone: no more reconnects.
    closed: Cell<bool>,
    fit: FitAddon,
    socket: RefCell<Option<WebSocket>>,
    state: RwSignal<PanelState>,
    status: RwSignal<String>,
    deadline_ms: RwSignal<Option<f64>>,
    ctrl: RwSignal<bool>,
    backoff_ms: Cell<i32>,
    /// The code block last sent to run, whose note tells what became of it.
    last_run: RefCell<Option<Element>>,
    /// Files waiting to be uploaded, one at a time, after the one under way; `true` for a home
    /// archive to restore.
    uploads: RefCell<std::collections::VecDeque<(web_sys::File, bool)>>,
    /// How far the upload under way is.
    upload: RwSignal<Option<f64>>,
    /// The session's share links and viewers.
    sharing: RwSignal<rootresume_protocol::Sharing>,
    /// The sandbox's latest resource reading.
    meter: RwSignal<Option<rootresume_protocol::MeterReading>>,
}

/// Opens xterm.js in `host` and connects it to this tab's sandbox; returns a handle for [`stop`].
pub fn start(host: HtmlElement, panel: PanelSignals) -> u32 {
    let term = Terminal::new(&options());
    let fit = FitAddon::new();
    let screen = new_screen(&host, 0).unwrap_or_else(|| host.clone());
    let handle = NEXT_HANDLE.with(|next| next.replace(next.get() + 1));
    let client = Rc::new(Client {
        handle,
        term,
        screen,
        host: host.clone(),
        extras: RefCell::default(),
        tabs: panel.tabs,
        active: panel.active,
        want_new: Cell::new(false),
        player: RefCell::new(None),
        replay: panel.replay,
        closed: Cell::new(false),
        fit,
        socket: RefCell::new(None),
        state: panel.state,
        status: panel.status,
        deadline_ms: panel.deadline_ms,
        ctrl: panel.ctrl,
        backoff_ms: Cell::new(500),
        last_run: RefCell::new(None),
        uploads: RefCell::default(),
        upload: panel.upload,
        sharing: panel.sharing,
        meter: panel.meter,
    });
    // The socket first: its handshake and the sandbox's first bytes travel while xterm.js lays
    // itself out below (which measures the font and takes a good part of the wait). Nothing it
    // receives is handled before this function returns, so the terminal is open by then.
    connect(client.clone());
    client.term.open(client.screen.clone());
    // `unchecked_into`: `ITerminalAddon` is a TypeScript interface, not a class to test against.
    client
        .term
        .load_addon(client.fit.clone().unchecked_into::<TerminalAddon>());
    client.fit.fit();
    client
        .term
        .write("\x1b[90mstarting your sandbox…\x1b[0m\r\n");
    if client.state.get_untracked() == PanelState::Waiting {
        // The visitor asked for the shell: take the keyboard, as a click on it would.
        client.set(PanelState::Starting, "starting your sandbox…");
        client.term.focus();
    }
    client.listen(&host);
    client.listen_for_runs();
    client.listen_for_downloads();
    client.listen_for_drops(&host);
    CLIENTS.with(|clients| clients.borrow_mut().insert(handle, client));
    handle
}

fn client(handle: u32) -> Option<Rc<Client>> {
    CLIENTS.with(|clients| clients.borrow().get(&handle).cloned())
}

/// Starts a fresh sandbox in a panel whose session ended (the "start a new sandbox" button).
pub fn restart(handle: u32) {
    if let Some(client) = client(handle) {
        client.restart();
    }
}

/// The files of a file input's or a drop's list, as they are now (the list empties with its
/// input).
pub fn files(list: &web_sys::FileList) -> Vec<web_sys::File> {
    (0..list.length())
        .filter_map(|index| list.item(index))
        .collect()
}

/// Uploads `files` into the sandbox's home, one after another (the panel's Upload input), or
/// with `restore`, unpacks them there as home archives (its Restore home input).
pub fn upload(handle: u32, files: Vec<web_sys::File>, restore: bool) {
    if let Some(client) = client(handle) {
        client.enqueue(files, restore);
    }
}

/// Opens the replay: fetches the session's recording and plays it in a terminal in `screen`.
pub fn replay_open(handle: u32, screen: HtmlElement) {
    let Some(client) = client(handle) else {
        return;
    };
    let Some(session) = stored_session() else {
        return client.replay.note.set("this tab has no sandbox".into());
    };
    client.replay.note.set("loading the recording…".into());
    spawn_local(async move {
        let body = format!(r#"{{"session":"{session}"}}"#);
        let text = match post_json(RECORDING_PATH, &body).await {
            Ok(response) => response_text(&response).await,
            Err(why) => Err(why),
        };
        let loaded = text.and_then(|text| Player::load(&screen, &text, client.replay));
        match loaded {
            Ok(player) => {
                client.replay.note.set(String::new());
                player.play();
                if let Some(old) = client.player.replace(Some(player)) {
                    old.close();
                }
            }
            Err(why) => client.replay.note.set(why),
        }
    });
}

/// Plays or pauses the replay.
pub fn replay_toggle(handle: u32) {
    if let Some(player) = client(handle).and_then(|c| c.player.borrow().clone()) {
        if player.is_playing() {
            player.pause();
        } else {
            player.play();
        }
    }
}

/// Moves the replay to `ms` into the recording.
pub fn replay_seek(handle: u32, ms: u32) {
    if let Some(player) = client(handle).and_then(|c| c.player.borrow().clone()) {
        player.seek(ms);
    }
}

/// Sets the replay's speed.
pub fn replay_speed(handle: u32, speed: f64) {
    if let Some(player) = client(handle).and_then(|c| c.player.borrow().clone()) {
        player.set_speed(speed);
    }
}

/// Closes the replay and its terminal.
pub fn replay_close(handle: u32) {
    if let Some(client) = client(handle) {
        if let Some(player) = client.player.borrow_mut().take() {
            player.close();
        }
        client.replay.note.set(String::new());
    }
}

/// Saves the session's recording as `sandbox.cast` (asciinema's player plays it).
pub fn download_recording(handle: u32) {
    let Some(client) = client(handle) else {
        return;
    };
    let Some(session) = stored_session() else {
        return client.replay.note.set("this tab has no sandbox".into());
    };
    spawn_local(async move {
        let body = format!(r#"{{"session":"{session}"}}"#);
        match fetch_download(RECORDING_PATH, &body).await {
            Ok((name, bytes)) => client
                .replay
                .note
                .set(format!("{name}: {bytes} bytes saved")),
            Err(why) => client.replay.note.set(why),
        }
    });
}

/// Downloads a file out of the sandbox (`path` as the `download` command named it), or with
/// `None` its home as a `.tar.gz` (the panel's "Download home" button).
pub fn download(handle: u32, path: Option<String>) {
    if let Some(client) = client(handle) {
        client.download(path);
    }
}

/// Sends a key from the phone key bar to the terminal shown, as if typed, and keeps the
/// keyboard up.
pub fn press(handle: u32, key: BarKey) {
    if let Some(client) = client(handle) {
        client.ctrl.set(false);
        let input = ClientMessage::Input(key.bytes().to_vec());
        match client.shown_extra() {
            Some(extra) => {
                extra.send(&input);
                extra.term.focus();
            }
            None => {
                client.send(&input);
                client.term.focus();
            }
        }
    }
}

/// Asks for another terminal in the same sandbox (the panel's New terminal button); it is
/// shown once the server has opened it.
pub fn new_terminal(handle: u32) {
    if let Some(client) = client(handle) {
        client.want_new.set(true);
        client.send(&ClientMessage::OpenTerminal);
    }
}

/// Shares the terminal shown through a read-only link, and with `pair` a second link whose
/// viewers may type (the panel's Share, and its "Let viewers type" box).
pub fn share(handle: u32, pair: bool) {
    if let Some(client) = client(handle) {
        let terminal = client.active.get_untracked();
        client.send(&ClientMessage::Share { terminal, pair });
    }
}

/// Puts `text` (a share link) on the clipboard, and says so in the panel's status.
pub fn copy_text(handle: u32, text: &str) {
    if let Some(client) = client(handle) {
        if let Some(window) = web_sys::window() {
            let _ = window.navigator().clipboard().write_text(text);
            client.status.set("link copied".into());
        }
    }
}

/// Stops sharing: the links die and their viewers are closed.
pub fn stop_sharing(handle: u32) {
    if let Some(client) = client(handle) {
        client.send(&ClientMessage::StopSharing);
    }
}

/// Shows terminal `number` (a tab of the panel).
pub fn select_terminal(handle: u32, number: u8) {
    if let Some(client) = client(handle) {
        client.show(number);
    }
}

/// Closes terminal `number` (a tab's close button): its shell is hung up on.
pub fn close_terminal(handle: u32, number: u8) {
    if let Some(client) = client(handle) {
        client.send(&ClientMessage::CloseTerminal(number));
    }
}

/// Closes the socket and the terminal of a panel that left the page (client-side navigation).
/// The session stays attachable for the grace period, so coming back reattaches to it.
pub fn stop(handle: u32) {
    let Some(client) = CLIENTS.with(|clients| clients.borrow_mut().remove(&handle)) else {
        return;
    };
    client.closed.set(true);
    if let Some(socket) = client.socket.borrow_mut().take() {
        let _ = socket.close();
    }
    client.sync_terminals(vec![0]);
    client.term.dispose();
}

/// The options every terminal of the panel is made with.
pub(super) fn options() -> TerminalOptions {
    let options = TerminalOptions::new();
    options.set_cursor_blink(true);
    options.set_font_size(15);
    options.set_font_family("ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace");
    options.set_scrollback(5000);
    // xterm.js takes a fractional ratio; the crate's setter only takes whole numbers. 4.5:1 is
    // the WCAG AA contrast for text, so dim output stays readable.
    let _ = js_sys::Reflect::set(&options, &"minimumContrastRatio".into(), &4.5.into());
    let theme = Theme::new();
    theme.set_background("#0f1419");
    theme.set_foreground("#e6e1cf");
    options.set_theme(&theme);
    options
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

fn stored_session() -> Option<String> {
    storage()?.get_item(STORAGE_KEY).ok()?
}

fn store_session(id: Option<&str>) {
    if let Some(storage) = storage() {
        let _ = match id {
            Some(id) => storage.set_item(STORAGE_KEY, id),
            None => storage.remove_item(STORAGE_KEY),
        };
    }
}

/// The socket's address. The session id is not in it: it goes in the first frame, because
/// proxies log URLs.
pub(super) fn socket_url() -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    let host = location.host().ok()?;
    Some(format!("{scheme}://{host}{WS_PATH}"))
}

impl Client {
    /// The terminal shown, when it is not the first.
    fn shown_extra(&self) -> Option<Rc<Extra>> {
        let active = self.active.get_untracked();
        self.extras
            .borrow()
            .iter()
            .find(|extra| extra.number == active)
            .cloned()
    }

    /// Shows terminal `number` (the first if it is not open) and hides the others.
    fn show(&self, number: u8) {
        let number = if self.extras.borrow().iter().any(|e| e.number == number) {
            number
        } else {
            0
        };
        self.screen.set_hidden(number != 0);
        for extra in self.extras.borrow().iter() {
            extra.show(extra.number == number);
        }
        self.active.set(number);
        if number == 0 {
            self.fit.fit();
            self.term.focus();
        }
    }

    /// Makes the panel's terminals those the server says are open: opens the new ones (showing
    /// one asked for with New terminal) and removes those that ended.
    fn sync_terminals(&self, open: Vec<u8>) {
        let mut extras = self.extras.borrow_mut();
        extras.retain(|extra| {
            let keep = open.contains(&extra.number);
            if !keep {
                extra.dispose();
            }
            keep
        });
        let mut opened = None;
        if let Some(session) = stored_session() {
            for &number in open.iter().filter(|n| **n != 0) {
                if !extras.iter().any(|extra| extra.number == number) {
                    if let Some(extra) = Extra::open(&self.host, number, &session) {
                        extras.push(extra);
                        opened = Some(number);
                    }
                }
            }
        }
        drop(extras);
        self.tabs.set(open);
        match opened {
            Some(number) if self.want_new.replace(false) => self.show(number),
            _ => self.show(self.active.get_untracked()),
        }
    }

    fn set(&self, state: PanelState, status: impl Into<String>) {
        self.state.set(state);
        self.status.set(status.into());
    }

    fn notice(&self, colour: u8, text: &str) {
        self.term
            .write(&format!("\r\n\x1b[1;{colour}m{text}\x1b[0m\r\n"));
    }

    fn send(&self, message: &ClientMessage) {
        if let Some(socket) = self.socket.borrow().as_ref() {
            if socket.ready_state() == WebSocket::OPEN {
                let _ = socket.send_with_u8_array(&message.encode());
            }
        }
    }

    /// Turns the server's meter readings on while the tab is shown, off while it is hidden.
    fn send_meter(&self) {
        let shown = web_sys::window()
            .and_then(|window| window.document())
            .is_some_and(|document| !document.hidden());
        if !shown {
            self.meter.set(None);
        }
        self.send(&ClientMessage::Meter(shown));
    }

    fn send_size(&self) {
        self.send(&ClientMessage::Resize {
            cols: self.term.get_cols().min(u16::MAX.into()) as u16,
            rows: self.term.get_rows().min(u16::MAX.into()) as u16,
        });
    }

    fn restart(self: &Rc<Self>) {
        if self.state.get_untracked() != PanelState::Ended {
            return;
        }
        self.term.reset();
        self.deadline_ms.set(None);
        self.set(PanelState::Starting, "starting your sandbox…");
        connect(self.clone());
        self.term.focus();
    }

    /// Wires keyboard input, taps, terminal resizes and window resizes.
    fn listen(self: &Rc<Self>, host: &HtmlElement) {
        let client = self.clone();
        let on_data = Closure::<dyn FnMut(String)>::new(move |data: String| {
            if client.state.get_untracked() == PanelState::Ended {
                if data.contains('\r') {
                    client.restart();
                }
                return;
            }
            // The key bar's Ctrl applies to the next key typed on the (phone) keyboard.
            if client.ctrl.get_untracked() {
                client.ctrl.set(false);
                if let Some(control) = with_ctrl(&data) {
                    return client.send(&ClientMessage::Input(vec![control]));
                }
            }
            for chunk in data.as_bytes().chunks(MAX_DATA_LEN) {
                client.send(&ClientMessage::Input(chunk.to_vec()));
            }
        });
        self.term.on_data(on_data.as_ref().unchecked_ref());
        on_data.forget();

        let client = self.clone();
        // Binary data (some mouse reports) arrives as a string of byte values.
        let on_binary = Closure::<dyn FnMut(String)>::new(move |data: String| {
            let bytes: Vec<u8> = data.chars().map(|c| c as u32 as u8).collect();
            client.send(&ClientMessage::Input(bytes));
        });
        self.term.on_binary(on_binary.as_ref().unchecked_ref());
        on_binary.forget();

        let client = self.clone();
        let on_resize = Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| client.send_size());
        self.term.on_resize(on_resize.as_ref().unchecked_ref());
        on_resize.forget();

        // A tap anywhere on the panel focuses the terminal, which brings up a phone's keyboard.
        let client = self.clone();
        let on_tap = Closure::<dyn FnMut()>::new(move || match client.shown_extra() {
            Some(extra) => extra.term.focus(),
            None => client.term.focus(),
        });
        let _ = host.add_event_listener_with_callback("click", on_tap.as_ref().unchecked_ref());
        on_tap.forget();

        // The resource meter reads only while the tab is shown: a hidden tab costs the engine
        // nothing.
        let client = self.clone();
        let on_visibility = Closure::<dyn FnMut()>::new(move || client.send_meter());
        if let Some(document) = web_sys::window().and_then(|window| window.document()) {
            let _ = document.add_event_listener_with_callback(
                "visibilitychange",
                on_visibility.as_ref().unchecked_ref(),
            );
        }
        on_visibility.forget();

        let client = self.clone();
        let on_window_resize = Closure::<dyn FnMut()>::new(move || match client.shown_extra() {
            Some(extra) => extra.fit.fit(),
            None => client.fit.fit(),
        });
        if let Some(window) = web_sys::window() {
            let _ = window.add_event_listener_with_callback(
                "resize",
                on_window_resize.as_ref().unchecked_ref(),
            );
        }
        on_window_resize.forget();
    }

    /// Runs the queued blocks when a Run button announces one (see [`crate::TERMINAL_LOADER`]).
    fn listen_for_runs(self: &Rc<Self>) {
        let client = self.clone();
        let on_run = Closure::<dyn FnMut()>::new(move || client.run_pending());
        if let Some(window) = web_sys::window() {
            let _ =
                window.add_event_listener_with_callback("rr-run", on_run.as_ref().unchecked_ref());
        }
        on_run.forget();
    }

    /// Answers the sandbox's `download FILE` command, which names the file in a private OSC
    /// sequence ([`DOWNLOAD_OSC`]) that xterm.js hands to this handler instead of the screen.
    fn listen_for_downloads(self: &Rc<Self>) {
        let client = self.clone();
        let on_osc = Closure::<dyn FnMut(String) -> bool>::new(move |data: String| {
            if let Some(path) = data.strip_prefix("download;") {
                let (client, path) = (client.clone(), path.to_owned());
                spawn_local(async move {
                    if let Err(error) = super::lazy::download(client.handle, Some(path)).await {
                        client.notice(31, &format!("[download: {error}]"));
                    }
                });
            }
            true
        });
        let parser = js_sys::Reflect::get(&self.term, &JsValue::from_str("parser")).ok();
        let register = parser.as_ref().and_then(|parser| {
            js_sys::Reflect::get(parser, &JsValue::from_str("registerOscHandler")).ok()
        });
        if let (Some(parser), Some(register)) = (parser, register) {
            if let Ok(register) = register.dyn_into::<js_sys::Function>() {
                let _ = register.call2(&parser, &JsValue::from(DOWNLOAD_OSC), on_osc.as_ref());
            }
        }
        on_osc.forget();
    }

    /// Queues `files` for upload and starts the first if none is under way.
    fn enqueue(self: &Rc<Self>, files: Vec<web_sys::File>, restore: bool) {
        let idle = self.uploads.borrow().is_empty() && self.upload.get_untracked().is_none();
        self.uploads
            .borrow_mut()
            .extend(files.into_iter().map(|file| (file, restore)));
        if idle {
            self.next_upload();
        }
    }

    /// Sends the next queued file, reporting progress in the bar and the outcome in the
    /// terminal; then the one after it.
    fn next_upload(self: &Rc<Self>) {
        let Some((file, restore)) = self.uploads.borrow_mut().pop_front() else {
            self.upload.set(None);
            return;
        };
        let name = file.name();
        if !restore && file.size() > MAX_UPLOAD as f64 {
            // Whole numbers only: formatting a float would pull float printing into the WASM.
            let tenths = (file.size() / 104_857.6) as u64;
            self.notice(
                31,
                &format!(
                    "[upload: {name} is {}.{} MiB; files of up to {} MiB can be uploaded]",
                    tenths / 10,
                    tenths % 10,
                    MAX_UPLOAD >> 20
                ),
            );
            return self.next_upload();
        }
        let Some(session) = stored_session() else {
            self.uploads.borrow_mut().clear();
            return self.notice(31, "[upload: this tab has no sandbox]");
        };
        let Ok(request) = web_sys::XmlHttpRequest::new() else {
            return self.notice(31, "[upload: the browser cannot send files]");
        };
        let encoded = String::from(js_sys::encode_uri_component(&name));
        let path = if restore { RESTORE_PATH } else { UPLOAD_PATH };
        let opened = request.open("POST", path).is_ok()
            && request
                .set_request_header("X-RootResume-Session", &session)
                .is_ok()
            && request
                .set_request_header("X-RootResume-Name", &encoded)
                .is_ok();
        if !opened {
            return self.notice(31, "[upload: the browser cannot send files]");
        }
        self.upload.set(Some(0.0));
        let client = self.clone();
        let on_progress = Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(
            move |event: web_sys::ProgressEvent| {
                if event.length_computable() && event.total() > 0.0 {
                    client.upload.set(Some(event.loaded() / event.total()));
                }
            },
        );
        if let Ok(upload) = request.upload() {
            upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
        }
        on_progress.forget();
        let client = self.clone();
        let sent = request.clone();
        let on_end = Closure::<dyn FnMut()>::new(move || {
            let said = sent.response_text().ok().flatten().unwrap_or_default();
            match sent.status() {
                Ok(200) if restore => client.term.write(&format!(
                    "\r\n\x1b[32m[restored {name} into your home: {said}]\x1b[0m\r\n"
                )),
                Ok(200) => client.term.write(&format!(
                    "\r\n\x1b[32m[uploaded {name}: ~/{said}]\x1b[0m\r\n"
                )),
                Ok(0) => client.notice(31, &format!("[upload of {name} broke off]")),
                _ => client.notice(31, &format!("[upload of {name} refused: {said}]")),
            }
            client.next_upload();
        });
        request.set_onloadend(Some(on_end.as_ref().unchecked_ref()));
        on_end.forget();
        if request.send_with_opt_blob(Some(&file)).is_err() {
            self.notice(31, &format!("[upload of {} could not start]", file.name()));
            self.next_upload();
        }
    }

    /// Files dropped on the terminal are uploaded like those chosen with the Upload input.
    fn listen_for_drops(self: &Rc<Self>, host: &HtmlElement) {
        let on_over = Closure::<dyn FnMut(web_sys::DragEvent)>::new(|event: web_sys::DragEvent| {
            // Without this the browser opens a dropped file instead of handing it over.
            event.prevent_default();
        });
        let _ = host.add_event_listener_with_callback("dragover", on_over.as_ref().unchecked_ref());
        on_over.forget();
        let client = self.clone();
        let on_drop =
            Closure::<dyn FnMut(web_sys::DragEvent)>::new(move |event: web_sys::DragEvent| {
                event.prevent_default();
                if let Some(list) = event.data_transfer().and_then(|data| data.files()) {
                    if client.state.get_untracked() == PanelState::Ready {
                        let (client, files) = (client.clone(), files(&list));
                        spawn_local(async move {
                            if let Err(error) =
                                super::lazy::upload(client.handle, files, false).await
                            {
                                client.notice(31, &format!("[upload: {error}]"));
                            }
                        });
                    } else {
                        client.notice(
                            31,
                            "[upload: wait for your sandbox to start, then drop again]",
                        );
                    }
                }
            });
        let _ = host.add_event_listener_with_callback("drop", on_drop.as_ref().unchecked_ref());
        on_drop.forget();
    }

    /// Fetches a file (`path`, base64, as `download` wrote it) or the whole home out of the
    /// sandbox and hands it to the browser as a download; says how it went in the terminal.
    fn download(self: &Rc<Self>, path: Option<String>) {
        let Some(session) = stored_session() else {
            return self.notice(31, "[download: this tab has no sandbox]");
        };
        // The session is a UUID and the path base64: nothing in either needs escaping in JSON.
        let body = match &path {
            Some(path)
                if path
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)) =>
            {
                format!(r#"{{"session":"{session}","path":"{path}"}}"#)
            }
            Some(_) => return self.notice(31, "[download: the file's name did not arrive whole]"),
            None => format!(r#"{{"session":"{session}","home":true}}"#),
        };
        let client = self.clone();
        spawn_local(async move {
            match fetch_download(DOWNLOAD_PATH, &body).await {
                Ok((name, bytes)) => {
                    client.term.write(&format!(
                        "\r\n\x1b[32m[{name}: {bytes} bytes saved by your browser]\x1b[0m\r\n"
                    ));
                }
                Err(why) => client.notice(31, &format!("[download failed: {why}]")),
            }
        });
    }

    /// The blocks whose Run button was pressed and that have not been sent yet.
    fn queued_runs() -> Option<js_sys::Array> {
        let window = web_sys::window()?;
        js_sys::Reflect::get(&window, &JsValue::from_str("__rrRuns"))
            .ok()?
            .dyn_into::<js_sys::Array>()
            .ok()
    }

    /// Sends the queued blocks once the shell is attached; until then, tells their notes why
    /// they wait.
    fn run_pending(self: &Rc<Self>) {
        let Some(queue) = Self::queued_runs() else {
            return;
        };
        if self.state.get_untracked() != PanelState::Ready {
            return self.note_queued(&self.status.get_untracked(), false);
        }
        while queue.length() > 0 {
            if let Ok(block) = queue.shift().dyn_into::<Element>() {
                self.run_block(&block);
            }
        }
    }

    /// Writes `text` in the note of every block still waiting to run.
    fn note_queued(&self, text: &str, error: bool) {
        if let Some(queue) = Self::queued_runs() {
            for block in queue.iter() {
                if let Ok(block) = block.dyn_into::<Element>() {
                    set_note(&block, text, error);
                }
            }
        }
    }

    /// Sends one block to run: its language and file from its data attributes, its text as
    /// the page shows it (the code element's text, never its HTML).
    fn run_block(&self, block: &Element) {
        if let Some(challenge) = block.get_attribute("data-challenge") {
            self.send(&ClientMessage::Check { challenge });
            return set_note(block, "checking your work…", false);
        }
        let lang = block
            .get_attribute("data-run-lang")
            .and_then(|lang| RunLang::from_info(&lang));
        let Some(lang) = lang else {
            return set_note(block, "this block's language cannot run here", true);
        };
        let code = block
            .query_selector("pre code")
            .ok()
            .flatten()
            .and_then(|code| code.text_content())
            .unwrap_or_default();
        let message = ClientMessage::Run(RunRequest {
            lang,
            file: block.get_attribute("data-run-file").unwrap_or_default(),
            code: code.into_bytes(),
        });
        if message.encode().len() > MAX_FRAME_LEN {
            return set_note(block, "this block is too long to run from the page", true);
        }
        // Blocks run in the first terminal: show it.
        self.show(0);
        self.send(&message);
        set_note(block, "running in your terminal", false);
        self.last_run.replace(Some(block.clone()));
    }

    /// Decodes and handles one binary frame from the socket.
    fn receive(self: &Rc<Self>, data: JsValue) {
        let Ok(buffer) = data.dyn_into::<js_sys::ArrayBuffer>() else {
            return;
        };
        let frame = js_sys::Uint8Array::new(&buffer).to_vec();
        match ServerMessage::decode(&frame) {
            Ok(message) => self.handle(message),
            Err(error) => self.notice(31, &format!("[bad message from server: {error}]")),
        }
    }

    fn handle(self: &Rc<Self>, message: ServerMessage) {
        match message {
            ServerMessage::Output(bytes) => {
                // Copied into a JS array: xterm.js parses writes later, after this frame's
                // buffer is gone.
                let data = js_sys::Uint8Array::from(bytes.as_slice());
                self.term.unchecked_ref::<ByteTerminal>().write_bytes(&data);
            }
            ServerMessage::Notice(SessionNotice::Started {
                session,
                resumed,
                seconds_left,
            }) => {
                store_session(Some(&session));
                // The server says again if the session is shared (a takeover by another
                // replica is not: its links stayed with the old one).
                self.sharing.set(Default::default());
                self.deadline_ms
                    .set(Some(js_sys::Date::now() + f64::from(seconds_left) * 1000.0));
                self.backoff_ms.set(500);
                let how = if resumed {
                    "reattached to your sandbox"
                } else {
                    "connected"
                };
                self.set(PanelState::Ready, how);
                self.send_meter();
                self.term.focus();
                self.run_pending();
            }
            ServerMessage::Notice(SessionNotice::Expiring { seconds_left }) => {
                let minutes = seconds_left.div_ceil(60);
                // Sooner than the lifetime: the idle timeout is what ends it, and typing helps.
                let lifetime_left_ms = self
                    .deadline_ms
                    .get_untracked()
                    .map_or(f64::MAX, |deadline| deadline - js_sys::Date::now());
                let idle = lifetime_left_ms > f64::from(seconds_left) * 1000.0 + 5_000.0;
                let text = if idle {
                    format!("[idle: this sandbox ends in {minutes} min unless you type something]")
                } else {
                    format!("[this sandbox ends in {minutes} min]")
                };
                self.notice(33, &text);
            }
            ServerMessage::Notice(SessionNotice::Ended { reason }) => {
                store_session(None);
                // Its links died with it; its meter reads nothing more.
                self.sharing.set(Default::default());
                self.meter.set(None);
                self.sync_terminals(vec![0]);
                let why = match reason {
                    EndReason::ShellExited => "the shell exited",
                    EndReason::Expired => "it reached its time limit",
                    EndReason::Idle => "it was idle too long",
                    EndReason::ServerShutdown => "the server is restarting",
                    EndReason::ContainerGone => "its container was removed",
                    EndReason::Abandoned => "no tab was attached to it",
                };
                self.notice(
                    33,
                    &format!(
                        "[sandbox ended: {why}] Press Enter or the button below for a new one."
                    ),
                );
                self.set(PanelState::Ended, "session ended");
            }
            ServerMessage::Error { code, message } => {
                self.notice(31, &message);
                match code {
                    ErrorCode::TerminalRefused => self.want_new.set(false),
                    ErrorCode::ShareRefused | ErrorCode::LinkInvalid => {}
                    ErrorCode::RunRefused => {
                        if let Some(block) = self.last_run.borrow().as_ref() {
                            set_note(
                                block,
                                message.trim_start_matches("[Run: ").trim_end_matches(']'),
                                true,
                            );
                        }
                    }
                    ErrorCode::UnknownSession => {
                        store_session(None);
                        self.set(PanelState::Starting, "starting a new sandbox…");
                        self.backoff_ms.set(0);
                    }
                    ErrorCode::BadMessage => {
                        if let Some(block) = self.last_run.borrow_mut().take() {
                            set_note(&block, "this server cannot run blocks yet", true);
                        }
                    }
                    _ => {
                        store_session(None);
                        self.set(PanelState::Unavailable, "sandbox unavailable — retrying");
                        self.backoff_ms.set(5_000);
                        self.note_queued(&message, true);
                    }
                }
            }
            ServerMessage::Pong(_) => {}
            ServerMessage::Terminals(open) => self.sync_terminals(open),
            ServerMessage::Sharing(sharing) => self.sharing.set(sharing),
            ServerMessage::Meter(reading) => self.meter.set(Some(reading)),
            // Only spectators' sockets are told this.
            ServerMessage::Watching { .. } => {}
            ServerMessage::Checked {
                challenge,
                passed,
                message,
            } => show_verdict(&challenge, passed, &message),
        }
    }

    fn on_close(self: &Rc<Self>, event: CloseEvent) {
        if self.closed.get() {
            return;
        }
        self.socket.borrow_mut().take();
        match self.state.get_untracked() {
            PanelState::Ended => {}
            PanelState::Ready => {
                let reason = event.reason();
                if !reason.is_empty() {
                    self.notice(33, &format!("[{reason}]"));
                }
                self.set(PanelState::Reconnecting, "reconnecting…");
                self.retry();
            }
            _ => self.retry(),
        }
    }

    fn retry(self: &Rc<Self>) {
        if self.closed.get() {
            return;
        }
        let delay = self.backoff_ms.get();
        self.backoff_ms
            .set((delay.max(250) * 2).min(MAX_BACKOFF_MS));
        let client = self.clone();
        let again = Closure::once_into_js(move || connect(client));
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
                again.unchecked_ref(),
                delay,
            );
        }
    }
}

fn failed<T>(_: T) -> String {
    String::from("the browser could not ask the server")
}

/// POSTs to `path` with one `header` and, when given, `body`; the response, whatever its status.
async fn post(
    path: &str,
    header: (&str, &str),
    body: Option<&str>,
) -> Result<web_sys::Response, String> {
    use wasm_bindgen_futures::JsFuture;
    let window = web_sys::window().ok_or("no window")?;
    let headers = web_sys::Headers::new().map_err(failed)?;
    headers.set(header.0, header.1).map_err(failed)?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    if let Some(body) = body {
        init.set_body(&JsValue::from_str(body));
    }
    JsFuture::from(window.fetch_with_str_and_init(path, &init))
        .await
        .map_err(|_| String::from("the server could not be reached"))?
        .dyn_into()
        .map_err(failed)
}

/// Posts `body` (JSON) to `path`; the response when the server took it, else what it said.
async fn post_json(path: &str, body: &str) -> Result<web_sys::Response, String> {
    let response = post(path, ("Content-Type", "application/json"), Some(body)).await?;
    if !response.ok() {
        let text = response_text(&response).await.ok();
        return Err(text.unwrap_or_else(|| format!("the server answered {}", response.status())));
    }
    Ok(response)
}

/// A response's body as text.
async fn response_text(response: &web_sys::Response) -> Result<String, String> {
    let text = response.text().map_err(failed)?;
    wasm_bindgen_futures::JsFuture::from(text)
        .await
        .ok()
        .and_then(|text| text.as_string())
        .ok_or_else(|| String::from("the answer broke off"))
}

/// Asks the server at `path` for a file with `body` and saves what comes back; returns its name
/// and size, or what the server said.
async fn fetch_download(path: &str, body: &str) -> Result<(String, u64), String> {
    use wasm_bindgen_futures::JsFuture;
    let window = web_sys::window().ok_or("no window")?;
    let response = post_json(path, body).await?;
    let name = response
        .headers()
        .get("content-disposition")
        .ok()
        .flatten()
        .and_then(|value| {
            let name = value.split("filename=\"").nth(1)?.split('"').next()?;
            Some(name.to_owned())
        })
        .unwrap_or_else(|| "download".into());
    let blob: web_sys::Blob = JsFuture::from(response.blob().map_err(failed)?)
        .await
        .map_err(|_| String::from("the download broke off"))?
        .dyn_into()
        .map_err(failed)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(failed)?;
    let document = window.document().ok_or("no document")?;
    let link: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(failed)?
        .dyn_into()
        .map_err(failed)?;
    link.set_href(&url);
    link.set_download(&name);
    link.click();
    // The browser has taken the file once the click's task ran; the URL can go after it.
    let revoke = Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    let _ = window
        .set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 10_000);
    Ok((name, blob.size() as u64))
}

/// Shows a challenge's verdict beside its Check button, and marks a passed challenge.
fn show_verdict(challenge: &str, passed: bool, message: &str) {
    let Some(document) = web_sys::window().and_then(|window| window.document()) else {
        return;
    };
    // Ids are slugs (checked when the content loads), safe inside the selector's quotes.
    let selector = format!("[data-challenge=\"{challenge}\"]");
    let Ok(Some(block)) = document.query_selector(&selector) else {
        return;
    };
    let text = if passed {
        format!("✓ {message}")
    } else {
        format!("Not yet: {message}")
    };
    set_note(&block, &text, !passed);
    let _ = if passed {
        block.set_attribute("data-passed", "")
    } else {
        block.remove_attribute("data-passed")
    };
}

/// Writes `text` in a runnable block's note (its `role="status"` line beside the button).
fn set_note(block: &Element, text: &str, error: bool) {
    if let Ok(Some(note)) = block.query_selector(".run-note") {
        note.set_text_content(Some(text));
        let _ = if error {
            note.set_attribute("data-kind", "error")
        } else {
            note.remove_attribute("data-kind")
        };
    }
}

/// The session the page's loader asked for while the bundle loaded (`window.__rrSession`, see
/// [`crate::TERMINAL_LOADER`]), taken once: its id if it was granted, `None` if there was no
/// such request or it was refused (the caller then asks again and reads the refusal itself).
async fn early_session() -> Option<String> {
    let window = web_sys::window()?;
    let key = JsValue::from_str("__rrSession");
    let pending = js_sys::Reflect::get(&window, &key).ok()?;
    let _ = js_sys::Reflect::delete_property(&window, &key);
    let promise = pending.dyn_into::<js_sys::Promise>().ok()?;
    wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .ok()?
        .as_string()
}

/// Asks the server for a new session, as the loader does (the endpoint of
/// [`crate::api::create_session`], by hand: the server function's own client would bring a JSON
/// parser into the bundle for one string). The session's id, or the server's sentence.
async fn request_session() -> Result<String, String> {
    let path = <crate::api::CreateSession as leptos::server_fn::ServerFn>::PATH;
    let response = post(path, ("Accept", "application/json"), None).await?;
    let text = response_text(&response).await?;
    if response.ok() {
        // The id as a JSON string.
        return js_sys::JSON::parse(&text)
            .ok()
            .and_then(|id| id.as_string())
            .ok_or_else(|| String::from("the server's answer was not a session"));
    }
    // A server function's error reads "ServerError|<sentence>"; a proxy's may be a sentence
    // alone, or a page not worth showing.
    let sentence = text
        .split_once('|')
        .map_or(text.as_str(), |(_, sentence)| sentence)
        .trim();
    Err(
        if sentence.is_empty() || sentence.len() > 300 || sentence.contains('<') {
            format!("the server answered {}", response.status())
        } else {
            sentence.to_owned()
        },
    )
}

/// Finds or creates this tab's session, then opens the socket: at once when the tab has its
/// session already (a reload, or the loader's early request answered).
fn connect(client: Rc<Client>) {
    if let Some(id) = stored_session() {
        return open_socket(client, &id);
    }
    spawn_local(async move {
        let session = match early_session().await {
            Some(id) => {
                store_session(Some(&id));
                id
            }
            None => match request_session().await {
                Ok(id) => {
                    store_session(Some(&id));
                    id
                }
                Err(message) => {
                    let message = message.as_str();
                    client.notice(31, message);
                    client.set(PanelState::Unavailable, "sandbox unavailable — retrying");
                    client.note_queued(message, true);
                    // A visitor in line asks often enough to keep its place and see it move.
                    let waiting_in_line = message.contains(" in line");
                    client
                        .backoff_ms
                        .set(if waiting_in_line { 1_500 } else { 5_000 });
                    return client.retry();
                }
            },
        };
        open_socket(client, &session);
    });
}

/// The page's first screen (see [`crate::FIRST_SCREEN`]), if it has one.
fn first_screen() -> Option<JsValue> {
    let window = web_sys::window()?;
    js_sys::Reflect::get(&window, &JsValue::from_str("__rrFirst"))
        .ok()
        .filter(|first| first.is_object())
}

/// The first screen's method `name`.
fn first_screen_method(first: &JsValue, name: &str) -> Option<js_sys::Function> {
    js_sys::Reflect::get(first, &JsValue::from_str(name))
        .ok()?
        .dyn_into()
        .ok()
}

/// Takes over the first screen's socket for `session`, attached or about to be: the socket and
/// the frames it received so far, which the first screen has shown as plain text.
fn adopt_first_screen(session: &str) -> Option<(JsValue, WebSocket, js_sys::Array)> {
    let first = first_screen()?;
    let taken: js_sys::Array = first_screen_method(&first, "adopt")?
        .call1(&first, &JsValue::from_str(session))
        .ok()?
        .dyn_into()
        .ok()?;
    let socket = taken.get(0).dyn_into::<WebSocket>().ok()?;
    let frames = taken.get(1).dyn_into::<js_sys::Array>().ok()?;
    Some((first, socket, frames))
}

fn open_socket(client: Rc<Client>, session: &str) {
    let adopted = adopt_first_screen(session);
    let socket = match &adopted {
        Some((_, socket, _)) => socket.clone(),
        None => {
            let Some(url) = socket_url() else {
                return;
            };
            match WebSocket::new(&url) {
                Ok(socket) => socket,
                Err(_) => return client.retry(),
            }
        }
    };
    socket.set_binary_type(BinaryType::Arraybuffer);

    let on_open_client = client.clone();
    // The first screen's socket attaches itself (its own `open` listener runs first).
    let attach = adopted.is_none().then(|| ClientMessage::AttachTerminal {
        session: session.to_owned(),
        terminal: 0,
    });
    let on_open = Closure::<dyn FnMut()>::new(move || {
        if let Some(attach) = &attach {
            on_open_client.send(attach);
        }
        on_open_client.send_size();
    });
    socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    on_open.forget();

    let on_message_client = client.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        on_message_client.receive(event.data());
    });
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();

    let on_close_client = client.clone();
    let on_close =
        Closure::<dyn FnMut(CloseEvent)>::new(move |event| on_close_client.on_close(event));
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    on_close.forget();

    let open = socket.ready_state() == WebSocket::OPEN;
    client.socket.replace(Some(socket));
    if let Some((first, _, frames)) = adopted {
        // After `start` has opened the terminal (this may run inside it), as a frame would be.
        spawn_local(async move {
            if open {
                client.send_size();
            }
            for frame in frames.iter() {
                client.receive(frame);
            }
            // The first screen goes once xterm.js has parsed what it showed, in the frame
            // xterm.js draws it.
            if let Some(done) = first_screen_method(&first, "done") {
                client
                    .term
                    .unchecked_ref::<ByteTerminal>()
                    .write_then("", &done);
            }
        });
    }
}
