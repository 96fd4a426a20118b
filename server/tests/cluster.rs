//! Several replicas on one real Redis and one real engine: a tab moves between replicas with
//! its shell (same processes, files and screen), caps hold cluster-wide, a replica started
//! later removes nothing, and nothing is left in Redis or on the engine afterwards.

mod common;

use std::time::Duration;

use anyhow::{ensure, Result};
use common::redis::{InstanceCleanup, TestRedis};
use common::{labelled, labelled_in, test_config, wait_removed, TestServer};
use server::config::Config;

/// A replica's settings: one instance and one Redis shared by all, its own name.
fn replica(instance: &str, redis: &TestRedis, name: &str) -> Config {
    let mut config = test_config();
    config.instance = instance.to_owned();
    config.store.redis_url = redis.url();
    config.store.replica = name.to_owned();
    config
}

/// Three replicas (a, b, c) of `instance`, each with the settings `tweak` gives.
async fn three(
    instance: &str,
    redis: &TestRedis,
    tweak: impl Fn(&mut Config),
) -> Result<Vec<TestServer>> {
    let mut servers = Vec::new();
    for name in ["a", "b", "c"] {
        let mut config = replica(instance, redis, name);
        tweak(&mut config);
        servers.push(TestServer::start(config).await?);
    }
    Ok(servers)
}

fn instance() -> String {
    format!("test-{}", uuid::Uuid::new_v4().simple())
}

/// Shuts the replicas down and checks nothing of the instance is left, then removes the keys
/// that lapse by themselves (heartbeats, rate buckets).
async fn finish(servers: Vec<TestServer>, redis: &TestRedis, instance: &str) -> Result<()> {
    for server in servers {
        server.server.shutdown().await;
    }
    let left = labelled_in(instance).await?;
    ensure!(left.is_empty(), "containers left: {left:?}");
    let keys = redis.session_keys(instance).await?;
    ensure!(keys.is_empty(), "session keys left in Redis: {keys:?}");
    redis.clean(instance).await
}

#[tokio::test]
async fn a_tab_moves_between_replicas_with_its_running_shell() -> Result<()> {
    let redis = TestRedis::start().await?;
    let instance = instance();
    let _cleanup = InstanceCleanup(instance.clone());
    let a = TestServer::start(replica(&instance, &redis, "a")).await?;
    let b = TestServer::start(replica(&instance, &redis, "b")).await?;

    let id = a.create_session().await?;
    let mut term = a.connect(&id).await?;
    term.started().await?;
    term.run("echo kept > f.txt; sleep 1000 & :").await?;
    // The record names the engine and the container, never the id (a bearer token).
    let mut redis_conn = redis.connection().await?;
    let mut seen_records = 0;
    for key in redis.keys(&instance).await? {
        ensure!(!key.contains(&id), "a key holds the session id: {key}");
        if key.ends_with(":rec") {
            let fields: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
                .arg(&key)
                .query_async(&mut redis_conn)
                .await?;
            ensure!(fields.values().all(|v| !v.contains(&id)), "{fields:?}");
            ensure!(!fields["engine"].is_empty() && !fields["container"].is_empty());
            seen_records += 1;
        }
    }
    ensure!(seen_records == 1, "{seen_records} records for one session");
    let shell = term.run("echo $$").await?;
    term.type_text("echo on-screen-before\n").await?;
    term.wait_for(0, "on-screen-before\r\n", Duration::from_secs(10))
        .await?;
    drop(term);

    // The tab comes back through the other replica: same shell process, same files, its
    // background job still running, the recent screen replayed.
    let mut moved = b.connect(&id).await?;
    let (session, resumed) = moved.started().await?;
    ensure!(
        session == id && resumed,
        "expected the same session, resumed"
    );
    moved
        .wait_for(0, "on-screen-before", Duration::from_secs(10))
        .await?;
    ensure!(
        moved.run("echo $$").await? == shell,
        "a new shell was started"
    );
    ensure!(moved.run("cat f.txt").await? == "kept");
    ensure!(moved.run("pgrep -c -f 'sleep 1000'").await? == "1");
    ensure!(
        labelled(Some(&id)).await?.len() == 1,
        "one container, not two"
    );

    // And back, while b still holds it: b is asked to let go, and does.
    let mut back = a.connect(&id).await?;
    back.started().await?;
    ensure!(back.run("echo $$").await? == shell);
    drop(back);
    drop(moved);

    finish(vec![a, b], &redis, &instance).await?;
    wait_removed(&id, Duration::from_secs(5)).await?;
    Ok(())
}

