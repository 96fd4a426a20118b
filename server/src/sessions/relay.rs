//! Share links across replicas. A spectator's socket may reach any replica, while the shared
//! terminal runs in one: with a shared store (Redis), the replica running a shared session
//! records its links in the store and relays the terminal to whoever follows the session's
//! watch channel; a spectator reaching another replica finds the link there, starts from the
//! stored screen and size, and follows the channel. Keys of a pair spectator go back on the
//! session's input channel, and are typed only while the share has a pair link.
//!
//! Messages on the watch channel: `o` + output, `s` + columns and rows (big-endian u16s), `w`
//! (the read-only link died: every spectator closes), `p` (the pair link died: its spectators
//! close), `e` + the end reason's index in [`EndReason::ALL`], `m` (the session moved to another
//! replica, which does not share it).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use rootresume_protocol::{EndReason, Sharing, MAX_DATA_LEN};
use tokio::sync::watch;
use tokio::time::Instant;

use super::session::{Session, SessionState};
use super::share::ShareError;
use super::terminal::Terminal;
use super::viewing::WatchEvent;
use super::SessionManager;
use crate::ids::LinkToken;
use crate::sandbox::TermSize;
use crate::store::{now_ms, MessageStream, SessionStore, StoreError, Topic};

/// How often the stored screen is refreshed while the shared terminal writes.
const SCREEN_EVERY: Duration = Duration::from_secs(1);
/// How often the spectators on other replicas are counted for the owner's page.
const COUNT_EVERY: Duration = Duration::from_secs(2);

