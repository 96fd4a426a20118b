//! The [`Sandbox`](super::Sandbox) on Kubernetes: one Pod per session in a namespace of its own.
//!
//! Selected by `sandbox.backend = "kubernetes"`; `docs/KUBERNETES.md` covers the cluster side.

mod attach;
mod errors;
mod pod;
mod settings;
mod state;
mod watch;

#[cfg(test)]
mod pod_tests;

pub use pod::{
    pod_name, sandbox_pod, PodError, CONTAINER_NAME, OWNER_LABEL, POD_PREFIX, VISITOR_UID,
};
pub use settings::KubernetesSettings;

use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::Client;
use tokio::sync::OnceCell;

use crate::config::Config;
use crate::sandbox::{
    ContainerId, ContainerSpec, LabelledContainer, Sandbox, SandboxError, Shell, ShellId,
    StoppedStream, TermSize, INSTANCE_LABEL, SESSION_LABEL,
};
use attach::Terminals;
use errors::classify;
use state::{pod_state, PodState};

/// The session label value of the example pod `--print-pod-spec` shows (sessions are labelled
/// with a hex digest, which this has the shape of).
const EXAMPLE_SESSION: &str = "0123456789abcdef0123456789abcdef";

/// Why `--print-pod-spec` printed nothing.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    /// The configuration gives no valid pod.
    #[error("no valid pod for this configuration: {0}")]
    Pod(#[from] PodError),
    /// The pod could not be written as YAML.
    #[error("cannot write the pod as YAML: {0}")]
    Yaml(String),
}

/// The Pod the backend would create for a new session under `config`, as YAML: the same
/// builder as [`sandbox_pod`] uses at run time, so an operator reviews what will really run.
pub fn example_pod_yaml(config: &Config) -> Result<String, PrintError> {
    let spec = ContainerSpec::new(
        EXAMPLE_SESSION,
        config.sessions.max_lifetime,
        config.sandbox.clone(),
    );
    let pod = sandbox_pod(&spec, &config.instance, &config.kubernetes)?;
    serde_saphyr::to_string(&pod).map_err(|e| PrintError::Yaml(e.to_string()))
}

/// Sandboxes as pods on a Kubernetes cluster, one per session, in one namespace.
pub struct KubernetesSandbox {
    settings: KubernetesSettings,
    instance: String,
    /// The API server, for error messages (its URL once known).
    endpoint: String,
    /// The client, made on first use from the in-cluster account or the kubeconfig, and
    /// retried until that succeeds: the server starts and serves while the cluster is away.
    client: OnceCell<Client>,
    terminals: Terminals,
}

impl KubernetesSandbox {
    /// A sandbox on the cluster the environment names (in-cluster service account, else
    /// `$KUBECONFIG` or `~/.kube/config`); nothing is sent until the first operation.
    pub fn new(settings: KubernetesSettings) -> Self {
        Self {
            settings,
            instance: "default".into(),
            endpoint: "the Kubernetes API server".into(),
            client: OnceCell::new(),
            terminals: Terminals::default(),
        }
    }

    /// A sandbox on the API server behind `client` (tests give a mock or a local server).
    pub fn with_client(settings: KubernetesSettings, client: Client) -> Self {
        Self {
            client: OnceCell::new_with(Some(client)),
            ..Self::new(settings)
        }
    }

    /// Names the deployment whose pods this sandbox creates, lists and watches (the
    /// [`INSTANCE_LABEL`]), so deployments sharing a namespace leave each other alone.
    pub fn with_instance(mut self, instance: &str) -> Self {
        self.instance = instance.to_owned();
        self
    }

    async fn pods(&self) -> Result<Api<Pod>, SandboxError> {
        let client = self
            .client
            .get_or_try_init(|| async {
                Client::try_default()
                    .await
                    .map_err(|e| classify("reach the cluster", &self.endpoint, e))
            })
            .await?;
        Ok(Api::namespaced(client.clone(), &self.settings.namespace))
    }

    /// The label selector of this deployment's sandbox pods.
    fn selector(&self) -> String {
        format!("{SESSION_LABEL},{INSTANCE_LABEL}={}", self.instance)
    }

