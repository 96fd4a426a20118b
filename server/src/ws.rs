//! The terminal WebSocket: binary protocol frames between a browser tab and its session.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use rootresume_protocol::{
    ClientMessage, DecodeError, EndReason, ErrorCode, RunRequest, ServerMessage, SessionNotice,
    MAX_DATA_LEN, MAX_FRAME_LEN,
};
use tokio::time::Instant;

use crate::ids::SessionId;
use crate::sandbox::{SandboxError, TermSize};
use crate::security::SocketPermit;
use crate::sessions::meter::{MeterState, METER_EVERY};
use crate::sessions::run::RunError;
use crate::sessions::{Session, SessionError, SessionManager, SessionState, Terminal};

/// Close code for a policy violation (RFC 6455): the client sent something it must not.
pub(crate) const CLOSE_POLICY: u16 = 1008;
/// Close code for a normal end.
pub(crate) const CLOSE_NORMAL: u16 = 1000;
/// Close code when the server cannot serve the request now.
pub(crate) const CLOSE_TRY_AGAIN: u16 = 1013;
/// Close code for a server restart (RFC 6455 registry): the client should reconnect.
const CLOSE_RESTARTING: u16 = 1012;
/// Said to a tab whose shell survives a server restart.
const RESTARTING: &str = "the server is restarting; reconnecting to your sandbox";
/// Read buffer of each socket. Tungstenite's default (128 KiB) is zero-filled on every read, so
/// it is resident for every idle tab; a browser only sends keystrokes and resizes.
pub(crate) const SOCKET_READ_BUFFER: usize = 4096;
/// How often the server pings an attached browser, so a half-open connection is noticed.
pub(crate) const PING_EVERY: Duration = Duration::from_secs(15);
/// A socket that sent nothing (not even a pong) for this long is taken for gone.
pub(crate) const SILENT_FOR: Duration = Duration::from_secs(40);
/// How long one frame may take to go out before the browser is taken for gone (it stopped
/// reading, or the connection is half-open).
pub(crate) const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a socket waits for its session's container to start before telling the visitor.
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// Resizes are applied at most this often per socket: a window being dragged sends dozens a
/// second, each an engine call.
const RESIZE_EVERY: Duration = Duration::from_millis(100);
/// How long before the end of its lifetime a session warns the visitor.
const WARN_BEFORE_END: [Duration; 2] = [Duration::from_secs(5 * 60), Duration::from_secs(60)];

/// How long a new socket may take to send its first frame, the [`ClientMessage::Attach`].
pub(crate) const ATTACH_TIMEOUT: Duration = Duration::from_secs(10);

/// Upgrades the request; the socket's first frame names the session to attach to. The id is a
/// bearer token: in the URL it would be written to every proxy's access log.
pub async fn terminal_socket(
    permit: SocketPermit,
    upgrade: WebSocketUpgrade,
    State(sessions): State<Arc<SessionManager>>,
) -> Response {
    upgrade
        .max_frame_size(MAX_FRAME_LEN)
        .max_message_size(MAX_FRAME_LEN)
        .read_buffer_size(SOCKET_READ_BUFFER)
        .on_upgrade(move |mut socket| async move {
            let (id, target) = match first_frame(&mut socket).await {
                Ok(Opening::Attach(id, target)) => (id, target),
                Ok(Opening::Watch(link)) => {
                    let viewing = sessions.watch_link(&link, permit.client()).await;
                    let span = match &viewing {
                        Ok(viewing) => viewing.span(),
                        Err(_) => tracing::Span::none(),
                    };
                    let handler = tracing::Instrument::instrument(
                        crate::watch::serve_viewer(socket, viewing),
                        span,
                    );
                    sessions.track_socket(handler).await;
                    drop(permit);
                    return;
                }
                Err(Some(message)) => {
                    return fail(socket, ErrorCode::BadMessage, message, CLOSE_POLICY).await;
                }
                Err(None) => return,
            };
            // An unknown id, a forged one and someone else's (from another address) all get
            // the same answer.
            let session = match &id {
                Some(id) => sessions.attach_target(id, permit.client()).await,
                None => Ok(None),
            };
            // Echoed in the started notice: the tab's own id, back to the tab that sent it.
            let token = id.map(|id| id.expose()).unwrap_or_default();
            let span = match &session {
                Ok(Some(session)) => session.span(),
                _ => tracing::Span::none(),
            };
            let handler = tracing::Instrument::instrument(
                serve(socket, &sessions, session, token, target),
                span,
            );
            sessions.track_socket(handler).await;
            // Only now: the permit is the client's slot under its socket cap.
            drop(permit);
        })
}

