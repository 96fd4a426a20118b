//! The shared store on Redis (`store.redis_url`), for several replicas behind a load balancer.
//!
//! Keys, all under `rr:<instance>:`, one hash tag per session so a Redis Cluster keeps a
//! session's keys in one slot, each expiring with its session:
//! - `{<idhash>}:rec` (hash: client, container, created, expires), `{<idhash>}:lease`
//!   (`replica|generation`), `{<idhash>}:screen` (recent output for a takeover to replay);
//! - `{adm}:live` (sorted set: slot → lapse time), `{adm}:c:<client>` (the client's slots),
//!   `{adm}:r:<client>` (the client's token bucket), `{adm}:queue` and `{adm}:queue-seen`
//!   (visitors waiting for a slot: arrival and last time asked);
//! - `{r:<replica>}:alive` (heartbeat, [`HEARTBEAT_TTL`]) and `{r:<replica>}:letgo` (sessions
//!   other replicas asked it to let go of);
//! - `{s:<name>}` (singleton leases, e.g. one engine sweep at a time);
//! - share links and spectators on other replicas: see the `watch` module.
//!
//! Every compare-then-act is a Lua script, so it is atomic on the server.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

use super::{
    now_ms, Caps, ClientKey, Heartbeat, Lease, MessageStream, Refusal, SessionRecord, SessionStore,
    SlotRequest, StoreError, Topic, WatchState, HEARTBEAT_TTL, QUEUE_KEEP,
};

mod watch;

/// How long one Redis request may take before the store counts as unavailable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Slots, records and leases in Redis.
pub struct RedisStore {
    replica: String,
    prefix: String,
    /// For connections of their own (pub/sub subscriptions).
    client: redis::Client,
    connection: ConnectionManager,
    scripts: Scripts,
}

struct Scripts {
    admit: Script,
    release_slot: Script,
    insert: Script,
    update: Script,
    take_lease: Script,
    release_lease: Script,
    finish: Script,
    save_screen: Script,
    heartbeat: Script,
    restore: Script,
    reslot: Script,
}

/// Frees expired slots and forgets queued visitors who stopped asking, then checks every cap
/// before changing anything: the client's count, the global count and the queue (unless the
/// slot is already held), then the client's rate. Only when all pass is a token spent and the
/// slot taken. Returns {0} admitted, {1} per client, {2, place in line} full, {3, ms} rate
/// limited.
const ADMIT: &str = r"
local live, mine, rate, queue, seen = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local member, lapses, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local max, per, burst, per_min = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local replace, claiming, has_client = ARGV[8], ARGV[9] == '1', ARGV[10] == '1'
local client, keep = ARGV[11], tonumber(ARGV[12])
redis.call('ZREMRANGEBYSCORE', live, '-inf', now)
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', seen, '-inf', now - keep)) do
  redis.call('ZREM', queue, gone)
  redis.call('ZREM', seen, gone)
end
if replace ~= '' then redis.call('ZREM', live, replace) end
if has_client then
  redis.call('ZREMRANGEBYSCORE', mine, '-inf', now)
  if redis.call('ZCARD', mine) >= per then return {1, 0} end
end
if not claiming then
  local free = max - redis.call('ZCARD', live)
  local waiting = redis.call('ZCARD', queue)
  if not has_client then
    if free <= 0 or waiting > 0 then return {2, 0} end
  else
    local rank = redis.call('ZRANK', queue, client)
    if free <= 0 or (rank == false and waiting >= free) or (rank ~= false and rank >= free) then
      if rank == false then
        redis.call('ZADD', queue, now, client)
        rank = waiting
      end
      redis.call('ZADD', seen, now, client)
      redis.call('PEXPIRE', queue, keep)
      redis.call('PEXPIRE', seen, keep)
      return {2, rank + 1}
    end
  end
