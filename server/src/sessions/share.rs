//! Share links: a read-only link (and, when its owner asks, a second one whose holders may
//! type) to one terminal of a session, for spectators on the `/watch/TOKEN` page.
//!
//! A session keeps its links with its other facts, under its one lock; a link dies with the
//! session (a token is looked up among the live sessions only) or when its owner stops sharing
//! or shares again (each link's stop token closes its viewers at once). Which socket may type is
//! decided here, by the link a spectator came through, never by what its page sends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rootresume_protocol::Sharing;
use tokio_util::sync::CancellationToken;

use super::session::Session;
use super::SessionManager;
use crate::ids::LinkToken;

/// Why a spectator cannot watch, or an owner cannot share.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    /// The token names no live link: mistyped or forged, sharing stopped, or the session ended.
    #[error("this link does not show anything (any more): its sandbox has ended, its owner stopped sharing, or the link is mistyped")]
    Invalid,
    /// The session has as many spectators as it may.
    #[error("this sandbox already has {max} viewers, the most it may have; try again later")]
    Full {
        /// The configured cap per session.
        max: usize,
    },
    /// This client watches as many links as it may.
    #[error("you are already watching {max} shared terminals, the most one address may; close one first")]
    TooManyForClient {
        /// The configured cap per client.
        max: usize,
    },
    /// This server does not share terminals (`sessions.max_viewers = 0`).
    #[error("this server does not share terminals")]
    Off,
    /// The terminal asked for is not open.
    #[error("terminal {0} is not open")]
    NoTerminal(u8),
    /// The operating system gave no randomness for a token.
    #[error("the server could not make a link; try again")]
    NoRandomness,
    /// The shared store, which knows links of sessions other replicas run, did not answer.
    #[error("sharing is unavailable right now ({0}); try again in a moment")]
    Unavailable(String),
}

/// One link of a share.
pub(super) struct Link {
    /// The token, to show its owner again after a reload.
    token: LinkToken,
    /// [`LinkToken::hash`] of the token, what presented tokens are compared by.
    hash: [u8; 32],
    /// Cancelled when the link dies: its viewers close at once.
    stop: CancellationToken,
}

impl Link {
    fn new(token: LinkToken) -> Self {
        Self {
            hash: token.hash(),
            token,
            stop: CancellationToken::new(),
        }
    }
}

/// A session's share, kept with its facts.
pub(super) struct Shared {
    /// Tells this share from the ones before it (a viewer leaving an old one counts nothing).
    generation: u64,
    /// The terminal shared.
    terminal: u8,
    /// The read-only link.
    watch: Link,
    /// The link whose viewers may type, when the owner asked for one.
    pair: Option<Link>,
    /// Spectators watching now through this replica, through either link.
    viewers: u16,
    /// Spectators watching through other replicas, as last counted in the shared store.
    remote: u16,
}

impl Shared {
    /// What the owner's page is told about this share.
    pub(super) fn public(&self) -> Sharing {
        Sharing {
            terminal: self.terminal,
            watch: self.watch.token.expose(),
            pair: self
                .pair
                .as_ref()
                .map(|link| link.token.expose())
                .unwrap_or_default(),
            viewers: self.viewers.saturating_add(self.remote),
        }
    }

    /// Closes every viewer of the share.
    pub(super) fn stop(&self) {
        self.watch.stop.cancel();
        if let Some(pair) = &self.pair {
            pair.stop.cancel();
        }
    }

