//! Where live sessions are kept. In memory by default; the trait leaves room for a shared store
//! (Redis, say) when several servers share the load.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use super::session::Session;
use crate::security::ct_eq;

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

/// A session id as a map key. Ids are bearer tokens, so equality is constant-time: the map's
/// hasher is randomly keyed per process, and a guess that lands next to a real id learns nothing
/// from how long the comparison took.
#[derive(Clone, Copy)]
struct Key(Uuid);

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

/// The default store: a map in this process's memory.
#[derive(Default)]
pub struct InMemoryStore {
    sessions: Mutex<HashMap<Key, Arc<Session>>>,
}

impl InMemoryStore {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Arc<Session>>> {
        // Every operation is a single map call, so a poisoned map is still consistent.
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl SessionStore for InMemoryStore {
    fn insert(&self, session: Arc<Session>) {
        self.map().insert(Key(session.id), session);
    }
    fn get(&self, id: &Uuid) -> Option<Arc<Session>> {
        self.map().get(&Key(*id)).cloned()
    }
    fn remove(&self, id: &Uuid) -> bool {
        self.map().remove(&Key(*id)).is_some()
    }
    fn all(&self) -> Vec<Arc<Session>> {
        self.map().values().cloned().collect()
    }
    fn len(&self) -> usize {
        self.map().len()
    }
}
