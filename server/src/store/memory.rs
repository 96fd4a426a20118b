//! The default store: everything in this process, for one server with no other service.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;

use super::rate::RateLimiter;
use super::{
    now_ms, Caps, ClientKey, Heartbeat, Lease, Refusal, SessionRecord, SessionStore, SlotRequest,
    StoreError, QUEUE_KEEP,
};

/// Sessions, slots and leases in this process's memory. One lock: every operation is a short
/// update of this one state, so admission is atomic like the Redis script.
pub struct MemoryStore {
    replica: String,
    state: Mutex<State>,
    rate: Mutex<Option<RateLimiter>>,
}

#[derive(Default)]
struct State {
    /// Taken slots by member: when each lapses (ms since the epoch) and whose it is.
    slots: HashMap<String, (u64, Option<ClientKey>)>,
    /// Records by id hash.
    records: HashMap<String, SessionRecord>,
    /// Leases by id hash.
    leases: HashMap<String, Lease>,
    /// Visitors waiting for a slot, first come first: the client and when it last asked.
    queue: Vec<(ClientKey, u64)>,
    /// Singleton leases by name: when each lapses.
    singletons: HashMap<String, tokio::time::Instant>,
}

impl MemoryStore {
    /// An empty store for the replica `replica`.
    pub fn new(replica: &str) -> Self {
        Self {
            replica: replica.to_owned(),
            state: Mutex::new(State::default()),
            rate: Mutex::new(None),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every update below is a handful of map operations that cannot panic midway.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new("local")
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    fn replica(&self) -> &str {
        &self.replica
    }

    fn is_shared(&self) -> bool {
        false
    }

    async fn admit(
        &self,
        request: &SlotRequest,
        caps: &Caps,
    ) -> Result<Result<(), Refusal>, StoreError> {
        let mut state = self.state();
        let now = now_ms();
        state.slots.retain(|_, (lapses, _)| *lapses > now);
        if let Some(replace) = &request.replace {
            state.slots.remove(replace);
        }
        if let Some(client) = &request.client {
            let mine = state
                .slots
                .values()
                .filter(|(_, owner)| owner.as_ref() == Some(client))
                .count();
            if mine >= caps.max_per_client {
                return Ok(Err(Refusal::PerClient));
            }
        }
        let keep = u64::try_from(QUEUE_KEEP.as_millis()).unwrap_or(30_000);
        state
            .queue
            .retain(|(_, asked)| now.saturating_sub(*asked) < keep);
        if !request.claiming {
            let free = caps.max_sessions.saturating_sub(state.slots.len());
            let waiting = state.queue.len();
            match &request.client {
                None if free == 0 || waiting > 0 => {
                    return Ok(Err(Refusal::AtCapacity { position: None }));
                }
                None => {}
                Some(client) => {
                    let rank = state.queue.iter().position(|(c, _)| c == client);
                    let behind = rank.map_or(waiting >= free, |rank| rank >= free);
                    if free == 0 || behind {
                        let rank = match rank {
                            Some(rank) => {
                                state.queue[rank].1 = now;
                                rank
                            }
                            None => {
                                state.queue.push((client.clone(), now));
                                waiting
                            }
                        };
                        return Ok(Err(Refusal::AtCapacity {
                            position: Some(rank + 1),
                        }));
                    }
                }
            }
        }
        if let Some(client) = &request.client {
            let mut rate = self.rate.lock().unwrap_or_else(|p| p.into_inner());
            let limiter =
                rate.get_or_insert_with(|| RateLimiter::new(caps.rate_burst, caps.rate_per_minute));
            if let Err(wait) = limiter.take(client) {
                return Ok(Err(Refusal::Rate(wait)));
            }
        }
        if let Some(client) = &request.client {
            state.queue.retain(|(c, _)| c != client);
        }
        state.slots.insert(
            request.member.clone(),
            (request.expires_at_ms, request.client.clone()),
        );
        Ok(Ok(()))
    }

    async fn release_slot(&self, member: &str, _: Option<&ClientKey>) -> Result<(), StoreError> {
        self.state().slots.remove(member);
        Ok(())
    }

    async fn slots_taken(&self) -> Result<usize, StoreError> {
        let mut state = self.state();
        let now = now_ms();
        state.slots.retain(|_, (lapses, _)| *lapses > now);
        Ok(state.slots.len())
    }

    async fn insert(&self, record: &SessionRecord) -> Result<Lease, StoreError> {
        let lease = Lease {
            replica: self.replica.clone(),
            generation: 1,
        };
        let mut state = self.state();
        state.records.insert(record.id_hash.clone(), record.clone());
        state.leases.insert(record.id_hash.clone(), lease.clone());
        Ok(lease)
    }

    async fn update(&self, record: &SessionRecord, lease: &Lease) -> Result<bool, StoreError> {
        let mut state = self.state();
        if state.leases.get(&record.id_hash) != Some(lease) {
            return Ok(false);
        }
        state.records.insert(record.id_hash.clone(), record.clone());
        Ok(true)
    }

    async fn get(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.state().records.get(id_hash).cloned())
    }

    async fn lease(&self, id_hash: &str) -> Result<Option<Lease>, StoreError> {
        Ok(self.state().leases.get(id_hash).cloned())
    }

    async fn take_lease(
        &self,
        id_hash: &str,
        holder: Option<&Lease>,
        _: u64,
    ) -> Result<Option<Lease>, StoreError> {
        let mut state = self.state();
        if state.leases.get(id_hash) != holder || !state.records.contains_key(id_hash) {
            return Ok(None);
        }
        let lease = Lease {
            replica: self.replica.clone(),
            generation: holder.map_or(1, |h| h.generation + 1),
        };
        state.leases.insert(id_hash.to_owned(), lease.clone());
        Ok(Some(lease))
    }

    async fn release_lease(&self, id_hash: &str, lease: &Lease) -> Result<(), StoreError> {
        let mut state = self.state();
        if state.leases.get(id_hash) == Some(lease) {
            state.leases.remove(id_hash);
        }
        Ok(())
    }

    async fn finish(&self, id_hash: &str, lease: &Lease) -> Result<bool, StoreError> {
        let mut state = self.state();
        if state
            .leases
            .get(id_hash)
            .is_some_and(|current| current != lease)
        {
            return Ok(false);
        }
        state.leases.remove(id_hash);
        state.records.remove(id_hash);
        Ok(true)
    }

    async fn save_screen(
        &self,
        id_hash: &str,
        lease: &Lease,
        _: &[u8],
        _: u64,
    ) -> Result<bool, StoreError> {
        // The one process keeps the screen in the session's own output ring.
        Ok(self.state().leases.get(id_hash) == Some(lease))
    }

    async fn load_screen(&self, _: &str) -> Result<Vec<u8>, StoreError> {
        Ok(Vec::new())
    }

    async fn heartbeat(&self) -> Result<Heartbeat, StoreError> {
        Ok(Heartbeat::default())
    }

    async fn restore(&self, _: &SessionRecord, _: &Lease) -> Result<(), StoreError> {
        // This process's memory is never lost while the process lives.
        Ok(())
    }

    async fn is_alive(&self, replica: &str) -> Result<bool, StoreError> {
        Ok(replica == self.replica)
    }

    async fn ask_to_let_go(&self, _: &str, _: &str) -> Result<(), StoreError> {
        Ok(())
    }

    async fn try_singleton(&self, name: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = tokio::time::Instant::now();
        let mut state = self.state();
        match state.singletons.get(name) {
            Some(until) if *until > now => Ok(false),
            _ => {
                state.singletons.insert(name.to_owned(), now + ttl);
                Ok(true)
            }
        }
    }

    async fn check(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ms_from_now;

    fn caps() -> Caps {
        Caps {
            max_sessions: 2,
            max_per_client: 1,
            rate_burst: 5,
            rate_per_minute: 10,
        }
    }

    fn request(member: &str, client: Option<&str>) -> SlotRequest {
        SlotRequest {
            member: member.into(),
            client: client.map(ClientKey::from_stored),
            expires_at_ms: ms_from_now(Duration::from_secs(60)),
            claiming: false,
            replace: None,
        }
    }

    #[tokio::test]
    async fn admission_refuses_without_spending_and_frees_on_release() {
        let store = MemoryStore::default();
        let caps = caps();
        assert_eq!(
            store.admit(&request("a", Some("c1")), &caps).await.unwrap(),
            Ok(())
        );
        assert_eq!(
            store.admit(&request("b", Some("c1")), &caps).await.unwrap(),
            Err(Refusal::PerClient)
        );
        assert_eq!(
            store.admit(&request("p", None), &caps).await.unwrap(),
            Ok(())
        );
        assert_eq!(
            store.admit(&request("c", Some("c2")), &caps).await.unwrap(),
            Err(Refusal::AtCapacity { position: Some(1) })
        );
        // A second visitor queues behind the first; the pool takes no slot they wait for.
        assert_eq!(
            store.admit(&request("e", Some("c4")), &caps).await.unwrap(),
            Err(Refusal::AtCapacity { position: Some(2) })
        );
        // Handing out the pooled slot needs no free slot.
        let mut claim = request("p", Some("c2"));
        claim.claiming = true;
        assert_eq!(store.admit(&claim, &caps).await.unwrap(), Ok(()));
        assert_eq!(store.slots_taken().await.unwrap(), 2);
        store.release_slot("a", None).await.unwrap();
        // c2 left the line with the pooled sandbox: the freed slot is c4's, not a newcomer's.
        assert_eq!(
            store.admit(&request("d", Some("c3")), &caps).await.unwrap(),
            Err(Refusal::AtCapacity { position: Some(2) })
        );
        assert_eq!(
            store.admit(&request("e", Some("c4")), &caps).await.unwrap(),
            Ok(())
        );
        assert_eq!(
            store.admit(&request("p2", None), &caps).await.unwrap(),
            Err(Refusal::AtCapacity { position: None }),
            "the pool takes no slot while visitors wait"
        );
    }

    #[tokio::test]
    async fn a_stale_lease_cannot_finish_or_take() {
        let store = MemoryStore::new("r1");
        let record = SessionRecord {
            id_hash: "h".into(),
            client: None,
            container: "c".into(),
            engine: crate::ids::EngineId::new("default"),
            created_at_ms: 0,
            expires_at_ms: u64::MAX,
            idle_at_ms: u64::MAX,
        };
        let first = store.insert(&record).await.unwrap();
        let second = store
            .take_lease("h", Some(&first), u64::MAX)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second.generation, 2);
        assert!(store
            .take_lease("h", Some(&first), u64::MAX)
            .await
            .unwrap()
            .is_none());
        assert!(
            !store.finish("h", &first).await.unwrap(),
            "a stale lease must not end it"
        );
        assert!(store.finish("h", &second).await.unwrap());
        assert!(store.get("h").await.unwrap().is_none());
    }
}
