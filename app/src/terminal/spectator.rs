//! The browser side of a spectator's view: xterm.js fed by a share link's socket.
//!
//! The owner's output is untrusted here: the terminal has no link handler that opens anything,
//! no clipboard access and no download handler, and it sends nothing the server would act on
//! except, through a pair link, keys.

use std::rc::Rc;

use leptos::prelude::{GetUntracked, Set};
use rootresume_protocol::{ClientMessage, ErrorCode, ServerMessage, SessionNotice};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, HtmlElement, MessageEvent, WebSocket};
use xterm_js_rs::Terminal;

use super::client::{options, socket_url, ByteTerminal};
use super::watch::{WatchSignals, WatchState};

/// A spectator's terminal and socket.
struct Spectator {
    term: Terminal,
    socket: WebSocket,
    signals: WatchSignals,
}

/// Opens the link in the address bar (`/watch/TOKEN`) in a terminal inside `host`.
pub fn start(host: HtmlElement, signals: WatchSignals) {
    let Some(token) = link_token() else {
        return invalid(signals, "this address holds no link token");
    };
    let Some(socket) = socket_url().and_then(|url| WebSocket::new(&url).ok()) else {
        return invalid(
            signals,
            "this browser could not open a connection to the server",
        );
    };
    socket.set_binary_type(BinaryType::Arraybuffer);
    let options = options();
    options.set_cursor_blink(false);
    // Read-only until the server says this is a pair link.
    options.set_disable_stdin(true);
    // OSC 8 links in the owner's output open nothing.
    let handler = js_sys::Object::new();
    let ignore = Closure::<dyn Fn()>::new(|| {}).into_js_value();
    let _ = js_sys::Reflect::set(&handler, &"activate".into(), &ignore);
    let _ = js_sys::Reflect::set(&options, &"linkHandler".into(), &handler);
    let term = Terminal::new(&options);
    term.open(host);
    let spectator = Rc::new(Spectator {
        term,
        socket,
        signals,
    });

    let watch = ClientMessage::Watch { link: token };
    let opened = spectator.clone();
    let on_open = Closure::<dyn FnMut()>::new(move || opened.send(&watch));
    spectator
        .socket
        .set_onopen(Some(on_open.as_ref().unchecked_ref()));
    on_open.forget();

    let receiver = spectator.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let Ok(buffer) = event.data().dyn_into::<js_sys::ArrayBuffer>() else {
            return;
        };
        if let Ok(message) = ServerMessage::decode(&js_sys::Uint8Array::new(&buffer).to_vec()) {
            receiver.handle(message);
        }
    });
    spectator
        .socket
        .set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();

    let closer = spectator.clone();
    let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_: CloseEvent| {
        if matches!(
            closer.signals.state.get_untracked(),
            WatchState::Watching | WatchState::Typing | WatchState::Connecting
        ) {
            closer.signals.state.set(WatchState::Ended);
            closer
                .signals
                .message
                .set("The connection to the shared terminal closed. Reload to watch again.".into());
        }
    });
    spectator
        .socket
        .set_onclose(Some(on_close.as_ref().unchecked_ref()));
    on_close.forget();

    // Keys go out only once the server said this is a pair link (stdin is disabled until then).
    let typist = spectator.clone();
    let on_data = Closure::<dyn FnMut(String)>::new(move |data: String| {
        if typist.signals.state.get_untracked() == WatchState::Typing {
            typist.send(&ClientMessage::Input(data.into_bytes()));
        }
    });
    spectator.term.on_data(on_data.as_ref().unchecked_ref());
    on_data.forget();
}

impl Spectator {
    fn send(&self, message: &ClientMessage) {
        if self.socket.ready_state() == WebSocket::OPEN {
            let _ = self.socket.send_with_u8_array(&message.encode());
        }
    }

    fn handle(&self, message: ServerMessage) {
        match message {
            ServerMessage::Output(bytes) => {
                let data = js_sys::Uint8Array::from(bytes.as_slice());
                self.term.unchecked_ref::<ByteTerminal>().write_bytes(&data);
            }
            ServerMessage::Watching { cols, rows, typing } => {
                self.term.resize(u32::from(cols), u32::from(rows));
                // xterm.js 5 reads its options from the `options` object, live.
                if let Ok(live) = js_sys::Reflect::get(&self.term, &"options".into()) {
                    let _ = js_sys::Reflect::set(&live, &"disableStdin".into(), &(!typing).into());
                }
                self.signals.state.set(if typing {
                    WatchState::Typing
                } else {
                    WatchState::Watching
                });
            }
            ServerMessage::Notice(SessionNotice::Ended { .. }) => {
                self.signals.state.set(WatchState::Ended);
                self.signals
                    .message
                    .set("The shared sandbox has ended.".into());
            }
            ServerMessage::Error { code, message } => {
                let state = if code == ErrorCode::LinkInvalid
                    && self.signals.state.get_untracked() == WatchState::Connecting
                {
                    WatchState::Invalid
                } else {
                    WatchState::Ended
                };
                self.signals.state.set(state);
                self.signals.message.set(capitalised(&message));
            }
            _ => {}
        }
    }
}

/// The token of the link this page was opened at: the path's last part.
fn link_token() -> Option<String> {
    let path = web_sys::window()?.location().pathname().ok()?;
    let token = path.rsplit('/').next()?;
    (!token.is_empty()).then(|| token.to_owned())
}

fn invalid(signals: WatchSignals, why: &str) {
    signals.state.set(WatchState::Invalid);
    signals.message.set(capitalised(why));
}

/// The server's sentence, as a sentence on the page.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!(
            "{}{}.",
            first.to_uppercase(),
            chars.as_str().trim_end_matches('.')
        ),
        None => String::new(),
    }
}