#[tokio::test]
async fn caps_hold_across_replicas_and_concurrent_creates() -> Result<()> {
    let redis = TestRedis::start().await?;
    let instance = instance();
    let _cleanup = InstanceCleanup(instance.clone());
    let servers = three(&instance, &redis, |config| {
        config.sessions.max_sessions = 6;
        config.sessions.reclaim_idle_after = None;
    })
    .await?;
    // Twelve visitors at once, four per replica: exactly six get in.
    let attempts = (0..12).map(|i| servers[i % 3].try_create_as("198.51.100.1"));
    let results = futures_util::future::join_all(attempts).await;
    let admitted = results.iter().filter(|r| matches!(r, Ok((200, _)))).count();
    ensure!(
        admitted == 6,
        "admitted {admitted} of 12 with max_sessions = 6: {results:?}"
    );
    for server in &servers {
        let (status, body) = server.try_create_as("198.51.100.2").await?;
        ensure!(status == 503, "a 7th session was admitted: {status} {body}");
    }
    finish(servers, &redis, &instance).await
}

#[tokio::test]
async fn per_client_cap_and_rate_hold_across_replicas() -> Result<()> {
    let redis = TestRedis::start().await?;
    let instance = instance();
    let _cleanup = InstanceCleanup(instance.clone());
    let servers = three(&instance, &redis, |config| {
        config.sessions.max_per_client = 2;
        config.sessions.rate_burst = 3;
        config.sessions.trusted_proxy_header = "x-forwarded-for".into();
    })
    .await?;
    ensure!(servers[0].try_create_as("203.0.113.1").await?.0 == 200);
    ensure!(servers[1].try_create_as("203.0.113.1").await?.0 == 200);
    let (status, body) = servers[2].try_create_as("203.0.113.1").await?;
    ensure!(
        status == 429 && body.contains("2 sandboxes"),
        "{status} {body}"
    );
    // Another address of the same IPv6 /64 is the same client.
    ensure!(servers[0].try_create_as("2001:db8:5:6::1").await?.0 == 200);
    ensure!(servers[1].try_create_as("2001:db8:5:6::2").await?.0 == 200);
    let (status, _) = servers[2].try_create_as("2001:db8:5:6:ffff::3").await?;
    ensure!(status == 429, "a /64 counts as one client");
    finish(servers, &redis, &instance).await
}

#[tokio::test]
async fn a_replica_started_later_removes_none_of_the_others_containers() -> Result<()> {
    let redis = TestRedis::start().await?;
    let instance = instance();
    let _cleanup = InstanceCleanup(instance.clone());
    let a = TestServer::start(replica(&instance, &redis, "a")).await?;
    let id = a.create_session().await?;
    let mut term = a.connect(&id).await?;
    term.started().await?;

    let mut config = replica(&instance, &redis, "late");
    config.reaper.reconcile_on_start = true;
    let late = TestServer::start(config).await?;
    let sweep = server::reaper::sweep(late.server.sessions()).await?;
    ensure!(sweep.removed == 0, "{sweep:?}");
    ensure!(
        labelled(Some(&id)).await?.len() == 1,
        "the late replica removed a live container"
    );
    ensure!(term.run("echo still-here").await? == "still-here");
    drop(term);
    finish(vec![a, late], &redis, &instance).await
}