/// Which terminal of its session a socket attaches to, from its first frame.
#[derive(Debug, Clone, Copy)]
struct Target {
    /// The terminal's number (0 for the first).
    terminal: u8,
    /// Whether the page knows of several terminals ([`ClientMessage::AttachTerminal`]): its
    /// first terminal's socket is then told which are open.
    lists: bool,
}

/// What a socket's first frame asks for.
enum Opening {
    /// A tab attaching to its session's terminal; `None` for an id that is not one (answered
    /// as an unknown session).
    Attach(Option<SessionId>, Target),
    /// A spectator opening a share link, by its token.
    Watch(String),
}

/// Reads the socket's first frame: `Err(Some(why))` for one that is neither an attach nor a
/// watch, and `Err(None)` when the socket closed or stayed silent.
async fn first_frame(socket: &mut WebSocket) -> Result<Opening, Option<String>> {
    let frame = loop {
        match tokio::time::timeout(ATTACH_TIMEOUT, socket.recv()).await {
            Ok(Some(Ok(Message::Binary(frame)))) => break frame,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(Some(Ok(Message::Text(_)))) => {
                return Err(Some("the terminal must speak the binary protocol".into()))
            }
            Ok(None | Some(Err(_) | Ok(Message::Close(_)))) | Err(_) => return Err(None),
        }
    };
    match ClientMessage::decode(&frame) {
        Ok(ClientMessage::Attach { session }) => Ok(Opening::Attach(
            SessionId::parse(&session),
            Target {
                terminal: 0,
                lists: false,
            },
        )),
        Ok(ClientMessage::AttachTerminal { session, terminal }) => Ok(Opening::Attach(
            SessionId::parse(&session),
            Target {
                terminal,
                lists: terminal == 0,
            },
        )),
        Ok(ClientMessage::Watch { link }) => Ok(Opening::Watch(link)),
        Ok(_) => Err(Some(
            "the first message must name the session to attach to; reload the page".into(),
        )),
        Err(error) => Err(Some(error.to_string())),
    }
}

pub(crate) async fn send(socket: &mut WebSocket, message: ServerMessage) -> bool {
    let sent = tokio::time::timeout(
        SEND_TIMEOUT,
        socket.send(Message::Binary(message.encode().into())),
    )
    .await;
    matches!(sent, Ok(Ok(())))
}

