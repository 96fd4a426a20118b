//! Sessions: one container and one shell per browser tab, from creation to removal.
//!
//! [`SessionManager::create`] registers a session and spawns its supervisor, which owns the
//! container through a [`ContainerGuard`] and ends the session when the shell exits, the lifetime
//! runs out, no browser is attached for the grace period, or the server shuts down. Whatever the
//! cause, the container is removed on the way out.

mod admission;
mod guard;
mod output;
mod pool;
mod session;
mod store;
mod supervisor;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use rootresume_protocol::EndReason;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

pub use admission::{client_address, RateLimiter};
pub use guard::ContainerGuard;
pub use output::OutputLog;
pub use pool::Pool;
pub use session::{Attachment, Session, SessionState};
pub use store::{InMemoryStore, SessionStore};

use supervisor::Supervisor;

use crate::config::SessionSettings;
use crate::metrics::{Metrics, RejectLabel};
use crate::sandbox::{
    spec_epoch_now, ContainerId, LabelledContainer, Sandbox, SandboxError, SandboxLimits, TermSize,
};

/// Why a session could not be created.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SessionError {
    /// Every session slot is taken.
    #[error("all {max} sandboxes are in use; please try again in a few minutes")]
    AtCapacity {
        /// The configured global cap.
        max: usize,
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
}

/// Creates, finds and ends sessions.
pub struct SessionManager {
    sandbox: Arc<dyn Sandbox>,
    store: Arc<dyn SessionStore>,
    settings: SessionSettings,
    limits: SandboxLimits,
    rate: RateLimiter,
    pool: Pool,
    refill: Notify,
    tasks: TaskTracker,
    /// The browsers' socket handlers, tracked so shutdown can wait for their goodbyes.
    sockets: TaskTracker,
    shutdown: CancellationToken,
    keep_on_shutdown: bool,
    metrics: Arc<Metrics>,
}