#[tokio::test]
async fn redis_down_keeps_shells_and_refuses_new_sessions_clearly() -> Result<()> {
    let mut redis = TestRedis::start().await?;
    let instance = instance();
    let _cleanup = InstanceCleanup(instance.clone());
    let a = TestServer::start(replica(&instance, &redis, "a")).await?;
    let id = a.create_session().await?;
    let mut term = a.connect(&id).await?;
    term.started().await?;

    redis.stop();
    ensure!(term.run("echo alive-without-redis").await? == "alive-without-redis");
    let (status, body) = a.try_create_as("192.0.2.1").await?;
    ensure!(
        status == 503 && body.contains("session store"),
        "{status} {body}"
    );

    let redis = TestRedis::start_on(redis.port).await?;
    let mut admitted = false;
    for _ in 0..50 {
        if a.try_create_as("192.0.2.1").await?.0 == 200 {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ensure!(admitted, "no new session after Redis came back");
    ensure!(term.run("echo still-attached").await? == "still-attached");

    // Redis came back empty: the replica writes its session back, so another replica's sweep
    // does not take the container for an orphan.
    let mut restored = false;
    for _ in 0..50 {
        let keys = redis.session_keys(&instance).await?;
        if keys.iter().filter(|k| k.ends_with(":rec")).count() == 2 {
            restored = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ensure!(restored, "the first session's record was not written back");
    let b = TestServer::start(replica(&instance, &redis, "b")).await?;
    let sweep = server::reaper::sweep(b.server.sessions()).await?;
    ensure!(sweep.removed == 0, "{sweep:?}");
    ensure!(labelled(Some(&id)).await?.len() == 1);
    ensure!(term.run("echo survived-the-sweep").await? == "survived-the-sweep");
    drop(term);
    finish(vec![a, b], &redis, &instance).await
}

#[tokio::test]
async fn a_full_cluster_queues_visitors_fairly_across_replicas() -> Result<()> {
    let redis = TestRedis::start().await?;
    let instance = instance();
    let _cleanup = InstanceCleanup(instance.clone());
    let servers = three(&instance, &redis, |config| {
        config.sessions.max_sessions = 2;
        config.sessions.reclaim_idle_after = None;
        config.sessions.trusted_proxy_header = "x-forwarded-for".into();
    })
    .await?;
    let (_, first) = servers[0].try_create_as("192.0.2.10").await?;
    ensure!(servers[1].try_create_as("192.0.2.11").await?.0 == 200);
    let first = first.trim().trim_matches('"').to_owned();

    // Full: the next visitors wait in line, each told their place, whichever replica they ask.
    let (status, body) = servers[1].try_create_as("198.51.100.20").await?;
    ensure!(
        status == 503 && body.contains("number 1 in line"),
        "{status} {body}"
    );
    let (_, body) = servers[2].try_create_as("198.51.100.21").await?;
    ensure!(body.contains("number 2 in line"), "{body}");
    let (_, body) = servers[0].try_create_as("198.51.100.20").await?;
    ensure!(
        body.contains("number 1 in line"),
        "asking again keeps the place: {body}"
    );

    // A slot frees: it goes to the one who waited longest, not to the one who asks first.
    let mut term = servers[0]
        .connect_with(&first, &[("x-forwarded-for", "192.0.2.10")])
        .await?
        .map_err(|refused| anyhow::anyhow!("socket refused: {refused:?}"))?;
    term.started().await?;
    term.type_text("exit\n").await?;
    wait_removed(&first, Duration::from_secs(15)).await?;
    let (status, body) = servers[2].try_create_as("198.51.100.21").await?;
    ensure!(
        status == 503 && body.contains("number 2 in line"),
        "{status} {body}"
    );
    let (status, body) = servers[2].try_create_as("203.0.113.99").await?;
    ensure!(
        status == 503 && body.contains("number 3 in line"),
        "newcomer jumped: {body}"
    );
    let (status, body) = servers[1].try_create_as("198.51.100.20").await?;
    ensure!(
        status == 200,
        "the first in line was not admitted: {status} {body}"
    );
    let (_, body) = servers[2].try_create_as("198.51.100.21").await?;
    ensure!(
        body.contains("number 1 in line"),
        "the line did not move: {body}"
    );
    finish(servers, &redis, &instance).await
}

/// What a replica killed outright leaves of session `id`: a running container whose shell was
/// opened (and is returned, for the caller to read or drop), its record, and a lease whose holder
/// (the returned store's replica) sends no heartbeat.
async fn dead_replicas_session(
    instance: &str,
    redis: &TestRedis,
    id: &server::ids::SessionId,
) -> Result<(server::sandbox::Shell, server::store::RedisStore)> {
    use server::sandbox::docker::DockerSandbox;
    use server::sandbox::{ContainerSpec, Sandbox, SandboxLimits};
    use server::store::{RedisStore, SessionRecord, SessionStore};

    let sandbox = DockerSandbox::new(
        "unix:///var/run/docker.sock",
        &SandboxLimits::default().image,
    )?
    .with_instance(instance);
    let spec = ContainerSpec::new(
        &id.hash(),
        Duration::from_secs(600),
        SandboxLimits::default(),
    );
    let container = sandbox.create(&spec).await?;
    let shell = sandbox.open_shell(&container, Default::default()).await?;
    let ghost = RedisStore::new(&redis.url(), instance, "ghost.00000000")?;
    let now = server::store::now_ms();
    ghost
        .insert(&SessionRecord {
            id_hash: id.hash(),
            client: None,
            container: container.0.clone(),
            engine: sandbox.engine().to_owned(),
            created_at_ms: now,
            expires_at_ms: now + 600_000,
            idle_at_ms: now + 600_000,
        })
        .await?;
    Ok((shell, ghost))
}

#[tokio::test]
async fn a_dead_replicas_session_no_tab_returns_to_is_swept_after_the_grace() -> Result<()> {
    use server::store::SessionStore;

    let redis = TestRedis::start().await?;
    let instance = instance();
    let _cleanup = InstanceCleanup(instance.clone());
    let id = server::ids::SessionId::random();
    let (_shell, ghost) = dead_replicas_session(&instance, &redis, &id).await?;

    let mut config = replica(&instance, &redis, "b");
    config.reaper.interval_secs = 1;
    let b = TestServer::start(config).await?;
    // The first sweeps find the orphan and wait for the grace period (2 s in tests), in case
    // its tab comes back; then it goes, record and all.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !labelled(Some(&id.expose())).await?.is_empty() {
        ensure!(
            std::time::Instant::now() < deadline,
            "the dead replica's container stayed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ensure!(ghost.get(&id.hash()).await?.is_none(), "its record stayed");
    finish(vec![b], &redis, &instance).await
}

#[tokio::test]
async fn a_prompt_printed_while_no_replica_was_attached_is_drawn_after_the_takeover() -> Result<()>
{
    use futures_util::StreamExt;

    let redis = TestRedis::start().await?;
    let instance = instance();
    let _cleanup = InstanceCleanup(instance.clone());
    // A replica that died after its shell printed the prompt, with nothing saved: the bytes of
    // that prompt went to an attach that is gone (as when a handover's last read ends between a
    // shell's first bytes and its prompt, which CI once caught in cluster_churn).
    let id = server::ids::SessionId::random();
    let (mut shell, _ghost) = dead_replicas_session(&instance, &redis, &id).await?;
    let mut printed = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !String::from_utf8_lossy(&printed).contains("$ ") {
        let chunk = tokio::time::timeout_at(deadline, shell.output.next())
            .await
            .map_err(|_| anyhow::anyhow!("no prompt from the shell"))?;
        printed.extend_from_slice(&chunk.ok_or_else(|| anyhow::anyhow!("shell ended"))??);
    }
    drop(shell);

    let b = TestServer::start(replica(&instance, &redis, "b")).await?;
    let mut term = b.connect(&id.expose()).await?;
    let (_, resumed) = term.started().await?;
    ensure!(resumed, "expected the dead replica's session, resumed");
    term.wait_for(0, "$ ", Duration::from_secs(10)).await?;
    ensure!(term.run("echo $((6*7))").await? == "42");
    drop(term);
    finish(vec![b], &redis, &instance).await
}
