//! Checks a reader's work for a challenge: the challenge's script (`content/challenges/<id>.sh`)
//! runs in their sandbox as a process of its own, apart from their shell, as the image's
//! `checker` user. It passes when the script exits 0; its last line is what the reader is told.
//!
//! The script travels in the command's environment, which other users cannot read in `/proc`
//! (its arguments they could), and never lands in the reader's home. The command line carries
//! no quotes or backslashes, which the socket proxy refuses in a request body: the shell takes
//! the decoded script as one word (no field splitting, no globbing) and restores both for it.

use std::time::Duration;

use base64::Engine as _;

use super::session::{Session, SessionState};
use crate::sandbox::{Command, Sandbox, SandboxError};

/// The user checks run as (created in `sandbox/Dockerfile`).
pub const CHECK_USER: &str = "checker";
/// How long a check may run inside the sandbox.
const CHECK_SECONDS: u64 = 20;
/// The most of a check's output kept (its last line is the answer).
const MAX_OUTPUT: usize = 16 * 1024;
/// The longest answer shown to the reader.
const MAX_ANSWER: usize = 300;

/// A check's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the work passes.
    pub passed: bool,
    /// What the check said (its last line), or why it could not say.
    pub message: String,
}

/// The command that runs `script` as the checker, under a deadline.
pub fn command(script: &str) -> Command {
    // Field splitting and globbing, off to take the script as one word, come back for it.
    let script = format!("set +f\nunset IFS\n{script}");
    Command {
        argv: vec![
            "timeout".into(),
            CHECK_SECONDS.to_string(),
            "sh".into(),
            "-c".into(),
            "set -f; IFS=; eval $(printf %s $RR_CHECK | base64 -d)".into(),
        ],
        deadline: Duration::from_secs(CHECK_SECONDS + 5),
        max_output: MAX_OUTPUT,
        keep_stderr: true,
        user: Some(CHECK_USER.into()),
        env: vec![format!(
            "RR_CHECK={}",
            base64::engine::general_purpose::STANDARD.encode(script)
        )],
        stdin: None,
    }
}

/// The verdict from a check's exit code and output.
pub fn verdict(exit_code: Option<i64>, output: &[u8]) -> Verdict {
    let text = String::from_utf8_lossy(output);
    let last = text
        .lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty())
        .unwrap_or("");
    let mut message: String = last.chars().take(MAX_ANSWER).collect();
    let passed = exit_code == Some(0);
    if message.is_empty() {
        message = match exit_code {
            Some(0) => "passed".into(),
            Some(124) => format!("the check took more than {CHECK_SECONDS} s"),
            _ => "not yet".into(),
        };
    }
    Verdict { passed, message }
}

/// Runs challenge `id`'s `script` in `session`'s sandbox; a pass is remembered by the session.
pub async fn check(
    sandbox: &dyn Sandbox,
    session: &Session,
    id: &str,
    script: &str,
) -> Result<Verdict, SandboxError> {
    if !matches!(session.state(), SessionState::Running) {
        return Ok(Verdict {
            passed: false,
            message: "your sandbox is not running: start it, then press Check again".into(),
        });
    }
    let Some(container) = session.container() else {
        return Ok(Verdict {
            passed: false,
            message: "your sandbox is still starting: press Check again in a moment".into(),
        });
    };
    let output = sandbox.run_command(&container, &command(script)).await?;
    let verdict = verdict(output.exit_code, &output.output);
    if verdict.passed {
        session.mark_passed(id);
    }
    Ok(verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_has_no_quotes_or_backslashes_and_hides_the_script() {
        let command = command("echo \"it's $HOME\"\nexit 0\n");
        for arg in &command.argv {
            assert!(!arg.contains(['"', '\'', '\\']), "{arg}");
        }
        assert!(!command.argv.concat().contains("HOME"));
        let encoded = command.env[0].strip_prefix("RR_CHECK=").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert!(String::from_utf8(decoded)
            .unwrap()
            .ends_with("echo \"it's $HOME\"\nexit 0\n"));
        assert_eq!(command.user.as_deref(), Some("checker"));
    }

    #[test]
    fn the_exit_code_decides_and_the_last_line_explains() {
        let pass = verdict(Some(0), b"checking\nPassed: hi\n\n");
        assert_eq!((pass.passed, pass.message.as_str()), (true, "Passed: hi"));
        let fail = verdict(Some(1), b"PASS\nno ~/hello yet\n");
        assert_eq!(
            (fail.passed, fail.message.as_str()),
            (false, "no ~/hello yet")
        );
        assert!(!verdict(None, b"").passed);
        assert!(verdict(Some(124), b"").message.contains("20 s"));
        assert_eq!(
            verdict(Some(1), "x".repeat(1000).as_bytes()).message.len(),
            300
        );
    }
}