pub(crate) async fn close(mut socket: WebSocket, code: u16, reason: &str) {
    // Close reasons are limited to 123 bytes by the protocol.
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(&reason[..end]),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

pub(crate) async fn fail(mut socket: WebSocket, code: ErrorCode, message: String, close_code: u16) {
    send(
        &mut socket,
        ServerMessage::Error {
            code,
            message: message.clone(),
        },
    )
    .await;
    close(socket, close_code, &message).await;
}

fn error_code(error: &SandboxError) -> ErrorCode {
    match error {
        SandboxError::EngineUnreachable { .. } => ErrorCode::SandboxUnavailable,
        SandboxError::ImageMissing { .. } => ErrorCode::ImageMissing,
        SandboxError::ContainerGone { .. }
        | SandboxError::Engine { .. }
        | SandboxError::Unsupported { .. }
        | SandboxError::CommandTimedOut { .. } => ErrorCode::Internal,
    }
}

/// What a visitor is told for each error: one fixed sentence, never the engine's own text or
/// its endpoint (those go to the log, with the session's tag).
fn public_message(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::SandboxUnavailable => {
            "the sandbox service is unavailable right now; your terminal retries by itself"
        }
        ErrorCode::ImageMissing => {
            "this server has no sandbox image yet; its operator can build it with scripts/build-sandbox-image.sh"
        }
        ErrorCode::UnknownSession => {
            "this sandbox session is unknown or has expired; starting a new one"
        }
        ErrorCode::BadMessage => "the terminal sent a message the server cannot read",
        ErrorCode::AtCapacity => "all sandboxes are in use; please wait for one to free up",
        ErrorCode::Internal => "your sandbox could not be started; please try again in a moment",
        ErrorCode::RunRefused => "that block could not be run",
        ErrorCode::TerminalRefused => "another terminal could not be opened",
        ErrorCode::LinkInvalid => "this link does not show anything (any more)",
        ErrorCode::ShareRefused => "this terminal could not be shared",
    }
}

async fn serve(
    mut socket: WebSocket,
    sessions: &SessionManager,
    session: Result<Option<Arc<Session>>, SessionError>,
    token: String,
    target: Target,
) {
    let session = match session {
        Ok(session) => session,
        Err(error) => {
            // The session may well exist (another replica is letting go of it, or the store
            // is back in a moment): no error frame, which would make the tab drop its id; the
            // tab reconnects by itself.
            return close(socket, CLOSE_TRY_AGAIN, &error.to_string()).await;
        }
    };
    let Some(session) = session else {
        let message = "this sandbox session is unknown or has expired; starting a new one".into();
        return fail(socket, ErrorCode::UnknownSession, message, CLOSE_NORMAL).await;
    };
    // What the tab sends while its sandbox starts (its size, first keys) is kept for the shell:
    // the terminal's first resize comes right behind the attach frame.
    let mut early = Early::default();
    let too_slow = tokio::time::sleep(START_TIMEOUT);
    tokio::pin!(too_slow);
    let state = loop {
        tokio::select! {
            biased;
            state = session.started() => break state,
            () = &mut too_slow => {
                let message = "your sandbox is taking too long to start; retrying".to_owned();
                return fail(socket, ErrorCode::SandboxUnavailable, message, CLOSE_TRY_AGAIN).await;
            }
            // A tab that leaves while its sandbox starts frees its socket at once.
            left = socket.recv() => match left {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(Message::Binary(frame))) => early.keep(&frame),
                Some(Ok(_)) => {}
            },
        }
    };
    match state {
        SessionState::Running => {}
        SessionState::Failed(error) => {
            // The detail was logged, with the session's tag, when the start failed.
            let code = error_code(&error);
            let message = public_message(code).to_owned();
            return fail(socket, code, message, CLOSE_TRY_AGAIN).await;
        }
        SessionState::Ended(reason) => {
            send(
                &mut socket,
                ServerMessage::Notice(SessionNotice::Ended { reason }),
            )
            .await;
            return close(socket, CLOSE_NORMAL, "session ended").await;
        }
        SessionState::Suspended => return close(socket, CLOSE_RESTARTING, RESTARTING).await,
        SessionState::HandedOver => return close(socket, CLOSE_NORMAL, DISPLACED).await,
        SessionState::Starting => return,
    }
    let Some(terminal) = session.terminal(target.terminal) else {
        return terminal_closed(socket).await;
    };

    let attachment = terminal.attach();
    // Detaches on every way out of this function, a dropped future included.
    let _attached = Attached {
        terminal: &terminal,
        generation: attachment.generation,
    };
    let mut cursor = attachment.cursor;
    let mut owner = terminal.owner();
    let started = SessionNotice::Started {
        session: token,
        resumed: attachment.resumed,
        seconds_left: seconds_until(session.expires_at()),
    };
    let mut told = send(&mut socket, ServerMessage::Notice(started)).await;
    // The challenges this session passed already, so a reload shows them.
    let passed = if terminal.number == 0 {
        session.passed()
    } else {
        Vec::new()
    };
    for challenge in passed {
        let passed = ServerMessage::Checked {
            challenge,
            passed: true,
            message: "passed".into(),
        };
        told = told && send(&mut socket, passed).await;
    }
    if told {
        if !early.input.is_empty() {
            if let Err(error) = session.write_to(&terminal, &early.input).await {
                tracing::debug!(%error, "early input not delivered");
            }
        }
        let lists = target.lists.then(|| session.watch_terminals());
        let sharing = target.lists.then(|| session.watch_sharing());
        let outcome = pump(
            &mut socket,
            sessions,
            &session,
            &terminal,
            lists,
            sharing,
            &mut cursor,
            &mut owner,
            attachment.generation,
            !attachment.resumed,
            early.size,
        )
        .await;
        match outcome {
            Outcome::ClientLeft => {}
            Outcome::Displaced => close(socket, CLOSE_NORMAL, DISPLACED).await,
            Outcome::Ended if terminal.number != 0 && !session.is_ending() => {
                terminal_closed(socket).await;
            }
            Outcome::Ended => {
                let reason = match session.state() {
                    SessionState::Ended(reason) => reason,
                    SessionState::Suspended => {
                        return close(socket, CLOSE_RESTARTING, RESTARTING).await;
                    }
                    SessionState::HandedOver => {
                        return close(socket, CLOSE_NORMAL, DISPLACED).await
                    }
                    _ => EndReason::ContainerGone,
                };
                send(
                    &mut socket,
                    ServerMessage::Notice(SessionNotice::Ended { reason }),
                )
                .await;
                close(socket, CLOSE_NORMAL, "session ended").await;
            }
            Outcome::BadFrame(message) => {
                fail(socket, ErrorCode::BadMessage, message, CLOSE_POLICY).await;
            }
        }
    }
}

