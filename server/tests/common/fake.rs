//! A fake [`Sandbox`] for races and paused-time tests: no engine, containers are counters, a
//! shell is an in-memory pipe that prints a prompt. Never the only proof a feature works: the
//! real-engine tests are.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use server::sandbox::{
    ContainerId, ContainerSpec, LabelledContainer, Sandbox, SandboxError, Shell, ShellId, TermSize,
};
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

/// What the fake was asked to do.
#[derive(Default)]
pub struct FakeSandbox {
    /// When set, `create` never answers (an engine that accepted the request and hangs).
    create_hangs: bool,
    /// How long `create` takes (a container start on a real engine).
    create_takes: std::time::Duration,
    /// While set, every call fails as an engine that does not answer.
    pub unreachable: AtomicBool,
    /// Containers created.
    pub created: AtomicUsize,
    /// `create` calls under way now.
    creating: AtomicUsize,
    /// The most `create` calls that were under way at once.
    pub most_creating: AtomicUsize,
    /// Resize calls received.
    pub resizes: AtomicUsize,
    /// Containers removed, by id.
    pub removed: Mutex<Vec<String>>,
    /// The pipes' far ends, kept so shells stay open until the fake is dropped.
    ends: Mutex<Vec<tokio::io::DuplexStream>>,
}

impl FakeSandbox {
    /// A fake whose `create` takes `took`, as a real engine's does.
    pub fn taking(took: std::time::Duration) -> Self {
        Self {
            create_takes: took,
            ..Self::default()
        }
    }

    /// A fake whose `create` never answers.
    pub fn hanging() -> Self {
        Self {
            create_hangs: true,
            ..Self::default()
        }
    }
}

#[async_trait]
impl Sandbox for FakeSandbox {
    async fn check(&self) -> Result<(), SandboxError> {
        Ok(())
    }

    async fn create(&self, _: &ContainerSpec) -> Result<ContainerId, SandboxError> {
        if self.unreachable.load(Ordering::SeqCst) {
            return Err(SandboxError::EngineUnreachable {
                endpoint: "fake".into(),
                detail: "stopped".into(),
            });
        }
        if self.create_hangs {
            std::future::pending::<()>().await;
        }
        let now = self.creating.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_creating.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(self.create_takes).await;
        self.creating.fetch_sub(1, Ordering::SeqCst);
        let n = self.created.fetch_add(1, Ordering::SeqCst);
        Ok(ContainerId(format!("fake-{n}")))
    }

    async fn open_shell(
        &self,
        container: &ContainerId,
        _: TermSize,
    ) -> Result<Shell, SandboxError> {
        let (near, mut far) = tokio::io::duplex(64 * 1024);
        let _ = far.write_all(b"visitor@fake:~$ ").await;
        self.ends
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(far);
        let (read, write) = tokio::io::split(near);
        let output = ReaderStream::new(read)
            .map(|chunk: std::io::Result<Bytes>| {
                chunk.map_err(|e| SandboxError::ContainerGone {
                    detail: e.to_string(),
                })
            })
            .boxed();
        Ok(Shell {
            id: ShellId(container.0.clone()),
            output,
            input: Box::pin(write),
        })
    }

    async fn set_owner(&self, _: &ContainerId, _: &str, _: &str) -> Result<(), SandboxError> {
        Ok(())
    }

    async fn resize_shell(&self, _: &ShellId, _: TermSize) -> Result<(), SandboxError> {
        self.resizes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn remove(&self, container: &ContainerId) -> Result<(), SandboxError> {
        self.removed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(container.0.clone());
        Ok(())
    }

    async fn list(&self) -> Result<Vec<LabelledContainer>, SandboxError> {
        Ok(Vec::new())
    }
}
