//! Sessions: one container and one shell per browser tab, from creation to removal.
//!
//! [`SessionManager::create`] registers a session and spawns its supervisor, which owns the
//! container through a [`ContainerGuard`] and ends the session when the shell exits, the lifetime
//! runs out, no browser is attached for the grace period, or the server shuts down. Whatever the
//! cause, the container is removed on the way out.

mod arrivals;
pub mod check;
mod extra;
mod guard;
mod hold;
mod live;
pub mod meter;
mod output;
mod pool;
mod recording;
mod relay;
pub mod run;
mod session;
mod share;
mod supervisor;
mod takeover;
mod terminal;
mod viewing;
mod watchdog;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::ids::SessionId;
use rootresume_protocol::EndReason;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use extra::TerminalError;
pub use guard::ContainerGuard;
pub use live::LiveTable;
pub use output::OutputLog;
pub use pool::Pool;
pub use session::{Session, SessionState};
pub use share::ShareError;
pub use terminal::{Attachment, Terminal};
pub use viewing::{Viewing, WatchEvent};

use supervisor::Supervisor;

use crate::config::SessionSettings;
use crate::metrics::{Metrics, RejectLabel};
use crate::sandbox::{
    spec_epoch_now, ContainerId, LabelledContainer, Sandbox, SandboxError, SandboxLimits, TermSize,
};
use crate::store::{
    ms_from_now, Caps, ClientKey, MemoryStore, Refusal, SessionStore, SlotRequest, StoreError,
};

/// Why a session could not be created.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SessionError {
    /// Every session slot is taken; the visitor waits in line.
    #[error("{}", at_capacity(*max, *position))]
    AtCapacity {
        /// The configured global cap.
        max: usize,
        /// The visitor's place in the queue (1: next), when known.
        position: Option<usize>,
    },
    /// This client already has as many sandboxes as it may.
    #[error("you already have {max} sandboxes open; close a tab running one and try again")]
    TooManyForClient {
        /// The configured per-client cap.
        max: usize,
    },
    /// This client started sandboxes too quickly.
    #[error("too many new sandboxes from your address; try again in {} s", retry_after.as_secs().max(1))]
    RateLimited {
        /// How long until a new one is allowed.
        retry_after: Duration,
    },
    /// The server is shutting down and takes no new sessions.
    #[error("the server is restarting; please try again in a moment")]
    ShuttingDown,
    /// The shared session store does not answer.
    #[error("{0}")]
    StoreUnavailable(String),
}

fn at_capacity(max: usize, position: Option<usize>) -> String {
    match position {
        Some(place) => format!(
            "all {max} sandboxes are in use; you are number {place} in line, and your shell starts as soon as one is free"
        ),
        None => format!("all {max} sandboxes are in use; please try again in a few minutes"),
    }
}

impl From<StoreError> for SessionError {
    fn from(error: StoreError) -> Self {
        Self::StoreUnavailable(error.to_string())
    }
}

/// Creates, finds and ends sessions.
pub struct SessionManager {
    sandbox: Arc<dyn Sandbox>,
    /// Records, leases and slots: this process's memory, or Redis shared with other replicas.
    store: Arc<dyn SessionStore>,
    /// The sessions this replica streams.
    live: Arc<LiveTable>,
    settings: SessionSettings,
    limits: SandboxLimits,
    pool: Pool,
    /// Wakes the pool's refill.
    refill: Arc<Notify>,
    /// Puts the refill off while a visitor handed a sandbox is being served (see `hold`).
    hold: Arc<hold::RefillHold>,
    /// Visitors lately who found no ready pooled sandbox, which the pool grows to meet.
    misses: arrivals::Arrivals,
    tasks: TaskTracker,
    /// The browsers' socket handlers, tracked so shutdown can wait for their goodbyes.
    sockets: TaskTracker,
    shutdown: CancellationToken,
    keep_on_shutdown: bool,
    metrics: Arc<Metrics>,
    /// Share links watched per client address.
    watchers: share::Watchers,
}

