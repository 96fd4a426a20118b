//! Races and deadlines of the session core, on a fake sandbox (paused time where it helps):
//! admission is atomic, a refusal spends nothing, a pooled sandbox goes to one visitor, a
//! session never stays starting forever, resizes are coalesced.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Result};
use common::fake::FakeSandbox;
use common::test_config;
use leptos::config::LeptosOptions;
use rootresume_protocol::ClientMessage;
use server::config::SessionSettings;
use server::sandbox::SandboxLimits;
use server::sessions::{SessionError, SessionManager, SessionState};

fn manager(sandbox: Arc<FakeSandbox>, settings: SessionSettings) -> Arc<SessionManager> {
    Arc::new(SessionManager::new(
        sandbox,
        settings,
        SandboxLimits::default(),
    ))
}

fn settings() -> SessionSettings {
    let mut settings = test_config().sessions;
    settings.reclaim_idle_after = None;
    settings
}

#[tokio::test]
async fn concurrent_creates_never_pass_the_global_cap() -> Result<()> {
    let mut settings = settings();
    settings.max_sessions = 5;
    let sessions = manager(Arc::new(FakeSandbox::default()), settings);
    let clients = (0..50u8).map(|n| Some(std::net::IpAddr::from([192, 0, 2, n])));
    let attempts = clients.map(|client| {
        let sessions = sessions.clone();
        tokio::spawn(async move { sessions.create(client).await })
    });
    let mut admitted = 0;
    for attempt in attempts {
        match attempt.await? {
            Ok(_) => admitted += 1,
            Err(SessionError::AtCapacity { .. }) => {}
            Err(other) => anyhow::bail!("unexpected refusal: {other}"),
        }
    }
    ensure!(admitted == 5, "{admitted} admitted with max_sessions = 5");
    sessions.shutdown(Duration::from_secs(5)).await;
    Ok(())
}

#[tokio::test]
async fn a_refusal_spends_no_rate_token() -> Result<()> {
    let mut settings = settings();
    settings.max_sessions = 1;
    settings.rate_burst = 1;
    settings.rate_per_minute = 1;
    let sessions = manager(Arc::new(FakeSandbox::default()), settings);
    let first = sessions.create(Some([192, 0, 2, 1].into())).await?;
    let waiting = Some([192, 0, 2, 2].into());
    for _ in 0..5 {
        let refused = sessions.create(waiting).await.err();
        ensure!(
            matches!(
                refused,
                Some(SessionError::AtCapacity {
                    position: Some(1),
                    ..
                })
            ),
            "{refused:?}"
        );
    }
    first.end_with(rootresume_protocol::EndReason::Idle);
    // Once the slot is free, the waiting client's one token is still there.
    let mut admitted = false;
    for _ in 0..100 {
        match sessions.create(waiting).await {
            Ok(_) => {
                admitted = true;
                break;
            }
            Err(SessionError::AtCapacity { .. }) => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(other) => anyhow::bail!("refused for another reason: {other}"),
        }
    }
    ensure!(admitted, "the waiting client was never admitted");
    sessions.shutdown(Duration::from_secs(5)).await;
    Ok(())
}

