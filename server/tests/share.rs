//! Share links below the page: a real server on port 0 and real containers. A spectator sees
//! the owner's terminal live, and nothing it sends reaches the shell unless it came through
//! the pair link; caps, Stop sharing, forged links and the session's end close it clearly.

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use anyhow::{bail, ensure, Result};
use common::redis::{InstanceCleanup, TestRedis};
use common::{test_config, Event, Term, TestServer};
use rootresume_protocol::{ClientMessage, ErrorCode, RunLang, RunRequest, SessionNotice, Sharing};

const WAIT: Duration = Duration::from_secs(30);

/// Reads events until the session's sharing, skipping notices of time left and terminal lists.
async fn sharing(term: &mut Term) -> Result<Sharing> {
    loop {
        match term.next_event(WAIT).await? {
            Event::Sharing(sharing) => return Ok(sharing),
            Event::Notice(SessionNotice::Expiring { .. }) | Event::Terminals(_) => {}
            other => bail!("expected the sharing, got {other:?}"),
        }
    }
}

/// Reads sharing updates until `viewers` watch.
async fn until_viewers(term: &mut Term, viewers: u16) -> Result<Sharing> {
    loop {
        let now = sharing(term).await?;
        if now.viewers == viewers {
            return Ok(now);
        }
    }
}

/// Opens `link` as a spectator from `source`; returns the socket and what it was told first.
async fn watch(server: &TestServer, source: Ipv4Addr, link: &str) -> Result<(Term, Event)> {
    let mut term = Term::connect_raw_from(&server.socket_url(), source).await?;
    term.send(ClientMessage::Watch {
        link: link.to_owned(),
    })
    .await?;
    let first = term.next_event(WAIT).await?;
    Ok((term, first))
}

