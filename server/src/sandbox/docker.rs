//! The [`Sandbox`] implementation on the Docker engine API, through bollard.

use std::collections::HashMap;

use async_trait::async_trait;
use bollard::errors::Error as BollardError;
use bollard::exec::{CreateExecOptions, ResizeExecOptions};
use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig, ResourcesUlimits};
use bollard::query_parameters::{
    CreateContainerOptions, EventsOptions, ListContainersOptions, RemoveContainerOptions,
    RenameContainerOptions, ResizeContainerTTYOptions, StatsOptions, WaitContainerOptions,
};
use bollard::{Docker, API_DEFAULT_VERSION};
use futures_util::StreamExt;
use tokio::sync::OnceCell;

use super::hijack::HijackError;
use super::spec::{ENGINE_LABEL, EXPIRES_LABEL, INSTANCE_LABEL};
use super::tls::{EngineTls, TlsClient};
use super::{
    Command, CommandOutput, ContainerId, ContainerSpec, LabelledContainer, Sandbox, SandboxError,
    Shell, ShellId, StoppedContainer, StoppedStream, TermSize, SESSION_LABEL,
};

/// Seconds to wait for the engine to answer a request (streams are not cut by this).
const REQUEST_TIMEOUT_SECS: u64 = 30;
/// How long [`Sandbox::exit_code`] waits for a container to be reported stopped.
const EXIT_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
/// Largest chunk read from a shell's output at once.
const OUTPUT_CHUNK: usize = 32 * 1024;
/// The program that seeds the home directory and becomes the visitor's login shell. It is the
/// container's own process (under the init), not an exec: an exec's shell gets end-of-file and
/// exits when the connection that started it closes, while the container's process outlives
/// any one attach, so another replica can attach to the same running shell after this one dies.
pub const SHELL_COMMAND: &str = "/usr/local/bin/rootresume-shell";
/// [`SHELL_COMMAND`]'s argument for a terminal opened beside the first.
const BESIDE: &str = "--beside";
/// [`SHELL_COMMAND`]'s argument for a first shell that never has others beside it
/// ([`ShellMode::Exec`]): it becomes bash itself instead of waiting for other terminals.
const ALONE: &str = "--alone";

/// The runtime whose TTY containers cannot keep their shell: Debian's gVisor (release
/// 20221219) gives a container's own TTY process end-of-file on its first read, so under it
/// the shell runs as an exec in an idle container instead (see [`ShellMode`]).
pub const EXEC_SHELL_RUNTIME: &str = "runsc";
/// Memory added to the container's limit under gVisor (runsc), in MiB. There the cgroup holds
/// gVisor's own kernel (the sentry: 12 MiB idle, 23 MiB after a gcc run) beside the visitor's
/// processes, and the kernel's OOM killer ends the sentry, and with it the whole sandbox, when
/// the sum passes the limit: measured with a 128 MiB limit, a visitor's program holding 112 MiB
/// ended the sandbox (peak 132 MiB with the margin). With it the visitor keeps
/// `sandbox.memory_mib`, as under runc.
pub const GVISOR_MEMORY_MARGIN_MIB: u32 = 32;
/// How a [`ShellId`] of an exec'd shell starts (the rest is the exec's id).
const EXEC_SHELL: &str = "exec:";

/// Where a sandbox's shell runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShellMode {
    /// The container's own process: it outlives every attach, so another replica can take the
    /// same running shell over.
    Process,
    /// An exec in an idle container: each open starts a new shell (files are kept, running
    /// programs are not), because the runtime cannot keep a TTY process (gVisor, see
    /// [`EXEC_SHELL_RUNTIME`]).
    Exec,
}

impl ShellMode {
    /// The mode for containers of `runtime`.
    pub fn for_runtime(runtime: &str) -> Self {
        if runtime == EXEC_SHELL_RUNTIME {
            Self::Exec
        } else {
            Self::Process
        }
    }
}

/// Containers on a Docker engine.
pub struct DockerSandbox {
    endpoint: String,
    image: String,
    instance: String,
    /// Where shells run (by the configured runtime).
    shell_mode: ShellMode,
    /// The engine's name in `[[engines]]`, when it is one of several.
    name: Option<String>,
    /// Mutual TLS to a TCP endpoint: the files (for the API client) and the client (for the
    /// attach connections, which bypass it).
    tls: Option<(EngineTls, TlsClient)>,
    /// The client after API version negotiation. Negotiation needs the engine to answer, so it
    /// happens on first use and is retried until it succeeds: the server starts and keeps running
    /// while the engine is down, and recovers when it comes back.
    client: OnceCell<Docker>,
}