/// Tells a socket that its terminal (not the session's first) is closed: its shell exited or
/// another tab closed it.
async fn terminal_closed(mut socket: WebSocket) {
    let ended = SessionNotice::Ended {
        reason: EndReason::ShellExited,
    };
    send(&mut socket, ServerMessage::Notice(ended)).await;
    close(socket, CLOSE_NORMAL, "this terminal was closed").await;
}

/// The most input kept from a tab while its sandbox starts.
const EARLY_INPUT_MAX: usize = 4096;

/// What a tab sent while its sandbox was starting, for the shell once it runs.
#[derive(Default)]
struct Early {
    /// The latest terminal size asked for.
    size: Option<TermSize>,
    /// Keys typed, up to [`EARLY_INPUT_MAX`] bytes (a tab cannot queue megabytes here).
    input: Vec<u8>,
}

impl Early {
    /// Keeps what a frame asks for; anything else (pings, malformed frames) waits for the
    /// running socket's own handling, which the tab will trigger again.
    fn keep(&mut self, frame: &[u8]) {
        match ClientMessage::decode(frame) {
            Ok(ClientMessage::Resize { cols, rows }) => self.size = Some(clamped(cols, rows)),
            Ok(ClientMessage::Input(bytes)) => {
                let room = EARLY_INPUT_MAX.saturating_sub(self.input.len());
                self.input
                    .extend_from_slice(&bytes[..bytes.len().min(room)]);
            }
            _ => {}
        }
    }
}

async fn apply_resize(sessions: &SessionManager, terminal: &Terminal, size: TermSize) {
    if let Err(error) = sessions.resize(terminal, size).await {
        tracing::debug!(%error, "resize failed");
    }
}

