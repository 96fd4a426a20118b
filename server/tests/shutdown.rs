//! SIGTERM with visitors' shells open: the server finishes within its bound and leaves the
//! engine as configured — nothing (`remove`), or the shells for the next process (`keep`).
//! Also checks the JSON logs parse and never contain a session id.

mod common;

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use common::real_server::{free_addr, RealServer};
use common::{labelled_in, Event, Term};
use futures_util::FutureExt;
use rootresume_protocol::{EndReason, SessionNotice};

const LIVE_SESSIONS: usize = 20;
/// `shutdown_timeout_secs` (10) plus time to close sockets and exit.
const SHUTDOWN_BOUND: Duration = Duration::from_secs(15);

fn settings(on_shutdown: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("ROOTRESUME_SESSIONS_MAX_PER_CLIENT", "100"),
        ("ROOTRESUME_SESSIONS_RATE_BURST", "1000"),
        ("ROOTRESUME_SESSIONS_POOL_SIZE", "0"),
        ("ROOTRESUME_SECURITY_MAX_SOCKETS_PER_CLIENT", "100"),
        ("ROOTRESUME_ON_SHUTDOWN", on_shutdown),
        ("ROOTRESUME_LOG_FORMAT", "json"),
        ("RUST_LOG", "info"),
    ]
}

/// Opens `count` sessions and waits for each prompt; each writes a file named after its id.
async fn open_sessions(server: &RealServer, count: usize) -> Result<Vec<(String, Term)>> {
    let mut open = Vec::new();
    for _ in 0..count {
        let id = server.session().await?;
        let mut term = server.connect(&id).await?;
        term.started().await?;
        term.run(&format!("echo kept > {id}.txt")).await?;
        open.push((id, term));
    }
    Ok(open)
}

/// Every log line is a JSON object, and none names a session id.
fn check_logs(log: &str, ids: &[String]) -> Result<()> {
    let mut lines = 0;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let value: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("not JSON: {line}"))?;
        anyhow::ensure!(value.is_object(), "not an object: {line}");
        for id in ids {
            anyhow::ensure!(
                !line.contains(id.as_str()),
                "a session id was logged: {line}"
            );
        }
        lines += 1;
    }
    anyhow::ensure!(
        lines > LIVE_SESSIONS,
        "expected a log line per session, got {lines}"
    );
    Ok(())
}

#[tokio::test]
async fn sigterm_in_remove_mode_ends_every_session_and_leaves_nothing() -> Result<()> {
    let instance = format!("sigterm-rm-{}", uuid::Uuid::new_v4().simple());
    let mut server = RealServer::start(&free_addr()?, &instance, &settings("remove")).await?;
    let open = open_sessions(&server, LIVE_SESSIONS).await?;
    assert_eq!(labelled_in(&instance).await?.len(), LIVE_SESSIONS);

    let took = server.terminate()?;
    println!(
        "SIGTERM with {LIVE_SESSIONS} live sessions, on_shutdown = remove: exited in {took:?}"
    );
    assert!(took < SHUTDOWN_BOUND, "shutdown took {took:?}");
    assert!(
        labelled_in(&instance).await?.is_empty(),
        "containers left after a remove-mode shutdown"
    );
    let ids: Vec<String> = open.iter().map(|(id, _)| id.clone()).collect();
    for (_, mut term) in open {
        match term.next_event(Duration::from_secs(5)).await? {
            Event::Notice(SessionNotice::Ended {
                reason: EndReason::ServerShutdown,
            }) => {}
            other => bail!("the tab was not told the server is shutting down: {other:?}"),
        }
    }
    check_logs(&server.log()?, &ids)
}

#[tokio::test]
async fn sigterm_in_keep_mode_leaves_shells_that_the_next_process_adopts() -> Result<()> {
    let instance = format!("sigterm-keep-{}", uuid::Uuid::new_v4().simple());
    // Keep mode leaves containers on purpose: whatever happens in the test, remove them after.
    let outcome = AssertUnwindSafe(keep_mode(&instance)).catch_unwind().await;
    let docker = common::docker().await?;
    for id in labelled_in(&instance).await? {
        let options = bollard::query_parameters::RemoveContainerOptions {
            force: true,
            ..Default::default()
        };
        let _ = docker.remove_container(&id, Some(options)).await;
    }
    match outcome {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

async fn keep_mode(instance: &str) -> Result<()> {
    let addr = free_addr()?;
    let mut first = RealServer::start(&addr, instance, &settings("keep")).await?;
    let open = open_sessions(&first, LIVE_SESSIONS).await?;

    let took = first.terminate()?;
    println!("SIGTERM with {LIVE_SESSIONS} live sessions, on_shutdown = keep: exited in {took:?}");
    assert!(took < SHUTDOWN_BOUND, "shutdown took {took:?}");
    assert_eq!(
        labelled_in(instance).await?.len(),
        LIVE_SESSIONS,
        "keep mode leaves every visitor's container"
    );
    let ids: Vec<String> = open.iter().map(|(id, _)| id.clone()).collect();
    for (_, mut term) in open {
        match term.next_event(Duration::from_secs(5)).await? {
            Event::Closed(Some(reason)) => {
                assert!(reason.contains("restarting"), "{reason}")
            }
            other => bail!("expected a restart close, got {other:?}"),
        }
    }
    check_logs(&first.log()?, &ids)?;

    // The upgraded process adopts them; a tab reconnecting with its id finds its files.
    let mut second = RealServer::start(&addr, instance, &settings("remove")).await?;
    for id in [&ids[0], &ids[LIVE_SESSIONS - 1]] {
        let mut term = second.connect(id).await?;
        term.started().await?;
        assert_eq!(term.run(&format!("cat {id}.txt")).await?, "kept");
    }
    second.terminate()?;
    assert!(labelled_in(instance).await?.is_empty());
    Ok(())
}