end
if has_client then
  local every = 60000 / per_min
  local bucket = redis.call('HMGET', rate, 't', 'at')
  local tokens = tonumber(bucket[1]) or burst
  local at = tonumber(bucket[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - at) / every)
  if tokens < 1 then return {3, math.ceil((1 - tokens) * every)} end
  redis.call('HSET', rate, 't', tostring(tokens - 1), 'at', tostring(now))
  redis.call('PEXPIRE', rate, math.ceil(burst * every) + 1000)
  redis.call('ZREM', queue, client)
  redis.call('ZREM', seen, client)
  redis.call('ZADD', mine, lapses, member)
  local last = redis.call('ZRANGE', mine, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', mine, math.floor(tonumber(last[2])))
end
redis.call('ZADD', live, lapses, member)
local last = redis.call('ZRANGE', live, -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', live, math.floor(tonumber(last[2])))
return {0, 0}
";

const RELEASE_SLOT: &str = r"
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
";

/// Writes the record and a first lease, both expiring with the session.
const INSERT: &str = r"
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'client', ARGV[1], 'container', ARGV[2], 'created', ARGV[3], 'expires', ARGV[4], 'engine', ARGV[6], 'idle', ARGV[7])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
redis.call('SET', KEYS[2], ARGV[5], 'PXAT', ARGV[4])
return 1
";

/// Rewrites the record if the lease is still ARGV[5].
const UPDATE: &str = r"
if redis.call('GET', KEYS[2]) ~= ARGV[5] then return 0 end
redis.call('HSET', KEYS[1], 'client', ARGV[1], 'container', ARGV[2], 'created', ARGV[3], 'expires', ARGV[4], 'engine', ARGV[6], 'idle', ARGV[7])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
redis.call('PEXPIREAT', KEYS[2], ARGV[4])
return 1
";

/// Sets the lease to ARGV[2] if it is still ARGV[1] ('' for none) and the record exists.
const TAKE_LEASE: &str = r"
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] or redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
return 1
";

const RELEASE_LEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
";

/// Deletes lease, record and screen unless another replica holds the lease (a lease that is
/// gone altogether, as after Redis lost its data, leaves the container to its last holder).
const FINISH: &str = r"
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return 1
";

const SAVE_SCREEN: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PXAT', ARGV[3])
return 1
";

/// Renews the heartbeat and hands over (and clears) the requests to let go; the first element
/// says whether the heartbeat had lapsed ('1') or was current ('0').
const HEARTBEAT: &str = r"
local current = redis.call('EXISTS', KEYS[1])
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
local asked = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
table.insert(asked, 1, current == 1 and '0' or '1')
return asked
";

/// Writes a record and its lease back if the record is missing.
const RESTORE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'client', ARGV[1], 'container', ARGV[2], 'created', ARGV[3], 'expires', ARGV[4], 'engine', ARGV[6], 'idle', ARGV[7])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
redis.call('SET', KEYS[2], ARGV[5], 'NX', 'PXAT', ARGV[4])
return 1
";

/// Puts a slot back (and the client's count) if it is missing.
const RESLOT: &str = r"
redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
if ARGV[3] == '1' then redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[1]) end
return 1
";