impl SessionManager {
    /// A manager handing out containers from `sandbox`, one process alone (in-memory store).
    pub fn new(
        sandbox: Arc<dyn Sandbox>,
        settings: SessionSettings,
        limits: SandboxLimits,
    ) -> Self {
        Self::with_store(sandbox, Arc::new(MemoryStore::default()), settings, limits)
    }

    /// A manager recording sessions in `store` (shared with other replicas when it is Redis).
    pub fn with_store(
        sandbox: Arc<dyn Sandbox>,
        store: Arc<dyn SessionStore>,
        settings: SessionSettings,
        limits: SandboxLimits,
    ) -> Self {
        Self {
            pool: Pool::default(),
            refill: Arc::new(Notify::new()),
            hold: Arc::default(),
            misses: arrivals::Arrivals::default(),
            sandbox,
            store,
            live: Arc::new(LiveTable::default()),
            settings,
            limits,
            tasks: TaskTracker::new(),
            sockets: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            keep_on_shutdown: false,
            metrics: Arc::new(Metrics::new()),
            watchers: share::Watchers::default(),
        }
    }

    /// Counts into `metrics` instead of a private set.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// On shutdown, leave visitors' containers running for the next process to re-adopt
    /// instead of removing them.
    pub fn keep_on_shutdown(mut self, keep: bool) -> Self {
        self.keep_on_shutdown = keep;
        self
    }

    /// The metrics this manager counts into.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The sandbox backend, for health checks and the reaper.
    pub fn sandbox(&self) -> &Arc<dyn Sandbox> {
        &self.sandbox
    }

    /// Starts a new session for `client` (its address, when known); the container is created
    /// in the background. Refuses when the cluster is full, the client has its share, or the
    /// client creates sessions too fast.
    pub async fn create(&self, client: Option<IpAddr>) -> Result<Arc<Session>, SessionError> {
        let created = self.admit(client).await;
        match &created {
            Ok(_) => {
                self.metrics.sessions_started.inc();
            }
            Err(error) => self.metrics.rejected(match error {
                SessionError::AtCapacity { .. } => RejectLabel::at_capacity,
                SessionError::TooManyForClient { .. } => RejectLabel::per_client,
                SessionError::RateLimited { .. } => RejectLabel::rate_limited,
                SessionError::ShuttingDown | SessionError::StoreUnavailable(_) => {
                    RejectLabel::shutting_down
                }
            }),
        }
        created
    }

    fn caps(&self) -> Caps {
        Caps {
            max_sessions: self.settings.max_sessions,
            max_per_client: self.settings.max_per_client,
            rate_burst: self.settings.rate_burst,
            rate_per_minute: self.settings.rate_per_minute,
        }
    }

    fn refusal(&self, refusal: Refusal) -> SessionError {
        match refusal {
            Refusal::AtCapacity { position } => SessionError::AtCapacity {
                max: self.settings.max_sessions,
                position,
            },
            Refusal::PerClient => SessionError::TooManyForClient {
                max: self.settings.max_per_client,
            },
            Refusal::Rate(retry_after) => SessionError::RateLimited { retry_after },
        }
    }