/// A terminal size as asked for, clamped to a screen: a zero or absurd size confuses
/// full-screen programs.
fn clamped(cols: u16, rows: u16) -> TermSize {
    TermSize {
        cols: cols.clamp(2, 1000),
        rows: rows.clamp(1, 500),
    }
}

/// Said to a socket whose terminal another tab (or another server's socket) now has.
const DISPLACED: &str = "this terminal was opened in another tab";

/// A socket's hold on a terminal, released when the socket's handler ends however it ends.
struct Attached<'a> {
    terminal: &'a Terminal,
    generation: u64,
}

impl Drop for Attached<'_> {
    fn drop(&mut self) {
        self.terminal.detach(self.generation);
    }
}

enum Outcome {
    ClientLeft,
    Displaced,
    Ended,
    BadFrame(String),
}

#[allow(clippy::too_many_arguments)] // the socket's whole state; grouping it would only rename it
async fn pump(
    socket: &mut WebSocket,
    sessions: &SessionManager,
    session: &Arc<Session>,
    terminal: &Terminal,
    mut lists: Option<tokio::sync::watch::Receiver<Vec<u8>>>,
    mut sharing: Option<tokio::sync::watch::Receiver<rootresume_protocol::Sharing>>,
    cursor: &mut u64,
    owner: &mut tokio::sync::watch::Receiver<u64>,
    generation: u64,
    mut first_attach: bool,
    first_size: Option<TermSize>,
) -> Outcome {
    // Warnings already given; input moves the idle deadline, which re-arms them.
    let mut warned_until = Instant::now();
    let mut pings = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    let mut heard = Instant::now();
    // The latest size asked for and not yet applied, and when it may be.
    let mut resize: Option<TermSize> = None;
    let mut resize_at = Instant::now();
    if let Some(size) = first_size {
        apply_resize(sessions, terminal, size).await;
        resize_at = Instant::now() + RESIZE_EVERY;
    }
    if let Some(lists) = lists.as_mut() {
        let open = lists.borrow_and_update().clone();
        if !send(socket, ServerMessage::Terminals(open)).await {
            return Outcome::ClientLeft;
        }
    }
    // A reload while sharing shows the links again.
    if let Some(sharing) = sharing.as_mut() {
        let now = sharing.borrow_and_update().clone();
        if !now.watch.is_empty() && !send(socket, ServerMessage::Sharing(now)).await {
            return Outcome::ClientLeft;
        }
    }
    // Blocks to run and challenges to check, one at a time in the order asked: the one under
    // way (polled by its own arm below, so the terminal keeps streaming meanwhile) and those
    // waiting.
    let mut running: Option<JobFuture<'_>> = None;
    let mut waiting_jobs: VecDeque<Job> = VecDeque::new();
    // The resource meter, on while the page shows it: its state between readings (taken out
    // while a reading is under way, in its own arm), and when the next one is due.
    let mut meter_on = false;
    let mut meter_state = Some(MeterState::default());
    let mut meter_reading: Option<MeterFuture<'_>> = None;
    let mut meter_at = Instant::now();
    loop {
        let warn_at = next_warning(session.ends_at(), warned_until);
        tokio::select! {
            _ = pings.tick() => {
                if heard.elapsed() >= SILENT_FOR {
                    tracing::debug!("browser silent; taking the connection for gone");
                    return Outcome::ClientLeft;
                }
                let ping = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Ping(Default::default()))).await;
                if !matches!(ping, Ok(Ok(()))) {
                    return Outcome::ClientLeft;
                }
            }
            () = tokio::time::sleep_until(resize_at), if resize.is_some() => {
                if let Some(size) = resize.take() {
                    apply_resize(sessions, terminal, size).await;
                    resize_at = Instant::now() + RESIZE_EVERY;
                }
            }
            () = tokio::time::sleep_until(meter_at), if meter_on && meter_reading.is_none() => {
                if let Some(state) = meter_state.take() {
                    meter_reading = Some(Box::pin(sessions.read_meter(session, state)));
                }
            }
            (state, reading) = async { meter_reading.as_mut().expect("guarded by the arm's condition").await }, if meter_reading.is_some() => {
                meter_reading = None;
                meter_state = Some(state);
                meter_at = Instant::now() + METER_EVERY;
                match reading {
                    Ok(reading) => {
                        if !send(socket, ServerMessage::Meter(reading)).await {
                            return Outcome::ClientLeft;
                        }
                    }
                    Err(error) => tracing::debug!(%error, "the meter could not read"),
                }
            }
            () = tokio::time::sleep_until(warn_at.unwrap_or(warned_until)), if warn_at.is_some() => {
                let now = Instant::now();
                // Input may have moved the end while we slept: warn only if it is still near.
                if next_warning(session.ends_at(), warned_until).is_some_and(|at| at <= now) {
                    let notice = SessionNotice::Expiring { seconds_left: seconds_until(session.ends_at()) };
                    if !send(socket, ServerMessage::Notice(notice)).await {
                        return Outcome::ClientLeft;
                    }
                    warned_until = now + Duration::from_millis(1);
                }
            }
            incoming = socket.recv() => {
                heard = Instant::now();
                let frame = match incoming {
                    Some(Ok(Message::Binary(frame))) => frame,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Text(_))) => {
                        return Outcome::BadFrame("text frames are not part of the terminal protocol; send binary frames".into());
                    }
                    Some(Ok(Message::Close(_))) | None => return Outcome::ClientLeft,
                    Some(Err(error)) => {
                        tracing::debug!(%error, "websocket error");
                        return Outcome::BadFrame(format!("bad websocket frame: {error}"));
                    }
                };
                match ClientMessage::decode(&frame) {
                    Ok(ClientMessage::Input(bytes)) => {
                        if let Err(error) = session.write_to(terminal, &bytes).await {
                            tracing::debug!(%error, "input not delivered");
                        }
                    }
                    Ok(ClientMessage::Resize { cols, rows }) => {
                        let size = clamped(cols, rows);
                        if Instant::now() >= resize_at {
                            // Applied before the next frame is read: keys typed right after a
                            // resize see the new size.
                            apply_resize(sessions, terminal, size).await;
                            resize_at = Instant::now() + RESIZE_EVERY;
                        } else {
                            resize = Some(size);
                        }
                    }
                    Ok(ClientMessage::Ping(nonce)) => {
                        if !send(socket, ServerMessage::Pong(nonce)).await {
                            return Outcome::ClientLeft;
                        }
                    }
                    Ok(ClientMessage::Attach { .. } | ClientMessage::AttachTerminal { .. }) => {
                        return Outcome::BadFrame("a socket attaches once, with its first message".into());
                    }
                    Ok(ClientMessage::Run(request)) => {
                        let refusal = queue_job(&mut running, &mut waiting_jobs, sessions, session, Job::Run(request));
                        if let Some(refusal) = refusal {
                            if !send(socket, refusal).await {
                                return Outcome::ClientLeft;
                            }
                        }
                    }
                    Ok(ClientMessage::Check { challenge }) => {
                        let refusal = queue_job(&mut running, &mut waiting_jobs, sessions, session, Job::Check(challenge));
                        if let Some(refusal) = refusal {
                            if !send(socket, refusal).await {
                                return Outcome::ClientLeft;
                            }
                        }
                    }
                    Ok(ClientMessage::OpenTerminal) => {
                        let refusal = queue_job(&mut running, &mut waiting_jobs, sessions, session, Job::OpenTerminal);
                        if let Some(refusal) = refusal {
                            if !send(socket, refusal).await {
                                return Outcome::ClientLeft;
                            }
                        }
                    }
                    Ok(ClientMessage::CloseTerminal(number)) => {
                        sessions.close_terminal(session, number);
                    }
                    Ok(ClientMessage::Share { terminal, pair }) => {
                        // The answer comes through the sharing watch below.
                        if let Err(error) = sessions.share(session, terminal, pair).await {
                            let message = format!("[Share: {error}]");
                            if !send(socket, ServerMessage::Error { code: ErrorCode::ShareRefused, message }).await {
                                return Outcome::ClientLeft;
                            }
                        }
                    }
                    Ok(ClientMessage::StopSharing) => session.stop_sharing(),
                    // The first terminal's socket only: one meter per panel.
                    Ok(ClientMessage::Meter(on)) if terminal.number == 0 => {
                        if on && !meter_on {
                            meter_at = Instant::now();
                        }
                        meter_on = on;
                    }
                    Ok(ClientMessage::Meter(_)) => {}
                    Ok(ClientMessage::Watch { .. }) => {
                        return Outcome::BadFrame("a socket watches a link with its first message only".into());
                    }
                    // A kind added after this server was built: say so and go on (the page is
                    // newer than the server).
                    Err(error @ DecodeError::UnknownKind { .. }) => {
                        let message = format!("this server does not know that request ({error}): it is older than the page; reload later");
                        if !send(socket, ServerMessage::Error { code: ErrorCode::BadMessage, message }).await {
                            return Outcome::ClientLeft;
                        }
                    }
                    Err(error) => return Outcome::BadFrame(format!("malformed message: {error}")),
                }
            }
            changed = async { lists.as_mut().expect("guarded by the arm's condition").changed().await }, if lists.is_some() => {
                let open = match (changed, lists.as_mut()) {
                    (Ok(()), Some(lists)) => lists.borrow_and_update().clone(),
                    // The session is gone; its end reaches this socket through the output.
                    _ => { lists = None; continue; }
                };
                if !send(socket, ServerMessage::Terminals(open)).await {
                    return Outcome::ClientLeft;
                }
            }
            changed = async { sharing.as_mut().expect("guarded by the arm's condition").changed().await }, if sharing.is_some() => {
                let now = match (changed, sharing.as_mut()) {
                    (Ok(()), Some(sharing)) => sharing.borrow_and_update().clone(),
                    _ => { sharing = None; continue; }
                };
                if !send(socket, ServerMessage::Sharing(now)).await {
                    return Outcome::ClientLeft;
                }
            }
            output = terminal.output.read(generation, cursor, MAX_DATA_LEN) => {
                let Some(bytes) = output else { return Outcome::Ended };
                if !send(socket, ServerMessage::Output(bytes)).await {
                    return Outcome::ClientLeft;
                }
                if first_attach {
                    first_attach = false;
                    sessions.metrics().first_prompt(session.requested_at().elapsed());
                }
            }
            answer = async { running.as_mut().expect("guarded by the arm's condition").await }, if running.is_some() => {
                running = waiting_jobs.pop_front().map(|job| start_job(sessions, session, job));
                if let Some(answer) = answer {
                    if !send(socket, answer).await {
                        return Outcome::ClientLeft;
                    }
                }
            }
            changed = owner.changed() => {
                if changed.is_err() || *owner.borrow() != generation {
                    return Outcome::Displaced;
                }
            }
        }
    }
}

