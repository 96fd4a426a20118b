//! Runs a code block from a page in a session's shell, as the reader would by hand: the file
//! goes into their home, the shell is brought back to its prompt (what runs in the foreground
//! is interrupted), and the command that runs the block is typed at the prompt, so the reader
//! sees it happen and can edit and rerun it.
//!
//! The shell marks its prompt in its output (`sandbox/bashrc`): OSC 133 `A` where a prompt
//! starts and `C` where a command starts running, the semantic-prompt marks several terminals
//! understand and xterm.js ignores. The last mark in the output says whether the shell is
//! waiting at its prompt. A visitor printing the marks fools only their own Run button.

use std::time::Duration;

use base64::Engine as _;
use rootresume_protocol::{check_file_name, RunLang, RunRequest};

use super::session::{Session, SessionState};
use crate::sandbox::{Command, Sandbox, SandboxError};

/// The largest block that can be run.
pub const MAX_CODE: usize = 48 * 1024;
/// The most of a block written by one command: its base64 stays under the socket proxy's 16 KiB
/// limit on a request body.
const CHUNK: usize = 9 * 1024;
/// How long a file write may take.
const WRITE_DEADLINE: Duration = Duration::from_secs(10);
/// How long the shell gets to show a prompt after each way of interrupting it.
const INTERRUPT_WAIT: Duration = Duration::from_millis(1500);
/// How long a command that just ended gets to print its prompt before it is interrupted.
const PROMPT_GRACE: Duration = Duration::from_millis(300);
/// How long the shell must stay silent after an interrupt before the block is typed.
const QUIET: Duration = Duration::from_millis(100);
/// How long a shell that has not printed its first prompt yet gets to do so.
const FIRST_PROMPT_WAIT: Duration = Duration::from_secs(10);
/// How much of the recent output is searched for the last prompt mark.
const TAIL: usize = 64 * 1024;

/// Where a prompt starts (OSC 133 `A`).
const PROMPT_MARK: &[u8] = b"\x1b]133;A";
/// Where a command starts running (OSC 133 `C`).
const COMMAND_MARK: &[u8] = b"\x1b]133;C";
/// Bracketed paste: the shell inserts what comes between these literally.
const PASTE_START: &[u8] = b"\x1b[200~";
const PASTE_END: &[u8] = b"\x1b[201~";

/// Why a block was not run, in words for the reader.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The request itself cannot be run.
    #[error("{0}")]
    Refused(String),
    /// The sandbox is not running (yet, or any more).
    #[error("your sandbox is not running: start it, then press Run again")]
    NotRunning,
    /// Something in the foreground ignored Ctrl-C and Ctrl-\.
    #[error("the program in the foreground did not stop for Ctrl-C or Ctrl-\\: leave it (for vi, type :q!), then press Run again")]
    Busy,
    /// Writing the file failed.
    #[error("could not write {file} in your home: {detail}")]
    Write {
        /// The file's name.
        file: String,
        /// What the command said.
        detail: String,
    },
    /// The engine failed.
    #[error("{0}")]
    Sandbox(#[from] SandboxError),
    /// The shell stopped taking input.
    #[error("your shell is not taking input: {0}")]
    Input(#[from] std::io::Error),
}

/// What running a block takes: the commands writing its file, then the keys typed at the
/// prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Commands run beside the shell that write the block's file, in order.
    pub writes: Vec<Vec<String>>,
    /// What is typed at the prompt.
    pub typed: Vec<u8>,
}

