//! Ownership of a container: whoever holds the guard is responsible for its removal.

use std::sync::Arc;

use tokio_util::task::TaskTracker;

use crate::sandbox::{ContainerId, Sandbox, SandboxError};

/// Owns one container. [`ContainerGuard::shutdown`] removes it and reports errors; dropping the
/// guard without that (a panic, a cancelled task) still removes it, in the background.
pub struct ContainerGuard {
    sandbox: Arc<dyn Sandbox>,
    container: Option<ContainerId>,
    /// Where a removal started by `drop` is tracked, so shutdown waits for it.
    tracker: Option<TaskTracker>,
}

impl ContainerGuard {
    /// Takes ownership of `container`.
    pub fn new(sandbox: Arc<dyn Sandbox>, container: ContainerId) -> Self {
        Self {
            sandbox,
            container: Some(container),
            tracker: None,
        }
    }

    /// Tracks the removal a drop starts in `tracker` (the session manager's), so shutdown
    /// waits for it instead of the process exiting with the container still there.
    pub fn tracked_by(mut self, tracker: &TaskTracker) -> Self {
        self.tracker = Some(tracker.clone());
        self
    }

    /// The container owned.
    pub fn id(&self) -> Option<&ContainerId> {
        self.container.as_ref()
    }

    /// Gives up ownership without removing the container: it is left for the next server
    /// process to re-adopt (shutdown in `keep` mode).
    pub fn release(mut self) -> Option<ContainerId> {
        self.container.take()
    }

    /// Removes the container now.
    pub async fn shutdown(mut self) -> Result<(), SandboxError> {
        match self.container.take() {
            Some(container) => self.sandbox.remove(&container).await,
            None => Ok(()),
        }
    }
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        let Some(container) = self.container.take() else {
            return;
        };
        let sandbox = self.sandbox.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let removal = async move {
                    if let Err(error) = sandbox.remove(&container).await {
                        tracing::warn!(container = %container.0, %error, "dropped container was not removed; the reaper will retry");
                    }
                };
                match &self.tracker {
                    Some(tracker) => drop(tracker.spawn_on(removal, &runtime)),
                    None => drop(runtime.spawn(removal)),
                }
            }
            Err(_) => {
                tracing::warn!(container = %container.0, "container dropped outside a runtime; the reaper will remove it")
            }
        }
    }
}
