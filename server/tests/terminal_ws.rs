//! The terminal socket end to end: a real server on port 0, real containers, the binary protocol.

mod common;

use std::time::Duration;

use anyhow::{bail, Result};
use common::{labelled, test_config, wait_removed, Event, TestServer};
use futures_util::SinkExt;
use rootresume_protocol::{ClientMessage, EndReason, ErrorCode, SessionNotice};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn shell_runs_python_and_gcc_as_a_normal_user() -> Result<()> {
    let server = TestServer::start(test_config()).await?;
    let id = server.create_session().await?;
    let mut term = server.connect(&id).await?;
    let (session, resumed) = term.started().await?;
    assert_eq!((session.as_str(), resumed), (id.as_str(), false));

    assert_eq!(term.run("python3 -c 'print(6*7)'").await?, "42");
    let c = r#"printf '#include <stdio.h>\nint main(void){puts("hello from C");return 0;}\n' > hello.c"#;
    term.run(c).await?;
    assert_eq!(
        term.run("gcc hello.c -o hello && ./hello").await?,
        "hello from C"
    );
    assert_eq!(term.run("id -u").await?, "1000");
    assert!(term.run("cat about.md").await?.contains("Ada Quill"));

    drop(term);
    // Grace period is 2 s in tests; the container must be gone shortly after.
    let gone_after = wait_removed(&id, Duration::from_secs(15)).await?;
    assert!(
        gone_after >= Duration::from_secs(1),
        "removed before the grace period: {gone_after:?}"
    );
    server.server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn reload_reattaches_and_tabs_are_isolated() -> Result<()> {
    let server = TestServer::start(test_config()).await?;
    let first = server.create_session().await?;
    let mut term = server.connect(&first).await?;
    term.started().await?;
    let host = term.run("hostname").await?;
    term.run("echo kept > note.txt").await?;
    drop(term);

    // A reload: same session id, within the grace period.
    let mut again = server.connect(&first).await?;
    let (_, resumed) = again.started().await?;
    assert!(resumed, "a reconnect must say it resumed");
    assert_eq!(again.run("hostname").await?, host);
    assert_eq!(again.run("cat note.txt").await?, "kept");
    assert_eq!(labelled(Some(&first)).await?.len(), 1);

    // Another tab: another container.
    let second = server.create_session().await?;
    let mut other = server.connect(&second).await?;
    other.started().await?;
    assert_ne!(other.run("hostname").await?, host);
    assert!(other
        .run("cat note.txt 2>&1")
        .await?
        .contains("No such file"));

    server.server.shutdown().await;
    assert!(labelled(Some(&first)).await?.is_empty());
    assert!(labelled(Some(&second)).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn newer_tab_displaces_older_attachment() -> Result<()> {
    let server = TestServer::start(test_config()).await?;
    let id = server.create_session().await?;
    let mut old = server.connect(&id).await?;
    old.started().await?;
    let mut new = server.connect(&id).await?;
    new.started().await?;
    match old.next_event(Duration::from_secs(10)).await? {
        Event::Closed(Some(reason)) => assert!(reason.contains("another tab"), "{reason}"),
        other => bail!("old socket should be closed with a reason, got {other:?}"),
    }
    assert_eq!(new.run("echo still here").await?, "still here");
    server.server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn unknown_or_malformed_session_ids_get_a_clear_error() -> Result<()> {
    let server = TestServer::start(test_config()).await?;
    for id in [
        uuid::Uuid::new_v4().to_string(),
        "not-a-session".into(),
        "%2e%2e%2f".into(),
    ] {
        let mut term = server.connect(&id).await?;
        match term.next_event(Duration::from_secs(5)).await? {
            Event::Error(ErrorCode::UnknownSession, message) => {
                assert!(message.contains("unknown or has expired"), "{message}")
            }
            other => bail!("expected UnknownSession for {id}, got {other:?}"),
        }
    }
    server.server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn bad_frames_close_only_their_socket() -> Result<()> {
    let server = TestServer::start(test_config()).await?;
    let good = server.create_session().await?;
    let mut bystander = server.connect(&good).await?;
    bystander.started().await?;

    let attacks: Vec<Message> = vec![
        Message::Binary(vec![9, 9, 9].into()),
        Message::Binary(vec![1, 0x02, 0].into()),
        Message::Text("{\"input\":\"ls\"}".into()),
        Message::Binary(vec![1u8; rootresume_protocol::MAX_FRAME_LEN + 10].into()),
    ];
    for attack in attacks {
        let id = server.create_session().await?;
        let mut term = server.connect(&id).await?;
        term.started().await?;
        let _ = term.socket.send(attack).await;
        let mut closed = false;
        for _ in 0..3 {
            match term.next_event(Duration::from_secs(10)).await? {
                Event::Error(ErrorCode::BadMessage, _) => {}
                Event::Closed(_) => {
                    closed = true;
                    break;
                }
                other => bail!("unexpected {other:?}"),
            }
        }
        assert!(closed, "a bad frame must close the socket");
    }
    assert_eq!(bystander.run("echo unaffected").await?, "unaffected");
    server.server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn exit_ends_the_session_and_removes_the_container() -> Result<()> {
    let server = TestServer::start(test_config()).await?;
    let id = server.create_session().await?;
    let mut term = server.connect(&id).await?;
    term.started().await?;
    term.run("true").await?;
    term.type_text("exit\r").await?;
    match term.next_event(Duration::from_secs(10)).await? {
        Event::Notice(SessionNotice::Ended { reason }) => {
            assert_eq!(reason, EndReason::ShellExited)
        }
        other => bail!("expected Ended, got {other:?}"),
    }
    wait_removed(&id, Duration::from_secs(10)).await?;
    // The session leaves the server's table just after its container goes (until then a tab
    // attaching is told it ended): wait for that, not only for the container.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.server.sessions().get(&id).is_some() {
        if std::time::Instant::now() > deadline {
            bail!("the ended session stayed in the server's table");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The id is now unknown: a reload gets told, so it starts afresh.
    let mut late = server.connect(&id).await?;
    assert!(matches!(
        late.next_event(Duration::from_secs(5)).await?,
        Event::Error(ErrorCode::UnknownSession, _)
    ));
    server.server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_size_sent_while_the_sandbox_starts_reaches_the_shell() -> Result<()> {
    // The page sends its size right behind the attach frame, often before the sandbox runs;
    // a pooled sandbox (already running) and a fresh one (starting) must both get it.
    let mut config = test_config();
    config.sessions.pool_size = 1;
    let server = TestServer::start(config).await?;
    for round in 0..2 {
        let id = server.create_session().await?;
        let mut term = common::Term::connect_raw(&server.socket_url()).await?;
        term.attach(&id).await?;
        term.send(ClientMessage::Resize {
            cols: 101 + round,
            rows: 31,
        })
        .await?;
        term.started().await?;
        assert_eq!(term.run("stty size").await?, format!("31 {}", 101 + round));
    }
    server.server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn terminal_is_binary_safe_and_follows_resizes() -> Result<()> {
    let server = TestServer::start(test_config()).await?;
    let id = server.create_session().await?;
    let mut term = server.connect(&id).await?;
    term.started().await?;

    term.send(ClientMessage::Resize {
        cols: 120,
        rows: 40,
    })
    .await?;
    assert_eq!(term.run("stty size").await?, "40 120");

    // "é" is 0xC3 0xA9: split across two frames it must still arrive whole.
    term.send(ClientMessage::Input(b"echo caf\xc3".to_vec()))
        .await?;
    term.send(ClientMessage::Input(b"\xa9 | od -An -tx1\r".to_vec()))
        .await?;
    let from = term.screen.len();
    term.wait_for(from, "63 61 66 c3 a9 0a", Duration::from_secs(10))
        .await?;

    // Ctrl-C interrupts a running program.
    // The program prints "sleeping" (a word the typed line does not contain) once it runs; from
    // then on a SIGINT ends it, whether it has become `sleep` yet or not.
    let from = term.screen.len();
    term.type_text("sh -c 'printf slee%s\\n ping; exec sleep 300'\r")
        .await?;
    term.wait_for(from, "sleeping", Duration::from_secs(10))
        .await?;
    term.send(ClientMessage::Input(vec![0x03])).await?;
    assert_eq!(term.run("echo after-interrupt").await?, "after-interrupt");

    // Ping gets a pong, with its nonce, without disturbing output.
    term.send(ClientMessage::Ping(42)).await?;
    match term.next_event(Duration::from_secs(10)).await? {
        Event::Pong(42) => {}
        other => bail!("expected Pong(42), got {other:?}"),
    }
    assert_eq!(term.run("echo pinged").await?, "pinged");
    server.server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn shutdown_ends_every_session_and_removes_containers() -> Result<()> {
    let server = TestServer::start(test_config()).await?;
    let mut ids = Vec::new();
    let mut terms = Vec::new();
    for _ in 0..3 {
        let id = server.create_session().await?;
        let mut term = server.connect(&id).await?;
        term.started().await?;
        ids.push(id);
        terms.push(term);
    }
    server.server.shutdown().await;
    for (id, term) in ids.iter().zip(terms.iter_mut()) {
        assert!(
            labelled(Some(id)).await?.is_empty(),
            "container of {id} left after shutdown"
        );
        match term.next_event(Duration::from_secs(5)).await? {
            Event::Notice(SessionNotice::Ended { reason }) => {
                assert_eq!(reason, EndReason::ServerShutdown)
            }
            other => bail!("expected a shutdown notice, got {other:?}"),
        }
    }
    Ok(())
}

#[tokio::test]
async fn lifetime_ends_with_a_warning_then_an_expiry_notice() -> Result<()> {
    let mut config = test_config();
    // Warnings come 5 and 1 minute before the end: with 61 s, the 1-minute one is due at once.
    config.sessions.max_lifetime = Duration::from_secs(61);
    let server = TestServer::start(config).await?;
    let id = server.create_session().await?;
    let mut term = server.connect(&id).await?;
    term.started().await?;
    match term.next_event(Duration::from_secs(15)).await? {
        Event::Notice(SessionNotice::Expiring { seconds_left }) => {
            assert!((55..=61).contains(&seconds_left), "{seconds_left}")
        }
        other => bail!("expected an expiry warning, got {other:?}"),
    }
    match term.next_event(Duration::from_secs(75)).await? {
        Event::Notice(SessionNotice::Ended { reason }) => assert_eq!(reason, EndReason::Expired),
        other => bail!("expected the session to expire, got {other:?}"),
    }
    wait_removed(&id, Duration::from_secs(10)).await?;
    server.server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn idle_session_ends_and_input_defers_it() -> Result<()> {
    let mut config = test_config();
    config.sessions.idle_timeout = Duration::from_secs(6);
    let server = TestServer::start(config).await?;
    let id = server.create_session().await?;
    let mut term = server.connect(&id).await?;
    term.started().await?;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(term.run("echo awake").await?, "awake");
    tokio::time::sleep(Duration::from_secs(4)).await;
    // 8 s since the start but only 4 s since the last input: still alive.
    assert_eq!(term.run("echo still-awake").await?, "still-awake");
    let quiet_since = std::time::Instant::now();
    match term.next_event(Duration::from_secs(15)).await? {
        Event::Notice(SessionNotice::Ended { reason }) => assert_eq!(reason, EndReason::Idle),
        other => bail!("expected the idle session to end, got {other:?}"),
    }
    assert!(
        quiet_since.elapsed() >= Duration::from_secs(5),
        "ended too early"
    );
    wait_removed(&id, Duration::from_secs(10)).await?;
    server.server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn shutdown_while_containers_are_being_created_leaks_nothing() -> Result<()> {
    let server = TestServer::start(test_config()).await?;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(server.create_session().await?);
    }
    // No tab attached and creation still under way (shown, so the test is about what it says):
    // shutdown must still remove every container.
    let starting = ids
        .iter()
        .filter_map(|id| server.server.sessions().get(id))
        .filter(|session| matches!(session.state(), server::sessions::SessionState::Starting))
        .count();
    assert!(starting >= 1, "no creation was in flight at shutdown");
    server.server.shutdown().await;
    for id in ids {
        assert!(
            labelled(Some(&id)).await?.is_empty(),
            "container of {id} leaked"
        );
    }
    Ok(())
}
