//! Run buttons end to end below the page: a real server on port 0, real containers (through the
//! socket proxy in CI), `ClientMessage::Run` on the socket, the program's output on the screen.

mod common;

use std::time::Duration;

use anyhow::{bail, Result};
use base64::Engine as _;
use common::{test_config, Event, Term, TestServer};
use rootresume_protocol::{ClientMessage, ErrorCode, RunLang, RunRequest};

const WAIT: Duration = Duration::from_secs(30);

async fn ready_term(server: &TestServer) -> Result<Term> {
    let id = server.create_session().await?;
    let mut term = server.connect(&id).await?;
    term.started().await?;
    term.wait_for(0, "$ ", WAIT).await?;
    Ok(term)
}

async fn run(term: &mut Term, lang: RunLang, file: &str, code: &str) -> Result<()> {
    term.send(ClientMessage::Run(RunRequest {
        lang,
        file: file.into(),
        code: code.as_bytes().to_vec(),
    }))
    .await
}

#[tokio::test]
async fn blocks_run_byte_for_byte_and_interrupt_what_runs() -> Result<()> {
    let server = TestServer::start(test_config()).await?;
    // Shut down (removing the sandbox) whether or not the checks passed.
    let checked = blocks_run(&server).await;
    server.server.shutdown().await;
    checked
}

/// The same under gVisor, where the shell is an exec: skipped when runsc is not registered,
/// unless CI expects it.
#[tokio::test]
async fn blocks_run_under_gvisor_too() -> Result<()> {
    let Some(config) = common::gvisor_config().await? else {
        return Ok(());
    };
    let server = TestServer::start(config).await?;
    let checked = blocks_run(&server).await;
    server.server.shutdown().await;
    checked
}

async fn blocks_run(server: &TestServer) -> Result<()> {
    let mut term = ready_term(server).await?;

    // C: written to its file exactly, compiled and run; the page's bytes are never interpreted.
    let c = "#include <stdio.h>\nint main(void) {\n  puts(\"$(id) </script> 'q' \\\"dq\\\" from C\");\n  return 0;\n}\n";
    let from = term.text().len();
    run(&mut term, RunLang::C, "hello.c", c).await?;
    term.wait_for(from, "$(id) </script> 'q' \"dq\" from C", WAIT)
        .await?;
    let stored = term.run("base64 -w0 ~/hello.c").await?;
    assert_eq!(
        stored,
        base64::engine::general_purpose::STANDARD.encode(c),
        "the file differs from the block"
    );

    // Something in the foreground is interrupted first; the block then runs at a fresh prompt.
    term.type_text("sleep 100\r").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let from = term.text().len();
    run(
        &mut term,
        RunLang::Python,
        "after.py",
        "print('after', 6 * 7)\n",
    )
    .await?;
    term.wait_for(from, "after 42", Duration::from_secs(10))
        .await?;

    // Even a prompt that ignores Ctrl-C (Python's): Ctrl-\ ends it.
    term.type_text("python3\r").await?;
    term.wait_for(from, ">>> ", WAIT).await?;
    let from = term.text().len();
    run(
        &mut term,
        RunLang::Shell,
        "",
        "x=7\necho \"shell says $((x * 6))\"\n",
    )
    .await?;
    term.wait_for(from, "shell says 42", Duration::from_secs(10))
        .await?;
    // Shell lines arrive literally too: quoting in the block is the shell's business, the
    // page's bytes are not rewritten on the way.
    let from = term.text().len();
    run(
        &mut term,
        RunLang::Shell,
        "",
        "printf '%s|\\n' '$(id) </script>'\n",
    )
    .await?;
    term.wait_for(from, "$(id) </script>|", Duration::from_secs(10))
        .await?;

    // A half-typed line is cleared, not run with the block.
    term.type_text("echo half-typed").await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let from = term.text().len();
    run(&mut term, RunLang::Shell, "", "echo clean-line\n").await?;
    let seen = term
        .wait_for(from, "clean-line\r\n", Duration::from_secs(10))
        .await?;
    assert!(!seen.contains("half-typedecho"), "{seen}");

    // The reader can rerun what the block left in their home.
    assert_eq!(term.run("~/hello | tail -c 7").await?, "from C");
    Ok(())
}