/// Expects a spectator to be refused (or closed) with `code`, saying `words`; size changes
/// before it are skipped.
async fn expect_refused(term: &mut Term, first: Event, words: &str) -> Result<()> {
    let mut event = match first {
        Event::Error(..) => first,
        _ => term.next_event(WAIT).await?,
    };
    while matches!(event, Event::Watching { .. }) {
        event = term.next_event(WAIT).await?;
    }
    match event {
        Event::Error(ErrorCode::LinkInvalid, message) if message.contains(words) => Ok(()),
        other => bail!("expected a refusal saying {words:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn a_spectator_watches_live_and_drives_nothing() -> Result<()> {
    let mut config = test_config();
    config.sessions.max_viewers = 3;
    config.sessions.max_watching_per_client = 2;
    let server = TestServer::start(config).await?;
    let result = spectators(&server).await;
    server.server.shutdown().await;
    result
}

/// A new session's first terminal at 100x30, having printed `before`, shared (with a pair
/// link when `pair`): the session's id, the owner's socket and the links.
async fn shared_session(
    server: &TestServer,
    before: &str,
    pair: bool,
) -> Result<(String, Term, Sharing)> {
    let session = server.create_session().await?;
    let mut owner = Term::connect_raw(&server.socket_url()).await?;
    owner.attach_terminal(&session, 0).await?;
    owner.started().await?;
    owner
        .send(ClientMessage::Resize {
            cols: 100,
            rows: 30,
        })
        .await?;
    owner.wait_for(0, "$ ", WAIT).await?;
    owner.run(&format!("echo {before}")).await?;
    owner
        .send(ClientMessage::Share { terminal: 0, pair })
        .await?;
    let shared = sharing(&mut owner).await?;
    Ok((session, owner, shared))
}

async fn spectators(server: &TestServer) -> Result<()> {
    let (session, mut owner, shared) = shared_session(server, "before-sharing", false).await?;
    ensure!(
        shared.watch.len() == 32 && shared.pair.is_empty() && shared.viewers == 0,
        "{shared:?}"
    );

    // Let in at the owner's size, and replayed the recent screen.
    let (mut viewer, first) = watch(server, Ipv4Addr::LOCALHOST, &shared.watch).await?;
    match first {
        Event::Watching {
            cols: 100,
            rows: 30,
            typing: false,
        } => {}
        other => bail!("expected to watch read-only at 100x30, got {other:?}"),
    }
    viewer.started().await?;
    viewer.wait_for(0, "before-sharing", WAIT).await?;
    until_viewers(&mut owner, 1).await?;

    // Live: the owner's output reaches the spectator.
    let from = viewer.text().len();
    owner.run("echo shared-$((6*7))").await?;
    viewer.wait_for(from, "shared-42", WAIT).await?;

    // Whatever a modified page sends, nothing reaches the shell.
    for message in [
        ClientMessage::Input(b"touch /tmp/spectator-was-here\r".to_vec()),
        ClientMessage::Resize { cols: 20, rows: 5 },
        ClientMessage::Run(RunRequest {
            lang: RunLang::Shell,
            file: String::new(),
            code: b"touch /tmp/spectator-ran\n".to_vec(),
        }),
        ClientMessage::OpenTerminal,
        ClientMessage::Share {
            terminal: 0,
            pair: true,
        },
        ClientMessage::StopSharing,
        ClientMessage::Attach {
            session: session.clone(),
        },
    ] {
        viewer.send(message).await?;
    }
    viewer.send(ClientMessage::Ping(7)).await?;
    match viewer.next_event(WAIT).await? {
        Event::Pong(7) => {}
        other => bail!("expected the spectator's pong, got {other:?}"),
    }
    let size = owner.run("stty size").await?;
    ensure!(
        size.trim() == "30 100",
        "a spectator resized the shell: {size}"
    );
    let missing = owner
        .run("ls /tmp/spectator-was-here /tmp/spectator-ran 2>/dev/null | wc -l")
        .await?;
    ensure!(
        missing.trim() == "0",
        "files the spectator asked for exist: {missing}"
    );

    // The pair link, asked for: the read-only link stays, and its holders may type.
    owner
        .send(ClientMessage::Share {
            terminal: 0,
            pair: true,
        })
        .await?;
    let paired = sharing(&mut owner).await?;
    ensure!(
        paired.watch == shared.watch && paired.pair.len() == 32,
        "{paired:?}"
    );
    let (mut typist, first) = watch(server, Ipv4Addr::LOCALHOST, &paired.pair).await?;
    ensure!(
        matches!(first, Event::Watching { typing: true, .. }),
        "{first:?}"
    );
    typist.started().await?;
    // Before the owner reads output: reading output skips the sharing updates.
    until_viewers(&mut owner, 2).await?;
    let from = owner.text().len();
    typist.type_text("echo from-pair-$((1+1))\r").await?;
    owner.wait_for(from, "from-pair-2", WAIT).await?;

    // Caps: this client watches 2 links already; another address takes the last place of 3.
    let (mut third, first) = watch(server, Ipv4Addr::LOCALHOST, &shared.watch).await?;
    expect_refused(&mut third, first, "you are already watching 2").await?;
    let (mut other, first) = watch(server, Ipv4Addr::new(127, 0, 0, 2), &shared.watch).await?;
    ensure!(matches!(first, Event::Watching { .. }), "{first:?}");
    other.started().await?;
    let (mut fourth, first) = watch(server, Ipv4Addr::new(127, 0, 0, 3), &shared.watch).await?;
    expect_refused(&mut fourth, first, "already has 3 viewers").await?;
    until_viewers(&mut owner, 3).await?;

    // Dropping the pair link closes its holder; the read-only viewers stay.
    owner
        .send(ClientMessage::Share {
            terminal: 0,
            pair: false,
        })
        .await?;
    expect_refused(&mut typist, Event::Pong(0), "stopped sharing").await?;
    let kept = until_viewers(&mut owner, 2).await?;
    ensure!(
        kept.watch == shared.watch && kept.pair.is_empty(),
        "{kept:?}"
    );

    // Stop sharing closes every viewer at once, and the link dies.
    owner.send(ClientMessage::StopSharing).await?;
    expect_refused(&mut viewer, Event::Pong(0), "stopped sharing").await?;
    expect_refused(&mut other, Event::Pong(0), "stopped sharing").await?;
    let stopped = sharing(&mut owner).await?;
    ensure!(stopped.watch.is_empty(), "{stopped:?}");
    let (mut late, first) = watch(server, Ipv4Addr::LOCALHOST, &shared.watch).await?;
    expect_refused(&mut late, first, "does not show anything").await?;

    // Forged and malformed tokens get the same clear answer.
    for forged in ["0123456789abcdef0123456789abcdef", "not-a-token"] {
        let (mut term, first) = watch(server, Ipv4Addr::LOCALHOST, forged).await?;
        expect_refused(&mut term, first, "does not show anything").await?;
    }

    // A link dies with its session: the spectator is told the sandbox ended.
    owner
        .send(ClientMessage::Share {
            terminal: 0,
            pair: false,
        })
        .await?;
    let last = sharing(&mut owner).await?;
    let (mut viewer, first) = watch(server, Ipv4Addr::LOCALHOST, &last.watch).await?;
    ensure!(matches!(first, Event::Watching { .. }), "{first:?}");
    viewer.started().await?;
    owner.type_text("exit\r").await?;
    loop {
        match viewer.next_event(WAIT).await? {
            Event::Notice(SessionNotice::Ended { .. }) => break,
            Event::Watching { .. } => {}
            other => bail!("expected the spectator to hear the end, got {other:?}"),
        }
    }
    let (mut after, first) = watch(server, Ipv4Addr::LOCALHOST, &last.watch).await?;
    expect_refused(&mut after, first, "does not show anything").await?;
    common::wait_removed(&session, WAIT).await?;
    Ok(())
}

/// Two replicas on one Redis: the owner's tab on one, spectators on the other.
#[tokio::test]
async fn a_spectator_reaching_another_replica_watches_through_redis() -> Result<()> {
    let redis = TestRedis::start().await?;
    let instance = format!("test-{}", uuid::Uuid::new_v4().simple());
    let _cleanup = InstanceCleanup(instance.clone());
    let replica = |name: &str| {
        let mut config = test_config();
        config.instance = instance.clone();
        config.store.redis_url = redis.url();
        config.store.replica = name.to_owned();
        config
    };
    let a = TestServer::start(replica("a")).await?;
    let b = TestServer::start(replica("b")).await?;
    let result = across(&a, &b).await;
    a.server.shutdown().await;
    b.server.shutdown().await;
    let keys = redis.session_keys(&instance).await?;
    redis.clean(&instance).await?;
    result?;
    ensure!(keys.is_empty(), "keys left in Redis: {keys:?}");
    Ok(())
}

async fn across(a: &TestServer, b: &TestServer) -> Result<()> {
    let (session, mut owner, shared) = shared_session(a, "before-$((2+3))", true).await?;

    // On the other replica: the stored screen at the owner's size, then live output.
    let (mut viewer, first) = watch(b, Ipv4Addr::LOCALHOST, &shared.watch).await?;
    ensure!(
        matches!(
            first,
            Event::Watching {
                cols: 100,
                rows: 30,
                typing: false
            }
        ),
        "{first:?}"
    );
    viewer.started().await?;
    viewer.wait_for(0, "before-5", WAIT).await?;
    until_viewers(&mut owner, 1).await?;
    let from = viewer.text().len();
    owner.run("echo across-$((6*7))").await?;
    viewer.wait_for(from, "across-42", WAIT).await?;

    // A read-only spectator's keys go nowhere; a pair spectator's reach the shell.
    viewer
        .type_text("touch /tmp/remote-spectator-was-here\r")
        .await?;
    let (mut typist, first) = watch(b, Ipv4Addr::LOCALHOST, &shared.pair).await?;
    ensure!(
        matches!(first, Event::Watching { typing: true, .. }),
        "{first:?}"
    );
    typist.started().await?;
    until_viewers(&mut owner, 2).await?;
    let from = owner.text().len();
    typist.type_text("echo typed-across-$((2+2))\r").await?;
    owner.wait_for(from, "typed-across-4", WAIT).await?;
    let found = owner
        .run("ls /tmp/remote-spectator-was-here 2>/dev/null | wc -l")
        .await?;
    ensure!(found.trim() == "0", "a read-only spectator typed: {found}");

    // The owner's size follows to the other replica.
    owner
        .send(ClientMessage::Resize { cols: 90, rows: 20 })
        .await?;
    loop {
        match viewer.next_event(WAIT).await? {
            Event::Watching {
                cols: 90, rows: 20, ..
            } => break,
            Event::Watching { .. } | Event::Notice(SessionNotice::Expiring { .. }) => {}
            other => bail!("expected the new size, got {other:?}"),
        }
    }

    // Withdrawing the pair link closes its spectator; Stop sharing closes the rest, and the
    // link then shows nothing on any replica.
    owner
        .send(ClientMessage::Share {
            terminal: 0,
            pair: false,
        })
        .await?;
    expect_refused(&mut typist, Event::Pong(0), "stopped sharing").await?;
    owner.send(ClientMessage::StopSharing).await?;
    expect_refused(&mut viewer, Event::Pong(0), "stopped sharing").await?;
    for replica in [a, b] {
        let (mut late, first) = watch(replica, Ipv4Addr::LOCALHOST, &shared.watch).await?;
        expect_refused(&mut late, first, "does not show anything").await?;
    }

    // Shared again, the session's end reaches the spectator on the other replica.
    owner
        .send(ClientMessage::Share {
            terminal: 0,
            pair: false,
        })
        .await?;
    let again = until_new_link(&mut owner, &shared.watch).await?;
    let (mut viewer, first) = watch(b, Ipv4Addr::LOCALHOST, &again.watch).await?;
    ensure!(matches!(first, Event::Watching { .. }), "{first:?}");
    viewer.started().await?;
    owner.type_text("exit\r").await?;
    loop {
        match viewer.next_event(WAIT).await? {
            Event::Notice(SessionNotice::Ended { .. }) => break,
            Event::Watching { .. } | Event::Notice(SessionNotice::Expiring { .. }) => {}
            other => bail!("expected the spectator to hear the end, got {other:?}"),
        }
    }
    common::wait_removed(&session, WAIT).await?;
    Ok(())
}

/// Reads sharing updates until the session is shared through a link other than `old` (updates
/// sent before it stopped may still be on their way).
async fn until_new_link(term: &mut Term, old: &str) -> Result<Sharing> {
    loop {
        let now = sharing(term).await?;
        if !now.watch.is_empty() && now.watch != old {
            return Ok(now);
        }
    }
}
