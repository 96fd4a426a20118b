//! What an operator relies on: `/metrics` moves with sessions, `/readyz` follows the engine,
//! and a metrics token keeps strangers out.

mod common;

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use common::relay::Relay;
use common::{http_get, test_config, Event, TestServer};
use rootresume_protocol::{EndReason, SessionNotice};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The value of a sample line such as `rootresume_sessions_live 1`, 0 when absent.
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn metrics(server: &TestServer) -> Result<String> {
    let response = http_get(&format!("http://{}/metrics", server.server.addr())).await?;
    anyhow::ensure!(response.starts_with("HTTP/1.1 200"), "{response}");
    Ok(response)
}

#[tokio::test]
async fn metrics_move_when_a_session_starts_and_ends() -> Result<()> {
    let server = TestServer::start(test_config()).await?;
    let before = metrics(&server).await?;
    for series in [
        "rootresume_sessions_started_total",
        "rootresume_sessions_live",
        "rootresume_pool_size",
        "rootresume_reaper_removed_total",
        "rootresume_time_to_first_prompt_seconds_bucket",
        "rootresume_admission_rejected_total{reason=\"at_capacity\"} 0",
        "rootresume_docker_errors_total{operation=\"create\"} 0",
        "rootresume_sessions_ended_total{reason=\"expired\"} 0",
    ] {
        assert!(before.contains(series), "{series} missing:\n{before}");
    }
    assert_eq!(sample(&before, "rootresume_sessions_live"), 0.0);

    let id = server.create_session().await?;
    let mut term = server.connect(&id).await?;
    term.started().await?;
    term.wait_for(0, "$ ", Duration::from_secs(30)).await?;
    let during = metrics(&server).await?;
    assert_eq!(sample(&during, "rootresume_sessions_started_total"), 1.0);
    assert_eq!(sample(&during, "rootresume_sessions_live"), 1.0);
    assert_eq!(
        sample(&during, "rootresume_time_to_first_prompt_seconds_count"),
        1.0
    );

    term.type_text("exit\r").await?;
    match term.next_event(Duration::from_secs(30)).await? {
        Event::Notice(SessionNotice::Ended { reason }) => {
            assert_eq!(reason, EndReason::ShellExited)
        }
        other => bail!("expected the end, got {other:?}"),
    }
    common::wait_removed(&id, Duration::from_secs(10)).await?;
    // The session leaves the live table just after its container is gone: a scrape in between
    // still counts it (seen once in CI), so wait a little for the gauge.
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let now = metrics(&server).await?;
        if sample(&now, "rootresume_sessions_live") == 0.0 {
            break now;
        }
        if Instant::now() > deadline {
            bail!("the ended session is still counted live 10 s after its container went:\n{now}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        sample(
            &after,
            "rootresume_sessions_ended_total{reason=\"shell_exited\"}"
        ),
        1.0
    );
    server.server.shutdown().await;
    Ok(())
}

async fn get_with(addr: &str, path: &str, headers: &str) -> Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await?;
    Ok(raw)
}

#[tokio::test]
async fn pool_starting_reads_zero_only_once_the_pool_is_ready() -> Result<()> {
    let mut config = test_config();
    config.sessions.pool_size = 1;
    config.sessions.pool_max = 1;
    let server = TestServer::start(config).await?;
    let result = async {
        // The pool's sandbox counts from the moment its start is asked for.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen_starting = false;
        loop {
            let now = metrics(&server).await?;
            let (size, starting) = (
                sample(&now, "rootresume_pool_size"),
                sample(&now, "rootresume_pool_starting"),
            );
            anyhow::ensure!(starting <= size, "more starting than pooled:\n{now}");
            seen_starting |= starting > 0.0;
            if size == 1.0 && starting == 0.0 {
                break;
            }
            if Instant::now() > deadline {
                bail!("the pool did not get ready in a minute:\n{now}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        println!("pool_starting seen above 0 on the way: {seen_starting}");
        // Quiet by the gauge: the next visitor finds a sandbox whose shell already ran.
        let id = server.create_session().await?;
        let after = metrics(&server).await?;
        anyhow::ensure!(
            sample(&after, "rootresume_pool_handouts_total") == 1.0
                && sample(&after, "rootresume_pool_missed_total") == 0.0,
            "a visitor after pool_starting read 0 waited for a start:\n{after}"
        );
        let mut term = server.connect(&id).await?;
        term.started().await?;
        term.wait_for(0, "$ ", Duration::from_secs(30)).await?;
        Ok(())
    }
    .await;
    server.server.shutdown().await;
    result
}

#[tokio::test]
async fn a_metrics_token_is_required_when_set() -> Result<()> {
    let mut config = test_config();
    config.metrics.token = "not-a-real-secret".into();
    let server = TestServer::start(config).await?;
    let addr = server.server.addr().to_string();
    let refused = get_with(&addr, "/metrics", "").await?;
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    assert!(refused.contains("Authorization: Bearer"), "{refused}");
    let wrong = get_with(&addr, "/metrics", "Authorization: Bearer nope\r\n").await?;
    assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");
    let allowed = get_with(
        &addr,
        "/metrics",
        "Authorization: Bearer not-a-real-secret\r\n",
    )
    .await?;
    assert!(allowed.starts_with("HTTP/1.1 200"), "{allowed}");
    assert!(allowed.contains("rootresume_sessions_live"));
    // Health stays open: load balancers carry no token.
    let health = get_with(&addr, "/healthz", "").await?;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    server.server.shutdown().await;
    Ok(())
}

async fn readyz(server: &TestServer) -> Result<String> {
    http_get(&format!("http://{}/readyz", server.server.addr())).await
}

async fn until_readyz(server: &TestServer, status: &str) -> Result<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let response = readyz(server).await?;
        if response.starts_with(&format!("HTTP/1.1 {status}")) {
            return Ok(response);
        }
        if Instant::now() > deadline {
            bail!("/readyz never answered {status}; last: {response}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn readyz_follows_the_engine_going_and_coming_back() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("rr-ready-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let socket = dir.join("docker.sock");
    let relay = Relay::start(&socket)?;
    let mut config = test_config();
    config.docker_host = format!("unix://{}", socket.display());
    let server = TestServer::start(config).await?;

    let ready = until_readyz(&server, "200").await?;
    assert!(ready.contains("ready: 0 of 200 sessions in use"), "{ready}");

    relay.stop();
    let down = until_readyz(&server, "503").await?;
    assert!(
        down.contains("the container engine does not answer"),
        "{down}"
    );
    assert!(
        !down.contains(&*socket.to_string_lossy()),
        "names the endpoint: {down}"
    );
    let healthz = http_get(&format!("http://{}/healthz", server.server.addr())).await?;
    assert!(
        healthz.starts_with("HTTP/1.1 200"),
        "alive while unready: {healthz}"
    );

    let relay = Relay::start(&socket)?;
    until_readyz(&server, "200").await?;
    server.server.shutdown().await;
    relay.stop();
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

#[tokio::test]
async fn a_full_site_stays_ready() -> Result<()> {
    let mut config = test_config();
    config.sessions.max_sessions = 1;
    let server = TestServer::start(config).await?;
    let id = server.create_session().await?;
    // Full is not unready: a load balancer must keep sending readers to the pages.
    let full = until_readyz(&server, "200").await?;
    assert!(full.contains("ready: 1 of 1 sessions in use"), "{full}");
    server.server.shutdown().await;
    common::wait_removed(&id, Duration::from_secs(10)).await?;
    Ok(())
}