    async fn admit(&self, client: Option<IpAddr>) -> Result<Arc<Session>, SessionError> {
        if self.shutdown.is_cancelled() {
            return Err(SessionError::ShuttingDown);
        }
        let key = client.map(ClientKey::of);
        let caps = self.caps();
        // A pooled sandbox already holds a slot: handing it out checks only the client's caps.
        if let Some(session) = self.pool.take_into(&self.live) {
            // Handed a sandbox still starting: the pool did not keep up.
            let missed = !session.is_ready();
            let request = SlotRequest {
                member: session.hash.clone(),
                client: key.clone(),
                expires_at_ms: ms_from_now(self.settings.max_lifetime),
                claiming: true,
                replace: None,
            };
            match self.store.admit(&request, &caps).await {
                Ok(Ok(())) => {
                    session.claim(client, self.settings.max_lifetime);
                    self.metrics.pool_handouts.inc();
                    if missed {
                        self.note_missed();
                    }
                    self.refill_after(&session);
                    supervisor::write_owner(&self.sandbox, &self.tasks, &session);
                    if let (Some(lease), Some(container)) = (session.lease(), session.container()) {
                        // The record now names the visitor; a failure only delays a takeover.
                        let _ = self
                            .store
                            .update(
                                &session.record(self.sandbox.engine_of(&container), &container),
                                &lease,
                            )
                            .await;
                    }
                    return Ok(session);
                }
                Ok(Err(refusal)) => {
                    self.pool.put_back(session, &self.live);
                    return Err(self.refusal(refusal));
                }
                Err(error) => {
                    self.pool.put_back(session, &self.live);
                    return Err(error.into());
                }
            }
        }
        let id = SessionId::random();
        let mut request = SlotRequest {
            member: id.hash(),
            client: key,
            expires_at_ms: ms_from_now(self.settings.max_lifetime),
            claiming: false,
            replace: None,
        };
        let mut victim = None;
        match self.store.admit(&request, &caps).await? {
            Ok(()) => {}
            Err(refusal @ Refusal::AtCapacity { .. }) => {
                // Full: free the slot of this replica's idlest session, in the same atomic step
                // as taking it, so two visitors cannot both count on one victim.
                let idlest = self.idlest().ok_or_else(|| self.refusal(refusal))?;
                request.replace = Some(idlest.hash.clone());
                self.store
                    .admit(&request, &caps)
                    .await?
                    .map_err(|r| self.refusal(r))?;
                victim = Some(idlest);
            }
            Err(refusal) => return Err(self.refusal(refusal)),
        }
        if let Some(victim) = victim {
            tracing::info!(session = %victim.tag(), idle = ?victim.idle_for(), "reclaiming an idle session for a new visitor");
            victim.end_with(EndReason::Idle);
        }
        let session = Arc::new(Session::new(
            id.hash(),
            Some(id),
            client,
            Instant::now() + self.settings.max_lifetime,
            self.settings.idle_timeout,
            self.settings.output_buffer_bytes,
            self.shutdown.child_token(),
        ));
        if let Err(error) = self.record(&session).await {
            let _ = self
                .store
                .release_slot(&session.hash, session.client_key().as_ref())
                .await;
            return Err(error.into());
        }
        self.live.insert(session.clone());
        self.spawn(session.clone(), None, None);
        // A cold start is a visitor the pool did not meet: let it grow for the next.
        if self.settings.pool_size > 0 {
            self.note_missed();
            self.refill.notify_one();
        }
        Ok(session)
    }

    /// Counts a visitor who found no ready pooled sandbox: for the pool's growth and the metric.
    fn note_missed(&self) {
        self.misses.note();
        self.metrics.pool_missed.inc();
    }

    /// How many sandboxes the pool should hold now: its size, or more while it misses visitors
    /// (see [`arrivals::pool_target`]).
    fn pool_target(&self) -> usize {
        let s = &self.settings;
        arrivals::pool_target(s.pool_size, s.pool_max, self.misses.recent())
    }

    /// Writes a new session's record (its container comes later) and takes its lease.
    async fn record(&self, session: &Session) -> Result<(), StoreError> {
        let lease = self
            .store
            .insert(&session.record(self.sandbox.engine(), &ContainerId(String::new())))
            .await?;
        session.set_lease(lease);
        Ok(())
    }

    /// This replica's session idle the longest, if one has been idle past the reclaim threshold.
    fn idlest(&self) -> Option<Arc<Session>> {
        let after = self.settings.reclaim_idle_after?;
        self.live
            .all()
            .into_iter()
            .filter(|s| !s.is_ending() && s.is_claimed() && s.idle_for() >= after)
            .max_by_key(|s| s.idle_for())
    }

