//! A spectator's socket: a share link's terminal, live and read-only.
//!
//! The spectator is replayed the recent screen, then follows the shell's output at its own pace
//! (a slow spectator skips what the ring no longer holds; it never slows the shell). Its screen
//! takes the shell's size. Whatever its page sends is dropped here, keys included, unless it
//! came through the pair link; its size never reaches the shell. The terminal may run in this
//! replica or another (see `sessions::relay`): the socket sees no difference.

use axum::extract::ws::{Message, WebSocket};
use rootresume_protocol::{ClientMessage, ErrorCode, ServerMessage, SessionNotice};
use tokio::time::Instant;

use crate::sessions::{ShareError, Viewing, WatchEvent};
use crate::ws::{
    close, fail, send, CLOSE_NORMAL, CLOSE_TRY_AGAIN, PING_EVERY, SEND_TIMEOUT, SILENT_FOR,
};

/// Said to spectators when the owner stops sharing (or shares anew).
const STOPPED: &str = "the owner stopped sharing this terminal";
/// Said to spectators when the session moved to a replica that does not share it.
const MOVED: &str = "this sandbox moved to another server; sharing stopped";

/// Serves a spectator let in through a link, or tells it why not.
pub async fn serve_viewer(mut socket: WebSocket, viewing: Result<Viewing, ShareError>) {
    let mut viewing = match viewing {
        Ok(viewing) => viewing,
        Err(error) => {
            let close_code = match error {
                ShareError::Full { .. }
                | ShareError::TooManyForClient { .. }
                | ShareError::Unavailable(_) => CLOSE_TRY_AGAIN,
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
    tracing::debug!(typing = viewing.typing(), "a spectator joined");
    let size = viewing.size();
    let left = viewing.time_left().as_secs_f64().round();
    let started = SessionNotice::Started {
        session: String::new(),
        resumed: true,
        // Lifetimes are days at most, far below u32::MAX seconds.
        seconds_left: left.min(f64::from(u32::MAX)) as u32,
    };
    let hello = ServerMessage::Watching {
        cols: size.cols,
        rows: size.rows,
        typing: viewing.typing(),
    };
    if !send(&mut socket, hello).await || !send(&mut socket, ServerMessage::Notice(started)).await {
        return;
    }
    match follow(&mut socket, &mut viewing).await {
        None => {}
        Some(WatchEvent::Ended(reason)) => {
            let ended = ServerMessage::Notice(SessionNotice::Ended { reason });
            send(&mut socket, ended).await;
            close(socket, CLOSE_NORMAL, "the shared terminal ended").await;
        }
        Some(WatchEvent::Moved) => {
            fail(socket, ErrorCode::LinkInvalid, MOVED.into(), CLOSE_NORMAL).await;
        }
        Some(_) => fail(socket, ErrorCode::LinkInvalid, STOPPED.into(), CLOSE_NORMAL).await,
    }
}

/// Streams the view until it ends (the event that ended it) or the spectator leaves (`None`).
async fn follow(socket: &mut WebSocket, viewing: &mut Viewing) -> Option<WatchEvent> {
    let mut pings = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    let mut heard = Instant::now();
    loop {
        tokio::select! {
            _ = pings.tick() => {
                if heard.elapsed() >= SILENT_FOR {
                    return None;
                }
                let ping = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Ping(Default::default()))).await;
                if !matches!(ping, Ok(Ok(()))) {
                    return None;
                }
            }
            event = viewing.next() => {
                let message = match event {
                    WatchEvent::Output(bytes) => ServerMessage::Output(bytes),
                    WatchEvent::Size(size) => ServerMessage::Watching {
                        cols: size.cols,
                        rows: size.rows,
                        typing: viewing.typing(),
                    },
                    ended => return Some(ended),
                };
                if !send(socket, message).await {
                    return None;
                }
            }
            incoming = socket.recv() => {
                heard = Instant::now();
                let frame = match incoming {
                    Some(Ok(Message::Binary(frame))) => frame,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                    Some(Ok(_)) => continue,
                };
                let answer = match ClientMessage::decode(&frame) {
                    Ok(ClientMessage::Ping(nonce)) => Some(ServerMessage::Pong(nonce)),
                    // Dropped unless this spectator came through the pair link.
                    Ok(ClientMessage::Input(bytes)) => {
                        viewing.type_keys(&bytes).await;
                        None
                    }
                    // Sizes, runs, checks, terminals, shares: a spectator drives nothing,
                    // whatever its page sends.
                    _ => None,
                };
                if let Some(answer) = answer {
                    if !send(socket, answer).await {
                        return None;
                    }
                }
            }
        }
    }
}