impl DockerSandbox {
    /// Prepares a client for the engine at `endpoint` (`unix:///path` or `tcp://host:port`).
    /// Nothing is sent to the engine until the first operation.
    pub fn new(endpoint: &str, image: &str) -> Result<Self, SandboxError> {
        let supported = ["unix://", "tcp://", "http://", "/"];
        if !supported.iter().any(|prefix| endpoint.starts_with(prefix)) {
            return Err(SandboxError::EngineUnreachable {
                endpoint: endpoint.to_owned(),
                detail: "the endpoint must start with unix://, tcp:// or http://".into(),
            });
        }
        Ok(Self {
            endpoint: endpoint.to_owned(),
            image: image.to_owned(),
            instance: "default".into(),
            shell_mode: ShellMode::Process,
            name: None,
            tls: None,
            client: OnceCell::new(),
        })
    }

    /// Names the deployment whose containers this sandbox creates, lists and reaps (the
    /// [`INSTANCE_LABEL`]), so servers or test runs sharing one engine leave each other alone.
    pub fn with_instance(mut self, instance: &str) -> Self {
        self.instance = instance.to_owned();
        self
    }

    /// Names the engine (one of `[[engines]]`): its containers carry the name in the
    /// `rootresume.engine` label, and records name the engine by it.
    pub fn with_name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// Speaks mutual TLS to the engine's `tcp://` endpoint with these files; fails when they
    /// cannot be read or the endpoint is not TCP.
    pub fn with_tls(mut self, tls: &EngineTls) -> Result<Self, SandboxError> {
        if !self.endpoint.starts_with("tcp://") {
            return Err(SandboxError::EngineUnreachable {
                endpoint: self.endpoint.clone(),
                detail: "TLS needs a tcp:// endpoint".into(),
            });
        }
        let client = tls.client(&self.endpoint)?;
        self.tls = Some((tls.clone(), client));
        Ok(self)
    }

    fn tls_client(&self) -> Option<&TlsClient> {
        self.tls.as_ref().map(|(_, client)| client)
    }

    /// Runs shells the way containers of `runtime` can keep them (see [`ShellMode`]); must
    /// match `sandbox.runtime`, which [`container_body`] reads.
    pub fn with_runtime(mut self, runtime: &str) -> Self {
        self.shell_mode = ShellMode::for_runtime(runtime);
        self
    }

