//! Removes containers that no live session owns: left by a crash, by an earlier run, or by a
//! session whose removal failed. Between sweeps, [`watch`] ends a session as soon as the engine
//! reports its container stopped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::sandbox::{spec_epoch_now, LabelledContainer};
use crate::sessions::SessionManager;
use crate::store::Lease;

/// Sessions of other replicas whose holder was found dead, by id hash: the lease seen and when.
/// A later sweep ends one whose lease is unchanged after the grace period (no tab came back to
/// take it over), so a replica's death leaks nothing.
#[derive(Default)]
pub struct Orphans {
    seen: Mutex<HashMap<String, (Option<Lease>, Instant)>>,
}

impl Orphans {
    /// Whether the session `hash`, whose lease is `lease`, has been an orphan (holder dead, lease
    /// unchanged) for at least `grace`; starts or resets its clock otherwise.
    fn due(&self, hash: &str, lease: Option<&Lease>, holder_alive: bool, grace: Duration) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if holder_alive {
            seen.remove(hash);
            return false;
        }
        match seen.get(hash) {
            Some((first, at)) if first.as_ref() == lease => {
                if at.elapsed() < grace {
                    return false;
                }
                seen.remove(hash);
                true
            }
            _ => {
                seen.insert(hash.to_owned(), (lease.cloned(), Instant::now()));
                false
            }
        }
    }
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sweep {
    /// Labelled containers found.
    pub found: usize,
    /// Containers removed.
    pub removed: usize,
}

/// Removes every labelled container that is not owned by a live session, is expired, or has
/// stopped. With a shared store, one replica sweeps an engine at a time, a container whose
/// session another replica holds is left alone, and one whose holder died is removed once no tab
/// has taken it over for the grace period.
pub async fn sweep(sessions: &SessionManager) -> Result<Sweep, crate::sandbox::SandboxError> {
    sweep_with(sessions, &Orphans::default(), Duration::from_secs(60)).await
}

/// [`sweep`], remembering orphans across sweeps in `orphans`; `interval` is the time between
/// sweeps (the sweep's lease lasts a little less).
pub async fn sweep_with(
    sessions: &SessionManager,
    orphans: &Orphans,
    interval: Duration,
) -> Result<Sweep, crate::sandbox::SandboxError> {
    let store = sessions.store();
    if store.is_shared() {
        // One sweep per engine at a time, whichever replica runs it.
        let lease = format!("sweep:{}", sessions.sandbox().engine());
        match store.try_singleton(&lease, interval.mul_f32(0.9)).await {
            Ok(true) => {}
            Ok(false) => return Ok(Sweep::default()),
            Err(error) => {
                // Without the store no one can tell whose a container is: remove nothing.
                tracing::debug!(%error, "store unavailable; sweep skipped");
                return Ok(Sweep::default());
            }
        }
    }
    let sandbox = sessions.sandbox();
    let running_before = sessions.running();
    let containers = sandbox.list().await?;
    let now = spec_epoch_now();
    let mut result = Sweep {
        found: containers.len(),
        removed: 0,
    };
    for container in containers {
        let expired = container.expires_at.is_some_and(|at| at <= now);
        let owner = sessions.find(&container.session);
        // A container is listed between its creation and its start, and the list may be older
        // than its session's start: not running is a sign of death only for a session that was
        // running before the list was taken.
        let stopped = !container.running
            && owner
                .as_ref()
                .is_none_or(|s| running_before.contains(&s.hash));
        if owner.is_none()
            && store.is_shared()
            && !expired
            && !ends_orphan(sessions, orphans, &container).await
        {
            continue;
        }
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

/// Whether a container no session of this replica owns should go, asking the shared store:
/// not while its record exists and its holder lives or a takeover may still come.
async fn ends_orphan(
    sessions: &SessionManager,
    orphans: &Orphans,
    container: &LabelledContainer,
) -> bool {
    if !crate::ids::is_hash(&container.session) {
        return true;
    }
    let hash = &container.session;
    let store = sessions.store();
    let record = match store.get(hash).await {
        Ok(record) => record,
        Err(_) => return false,
    };
    if record.is_none() {
        return true;
    }
    let Ok(lease) = store.lease(hash).await else {
        return false;
    };
    let holder_alive = match &lease {
        Some(lease) => store.is_alive(&lease.replica).await.unwrap_or(true),
        None => false,
    };
    if !orphans.due(hash, lease.as_ref(), holder_alive, sessions.grace_period()) {
        return false;
    }
    // Take the lease before ending, so a takeover that came in between wins instead.
    let expires = record.map_or(0, |r| r.expires_at_ms);
    match store.take_lease(hash, lease.as_ref(), expires).await {
        Ok(Some(mine)) => {
            let _ = store.finish(hash, &mine).await;
            let _ = store.release_slot(hash, None).await;
            tracing::info!(container = %container.id.0, "removing a session whose server died and whose tab never came back");
            true
        }
        _ => false,
    }
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
    if sessions.store().is_shared() {
        // Other replicas' sessions are on the engine too: the sweeps sort them out, never a
        // replica that just started.
        return Ok(result);
    }
    for container in sessions.sandbox().list().await? {
        if sessions.is_live(&container.session) {
            continue;
        }
        if adopt && sessions.adopt(&container).await.is_some() {
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
    let orphans = Orphans::default();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let started = SystemTime::now();
        // A sweep stuck on a slow engine must not hold shutdown up.
        let swept = tokio::select! {
            () = stop.cancelled() => return,
            swept = sweep_with(&sessions, &orphans, interval) => swept,
        };
        match swept {
            Ok(sweep) if sweep.removed > 0 => {
                tracing::info!(?sweep, elapsed = ?started.elapsed().unwrap_or_default(), "reaper removed containers")
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "reaper sweep failed"),
        }
    }
}

/// Why a session whose container stopped ended: the shell is the container's process, so an
/// exit code below 128 is the shell exiting by itself (`exit`, Ctrl-D); a signal's code, or
/// none, means the container was killed (out of memory, a crashed gVisor sandbox, by hand).
fn stop_reason(exit_code: Option<i64>) -> rootresume_protocol::EndReason {
    match exit_code {
        Some(code) if (0..128).contains(&code) => rootresume_protocol::EndReason::ShellExited,
        _ => rootresume_protocol::EndReason::ContainerGone,
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
                                tracing::info!(container = %container.id.0, exit_code = ?container.exit_code, "container stopped under a live session");
                                session.end_with(stop_reason(container.exit_code));
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
