//! The `[kubernetes]` settings: where sandbox pods go and how they are run.

use serde::{Deserialize, Serialize};

/// Settings of the Kubernetes backend (used when `sandbox.backend = "kubernetes"`).
///
/// The cluster itself is found the way `kubectl` finds it: the in-cluster service account when
/// the server runs in a pod, else `$KUBECONFIG` or `~/.kube/config`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct KubernetesSettings {
    /// Namespace of the sandbox pods: one that holds nothing else, so its quota, limit range
    /// and deny-all network policy apply to sandboxes only. Default: `rootresume-sandboxes`.
    pub namespace: String,
    /// RuntimeClass of the sandbox pods, e.g. `gvisor`; empty uses the cluster's default
    /// runtime. Default: empty.
    pub runtime_class: String,
    /// When the kubelet pulls the sandbox image: `IfNotPresent`, `Always` or `Never`.
    /// Default: `IfNotPresent` (Kubernetes would pull a `:latest` tag on every pod).
    pub image_pull_policy: String,
    /// Seconds a new pod may take to be scheduled and start its shell (image pull included)
    /// before opening the shell fails with the pod's waiting reason. The session layer gives
    /// up on a start after 60 s anyway. Default: 55.
    pub start_timeout_secs: u64,
}

impl Default for KubernetesSettings {
    fn default() -> Self {
        Self {
            namespace: "rootresume-sandboxes".into(),
            runtime_class: String::new(),
            image_pull_policy: "IfNotPresent".into(),
            start_timeout_secs: 55,
        }
    }
}

impl KubernetesSettings {
    /// Checks the names are ones the API server accepts, so a typo fails at start, not at the
    /// first visitor.
    pub fn validate(&self) -> Result<(), String> {
        if !is_dns_label(&self.namespace) {
            return Err(format!(
                "kubernetes.namespace = {:?} must be a DNS label: 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit",
                self.namespace
            ));
        }
        if !self.runtime_class.is_empty() && !is_dns_subdomain(&self.runtime_class) {
            return Err(format!(
                "kubernetes.runtime_class = {:?} must be a DNS subdomain (lowercase letters, digits, '-' and '.'), or empty",
                self.runtime_class
            ));
        }
        let policies = ["IfNotPresent", "Always", "Never"];
        if !policies.contains(&self.image_pull_policy.as_str()) {
            return Err(format!(
                "kubernetes.image_pull_policy = {:?} must be one of IfNotPresent, Always, Never",
                self.image_pull_policy
            ));
        }
        super::super::check_range(
            "kubernetes.start_timeout_secs",
            self.start_timeout_secs,
            5,
            3600,
        )
    }
}

/// Whether `name` is an RFC 1123 label, as namespaces, pod names and hostnames must be.
pub fn is_dns_label(name: &str) -> bool {
    let inner = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (1..=63).contains(&name.len())
        && name.chars().all(inner)
        && edge(name.chars().next())
        && edge(name.chars().last())
}

/// Whether `name` is an RFC 1123 subdomain (dot-separated labels, 253 characters at most).
fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_dns_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(KubernetesSettings::default().validate(), Ok(()));
    }

    #[test]
    fn bad_names_are_named() {
        let namespace = KubernetesSettings {
            namespace: "Sandboxes".into(),
            ..Default::default()
        };
        assert!(namespace
            .validate()
            .unwrap_err()
            .contains("kubernetes.namespace"));
        let runtime = KubernetesSettings {
            runtime_class: "g_visor".into(),
            ..Default::default()
        };
        assert!(runtime.validate().unwrap_err().contains("runtime_class"));
        let pull = KubernetesSettings {
            image_pull_policy: "sometimes".into(),
            ..Default::default()
        };
        assert!(pull.validate().unwrap_err().contains("image_pull_policy"));
    }

    #[test]
    fn dns_labels() {
        assert!(is_dns_label("rootresume-0a1b"));
        assert!(!is_dns_label("-leading"));
        assert!(!is_dns_label("trailing-"));
        assert!(!is_dns_label(&"a".repeat(64)));
        assert!(is_dns_subdomain("gvisor.example.com"));
        assert!(!is_dns_subdomain("a..b"));
    }
}
