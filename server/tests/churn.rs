//! Churn: hundreds of sessions created and ended through the real server binary leave no
//! container behind and do not grow the server's memory beyond noise.
//! Alone in its own test binary so its load does not slow other tests' timeouts.

mod common;

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use common::labelled_in;
use common::real_server::{free_addr, RealServer};
use tokio::task::JoinSet;

/// How many sessions the churn creates and ends (ROOTRESUME_CHURN_SESSIONS overrides).
const DEFAULT_SESSIONS: usize = 500;
/// Sessions in flight at once: enough to overlap engine calls on a small machine.
const CONCURRENCY: usize = 12;
/// Sessions before the first memory reading, so one-time allocations (caches, thread stacks,
/// the allocator's arenas) are not counted as growth.
const WARM_UP: usize = 40;
/// Growth of the server's resident memory still counted as noise.
const RSS_NOISE_KIB: u64 = 16 * 1024;
/// The warm pool kept during the churn; its containers are the only ones allowed to stay
/// until the server stops.
const POOL_SIZE: usize = 2;

/// One visitor's whole life: create, attach, see the prompt, `exit`, see the end.
async fn one_session(server: &RealServer) -> Result<()> {
    let id = server.session().await?;
    let mut term = server.connect(&id).await?;
    term.started().await?;
    term.exit_at_prompt()
        .await
        .with_context(|| format!("session {id}"))
}

async fn churn(server: &std::sync::Arc<RealServer>, count: usize) -> Result<()> {
    let mut running = JoinSet::new();
    let mut done = 0;
    for started in 0..count {
        if running.len() == CONCURRENCY {
            running.join_next().await.context("a session task")???;
            done += 1;
        }
        let server = server.clone();
        running.spawn(async move {
            one_session(&server)
                .await
                .with_context(|| format!("session #{started}"))
        });
    }
    while let Some(result) = running.join_next().await {
        result??;
        done += 1;
    }
    assert_eq!(done, count);
    Ok(())
}

/// Waits until only the warm pool's containers are left.
async fn wait_for_only_pool(instance: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = labelled_in(instance).await?.len().saturating_sub(POOL_SIZE);
        if left == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{left} labelled container(s) left after the churn");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_sessions_leave_nothing_behind_and_no_memory_growth() -> Result<()> {
    let count = std::env::var("ROOTRESUME_CHURN_SESSIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_SESSIONS);
    let instance = format!("churn-{}", uuid::Uuid::new_v4().simple());
    let limits = [
        ("ROOTRESUME_SESSIONS_MAX_PER_CLIENT", "1000"),
        ("ROOTRESUME_SESSIONS_RATE_BURST", "100000"),
        ("ROOTRESUME_SESSIONS_RATE_PER_MINUTE", "100000"),
        ("ROOTRESUME_SESSIONS_POOL_SIZE", "2"),
        // Held at its size, so what is left after the churn is exactly the pool.
        ("ROOTRESUME_SESSIONS_POOL_MAX", "2"),
        ("ROOTRESUME_SECURITY_MAX_SOCKETS_PER_CLIENT", "100"),
        // A sweep every second races the reaper against sessions being created, handed out
        // from the pool and ended: it must never take a live one.
        ("ROOTRESUME_REAPER_INTERVAL_SECS", "1"),
    ];
    let server = std::sync::Arc::new(RealServer::start(&free_addr()?, &instance, &limits).await?);

    churn(&server, WARM_UP).await?;
    wait_for_only_pool(&instance).await?;
    let rss_before = server.rss_kib()?;

    let started = Instant::now();
    churn(&server, count).await?;
    let took = started.elapsed();
    wait_for_only_pool(&instance).await?;
    let rss_after = server.rss_kib()?;
    let mut server = std::sync::Arc::into_inner(server).context("the server is still shared")?;
    server.terminate()?;
    let left = labelled_in(&instance).await?.len();

    println!(
        "churn: {count} sessions in {took:.1?} ({:.1} sessions/s); labelled containers after \
         the server stopped: {left}; server RSS before {rss_before} KiB, after {rss_after} KiB ({:+} KiB)",
        count as f64 / took.as_secs_f64(),
        rss_after as i64 - rss_before as i64
    );
    assert_eq!(left, 0, "containers left behind");
    assert!(
        rss_after <= rss_before + RSS_NOISE_KIB,
        "server memory grew from {rss_before} KiB to {rss_after} KiB over {count} sessions"
    );
    Ok(())
}
