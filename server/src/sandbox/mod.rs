//! Containers behind a small trait, so the web layer never sees the engine.
//!
//! [`Sandbox`] is all the session layer knows about containers: create one for a session, open a
//! shell in it, resize that shell, list what exists, remove. [`docker::DockerSandbox`] implements
//! it with the Docker engine API; a Kubernetes implementation would slot in beside it.

pub mod docker;
pub mod engines;
mod hijack;
pub mod kubernetes;
mod spec;
pub mod tls;
mod usage;

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use tokio::io::AsyncWrite;

use crate::ids::EngineId;

pub use spec::{
    check_range, container_name, epoch_seconds, owner_in_name, ContainerSpec, SandboxLimits,
    INSTANCE_LABEL, NAME_PREFIX, SESSION_LABEL,
};
pub use usage::Usage;

/// Now, in seconds since the Unix epoch, as written in container labels.
pub fn spec_epoch_now() -> u64 {
    epoch_seconds(std::time::SystemTime::now())
}

/// The engine's id of a container.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContainerId(pub String);

/// The engine's id of a shell process running inside a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellId(pub String);

/// Columns and rows of a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TermSize {
    /// Columns of character cells.
    pub cols: u16,
    /// Rows of character cells.
    pub rows: u16,
}

impl Default for TermSize {
    fn default() -> Self {
        Self { cols: 80, rows: 24 }
    }
}

/// An interactive shell with a pty, running in a container.
pub struct Shell {
    /// Identifies the shell for [`Sandbox::resize_shell`].
    pub id: ShellId,
    /// Everything the shell writes to its terminal, in order. Ends when the shell exits.
    pub output: BoxStream<'static, Result<Bytes, SandboxError>>,
    /// The shell's terminal input.
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
}

/// A container the project made, as found on the engine.
#[derive(Debug, Clone)]
pub struct LabelledContainer {
    /// The engine's id.
    pub id: ContainerId,
    /// The value of the [`SESSION_LABEL`] label: the session's hash.
    pub session: String,
    /// The owner proof from the container's name, once a visitor had the session.
    pub owner: Option<String>,
    /// Whether the container is running.
    pub running: bool,
    /// Expiry time from the labels, in seconds since the Unix epoch, if readable.
    pub expires_at: Option<u64>,
}

/// A container of this deployment that stopped, as the engine reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoppedContainer {
    /// The engine's id.
    pub id: ContainerId,
    /// The value of the [`SESSION_LABEL`] label: the session's hash.
    pub session: String,
    /// The exit code of the container's process (the visitor's shell), when reported: below
    /// 128 the shell exited by itself; 128 + n it was killed by signal n.
    pub exit_code: Option<i64>,
}

/// What a command run beside the shell printed, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// Its exit code, when the engine reported one (a command cut off by the deadline has
    /// none).
    pub exit_code: Option<i64>,
    /// Its standard output and error, interleaved in order, cut at the limit asked for.
    pub output: Vec<u8>,
}

/// A command to run in a sandbox beside the visitor's shell: see [`Sandbox::run_command`].
#[derive(Debug, Clone)]
pub struct Command {
    /// The program and its arguments. Kept small: some engines' requests are limited to a few
    /// KiB (the socket proxy refuses an exec body over 16 KiB).
    pub argv: Vec<String>,
    /// How long to wait for it; the command should end itself sooner (e.g. under `timeout`),
    /// since the engine may not stop it when the wait is given up.
    pub deadline: std::time::Duration,
    /// The most output kept.
    pub max_output: usize,
    /// Whether its standard error goes into the output too (else it is dropped).
    pub keep_stderr: bool,
    /// The user to run as instead of the container's own (the socket proxy allows only the
    /// image's `checker` user).
    pub user: Option<String>,
    /// `NAME=value` pairs added to its environment: unlike its arguments, which anyone in the
    /// container can read in `/proc`, only its own user can read these.
    pub env: Vec<String>,
    /// What it reads on its standard input, which is then closed; `None` gives it none.
    pub stdin: Option<bytes::Bytes>,
}

impl Command {
    /// `argv` as the container's user, within `deadline`, keeping 4 KiB of its output,
    /// standard error included, with nothing added to its environment.
    pub fn new(argv: Vec<String>, deadline: std::time::Duration) -> Self {
        Self {
            argv,
            deadline,
            max_output: 4096,
            keep_stderr: true,
            user: None,
            env: Vec::new(),
            stdin: None,
        }
    }
}

/// Reports of containers that stop, for as long as the engine keeps the stream open.
pub type StoppedStream = BoxStream<'static, Result<StoppedContainer, SandboxError>>;