impl RedisStore {
    /// A store on the Redis at `url` for the deployment `instance`, as replica `replica`.
    /// Nothing is sent until the first operation: the server starts while Redis is down and
    /// the connection manager reconnects by itself when it returns.
    pub fn new(url: &str, instance: &str, replica: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| {
            StoreError::Unavailable(format!("store.redis_url is not a Redis URL: {e}"))
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REQUEST_TIMEOUT))
            .set_response_timeout(Some(REQUEST_TIMEOUT))
            .set_number_of_retries(2);
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Self {
            replica: replica.to_owned(),
            prefix: format!("rr:{instance}"),
            client,
            connection,
            scripts: Scripts {
                admit: Script::new(ADMIT),
                release_slot: Script::new(RELEASE_SLOT),
                insert: Script::new(INSERT),
                update: Script::new(UPDATE),
                take_lease: Script::new(TAKE_LEASE),
                release_lease: Script::new(RELEASE_LEASE),
                finish: Script::new(FINISH),
                save_screen: Script::new(SAVE_SCREEN),
                heartbeat: Script::new(HEARTBEAT),
                restore: Script::new(RESTORE),
                reslot: Script::new(RESLOT),
            },
        })
    }

    fn session_key(&self, id_hash: &str, part: &str) -> String {
        format!("{}:{{{id_hash}}}:{part}", self.prefix)
    }

    fn admission_key(&self, part: &str) -> String {
        format!("{}:{{adm}}:{part}", self.prefix)
    }

    fn replica_key(&self, replica: &str, part: &str) -> String {
        format!("{}:{{r:{replica}}}:{part}", self.prefix)
    }

    fn connection(&self) -> ConnectionManager {
        // A handle onto the one multiplexed connection: cloning is cheap.
        self.connection.clone()
    }

    /// Runs one of the record scripts (insert, update, restore), which all take the record's
    /// and the lease's keys, then: client, container, created, expires, lease, engine, idle.
    async fn write_record(
        &self,
        script: &Script,
        record: &SessionRecord,
        lease: &Lease,
    ) -> Result<i32, StoreError> {
        script
            .key(self.session_key(&record.id_hash, "rec"))
            .key(self.session_key(&record.id_hash, "lease"))
            .arg(record.client.as_ref().map(ClientKey::as_str).unwrap_or(""))
            .arg(&record.container)
            .arg(record.created_at_ms)
            .arg(record.expires_at_ms)
            .arg(lease.encode())
            .arg(record.engine.as_str())
            .arg(record.idle_at_ms)
            .invoke_async(&mut self.connection())
            .await
            .map_err(unavailable)
    }
}

fn unavailable(error: redis::RedisError) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

#[async_trait]
impl SessionStore for RedisStore {
    fn replica(&self) -> &str {
        &self.replica
    }

    fn is_shared(&self) -> bool {
        true
    }

    async fn admit(
        &self,
        request: &SlotRequest,
        caps: &Caps,
    ) -> Result<Result<(), Refusal>, StoreError> {
        let client = request
            .client
            .as_ref()
            .map(ClientKey::as_str)
            .unwrap_or("-");
        let (code, wait_ms): (u8, u64) = self
            .scripts
            .admit
            .key(self.admission_key("live"))
            .key(self.admission_key(&format!("c:{client}")))
            .key(self.admission_key(&format!("r:{client}")))
            .key(self.admission_key("queue"))
            .key(self.admission_key("queue-seen"))
            .arg(&request.member)
            .arg(request.expires_at_ms)
            .arg(now_ms())
            .arg(caps.max_sessions)
            .arg(caps.max_per_client)
            .arg(caps.rate_burst)
            .arg(caps.rate_per_minute)
            .arg(request.replace.as_deref().unwrap_or(""))
            .arg(if request.claiming { "1" } else { "0" })
            .arg(if request.client.is_some() { "1" } else { "0" })
            .arg(client)
            .arg(u64::try_from(QUEUE_KEEP.as_millis()).unwrap_or(30_000))
            .invoke_async(&mut self.connection())
            .await
            .map_err(unavailable)?;
        Ok(match code {
            0 => Ok(()),
            1 => Err(Refusal::PerClient),
            2 => Err(Refusal::AtCapacity {
                position: usize::try_from(wait_ms).ok().filter(|p| *p > 0),
            }),
            _ => Err(Refusal::Rate(Duration::from_millis(wait_ms))),
        })
    }