/// Works out how to run `request`, or why it cannot be.
pub fn plan(request: &RunRequest) -> Result<Plan, RunError> {
    let RunRequest { lang, file, code } = request;
    if code.len() > MAX_CODE {
        return Err(RunError::Refused(format!(
            "this block is {} KiB; blocks of up to {} KiB can be run",
            code.len().div_ceil(1024),
            MAX_CODE / 1024
        )));
    }
    if *lang == RunLang::Shell {
        if find(code, PASTE_END).is_some() {
            return Err(RunError::Refused(
                "this block holds the end-of-paste sequence (ESC [201~), which would end the paste early; it cannot be typed as lines".into(),
            ));
        }
        let lines = code.strip_suffix(b"\n").unwrap_or(code);
        let mut typed = PASTE_START.to_vec();
        typed.extend_from_slice(lines);
        typed.extend_from_slice(PASTE_END);
        typed.push(b'\r');
        return Ok(Plan {
            writes: Vec::new(),
            typed,
        });
    }
    check_file_name(*lang, file).map_err(|error| RunError::Refused(error.to_string()))?;
    let mut writes = Vec::new();
    // The first piece creates (or empties) the file, the rest append: an empty block still
    // gives an empty file. The script has no quotes or backslashes (the socket proxy refuses
    // request bodies with escapes); the name is checked plain and base64 has no special
    // characters, so neither needs quoting.
    let mut pieces: Vec<&[u8]> = code.chunks(CHUNK).collect();
    if pieces.is_empty() {
        pieces.push(&[]);
    }
    for (index, piece) in pieces.into_iter().enumerate() {
        let redirect = if index == 0 { ">" } else { ">>" };
        writes.push(vec![
            "sh".into(),
            "-c".into(),
            format!("printf %s $2 | base64 -d {redirect} $HOME/$1"),
            "sh".into(),
            file.clone(),
            base64::engine::general_purpose::STANDARD.encode(piece),
        ]);
    }
    let typed = match lang {
        RunLang::C => {
            let program = file.strip_suffix(".c").unwrap_or(file);
            format!("gcc -Wall -o ~/{program} ~/{file} && ~/{program}\r")
        }
        RunLang::Python => format!("python3 ~/{file}\r"),
        RunLang::Shell => unreachable!("shell blocks returned above"),
    };
    Ok(Plan {
        writes,
        typed: typed.into_bytes(),
    })
}

/// Whether the shell waits at its prompt, from its recent output: `Some(true)` when the last
/// mark is a prompt's, `Some(false)` when a command started after it, `None` with no mark.
pub fn at_prompt(output: &[u8]) -> Option<bool> {
    match (rfind(output, PROMPT_MARK), rfind(output, COMMAND_MARK)) {
        (None, None) => None,
        (Some(_), None) => Some(true),
        (None, Some(_)) => Some(false),
        (Some(prompt), Some(command)) => Some(prompt > command),
    }
}

/// Runs `request` in `session`'s shell.
pub async fn run(
    sandbox: &dyn Sandbox,
    session: &Session,
    request: &RunRequest,
) -> Result<(), RunError> {
    let plan = plan(request)?;
    if !matches!(session.state(), SessionState::Running) {
        return Err(RunError::NotRunning);
    }
    let container = session.container().ok_or(RunError::NotRunning)?;
    for argv in plan.writes {
        let command = Command::new(argv, WRITE_DEADLINE);
        let written = sandbox.run_command(&container, &command).await?;
        if written.exit_code != Some(0) {
            let said = String::from_utf8_lossy(&written.output).trim().to_owned();
            return Err(RunError::Write {
                file: request.file.clone(),
                detail: if said.is_empty() {
                    format!("exit code {:?}", written.exit_code)
                } else {
                    said
                },
            });
        }
    }
    to_prompt(session).await?;
    session.write_input(&plan.typed).await?;
    Ok(())
}

/// Brings the shell to an empty prompt: waits for one that is coming, interrupts what runs,
/// and clears a half-typed line.
async fn to_prompt(session: &Session) -> Result<(), RunError> {
    let end = session.main().output.end();
    let (tail, whole) = session.main().output.tail(TAIL);
    let waiting = match at_prompt(&tail) {
        Some(true) => true,
        // A new shell still starting (its profile loading): interrupting would cut that short.
        None if whole => prompt_after(session, 0, FIRST_PROMPT_WAIT).await,
        // A command that just ended prints its prompt in a moment: a Ctrl-C then would land in
        // the new prompt's line editor and garble what is typed next.
        _ => prompt_after(session, end, PROMPT_GRACE).await,
    };
    if !waiting {
        // Ctrl-C, then Ctrl-\ for what ignores it (a Python prompt), as a reader would.
        let mut stopped = false;
        for key in [b"\x03", b"\x1c"] {
            let from = session.main().output.end();
            session.write_input(key).await?;
            if prompt_after(session, from, INTERRUPT_WAIT).await {
                stopped = true;
                break;
            }
        }
        if !stopped {
            return Err(RunError::Busy);
        }
        // The shell may still be redrawing after the interrupt; typing into that loses keys.
        quiet(session, QUIET, INTERRUPT_WAIT).await;
    }
    // End of line, then erase to its start: nothing the reader half typed runs with the block.
    session.write_input(b"\x05\x15").await?;
    Ok(())
}

