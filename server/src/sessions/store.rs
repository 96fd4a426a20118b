//! Where live sessions are kept. In memory by default; the trait leaves room for a shared store
//! (Redis, say) when several servers share the load.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use super::session::Session;

/// A table of live sessions by id.
pub trait SessionStore: Send + Sync + 'static {
    /// Adds a session.
    fn insert(&self, session: Arc<Session>);
    /// Finds a live session.
    fn get(&self, id: &Uuid) -> Option<Arc<Session>>;
    /// Forgets a session; returns whether it was there.
    fn remove(&self, id: &Uuid) -> bool;
    /// Every live session.
    fn all(&self) -> Vec<Arc<Session>>;
    /// How many sessions are live.
    fn len(&self) -> usize;
    /// Whether no session is live.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The default store: a map in this process's memory.
#[derive(Default)]
pub struct InMemoryStore {
    sessions: Mutex<HashMap<Uuid, Arc<Session>>>,
}

impl InMemoryStore {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Arc<Session>>> {
        // Every operation is a single map call, so a poisoned map is still consistent.
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl SessionStore for InMemoryStore {
    fn insert(&self, session: Arc<Session>) {
        self.map().insert(session.id, session);
    }
    fn get(&self, id: &Uuid) -> Option<Arc<Session>> {
        self.map().get(id).cloned()
    }
    fn remove(&self, id: &Uuid) -> bool {
        self.map().remove(id).is_some()
    }
    fn all(&self) -> Vec<Arc<Session>> {
        self.map().values().cloned().collect()
    }
    fn len(&self) -> usize {
        self.map().len()
    }
}
