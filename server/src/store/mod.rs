//! The session store: what any replica needs to find, admit and resume a session.
//!
//! A session is split in two. Its **record** ([`SessionRecord`]: the hash of its id, its
//! client, its container, its deadlines) lives here, shared by every replica when the store is
//! Redis. Its **live attachment** (the shell's streams, the output ring, the tab's socket) lives
//! only in the replica that streams the shell, which holds the session's **lease**: the owner
//! key names that replica and a generation. Another replica that receives the tab asks the
//! holder to let go (or waits for the holder's heartbeat to lapse, when it died), takes the lease
//! with the next generation and attaches to the same container. Destructive steps (removing the
//! container, deleting the record) are compare-and-delete on the lease, so a replica that lost
//! its lease can never remove a shell another replica now serves.
//!
//! Admission (the global cap, the per-client cap, the creation rate) is one atomic step in the
//! store, so the caps hold across replicas and concurrent requests alike.
//!
//! [`MemoryStore`] keeps all of this in the process (one server, no other service: the default);
//! [`RedisStore`] keeps it in Redis, keys tagged per session so a Redis Cluster can hold them,
//! each expiring with its session.

mod memory;
mod rate;
mod redis;

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

pub use self::redis::RedisStore;
pub use memory::MemoryStore;

/// A visitor waiting in the queue for a slot keeps its place while it asks again within this.
pub const QUEUE_KEEP: Duration = Duration::from_secs(30);

/// How often a replica renews its heartbeat and collects requests to let go.
pub const HEARTBEAT_EVERY: Duration = Duration::from_millis(500);
/// How long a replica counts as alive after its last heartbeat. A replica killed outright is
/// taken over from after this long; it bounds the takeover time.
pub const HEARTBEAT_TTL: Duration = Duration::from_millis(1500);

/// Why the store could not answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The shared store (Redis) did not answer or failed.
    #[error("the session store is unavailable ({0}); shells already open keep working")]
    Unavailable(String),
    /// The lease is held by a replica that did not let go in time.
    #[error("another server still holds this sandbox; try again in a moment")]
    Busy,
}

/// Why admission refused a new session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Every slot is taken (or promised to visitors waiting longer). `position` is the client's
    /// place in the queue (1: next), when it waits in it.
    AtCapacity {
        /// The client's place in line.
        position: Option<usize>,
    },
    /// This client has its share.
    PerClient,
    /// This client creates sessions too fast; a new one is allowed after this long.
    Rate(Duration),
}

/// The caps admission applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Sessions alive at once, pooled ones included.
    pub max_sessions: usize,
    /// Sessions one client may have at once.
    pub max_per_client: usize,
    /// Creations a client may make at once.
    pub rate_burst: u32,
    /// Creations a client may make per minute on average.
    pub rate_per_minute: u32,
}

/// One request for a slot.
#[derive(Debug, Clone)]
pub struct SlotRequest {
    /// The session's [`SessionId::hash`](crate::ids::SessionId::hash): the slot's name.
    pub member: String,
    /// The client the session is for; `None` for a pooled sandbox no visitor has yet (it takes
    /// a slot but counts against no client and spends no rate).
    pub client: Option<ClientKey>,
    /// When the slot lapses by itself (the session's end at the latest), in ms since the epoch.
    pub expires_at_ms: u64,
    /// The slot is already held (a pooled sandbox handed to a visitor): only the client's cap
    /// and rate apply.
    pub claiming: bool,
    /// A slot to free in the same step (an idle session reclaimed for this visitor).
    pub replace: Option<String>,
}

/// The key that per-client caps count by: an IPv4 address, or an IPv6 address's /64 (one
/// household or host usually has a whole /64, and privacy addresses rotate within it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey(String);

impl ClientKey {
    /// The key of `address`.
    pub fn of(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(v4) => Self(v4.to_string()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(v4.to_string()),
                None => {
                    let s = v6.segments();
                    Self(format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]))
                }
            },
        }
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Reads a key written by [`ClientKey::as_str`].
    pub fn from_stored(text: &str) -> Self {
        Self(text.to_owned())
    }
}

/// What any replica needs to find and resume a session. Times are wall-clock (ms since the
/// epoch): replicas share no monotonic clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// [`SessionId::hash`](crate::ids::SessionId::hash) of the session id: the id itself, a bearer token, is never stored.
    pub id_hash: String,
    /// The client the session belongs to; `None` while it waits in a pool.
    pub client: Option<ClientKey>,
    /// The engine's id of the session's container, once created (empty: still starting).
    pub container: String,
    /// The engine the container runs on.
    pub engine: crate::ids::EngineId,
    /// When the session was created.
    pub created_at_ms: u64,
    /// When the session ends at the latest.
    pub expires_at_ms: u64,
    /// When the session ends for lack of input, as last written by its holder.
    pub idle_at_ms: u64,
}

