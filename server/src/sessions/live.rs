//! The sessions this replica streams, by the hash of their id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::session::Session;

/// The live sessions of this replica: the ones whose shell it attaches to and whose lease it
/// holds. Keyed by [`crate::ids::SessionId::hash`], so neither a lookup's timing nor a heap dump
/// compares the bearer ids themselves.
#[derive(Default)]
pub struct LiveTable {
    sessions: Mutex<HashMap<String, Arc<Session>>>,
}

impl LiveTable {
    fn map(&self) -> MutexGuard<'_, HashMap<String, Arc<Session>>> {
        // Every operation is a single map call, so a poisoned map is still consistent.
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a session, unless one with the same hash is there; returns the one in the table.
    pub fn insert(&self, session: Arc<Session>) -> Arc<Session> {
        self.map()
            .entry(session.hash.clone())
            .or_insert(session)
            .clone()
    }

    /// The session with this id hash.
    pub fn get(&self, hash: &str) -> Option<Arc<Session>> {
        self.map().get(hash).cloned()
    }

    /// Forgets `session`, if it is the one under its hash; returns whether it was.
    pub fn remove(&self, session: &Session) -> bool {
        let mut map = self.map();
        let same = map
            .get(&session.hash)
            .is_some_and(|s| std::ptr::eq(Arc::as_ptr(s), session));
        if same {
            map.remove(&session.hash);
        }
        same
    }

    /// Every live session.
    pub fn all(&self) -> Vec<Arc<Session>> {
        self.map().values().cloned().collect()
    }

    /// How many sessions are live here.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// Whether no session is live here.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
