//! Admission: per-client caps, a creation rate per client, the global cap, and reclaiming idle
//! sessions when the server is full — each refusal with the right status and a clear reason.

mod common;

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use common::{labelled, test_config, wait_removed, Event, Term, TestServer};
use rootresume_protocol::{EndReason, SessionNotice};
use server::config::Config;

fn proxied(config: impl FnOnce(&mut Config)) -> Config {
    let mut c = test_config();
    c.sessions.trusted_proxy_header = "x-forwarded-for".into();
    config(&mut c);
    c
}

fn session_id(body: &str) -> String {
    body.trim().trim_matches('"').to_owned()
}

#[tokio::test]
async fn per_client_cap_counts_each_address_separately() -> Result<()> {
    let server = TestServer::start(proxied(|c| c.sessions.max_per_client = 2)).await?;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (status, body) = server.try_create_as("203.0.113.1").await?;
        assert_eq!(status, 200, "{body}");
        ids.push(session_id(&body));
    }
    let (status, body) = server.try_create_as("203.0.113.1").await?;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("you already have 2 sandboxes open"), "{body}");
    let (status, body) = server.try_create_as("203.0.113.2").await?;
    assert_eq!(status, 200, "another client is not affected: {body}");
    ids.push(session_id(&body));
    server.server.shutdown().await;
    for id in ids {
        assert!(labelled(Some(&id)).await?.is_empty());
    }
    Ok(())
}

#[tokio::test]
async fn creation_rate_is_limited_per_client_with_retry_after() -> Result<()> {
    let server = TestServer::start(proxied(|c| {
        c.sessions.max_per_client = 100;
        c.sessions.rate_burst = 3;
        c.sessions.rate_per_minute = 1;
    }))
    .await?;
    for _ in 0..3 {
        let (status, body) = server.try_create_as("198.51.100.5").await?;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = server.try_create_as("198.51.100.5").await?;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("too many new sandboxes"), "{body}");
    server.server.shutdown().await;
    Ok(())
}

/// Opens the terminal as `client` behind the trusted proxy.
async fn connect_as(server: &TestServer, id: &str, client: &str) -> Result<Term> {
    server
        .connect_with(id, &[("x-forwarded-for", client)])
        .await?
        .map_err(|refused| anyhow!("refused: {refused:?}"))
}

#[tokio::test]
async fn full_server_refuses_with_503_unless_an_idle_session_can_be_reclaimed() -> Result<()> {
    // Reclaiming off: the third visitor is told the site is full.
    let server = TestServer::start(proxied(|c| {
        c.sessions.max_sessions = 2;
        c.sessions.reclaim_idle_after = None;
    }))
    .await?;
    for client in ["192.0.2.1", "192.0.2.2"] {
        assert_eq!(server.try_create_as(client).await?.0, 200);
    }
    let (status, body) = server.try_create_as("192.0.2.3").await?;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("all 2 sandboxes are in use"), "{body}");
    server.server.shutdown().await;

    // Reclaiming after 1 s idle: the idlest session makes room and is told why it ended.
    let server = TestServer::start(proxied(|c| {
        c.sessions.max_sessions = 2;
        c.sessions.reclaim_idle_after = Some(Duration::from_secs(1));
    }))
    .await?;
    let idle = session_id(&server.try_create_as("192.0.2.1").await?.1);
    // A session admits only the client that created it.
    let mut idle_term = connect_as(&server, &idle, "192.0.2.1").await?;
    idle_term.started().await?;
    let busy = session_id(&server.try_create_as("192.0.2.2").await?.1);
    let mut busy_term = connect_as(&server, &busy, "192.0.2.2").await?;
    busy_term.started().await?;
    // Refused while no session has been idle for 1 s; then the idle one makes room (the end
    // reason below says it was for idleness), while the busy one keeps typing.
    let asked = std::time::Instant::now();
    loop {
        busy_term.run("true").await?;
        let (status, body) = server.try_create_as("192.0.2.3").await?;
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(
            asked.elapsed() < Duration::from_secs(10),
            "an idle session should have been reclaimed: {body}"
        );
    }

    match idle_term.next_event(Duration::from_secs(10)).await? {
        Event::Notice(SessionNotice::Ended { reason }) => assert_eq!(reason, EndReason::Idle),
        other => bail!("the reclaimed session should be told, got {other:?}"),
    }
    wait_removed(&idle, Duration::from_secs(10)).await?;
    assert_eq!(
        busy_term.run("echo kept").await?,
        "kept",
        "the busy session is kept"
    );
    server.server.shutdown().await;
    Ok(())
}