/// Waits until the shell has printed nothing for `quiet`, or `limit` passed.
async fn quiet(session: &Session, quiet: Duration, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let end = session.main().output.end();
        let grown = tokio::time::timeout(quiet, session.main().output.grown(end)).await;
        if grown.is_err()
            || tokio::time::Instant::now() >= deadline
            || session.main().output.end() == end
        {
            return;
        }
    }
}

/// Whether a prompt mark appears in the output past position `from` within `wait`.
async fn prompt_after(session: &Session, from: u64, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let end = session.main().output.end();
        if find(&session.main().output.since(from), PROMPT_MARK).is_some() {
            return true;
        }
        if tokio::time::timeout_at(deadline, session.main().output.grown(end))
            .await
            .is_err()
        {
            return false;
        }
        if session.main().output.end() == end {
            // Grown returned without growth: the log closed, the shell is gone.
            return false;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .rposition(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(lang: RunLang, file: &str, code: &[u8]) -> RunRequest {
        RunRequest {
            lang,
            file: file.into(),
            code: code.to_vec(),
        }
    }

    #[test]
    fn c_is_written_compiled_and_run() {
        let plan = plan(&request(RunLang::C, "hello.c", b"int main(){}\n")).unwrap();
        assert_eq!(plan.writes.len(), 1);
        assert_eq!(plan.writes[0][4], "hello.c");
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(&plan.writes[0][5])
                .unwrap(),
            b"int main(){}\n"
        );
        assert!(plan.writes[0][2].contains("> $HOME/$1"));
        assert_eq!(
            plan.typed,
            b"gcc -Wall -o ~/hello ~/hello.c && ~/hello\r".to_vec()
        );
    }

    #[test]
    fn big_blocks_go_in_pieces_that_append() {
        let code = vec![b'x'; CHUNK * 2 + 1];
        let plan = plan(&request(RunLang::Python, "big.py", &code)).unwrap();
        assert_eq!(plan.writes.len(), 3);
        assert!(plan.writes[0][2].contains(" > "));
        assert!(plan.writes[1][2].contains(" >> "));
        let joined: Vec<u8> = plan
            .writes
            .iter()
            .flat_map(|argv| {
                base64::engine::general_purpose::STANDARD
                    .decode(&argv[5])
                    .unwrap()
            })
            .collect();
        assert_eq!(joined, code);
        // Each request body stays well under the proxy's 16 KiB.
        assert!(plan.writes.iter().all(|argv| argv[5].len() < 13 * 1024));
        assert_eq!(plan.typed, b"python3 ~/big.py\r".to_vec());
    }

    #[test]
    fn shell_lines_are_pasted_byte_for_byte() {
        let code = b"echo '$(id) </script>'\nprintf '\\033[1mbold\\n'\n";
        let plan = plan(&request(RunLang::Shell, "", code)).unwrap();
        assert!(plan.writes.is_empty());
        let mut expected = PASTE_START.to_vec();
        expected.extend_from_slice(&code[..code.len() - 1]);
        expected.extend_from_slice(PASTE_END);
        expected.push(b'\r');
        assert_eq!(plan.typed, expected);
    }

    #[test]
    fn what_cannot_run_says_why() {
        let refused = |request: RunRequest| match plan(&request) {
            Err(RunError::Refused(why)) => why,
            other => panic!("{other:?}"),
        };
        assert!(refused(request(RunLang::C, "../x.c", b"")).contains("letters, digits"));
        assert!(refused(request(RunLang::C, "x.py", b"")).contains(".c"));
        assert!(refused(request(RunLang::Shell, "", b"a\x1b[201~b")).contains("end-of-paste"));
        assert!(refused(request(RunLang::C, "x.c", &vec![0; MAX_CODE + 1])).contains("KiB"));
    }

    #[test]
    fn the_last_mark_tells_whether_the_shell_waits() {
        assert_eq!(at_prompt(b"no marks"), None);
        assert_eq!(at_prompt(b"\x1b]133;A\x07$ "), Some(true));
        assert_eq!(
            at_prompt(b"\x1b]133;A\x07$ sleep 9\r\n\x1b]133;C\x07"),
            Some(false)
        );
        assert_eq!(
            at_prompt(b"\x1b]133;C\x07out\x1b]133;A\x07$ half typ"),
            Some(true)
        );
    }
}