/// Why a sandbox operation failed, phrased for the person who can fix it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SandboxError {
    /// The container engine did not answer.
    #[error(
        "the sandbox is unavailable: cannot reach the container engine at {endpoint} ({detail})"
    )]
    EngineUnreachable {
        /// Where the engine was expected.
        endpoint: String,
        /// What the connection attempt said.
        detail: String,
    },
    /// The sandbox image has not been built on this server.
    #[error("the sandbox image {image} is missing on the server; build it with scripts/build-sandbox-image.sh")]
    ImageMissing {
        /// The image name from the configuration.
        image: String,
    },
    /// The container no longer exists or is not running.
    #[error("the sandbox container stopped or was removed ({detail})")]
    ContainerGone {
        /// What the engine said.
        detail: String,
    },
    /// The backend cannot do this (yet).
    #[error("this sandbox backend cannot {what}")]
    Unsupported {
        /// What was asked, e.g. "run a command beside the shell".
        what: &'static str,
    },
    /// A command beside the shell did not end in time.
    #[error("the command in the sandbox did not finish within {seconds} s")]
    CommandTimedOut {
        /// The deadline it was given.
        seconds: u64,
    },
    /// The engine refused or failed an operation.
    #[error("the container engine failed to {action}: {detail}")]
    Engine {
        /// What was being attempted, e.g. "create a container".
        action: &'static str,
        /// What the engine said.
        detail: String,
    },
}

/// Where sessions get their containers and shells.
#[async_trait]
pub trait Sandbox: Send + Sync + 'static {
    /// The engine's name, written in session records so any replica knows where a session's
    /// container runs. Default: `default`.
    fn engine(&self) -> EngineId {
        EngineId::new("default")
    }

    /// The engine holding `container`: [`Sandbox::engine`] unless the backend spreads
    /// containers over several engines.
    fn engine_of(&self, _container: &ContainerId) -> EngineId {
        self.engine()
    }

    /// Checks that the engine answers and the sandbox image is present.
    async fn check(&self) -> Result<(), SandboxError>;

    /// Creates a container for `spec`; it starts when its shell is first opened.
    async fn create(&self, spec: &ContainerSpec) -> Result<ContainerId, SandboxError>;

    /// Attaches to the container's login shell (a pty of `size`), starting the container if it
    /// is not running yet. May be called again on a running container, by this replica or
    /// another, after an earlier attach was lost: the shell and its processes live on.
    async fn open_shell(
        &self,
        container: &ContainerId,
        size: TermSize,
    ) -> Result<Shell, SandboxError>;

    /// Opens another shell in a running container, beside the one [`Sandbox::open_shell`]
    /// attaches to, with its own pty of `size` (a second terminal in the same sandbox, its
    /// session's terminal `number`). Unlike the first, it cannot be reattached; dropping its
    /// stream does not end it: the image's `rootresume-shell --beside NUMBER` writes its pid
    /// to `/tmp/.rootresume-terminal-NUMBER` for a hangup. The default cannot.
    async fn open_terminal(
        &self,
        _container: &ContainerId,
        _number: u8,
        _size: TermSize,
    ) -> Result<Shell, SandboxError> {
        Err(SandboxError::Unsupported {
            what: "open another terminal",
        })
    }

    /// Writes on a container, created for the warm pool, the proof of the visitor who now has
    /// its session (stored under the hash `session`; see
    /// [`crate::ids::SessionId::owner_proof`]), so that a later run adopting the container binds
    /// it to the same visitor. Docker renames the container (labels cannot change); when this
    /// fails, the session is not adopted after a restart.
    async fn set_owner(
        &self,
        container: &ContainerId,
        session: &str,
        proof: &str,
    ) -> Result<(), SandboxError>;

    /// How the container's own process ended: its exit code once it stopped, `None` while it
    /// runs or when the backend cannot tell. Asked when a shell's stream ends, to tell a shell
    /// that exited (below 128) from a sandbox that was killed or an engine that went away.
    async fn exit_code(&self, _container: &ContainerId) -> Result<Option<i64>, SandboxError> {
        Ok(None)
    }

    /// Resizes a shell's pty.
    async fn resize_shell(&self, shell: &ShellId, size: TermSize) -> Result<(), SandboxError>;

    /// Removes a container and everything in it. Removing one that is already gone succeeds.
    async fn remove(&self, container: &ContainerId) -> Result<(), SandboxError>;

    /// Runs a command in a running container, as the container's (the visitor's) user, with
    /// no terminal, beside the shell: what it prints is not shown to the visitor. Used to put a
    /// file the reader asked for into their home. The default cannot.
    async fn run_command(
        &self,
        _container: &ContainerId,
        _command: &Command,
    ) -> Result<CommandOutput, SandboxError> {
        Err(SandboxError::Unsupported {
            what: "run a command beside the shell",
        })
    }

    /// What the running `container` uses of its limits now (one engine call). The default
    /// cannot tell.
    async fn usage(&self, _container: &ContainerId) -> Result<Usage, SandboxError> {
        Err(SandboxError::Unsupported {
            what: "report a sandbox's resource use",
        })
    }

    /// Lists every container of this deployment carrying the [`SESSION_LABEL`] label, running
    /// or not.
    async fn list(&self) -> Result<Vec<LabelledContainer>, SandboxError>;

    /// Watches this deployment's containers and reports each one that stops from the moment of
    /// the call (a second earlier at most), so a session whose container dies (killed, out of
    /// memory, a crashed gVisor sandbox) ends within moments rather than at the reaper's next
    /// sweep. The default reports nothing: the reaper alone then notices.
    async fn stopped(&self) -> Result<StoppedStream, SandboxError> {
        Ok(futures_util::stream::pending().boxed())
    }
}
