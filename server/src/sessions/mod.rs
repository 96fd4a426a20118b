//! Sessions: one container and one shell per browser tab, from creation to removal.
//!
//! [`SessionManager::create`] registers a session and spawns its supervisor, which owns the
//! container through a [`ContainerGuard`] and ends the session when the shell exits, the lifetime
//! runs out, no browser is attached for the grace period, or the server shuts down. Whatever the
//! cause, the container is removed on the way out.

mod admission;
mod guard;
mod output;
mod session;
mod store;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use rootresume_protocol::EndReason;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

pub use admission::{client_address, RateLimiter};
pub use guard::ContainerGuard;
pub use output::OutputLog;
pub use session::{Attachment, Session, SessionState};
pub use store::{InMemoryStore, SessionStore};

use crate::config::SessionSettings;
use crate::sandbox::{
    spec_epoch_now, ContainerId, ContainerSpec, LabelledContainer, Sandbox, SandboxError,
    SandboxLimits, TermSize,
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
    tasks: TaskTracker,
    shutdown: CancellationToken,
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
            sandbox,
            store,
            settings,
            limits,
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
        }
    }

    /// The sandbox backend, for health checks and the reaper.
    pub fn sandbox(&self) -> &Arc<dyn Sandbox> {
        &self.sandbox
    }

    /// Starts a new session for `client` (its address, when known); the container is created
    /// in the background. Refuses when the server is full, the client has its share, or the
    /// client creates sessions too fast.
    pub fn create(&self, client: Option<IpAddr>) -> Result<Arc<Session>, SessionError> {
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
            if live.iter().filter(|s| s.client == Some(client)).count() >= max {
                return Err(SessionError::TooManyForClient { max });
            }
            self.rate
                .take(client)
                .map_err(|retry_after| SessionError::RateLimited { retry_after })?;
        }
        if live.len() >= self.settings.max_sessions && !self.reclaim_idle(&live) {
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
        self.spawn(session.clone(), None);
        Ok(session)
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
        self.spawn(session.clone(), Some(container.id.clone()));
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
                tracing::info!(session = %session.id, idle = ?session.idle_for(), "reclaiming an idle session for a new visitor");
                session.end_with(EndReason::Idle);
                true
            }
            None => false,
        }
    }

    fn spawn(&self, session: Arc<Session>, existing: Option<ContainerId>) {
        self.store.insert(session.clone());
        let supervisor = Supervisor {
            session,
            sandbox: self.sandbox.clone(),
            store: self.store.clone(),
            grace: self.settings.grace_period,
            lifetime: self.settings.max_lifetime,
            limits: self.limits.clone(),
        };
        self.tasks.spawn(supervisor.run(existing));
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

    /// Whether a session with this id is live (the reaper's question).
    pub fn is_live(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    /// How many sessions are live.
    pub fn live_count(&self) -> usize {
        self.store.len()
    }

    /// Ends every session and waits, at most `timeout`, for their containers to be removed.
    pub async fn shutdown(&self, timeout: Duration) -> bool {
        self.shutdown.cancel();
        self.tasks.close();
        tokio::time::timeout(timeout, self.tasks.wait())
            .await
            .is_ok()
    }
}

/// The task that owns one session's container from creation to removal.
struct Supervisor {
    session: Arc<Session>,
    sandbox: Arc<dyn Sandbox>,
    store: Arc<dyn SessionStore>,
    grace: Duration,
    lifetime: Duration,
    limits: SandboxLimits,
}

impl Supervisor {
    async fn run(self, existing: Option<ContainerId>) {
        let id = self.session.id;
        let spec = ContainerSpec::new(&id.to_string(), self.lifetime, self.limits.clone());
        let create = async {
            match existing {
                Some(container) => Ok(container),
                None => self.sandbox.create(&spec).await,
            }
        };
        let created = tokio::select! {
            created = create => created,
            () = self.session.cancel.cancelled() => {
                self.finish(self.session.cancel_reason());
                return;
            }
        };
        let guard = match created {
            Ok(container) => ContainerGuard::new(self.sandbox.clone(), container),
            Err(error) => return self.fail(error).await,
        };
        let Some(container) = guard.id().cloned() else {
            return;
        };
        let shell = match self
            .sandbox
            .open_shell(&container, TermSize::default())
            .await
        {
            Ok(shell) => shell,
            Err(error) => {
                self.remove(guard).await;
                return self.fail(error).await;
            }
        };
        self.session.set_shell(shell.id, shell.input).await;
        self.session.set_state(SessionState::Running);
        tracing::info!(session = %id, container = %container.0, "session started");

        let reason = tokio::select! {
            () = pump(shell.output, &self.session.output) => EndReason::ShellExited,
            () = self.session.cancel.cancelled() => self.session.cancel_reason(),
            () = expired(&self.session) => EndReason::Expired,
            () = idle(&self.session) => EndReason::Idle,
            () = abandoned(&self.session, self.grace) => EndReason::Abandoned,
        };
        tracing::info!(session = %id, ?reason, "session ended");
        self.session.set_state(SessionState::Ended(reason));
        self.session.output.close();
        // Forget the session only once its container is gone, so the reaper never mistakes a
        // container being removed for an orphan.
        self.remove(guard).await;
        self.store.remove(&id);
    }

    /// Records why the session could not start and keeps it findable for the grace period, so
    /// the tab that connects next is told why instead of being told the session is unknown.
    async fn fail(&self, error: SandboxError) {
        tracing::warn!(session = %self.session.id, %error, "session could not start");
        self.session.set_state(SessionState::Failed(error));
        self.session.output.close();
        tokio::select! {
            () = tokio::time::sleep(self.grace) => {}
            () = self.session.cancel.cancelled() => {}
        }
        self.store.remove(&self.session.id);
    }

    fn finish(&self, reason: EndReason) {
        self.store.remove(&self.session.id);
        self.session.set_state(SessionState::Ended(reason));
        self.session.output.close();
    }

    async fn remove(&self, guard: ContainerGuard) {
        if let Err(error) = guard.shutdown().await {
            tracing::warn!(session = %self.session.id, %error, "container removal failed; the reaper will retry");
        }
    }
}

/// Copies the shell's output into the session's log until the shell exits.
async fn pump(mut output: BoxStream<'static, Result<Bytes, SandboxError>>, log: &OutputLog) {
    while let Some(chunk) = output.next().await {
        match chunk {
            Ok(bytes) => log.push(&bytes).await,
            Err(error) => {
                tracing::warn!(%error, "shell output stream failed");
                return;
            }
        }
    }
}

/// Completes when the session reaches its maximum lifetime (which a hand-out may move).
async fn expired(session: &Session) {
    while Instant::now() < session.expires_at() {
        tokio::time::sleep_until(session.expires_at()).await;
    }
}

/// Completes once no input has arrived for the idle timeout.
async fn idle(session: &Session) {
    while Instant::now() < session.idle_deadline() {
        tokio::time::sleep_until(session.idle_deadline()).await;
    }
}

/// Completes once no browser has been attached for a whole `grace` period.
async fn abandoned(session: &Session, grace: Duration) {
    let mut owner = session.owner();
    loop {
        if *owner.borrow_and_update() == 0 {
            tokio::select! {
                () = tokio::time::sleep(grace) => return,
                changed = owner.changed() => if changed.is_err() { return },
            }
        } else if owner.changed().await.is_err() {
            return;
        }
    }
}