    /// A share of `terminal` following `before` (if any): the same read-only link when the
    /// same terminal is shared again, so its viewers stay; a pair link only when asked for
    /// (dropping one closes its viewers). Sharing another terminal makes all links new.
    pub(super) fn next(
        before: Option<Shared>,
        terminal: u8,
        pair: bool,
        tokens: (LinkToken, LinkToken),
    ) -> Shared {
        // The viewers carry over with the read-only link; a new one starts a new count, which
        // those of any earlier share no longer touch when they leave.
        let (generation, watch, old_pair, viewers, remote) = match before {
            Some(before) if before.terminal == terminal => (
                before.generation,
                before.watch,
                before.pair,
                before.viewers,
                before.remote,
            ),
            Some(before) => {
                before.stop();
                (next_generation(), Link::new(tokens.0), None, 0, 0)
            }
            None => (next_generation(), Link::new(tokens.0), None, 0, 0),
        };
        let pair = match (pair, old_pair) {
            (true, Some(kept)) => Some(kept),
            (true, None) => Some(Link::new(tokens.1)),
            (false, old) => {
                if let Some(old) = old {
                    old.stop.cancel();
                }
                None
            }
        };
        Shared {
            generation,
            terminal,
            watch,
            pair,
            viewers,
            remote,
        }
    }

    /// Whether one of this share's links has the token hashed `hash`.
    pub(super) fn has_link(&self, hash: &[u8; 32]) -> bool {
        self.watch.hash == *hash || self.pair.as_ref().is_some_and(|pair| pair.hash == *hash)
    }

    /// Lets one more viewer in through the link whose hash is `hash`, at most `max` in all.
    pub(super) fn join(&mut self, hash: &[u8; 32], max: usize) -> Result<Joined, ShareError> {
        let (link, typing) = if self.watch.hash == *hash {
            (&self.watch, false)
        } else {
            match &self.pair {
                Some(pair) if pair.hash == *hash => (pair, true),
                _ => return Err(ShareError::Invalid),
            }
        };
        if usize::from(self.viewers) + usize::from(self.remote) >= max {
            return Err(ShareError::Full { max });
        }
        let joined = Joined {
            terminal: self.terminal,
            typing,
            stop: link.stop.clone(),
            generation: self.generation,
        };
        self.viewers += 1;
        Ok(joined)
    }

    /// Notes how many watch through other replicas; returns whether that changed.
    pub(super) fn set_remote(&mut self, remote: u16) -> bool {
        let changed = self.remote != remote;
        self.remote = remote;
        changed
    }

    /// A viewer of share `generation` left.
    pub(super) fn leave(&mut self, generation: u64) -> bool {
        if self.generation == generation {
            self.viewers = self.viewers.saturating_sub(1);
        }
        self.generation == generation
    }

    /// Which share this is, among the session's.
    #[cfg(test)]
    fn generation(&self) -> u64 {
        self.generation
    }
}

/// A number no share had before, in this process.
fn next_generation() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// What [`Shared::join`] let a viewer in to.
pub(super) struct Joined {
    pub(super) terminal: u8,
    pub(super) typing: bool,
    pub(super) stop: CancellationToken,
    pub(super) generation: u64,
}

/// Links watched per client address, across all sessions.
#[derive(Default)]
pub(super) struct Watchers(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One client's place among [`Watchers`], given back when dropped.
pub(super) struct ClientSlot {
    table: Arc<Mutex<HashMap<IpAddr, usize>>>,
    client: IpAddr,
}

fn lock(
    table: &Mutex<HashMap<IpAddr, usize>>,
) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
    // Each operation is one counter update, so a poisoned table is still consistent.
    table
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Watchers {
    pub(super) fn acquire(&self, client: IpAddr, max: usize) -> Option<ClientSlot> {
        let mut table = lock(&self.0);
        let count = table.entry(client).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            table: self.0.clone(),
            client,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut table = lock(&self.table);
        if let Some(count) = table.get_mut(&self.client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                table.remove(&self.client);
            }
        }
    }
}