    async fn client(&self) -> Result<&Docker, SandboxError> {
        self.client
            .get_or_try_init(|| async {
                let endpoint = &self.endpoint;
                let connected = if let Some((files, _)) = &self.tls {
                    Docker::connect_with_ssl(
                        endpoint,
                        &files.key,
                        &files.cert,
                        &files.ca,
                        REQUEST_TIMEOUT_SECS,
                        API_DEFAULT_VERSION,
                    )
                } else if endpoint.starts_with("tcp://") || endpoint.starts_with("http://") {
                    Docker::connect_with_http(endpoint, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
                } else {
                    Docker::connect_with_unix(endpoint, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
                };
                connected
                    .map_err(|e| self.classify("reach the engine", e))?
                    .negotiate_version()
                    .await
                    .map_err(|e| self.classify("reach the engine", e))
            })
            .await
    }

    /// The engine's filter for this deployment's containers.
    fn label_filter(&self) -> (String, Vec<String>) {
        (
            "label".to_owned(),
            vec![
                SESSION_LABEL.to_owned(),
                format!("{INSTANCE_LABEL}={}", self.instance),
            ],
        )
    }

    /// Starts a container; one already running (another replica started it) is fine.
    async fn start(&self, docker: &Docker, container: &ContainerId) -> Result<(), SandboxError> {
        match docker.start_container(&container.0, None).await {
            Ok(())
            | Err(BollardError::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(error) => Err(self.classify("start a container", error)),
        }
    }

    /// A shell from a hijacked stream, its read errors phrased like every other engine error.
    fn shell(&self, id: ShellId, hijacked: super::hijack::Hijacked) -> Shell {
        let (output, input) = hijacked;
        let endpoint = self.endpoint.clone();
        let output = output
            .map(move |chunk| {
                chunk.map_err(|e| SandboxError::EngineUnreachable {
                    endpoint: endpoint.clone(),
                    detail: e.to_string(),
                })
            })
            .boxed();
        Shell { id, output, input }
    }

    fn hijack_error(&self, error: HijackError) -> SandboxError {
        match error {
            HijackError::Connect(e) => SandboxError::EngineUnreachable {
                endpoint: self.endpoint.clone(),
                detail: e.to_string(),
            },
            HijackError::Refused { status, message } if status == 404 || status == 409 => {
                SandboxError::ContainerGone { detail: message }
            }
            HijackError::Refused { status, message } => SandboxError::Engine {
                action: "attach to the shell",
                detail: format!("{status}: {message}"),
            },
        }
    }

    /// [`Sandbox::open_shell`] in [`ShellMode::Exec`]: starts the idle container if needed,
    /// then a login shell as an exec with a TTY.
    async fn open_exec_shell(
        &self,
        container: &ContainerId,
        size: TermSize,
    ) -> Result<Shell, SandboxError> {
        let docker = self.client().await?;
        self.start(docker, container).await?;
        self.exec_shell(container, size, None).await
    }

    /// A login shell exec'd in the running `container`, with a pty of `size`: the session's
    /// first, or with `beside`, another terminal's, by its number (which the first waits for
    /// when it exits; see sandbox/rootresume-shell).
    async fn exec_shell(
        &self,
        container: &ContainerId,
        size: TermSize,
        beside: Option<u8>,
    ) -> Result<Shell, SandboxError> {
        let docker = self.client().await?;
        let exec = docker
            .create_exec(
                &container.0,
                CreateExecOptions::<String> {
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    tty: Some(true),
                    cmd: Some(match beside {
                        Some(number) => {
                            vec![SHELL_COMMAND.into(), BESIDE.into(), number.to_string()]
                        }
                        None => vec![SHELL_COMMAND.into(), ALONE.into()],
                    }),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| self.classify("start a shell", e))?;
        let hijacked =
            super::hijack::start_exec(&self.endpoint, self.tls_client(), &exec.id, OUTPUT_CHUNK)
                .await
                .map_err(|error| self.hijack_error(error))?;
        let shell_id = ShellId(format!("{EXEC_SHELL}{}", exec.id));
        self.resize_shell(&shell_id, size).await?;
        Ok(self.shell(shell_id, hijacked))
    }

    fn classify(&self, action: &'static str, error: BollardError) -> SandboxError {
        match error {
            BollardError::DockerResponseServerError {
                status_code: 404,
                message,
            } => {
                if message.contains("image") {
                    SandboxError::ImageMissing {
                        image: self.image.clone(),
                    }
                } else {
                    SandboxError::ContainerGone { detail: message }
                }
            }
            BollardError::DockerResponseServerError {
                status_code: 409,
                message,
            } if message.contains("not running") => SandboxError::ContainerGone { detail: message },
            BollardError::DockerResponseServerError {
                status_code,
                message,
            } => SandboxError::Engine {
                action,
                detail: format!("{status_code}: {message}"),
            },
            BollardError::JsonDataError { .. }
            | BollardError::JsonSerdeError { .. }
            | BollardError::DockerStreamError { .. } => SandboxError::Engine {
                action,
                detail: error.to_string(),
            },
            other => SandboxError::EngineUnreachable {
                endpoint: self.endpoint.clone(),
                detail: other.to_string(),
            },
        }
    }
}

/// The container configuration for a spec: every limit of [`super::SandboxLimits`] applied.
pub fn container_body(spec: &ContainerSpec) -> ContainerCreateBody {
    let limits = &spec.limits;
    let tmpfs_opts = |mib: u32, owner: &str| format!("rw,exec,nosuid,nodev,size={mib}m{owner}");
    let tmpfs = HashMap::from([
        ("/tmp".to_owned(), tmpfs_opts(limits.tmp_mib, ",mode=1777")),
        (
            limits.home_dir.clone(),
            // uid/gid 1000 is the visitor user created in sandbox/Dockerfile.
            tmpfs_opts(limits.home_mib, ",uid=1000,gid=1000,mode=0755"),
        ),
    ]);
    let margin = if limits.runtime == EXEC_SHELL_RUNTIME {
        GVISOR_MEMORY_MARGIN_MIB
    } else {
        0
    };
    let memory = (i64::from(limits.memory_mib) + i64::from(margin)) * 1024 * 1024;
    let labels = spec
        .labels()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let process = ShellMode::for_runtime(&limits.runtime) == ShellMode::Process;
    let cmd = if process {
        vec![SHELL_COMMAND.into()]
    } else {
        // The shells are execs; the container idles under its init until removed.
        vec!["sleep".into(), "infinity".into()]
    };
    ContainerCreateBody {
        image: Some(limits.image.clone()),
        cmd: Some(cmd),
        // A terminal whose stdin stays open across attaches: detaching closes nothing.
        tty: Some(process),
        open_stdin: Some(process),
        stdin_once: Some(false),
        attach_stdin: Some(process),
        attach_stdout: Some(process),
        attach_stderr: Some(process),
        user: Some(limits.user.clone()),
        working_dir: Some(limits.home_dir.clone()),
        hostname: Some(spec.hostname.clone()),
        env: Some(vec![
            "LANG=C.UTF-8".into(),
            "TERM=xterm-256color".into(),
            format!("HOME={}", limits.home_dir),
        ]),
        labels: Some(labels),
        network_disabled: Some(true),
        host_config: Some(HostConfig {
            network_mode: Some("none".into()),
            readonly_rootfs: Some(true),
            tmpfs: Some(tmpfs),
            memory: Some(memory),
            memory_swap: Some(memory),
            nano_cpus: Some(i64::from(limits.cpu_millis) * 1_000_000),
            cpu_shares: Some(i64::from(limits.cpu_shares)),
            pids_limit: Some(i64::from(limits.pids)),
            ulimits: Some(vec![ResourcesUlimits {
                name: Some("nofile".into()),
                soft: Some(i64::from(limits.nofile)),
                hard: Some(i64::from(limits.nofile)),
            }]),
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(vec!["no-new-privileges".into()]),
            init: Some(true),
            log_config: Some(HostConfigLogConfig {
                typ: Some("none".into()),
                config: None,
            }),
            runtime: (!limits.runtime.is_empty()).then(|| limits.runtime.clone()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[async_trait]
impl Sandbox for DockerSandbox {
    fn engine(&self) -> crate::ids::EngineId {
        crate::ids::EngineId::new(self.name.as_deref().unwrap_or(&self.endpoint))
    }

    async fn check(&self) -> Result<(), SandboxError> {
        let docker = self.client().await?;
        docker
            .ping()
            .await
            .map_err(|e| self.classify("answer a ping", e))?;
        docker.inspect_image(&self.image).await.map_err(|e| {
            match self.classify("inspect the sandbox image", e) {
                SandboxError::ContainerGone { .. } => SandboxError::ImageMissing {
                    image: self.image.clone(),
                },
                other => other,
            }
        })?;
        Ok(())
    }

    async fn create(&self, spec: &ContainerSpec) -> Result<ContainerId, SandboxError> {
        let docker = self.client().await?;
        let options = CreateContainerOptions {
            name: Some(spec.name()),
            ..Default::default()
        };
        let mut body = container_body(spec);
        if let Some(labels) = body.labels.as_mut() {
            labels.insert(INSTANCE_LABEL.to_owned(), self.instance.clone());
            if let Some(name) = &self.name {
                labels.insert(ENGINE_LABEL.to_owned(), name.clone());
            }
        }
        let created = docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| self.classify("create a container", e))?;
        Ok(ContainerId(created.id))
    }

    async fn open_shell(
        &self,
        container: &ContainerId,
        size: TermSize,
    ) -> Result<Shell, SandboxError> {
        if self.shell_mode == ShellMode::Exec {
            return self.open_exec_shell(container, size).await;
        }
        let docker = self.client().await?;
        // Attach first, then start: whatever the shell prints first (its prompt) is not lost.
        let (output, input) = super::hijack::attach(
            &self.endpoint,
            self.tls_client(),
            &container.0,
            OUTPUT_CHUNK,
        )
        .await
        .map_err(|error| self.hijack_error(error))?;
        self.start(docker, container).await?;
        let shell_id = ShellId(container.0.clone());
        self.resize_shell(&shell_id, size).await?;
        Ok(self.shell(shell_id, (output, input)))
    }

    async fn open_terminal(
        &self,
        container: &ContainerId,
        number: u8,
        size: TermSize,
    ) -> Result<Shell, SandboxError> {
        if self.shell_mode == ShellMode::Exec {
            // Found by tests/terminals.rs: Debian's runsc (20221219) brings the whole sandbox
            // down within a second of a third or fourth terminal's exec, with no word why.
            return Err(SandboxError::Unsupported {
                what: "open several terminals under gVisor (runsc)",
            });
        }
        self.exec_shell(container, size, Some(number)).await
    }

    async fn set_owner(
        &self,
        container: &ContainerId,
        session: &str,
        proof: &str,
    ) -> Result<(), SandboxError> {
        let docker = self.client().await?;
        let options = RenameContainerOptions {
            name: super::container_name(session, Some(proof)),
        };
        docker
            .rename_container(&container.0, options)
            .await
            .map_err(|e| self.classify("rename a container", e))
    }

    /// Through the wait call, which the socket proxy allows (an inspect would show any
    /// container's whole configuration): it answers at once for a stopped container; one still
    /// running a moment after its stream ended counts as unknown.
    async fn exit_code(&self, container: &ContainerId) -> Result<Option<i64>, SandboxError> {
        let docker = self.client().await?;
        let options = WaitContainerOptions {
            condition: "not-running".into(),
        };
        let mut waiting = docker.wait_container(&container.0, Some(options));
        match tokio::time::timeout(EXIT_WAIT, waiting.next()).await {
            Err(_) | Ok(None) => Ok(None),
            Ok(Some(Ok(answer))) => Ok(Some(answer.status_code)),
            Ok(Some(Err(BollardError::DockerContainerWaitError { code, .. }))) => Ok(Some(code)),
            Ok(Some(Err(error))) => Err(self.classify("wait for a container", error)),
        }
    }

    /// An exec without a TTY, as the container's user unless the command names another (the
    /// socket proxy allows only `checker`), started without an upgrade so the proxy carries its
    /// output.
    async fn run_command(
        &self,
        container: &ContainerId,
        command: &Command,
    ) -> Result<CommandOutput, SandboxError> {
        let docker = self.client().await?;
        let exec = docker
            .create_exec(
                &container.0,
                CreateExecOptions::<String> {
                    attach_stdin: Some(command.stdin.is_some()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    tty: Some(false),
                    cmd: Some(command.argv.clone()),
                    user: command.user.clone(),
                    env: (!command.env.is_empty()).then(|| command.env.clone()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| self.classify("run a command in the sandbox", e))?;
        let running = super::hijack::run_exec(
            &self.endpoint,
            self.tls_client(),
            &exec.id,
            command.stdin.as_deref(),
            command.max_output,
            command.keep_stderr,
        );
        let output = match tokio::time::timeout(command.deadline, running).await {
            Ok(output) => output.map_err(|error| self.hijack_error(error))?,
            Err(_) => {
                return Err(SandboxError::CommandTimedOut {
                    seconds: command.deadline.as_secs(),
                })
            }
        };
        let exit_code = docker
            .inspect_exec(&exec.id)
            .await
            .map_err(|e| self.classify("read a command's exit code", e))?
            .exit_code;
        Ok(CommandOutput { exit_code, output })
    }

    /// One-shot stats (`stream=false&one-shot=true`: no second sample, so the engine answers
    /// at once; the CPU rate comes from two calls, kept by the caller).
    async fn usage(&self, container: &ContainerId) -> Result<super::Usage, SandboxError> {
        let docker = self.client().await?;
        let options = StatsOptions {
            stream: false,
            one_shot: true,
        };
        let mut answers = docker.stats(&container.0, Some(options));
        match answers.next().await {
            Some(Ok(stats)) => super::Usage::from_stats(&stats).ok_or(SandboxError::Engine {
                action: "report a sandbox's resource use",
                detail: "the engine's stats had no CPU or memory figures".into(),
            }),
            Some(Err(error)) => Err(self.classify("report a sandbox's resource use", error)),
            None => Err(SandboxError::Engine {
                action: "report a sandbox's resource use",
                detail: "the engine sent no stats".into(),
            }),
        }
    }

    async fn resize_shell(&self, shell: &ShellId, size: TermSize) -> Result<(), SandboxError> {
        let docker = self.client().await?;
        if let Some(exec) = shell.0.strip_prefix(EXEC_SHELL) {
            let size = ResizeExecOptions {
                height: size.rows.max(1),
                width: size.cols.max(1),
            };
            return docker
                .resize_exec(exec, size)
                .await
                .map_err(|e| self.classify("resize the terminal", e));
        }
        docker
            .resize_container_tty(
                &shell.0,
                ResizeContainerTTYOptions {
                    h: i32::from(size.rows.max(1)),
                    w: i32::from(size.cols.max(1)),
                },
            )
            .await
            .map_err(|e| self.classify("resize the terminal", e))
    }

    async fn remove(&self, container: &ContainerId) -> Result<(), SandboxError> {
        let docker = self.client().await?;
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        match docker.remove_container(&container.0, Some(options)).await {
            Ok(()) => Ok(()),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            // 409: removal already in progress, which ends in the state we want.
            Err(BollardError::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(()),
            Err(e) => Err(self.classify("remove a container", e)),
        }
    }

    async fn list(&self) -> Result<Vec<LabelledContainer>, SandboxError> {
        let docker = self.client().await?;
        let options = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([self.label_filter()])),
            ..Default::default()
        };
        let found = docker
            .list_containers(Some(options))
            .await
            .map_err(|e| self.classify("list containers", e))?;
        Ok(found
            .into_iter()
            .filter_map(|summary| {
                let labels = summary.labels.unwrap_or_default();
                let owner = summary
                    .names
                    .unwrap_or_default()
                    .iter()
                    .find_map(|name| super::owner_in_name(name));
                Some(LabelledContainer {
                    id: ContainerId(summary.id?),
                    session: labels.get(SESSION_LABEL).cloned().unwrap_or_default(),
                    owner,
                    running: summary.state.is_some_and(|s| s.to_string() == "running"),
                    expires_at: labels.get(EXPIRES_LABEL).and_then(|v| v.parse().ok()),
                })
            })
            .collect())
    }

    async fn stopped(&self) -> Result<StoppedStream, SandboxError> {
        let docker = self.client().await?;
        let filters = HashMap::from([
            ("type".to_owned(), vec!["container".to_owned()]),
            ("event".to_owned(), vec!["die".to_owned()]),
            self.label_filter(),
        ]);
        // The engine is asked only when the stream is first polled: `since` keeps what stops
        // in between.
        let options = EventsOptions {
            since: Some(super::spec_epoch_now().to_string()),
            filters: Some(filters),
            ..Default::default()
        };
        let events = docker.events(Some(options)).filter_map(|event| async move {
            match event {
                Ok(event) => {
                    let actor = event.actor?;
                    let attributes = actor.attributes?;
                    let session = attributes.get(SESSION_LABEL)?.clone();
                    Some(Ok(StoppedContainer {
                        id: ContainerId(actor.id?),
                        session,
                        exit_code: attributes.get("exitCode").and_then(|c| c.parse().ok()),
                    }))
                }
                Err(error) => Some(Err(SandboxError::Engine {
                    action: "watch containers",
                    detail: error.to_string(),
                })),
            }
        });
        Ok(events.boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::SandboxLimits;

    fn body_for(runtime: &str) -> ContainerCreateBody {
        let limits = SandboxLimits {
            runtime: runtime.into(),
            ..Default::default()
        };
        let spec = ContainerSpec::new(&"ab".repeat(16), std::time::Duration::from_secs(60), limits);
        container_body(&spec)
    }

    #[test]
    fn the_shell_is_the_container_process_except_under_gvisor() {
        for runtime in ["", "runc"] {
            let body = body_for(runtime);
            assert_eq!(ShellMode::for_runtime(runtime), ShellMode::Process);
            assert_eq!(body.cmd, Some(vec![SHELL_COMMAND.to_owned()]));
            assert_eq!((body.tty, body.open_stdin), (Some(true), Some(true)));
        }
        let body = body_for(EXEC_SHELL_RUNTIME);
        assert_eq!(ShellMode::for_runtime(EXEC_SHELL_RUNTIME), ShellMode::Exec);
        assert_eq!(
            body.cmd,
            Some(vec!["sleep".to_owned(), "infinity".to_owned()])
        );
        assert_eq!((body.tty, body.open_stdin), (Some(false), Some(false)));
        // Every limit holds in both modes.
        let host = body.host_config.unwrap_or_default();
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.init, Some(true));
        assert_eq!(host.runtime.as_deref(), Some(EXEC_SHELL_RUNTIME));
    }

    #[test]
    fn gvisor_gets_a_margin_for_its_own_kernel_and_runc_none() {
        let limit = |runtime: &str| {
            let host = body_for(runtime).host_config.unwrap_or_default();
            assert_eq!(host.memory, host.memory_swap, "no swap under {runtime:?}");
            host.memory
        };
        let mib = 1024 * 1024;
        assert_eq!(limit(""), Some(128 * mib));
        assert_eq!(limit("runc"), Some(128 * mib));
        assert_eq!(
            limit(EXEC_SHELL_RUNTIME),
            Some((128 + i64::from(GVISOR_MEMORY_MARGIN_MIB)) * mib)
        );
    }
}
