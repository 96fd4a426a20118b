//! One visitor's session: its shell's input and output, its state, and who is attached.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use crate::ids::{SessionId, SessionTag};
use rootresume_protocol::EndReason;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::share::{Joined, ShareError, Shared};
use super::terminal::Terminal;
use crate::ids::LinkToken;
use crate::sandbox::SandboxError;
use crate::store::{ClientKey, Lease};

/// Where a session is in its life.
#[derive(Debug, Clone)]
pub enum SessionState {
    /// The container is being created.
    Starting,
    /// The shell is running.
    Running,
    /// The container or shell could not be started.
    Failed(SandboxError),
    /// The session is over.
    Ended(EndReason),
    /// The server shut down and left the container running for the next process to re-adopt;
    /// the tab should reconnect with the same id.
    Suspended,
    /// Another replica took the session over; this replica no longer streams it.
    HandedOver,
}

/// A live session. The session's supervisor task owns its container; this object is what
/// WebSocket handlers share with it.
///
/// What changes is kept in one place: the plain facts in `Facts` behind one lock (each
/// update a few assignments), and three watch channels for what tasks wait on (the state, the
/// terminals open, the hand-out from the pool). Each [`Terminal`] keeps its shell's input and
/// output, and who is attached to it.
pub struct Session {
    /// The id, only in the replica that created the session and only to hand it to its visitor
    /// (a bearer token: it prints as its tag). A session adopted or taken over has none: a tab
    /// proves it knows the id by presenting it ([`Session::admits`]).
    token: Option<SessionId>,
    /// [`SessionId::hash`] of the id: the name of its record and slot in the store, and of its
    /// container.
    pub hash: String,
    /// The tag logs show, from the hash.
    tag: SessionTag,
    /// Whether the owner proof is on the container already (or being written there).
    owner_written: std::sync::atomic::AtomicBool,
    /// The facts that change, behind one lock.
    facts: Mutex<Facts>,
    /// When the session was created, in ms since the epoch.
    created_at_ms: u64,
    /// Cancelled when another replica takes the session over: this one stops streaming and
    /// leaves the container running.
    pub handover: CancellationToken,
    /// False while the session waits in the warm pool; true once a visitor has it.
    claimed: watch::Sender<bool>,
    /// How long the session may go without input.
    idle_timeout: Duration,
    /// Output kept per terminal for a reattach, in bytes.
    output_capacity: usize,
    /// The first terminal: the container's own shell, whose end ends the session.
    main: Arc<Terminal>,
    state: watch::Sender<SessionState>,
    /// The numbers of the terminals open, the first included, in order.
    terminals: watch::Sender<Vec<u8>>,
    /// Its share links as the owner's page sees them (tokens, viewers), published on change.
    sharing: watch::Sender<rootresume_protocol::Sharing>,
    /// Whether a task relays the share to spectators on other replicas (shared store only).
    relaying: std::sync::atomic::AtomicBool,
    /// The session's container, once created or found.
    container: OnceLock<crate::sandbox::ContainerId>,
    /// Cancelled to end the session early (shutdown or [`Session::end_with`]).
    pub cancel: CancellationToken,
}

/// The facts of a session that change, all behind [`Session`]'s one lock.
struct Facts {
    /// The client the session belongs to, once known (a pooled session has none yet).
    client: Option<IpAddr>,
    /// For a session adopted after a restart, whose creator's address is not known: the proof
    /// its container carries ([`SessionId::owner_proof`]), which only the creator's address
    /// together with the id can match.
    owner_proof: Option<String>,
    /// When a visitor asked for it: creation, or hand-out from the pool.
    requested_at: Instant,
    /// When the session must end at the latest.
    expires_at: Instant,
    /// When the visitor last typed (the idle clock).
    last_input: Instant,
    /// The terminals opened beside the first, by number; `None` while one is being opened
    /// (it counts against the cap already).
    extras: BTreeMap<u8, Option<Arc<Terminal>>>,
    /// The number the next terminal opened gets.
    next_terminal: u8,
    /// This replica's lease on the session in the store; `None` until the record is written.
    lease: Option<Lease>,
    /// Why the session was asked to end, if it was.
    end_request: Option<EndReason>,
    /// The challenges the visitor's work passed, in the order passed (a reload shows them).
    passed: Vec<String>,
    /// The terminal shared through links, if one is.
    share: Option<Shared>,
}

