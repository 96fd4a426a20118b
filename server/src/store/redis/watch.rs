//! Share links across replicas, on Redis: link keys, the spectator state of a shared terminal
//! (a hash), and two pub/sub channels per shared session. Keys, under `rr:<instance>:`:
//! - `{l:<link hash>}`: `<id hash>|w` (read-only) or `|p` (pair), expiring with the session;
//! - `{<id hash>}:watch` (hash: `cols`, `rows`, `screen`, `viewers` on other replicas);
//! - channels `{<id hash>}:watch-out` (output and events) and `{<id hash>}:watch-in` (pair keys).

use futures_util::StreamExt;
use redis::AsyncCommands;

use super::{unavailable, RedisStore, REQUEST_TIMEOUT};
use crate::store::{MessageStream, StoreError, Topic, WatchState};

fn link_key(store: &RedisStore, link: &str) -> String {
    format!("{}:{{l:{link}}}", store.prefix)
}

fn channel(store: &RedisStore, id_hash: &str, topic: Topic) -> String {
    let part = match topic {
        Topic::Watch => "watch-out",
        Topic::Input => "watch-in",
    };
    store.session_key(id_hash, part)
}

pub(super) async fn put_link(
    store: &RedisStore,
    link: &str,
    id_hash: &str,
    typing: bool,
    expires_at_ms: u64,
) -> Result<(), StoreError> {
    let value = format!("{id_hash}|{}", if typing { 'p' } else { 'w' });
    redis::pipe()
        .set(link_key(store, link), value)
        .ignore()
        .pexpire_at(link_key(store, link), expires_at_ms as i64)
        .ignore()
        .query_async::<()>(&mut store.connection())
        .await
        .map_err(unavailable)
}

pub(super) async fn drop_link(store: &RedisStore, link: &str) -> Result<(), StoreError> {
    store
        .connection()
        .del::<_, ()>(link_key(store, link))
        .await
        .map_err(unavailable)
}

pub(super) async fn find_link(
    store: &RedisStore,
    link: &str,
) -> Result<Option<(String, bool)>, StoreError> {
    let value: Option<String> = store
        .connection()
        .get(link_key(store, link))
        .await
        .map_err(unavailable)?;
    Ok(value.and_then(|value| {
        let (id_hash, kind) = value.split_once('|')?;
        crate::ids::is_hash(id_hash).then(|| (id_hash.to_owned(), kind == "p"))
    }))
}

pub(super) async fn publish(
    store: &RedisStore,
    id_hash: &str,
    topic: Topic,
    message: &[u8],
) -> Result<(), StoreError> {
    store
        .connection()
        .publish::<_, _, ()>(channel(store, id_hash, topic), message)
        .await
        .map_err(unavailable)
}

/// A subscription of its own (a pub/sub connection cannot carry other commands).
pub(super) async fn follow(
    store: &RedisStore,
    id_hash: &str,
    topic: Topic,
) -> Result<MessageStream, StoreError> {
    let subscribe = async {
        let mut pubsub = store.client.get_async_pubsub().await?;
        pubsub.subscribe(channel(store, id_hash, topic)).await?;
        Ok::<_, redis::RedisError>(pubsub)
    };
    let pubsub = tokio::time::timeout(REQUEST_TIMEOUT, subscribe)
        .await
        .map_err(|_| StoreError::Unavailable("Redis did not answer a subscription".into()))?
        .map_err(unavailable)?;
    Ok(Box::pin(
        pubsub
            .into_on_message()
            .map(|message| message.get_payload_bytes().to_vec()),
    ))
}

pub(super) async fn set_watch(
    store: &RedisStore,
    id_hash: &str,
    size: Option<(u16, u16)>,
    screen: Option<&[u8]>,
    expires_at_ms: u64,
) -> Result<(), StoreError> {
    let key = store.session_key(id_hash, "watch");
    let mut pipe = redis::pipe();
    if let Some((cols, rows)) = size {
        pipe.hset(&key, "cols", cols).ignore();
        pipe.hset(&key, "rows", rows).ignore();
    }
    if let Some(screen) = screen {
        pipe.hset(&key, "screen", screen).ignore();
    }
    pipe.pexpire_at(&key, expires_at_ms as i64).ignore();
    pipe.query_async::<()>(&mut store.connection())
        .await
        .map_err(unavailable)
}

/// Counts spectators in (+1), out (-1) or reads their number (0). Only a spectator coming in
/// makes the hash: counting one out after the share ended leaves no key behind.
const ADD_VIEWERS: &str = r"
if ARGV[1] ~= '1' and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local viewers = redis.call('HINCRBY', KEYS[1], 'viewers', ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return viewers
";

pub(super) async fn add_viewers(
    store: &RedisStore,
    id_hash: &str,
    delta: i64,
    expires_at_ms: u64,
) -> Result<i64, StoreError> {
    static SCRIPT: std::sync::LazyLock<redis::Script> =
        std::sync::LazyLock::new(|| redis::Script::new(ADD_VIEWERS));
    SCRIPT
        .key(store.session_key(id_hash, "watch"))
        .arg(delta)
        .arg(expires_at_ms)
        .invoke_async(&mut store.connection())
        .await
        .map_err(unavailable)
}

pub(super) async fn watch_state(
    store: &RedisStore,
    id_hash: &str,
) -> Result<WatchState, StoreError> {
    let (cols, rows, screen): (Option<u16>, Option<u16>, Option<Vec<u8>>) = redis::cmd("HMGET")
        .arg(store.session_key(id_hash, "watch"))
        .arg("cols")
        .arg("rows")
        .arg("screen")
        .query_async(&mut store.connection())
        .await
        .map_err(unavailable)?;
    Ok(WatchState {
        size: cols.zip(rows),
        screen: screen.unwrap_or_default(),
    })
}

pub(super) async fn drop_watch(store: &RedisStore, id_hash: &str) -> Result<(), StoreError> {
    store
        .connection()
        .del::<_, ()>(store.session_key(id_hash, "watch"))
        .await
        .map_err(unavailable)
}
