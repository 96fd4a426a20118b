//! A spectator's socket: a share link's terminal, live and read-only.
//!
//! The spectator is replayed the recent screen, then follows the shell's output at its own pace
//! (a slow spectator skips what the ring no longer holds; it never slows the shell). Its screen
//! takes the shell's size. Whatever its page sends is dropped here, keys included, unless it
//! came through the pair link; its size never reaches the shell.

use axum::extract::ws::{Message, WebSocket};
use rootresume_protocol::{
    ClientMessage, EndReason, ErrorCode, ServerMessage, SessionNotice, MAX_DATA_LEN,
};
use tokio::time::Instant;

use crate::sessions::{SessionState, ShareError, Viewing};
use crate::ws::{
    close, fail, send, CLOSE_NORMAL, CLOSE_TRY_AGAIN, PING_EVERY, SEND_TIMEOUT, SILENT_FOR,
};

/// Said to spectators when the owner stops sharing (or shares anew).
const STOPPED: &str = "the owner stopped sharing this terminal";

/// Serves a spectator let in through a link, or tells it why not.
pub async fn serve_viewer(mut socket: WebSocket, viewing: Result<Viewing, ShareError>) {
    let viewing = match viewing {
        Ok(viewing) => viewing,
        Err(error) => {
            let close_code = match error {
                ShareError::Full { .. } | ShareError::TooManyForClient { .. } => CLOSE_TRY_AGAIN,
                _ => CLOSE_NORMAL,
            };
            return fail(
                socket,
                ErrorCode::LinkInvalid,
                error.to_string(),
                close_code,
            )
            .await;
        }
    };
    tracing::debug!(typing = viewing.typing, "a spectator joined");
    let mut size = viewing.terminal.watch_size();
    let first = *size.borrow_and_update();
    let started = SessionNotice::Started {
        session: String::new(),
        resumed: true,
        seconds_left: crate::ws::seconds_until(viewing.session.expires_at()),
    };
    let hello = ServerMessage::Watching {
        cols: first.cols,
        rows: first.rows,
        typing: viewing.typing,
    };
    if !send(&mut socket, hello).await || !send(&mut socket, ServerMessage::Notice(started)).await {
        return;
    }
    match follow(&mut socket, &viewing, &mut size).await {
        Left::Gone => {}
        Left::Stopped => fail(socket, ErrorCode::LinkInvalid, STOPPED.into(), CLOSE_NORMAL).await,
        Left::Ended => {
            let reason = match viewing.session.state() {
                SessionState::Ended(reason) => reason,
                SessionState::Suspended | SessionState::HandedOver => {
                    let moved = "this sandbox moved to another server; sharing stopped";
                    return fail(socket, ErrorCode::LinkInvalid, moved.into(), CLOSE_NORMAL).await;
                }
                _ if viewing.terminal.number != 0 => EndReason::ShellExited,
                _ => EndReason::ContainerGone,
            };
            let ended = ServerMessage::Notice(SessionNotice::Ended { reason });
            send(&mut socket, ended).await;
            close(socket, CLOSE_NORMAL, "the shared terminal ended").await;
        }
    }
}

/// How a spectator's socket came to an end.
enum Left {
    /// The spectator left (or stopped answering).
    Gone,
    /// The link died: the owner stopped sharing.
    Stopped,
    /// The shared terminal's output ended.
    Ended,
}

async fn follow(
    socket: &mut WebSocket,
    viewing: &Viewing,
    size: &mut tokio::sync::watch::Receiver<crate::sandbox::TermSize>,
) -> Left {
    // Generation 0 is no attachment's: this reader never holds the shell back.
    let mut cursor = 0_u64;
    let mut pings = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    let mut heard = Instant::now();
    loop {
        tokio::select! {
            () = viewing.stop.cancelled() => return Left::Stopped,
            _ = pings.tick() => {
                if heard.elapsed() >= SILENT_FOR {
                    return Left::Gone;
                }
                let ping = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Ping(Default::default()))).await;
                if !matches!(ping, Ok(Ok(()))) {
                    return Left::Gone;
                }
            }
            changed = size.changed() => {
                if changed.is_err() {
                    return Left::Ended;
                }
                let now = *size.borrow_and_update();
                let message = ServerMessage::Watching { cols: now.cols, rows: now.rows, typing: viewing.typing };
                if !send(socket, message).await {
                    return Left::Gone;
                }
            }
            incoming = socket.recv() => {
                heard = Instant::now();
                let frame = match incoming {
                    Some(Ok(Message::Binary(frame))) => frame,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Left::Gone,
                    Some(Ok(_)) => continue,
                };
                let answer = match ClientMessage::decode(&frame) {
                    Ok(ClientMessage::Ping(nonce)) => Some(ServerMessage::Pong(nonce)),
                    Ok(ClientMessage::Input(bytes)) if viewing.typing => {
                        if let Err(error) = viewing.session.write_to(&viewing.terminal, &bytes).await {
                            tracing::debug!(%error, "a pair spectator's input not delivered");
                        }
                        None
                    }
                    // Keys without the pair link, sizes, runs, checks, terminals, shares: a
                    // spectator drives nothing, whatever its page sends.
                    _ => None,
                };
                if let Some(answer) = answer {
                    if !send(socket, answer).await {
                        return Left::Gone;
                    }
                }
            }
            output = viewing.terminal.output.read(0, &mut cursor, MAX_DATA_LEN) => {
                let Some(bytes) = output else { return Left::Ended };
                if !send(socket, ServerMessage::Output(bytes)).await {
                    return Left::Gone;
                }
            }
        }
    }
}
