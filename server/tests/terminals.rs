//! Several terminals in one session, below the page: a real server on port 0, real containers
//! (through the socket proxy in CI), each terminal its own shell and pty in the same container.

mod common;

use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use common::{test_config, Event, Term, TestServer};
use rootresume_protocol::{ClientMessage, EndReason, ErrorCode, SessionNotice};

const WAIT: Duration = Duration::from_secs(30);

/// Reads events until the list of terminals open, skipping notices of time left.
async fn terminals(term: &mut Term) -> Result<Vec<u8>> {
    loop {
        match term.next_event(WAIT).await? {
            Event::Terminals(open) => return Ok(open),
            Event::Notice(SessionNotice::Expiring { .. }) => {}
            other => bail!("expected the terminals open, got {other:?}"),
        }
    }
}

/// Reads lists of terminals open until one is `expected`; fails naming those seen instead.
async fn until_terminals(term: &mut Term, expected: &[u8]) -> Result<()> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        let open = terminals(term).await?;
        if open == expected {
            return Ok(());
        }
        seen.push(open);
    }
    bail!("expected terminals {expected:?}, saw {seen:?}")
}

/// Opens a socket on terminal `number` of `session`, at its prompt.
async fn attach(server: &TestServer, session: &str, number: u8) -> Result<Term> {
    let mut term = Term::connect_raw(&server.socket_url()).await?;
    term.attach_terminal(session, number).await?;
    term.started().await?;
    if number == 0 {
        terminals(&mut term).await?;
    }
    term.send(ClientMessage::Resize { cols: 80, rows: 24 })
        .await?;
    term.wait_for(0, "$ ", WAIT).await?;
    Ok(term)
}

/// Asks for another terminal on the first one's socket and returns the list that names it.
async fn open_another(first: &mut Term) -> Result<Vec<u8>> {
    first.send(ClientMessage::OpenTerminal).await?;
    terminals(first).await
}

#[tokio::test]
async fn terminals_are_separate_shells_in_one_sandbox() -> Result<()> {
    let server = TestServer::start(test_config()).await?;
    let result = several_terminals(&server).await;
    server.server.shutdown().await;
    result
}

/// Under gVisor, where every shell is an exec, another terminal is refused with a reason (its
/// sandbox dies with several: SECURITY.md) and the first goes on. Skipped when runsc is not
/// registered, unless CI expects it.
#[tokio::test]
async fn gvisor_refuses_another_terminal_clearly() -> Result<()> {
    let Some(config) = common::gvisor_config().await? else {
        return Ok(());
    };
    let server = TestServer::start(config).await?;
    let result = async {
        let session = server.create_session().await?;
        let mut first = attach(&server, &session, 0).await?;
        first.send(ClientMessage::OpenTerminal).await?;
        match first.next_event(WAIT).await? {
            Event::Error(ErrorCode::TerminalRefused, message)
                if message.contains("cannot open a second terminal") => {}
            other => bail!("expected a refusal under gVisor, got {other:?}"),
        }
        ensure!(first.run("echo on").await? == "on");
        first.type_text("exit\r").await?;
        common::wait_removed(&session, WAIT).await?;
        Ok(())
    }
    .await;
    server.server.shutdown().await;
    result
}