    async fn release_slot(
        &self,
        member: &str,
        client: Option<&ClientKey>,
    ) -> Result<(), StoreError> {
        let client = client.map(ClientKey::as_str).unwrap_or("-");
        let _: i32 = self
            .scripts
            .release_slot
            .key(self.admission_key("live"))
            .key(self.admission_key(&format!("c:{client}")))
            .arg(member)
            .invoke_async(&mut self.connection())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn slots_taken(&self) -> Result<usize, StoreError> {
        let live = self.admission_key("live");
        let mut connection = self.connection();
        let now = now_ms();
        let count: usize = connection
            .zcount(&live, format!("({now}"), "+inf")
            .await
            .map_err(unavailable)?;
        Ok(count)
    }

    async fn insert(&self, record: &SessionRecord) -> Result<Lease, StoreError> {
        let lease = Lease {
            replica: self.replica.clone(),
            generation: 1,
        };
        let _: i32 = self
            .write_record(&self.scripts.insert, record, &lease)
            .await?;
        Ok(lease)
    }

    async fn update(&self, record: &SessionRecord, lease: &Lease) -> Result<bool, StoreError> {
        let done = self
            .write_record(&self.scripts.update, record, lease)
            .await?;
        Ok(done == 1)
    }

    async fn get(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let fields: std::collections::HashMap<String, String> = self
            .connection()
            .hgetall(self.session_key(id_hash, "rec"))
            .await
            .map_err(unavailable)?;
        let number = |name: &str| fields.get(name).and_then(|v| v.parse::<u64>().ok());
        let (Some(created), Some(expires)) = (number("created"), number("expires")) else {
            return Ok(None);
        };
        Ok(Some(SessionRecord {
            id_hash: id_hash.to_owned(),
            client: fields
                .get("client")
                .filter(|c| !c.is_empty())
                .map(|c| ClientKey::from_stored(c)),
            container: fields.get("container").cloned().unwrap_or_default(),
            engine: crate::ids::EngineId::new(fields.get("engine").map_or("", String::as_str)),
            idle_at_ms: number("idle").unwrap_or(expires),
            created_at_ms: created,
            expires_at_ms: expires,
        }))
    }

    async fn lease(&self, id_hash: &str) -> Result<Option<Lease>, StoreError> {
        let lease: Option<String> = self
            .connection()
            .get(self.session_key(id_hash, "lease"))
            .await
            .map_err(unavailable)?;
        Ok(lease.as_deref().and_then(Lease::decode))
    }

    async fn take_lease(
        &self,
        id_hash: &str,
        holder: Option<&Lease>,
        expires_at_ms: u64,
    ) -> Result<Option<Lease>, StoreError> {
        let lease = Lease {
            replica: self.replica.clone(),
            generation: holder.map_or(1, |h| h.generation + 1),
        };
        let taken: i32 = self
            .scripts
            .take_lease
            .key(self.session_key(id_hash, "lease"))
            .key(self.session_key(id_hash, "rec"))
            .arg(holder.map(Lease::encode).unwrap_or_default())
            .arg(lease.encode())
            .arg(expires_at_ms)
            .invoke_async(&mut self.connection())
            .await
            .map_err(unavailable)?;
        Ok((taken == 1).then_some(lease))
    }

    async fn release_lease(&self, id_hash: &str, lease: &Lease) -> Result<(), StoreError> {
        let _: i32 = self
            .scripts
            .release_lease
            .key(self.session_key(id_hash, "lease"))
            .arg(lease.encode())
            .invoke_async(&mut self.connection())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn finish(&self, id_hash: &str, lease: &Lease) -> Result<bool, StoreError> {
        let done: i32 = self
            .scripts
            .finish
            .key(self.session_key(id_hash, "lease"))
            .key(self.session_key(id_hash, "rec"))
            .key(self.session_key(id_hash, "screen"))
            .arg(lease.encode())
            .invoke_async(&mut self.connection())
            .await
            .map_err(unavailable)?;
        Ok(done == 1)
    }

    async fn save_screen(
        &self,
        id_hash: &str,
        lease: &Lease,
        screen: &[u8],
        expires_at_ms: u64,
    ) -> Result<bool, StoreError> {
        let done: i32 = self
            .scripts
            .save_screen
            .key(self.session_key(id_hash, "lease"))
            .key(self.session_key(id_hash, "screen"))
            .arg(lease.encode())
            .arg(screen)
            .arg(expires_at_ms)
            .invoke_async(&mut self.connection())
            .await
            .map_err(unavailable)?;
        Ok(done == 1)
    }

    async fn load_screen(&self, id_hash: &str) -> Result<Vec<u8>, StoreError> {
        let screen: Option<Vec<u8>> = self
            .connection()
            .get(self.session_key(id_hash, "screen"))
            .await
            .map_err(unavailable)?;
        Ok(screen.unwrap_or_default())
    }

    async fn heartbeat(&self) -> Result<Heartbeat, StoreError> {
        let mut answer: Vec<String> = self
            .scripts
            .heartbeat
            .key(self.replica_key(&self.replica, "alive"))
            .key(self.replica_key(&self.replica, "letgo"))
            .arg(u64::try_from(HEARTBEAT_TTL.as_millis()).unwrap_or(3000))
            .invoke_async(&mut self.connection())
            .await
            .map_err(unavailable)?;
        let lapsed = !answer.is_empty() && answer.remove(0) == "1";
        Ok(Heartbeat {
            let_go: answer,
            lapsed,
        })
    }

    async fn restore(&self, record: &SessionRecord, lease: &Lease) -> Result<(), StoreError> {
        let _: i32 = self
            .write_record(&self.scripts.restore, record, lease)
            .await?;
        let client = record.client.as_ref().map(ClientKey::as_str);
        let _: i32 = self
            .scripts
            .reslot
            .key(self.admission_key("live"))
            .key(self.admission_key(&format!("c:{}", client.unwrap_or("-"))))
            .arg(&record.id_hash)
            .arg(record.expires_at_ms)
            .arg(if client.is_some() { "1" } else { "0" })
            .invoke_async(&mut self.connection())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn is_alive(&self, replica: &str) -> Result<bool, StoreError> {
        self.connection()
            .exists(self.replica_key(replica, "alive"))
            .await
            .map_err(unavailable)
    }

    async fn ask_to_let_go(&self, replica: &str, id_hash: &str) -> Result<(), StoreError> {
        let key = self.replica_key(replica, "letgo");
        let mut connection = self.connection();
        let _: () = redis::pipe()
            .rpush(&key, id_hash)
            .ignore()
            .pexpire(&key, 60_000)
            .ignore()
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn try_singleton(&self, name: &str, ttl: Duration) -> Result<bool, StoreError> {
        let key = format!("{}:{{s:{name}}}", self.prefix);
        let options = redis::SetOptions::default()
            .conditional_set(redis::ExistenceCheck::NX)
            .with_expiration(redis::SetExpiry::PX(
                u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
            ));
        let set: Option<String> = self
            .connection()
            .set_options(&key, &self.replica, options)
            .await
            .map_err(unavailable)?;
        Ok(set.is_some())
    }

    async fn check(&self) -> Result<(), StoreError> {
        let _: String = redis::cmd("PING")
            .query_async(&mut self.connection())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn put_link(
        &self,
        link: &str,
        id_hash: &str,
        typing: bool,
        expires_at_ms: u64,
    ) -> Result<(), StoreError> {
        watch::put_link(self, link, id_hash, typing, expires_at_ms).await
    }

    async fn drop_link(&self, link: &str) -> Result<(), StoreError> {
        watch::drop_link(self, link).await
    }

    async fn find_link(&self, link: &str) -> Result<Option<(String, bool)>, StoreError> {
        watch::find_link(self, link).await
    }

    async fn publish(&self, id_hash: &str, topic: Topic, message: &[u8]) -> Result<(), StoreError> {
        watch::publish(self, id_hash, topic, message).await
    }

    async fn follow(&self, id_hash: &str, topic: Topic) -> Result<MessageStream, StoreError> {
        watch::follow(self, id_hash, topic).await
    }

    async fn set_watch(
        &self,
        id_hash: &str,
        size: Option<(u16, u16)>,
        screen: Option<&[u8]>,
        expires_at_ms: u64,
    ) -> Result<(), StoreError> {
        watch::set_watch(self, id_hash, size, screen, expires_at_ms).await
    }

    async fn add_viewers(
        &self,
        id_hash: &str,
        delta: i64,
        expires_at_ms: u64,
    ) -> Result<i64, StoreError> {
        watch::add_viewers(self, id_hash, delta, expires_at_ms).await
    }

    async fn watch_state(&self, id_hash: &str) -> Result<WatchState, StoreError> {
        watch::watch_state(self, id_hash).await
    }

    async fn drop_watch(&self, id_hash: &str) -> Result<(), StoreError> {
        watch::drop_watch(self, id_hash).await
    }
}