impl Session {
    /// A session in the `Starting` state, stored under `hash`; `token` is its id when this
    /// replica creates it.
    pub fn new(
        hash: String,
        token: Option<SessionId>,
        client: Option<IpAddr>,
        expires_at: Instant,
        idle_timeout: Duration,
        output_capacity: usize,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            token,
            tag: SessionTag::of_hash(&hash),
            owner_written: std::sync::atomic::AtomicBool::new(false),
            hash,
            facts: Mutex::new(Facts {
                client,
                owner_proof: None,
                requested_at: Instant::now(),
                expires_at,
                last_input: Instant::now(),
                extras: BTreeMap::new(),
                next_terminal: 1,
                lease: None,
                end_request: None,
                passed: Vec::new(),
                share: None,
            }),
            handover: CancellationToken::new(),
            created_at_ms: crate::store::now_ms(),
            claimed: watch::channel(true).0,
            idle_timeout,
            output_capacity,
            main: Arc::new(Terminal::new(0, output_capacity)),
            state: watch::channel(SessionState::Starting).0,
            terminals: watch::channel(vec![0]).0,
            sharing: watch::channel(rootresume_protocol::Sharing::default()).0,
            relaying: std::sync::atomic::AtomicBool::new(false),
            container: OnceLock::new(),
            cancel,
        }
    }

    /// The address of the client the session belongs to, when known.
    pub fn client(&self) -> Option<IpAddr> {
        self.facts().client
    }

    /// The id, for the visitor this replica creates the session for (see the field).
    pub fn token(&self) -> Option<&SessionId> {
        self.token.as_ref()
    }

    /// The proof of ownership to write on the container: from the id and the owner's address,
    /// once both are known here.
    pub fn owner_proof(&self) -> Option<String> {
        let facts = self.facts();
        match (&self.token, facts.client) {
            (Some(id), Some(client)) => Some(id.owner_proof(client)),
            _ => facts.owner_proof.clone(),
        }
    }

    /// The container and the owner proof to write on it, once both are known and only the first
    /// time this is asked; `None` otherwise.
    pub(super) fn owner_to_write(&self) -> Option<(crate::sandbox::ContainerId, String)> {
        let container = self.container()?;
        let proof = self.owner_proof()?;
        (!self.owner_written.swap(true, Ordering::AcqRel)).then_some((container, proof))
    }

    /// Notes that the container was created with the owner proof in its name already.
    pub(super) fn owner_is_written(&self) {
        self.owner_written.store(true, Ordering::Release);
    }

    /// Binds an adopted session to the proof its container carries.
    pub(super) fn set_owner_proof(&self, proof: String) {
        self.facts().owner_proof = Some(proof);
    }

    /// Whether a socket that presented `id`, from `client`, may attach: the id must be this
    /// session's, and the socket must come from the address that created it (known directly,
    /// or through the owner proof of an adopted session). A leaked id alone, or someone else's
    /// tag or hash, gets nothing.
    pub fn admits(&self, id: &SessionId, client: Option<IpAddr>) -> bool {
        // Plain comparisons: both sides are hashes, and timing them tells nothing about the id.
        if id.hash() != self.hash {
            return false;
        }
        let facts = self.facts();
        match (facts.client, &facts.owner_proof, client) {
            (Some(owner), _, Some(client)) => owner == client,
            (None, Some(proof), Some(client)) => id.owner_proof(client) == *proof,
            // A socket without a known address (never over TCP) is checked by id alone.
            _ => true,
        }
    }

    /// The client key per-client caps count this session under.
    pub fn client_key(&self) -> Option<ClientKey> {
        self.client().map(ClientKey::of)
    }

    /// This replica's lease on the session, once its record is written.
    pub fn lease(&self) -> Option<Lease> {
        self.facts().lease.clone()
    }

    /// Records the lease this replica holds.
    pub(super) fn set_lease(&self, lease: Lease) {
        self.facts().lease = Some(lease);
    }

    /// The session's record for the store, with its container on `engine`.
    pub fn record(
        &self,
        engine: crate::ids::EngineId,
        container: &crate::sandbox::ContainerId,
    ) -> crate::store::SessionRecord {
        let wall =
            |at: Instant| crate::store::ms_from_now(at.saturating_duration_since(Instant::now()));
        crate::store::SessionRecord {
            id_hash: self.hash.clone(),
            client: self.client_key(),
            container: container.0.clone(),
            engine,
            created_at_ms: self.created_at_ms,
            expires_at_ms: wall(self.expires_at()),
            idle_at_ms: wall(self.idle_deadline()),
        }
    }

    /// Moves the idle deadline (a takeover continues the holder's idle clock).
    pub(super) fn set_idle_deadline(&self, at: Instant) {
        self.facts().last_input = at.checked_sub(self.idle_timeout).unwrap_or(at);
    }

    /// Marks a session taken over from another replica: a tab attached before, so the first
    /// attachment here is a reattach.
    pub(super) fn set_resumed(&self) {
        self.main.set_resumed();
    }

    /// Marks a new session as waiting in the warm pool, unclaimed.
    pub(super) fn set_pooled(&self) {
        self.claimed.send_replace(false);
    }

    /// Hands a pooled session to a visitor: its lifetime and idle clock start now.
    pub(super) fn claim(&self, client: Option<IpAddr>, lifetime: Duration) {
        let now = Instant::now();
        {
            let mut facts = self.facts();
            facts.client = client;
            facts.expires_at = now + lifetime;
            facts.last_input = now;
            facts.requested_at = now;
        }
        self.claimed.send_replace(true);
    }

    /// Remembers that the visitor's work passed challenge `id`.
    pub fn mark_passed(&self, id: &str) {
        let mut facts = self.facts();
        if !facts.passed.iter().any(|passed| passed == id) {
            facts.passed.push(id.to_owned());
        }
    }

    /// The challenges passed so far.
    pub fn passed(&self) -> Vec<String> {
        self.facts().passed.clone()
    }

    /// A short name for logs and the container's hostname (`rr-` and the first 8 hex digits of
    /// the id's hash): enough to follow one session, and nothing to attach to it with.
    pub fn tag(&self) -> String {
        self.tag.to_string()
    }

    /// A tracing span carrying the session's [`Session::tag`].
    pub fn span(&self) -> tracing::Span {
        tracing::info_span!("session", tag = %self.tag())
    }

    /// Whether the shell runs and has printed (its prompt): a visitor handed this session sees
    /// a prompt at once.
    pub fn is_ready(&self) -> bool {
        matches!(self.state(), SessionState::Running) && self.main.output.end() > 0
    }

    /// Whether a visitor has the session (false while it waits in the pool).
    pub fn is_claimed(&self) -> bool {
        *self.claimed.borrow()
    }

    /// When a visitor asked for the session, for the time-to-first-prompt metric.
    pub fn requested_at(&self) -> Instant {
        self.facts().requested_at
    }

    /// Waits until a visitor has the session (at once for one created on demand).
    pub async fn claimed(&self) {
        let mut rx = self.claimed.subscribe();
        // The sender lives in `self`, so this cannot fail while we borrow it.
        let _ = rx.wait_for(|claimed| *claimed).await;
    }

    /// When the session reaches its maximum lifetime.
    pub fn expires_at(&self) -> Instant {
        self.facts().expires_at
    }

    /// Moves the end of the session's lifetime (a pooled session's clock starts at hand-out).
    pub fn set_expires_at(&self, at: Instant) {
        self.facts().expires_at = at;
    }

    /// When the session ends for lack of input, unless input comes first.
    pub fn idle_deadline(&self) -> Instant {
        self.facts().last_input + self.idle_timeout
    }

    /// When the session ends if nothing changes: its lifetime or its idle deadline.
    pub fn ends_at(&self) -> Instant {
        self.expires_at().min(self.idle_deadline())
    }

    /// How long since the visitor last typed.
    pub fn idle_for(&self) -> Duration {
        self.facts().last_input.elapsed()
    }

    /// The current state.
    pub fn state(&self) -> SessionState {
        self.state.borrow().clone()
    }

    /// Waits until the session is no longer starting and returns that state.
    pub async fn started(&self) -> SessionState {
        let mut rx = self.state.subscribe();
        let state = rx
            .wait_for(|s| !matches!(s, SessionState::Starting))
            .await
            .map(|s| s.clone());
        // The sender lives in `self`, so the channel cannot close while we borrow it.
        state.unwrap_or(SessionState::Ended(EndReason::ContainerGone))
    }

    /// Waits until the session no longer runs: it ended, failed, or went to another process.
    pub async fn stopped(&self) {
        let mut rx = self.state.subscribe();
        // The sender lives in `self`, so the channel cannot close while we borrow it.
        let _ = rx
            .wait_for(|s| !matches!(s, SessionState::Starting | SessionState::Running))
            .await;
    }

    pub(super) fn set_state(&self, state: SessionState) {
        self.state.send_replace(state);
    }

    /// The session's container, once created (or found, for a takeover).
    pub fn container(&self) -> Option<crate::sandbox::ContainerId> {
        self.container.get().cloned()
    }

    pub(super) fn set_container(&self, container: crate::sandbox::ContainerId) {
        let _ = self.container.set(container);
    }

    /// The first terminal: the container's own shell.
    pub fn main(&self) -> &Arc<Terminal> {
        &self.main
    }

    /// Terminal `number` of this session, if it is open.
    pub fn terminal(&self, number: u8) -> Option<Arc<Terminal>> {
        if number == 0 {
            return Some(self.main.clone());
        }
        self.facts().extras.get(&number).cloned().flatten()
    }

    /// Every terminal open beside the first.
    pub fn extra_terminals(&self) -> Vec<Arc<Terminal>> {
        self.facts().extras.values().flatten().cloned().collect()
    }

    /// Watches the numbers of the terminals open, the first included.
    pub fn watch_terminals(&self) -> watch::Receiver<Vec<u8>> {
        self.terminals.subscribe()
    }

    /// Takes a number for a new terminal if fewer than `max` are open (or opening), the first
    /// included; `None` at the cap. [`Session::add_terminal`] or [`Session::remove_terminal`]
    /// must follow.
    pub(super) fn reserve_terminal(&self, max: usize) -> Option<u8> {
        let mut facts = self.facts();
        if facts.extras.len() + 1 >= max || facts.next_terminal == u8::MAX {
            return None;
        }
        let number = facts.next_terminal;
        facts.next_terminal += 1;
        facts.extras.insert(number, None);
        Some(number)
    }

    /// A terminal for a number [`Session::reserve_terminal`] gave.
    pub(super) fn new_terminal(&self, number: u8) -> Arc<Terminal> {
        Arc::new(Terminal::new(number, self.output_capacity))
    }

    /// Makes a reserved terminal, whose shell runs, open to tabs.
    pub(super) fn add_terminal(&self, terminal: Arc<Terminal>) {
        let mut facts = self.facts();
        facts.extras.insert(terminal.number, Some(terminal));
        self.publish_terminals(&facts);
    }

    /// Forgets terminal `number` (closed, exited, or never opened).
    pub(super) fn remove_terminal(&self, number: u8) {
        let mut facts = self.facts();
        if facts.extras.remove(&number).is_some() {
            self.publish_terminals(&facts);
        }
    }

    fn publish_terminals(&self, facts: &Facts) {
        let open = std::iter::once(0)
            .chain(
                facts
                    .extras
                    .iter()
                    .filter(|(_, terminal)| terminal.is_some())
                    .map(|(number, _)| *number),
            )
            .collect();
        self.terminals.send_replace(open);
    }

    /// Shares terminal `terminal` through links made of `tokens` (see [`Shared::next`]).
    pub(super) fn share(&self, terminal: u8, pair: bool, tokens: (LinkToken, LinkToken)) {
        let mut facts = self.facts();
        let shared = Shared::next(facts.share.take(), terminal, pair, tokens);
        self.sharing.send_replace(shared.public());
        facts.share = Some(shared);
    }

    /// Stops sharing: every link dies and its viewers are closed.
    pub fn stop_sharing(&self) {
        let mut facts = self.facts();
        if let Some(shared) = facts.share.take() {
            shared.stop();
            self.sharing
                .send_replace(rootresume_protocol::Sharing::default());
        }
    }

    /// Watches the session's share links and viewers, as its owner's page shows them.
    pub fn watch_sharing(&self) -> watch::Receiver<rootresume_protocol::Sharing> {
        self.sharing.subscribe()
    }

    /// Whether one of the session's share links has the token hashed `hash`.
    pub(super) fn has_link(&self, hash: &[u8; 32]) -> bool {
        self.facts()
            .share
            .as_ref()
            .is_some_and(|shared| shared.has_link(hash))
    }

    /// Counts a viewer in through the link hashed `hash`, at most `max` at once.
    pub(super) fn join_viewers(&self, hash: &[u8; 32], max: usize) -> Result<Joined, ShareError> {
        let mut facts = self.facts();
        let shared = facts.share.as_mut().ok_or(ShareError::Invalid)?;
        let joined = shared.join(hash, max)?;
        self.sharing.send_replace(shared.public());
        Ok(joined)
    }

    /// Notes how many spectators watch the share through other replicas.
    pub(super) fn set_remote_viewers(&self, remote: u16) {
        let mut facts = self.facts();
        if let Some(shared) = facts.share.as_mut() {
            if shared.set_remote(remote) {
                self.sharing.send_replace(shared.public());
            }
        }
    }

    /// Whether the share has a pair link now (spectators on other replicas may type).
    pub(super) fn has_pair_link(&self) -> bool {
        !self.sharing.borrow().pair.is_empty()
    }

    /// Marks the share as relayed to other replicas; false when it already was.
    pub(super) fn start_relaying(&self) -> bool {
        !self.relaying.swap(true, Ordering::AcqRel)
    }

    /// The relay stopped (see [`Session::start_relaying`]).
    pub(super) fn stop_relaying(&self) {
        self.relaying.store(false, Ordering::Release);
    }

    /// Counts out a viewer of share `generation`.
    pub(super) fn leave_viewers(&self, generation: u64) {
        let mut facts = self.facts();
        if let Some(shared) = facts.share.as_mut() {
            if shared.leave(generation) {
                self.sharing.send_replace(shared.public());
            }
        }
    }

    /// Writes the visitor's keystrokes to `terminal`'s shell (see [`Terminal::write`]); any
    /// input moves the session's idle clock.
    pub async fn write_to(&self, terminal: &Terminal, bytes: &[u8]) -> std::io::Result<()> {
        self.facts().last_input = Instant::now();
        terminal.write(bytes).await
    }

    /// Writes to the first terminal's shell, as [`Session::write_to`].
    pub async fn write_input(&self, bytes: &[u8]) -> std::io::Result<()> {
        self.write_to(&self.main, bytes).await
    }

    /// Asks the session's supervisor to end the session with `reason`.
    pub fn end_with(&self, reason: EndReason) {
        self.facts().end_request.get_or_insert(reason);
        self.cancel.cancel();
    }

    /// Whether the session has been asked to end or has ended (it no longer counts as live for
    /// admission, though its container may still be going away).
    pub fn is_ending(&self) -> bool {
        self.cancel.is_cancelled()
            || matches!(
                self.state(),
                SessionState::Ended(_)
                    | SessionState::Failed(_)
                    | SessionState::Suspended
                    | SessionState::HandedOver
            )
    }

    /// Why the session was cancelled: the reason given to [`Session::end_with`], else shutdown.
    pub(super) fn cancel_reason(&self) -> EndReason {
        self.facts()
            .end_request
            .unwrap_or(EndReason::ServerShutdown)
    }
}

impl Session {
    /// Locks the facts. Every update is a few assignments that cannot panic midway, so a
    /// poisoned lock still holds consistent facts.
    fn facts(&self) -> MutexGuard<'_, Facts> {
        self.facts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
