//! The task that owns one session's container, from creation (or adoption, or the pool) to
//! removal, and the conditions that end a session.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use rootresume_protocol::EndReason;
use tokio::time::Instant;

use super::guard::ContainerGuard;
use super::output::OutputLog;
use super::session::{Session, SessionState};
use super::store::SessionStore;
use crate::sandbox::{ContainerId, ContainerSpec, Sandbox, SandboxError, SandboxLimits, TermSize};
use crate::security::SessionTag;

/// The task that owns one session's container from creation to removal.
pub(super) struct Supervisor {
    pub(super) session: Arc<Session>,
    pub(super) sandbox: Arc<dyn Sandbox>,
    pub(super) store: Arc<dyn SessionStore>,
    pub(super) grace: Duration,
    /// Lifetime written on the container's labels (a pooled one also waits in the pool).
    pub(super) lifetime: Duration,
    /// How long a pooled session may wait unclaimed; `None` for a visitor's session.
    pub(super) pool_ttl: Option<Duration>,
    pub(super) limits: SandboxLimits,
}

impl Supervisor {
    pub(super) async fn run(self, existing: Option<ContainerId>) {
        let id = self.session.id;
        let lifetime = self.lifetime + self.pool_ttl.unwrap_or_default();
        let spec = ContainerSpec::new(&id.to_string(), lifetime, self.limits.clone());
        let create = async {
            match existing {
                Some(container) => Ok(container),
                None => self.sandbox.create(&spec).await,
            }
        };
        // Never cancelled midway: a creation dropped after the engine made the container but
        // before we learn its id would leak it. It is short; cancellation is honoured next.
        let guard = match create.await {
            Ok(container) => ContainerGuard::new(self.sandbox.clone(), container),
            Err(error) => return self.fail(error).await,
        };
        if self.session.cancel.is_cancelled() {
            return self.end(self.session.cancel_reason(), guard).await;
        }
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
        tracing::info!(session = %SessionTag(&id), container = %container.0, "session started");

        let reason = tokio::select! {
            () = pump(shell.output, &self.session.output) => EndReason::ShellExited,
            () = self.session.cancel.cancelled() => self.session.cancel_reason(),
            () = unclaimed(&self.session, self.pool_ttl) => EndReason::Expired,
            () = expired(&self.session) => EndReason::Expired,
            () = idle(&self.session) => EndReason::Idle,
            () = abandoned(&self.session, self.grace) => EndReason::Abandoned,
        };
        tracing::info!(session = %SessionTag(&id), ?reason, "session ended");
        self.end(reason, guard).await;
    }

    /// Records why the session could not start and keeps it findable for the grace period, so
    /// the tab that connects next is told why instead of being told the session is unknown.
    async fn fail(&self, error: SandboxError) {
        tracing::warn!(session = %SessionTag(&self.session.id), %error, "session could not start");
        self.session.set_state(SessionState::Failed(error));
        self.session.output.close();
        tokio::select! {
            () = tokio::time::sleep(self.grace) => {}
            () = self.session.cancel.cancelled() => {}
        }
        self.store.remove(&self.session.id);
    }

    /// Tells attached tabs why the session ended, removes the container, then forgets the
    /// session — only once its container is gone, so the reaper never mistakes a container
    /// being removed for an orphan.
    async fn end(&self, reason: EndReason, guard: ContainerGuard) {
        self.session.set_state(SessionState::Ended(reason));
        self.session.output.close();
        self.remove(guard).await;
        self.store.remove(&self.session.id);
    }

    async fn remove(&self, guard: ContainerGuard) {
        if let Err(error) = guard.shutdown().await {
            tracing::warn!(session = %SessionTag(&self.session.id), %error, "container removal failed; the reaper will retry");
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

/// Completes when a pooled session has waited `ttl` without being handed out, so pooled
/// containers are recycled; never completes for a visitor's session.
async fn unclaimed(session: &Session, ttl: Option<Duration>) {
    let Some(ttl) = ttl else {
        return std::future::pending().await;
    };
    tokio::select! {
        () = tokio::time::sleep(ttl) => {}
        () = session.claimed() => std::future::pending().await,
    }
}

/// Completes when the session reaches its maximum lifetime (which a hand-out may move).
async fn expired(session: &Session) {
    while Instant::now() < session.expires_at() {
        tokio::time::sleep_until(session.expires_at()).await;
    }
}

/// Completes once no input has arrived for the idle timeout, counted from the hand-out.
async fn idle(session: &Session) {
    session.claimed().await;
    while Instant::now() < session.idle_deadline() {
        tokio::time::sleep_until(session.idle_deadline()).await;
    }
}

/// Completes once no browser has been attached for a whole `grace` period.
async fn abandoned(session: &Session, grace: Duration) {
    // A pooled session has no tab yet: the grace period starts at the hand-out.
    session.claimed().await;
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