/// How many requests may wait behind the one under way.
const MAX_WAITING_JOBS: usize = 4;

/// Work a tab asked for in its sandbox, beside typing.
enum Job {
    /// Run a code block in the shell.
    Run(RunRequest),
    /// Check a challenge, by id.
    Check(String),
    /// Open another terminal.
    OpenTerminal,
}

/// A job under way, and the answer for the tab it ends with, if any.
type JobFuture<'a> = futures_util::future::BoxFuture<'a, Option<ServerMessage>>;

/// A meter reading under way: its state comes back with the reading.
type MeterFuture<'a> = futures_util::future::BoxFuture<
    'a,
    (
        MeterState,
        Result<rootresume_protocol::MeterReading, SandboxError>,
    ),
>;

/// Starts `job`, or queues it behind the one under way; when the queue is full, the answer
/// refusing it.
fn queue_job<'a>(
    running: &mut Option<JobFuture<'a>>,
    waiting: &mut VecDeque<Job>,
    sessions: &'a SessionManager,
    session: &'a Arc<Session>,
    job: Job,
) -> Option<ServerMessage> {
    if running.is_none() {
        *running = Some(start_job(sessions, session, job));
        return None;
    }
    if waiting.len() < MAX_WAITING_JOBS {
        waiting.push_back(job);
        return None;
    }
    Some(match job {
        Job::Run(_) => ServerMessage::Error {
            code: ErrorCode::RunRefused,
            message: "blocks are still being started; wait for them, then press Run again".into(),
        },
        Job::Check(challenge) => ServerMessage::Checked {
            challenge,
            passed: false,
            message: "still busy with earlier requests: press Check again in a moment".into(),
        },
        Job::OpenTerminal => ServerMessage::Error {
            code: ErrorCode::TerminalRefused,
            message: "still busy with earlier requests: open the terminal again in a moment".into(),
        },
    })
}