#[tokio::test]
async fn a_pooled_sandbox_is_handed_out_once_under_concurrent_arrivals() -> Result<()> {
    let mut settings = settings();
    settings.pool_size = 3;
    let sandbox = Arc::new(FakeSandbox::default());
    let sessions = manager(sandbox.clone(), settings);
    sessions.start_pool();
    while sessions.pool().ready() < 3 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let arrivals = (0..20u8).map(|n| {
        let sessions = sessions.clone();
        tokio::spawn(async move { sessions.create(Some([198, 51, 100, n].into())).await })
    });
    let mut ids = std::collections::HashSet::new();
    for arrival in arrivals {
        let session = arrival.await??;
        ensure!(
            ids.insert(session.hash.clone()),
            "session {} handed out twice",
            session.tag()
        );
    }
    sessions.shutdown(Duration::from_secs(5)).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_session_whose_engine_never_answers_fails_and_frees_its_slot() -> Result<()> {
    let sandbox = Arc::new(FakeSandbox::hanging());
    let sessions = manager(sandbox, settings());
    let session = sessions.create(None).await?;
    ensure!(matches!(session.state(), SessionState::Starting));
    tokio::time::sleep(Duration::from_secs(59)).await;
    ensure!(
        matches!(session.state(), SessionState::Starting),
        "failed before the deadline"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    ensure!(
        matches!(session.state(), SessionState::Failed(_)),
        "still {:?} after the start deadline",
        session.state()
    );
    // The tab is told for the grace period, then the slot is free again.
    tokio::time::sleep(Duration::from_secs(5)).await;
    ensure!(
        sessions.store().slots_taken().await? == 0,
        "the slot stayed taken"
    );
    ensure!(sessions.live_count() == 0);
    sessions.shutdown(Duration::from_secs(5)).await;
    Ok(())
}

#[tokio::test]
async fn a_resize_flood_costs_at_most_ten_engine_calls_a_second() -> Result<()> {
    let sandbox = Arc::new(FakeSandbox::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let options = LeptosOptions::builder().output_name("rootresume").build();
    let server =
        server::Server::start_with(test_config(), options, listener, sandbox.clone()).await?;
    let server = common::TestServer::on_fake(server);
    let id = server.create_session().await?;
    let mut term = server.connect(&id).await?;
    term.started().await?;
    let before = sandbox.resizes.load(Ordering::SeqCst);
    let started = std::time::Instant::now();
    for n in 0..2000u16 {
        term.send(ClientMessage::Resize {
            cols: 80 + n % 40,
            rows: 24,
        })
        .await?;
    }
    // The last size still arrives.
    term.send(ClientMessage::Resize {
        cols: 132,
        rows: 43,
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let elapsed = started.elapsed();
    let calls = sandbox.resizes.load(Ordering::SeqCst) - before;
    let allowed = (elapsed.as_millis() / 100) as usize + 2;
    eprintln!("2001 resize frames in {elapsed:.2?}: {calls} engine calls (at most {allowed})");
    ensure!(
        calls >= 1 && calls <= allowed,
        "{calls} resize calls in {elapsed:?}"
    );
    drop(term);
    server.server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn shutdown_is_bounded_even_while_the_engine_hangs() -> Result<()> {
    let sandbox = Arc::new(FakeSandbox::hanging());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let options = LeptosOptions::builder().output_name("rootresume").build();
    let mut config = test_config();
    config.shutdown_timeout_secs = 2;
    let server = server::Server::start_with(config, options, listener, sandbox).await?;
    let server = common::TestServer::on_fake(server);
    let id = server.create_session().await?;
    // A tab waiting for the never-starting sandbox.
    let _term = server.connect(&id).await?;
    let started = std::time::Instant::now();
    server.server.shutdown().await;
    let took = started.elapsed();
    ensure!(
        took < Duration::from_secs(5),
        "shutdown took {took:?} with a 2 s bound"
    );
    Ok(())
}

/// A server on the fake sandbox, with the settings `tweak` gives.
async fn fake_server(
    sandbox: Arc<FakeSandbox>,
    tweak: impl FnOnce(&mut server::config::Config),
) -> Result<common::TestServer> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let options = LeptosOptions::builder().output_name("rootresume").build();
    let mut config = test_config();
    tweak(&mut config);
    let server = server::Server::start_with(config, options, listener, sandbox).await?;
    Ok(common::TestServer::on_fake(server))
}

#[tokio::test(start_paused = true)]
async fn a_half_open_socket_is_noticed_and_its_session_ends_after_the_grace() -> Result<()> {
    let sandbox = Arc::new(FakeSandbox::default());
    let server = fake_server(sandbox.clone(), |_| {}).await?;
    let id = server.create_session().await?;
    let mut term = server.connect(&id).await?;
    term.started().await?;
    // From now on the client neither reads nor answers pings: a connection whose other end
    // vanished without a FIN. The server must notice by itself (no close ever arrives).
    tokio::time::sleep(Duration::from_secs(30)).await;
    ensure!(
        server.server.sessions().live_count() == 1,
        "ended before the silence limit"
    );
    tokio::time::sleep(Duration::from_secs(30)).await;
    let removed = sandbox.removed.lock().map(|r| r.len()).unwrap_or(0);
    ensure!(
        removed == 1,
        "the session of a silent socket was not ended ({removed} removed)"
    );
    ensure!(server.server.sessions().live_count() == 0);
    drop(term);
    server.server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_shell_that_reads_no_input_does_not_hold_the_terminal() -> Result<()> {
    // The fake's shell never reads its input: a paste fills the pipe and stalls.
    let sandbox = Arc::new(FakeSandbox::default());
    let server = fake_server(sandbox, |_| {}).await?;
    let stuck = server.create_session().await?;
    let neighbour = server.create_session().await?;
    let mut term = server.connect(&stuck).await?;
    term.started().await?;
    let mut other = server.connect(&neighbour).await?;
    other.started().await?;
    for _ in 0..20 {
        term.send(ClientMessage::Input(vec![b'x'; 60 * 1024]))
            .await?;
    }
    term.send(ClientMessage::Ping(7)).await?;
    // The neighbour is answered at once.
    let started = std::time::Instant::now();
    other.send(ClientMessage::Ping(9)).await?;
    match other.next_event(Duration::from_secs(2)).await? {
        common::Event::Pong(9) => {}
        event => anyhow::bail!("neighbour: expected its pong, got {event:?}"),
    }
    eprintln!(
        "neighbour's pong during a stalled 1.2 MB paste: {:.1?}",
        started.elapsed()
    );
    // The stalled one gets its pong once the writes give up (5 s each at most, then the
    // rest fail at once), instead of never.
    let deadline = Duration::from_secs(30);
    loop {
        match term.next_event(deadline).await? {
            common::Event::Pong(7) => break,
            common::Event::Notice(_) => {}
            event => anyhow::bail!("stalled socket: expected its pong, got {event:?}"),
        }
    }
    drop((term, other));
    server.server.shutdown().await;
    Ok(())
}

/// Waits (in paused time) until `check` holds, or fails after `within`.
async fn eventually(what: &str, within: Duration, check: impl Fn() -> bool) -> Result<()> {
    let deadline = tokio::time::Instant::now() + within;
    while !check() {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "{what} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn the_pool_grows_with_arrivals_and_sheds_the_surplus_when_they_stop() -> Result<()> {
    let mut settings = settings();
    settings.pool_size = 1;
    settings.pool_max = 4;
    // Starts take a while, as on a real engine: visitors arriving together outrun the refill.
    let sandbox = FakeSandbox::taking(Duration::from_millis(300));
    let sessions = manager(Arc::new(sandbox), settings);
    sessions.start_pool();
    let pool = || sessions.pool().ready();
    eventually("a pool of 1", Duration::from_secs(5), || pool() == 1).await?;
    let arrivals = (0..6u8).map(|n| {
        let sessions = sessions.clone();
        tokio::spawn(async move { sessions.create(Some([198, 51, 100, n].into())).await })
    });
    for arrival in arrivals {
        arrival.await??;
    }
    // Six visitors at once, five of them more than the pool held: it grows, but no further
    // than its maximum.
    eventually("the pool grown to 4", Duration::from_secs(5), || {
        pool() == 4
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    ensure!(sessions.pool().len() == 4, "the pool stays at its maximum");
    // Nobody else comes: past the window and the minute a surplus may wait, it is back at 1.
    eventually("the pool back at 1", Duration::from_secs(90), || {
        sessions.pool().len() == 1
    })
    .await?;
    sessions.shutdown(Duration::from_secs(5)).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn no_more_pooled_sandboxes_start_at_once_than_pool_starts() -> Result<()> {
    let mut settings = settings();
    settings.pool_size = 6;
    settings.pool_max = 6;
    settings.pool_starts = 2;
    let sandbox = Arc::new(FakeSandbox::taking(Duration::from_millis(300)));
    let sessions = manager(sandbox.clone(), settings);
    sessions.start_pool();
    eventually("a pool of 6", Duration::from_secs(5), || {
        sessions.pool().ready() == 6
    })
    .await?;
    // Starts side by side, but never more than two: a third would slow the first two down.
    let most = sandbox.most_creating.load(Ordering::SeqCst);
    ensure!(most == 2, "{most} pooled sandboxes started at once");
    sessions.shutdown(Duration::from_secs(5)).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_pool_that_keeps_up_does_not_grow() -> Result<()> {
    let mut settings = settings();
    settings.pool_size = 1;
    settings.pool_max = 4;
    let sessions = manager(
        Arc::new(FakeSandbox::taking(Duration::from_millis(300))),
        settings,
    );
    sessions.start_pool();
    let ready = || sessions.pool().ready() == 1;
    eventually("a pool of 1", Duration::from_secs(5), ready).await?;
    // One visitor a second, each finding a ready sandbox: growing would only cost starts.
    for n in 0..6u8 {
        sessions.create(Some([198, 51, 100, n].into())).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        ensure!(sessions.pool().len() == 1, "the pool grew at visitor {n}");
        eventually("the pool refilled", Duration::from_secs(5), ready).await?;
    }
    sessions.shutdown(Duration::from_secs(5)).await;
    Ok(())
}