    /// Waits until the pod's shell runs: a new pod is scheduled and its image pulled first.
    async fn wait_running(&self, pods: &Api<Pod>, name: &str) -> Result<(), SandboxError> {
        let timeout = Duration::from_secs(self.settings.start_timeout_secs);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut pause = Duration::from_millis(100);
        loop {
            let pod = pods
                .get(name)
                .await
                .map_err(|e| classify("read the sandbox pod", &self.endpoint, e))?;
            let why = match pod_state(&pod) {
                PodState::Running => return Ok(()),
                PodState::ImageMissing { why } => {
                    tracing::warn!(pod = name, %why, "the sandbox image cannot be pulled");
                    let image = pod.spec.and_then(|s| s.containers.into_iter().next());
                    return Err(SandboxError::ImageMissing {
                        image: image.and_then(|c| c.image).unwrap_or_default(),
                    });
                }
                PodState::Over { exit_code } => {
                    return Err(SandboxError::ContainerGone {
                        detail: format!("pod {name} stopped (exit code {exit_code:?})"),
                    })
                }
                PodState::Starting { why } => why,
            };
            if tokio::time::Instant::now() + pause > deadline {
                return Err(SandboxError::Engine {
                    action: "start a sandbox pod",
                    detail: format!(
                        "pod {name} not running after {} s ({}); see kubectl -n {} describe pod {name}",
                        timeout.as_secs(),
                        why.as_deref().unwrap_or("pending"),
                        self.settings.namespace,
                    ),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }
}

#[async_trait]
impl Sandbox for KubernetesSandbox {
    fn engine(&self) -> crate::ids::EngineId {
        crate::ids::EngineId::new(&format!("kubernetes/{}", self.settings.namespace))
    }

    /// The API server answers and this server may list pods in the namespace. Whether a node
    /// can pull the image is known only when a pod starts (then: [`SandboxError::ImageMissing`]).
    async fn check(&self) -> Result<(), SandboxError> {
        let pods = self.pods().await?;
        pods.list(&ListParams::default().labels(&self.selector()).limit(1))
            .await
            .map_err(|e| classify("list sandbox pods", &self.endpoint, e))?;
        Ok(())
    }

    async fn create(&self, spec: &ContainerSpec) -> Result<ContainerId, SandboxError> {
        let pod = sandbox_pod(spec, &self.instance, &self.settings).map_err(|e| {
            SandboxError::Engine {
                action: "build the sandbox pod",
                detail: e.to_string(),
            }
        })?;
        let pods = self.pods().await?;
        let created = pods
            .create(&PostParams::default(), &pod)
            .await
            .map_err(|e| classify("create a sandbox pod", &self.endpoint, e))?;
        let name = created.metadata.name.or(pod.metadata.name);
        name.map(ContainerId).ok_or_else(|| SandboxError::Engine {
            action: "create a sandbox pod",
            detail: "the API server returned a pod without a name".into(),
        })
    }

    async fn open_shell(
        &self,
        container: &ContainerId,
        size: TermSize,
    ) -> Result<Shell, SandboxError> {
        let pods = self.pods().await?;
        self.wait_running(&pods, &container.0).await?;
        let process = pods
            .attach(&container.0, &attach::shell_params())
            .await
            .map_err(|e| classify("attach to the shell", &self.endpoint, e))?;
        // The shell printed its first prompt before anyone was attached; the first size sent
        // (a SIGWINCH) has readline draw the prompt line again.
        self.terminals.shell(&container.0, process, size).await
    }

    async fn set_owner(
        &self,
        container: &ContainerId,
        _session: &str,
        proof: &str,
    ) -> Result<(), SandboxError> {
        let pods = self.pods().await?;
        let patch = serde_json::json!({ "metadata": { "labels": { OWNER_LABEL: proof } } });
        pods.patch(&container.0, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| classify("label a sandbox pod", &self.endpoint, e))?;
        Ok(())
    }

    async fn resize_shell(&self, shell: &ShellId, size: TermSize) -> Result<(), SandboxError> {
        self.terminals.resize(shell, size).await
    }

    async fn remove(&self, container: &ContainerId) -> Result<(), SandboxError> {
        let pods = self.pods().await?;
        match pods.delete(&container.0, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(error) => Err(classify("delete a sandbox pod", &self.endpoint, error)),
        }
    }

    async fn list(&self) -> Result<Vec<LabelledContainer>, SandboxError> {
        let pods = self.pods().await?;
        let found = pods
            .list(&ListParams::default().labels(&self.selector()))
            .await
            .map_err(|e| classify("list sandbox pods", &self.endpoint, e))?;
        Ok(found
            .items
            .into_iter()
            .filter_map(|pod| {
                let labels = pod.metadata.labels.clone().unwrap_or_default();
                Some(LabelledContainer {
                    // A pending pod starts by itself: it counts as running, unlike a Docker
                    // container that waits for its start call.
                    running: !matches!(pod_state(&pod), PodState::Over { .. }),
                    id: ContainerId(pod.metadata.name?),
                    session: labels.get(SESSION_LABEL).cloned().unwrap_or_default(),
                    owner: labels
                        .get(OWNER_LABEL)
                        .filter(|proof| crate::ids::is_hash(proof))
                        .cloned(),
                    expires_at: labels
                        .get(crate::sandbox::spec::EXPIRES_LABEL)
                        .and_then(|v| v.parse().ok()),
                })
            })
            .collect())
    }

    async fn stopped(&self) -> Result<StoppedStream, SandboxError> {
        let pods = self.pods().await?;
        watch::stopped(pods, self.selector(), self.endpoint.clone()).await
    }
}