#[tokio::test]
async fn a_block_that_cannot_run_says_why_and_the_session_goes_on() -> Result<()> {
    let server = TestServer::start(test_config()).await?;
    let mut term = ready_term(&server).await?;
    for (lang, file, code, why) in [
        (RunLang::C, "../escape.c", "int main(){}", "letters, digits"),
        (RunLang::Python, "x.c", "print(1)", "ends in .py"),
        (RunLang::Shell, "", "echo \x1b[201~ gone", "end-of-paste"),
    ] {
        run(&mut term, lang, file, code).await?;
        match term.next_event(WAIT).await? {
            Event::Error(ErrorCode::RunRefused, message) => {
                assert!(message.contains(why), "{message:?} should say {why:?}");
            }
            other => bail!("expected a refusal for {file:?}, got {other:?}"),
        }
    }
    assert_eq!(term.run("echo still here").await?, "still here");
    assert_eq!(term.run("ls ~ | grep -c escape || true").await?, "0");
    server.server.shutdown().await;
    Ok(())
}

/// A page newer than the server (a message kind this server does not know) is told so, and the
/// socket and the shell go on; an older page never sends the new kind at all.
#[tokio::test]
async fn a_request_newer_than_the_server_gets_a_clear_answer_not_a_hang() -> Result<()> {
    use futures_util::SinkExt;
    let server = TestServer::start(test_config()).await?;
    let mut term = ready_term(&server).await?;
    let frame = vec![rootresume_protocol::PROTOCOL_VERSION, 0x7f, 1, 2, 3];
    term.socket
        .send(tokio_tungstenite::tungstenite::Message::Binary(
            frame.into(),
        ))
        .await?;
    match term.next_event(WAIT).await? {
        Event::Error(ErrorCode::BadMessage, message) => {
            assert!(message.contains("older than the page"), "{message}");
        }
        other => bail!("expected a clear refusal, got {other:?}"),
    }
    assert_eq!(term.run("echo still attached").await?, "still attached");
    server.server.shutdown().await;
    Ok(())
}

async fn check(term: &mut Term, challenge: &str) -> Result<(bool, String)> {
    term.send(ClientMessage::Check {
        challenge: challenge.into(),
    })
    .await?;
    loop {
        match term.next_event(WAIT).await? {
            Event::Checked {
                challenge: answered,
                passed,
                message,
            } if answered == challenge => return Ok((passed, message)),
            Event::Notice(rootresume_protocol::SessionNotice::Expiring { .. }) => {}
            other => bail!("expected the verdict on {challenge}, got {other:?}"),
        }
    }
}

/// The challenge of content/posts/read-it-run-it.md: its check (content/challenges/
/// hello-name.sh) runs apart from the shell, fails before the work and after `echo PASS`,
/// passes after it, and a reload is told of the pass.
#[tokio::test]
async fn a_challenge_passes_on_the_work_and_not_on_words() -> Result<()> {
    let server = TestServer::start(test_config()).await?;
    let id = server.create_session().await?;
    let mut term = server.connect(&id).await?;
    term.started().await?;
    term.wait_for(0, "$ ", WAIT).await?;

    let (passed, message) = check(&mut term, "hello-name").await?;
    assert!(!passed && message.contains("no ~/hello yet"), "{message}");
    assert_eq!(term.run("echo PASS").await?, "PASS");
    assert!(!check(&mut term, "hello-name").await?.0, "echo PASS passed");

    let program = |name: &str| {
        format!("#include <stdio.h>\nint main(void) {{ printf(\"1: hello, {name}, from C\\n\"); return 0; }}\n")
    };
    let from = term.text().len();
    run(&mut term, RunLang::C, "hello.c", &program("reader")).await?;
    term.wait_for(from, "hello, reader, from C", WAIT).await?;
    let (passed, message) = check(&mut term, "hello-name").await?;
    assert!(!passed && message.contains("your own name"), "{message}");

    let from = term.text().len();
    run(&mut term, RunLang::C, "hello.c", &program("Grace")).await?;
    term.wait_for(from, "hello, Grace, from C", WAIT).await?;
    let (passed, message) = check(&mut term, "hello-name").await?;
    assert!(passed, "{message}");
    assert!(message.contains("Grace"), "{message}");
    // The check never lands in the visitor's home, and ran as another user.
    assert_eq!(
        term.run("grep -rl 177ELF ~ /tmp 2>/dev/null | wc -l")
            .await?,
        "0"
    );

    let (passed, message) = check(&mut term, "no-such-challenge").await?;
    assert!(!passed && message.contains("does not know"), "{message}");

    // A reload is told which challenges passed.
    drop(term);
    let mut again = server.connect(&id).await?;
    again.started().await?;
    match again.next_event(WAIT).await? {
        Event::Checked {
            challenge, passed, ..
        } => assert_eq!((challenge.as_str(), passed), ("hello-name", true)),
        other => bail!("expected the remembered pass, got {other:?}"),
    }
    server.server.shutdown().await;
    Ok(())
}
