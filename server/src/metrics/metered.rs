//! A [`Sandbox`] wrapper that counts the engine's failures, so no caller has to.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Metrics, OperationLabels};
use crate::sandbox::{
    Command, CommandOutput, ContainerId, ContainerSpec, LabelledContainer, Sandbox, SandboxError,
    Shell, ShellId, StoppedStream, TermSize,
};

/// The operations counted, as their label values.
pub(super) const OPERATIONS: [&str; 7] = [
    "check",
    "create",
    "open_shell",
    "resize_shell",
    "remove",
    "list",
    "stopped",
];

/// Passes every call to the inner sandbox and counts the ones that fail, by operation.
pub struct MeteredSandbox {
    inner: Arc<dyn Sandbox>,
    metrics: Arc<Metrics>,
}

impl MeteredSandbox {
    /// Wraps `inner`, counting into `metrics`.
    pub fn new(inner: Arc<dyn Sandbox>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    fn count<T>(
        &self,
        operation: &'static str,
        result: Result<T, SandboxError>,
    ) -> Result<T, SandboxError> {
        if result.is_err() {
            self.metrics
                .docker_errors
                .get_or_create(&OperationLabels { operation })
                .inc();
        }
        result
    }
}

#[async_trait]
impl Sandbox for MeteredSandbox {
    fn engine(&self) -> crate::ids::EngineId {
        self.inner.engine()
    }

    fn engine_of(&self, container: &ContainerId) -> crate::ids::EngineId {
        self.inner.engine_of(container)
    }

    async fn check(&self) -> Result<(), SandboxError> {
        self.count("check", self.inner.check().await)
    }

    async fn create(&self, spec: &ContainerSpec) -> Result<ContainerId, SandboxError> {
        self.count("create", self.inner.create(spec).await)
    }

    async fn open_shell(
        &self,
        container: &ContainerId,
        size: TermSize,
    ) -> Result<Shell, SandboxError> {
        self.count("open_shell", self.inner.open_shell(container, size).await)
    }

    async fn open_terminal(
        &self,
        container: &ContainerId,
        number: u8,
        size: TermSize,
    ) -> Result<Shell, SandboxError> {
        let opened = self.inner.open_terminal(container, number, size).await;
        self.count("open_terminal", opened)
    }

    async fn set_owner(
        &self,
        container: &ContainerId,
        session: &str,
        proof: &str,
    ) -> Result<(), SandboxError> {
        let result = self.inner.set_owner(container, session, proof).await;
        self.count("set_owner", result)
    }

    async fn exit_code(&self, container: &ContainerId) -> Result<Option<i64>, SandboxError> {
        let code = self.inner.exit_code(container).await;
        self.count("exit_code", code)
    }

    async fn resize_shell(&self, shell: &ShellId, size: TermSize) -> Result<(), SandboxError> {
        self.count("resize_shell", self.inner.resize_shell(shell, size).await)
    }

    async fn remove(&self, container: &ContainerId) -> Result<(), SandboxError> {
        self.count("remove", self.inner.remove(container).await)
    }

    async fn run_command(
        &self,
        container: &ContainerId,
        command: &Command,
    ) -> Result<CommandOutput, SandboxError> {
        let output = self.inner.run_command(container, command).await;
        self.count("run_command", output)
    }

    async fn usage(&self, container: &ContainerId) -> Result<crate::sandbox::Usage, SandboxError> {
        self.count("usage", self.inner.usage(container).await)
    }

    async fn list(&self) -> Result<Vec<LabelledContainer>, SandboxError> {
        self.count("list", self.inner.list().await)
    }

    async fn stopped(&self) -> Result<StoppedStream, SandboxError> {
        self.count("stopped", self.inner.stopped().await)
    }
}
