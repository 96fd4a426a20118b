//! A spectator's view of a shared terminal: straight from the terminal when its session runs
//! in this replica, or through the shared store from the replica that runs it (see `relay`).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use rootresume_protocol::{EndReason, MAX_DATA_LEN};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::relay::Remote;
use super::session::{Session, SessionState};
use super::share::{ClientSlot, ShareError};
use super::terminal::Terminal;
use super::SessionManager;
use crate::ids::{LinkToken, SessionTag};
use crate::sandbox::TermSize;

/// What a spectator's socket is told next.
#[derive(Debug, PartialEq, Eq)]
pub enum WatchEvent {
    /// The shell wrote this.
    Output(Vec<u8>),
    /// The shared terminal's size changed.
    Size(TermSize),
    /// The link died: the owner stopped sharing (or withdrew the pair link it came through).
    Stopped,
    /// The session moved to another replica, which does not share it.
    Moved,
    /// The shared terminal ended.
    Ended(EndReason),
}

/// A spectator's hold on a shared terminal; dropping it (when its socket ends) counts it out.
pub struct Viewing {
    source: Source,
    /// Whether this spectator's keys reach the shell (it came through the pair link).
    typing: bool,
    /// Its client's place among the links watched per client.
    _slot: Option<ClientSlot>,
}

enum Source {
    Local(Local),
    Remote(Remote),
}

/// A view of a terminal of this replica.
struct Local {
    session: Arc<Session>,
    terminal: Arc<Terminal>,
    /// Cancelled when the link dies.
    stop: CancellationToken,
    generation: u64,
    /// Where in the output this spectator is (it reads as no attachment: never holding the
    /// shell back).
    cursor: u64,
    size: watch::Receiver<TermSize>,
}

impl Drop for Local {
    fn drop(&mut self) {
        self.session.leave_viewers(self.generation);
    }
}

impl Viewing {
    /// Whether this spectator's keys reach the shell.
    pub fn typing(&self) -> bool {
        self.typing
    }

    /// The span its log lines go under: the session's tag.
    pub fn span(&self) -> tracing::Span {
        match &self.source {
            Source::Local(local) => local.session.span(),
            Source::Remote(remote) => {
                tracing::info_span!("session", tag = %SessionTag::of_hash(remote.id_hash()))
            }
        }
    }

    /// How long the session has left.
    pub fn time_left(&self) -> Duration {
        match &self.source {
            Source::Local(local) => local
                .session
                .expires_at()
                .saturating_duration_since(Instant::now()),
            Source::Remote(remote) => remote.time_left(),
        }
    }

    /// The shared terminal's size now.
    pub fn size(&mut self) -> TermSize {
        match &mut self.source {
            Source::Local(local) => *local.size.borrow_and_update(),
            Source::Remote(remote) => remote.size(),
        }
    }

    /// The next thing to tell the spectator: first the recent screen, then what happens.
    /// Cancel-safe.
    pub async fn next(&mut self) -> WatchEvent {
        match &mut self.source {
            Source::Local(local) => local.next().await,
            Source::Remote(remote) => remote.next(self.typing).await,
        }
    }

    /// Passes keys of a pair spectator to the shell; those of any other are dropped.
    /// (`&mut`: a view is one socket's, and is then `Send` without being `Sync`.)
    pub async fn type_keys(&mut self, bytes: &[u8]) {
        if !self.typing {
            return;
        }
        let written = match &mut self.source {
            Source::Local(local) => local
                .session
                .write_to(&local.terminal, bytes)
                .await
                .map_err(|error| error.to_string()),
            Source::Remote(remote) => remote.type_keys(bytes).await,
        };
        if let Err(error) = written {
            tracing::debug!(%error, "a pair spectator's input not delivered");
        }
    }
}

impl Local {
    async fn next(&mut self) -> WatchEvent {
        tokio::select! {
            () = self.stop.cancelled() => WatchEvent::Stopped,
            changed = self.size.changed() => match changed {
                Ok(()) => WatchEvent::Size(*self.size.borrow_and_update()),
                Err(_) => self.ended(),
            },
            output = self.terminal.output.read(0, &mut self.cursor, MAX_DATA_LEN) => match output {
                Some(bytes) => WatchEvent::Output(bytes),
                None => self.ended(),
            },
        }
    }

    fn ended(&self) -> WatchEvent {
        match self.session.state() {
            SessionState::Ended(reason) => WatchEvent::Ended(reason),
            SessionState::Suspended | SessionState::HandedOver => WatchEvent::Moved,
            _ if self.terminal.number != 0 => WatchEvent::Ended(EndReason::ShellExited),
            _ => WatchEvent::Ended(EndReason::ContainerGone),
        }
    }
}

impl SessionManager {
    /// The terminal a share link's `token` shows, for a spectator from `client`: counted
    /// against the session's and the client's caps until the returned hold is dropped. The
    /// session may run in this replica or, with a shared store, in another.
    pub async fn watch_link(
        &self,
        token: &str,
        client: Option<IpAddr>,
    ) -> Result<Viewing, ShareError> {
        let token = LinkToken::parse(token).ok_or(ShareError::Invalid)?;
        let hash = token.hash();
        // The client's cap first: a refused spectator never shows in the owner's count.
        let cap = self.settings.max_watching_per_client;
        let slot = match client {
            Some(client) => Some(
                self.watchers
                    .acquire(client, cap)
                    .ok_or(ShareError::TooManyForClient { max: cap })?,
            ),
            None => None,
        };
        // A scan of this replica's sessions (hundreds at most), comparing hashes of tokens.
        let here = self
            .live
            .all()
            .into_iter()
            .find(|session| !session.is_ending() && session.has_link(&hash));
        let (source, typing) = match here {
            Some(session) => {
                let joined = session.join_viewers(&hash, self.settings.max_viewers)?;
                let Some(terminal) = session.terminal(joined.terminal) else {
                    session.leave_viewers(joined.generation);
                    return Err(ShareError::Invalid);
                };
                let local = Local {
                    size: terminal.watch_size(),
                    session,
                    terminal,
                    stop: joined.stop,
                    generation: joined.generation,
                    cursor: 0,
                };
                (Source::Local(local), joined.typing)
            }
            None if self.store.is_shared() => {
                let (remote, typing) =
                    Remote::join(self.store.clone(), &hash, self.settings.max_viewers).await?;
                (Source::Remote(remote), typing)
            }
            None => return Err(ShareError::Invalid),
        };
        Ok(Viewing {
            source,
            typing,
            _slot: slot,
        })
    }
}
