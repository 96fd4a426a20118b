//! The terminals beside the panel's first: each its own xterm.js in its own screen, attached to
//! its own shell in the same sandbox through its own socket. The first terminal's socket says
//! which are open ([`ServerMessage::Terminals`]); this keeps the page's tabs in step with it.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use rootresume_protocol::{ClientMessage, ServerMessage, SessionNotice, MAX_DATA_LEN};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, HtmlElement, MessageEvent, WebSocket};
use xterm_js_rs::addons::fit::FitAddon;
use xterm_js_rs::{Terminal, TerminalAddon};

/// How long an extra terminal waits before reconnecting a dropped socket, in milliseconds.
const RETRY_MS: i32 = 1_000;

/// One terminal beside the first.
pub(super) struct Extra {
    /// Its number in the session.
    pub number: u8,
    pub term: Terminal,
    pub fit: FitAddon,
    /// The element it draws in, inside the panel's host; hidden unless its tab is chosen.
    pub screen: HtmlElement,
    socket: RefCell<Option<WebSocket>>,
    /// Set once the terminal is gone: no more reconnects.
    closed: Cell<bool>,
}

/// Creates the element a terminal draws in, inside `host`, marked with its number.
pub(super) fn new_screen(host: &HtmlElement, number: u8) -> Option<HtmlElement> {
    let document = web_sys::window()?.document()?;
    let screen: HtmlElement = document.create_element("div").ok()?.dyn_into().ok()?;
    screen.set_class_name("terminal-screen");
    let _ = screen.set_attribute("data-terminal", &number.to_string());
    host.append_child(&screen).ok()?;
    Some(screen)
}

impl Extra {
    /// Opens terminal `number` of `session` in a new screen inside `host`, hidden.
    pub fn open(host: &HtmlElement, number: u8, session: &str) -> Option<Rc<Self>> {
        let screen = new_screen(host, number)?;
        screen.set_hidden(true);
        let term = Terminal::new(&super::client::options());
        let fit = FitAddon::new();
        term.open(screen.clone());
        term.load_addon(fit.clone().unchecked_into::<TerminalAddon>());
        let extra = Rc::new(Self {
            number,
            term,
            fit,
            screen,
            socket: RefCell::new(None),
            closed: Cell::new(false),
        });
        extra.listen();
        connect(extra.clone(), session.to_owned());
        Some(extra)
    }

    /// Sends a message on its socket, if open.
    pub fn send(&self, message: &ClientMessage) {
        if let Some(socket) = self.socket.borrow().as_ref() {
            if socket.ready_state() == WebSocket::OPEN {
                let _ = socket.send_with_u8_array(&message.encode());
            }
        }
    }

    fn send_size(&self) {
        self.send(&ClientMessage::Resize {
            cols: self.term.get_cols().min(u16::MAX.into()) as u16,
            rows: self.term.get_rows().min(u16::MAX.into()) as u16,
        });
    }

    /// Shows or hides it; a shown terminal takes its size from the panel and the keyboard.
    pub fn show(&self, shown: bool) {
        self.screen.set_hidden(!shown);
        if shown {
            self.fit.fit();
            self.term.focus();
        }
    }

    /// Closes its socket and removes its screen, for good.
    pub fn dispose(&self) {
        self.closed.set(true);
        if let Some(socket) = self.socket.borrow_mut().take() {
            let _ = socket.close();
        }
        self.term.dispose();
        self.screen.remove();
    }

    fn listen(self: &Rc<Self>) {
        let extra = self.clone();
        let on_data = Closure::<dyn FnMut(String)>::new(move |data: String| {
            for chunk in data.as_bytes().chunks(MAX_DATA_LEN) {
                extra.send(&ClientMessage::Input(chunk.to_vec()));
            }
        });
        self.term.on_data(on_data.as_ref().unchecked_ref());
        on_data.forget();
        let extra = self.clone();
        let on_binary = Closure::<dyn FnMut(String)>::new(move |data: String| {
            let bytes: Vec<u8> = data.chars().map(|c| c as u32 as u8).collect();
            extra.send(&ClientMessage::Input(bytes));
        });
        self.term.on_binary(on_binary.as_ref().unchecked_ref());
        on_binary.forget();
        let extra = self.clone();
        let on_resize = Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| extra.send_size());
        self.term.on_resize(on_resize.as_ref().unchecked_ref());
        on_resize.forget();
    }

    fn handle(&self, message: ServerMessage) {
        match message {
            ServerMessage::Output(bytes) => {
                let data = js_sys::Uint8Array::from(bytes.as_slice());
                self.term
                    .unchecked_ref::<super::client::ByteTerminal>()
                    .write_bytes(&data);
            }
            ServerMessage::Notice(SessionNotice::Started { .. }) => self.send_size(),
            // Its shell ended or it was closed: the first socket's list drops it next.
            ServerMessage::Notice(SessionNotice::Ended { .. }) => self.closed.set(true),
            ServerMessage::Error { message, .. } => self
                .term
                .write(&format!("\r\n\x1b[1;31m{message}\x1b[0m\r\n")),
            _ => {}
        }
    }
}

/// Opens the terminal's socket and attaches to its shell; reconnects while it is open.
fn connect(extra: Rc<Extra>, session: String) {
    if extra.closed.get() {
        return;
    }
    let Some(url) = super::client::socket_url() else {
        return;
    };
    let Ok(socket) = WebSocket::new(&url) else {
        return retry(extra, session);
    };
    socket.set_binary_type(BinaryType::Arraybuffer);
    let attach = ClientMessage::AttachTerminal {
        session: session.clone(),
        terminal: extra.number,
    };
    let on_open_extra = extra.clone();
    let on_open = Closure::<dyn FnMut()>::new(move || on_open_extra.send(&attach));
    socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    on_open.forget();
    let on_message_extra = extra.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let Ok(buffer) = event.data().dyn_into::<js_sys::ArrayBuffer>() else {
            return;
        };
        let frame = js_sys::Uint8Array::new(&buffer).to_vec();
        if let Ok(message) = ServerMessage::decode(&frame) {
            on_message_extra.handle(message);
        }
    });
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    let on_close_extra = extra.clone();
    let on_close = Closure::<dyn FnMut()>::new(move || {
        on_close_extra.socket.borrow_mut().take();
        retry(on_close_extra.clone(), session.clone());
    });
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    on_close.forget();
    extra.socket.replace(Some(socket));
}

fn retry(extra: Rc<Extra>, session: String) {
    if extra.closed.get() {
        return;
    }
    let again = Closure::once_into_js(move || connect(extra, session));
    if let Some(window) = web_sys::window() {
        let _ = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(again.unchecked_ref(), RETRY_MS);
    }
}
