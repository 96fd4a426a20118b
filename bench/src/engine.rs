//! The bare engine baseline: the same image, limits and login shell started straight through the
//! Docker engine API (create + attach + start, as the server does), with no server in between;
//! and the bookkeeping
//! that proves the bench leaves no container behind.

use std::collections::HashMap;
use std::pin::Pin;
use std::time::Duration;

use anyhow::{Context, Result};
use bollard::container::LogOutput;
use bollard::query_parameters::{
    AttachContainerOptions, CreateContainerOptions, ListContainersOptions, RemoveContainerOptions,
};
use bollard::Docker;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use server::sandbox::docker::container_body;
use server::sandbox::{ContainerSpec, SandboxLimits, INSTANCE_LABEL, SESSION_LABEL};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use crate::term::{Shell, PROMPT};
use crate::throughput::Throughput;

/// Bytes a pty gives for `base64` of `input` bytes: 76-column lines, each newline turned into
/// CR LF by the terminal.
fn pty_bytes_of_base64(input: u64) -> u64 {
    let encoded = input.div_ceil(3) * 4;
    let lines = encoded.div_ceil(76);
    encoded + 2 * lines
}

/// The Docker engine, seen directly.
#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    /// Instance label put on the bare containers, so the server's reaper leaves them alone and
    /// the final count can find them.
    instance: String,
}

/// A shell started directly through the engine, kept attached (an idle session's equivalent).
pub struct BareShell {
    /// The container.
    pub container: String,
    /// The exec's output, held attached as a server would hold it.
    output: BoxStream<'static, Result<LogOutput, bollard::errors::Error>>,
    input: Pin<Box<dyn AsyncWrite + Send>>,
}

impl Shell for BareShell {
    async fn send_input(&mut self, bytes: &[u8]) -> Result<()> {
        self.input.write_all(bytes).await?;
        self.input.flush().await?;
        Ok(())
    }

    async fn next_output(&mut self) -> Result<Option<Vec<u8>>> {
        match self.output.next().await {
            Some(chunk) => Ok(Some(chunk?.into_bytes().to_vec())),
            None => Ok(None),
        }
    }
}

impl Engine {
    /// Connects to the engine named by `DOCKER_HOST`, else the local socket.
    pub fn connect(instance: &str) -> Result<Self> {
        Ok(Self {
            docker: Docker::connect_with_defaults().context("connecting to the Docker engine")?,
            instance: instance.to_owned(),
        })
    }

    /// Creates a container exactly as the server would (its own container spec and labels);
    /// `name` is unique within this bench run. Returns the container id.
    pub async fn create_container(&self, name: &str) -> Result<String> {
        let name = format!("{}-{name}", self.instance);
        let spec = ContainerSpec::new(&name, Duration::from_secs(3600), SandboxLimits::default());
        let mut body = container_body(&spec);
        if let Some(labels) = body.labels.as_mut() {
            labels.insert(INSTANCE_LABEL.to_owned(), self.instance.clone());
        }
        let options = CreateContainerOptions {
            name: Some(format!("rootresume-{name}")),
            ..Default::default()
        };
        Ok(self.docker.create_container(Some(options), body).await?.id)
    }

    /// Creates and starts a container whose shell nobody attaches to (it waits on its open
    /// stdin), for the peer to exec its own shell in.
    pub async fn start_container(&self, name: &str) -> Result<String> {
        let id = self.create_container(name).await?;
        if let Err(error) = self.docker.start_container(&id, None).await {
            self.remove(&id).await;
            return Err(error.into());
        }
        Ok(id)
    }

    /// Creates a container ([`Engine::create_container`]), attaches to its login shell and
    /// starts it as the server does, and waits for the prompt. Returns the shell and the time from the first
    /// engine request to the prompt.
    pub async fn start_shell(&self, name: &str) -> Result<(BareShell, Duration)> {
        let started = Instant::now();
        let id = self.create_container(name).await?;
        let shell = self.attach_shell(&id).await;
        if shell.is_err() {
            self.remove(&id).await;
        }
        let (output, input) = shell?;
        let mut shell = BareShell {
            container: id,
            output,
            input,
        };
        shell.read_until(PROMPT, Duration::from_secs(60)).await?;
        Ok((shell, started.elapsed()))
    }

    async fn attach_shell(
        &self,
        id: &str,
    ) -> Result<(
        BoxStream<'static, Result<LogOutput, bollard::errors::Error>>,
        Pin<Box<dyn AsyncWrite + Send>>,
    )> {
        let options = AttachContainerOptions {
            stream: true,
            stdin: true,
            stdout: true,
            stderr: true,
            ..Default::default()
        };
        let attached = self.docker.attach_container(id, Some(options)).await?;
        self.docker.start_container(id, None).await?;
        Ok((attached.output.boxed(), attached.input))
    }

