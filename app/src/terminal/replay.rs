//! Replay of the session's recording (asciicast v3) in the panel: its own xterm.js, played on
//! the browser's clock at a chosen speed, paused, or moved to any moment.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::HtmlElement;
use xterm_js_rs::Terminal;

use super::ReplaySignals;

/// How often a playing replay catches up with its clock, in milliseconds.
const TICK_MS: i32 = 30;

/// One event of a recording.
enum Event {
    /// What the terminal printed.
    Output(String),
    /// The terminal's new size, columns then rows.
    Resize(u16, u16),
}

/// Events with their time from the start of the recording, in seconds.
type Timeline = Vec<(f64, Event)>;

/// A recording loaded into the replay's terminal.
pub(super) struct Player {
    term: Terminal,
    /// The events with their time from the start, in seconds.
    events: Timeline,
    /// The terminal's size when the recording began.
    first_size: (u16, u16),
    /// The next event to play.
    next: Cell<usize>,
    /// Where the replay is in the recording, in seconds.
    clock: Cell<f64>,
    /// The browser's clock when the replay last caught up, in milliseconds.
    wall: Cell<f64>,
    /// Recording seconds per second.
    speed: Cell<f64>,
    /// The pending tick, while playing.
    timer: Cell<Option<i32>>,
    signals: ReplaySignals,
    /// Set once closed: no more ticks.
    closed: Cell<bool>,
    /// A tick closure kept alive while scheduled.
    tick: RefCell<Option<Closure<dyn FnMut()>>>,
}

/// Reads an asciicast v3 text: the first size and the events at their times.
fn parse(text: &str) -> Result<((u16, u16), Timeline), String> {
    let mut lines = text.lines();
    let header = js_sys::JSON::parse(lines.next().unwrap_or_default())
        .map_err(|_| "the recording has no header")?;
    let get = |value: &JsValue, key: &str| js_sys::Reflect::get(value, &key.into()).ok();
    let term = get(&header, "term").ok_or("the recording names no terminal")?;
    let number = |key: &str| {
        get(&term, key)
            .and_then(|v| v.as_f64())
            .map(|v| v.clamp(1.0, 1000.0) as u16)
    };
    let size = (number("cols").unwrap_or(80), number("rows").unwrap_or(24));
    let mut at = 0.0;
    let mut events = Vec::new();
    for line in lines.filter(|line| !line.trim().is_empty()) {
        let Ok(event) = js_sys::JSON::parse(line) else {
            continue;
        };
        let event = js_sys::Array::from(&event);
        at += event.get(0).as_f64().unwrap_or(0.0).max(0.0);
        let data = event.get(2).as_string().unwrap_or_default();
        match event.get(1).as_string().as_deref() {
            Some("o") => events.push((at, Event::Output(data))),
            Some("r") => {
                let mut parts = data.split('x').map(|n| n.parse::<u16>().ok());
                if let (Some(Some(cols)), Some(Some(rows))) = (parts.next(), parts.next()) {
                    events.push((at, Event::Resize(cols.max(1), rows.max(1))));
                }
            }
            // Markers (the recording stopped) show in the terminal, dimmed.
            Some("m") => {
                events.push((at, Event::Output(format!("\r\n\x1b[2m[{data}]\x1b[0m\r\n"))))
            }
            _ => {}
        }
    }
    Ok((size, events))
}

impl Player {
    /// Loads `text` into a new terminal in `host`, at its start, paused.
    pub fn load(
        host: &HtmlElement,
        text: &str,
        signals: ReplaySignals,
    ) -> Result<Rc<Self>, String> {
        let (first_size, events) = parse(text)?;
        let options = super::client::options();
        let _ = js_sys::Reflect::set(&options, &"disableStdin".into(), &true.into());
        let term = Terminal::new(&options);
        term.open(host.clone());
        term.resize(first_size.0.into(), first_size.1.into());
        let length = events.last().map_or(0.0, |(at, _)| *at);
        signals.length_ms.set((length * 1000.0).ceil() as u32);
        signals.position_ms.set(0);
        signals.playing.set(false);
        Ok(Rc::new(Self {
            term,
            events,
            first_size,
            next: Cell::new(0),
            clock: Cell::new(0.0),
            wall: Cell::new(0.0),
            speed: Cell::new(1.0),
            timer: Cell::new(None),
            signals,
            closed: Cell::new(false),
            tick: RefCell::new(None),
        }))
    }

    /// Plays the events due by the clock, writing consecutive output at once.
    fn play_until(&self, until: f64) {
        let mut text = String::new();
        while let Some((at, event)) = self.events.get(self.next.get()) {
            if *at > until {
                break;
            }
            match event {
                Event::Output(data) => text.push_str(data),
                Event::Resize(cols, rows) => {
                    if !text.is_empty() {
                        self.term.write(&std::mem::take(&mut text));
                    }
                    self.term.resize((*cols).into(), (*rows).into());
                }
            }
            self.next.set(self.next.get() + 1);
        }
        if !text.is_empty() {
            self.term.write(&text);
        }
        self.clock.set(until);
        self.signals
            .position_ms
            .set((until * 1000.0).round().max(0.0) as u32);
    }

    /// Starts or resumes playing (from the start again once it ended).
    pub fn play(self: &Rc<Self>) {
        if self.next.get() >= self.events.len() {
            self.seek(0);
        }
        self.wall.set(js_sys::Date::now());
        self.signals.playing.set(true);
        self.schedule();
    }

    /// Whether it is playing.
    pub fn is_playing(&self) -> bool {
        self.signals.playing.get_untracked()
    }

    /// Pauses where it is.
    pub fn pause(&self) {
        self.signals.playing.set(false);
        if let (Some(timer), Some(window)) = (self.timer.take(), web_sys::window()) {
            window.clear_timeout_with_handle(timer);
        }
    }

    /// Moves to `ms` into the recording: the screen as it was then.
    pub fn seek(&self, ms: u32) {
        self.term.reset();
        self.term
            .resize(self.first_size.0.into(), self.first_size.1.into());
        self.next.set(0);
        self.play_until(f64::from(ms) / 1000.0);
        self.wall.set(js_sys::Date::now());
    }

    /// Plays at `speed` recording seconds per second.
    pub fn set_speed(&self, speed: f64) {
        if speed.is_finite() && speed > 0.0 {
            self.speed.set(speed);
        }
    }

    /// Stops for good and removes the terminal.
    pub fn close(&self) {
        self.closed.set(true);
        self.pause();
        self.term.dispose();
    }

    fn schedule(self: &Rc<Self>) {
        if self.closed.get() || !self.signals.playing.get_untracked() {
            return;
        }
        let player = self.clone();
        let tick = Closure::<dyn FnMut()>::new(move || player.tick());
        if let Some(window) = web_sys::window() {
            let timer = window
                .set_timeout_with_callback_and_timeout_and_arguments_0(
                    tick.as_ref().unchecked_ref(),
                    TICK_MS,
                )
                .ok();
            self.timer.set(timer);
        }
        self.tick.replace(Some(tick));
    }

    fn tick(self: &Rc<Self>) {
        self.timer.set(None);
        if self.closed.get() || !self.signals.playing.get_untracked() {
            return;
        }
        let now = js_sys::Date::now();
        let elapsed = (now - self.wall.replace(now)).max(0.0) / 1000.0;
        self.play_until(self.clock.get() + elapsed * self.speed.get());
        if self.next.get() >= self.events.len() {
            let length = self.signals.length_ms.get_untracked();
            self.signals.position_ms.set(length);
            self.signals.playing.set(false);
            return;
        }
        self.schedule();
    }
}
