//! The [`Sandbox`](super::Sandbox) on Kubernetes: one Pod per session in a namespace of its own.
//!
//! Selected by `sandbox.backend = "kubernetes"`; `docs/KUBERNETES.md` covers the cluster side.

mod pod;
mod settings;

#[cfg(test)]
mod pod_tests;

pub use pod::{pod_name, sandbox_pod, PodError, CONTAINER_NAME, POD_PREFIX, VISITOR_UID};
pub use settings::KubernetesSettings;

use crate::config::Config;
use crate::sandbox::ContainerSpec;

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