    /// The ceilings of terminal output inside a sandbox (same image and limits, no server, no
    /// engine stream), timed inside the container: the command alone writing to `/dev/null`, and
    /// the command through a pty whose master `script` reads (and writes to `/dev/null`). Both
    /// run under the sandbox's own CPU limit, as the shell's command does; so does `script`,
    /// where the engine's reader of a session's pty runs outside it. Bytes are what the pty
    /// gives for this output (its line endings included), as the end-to-end figure counts them.
    pub async fn pty_ceiling(&self, name: &str, mib: u32) -> Result<(Throughput, Throughput)> {
        use bollard::exec::{CreateExecOptions, StartExecResults};
        let id = self.start_container(name).await?;
        let measured = async {
            let command = format!("head -c {mib}M /dev/zero | base64");
            let script = format!(
                "t0=$(date +%s%N); {command} > /dev/null; t1=$(date +%s%N); \
                 script -qfec '{command}' /dev/null > /dev/null; t2=$(date +%s%N); \
                 echo \"$((t1 - t0)) $((t2 - t1))\""
            );
            let exec = self
                .docker
                .create_exec(
                    &id,
                    CreateExecOptions {
                        cmd: Some(vec!["sh".to_owned(), "-c".to_owned(), script]),
                        attach_stdout: Some(true),
                        attach_stderr: Some(true),
                        ..Default::default()
                    },
                )
                .await?;
            let StartExecResults::Attached { mut output, .. } =
                self.docker.start_exec(&exec.id, None).await?
            else {
                anyhow::bail!("the exec did not attach");
            };
            let mut text = String::new();
            while let Some(chunk) = output.next().await {
                text.push_str(&String::from_utf8_lossy(&chunk?.into_bytes()));
            }
            let mut numbers = text.split_whitespace().map(str::parse::<u64>);
            let bytes = pty_bytes_of_base64(u64::from(mib) << 20);
            match (numbers.next(), numbers.next()) {
                (Some(Ok(alone)), Some(Ok(pty))) if alone > 0 && pty > 0 => Ok((
                    Throughput {
                        bytes,
                        elapsed: Duration::from_nanos(alone),
                    },
                    Throughput {
                        bytes,
                        elapsed: Duration::from_nanos(pty),
                    },
                )),
                _ => anyhow::bail!("the ceiling measurement printed {text:?}"),
            }
        }
        .await;
        self.remove(&id).await;
        measured
    }

    /// The engine's version, storage driver and default runtime, for the report.
    pub async fn describe(&self) -> String {
        let version = self.docker.version().await.ok().and_then(|v| v.version);
        let info = self.docker.info().await.ok();
        let driver = info.as_ref().and_then(|i| i.driver.clone());
        let runtime = info.and_then(|i| i.default_runtime);
        format!(
            "{} (storage {}, runtime {}; containers without network)",
            version.unwrap_or_default(),
            driver.unwrap_or_default(),
            runtime.unwrap_or_default()
        )
    }

    /// Detaches `shells` and removes their containers, a few at a time.
    pub async fn remove_shells(&self, shells: Vec<BareShell>) {
        let containers: Vec<String> = shells.iter().map(|s| s.container.clone()).collect();
        drop(shells);
        futures_util::stream::iter(containers)
            .for_each_concurrent(crate::OPEN_CONCURRENCY, |id| async move {
                self.remove(&id).await
            })
            .await;
    }

    /// Removes a container (and its shell), ignoring one already gone.
    pub async fn remove(&self, id: &str) {
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        let _ = self.docker.remove_container(id, Some(options)).await;
    }

    /// Containers carrying the session label whose instance label starts with `prefix`.
    pub async fn labelled(&self, prefix: &str) -> Result<Vec<String>> {
        let options = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([(
                "label".to_owned(),
                vec![SESSION_LABEL.to_owned()],
            )])),
            ..Default::default()
        };
        let found = self.docker.list_containers(Some(options)).await?;
        Ok(found
            .into_iter()
            .filter(|c| {
                prefix.is_empty()
                    || c.labels
                        .as_ref()
                        .and_then(|l| l.get(INSTANCE_LABEL))
                        .is_some_and(|i| i.starts_with(prefix))
            })
            .filter_map(|c| c.id)
            .collect())
    }

    /// Removes, a few at a time, every container of the bench (instance prefix `prefix`).
    pub async fn remove_all(&self, prefix: &str) -> Result<usize> {
        let ids = self.labelled(prefix).await?;
        let count = ids.len();
        futures_util::stream::iter(ids)
            .for_each_concurrent(8, |id| async move { self.remove(&id).await })
            .await;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::pty_bytes_of_base64;

    #[test]
    fn counts_base64_lines_with_crlf() {
        // 57 input bytes make one full line of 76 characters.
        assert_eq!(pty_bytes_of_base64(57), 78);
        assert_eq!(pty_bytes_of_base64(58), 78 + 4 + 2);
        assert_eq!(pty_bytes_of_base64(0), 0);
    }
}