fn start_job<'a>(
    sessions: &'a SessionManager,
    session: &'a Arc<Session>,
    job: Job,
) -> JobFuture<'a> {
    Box::pin(async move {
        match job {
            Job::OpenTerminal => {
                // Its size comes from its own socket once the page attaches to it.
                let opened = sessions.open_terminal(session, TermSize::default()).await;
                let error = opened.err()?;
                Some(ServerMessage::Error {
                    code: ErrorCode::TerminalRefused,
                    message: format!("[New terminal: {error}]"),
                })
            }
            Job::Run(request) => {
                let ran: Result<(), RunError> = sessions.run(session, &request).await;
                let error = ran.err()?;
                Some(ServerMessage::Error {
                    code: ErrorCode::RunRefused,
                    message: format!("[Run: {error}]"),
                })
            }
            Job::Check(challenge) => {
                let script = app::content::site()
                    .ok()
                    .and_then(|site| site.check_script(&challenge));
                let (passed, message) = match script {
                    None => (
                        false,
                        "this server does not know that challenge: reload the page".to_owned(),
                    ),
                    Some(script) => match sessions.check(session, &challenge, script).await {
                        Ok(verdict) => (verdict.passed, verdict.message),
                        // The engine's words go to the log (with the session's tag), not to the page.
                        Err(_) => (
                            false,
                            "the check could not run in your sandbox: try again in a moment"
                                .to_owned(),
                        ),
                    },
                };
                Some(ServerMessage::Checked {
                    challenge,
                    passed,
                    message,
                })
            }
        }
    })
}

/// Whole seconds from now until `at`, rounded to the nearest (0 once it has passed).
pub(crate) fn seconds_until(at: Instant) -> u32 {
    let left = at
        .saturating_duration_since(Instant::now())
        .as_secs_f64()
        .round();
    // Lifetimes are validated to at most days, far below u32::MAX seconds.
    left.min(f64::from(u32::MAX)) as u32
}

/// The next moment, not before `from`, to warn that the session ends at `end`.
fn next_warning(end: Instant, from: Instant) -> Option<Instant> {
    WARN_BEFORE_END
        .iter()
        .filter_map(|before| end.checked_sub(*before))
        .filter(|at| *at >= from)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_come_five_and_one_minute_before_the_end() {
        let now = Instant::now();
        let end = now + Duration::from_secs(3600);
        assert_eq!(next_warning(end, now), Some(end - Duration::from_secs(300)));
        let after_first = end - Duration::from_secs(299);
        assert_eq!(
            next_warning(end, after_first),
            Some(end - Duration::from_secs(60))
        );
        assert_eq!(next_warning(end, end - Duration::from_secs(59)), None);
    }
}
