//! A sandbox pod's shell over the API server's attach WebSocket: stdin, stdout, the resize
//! channel, and the status the server sends when the shell exits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::channel::mpsc;
use futures_util::{SinkExt, StreamExt};
use kube::api::{AttachParams, AttachedProcess, TerminalSize};
use tokio_util::io::ReaderStream;

use super::pod::CONTAINER_NAME;
use crate::sandbox::{SandboxError, Shell, ShellId, TermSize};

/// Largest chunk read from a shell's output at once, and the size of the pipes between the
/// WebSocket task and the shell's streams (kube's default of 1 KiB would cut output small).
const OUTPUT_CHUNK: usize = 32 * 1024;

/// Attach parameters for the visitor's shell: the container's own terminal (no stderr: a TTY
/// has one output), with room for a screenful at once.
pub fn shell_params() -> AttachParams {
    AttachParams {
        container: Some(CONTAINER_NAME.into()),
        stdin: true,
        stdout: true,
        stderr: false,
        tty: true,
        max_stdin_buf_size: Some(OUTPUT_CHUNK),
        max_stdout_buf_size: Some(OUTPUT_CHUNK),
        max_stderr_buf_size: None,
    }
}

/// The resize channels of the shells this process has attached, by shell id: resizing is a
/// message on the shell's own WebSocket, not an API call.
#[derive(Default)]
pub struct Terminals {
    next: AtomicU64,
    senders: Arc<Mutex<HashMap<String, mpsc::Sender<TerminalSize>>>>,
}

/// Removes a shell's resize channel when its output stream is dropped.
struct Registered {
    senders: Arc<Mutex<HashMap<String, mpsc::Sender<TerminalSize>>>>,
    id: String,
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut senders) = self.senders.lock() {
            senders.remove(&self.id);
        }
    }
}

/// What the output stream carries along: the attach itself (dropping it closes the socket) and
/// the registration of its resize channel.
struct Attached {
    output: ReaderStream<Box<dyn tokio::io::AsyncRead + Send + Unpin>>,
    process: Option<AttachedProcess>,
    _registered: Registered,
}

impl Terminals {
    /// Turns an attach into a [`Shell`] of `size`, registering its resize channel. `pod` names
    /// the shell in logs and errors.
    pub async fn shell(
        &self,
        pod: &str,
        mut process: AttachedProcess,
        size: TermSize,
    ) -> Result<Shell, SandboxError> {
        let broken = |what: &str| SandboxError::Engine {
            action: "attach to the shell",
            detail: format!("the attach of pod {pod} has no {what}"),
        };
        let input = process.stdin().ok_or_else(|| broken("stdin"))?;
        let output = process.stdout().ok_or_else(|| broken("stdout"))?;
        let resize = process
            .terminal_size()
            .ok_or_else(|| broken("resize channel"))?;
        let id = format!("{pod}#{}", self.next.fetch_add(1, Ordering::Relaxed));
        if let Ok(mut senders) = self.senders.lock() {
            // Shells whose attach ended and whose stream was never dropped go here.
            senders.retain(|_, sender| !sender.is_closed());
            senders.insert(id.clone(), resize);
        }
        let shell_id = ShellId(id.clone());
        self.resize(&shell_id, size).await?;
        let output: Box<dyn tokio::io::AsyncRead + Send + Unpin> = Box::new(output);
        let attached = Attached {
            output: ReaderStream::with_capacity(output, OUTPUT_CHUNK),
            process: Some(process),
            _registered: Registered {
                senders: self.senders.clone(),
                id,
            },
        };
        let pod = pod.to_owned();
        let output = futures_util::stream::unfold(Some(attached), move |state| {
            let pod = pod.clone();
            async move {
                let mut attached = state?;
                match attached.output.next().await {
                    Some(Ok(chunk)) => Some((Ok(chunk), Some(attached))),
                    Some(Err(error)) => Some((Err(lost(&pod, &error.to_string())), None)),
                    // End of output: the shell exited or the socket closed; the status says
                    // which. A failure other than the shell's own exit code is an error.
                    None => {
                        let process = attached.process.take()?;
                        ended(&pod, process).await.map(|error| (Err(error), None))
                    }
                }
            }
        });
        Ok(Shell {
            id: shell_id,
            output: output.boxed(),
            input: Box::pin(input),
        })
    }

    /// Sends a new size down the shell's resize channel.
    pub async fn resize(&self, shell: &ShellId, size: TermSize) -> Result<(), SandboxError> {
        let sender = self
            .senders
            .lock()
            .ok()
            .and_then(|senders| senders.get(&shell.0).cloned());
        let gone = || SandboxError::ContainerGone {
            detail: format!("the attach of shell {} has ended", shell.0),
        };
        let mut sender = sender.ok_or_else(gone)?;
        let size = TerminalSize {
            width: size.cols.max(1),
            height: size.rows.max(1),
        };
        sender.send(size).await.map_err(|_| gone())
    }
}

fn lost(pod: &str, detail: &str) -> SandboxError {
    SandboxError::ContainerGone {
        detail: format!("the attach of pod {pod} broke: {detail}"),
    }
}

/// Why the output ended, if that is an error: the status frame (channel 3) when the server
/// sent one, else the WebSocket task's own failure.
async fn ended(pod: &str, mut process: AttachedProcess) -> Option<SandboxError> {
    let status = match process.take_status() {
        Some(status) => status.await,
        None => None,
    };
    let joined = process.join().await;
    match status {
        Some(status) => {
            let failed = status.status.as_deref() == Some("Failure");
            let exit_code = status.reason.as_deref() == Some("NonZeroExitCode");
            (failed && !exit_code).then(|| {
                let message = status.message.unwrap_or_default();
                lost(pod, &format!("the API server said: {message}"))
            })
        }
        None => joined.err().map(|error| lost(pod, &error.to_string())),
    }
}