impl SessionManager {
    /// Shares terminal `terminal` of `session` (see [`Shared::next`]); the owner's first
    /// terminal's socket hears of it through [`Session::watch_sharing`].
    pub async fn share(
        &self,
        session: &Arc<Session>,
        terminal: u8,
        pair: bool,
    ) -> Result<(), ShareError> {
        if self.settings.max_viewers == 0 {
            return Err(ShareError::Off);
        }
        if session.terminal(terminal).is_none() {
            return Err(ShareError::NoTerminal(terminal));
        }
        let tokens = LinkToken::random()
            .zip(LinkToken::random())
            .ok_or(ShareError::NoRandomness)?;
        session.share(terminal, pair, tokens);
        tracing::info!(terminal, pair, "sharing a terminal");
        // Recorded in the store before the owner's page hears of the links, so a spectator
        // on another replica finds them however soon it opens one.
        self.register_links(session).await;
        self.relay(session);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> (LinkToken, LinkToken) {
        (LinkToken::random().unwrap(), LinkToken::random().unwrap())
    }

    #[test]
    fn a_link_lets_viewers_in_up_to_the_cap_and_only_its_pair_link_types() {
        let mut shared = Shared::next(None, 0, true, tokens());
        let public = shared.public();
        let watch = LinkToken::parse(&public.watch).unwrap().hash();
        let pair = LinkToken::parse(&public.pair).unwrap().hash();
        assert!(!shared.join(&watch, 2).unwrap().typing);
        assert!(shared.join(&pair, 2).unwrap().typing);
        assert_eq!(
            shared.join(&watch, 2).err(),
            Some(ShareError::Full { max: 2 })
        );
        let forged = LinkToken::random().unwrap().hash();
        assert_eq!(shared.join(&forged, 9).err(), Some(ShareError::Invalid));
        assert_eq!(shared.public().viewers, 2);
        assert!(shared.leave(shared.generation()));
        assert_eq!(shared.public().viewers, 1);
    }

    #[test]
    fn sharing_again_keeps_the_read_only_link_and_drops_an_unwanted_pair_link() {
        let first = Shared::next(None, 0, true, tokens());
        let before = first.public();
        let pair_stop = first.pair.as_ref().unwrap().stop.clone();
        let watch_stop = first.watch.stop.clone();
        let again = Shared::next(Some(first), 0, false, tokens());
        assert_eq!(again.public().watch, before.watch);
        assert_eq!(again.public().pair, "");
        assert!(pair_stop.is_cancelled() && !watch_stop.is_cancelled());
        // Another terminal: every link is new and the old viewers are closed.
        let other = Shared::next(Some(again), 1, false, tokens());
        assert_ne!(other.public().watch, before.watch);
        assert!(watch_stop.is_cancelled());
        assert_eq!(other.public().viewers, 0);
    }

    #[test]
    fn a_pair_viewer_leaving_after_its_link_was_dropped_is_counted_out() {
        let mut shared = Shared::next(None, 0, true, tokens());
        let pair = LinkToken::parse(&shared.public().pair).unwrap().hash();
        let joined = shared.join(&pair, 5).unwrap().generation;
        let mut kept = Shared::next(Some(shared), 0, false, tokens());
        assert_eq!(kept.public().viewers, 1);
        assert!(kept.leave(joined));
        assert_eq!(kept.public().viewers, 0);
    }

    #[test]
    fn a_viewer_of_an_old_share_leaving_counts_nothing() {
        let mut shared = Shared::next(None, 0, false, tokens());
        let watch = LinkToken::parse(&shared.public().watch).unwrap().hash();
        let old = shared.join(&watch, 5).unwrap().generation;
        let mut newer = Shared::next(Some(shared), 1, false, tokens());
        let watch = LinkToken::parse(&newer.public().watch).unwrap().hash();
        newer.join(&watch, 5).unwrap();
        assert!(!newer.leave(old));
        assert_eq!(newer.public().viewers, 1);
    }

    #[test]
    fn a_client_holds_at_most_its_cap_of_links() {
        let watchers = Watchers::default();
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        let first = watchers.acquire(client, 2);
        let second = watchers.acquire(client, 2);
        assert!(first.is_some() && second.is_some());
        assert!(watchers.acquire(client, 2).is_none());
        drop(first);
        assert!(watchers.acquire(client, 2).is_some());
        assert!(watchers.acquire("192.0.2.2".parse().unwrap(), 2).is_some());
    }
}