    /// Keeps the warm pool at its target, in the background, until shutdown: its configured size,
    /// grown up to `pool_max` while visitors arrive faster than it refills, shed back a minute
    /// after they stop.
    /// The pool counts toward the global cap, never grows past it, and stops refilling for a
    /// while when its containers fail to start (the engine is unhealthy).
    pub fn start_pool(self: &Arc<Self>) {
        if self.settings.pool_size == 0 {
            return;
        }
        let manager = self.clone();
        self.tasks.spawn(async move {
            let mut backoff = Duration::from_secs(1);
            loop {
                if manager.pool.prune() > 0 {
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                    tracing::warn!(
                        ?backoff,
                        "pooled sandboxes failed to start; refilling later"
                    );
                } else if let Err(error) = manager.fill_pool().await {
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                    tracing::warn!(%error, ?backoff, "cannot fill the pool; trying later");
                } else {
                    backoff = Duration::from_secs(1);
                    let shed = manager
                        .pool
                        .shed(manager.pool_target(), arrivals::SURPLUS_TTL);
                    if shed > 0 {
                        tracing::info!(shed, "visitors slowed down; the pool shrinks");
                    }
                }
                tokio::select! {
                    () = manager.shutdown.cancelled() => return,
                    () = manager.refill.notified() => {}
                    () = tokio::time::sleep(backoff) => {}
                }
            }
        });
    }