async fn several_terminals(server: &TestServer) -> Result<()> {
    let session = server.create_session().await?;
    let mut first = attach(server, &session, 0).await?;
    ensure!(open_another(&mut first).await? == vec![0, 1]);
    let mut second = attach(server, &session, 1).await?;

    // Two shells (two pids, two ptys) in one container (one hostname, one home).
    let one = first
        .run("echo $$ $(readlink /proc/$$/fd/0) $(hostname); echo one > ~/shared")
        .await?;
    let two = second
        .run("echo $$ $(readlink /proc/$$/fd/0) $(hostname); cat ~/shared")
        .await?;
    let (one, two): (Vec<&str>, Vec<&str>) = (one.split(' ').collect(), two.lines().collect());
    let two_first: Vec<&str> = two.first().map_or(vec![], |l| l.split(' ').collect());
    ensure!(one.len() == 3 && two_first.len() == 3, "{one:?} / {two:?}");
    ensure!(one[0] != two_first[0], "same shell pid: {one:?} {two:?}");
    ensure!(one[1] != two_first[1], "same pty: {one:?} {two:?}");
    ensure!(
        one[2] == two_first[2],
        "different sandboxes: {one:?} {two:?}"
    );
    ensure!(
        two.get(1) == Some(&"one"),
        "the home is not shared: {two:?}"
    );

    // Each has its own size.
    second
        .send(ClientMessage::Resize {
            cols: 100,
            rows: 30,
        })
        .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    ensure!(second.run("stty size").await? == "30 100");
    ensure!(first.run("stty size").await? == "24 80");

    // A reload brings the second back with its screen, and its shell (the same pid).
    let pid = two_first[0].to_owned();
    drop(second);
    let mut second = Term::connect_raw(&server.socket_url()).await?;
    second.attach_terminal(&session, 1).await?;
    let (_, resumed) = second.started().await?;
    ensure!(resumed, "the second terminal's reattach is not a resume");
    second.wait_for(0, "one", WAIT).await?;
    ensure!(
        second.run("echo $$").await? == pid,
        "another shell after reload"
    );

    // The cap (4 by default, the first included) is said, not silently ignored.
    for expected in [vec![0, 1, 2], vec![0, 1, 2, 3]] {
        let open = open_another(&mut first).await?;
        ensure!(
            open == expected,
            "opened one more: {open:?}, expected {expected:?}"
        );
    }
    first.send(ClientMessage::OpenTerminal).await?;
    match first.next_event(WAIT).await? {
        Event::Error(ErrorCode::TerminalRefused, message) if message.contains("4 terminals") => {}
        other => bail!("a fifth terminal: expected a refusal naming the cap, got {other:?}"),
    }

    // Closing one leaves the others; its socket is told.
    first.send(ClientMessage::CloseTerminal(1)).await?;
    until_terminals(&mut first, &[0, 2, 3]).await?;
    match second.next_event(WAIT).await? {
        Event::Notice(SessionNotice::Ended {
            reason: EndReason::ShellExited,
        }) => {}
        other => bail!("the closed terminal's socket: expected its end, got {other:?}"),
    }
    ensure!(first.run("echo still").await? == "still");

    // A shell that exits closes its own terminal only.
    let mut third = attach(server, &session, 2)
        .await
        .context("attaching to the third terminal")?;
    third.type_text("exit\r").await?;
    until_terminals(&mut first, &[0, 3])
        .await
        .context("after an exit in the third terminal")?;
    ensure!(first.run("echo alive").await? == "alive");

    // A number never opened (or closed) attaches to nothing.
    let mut stale = Term::connect_raw(&server.socket_url()).await?;
    stale.attach_terminal(&session, 1).await?;
    match stale.next_event(WAIT).await? {
        Event::Notice(SessionNotice::Ended { .. }) => {}
        other => bail!("a closed terminal's number: expected its end, got {other:?}"),
    }

    // The first shell's exit leaves the sandbox to the others; the last shell's ends it.
    let mut fourth = attach(server, &session, 3)
        .await
        .context("attaching to the fourth terminal")?;
    let from = first.text().len();
    first.type_text("exit\r").await?;
    first
        .wait_for(
            from,
            "the sandbox stays while your other terminals run",
            WAIT,
        )
        .await?;
    ensure!(
        fourth.run("echo on").await? == "on",
        "the other shell went with the first"
    );
    fourth.type_text("exit\r").await?;
    for term in [&mut fourth, &mut first] {
        loop {
            match term.next_event(WAIT).await? {
                Event::Notice(SessionNotice::Ended {
                    reason: EndReason::ShellExited,
                }) => break,
                // The first socket hears the list without the last terminal.
                Event::Terminals(_) => {}
                other => bail!("expected the shell to end, got {other:?}"),
            }
        }
    }
    common::wait_removed(&session, WAIT).await?;
    Ok(())
}
