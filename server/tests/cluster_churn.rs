//! Churn over three replicas on one real Redis: 300 sessions, each created through one replica
//! and attached through the next (so every one is taken over), each ending with `exit`. Nothing
//! is left: no container, no session key. Prints the Redis commands each session cost.
//! Alone in its own test binary so its load does not slow other tests' timeouts.

mod common;

use std::sync::Arc;

use anyhow::{ensure, Context, Result};
use common::redis::{InstanceCleanup, TestRedis};
use common::{labelled_in, test_config, TestServer};
use tokio::task::JoinSet;

/// Sessions in the churn (ROOTRESUME_CLUSTER_CHURN_SESSIONS overrides).
const DEFAULT_SESSIONS: usize = 300;
/// Sessions in flight at once.
const CONCURRENCY: usize = 12;

/// Every command Redis has executed so far.
async fn commands(redis: &TestRedis) -> Result<u64> {
    let mut connection = redis.connection().await?;
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query_async(&mut connection)
        .await?;
    info.lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:"))
        .and_then(|n| n.trim().parse().ok())
        .context("no total_commands_processed in INFO")
}

/// Which replica a session is attached through: the next one after the one that created it
/// (a takeover each), or with ROOTRESUME_CLUSTER_CHURN_HOP=0 the same one (no takeover).
fn hop() -> usize {
    std::env::var("ROOTRESUME_CLUSTER_CHURN_HOP")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

async fn one_session(servers: &[TestServer], n: usize) -> Result<()> {
    let id = servers[n % 3].create_session().await?;
    let mut term = servers[(n + hop()) % 3].connect(&id).await?;
    term.started().await?;
    term.exit_at_prompt()
        .await
        .with_context(|| format!("session #{n}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_sessions_over_three_replicas_leave_nothing() -> Result<()> {
    let count = std::env::var("ROOTRESUME_CLUSTER_CHURN_SESSIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_SESSIONS);
    let redis = TestRedis::start().await?;
    let instance = format!("test-{}", uuid::Uuid::new_v4().simple());
    let _cleanup = InstanceCleanup(instance.clone());
    let mut servers = Vec::new();
    for name in ["a", "b", "c"] {
        let mut config = test_config();
        config.instance = instance.clone();
        config.store.redis_url = redis.url();
        config.store.replica = name.into();
        servers.push(TestServer::start(config).await?);
    }
    let servers = Arc::new(servers);
    let before = commands(&redis).await?;
    let started = std::time::Instant::now();
    let mut running = JoinSet::new();
    for n in 0..count {
        if running.len() == CONCURRENCY {
            running.join_next().await.context("a session task")???;
        }
        let servers = servers.clone();
        running.spawn(async move { one_session(&servers, n).await });
    }
    while let Some(result) = running.join_next().await {
        result??;
    }
    let elapsed = started.elapsed();
    let used = commands(&redis).await? - before;
    // Heartbeats run per replica whatever the sessions do: not theirs.
    let heartbeats = 3 * (elapsed.as_millis() / server::store::HEARTBEAT_EVERY.as_millis()) as u64;
    eprintln!(
        "cluster churn: {count} sessions ({} takeover each) in {elapsed:.1?}; Redis commands \
         {used} in all, {:.1} per session after {heartbeats} heartbeats",
        hop().min(1),
        (used.saturating_sub(heartbeats)) as f64 / count as f64
    );

    let servers = Arc::try_unwrap(servers).map_err(|_| anyhow::anyhow!("servers still shared"))?;
    for server in servers {
        server.server.shutdown().await;
    }
    let left = labelled_in(&instance).await?;
    ensure!(left.is_empty(), "{} containers left", left.len());
    let keys = redis.session_keys(&instance).await?;
    ensure!(keys.is_empty(), "session keys left: {keys:?}");
    redis.clean(&instance).await
}