/// A share link's token hash as a store key's part.
fn link_name(hash: &[u8; 32]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// The store key part of the link whose token `token` (as the owner's page shows it) is.
fn link_of(token: &str) -> Option<String> {
    LinkToken::parse(token).map(|token| link_name(&token.hash()))
}

fn unavailable(error: StoreError) -> ShareError {
    ShareError::Unavailable(error.to_string())
}

/// A spectator's view of a terminal another replica runs.
pub(super) struct Remote {
    store: Arc<dyn SessionStore>,
    id_hash: String,
    expires_at_ms: u64,
    messages: MessageStream,
    size: TermSize,
    /// The stored screen, until it was given.
    screen: Option<Vec<u8>>,
}

impl Remote {
    /// Joins the share whose link's token hash is `hash` through the store, at most `max`
    /// spectators on other replicas at once; returns the view and whether it may type.
    pub(super) async fn join(
        store: Arc<dyn SessionStore>,
        hash: &[u8; 32],
        max: usize,
    ) -> Result<(Self, bool), ShareError> {
        let link = link_name(hash);
        let (id_hash, typing) = store
            .find_link(&link)
            .await
            .map_err(unavailable)?
            .ok_or(ShareError::Invalid)?;
        let record = store
            .get(&id_hash)
            .await
            .map_err(unavailable)?
            .filter(|record| record.expires_at_ms > now_ms())
            .ok_or(ShareError::Invalid)?;
        // Following first: nothing written after the stored screen is missed.
        let messages = store
            .follow(&id_hash, Topic::Watch)
            .await
            .map_err(unavailable)?;
        let expires_at_ms = record.expires_at_ms;
        let viewers = store
            .add_viewers(&id_hash, 1, expires_at_ms)
            .await
            .map_err(unavailable)?;
        let remote = Self {
            store,
            id_hash,
            expires_at_ms,
            messages,
            size: TermSize::default(),
            screen: None,
        };
        // From here on, dropping `remote` counts this spectator out again.
        if usize::try_from(viewers).unwrap_or(usize::MAX) > max {
            return Err(ShareError::Full { max });
        }
        let state = remote
            .store
            .watch_state(&remote.id_hash)
            .await
            .map_err(unavailable)?;
        let mut remote = remote;
        if let Some((cols, rows)) = state.size {
            remote.size = TermSize { cols, rows };
        }
        remote.screen = Some(state.screen);
        Ok((remote, typing))
    }

    /// The session's id hash.
    pub(super) fn id_hash(&self) -> &str {
        &self.id_hash
    }

    /// How long the session has left.
    pub(super) fn time_left(&self) -> Duration {
        Duration::from_millis(self.expires_at_ms.saturating_sub(now_ms()))
    }

    /// The shared terminal's size, as last heard.
    pub(super) fn size(&self) -> TermSize {
        self.size
    }

    /// The stored screen first, then what the running replica relays. Cancel-safe.
    pub(super) async fn next(&mut self, typing: bool) -> WatchEvent {
        if let Some(screen) = self.screen.take().filter(|screen| !screen.is_empty()) {
            return WatchEvent::Output(screen);
        }
        loop {
            let Some(message) = self.messages.next().await else {
                return WatchEvent::Moved;
            };
            match message.split_first() {
                Some((b'o', output)) => return WatchEvent::Output(output.to_vec()),
                Some((b's', &[c0, c1, r0, r1])) => {
                    self.size = TermSize {
                        cols: u16::from_be_bytes([c0, c1]),
                        rows: u16::from_be_bytes([r0, r1]),
                    };
                    return WatchEvent::Size(self.size);
                }
                Some((b'w', _)) => return WatchEvent::Stopped,
                Some((b'p', _)) if typing => return WatchEvent::Stopped,
                Some((b'e', &[reason])) => {
                    let reason = EndReason::ALL
                        .get(usize::from(reason))
                        .copied()
                        .unwrap_or(EndReason::ContainerGone);
                    return WatchEvent::Ended(reason);
                }
                Some((b'm', _)) => return WatchEvent::Moved,
                _ => {}
            }
        }
    }

    /// Sends a pair spectator's keys to the replica running the terminal.
    pub(super) async fn type_keys(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.store
            .publish(&self.id_hash, Topic::Input, bytes)
            .await
            .map_err(|error| error.to_string())
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        let (store, id_hash, expires) = (
            self.store.clone(),
            std::mem::take(&mut self.id_hash),
            self.expires_at_ms,
        );
        tokio::spawn(async move {
            if let Err(error) = store.add_viewers(&id_hash, -1, expires).await {
                tracing::debug!(%error, "a spectator could not be counted out");
            }
        });
    }
}

/// The share being relayed: its links' names and the terminal it shows.
struct Relayed {
    watch: String,
    pair: Option<String>,
    terminal: Arc<Terminal>,
    cursor: u64,
    size: watch::Receiver<TermSize>,
}

impl SessionManager {
    /// Relays `session`'s share to spectators on other replicas, unless a task already does
    /// (shared store only).
    pub(super) fn relay(&self, session: &Arc<Session>) {
        if !self.store.is_shared() || !session.start_relaying() {
            return;
        }
        let span = session.span();
        let (store, session) = (self.store.clone(), session.clone());
        self.tasks.spawn(tracing::Instrument::instrument(
            async move {
                loop {
                    relay(&*store, &session).await;
                    session.stop_relaying();
                    // Sharing may have started again while the relay was leaving: take it up.
                    let sharing = !session.watch_sharing().borrow().watch.is_empty();
                    if !sharing || session.is_ending() || !session.start_relaying() {
                        return;
                    }
                }
            },
            span,
        ));
    }
}

impl SessionManager {
    /// Records `session`'s links as they are now, and where a spectator starts, in a shared
    /// store (the relay keeps them up to date from then on).
    pub(super) async fn register_links(&self, session: &Session) {
        if !self.store.is_shared() {
            return;
        }
        let now = session.watch_sharing().borrow().clone();
        let Some(terminal) = session.terminal(now.terminal) else {
            return;
        };
        let expires = expires_ms(session);
        let size = *terminal.watch_size().borrow();
        store_start(self.store.as_ref(), session, &terminal, size, expires).await;
        for (token, typing) in [(&now.watch, false), (&now.pair, true)] {
            if let Some(link) = link_of(token) {
                log_failure(
                    self.store
                        .put_link(&link, &session.hash, typing, expires)
                        .await,
                );
            }
        }
    }
}

/// Stores where a spectator on another replica starts: `terminal`'s `size` and recent screen.
/// Returns the output's cursor at that screen, from which the relay goes on.
async fn store_start(
    store: &dyn SessionStore,
    session: &Session,
    terminal: &Terminal,
    size: TermSize,
    expires: u64,
) -> u64 {
    let (cursor, screen) = terminal.output.snapshot();
    let stored = store.set_watch(
        &session.hash,
        Some((size.cols, size.rows)),
        Some(&screen),
        expires,
    );
    log_failure(stored.await);
    cursor
}

/// When `session` ends at the latest, in ms since the epoch (for the store keys' expiry).
fn expires_ms(session: &Session) -> u64 {
    let left = session
        .expires_at()
        .saturating_duration_since(Instant::now());
    now_ms() + u64::try_from(left.as_millis()).unwrap_or(u64::MAX / 2)
}

async fn say(store: &dyn SessionStore, session: &Session, message: &[u8]) {
    if let Err(error) = store.publish(&session.hash, Topic::Watch, message).await {
        tracing::debug!(%error, "could not relay to spectators on other replicas");
    }
}

/// Relays the share until sharing stops, the session ends or moves.
async fn relay(store: &dyn SessionStore, session: &Arc<Session>) {
    let mut sharing = session.watch_sharing();
    let mut keys = match store.follow(&session.hash, Topic::Input).await {
        Ok(keys) => keys,
        Err(error) => {
            tracing::warn!(%error, "pair spectators on other replicas cannot type");
            Box::pin(futures_util::stream::pending())
        }
    };
    let mut relayed: Option<Relayed> = None;
    let mut screen_at = tokio::time::interval(SCREEN_EVERY);
    let mut count_at = tokio::time::interval(COUNT_EVERY);
    let mut changed_screen = false;
    let mut now = sharing.borrow_and_update().clone();
    loop {
        if !follow_sharing(store, session, &mut relayed, &now).await {
            break;
        }
        let Some(shared) = relayed.as_mut() else {
            break;
        };
        tokio::select! {
            changed = sharing.changed() => {
                now = match changed {
                    Ok(()) => sharing.borrow_and_update().clone(),
                    Err(_) => Sharing::default(),
                };
            }
            output = shared.terminal.output.read(0, &mut shared.cursor, MAX_DATA_LEN) => {
                let Some(output) = output else {
                    // Its state follows the output's end by a moment.
                    let _ = tokio::time::timeout(Duration::from_secs(2), session.stopped()).await;
                    let message = match session.state() {
                        SessionState::Suspended | SessionState::HandedOver => vec![b'm'],
                        SessionState::Ended(reason) => vec![b'e', end_index(reason)],
                        _ if shared.terminal.number != 0 => vec![b'e', end_index(EndReason::ShellExited)],
                        _ => vec![b'e', end_index(EndReason::ContainerGone)],
                    };
                    say(store, session, &message).await;
                    break;
                };
                let mut message = Vec::with_capacity(1 + output.len());
                message.push(b'o');
                message.extend_from_slice(&output);
                say(store, session, &message).await;
                changed_screen = true;
            }
            changed = shared.size.changed() => {
                if changed.is_ok() {
                    let size = *shared.size.borrow_and_update();
                    let mut message = vec![b's'];
                    message.extend_from_slice(&size.cols.to_be_bytes());
                    message.extend_from_slice(&size.rows.to_be_bytes());
                    say(store, session, &message).await;
                    let stored = store.set_watch(&session.hash, Some((size.cols, size.rows)), None, expires_ms(session)).await;
                    log_failure(stored);
                }
            }
            _ = screen_at.tick(), if changed_screen => {
                changed_screen = false;
                let (_, screen) = shared.terminal.output.snapshot();
                log_failure(store.set_watch(&session.hash, None, Some(&screen), expires_ms(session)).await);
            }
            _ = count_at.tick() => {
                match store.add_viewers(&session.hash, 0, expires_ms(session)).await {
                    Ok(remote) => session.set_remote_viewers(u16::try_from(remote.max(0)).unwrap_or(u16::MAX)),
                    Err(error) => tracing::debug!(%error, "could not count spectators on other replicas"),
                }
            }
            typed = keys.next() => {
                match typed {
                    Some(bytes) if session.has_pair_link() => {
                        if let Err(error) = session.write_to(&shared.terminal, &bytes).await {
                            tracing::debug!(%error, "a pair spectator's input not delivered");
                        }
                    }
                    Some(_) => {}
                    None => keys = Box::pin(futures_util::stream::pending()),
                }
            }
        }
    }
    // The links die with the relay; spectators elsewhere were told why above.
    if let Some(shared) = relayed.take() {
        forget(store, session, &shared).await;
    }
}

/// Brings the relay in line with the share as the owner's page sees it: new links are
/// recorded, dead ones forgotten and their spectators told. Returns false when sharing
/// stopped (or the terminal is gone).
async fn follow_sharing(
    store: &dyn SessionStore,
    session: &Session,
    relayed: &mut Option<Relayed>,
    now: &Sharing,
) -> bool {
    let expires = expires_ms(session);
    let watch = link_of(&now.watch);
    if relayed.as_ref().map(|r| &r.watch) != watch.as_ref() {
        if let Some(old) = relayed.take() {
            say(store, session, b"w").await;
            forget(store, session, &old).await;
        }
        let (Some(watch), Some(terminal)) = (watch, session.terminal(now.terminal)) else {
            return false;
        };
        // The state first: a spectator finding the link finds where to start.
        // Subscribed before the size is read, so a resize from then on is relayed.
        let size = terminal.watch_size();
        let current = *size.borrow();
        let cursor = store_start(store, session, &terminal, current, expires).await;
        log_failure(store.put_link(&watch, &session.hash, false, expires).await);
        *relayed = Some(Relayed {
            watch,
            pair: None,
            terminal,
            cursor,
            size,
        });
    }
    let Some(shared) = relayed.as_mut() else {
        return false;
    };
    let pair = link_of(&now.pair);
    if shared.pair != pair {
        if let Some(old) = shared.pair.take() {
            say(store, session, b"p").await;
            log_failure(store.drop_link(&old).await);
        }
        if let Some(pair) = &pair {
            log_failure(store.put_link(pair, &session.hash, true, expires).await);
        }
        shared.pair = pair;
    }
    true
}

/// Forgets a relayed share's links and spectator state in the store.
async fn forget(store: &dyn SessionStore, session: &Session, shared: &Relayed) {
    log_failure(store.drop_link(&shared.watch).await);
    if let Some(pair) = &shared.pair {
        log_failure(store.drop_link(pair).await);
    }
    log_failure(store.drop_watch(&session.hash).await);
}

fn log_failure(result: Result<(), StoreError>) {
    if let Err(error) = result {
        tracing::debug!(%error, "the share's state in the store could not be updated");
    }
}

fn end_index(reason: EndReason) -> u8 {
    let index = EndReason::ALL
        .iter()
        .position(|r| *r == reason)
        .unwrap_or(0);
    u8::try_from(index).unwrap_or(0)
}