impl SessionRecord {
    /// Where the session is: `starting` until its container is recorded, then `running`.
    pub fn state(&self) -> &'static str {
        if self.container.is_empty() {
            "starting"
        } else {
            "running"
        }
    }
}

/// A lease on a session: which replica streams it, and the generation of that hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The holding replica's name.
    pub replica: String,
    /// Increases with every takeover; a holder whose generation is stale stops writing.
    pub generation: u64,
}

impl Lease {
    /// `replica|generation`, as stored.
    pub fn encode(&self) -> String {
        format!("{}|{}", self.replica, self.generation)
    }

    /// Reads [`Lease::encode`]'s form.
    pub fn decode(text: &str) -> Option<Self> {
        let (replica, generation) = text.rsplit_once('|')?;
        Some(Self {
            replica: replica.to_owned(),
            generation: generation.parse().ok()?,
        })
    }
}

/// What a heartbeat learned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Heartbeat {
    /// Sessions other replicas asked this one to let go of, by id hash.
    pub let_go: Vec<String>,
    /// Whether the previous heartbeat had lapsed.
    pub lapsed: bool,
}

/// The shared state of sessions. See the module documentation.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// This replica's name.
    fn replica(&self) -> &str;

    /// Whether several replicas share this store (the in-memory store is this process alone).
    fn is_shared(&self) -> bool;

    /// Takes a slot for a new session atomically: either every cap holds and the slot is taken
    /// (and the client's rate spent), or nothing changes but the queue. When the cluster is
    /// full, visitors wait in a fair queue (by client, first come first served; a place is kept
    /// while its client asks again within [`QUEUE_KEEP`]): a free slot goes to the visitor who
    /// waited longest, and pooled sandboxes take no slot anyone waits for.
    async fn admit(
        &self,
        request: &SlotRequest,
        caps: &Caps,
    ) -> Result<Result<(), Refusal>, StoreError>;

    /// Frees a session's slot.
    async fn release_slot(
        &self,
        member: &str,
        client: Option<&ClientKey>,
    ) -> Result<(), StoreError>;

    /// How many slots are taken.
    async fn slots_taken(&self) -> Result<usize, StoreError>;

    /// Writes a session's record and gives this replica its lease (generation 1).
    async fn insert(&self, record: &SessionRecord) -> Result<Lease, StoreError>;

    /// Updates a record this replica holds the lease of (a pooled session handed to a visitor,
    /// its container created). Returns false when the lease was lost.
    async fn update(&self, record: &SessionRecord, lease: &Lease) -> Result<bool, StoreError>;

    /// The record of a session, by [`SessionId::hash`](crate::ids::SessionId::hash).
    async fn get(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError>;

    /// The current lease of a session, if any replica holds it.
    async fn lease(&self, id_hash: &str) -> Result<Option<Lease>, StoreError>;

    /// Takes the lease of a session held by `holder` (or by nobody) for this replica, with the
    /// next generation. Fails (returns `None`) when the lease changed in between.
    async fn take_lease(
        &self,
        id_hash: &str,
        holder: Option<&Lease>,
        expires_at_ms: u64,
    ) -> Result<Option<Lease>, StoreError>;

    /// Gives the lease up without ending the session (another replica asked, or the server
    /// stops and keeps containers). No-op if `lease` is no longer current.
    async fn release_lease(&self, id_hash: &str, lease: &Lease) -> Result<(), StoreError>;

    /// Deletes the session's record, lease and screen unless another replica holds the lease;
    /// returns whether none did (only then may the caller remove the container).
    async fn finish(&self, id_hash: &str, lease: &Lease) -> Result<bool, StoreError>;

    /// Stores the session's recent screen for a takeover to replay, if `lease` is current;
    /// returns whether it was.
    async fn save_screen(
        &self,
        id_hash: &str,
        lease: &Lease,
        screen: &[u8],
        expires_at_ms: u64,
    ) -> Result<bool, StoreError>;

    /// The stored screen of a session.
    async fn load_screen(&self, id_hash: &str) -> Result<Vec<u8>, StoreError>;

    /// Renews this replica's heartbeat. Returns the sessions other replicas asked it to let go,
    /// and whether the heartbeat had lapsed (Redis lost its data, or this replica stalled past
    /// [`HEARTBEAT_TTL`]): then the replica's sessions should be [`SessionStore::restore`]d.
    async fn heartbeat(&self) -> Result<Heartbeat, StoreError>;

    /// Writes back a live session's record, lease and slot where they are missing (after Redis
    /// lost them), so the sweeps and the caps see it again. Changes nothing that exists.
    async fn restore(&self, record: &SessionRecord, lease: &Lease) -> Result<(), StoreError>;

    /// Whether `replica`'s heartbeat is current.
    async fn is_alive(&self, replica: &str) -> Result<bool, StoreError>;

    /// Asks `replica` to let go of a session (it finds the request at its next heartbeat).
    async fn ask_to_let_go(&self, replica: &str, id_hash: &str) -> Result<(), StoreError>;

    /// Takes the lease named `name` (one per engine sweep) for `ttl`, if no replica holds it.
    async fn try_singleton(&self, name: &str, ttl: Duration) -> Result<bool, StoreError>;

    /// Checks that the store answers (for `/readyz`).
    async fn check(&self) -> Result<(), StoreError>;

    // Share links across replicas (see `sessions/relay.rs`): a spectator may reach any replica,
    // while the shared terminal runs in one. A store of one process needs none of this: its
    // defaults keep nothing, and spectators find their session in the process itself.

    /// Records share link `link` (its token's SHA-256, hex) of session `id_hash` until
    /// `expires_at_ms`; `typing` for a pair link.
    async fn put_link(
        &self,
        _link: &str,
        _id_hash: &str,
        _typing: bool,
        _expires_at_ms: u64,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// Forgets share link `link`.
    async fn drop_link(&self, _link: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// The session a share link shows, and whether it is a pair link.
    async fn find_link(&self, _link: &str) -> Result<Option<(String, bool)>, StoreError> {
        Ok(None)
    }

    /// Sends `message` on session `id_hash`'s `topic`, to whichever replicas follow it.
    async fn publish(
        &self,
        _id_hash: &str,
        _topic: Topic,
        _message: &[u8],
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// Follows session `id_hash`'s `topic` from now on, until the stream is dropped.
    async fn follow(&self, _id_hash: &str, _topic: Topic) -> Result<MessageStream, StoreError> {
        Ok(Box::pin(futures_util::stream::pending()))
    }

    /// Updates what a spectator joining on another replica starts from (`None` fields are
    /// left as they are): the shared terminal's size and its recent screen.
    async fn set_watch(
        &self,
        _id_hash: &str,
        _size: Option<(u16, u16)>,
        _screen: Option<&[u8]>,
        _expires_at_ms: u64,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// Counts spectators of session `id_hash` on other replicas in (`delta` 1) or out (-1), or
    /// reads their number (0); returns it.
    async fn add_viewers(
        &self,
        _id_hash: &str,
        _delta: i64,
        _expires_at_ms: u64,
    ) -> Result<i64, StoreError> {
        Ok(0)
    }

    /// What [`SessionStore::set_watch`] last stored.
    async fn watch_state(&self, _id_hash: &str) -> Result<WatchState, StoreError> {
        Ok(WatchState::default())
    }

    /// Forgets the session's spectator state (sharing stopped, or the session ended).
    async fn drop_watch(&self, _id_hash: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

/// What the replica running a shared terminal and spectators on other replicas say to each
/// other, per session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// The shared terminal's output and events, to spectators.
    Watch,
    /// Keys from pair spectators, to the terminal.
    Input,
}

/// Messages of a [`Topic`], as they arrive.
pub type MessageStream = std::pin::Pin<Box<dyn futures_util::Stream<Item = Vec<u8>> + Send>>;

/// Where a spectator joining on another replica starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchState {
    /// The shared terminal's size, once known.
    pub size: Option<(u16, u16)>,
    /// Its recent screen.
    pub screen: Vec<u8>,
}

/// Now, in ms since the Unix epoch.
pub fn now_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// A wall-clock time `after` from now, in ms since the epoch.
pub fn ms_from_now(after: Duration) -> u64 {
    now_ms().saturating_add(u64::try_from(after.as_millis()).unwrap_or(u64::MAX))
}

/// The name this process holds leases under: the configured replica name (or `replica`) and a
/// random part of its own. A replica restarted under the same name is a new holder, so the
/// leases its previous process held (its warm pool, sessions no tab came back to) count as
/// orphaned instead of alive, and the sweeps end them.
pub fn replica_holder(name: &str) -> String {
    let name = if name.is_empty() { "replica" } else { name };
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{name}.{}", &id[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_key_by_ipv4_and_ipv6_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ClientKey::of(a), ClientKey::of(b));
        assert_ne!(ClientKey::of(a), ClientKey::of(c));
        assert_eq!(
            ClientKey::of("203.0.113.7".parse().unwrap()).as_str(),
            "203.0.113.7"
        );
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(ClientKey::of(mapped).as_str(), "203.0.113.7");
    }

    #[test]
    fn leases_round_trip_and_hashes_hide_the_id() {
        let lease = Lease {
            replica: "r1".into(),
            generation: 7,
        };
        assert_eq!(Lease::decode(&lease.encode()), Some(lease));
        assert_eq!(Lease::decode("nonsense"), None);
        let id = crate::ids::SessionId::random();
        let hash = id.hash();
        assert_eq!(hash.len(), 32);
        assert!(!hash.contains(&id.expose().replace('-', "")[..8]));
    }
}
