//! The warm pool: sessions whose container and shell are already running, handed to visitors
//! on demand so that time to prompt is an attach, not a container start.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use super::live::LiveTable;
use super::session::{Session, SessionState};

/// Ready (or starting) sessions no visitor has yet.
#[derive(Default)]
pub struct Pool {
    waiting: Mutex<VecDeque<Arc<Session>>>,
}

impl Pool {
    fn list(&self) -> MutexGuard<'_, VecDeque<Arc<Session>>> {
        // Every update is one push or retain, so a poisoned list is still consistent.
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a session that is starting for the pool.
    pub fn push(&self, session: Arc<Session>) {
        self.list().push_back(session);
    }

    /// Takes the session that has waited longest, preferring one whose prompt is out, and
    /// puts it in `live`. Each pooled session is handed out once: taking it happens under the
    /// pool's lock; and it enters `live` before it leaves the pool, so the reaper, which asks the
    /// pool and then the table, always finds it.
    pub fn take_into(&self, live: &LiveTable) -> Option<Arc<Session>> {
        let mut list = self.list();
        list.retain(|s| !s.is_ending());
        let index = list
            .iter()
            .position(|s| s.is_ready())
            .or_else(|| {
                list.iter()
                    .position(|s| matches!(s.state(), SessionState::Running))
            })
            .or(if list.is_empty() { None } else { Some(0) })?;
        if let Some(session) = list.get(index) {
            live.insert(session.clone());
        }
        list.remove(index)
    }

    /// Puts back a session [`Pool::take_into`] took (its visitor was refused): into the pool
    /// first, then out of `live`, so it is never in neither.
    pub fn put_back(&self, session: Arc<Session>, live: &LiveTable) {
        self.push(session.clone());
        live.remove(&session);
    }

    /// Drops sessions that ended or failed; returns how many had failed to start (a sign the
    /// engine is unhealthy).
    pub fn prune(&self) -> usize {
        let mut list = self.list();
        let failed = list
            .iter()
            .filter(|s| matches!(s.state(), SessionState::Failed(_)))
            .count();
        list.retain(|s| !s.is_ending());
        failed
    }

    /// Ends the sessions beyond `target` that have waited longer than `older_than`, longest
    /// waiting first; returns how many. They leave the pool at its next [`Pool::prune`], once
    /// they are ending.
    pub fn shed(&self, target: usize, older_than: std::time::Duration) -> usize {
        let list = self.list();
        let live = list.iter().filter(|s| !s.is_ending()).count();
        let surplus = list
            .iter()
            .filter(|s| !s.is_ending() && s.requested_at().elapsed() > older_than)
            .take(live.saturating_sub(target))
            .cloned()
            .collect::<Vec<_>>();
        drop(list);
        for session in &surplus {
            session.end_with(rootresume_protocol::EndReason::Expired);
        }
        surplus.len()
    }

    /// Every session waiting, starting ones included.
    pub fn all(&self) -> Vec<Arc<Session>> {
        self.list().iter().cloned().collect()
    }

    /// Sessions waiting, starting ones included.
    pub fn len(&self) -> usize {
        self.list().len()
    }

    /// Whether no session is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sessions waiting whose shell runs and has printed its prompt.
    pub fn ready(&self) -> usize {
        self.list().iter().filter(|s| s.is_ready()).count()
    }

    /// Sessions waiting whose container or shell is still starting.
    pub fn starting(&self) -> usize {
        self.list()
            .iter()
            .filter(|s| !s.is_ready() && !s.is_ending())
            .count()
    }

    /// The session stored under `hash`, if it waits in the pool.
    pub fn get(&self, hash: &str) -> Option<Arc<Session>> {
        self.list().iter().find(|s| s.hash == hash).cloned()
    }
}
