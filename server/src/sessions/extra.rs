//! Terminals opened beside a session's first: each a shell exec'd in the same container with
//! its own pty, pumped by its own task until the shell exits, its tab closes it, or the session
//! stops.

use std::sync::Arc;

use futures_util::stream::BoxStream;

use super::supervisor::{pump, START_DEADLINE};
use super::terminal::Terminal;
use super::{Session, SessionManager, SessionState};
use crate::sandbox::{SandboxError, TermSize};

/// Why another terminal could not be opened, phrased for the visitor.
#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    /// The session has as many terminals as it may.
    #[error("this sandbox has {max} terminals open, the most it may have: close one first")]
    AtCap {
        /// The cap, `sessions.max_terminals`.
        max: usize,
    },
    /// The session is not running (starting, ending, or served by another process).
    #[error("your sandbox is not running right now: try again in a moment")]
    NotRunning,
    /// The sandbox backend cannot open a second shell.
    #[error("this server's sandboxes cannot open a second terminal")]
    Unsupported,
    /// The engine failed to open the shell (the detail goes to the log).
    #[error("your sandbox could not open another shell: try again in a moment")]
    Sandbox(#[source] SandboxError),
}

impl SessionManager {
    /// Opens another terminal in `session`'s container, of `size`; returns its number. The
    /// session's first socket learns of it through [`Session::watch_terminals`].
    pub async fn open_terminal(
        &self,
        session: &Arc<Session>,
        size: TermSize,
    ) -> Result<u8, TerminalError> {
        let container = match (session.state(), session.container()) {
            (SessionState::Running, Some(container)) => container,
            _ => return Err(TerminalError::NotRunning),
        };
        let max = self.settings.max_terminals;
        let number = session
            .reserve_terminal(max)
            .ok_or(TerminalError::AtCap { max })?;
        let opened = tokio::time::timeout(
            START_DEADLINE,
            self.sandbox.open_terminal(&container, number, size),
        )
        .await
        .unwrap_or_else(|_| {
            Err(SandboxError::Engine {
                action: "open another terminal",
                detail: format!("no answer within {} s", START_DEADLINE.as_secs()),
            })
        });
        let shell = match opened {
            Ok(shell) => shell,
            Err(error) => {
                session.remove_terminal(number);
                tracing::warn!(%error, "could not open another terminal");
                return Err(match error {
                    SandboxError::Unsupported { .. } => TerminalError::Unsupported,
                    error => TerminalError::Sandbox(error),
                });
            }
        };
        let terminal = session.new_terminal(number);
        terminal.set_shell(shell.id, shell.input).await;
        session.add_terminal(terminal.clone());
        tracing::info!(terminal = number, "opened another terminal");
        let hangup = Hangup {
            sandbox: self.sandbox.clone(),
            container,
        };
        let running = run_terminal(session.clone(), terminal, shell.output, hangup);
        self.tasks
            .spawn(tracing::Instrument::instrument(running, session.span()));
        Ok(number)
    }

    /// Closes terminal `number` of `session` (not the first, which ends with the session);
    /// returns whether it was open.
    pub fn close_terminal(&self, session: &Session, number: u8) -> bool {
        match session.terminal(number) {
            Some(terminal) if number != 0 => {
                terminal.close.cancel();
                true
            }
            _ => false,
        }
    }
}

/// How long closing a terminal waits for its shell's hangup to be sent.
const HANGUP_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);

/// Where to send a closed terminal's hangup.
struct Hangup {
    sandbox: Arc<dyn crate::sandbox::Sandbox>,
    container: crate::sandbox::ContainerId,
}

impl Hangup {
    /// Sends SIGHUP to terminal `number`'s shell, by the pid its `rootresume-shell` wrote: an
    /// exec'd shell outlives the connection that started it, and a closed terminal's shell
    /// must not (it would hold the sandbox open after the first shell exits).
    async fn send(&self, number: u8) {
        let argv = [
            "sh",
            "-c",
            // No quotes: the socket proxy refuses an exec body holding a backslash, and JSON
            // escapes quotes with one. $1 is a number.
            "kill -HUP $(cat /tmp/.rootresume-terminal-$1) && rm -f /tmp/.rootresume-terminal-$1",
            "sh",
        ];
        let mut argv: Vec<String> = argv.iter().map(|a| (*a).to_owned()).collect();
        argv.push(number.to_string());
        let command = crate::sandbox::Command::new(argv, HANGUP_DEADLINE);
        match self.sandbox.run_command(&self.container, &command).await {
            Ok(output) if output.exit_code == Some(0) => {}
            Ok(output) => tracing::info!(
                terminal = number,
                said = %String::from_utf8_lossy(&output.output),
                "a closed terminal's shell was gone already"
            ),
            Err(error) => {
                tracing::warn!(terminal = number, %error, "could not hang up on a closed terminal's shell")
            }
        }
    }
}

/// Copies a terminal's output into its log until its shell exits, its tab closes it (its shell
/// is then hung up on), or the session stops; then forgets the terminal.
async fn run_terminal(
    session: Arc<Session>,
    terminal: Arc<Terminal>,
    mut output: BoxStream<'static, Result<bytes::Bytes, SandboxError>>,
    hangup: Hangup,
) {
    tokio::select! {
        _ = pump(&mut output, &terminal) => {
            tracing::info!(terminal = terminal.number, "a terminal's shell ended");
        }
        () = terminal.close.cancelled() => {
            tracing::info!(terminal = terminal.number, "a terminal was closed");
            hangup.send(terminal.number).await;
            // The stream is left to end by itself: gVisor (Debian's runsc 20221219) brings the
            // whole sandbox down when an exec's connection drops while the process lives.
            let _ = tokio::time::timeout(HANGUP_DEADLINE, pump(&mut output, &terminal)).await;
        }
        () = session.stopped() => {}
        () = session.cancel.cancelled() => {}
        () = session.handover.cancelled() => {}
    }
    drop(output);
    terminal.hang_up().await;
    terminal.output.close();
    session.remove_terminal(terminal.number);
}
