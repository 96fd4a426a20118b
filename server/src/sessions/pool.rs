//! The warm pool: sessions whose container and shell are already running, handed to visitors
//! on demand so that time to prompt is an attach, not a container start.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::ids::SessionId;

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

    /// Takes the session that has waited longest, preferring one whose shell already runs. Each
    /// pooled session is handed out once: taking it happens under the pool's lock.
    pub fn take(&self) -> Option<Arc<Session>> {
        let mut list = self.list();
        list.retain(|s| !s.is_ending());
        let index = list
            .iter()
            .position(|s| matches!(s.state(), SessionState::Running))
            .or(if list.is_empty() { None } else { Some(0) })?;
        list.remove(index)
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

    /// Sessions waiting, starting ones included.
    pub fn len(&self) -> usize {
        self.list().len()
    }

    /// Whether no session is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sessions waiting whose shell already runs.
    pub fn ready(&self) -> usize {
        self.list()
            .iter()
            .filter(|s| matches!(s.state(), SessionState::Running))
            .count()
    }

    /// The session with this id, if it waits in the pool.
    pub fn get(&self, id: &SessionId) -> Option<Arc<Session>> {
        self.list().iter().find(|s| s.id == *id).cloned()
    }
}
