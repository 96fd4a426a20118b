//! Removes containers that no live session owns: left by a crash, by an earlier run, or by a
//! session whose removal failed. Between sweeps, [`watch`] ends a session as soon as the engine
//! reports its container stopped.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::sandbox::spec_epoch_now;
use crate::sessions::{SessionManager, SessionState};

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sweep {
    /// Labelled containers found.
    pub found: usize,
    /// Containers removed.
    pub removed: usize,
}

/// Removes every labelled container that is not owned by a live session, is expired, or has
/// stopped.
pub async fn sweep(sessions: &SessionManager) -> Result<Sweep, crate::sandbox::SandboxError> {
    let sandbox = sessions.sandbox();
    let containers = sandbox.list().await?;
    let now = spec_epoch_now();
    let mut result = Sweep {
        found: containers.len(),
        removed: 0,
    };
    for container in containers {
        let expired = container.expires_at.is_some_and(|at| at <= now);
        let owner = sessions.find(&container.session);
        // A container is listed between its creation and its start: not running is a sign of
        // death only once its session has started.
        let starting = owner
            .as_ref()
            .is_some_and(|s| matches!(s.state(), SessionState::Starting));
        let stopped = !container.running && !starting;
        if expired || stopped || owner.is_none() {
            if let Some(session) = owner {
                // The supervisor owns this container: ask it to end, so the tab is told why.
                session.end_with(rootresume_protocol::EndReason::ContainerGone);
            }
            match sandbox.remove(&container.id).await {
                Ok(()) => {
                    result.removed += 1;
                    sessions.metrics().reaper_removed.inc();
                }
                Err(error) => {
                    tracing::warn!(container = %container.id.0, %error, "reaper could not remove a container")
                }
            }
        }
    }
    Ok(result)
}

/// What the start-up reconcile did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reconcile {
    /// Containers taken over as sessions, so their tabs can reattach.
    pub adopted: usize,
    /// Containers removed: expired, stopped, unlabelled for a session, or adoption disabled.
    pub removed: usize,
}

/// Before serving: adopts the containers an earlier run left that can still be resumed (when
/// `adopt` is set) and removes all others, so nothing leaks across restarts or crashes.
pub async fn reconcile(
    sessions: &SessionManager,
    adopt: bool,
) -> Result<Reconcile, crate::sandbox::SandboxError> {
    let mut result = Reconcile::default();
    for container in sessions.sandbox().list().await? {
        if sessions.is_live(&container.session) {
            continue;
        }
        if adopt && sessions.adopt(&container).is_some() {
            result.adopted += 1;
            continue;
        }
        match sessions.sandbox().remove(&container.id).await {
            Ok(()) => {
                result.removed += 1;
                sessions.metrics().reaper_removed.inc();
            }
            Err(error) => {
                tracing::warn!(container = %container.id.0, %error, "could not remove a container left by an earlier run")
            }
        }
    }
    Ok(result)
}

/// Sweeps every `interval` until `stop` is cancelled.
pub async fn run(sessions: Arc<SessionManager>, interval: Duration, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let started = SystemTime::now();
        match sweep(&sessions).await {
            Ok(sweep) if sweep.removed > 0 => {
                tracing::info!(?sweep, elapsed = ?started.elapsed().unwrap_or_default(), "reaper removed containers")
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "reaper sweep failed"),
        }
    }
}

/// Longest wait before watching the engine's events again after the stream failed.
const WATCH_RETRY_MAX: Duration = Duration::from_secs(30);

/// Ends the session of each container the engine reports stopped, with `ContainerGone`, so its
/// tab is told at once; the container itself is then removed by the session's supervisor. Runs
/// until `stop` is cancelled, watching again (with backoff) whenever the engine's stream breaks;
/// the sweeps of [`run`] cover whatever happens while it is not watching.
pub async fn watch(sessions: Arc<SessionManager>, stop: CancellationToken) {
    let mut retry = Duration::from_secs(1);
    loop {
        match sessions.sandbox().stopped().await {
            Ok(mut stopped) => loop {
                let next = tokio::select! {
                    () = stop.cancelled() => return,
                    next = stopped.next() => next,
                };
                match next {
                    Some(Ok(container)) => {
                        retry = Duration::from_secs(1);
                        if let Some(session) = sessions.find(&container.session) {
                            // Also reported when a session's own removal stops its container;
                            // asking an ending session to end again changes nothing.
                            if !session.is_ending() {
                                tracing::info!(container = %container.id.0, "container stopped under a live session");
                                session.end_with(rootresume_protocol::EndReason::ContainerGone);
                            }
                        }
                    }
                    Some(Err(error)) => {
                        tracing::warn!(%error, "watching containers failed; the reaper's sweeps still run");
                        break;
                    }
                    None => break,
                }
            },
            Err(error) => {
                tracing::debug!(%error, "cannot watch containers yet; the reaper's sweeps still run")
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(retry) => {}
        }
        retry = (retry * 2).min(WATCH_RETRY_MAX);
    }
}