    /// Wakes the refill for a sandbox just handed out: once its tab has attached, or after
    /// [`hold::HOLD`], while the pool has another ready sandbox for the next visitor; else now.
    fn refill_after(&self, session: &Session) {
        if self.pool.ready() == 0 {
            self.refill.notify_one();
            return;
        }
        let Some(until) = self.hold.start(Instant::now()) else {
            // A hold is on already: its end wakes the refill.
            return;
        };
        let (hold, refill) = (self.hold.clone(), self.refill.clone());
        let mut owner = session.main().owner();
        let shutdown = self.shutdown.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                _ = owner.wait_for(|generation| *generation != 0) => {}
                () = tokio::time::sleep_until(until) => {}
                () = shutdown.cancelled() => {}
            }
            hold.release(until);
            refill.notify_one();
        });
    }

    /// Adds pooled sandboxes until the pool has its size or admission says the cluster is full
    /// (a pooled sandbox takes a slot like a visitor's), with at most `sessions.pool_starts` of
    /// them starting at once; none while a hold is on and a ready sandbox waits (see `hold`).
    async fn fill_pool(&self) -> Result<(), StoreError> {
        let caps = self.caps();
        while self.pool.len() < self.pool_target() && !self.shutdown.is_cancelled() {
            if self.hold.is_on(Instant::now()) && self.pool.ready() > 0 {
                break;
            }
            if self.pool.starting() >= self.settings.pool_starts {
                // The first of them to be ready wakes the refill again.
                break;
            }
            let lifetime = self.settings.pool_ttl + self.settings.max_lifetime;
            let id = SessionId::random();
            let session = Arc::new(Session::new(
                id.hash(),
                Some(id),
                None,
                Instant::now() + lifetime,
                self.settings.idle_timeout,
                self.settings.output_buffer_bytes,
                self.shutdown.child_token(),
            ));
            let request = SlotRequest {
                member: session.hash.clone(),
                client: None,
                expires_at_ms: ms_from_now(lifetime),
                claiming: false,
                replace: None,
            };
            if self.store.admit(&request, &caps).await?.is_err() {
                return Ok(());
            }
            if let Err(error) = self.record(&session).await {
                let _ = self.store.release_slot(&session.hash, None).await;
                return Err(error);
            }
            session.set_pooled();
            self.pool.push(session.clone());
            self.spawn(session.clone(), None, Some(self.settings.pool_ttl));
            self.refill_when_started(session);
        }
        Ok(())
    }

    /// Wakes the refill once a pooled sandbox has printed its prompt or ended: a start fewer is
    /// under way (see `sessions.pool_starts`).
    fn refill_when_started(&self, session: Arc<Session>) {
        let (refill, shutdown) = (self.refill.clone(), self.shutdown.clone());
        self.tasks.spawn(async move {
            tokio::select! {
                () = session.main().output.grown(0) => refill.notify_one(),
                () = session.stopped() => refill.notify_one(),
                () = session.cancel.cancelled() => refill.notify_one(),
                () = shutdown.cancelled() => {}
            }
        });
    }

    /// The warm pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Takes over a container left by an earlier run of the server (after a crash or restart):
    /// the session keeps its id, files and remaining lifetime, and gets a fresh shell, and stays
    /// bound to the visitor who created it through the owner proof in the container's name.
    /// Returns `None` when the container does not describe a resumable session: no owner proof
    /// (a pooled sandbox no visitor had) included.
    pub async fn adopt(&self, container: &LabelledContainer) -> Option<Arc<Session>> {
        if !crate::ids::is_hash(&container.session) {
            return None;
        }
        let proof = container.owner.clone()?;
        let left = container.expires_at?.checked_sub(spec_epoch_now())?;
        if !container.running || left == 0 || self.live.get(&container.session).is_some() {
            return None;
        }
        let session = Arc::new(Session::new(
            container.session.clone(),
            None,
            None,
            Instant::now() + Duration::from_secs(left),
            self.settings.idle_timeout,
            self.settings.output_buffer_bytes,
            self.shutdown.child_token(),
        ));
        let request = SlotRequest {
            member: session.hash.clone(),
            client: None,
            expires_at_ms: ms_from_now(Duration::from_secs(left)),
            claiming: true,
            replace: None,
        };
        // A restart's own containers were admitted before: their slots are taken again.
        self.store.admit(&request, &self.caps()).await.ok()?.ok()?;
        let lease = self
            .store
            .insert(&session.record(self.sandbox.engine_of(&container.id), &container.id))
            .await
            .ok()?;
        session.set_lease(lease);
        session.set_owner_proof(proof);
        self.live.insert(session.clone());
        self.spawn(session.clone(), Some(container.id.clone()), None);
        Some(session)
    }

    fn spawn(
        &self,
        session: Arc<Session>,
        existing: Option<ContainerId>,
        pool_ttl: Option<Duration>,
    ) {
        session
            .main()
            .start_recording(self.settings.recording_max_bytes);
        let supervisor = Supervisor {
            session,
            sandbox: self.sandbox.clone(),
            live: self.live.clone(),
            store: self.store.clone(),
            grace: self.settings.grace_period,
            lifetime: self.settings.max_lifetime,
            pool_ttl,
            limits: self.limits.clone(),
            abuse: self.settings.abuse.clone(),
            keep_on_shutdown: self.keep_on_shutdown,
            metrics: self.metrics.clone(),
            tasks: self.tasks.clone(),
        };
        let span = supervisor.session.span();
        self.tasks.spawn(tracing::Instrument::instrument(
            supervisor.run(existing),
            span,
        ));
    }

    /// Finds a session this replica streams by the id a browser sent; `None` for unknown,
    /// malformed or ended ids. See [`SessionManager::attach_target`] for sessions another
    /// replica may hold.
    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        let id = SessionId::parse(id)?;
        self.live.get(&id.hash())
    }

    /// Ends the session `id` this replica holds for `client` if no tab has ever attached to it
    /// (one handed out with a page whose tab turned out to have its own): at once, not after
    /// the grace period. A session any tab attached to, another client's, or one held
    /// elsewhere is left alone.
    pub fn release_unattached(&self, id: &str, client: Option<IpAddr>) {
        let session = SessionId::parse(id).and_then(|id| self.live_session_for(&id, client));
        if let Some(session) = session {
            if session.is_claimed() && !session.main().was_attached() {
                session.end_with(EndReason::Abandoned);
            }
        }
    }

    /// Resizes one of a session's terminals.
    pub async fn resize(&self, terminal: &Terminal, size: TermSize) -> Result<(), SandboxError> {
        let Some(shell) = terminal.shell_id() else {
            return Ok(());
        };
        self.sandbox.resize_shell(shell, size).await?;
        terminal.record_resize(size);
        Ok(())
    }

    /// The live session `id` names on this replica, if it is `client`'s: for what only the
    /// replica running it keeps (its recording).
    pub fn live_session_for(&self, id: &SessionId, client: Option<IpAddr>) -> Option<Arc<Session>> {
        self.live
            .get(&id.hash())
            .filter(|session| session.admits(id, client))
    }

    /// The limits every sandbox gets (its home's size, for one).
    pub fn limits(&self) -> &SandboxLimits {
        &self.limits
    }

    /// Runs a code block from the page in the session's shell (see [`run`]); the session's
    /// socket calls it one request at a time.
    pub async fn run(
        &self,
        session: &Session,
        request: &rootresume_protocol::RunRequest,
    ) -> Result<(), run::RunError> {
        let ran = run::run(self.sandbox.as_ref(), session, request).await;
        match &ran {
            Ok(()) => tracing::info!(
                lang = request.lang.as_str(),
                bytes = request.code.len(),
                "ran a block"
            ),
            Err(error) => {
                tracing::info!(lang = request.lang.as_str(), %error, "did not run a block")
            }
        }
        ran
    }

    /// The container of the session `id` names, asked by `client`: this replica's own
    /// session's, or (with a shared store) the one its record names, so any replica can serve
    /// a file from it. `None` for an unknown, ended or someone else's session, or one whose
    /// container is not made yet.
    pub async fn container_for(
        &self,
        id: &SessionId,
        client: Option<IpAddr>,
    ) -> Result<Option<ContainerId>, SessionError> {
        let hash = id.hash();
        if let Some(session) = self.live.get(&hash) {
            return Ok(session
                .admits(id, client)
                .then(|| session.container())
                .flatten());
        }
        if !self.store.is_shared() {
            return Ok(None);
        }
        let Some(record) = self.store.get(&hash).await? else {
            return Ok(None);
        };
        let owned = matches!((&record.client, client), (Some(owner), Some(client)) if *owner == ClientKey::of(client));
        if !owned || record.expires_at_ms <= crate::store::now_ms() || record.container.is_empty() {
            return Ok(None);
        }
        Ok(Some(ContainerId(record.container)))
    }

    /// Checks the visitor's work for challenge `id` with its `script` (see [`check`]).
    pub async fn check(
        &self,
        session: &Session,
        id: &str,
        script: &str,
    ) -> Result<check::Verdict, SandboxError> {
        let verdict = check::check(self.sandbox.as_ref(), session, id, script).await;
        match &verdict {
            Ok(verdict) => tracing::info!(
                challenge = id,
                passed = verdict.passed,
                "checked a challenge"
            ),
            Err(error) => tracing::warn!(challenge = id, %error, "could not check a challenge"),
        }
        verdict
    }

    /// The live or pooled session stored under `hash`, as a container's label names it (the
    /// reaper's question). The pool is asked first: a session handed out moves to the table
    /// before it leaves the pool.
    pub fn find(&self, hash: &str) -> Option<Arc<Session>> {
        self.pool.get(hash).or_else(|| self.live.get(hash))
    }

    /// The session store.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }

    /// The hashes of the sessions (live or pooled) whose shell runs now: the reaper takes this
    /// before it lists containers, so a container it lists as not running counts as dead only
    /// for a session that was already running then (the list may be older than a start).
    pub fn running(&self) -> std::collections::HashSet<String> {
        self.live
            .all()
            .into_iter()
            .chain(self.pool.all())
            .filter(|s| matches!(s.state(), SessionState::Running))
            .map(|s| s.hash.clone())
            .collect()
    }

    /// Whether the session stored under `hash` is live or waits in the pool.
    pub fn is_live(&self, hash: &str) -> bool {
        self.find(hash).is_some()
    }

    /// How long a session waits for its tab to come back.
    pub fn grace_period(&self) -> Duration {
        self.settings.grace_period
    }

    /// The most sessions alive at once (`sessions.max_sessions`).
    pub fn capacity(&self) -> usize {
        self.settings.max_sessions
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    /// How many sessions this replica streams.
    pub fn live_count(&self) -> usize {
        self.live.len()
    }

    /// Ends every session and waits, at most `timeout`, for their containers to be removed.
    ///
    /// Then waits (within the same bound) for the sockets of [`SessionManager::track_socket`]
    /// to say goodbye, so every tab hears why before the process exits.
    pub async fn shutdown(&self, timeout: Duration) -> bool {
        self.shutdown.cancel();
        self.tasks.close();
        self.sockets.close();
        tokio::time::timeout(timeout, async {
            self.tasks.wait().await;
            self.sockets.wait().await;
        })
        .await
        .is_ok()
    }

    /// Runs a browser's socket handler under the manager's watch, so shutdown waits for it.
    pub fn track_socket<F: std::future::Future>(
        &self,
        handler: F,
    ) -> tokio_util::task::task_tracker::TrackedFuture<F> {
        self.sockets.track_future(handler)
    }
}