impl SessionManager {
    /// A manager handing out containers from `sandbox`.
    pub fn new(
        sandbox: Arc<dyn Sandbox>,
        store: Arc<dyn SessionStore>,
        settings: SessionSettings,
        limits: SandboxLimits,
    ) -> Self {
        Self {
            rate: RateLimiter::new(settings.rate_burst, settings.rate_per_minute),
            pool: Pool::default(),
            refill: Notify::new(),
            sandbox,
            store,
            settings,
            limits,
            tasks: TaskTracker::new(),
            sockets: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            keep_on_shutdown: false,
            metrics: Arc::new(Metrics::new()),
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
    /// in the background. Refuses when the server is full, the client has its share, or the
    /// client creates sessions too fast.
    pub fn create(&self, client: Option<IpAddr>) -> Result<Arc<Session>, SessionError> {
        let created = self.admit(client);
        match &created {
            Ok(_) => {
                self.metrics.sessions_started.inc();
            }
            Err(error) => self.metrics.rejected(match error {
                SessionError::AtCapacity { .. } => RejectLabel::at_capacity,
                SessionError::TooManyForClient { .. } => RejectLabel::per_client,
                SessionError::RateLimited { .. } => RejectLabel::rate_limited,
                SessionError::ShuttingDown => RejectLabel::shutting_down,
            }),
        }
        created
    }

    fn admit(&self, client: Option<IpAddr>) -> Result<Arc<Session>, SessionError> {
        if self.shutdown.is_cancelled() {
            return Err(SessionError::ShuttingDown);
        }
        let live: Vec<Arc<Session>> = self
            .store
            .all()
            .into_iter()
            .filter(|s| !s.is_ending())
            .collect();
        if let Some(client) = client {
            let max = self.settings.max_per_client;
            if live.iter().filter(|s| s.client() == Some(client)).count() >= max {
                return Err(SessionError::TooManyForClient { max });
            }
            self.rate
                .take(client)
                .map_err(|retry_after| SessionError::RateLimited { retry_after })?;
        }
        if let Some(session) = self.pool.take(|session| {
            session.claim(client, self.settings.max_lifetime);
            self.store.insert(session.clone());
        }) {
            self.refill.notify_one();
            return Ok(session);
        }
        if live.len() + self.pool.len() >= self.settings.max_sessions && !self.reclaim_idle(&live) {
            return Err(SessionError::AtCapacity {
                max: self.settings.max_sessions,
            });
        }
        let session = Arc::new(Session::new(
            Uuid::new_v4(),
            client,
            Instant::now() + self.settings.max_lifetime,
            self.settings.idle_timeout,
            self.settings.output_buffer_bytes,
            self.shutdown.child_token(),
        ));
        self.store.insert(session.clone());
        self.spawn(session.clone(), None, None);
        Ok(session)
    }

    /// Keeps the warm pool at its configured size, in the background, until shutdown. The pool
    /// counts toward the global cap, never grows past it, and stops refilling for a while when
    /// its containers fail to start (the engine is unhealthy).
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
                } else {
                    backoff = Duration::from_secs(1);
                    manager.fill_pool();
                }
                tokio::select! {
                    () = manager.shutdown.cancelled() => return,
                    () = manager.refill.notified() => {}
                    () = tokio::time::sleep(backoff) => {}
                }
            }
        });
    }

    fn fill_pool(&self) {
        let live = self.store.all().iter().filter(|s| !s.is_ending()).count();
        let room = self.settings.max_sessions.saturating_sub(live);
        let want = self.settings.pool_size.min(room);
        while self.pool.len() < want && !self.shutdown.is_cancelled() {
            let session = Arc::new(Session::new(
                Uuid::new_v4(),
                None,
                Instant::now() + self.settings.pool_ttl + self.settings.max_lifetime,
                self.settings.idle_timeout,
                self.settings.output_buffer_bytes,
                self.shutdown.child_token(),
            ));
            session.set_pooled();
            self.pool.push(session.clone());
            self.spawn(session, None, Some(self.settings.pool_ttl));
        }
    }

    /// The warm pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Takes over a container left by an earlier run of the server (after a crash or restart):
    /// the session keeps its id, files and remaining lifetime, and gets a fresh shell. Returns
    /// `None` when the container's labels do not describe a resumable session.
    pub fn adopt(&self, container: &LabelledContainer) -> Option<Arc<Session>> {
        let id = Uuid::parse_str(&container.session).ok()?;
        let left = container.expires_at?.checked_sub(spec_epoch_now())?;
        if !container.running || left == 0 || self.store.get(&id).is_some() {
            return None;
        }
        let session = Arc::new(Session::new(
            id,
            None,
            Instant::now() + Duration::from_secs(left),
            self.settings.idle_timeout,
            self.settings.output_buffer_bytes,
            self.shutdown.child_token(),
        ));
        self.store.insert(session.clone());
        self.spawn(session.clone(), Some(container.id.clone()), None);
        Some(session)
    }

    /// Ends the session idle the longest, if one has been idle past the reclaim threshold, to
    /// make room when the server is full. Returns whether a slot is being freed.
    fn reclaim_idle(&self, live: &[Arc<Session>]) -> bool {
        let Some(after) = self.settings.reclaim_idle_after else {
            return false;
        };
        let idlest = live
            .iter()
            .filter(|s| s.idle_for() >= after)
            .max_by_key(|s| s.idle_for());
        match idlest {
            Some(session) => {
                tracing::info!(session = %session.tag(), idle = ?session.idle_for(), "reclaiming an idle session for a new visitor");
                session.end_with(EndReason::Idle);
                true
            }
            None => false,
        }
    }

    fn spawn(
        &self,
        session: Arc<Session>,
        existing: Option<ContainerId>,
        pool_ttl: Option<Duration>,
    ) {
        let supervisor = Supervisor {
            session,
            sandbox: self.sandbox.clone(),
            store: self.store.clone(),
            grace: self.settings.grace_period,
            lifetime: self.settings.max_lifetime,
            pool_ttl,
            limits: self.limits.clone(),
            keep_on_shutdown: self.keep_on_shutdown,
            metrics: self.metrics.clone(),
        };
        let span = supervisor.session.span();
        self.tasks.spawn(tracing::Instrument::instrument(
            supervisor.run(existing),
            span,
        ));
    }

    /// Finds a live session by the id a browser sent; `None` for unknown, malformed or ended ids.
    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        let id = Uuid::parse_str(id).ok()?;
        self.store.get(&id)
    }

    /// Resizes a session's terminal.
    pub async fn resize(&self, session: &Session, size: TermSize) -> Result<(), SandboxError> {
        match session.shell_id() {
            Some(shell) => self.sandbox.resize_shell(shell, size).await,
            None => Ok(()),
        }
    }

    /// The live or pooled session with this id (the reaper's question). The pool is asked
    /// first: a session handed out moves to the table before it leaves the pool.
    pub fn find(&self, id: &str) -> Option<Arc<Session>> {
        let id = Uuid::parse_str(id).ok()?;
        self.pool.get(&id).or_else(|| self.store.get(&id))
    }

    /// Whether a session with this id is live or waits in the pool.
    pub fn is_live(&self, id: &str) -> bool {
        self.find(id).is_some()
    }

    /// The most sessions alive at once (`sessions.max_sessions`).
    pub fn capacity(&self) -> usize {
        self.settings.max_sessions
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    /// How many sessions are live.
    pub fn live_count(&self) -> usize {
        self.store.len()
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
