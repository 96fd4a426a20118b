//! The Pod of one session: the Docker backend's container, limit for limit, in Kubernetes terms.
//!
//! `docs/KUBERNETES.md` tables each Docker flag against the field here (or what stands in).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, EnvVar, Pod, PodSecurityContext, PodSpec,
    ResourceRequirements, SeccompProfile, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::settings::{is_dns_label, KubernetesSettings};
use crate::sandbox::docker::SHELL_COMMAND;
use crate::sandbox::{epoch_seconds, ContainerSpec, INSTANCE_LABEL, SESSION_LABEL};

/// The one container of a sandbox pod; attach names it.
pub const CONTAINER_NAME: &str = "shell";
/// Prefix of every sandbox pod's name.
pub const POD_PREFIX: &str = "rootresume-";
/// The label holding the owner proof ([`crate::ids::SessionId::owner_proof`]) of a pod whose
/// session a visitor has. Docker keeps it in the container's name; a pod's name cannot change
/// (and would pass 63 characters), its labels can.
pub const OWNER_LABEL: &str = "rootresume.owner";
/// uid and gid of the `visitor` user made in sandbox/Dockerfile (the Docker backend's home
/// tmpfs is owned by the same ids). Kubernetes needs numbers: it cannot look a name up.
pub const VISITOR_UID: i64 = 1000;
/// Seconds between SIGTERM and SIGKILL when a pod is deleted. An interactive bash ignores
/// SIGTERM and nothing in a sandbox has state worth a graceful stop; Docker's forced removal
/// kills at once, and 2 s is the kubelet's floor.
const TERMINATION_GRACE_SECS: i64 = 2;

/// Why no pod could be built for a spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PodError {
    /// A label value the API server would refuse (63 characters at most, letters, digits,
    /// '-', '_', '.', starting and ending with a letter or digit).
    #[error("label {key}={value:?} is not a valid Kubernetes label value")]
    Label {
        /// The label.
        key: String,
        /// Its value.
        value: String,
    },
    /// The session's label value gives no valid pod name or hostname.
    #[error("{what} {name:?} derived from the session is not a DNS label")]
    Name {
        /// `pod name` or `hostname`.
        what: &'static str,
        /// The name derived.
        name: String,
    },
}

/// The pod name for a session label value: `rootresume-<value>`, lowercased, anything but
/// letters, digits and '-' turned into '-', cut to the 63 characters a name may have.
pub fn pod_name(session: &str) -> String {
    dns_label(&format!("{POD_PREFIX}{session}"))
}

/// `text` made into an RFC 1123 label as far as mapping characters can (the caller checks).
fn dns_label(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(63)
        .collect();
    mapped.trim_matches('-').to_owned()
}

/// Whether `value` may be a label value.
fn is_label_value(value: &str) -> bool {
    let inner = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let edge = |c: Option<char>| c.is_none_or(|c| c.is_ascii_alphanumeric());
    value.len() <= 63
        && value.chars().all(inner)
        && edge(value.chars().next())
        && edge(value.chars().last())
}

/// A quantity of MiB, as Kubernetes writes it.
fn mebibytes(mib: u32) -> Quantity {
    Quantity(format!("{mib}Mi"))
}

/// The user's uid: `sandbox.user` when it is numeric (`1000` or `1000:1000`), else the image's
/// `visitor`.
fn uid_gid(user: &str) -> (i64, i64) {
    let mut parts = user.splitn(2, ':').map(str::parse::<i64>);
    match (parts.next(), parts.next()) {
        (Some(Ok(uid)), Some(Ok(gid))) => (uid, gid),
        (Some(Ok(uid)), None) => (uid, uid),
        _ => (VISITOR_UID, VISITOR_UID),
    }
}

/// The pod for `spec`, owned by deployment `instance`: the labels of [`ContainerSpec::labels`]
/// plus [`INSTANCE_LABEL`], and every limit of the spec.
pub fn sandbox_pod(
    spec: &ContainerSpec,
    instance: &str,
    settings: &KubernetesSettings,
) -> Result<Pod, PodError> {
    let limits = &spec.limits;
    let mut labels = BTreeMap::new();
    for (key, value) in spec.labels() {
        labels.insert(key.to_owned(), value);
    }
    labels.insert(INSTANCE_LABEL.to_owned(), instance.to_owned());
    if let Some(proof) = &spec.owner {
        labels.insert(OWNER_LABEL.to_owned(), proof.clone());
    }
    if let Some((key, value)) = labels.iter().find(|(_, v)| !is_label_value(v)) {
        return Err(PodError::Label {
            key: key.clone(),
            value: value.clone(),
        });
    }
    let session = labels.get(SESSION_LABEL).cloned().unwrap_or_default();
    let name = pod_name(&session);
    let hostname = dns_label(&spec.hostname);
    for (what, value) in [("pod name", &name), ("hostname", &hostname)] {
        if !is_dns_label(value) || (what == "pod name" && value.len() <= POD_PREFIX.len()) {
            return Err(PodError::Name {
                what,
                name: value.clone(),
            });
        }
    }
    // The pod's clock starts when it is scheduled, a little after the spec's: the reaper ends
    // the session on time, the deadline is the backstop that holds without any replica.
    let lifetime = epoch_seconds(spec.expires_at).saturating_sub(epoch_seconds(spec.created_at));
    let (uid, gid) = uid_gid(&limits.user);
    let resources = BTreeMap::from([
        ("memory".to_owned(), mebibytes(limits.memory_mib)),
        (
            "cpu".to_owned(),
            Quantity(format!("{}m", limits.cpu_millis)),
        ),
    ]);
    let memory_volume = |name: &str, mib: u32| Volume {
        name: name.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource {
            medium: Some("Memory".into()),
            size_limit: Some(mebibytes(mib)),
        }),
        ..Default::default()
    };
    let mount = |name: &str, path: &str| VolumeMount {
        name: name.to_owned(),
        mount_path: path.to_owned(),
        ..Default::default()
    };
    let env = |name: &str, value: &str| EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        ..Default::default()
    };
    let container = Container {
        name: CONTAINER_NAME.into(),
        image: Some(limits.image.clone()),
        image_pull_policy: Some(settings.image_pull_policy.clone()),
        // No per-container field caps open files: the shell lowers its own soft and hard limit
        // before it starts, and every process it starts inherits it (a non-root user cannot
        // raise a hard limit again), as Docker's `--ulimit nofile` does.
        command: Some(vec![
            "/bin/sh".into(),
            "-c".into(),
            format!("ulimit -n {} && exec {SHELL_COMMAND}", limits.nofile),
        ]),
        // The shell is the container's own process, with a terminal whose stdin stays open
        // across attaches: a lost attach closes nothing, another replica can attach again.
        tty: Some(true),
        stdin: Some(true),
        stdin_once: Some(false),
        working_dir: Some(limits.home_dir.clone()),
        env: Some(vec![
            env("LANG", "C.UTF-8"),
            env("TERM", "xterm-256color"),
            env("HOME", &limits.home_dir),
        ]),
        // Requests = limits: the Guaranteed QoS class (never swapped, evicted last), and the
        // CPU request sets the cgroup weight (500m gives 512 shares, Docker's cpu_shares).
        resources: Some(ResourceRequirements {
            limits: Some(resources.clone()),
            requests: Some(resources),
            ..Default::default()
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            privileged: Some(false),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                add: None,
            }),
            ..Default::default()
        }),
        volume_mounts: Some(vec![mount("tmp", "/tmp"), mount("home", &limits.home_dir)]),
        ..Default::default()
    };
    Ok(Pod {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(settings.namespace.clone()),
            labels: Some(labels),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![container],
            hostname: Some(hostname),
            // The pause container becomes PID 1 of the pod and reaps orphaned zombies, as
            // Docker's `--init` (tini) does; the image carries no init of its own.
            share_process_namespace: Some(true),
            security_context: Some(PodSecurityContext {
                run_as_user: Some(uid),
                run_as_group: Some(gid),
                run_as_non_root: Some(true),
                // Memory-backed volumes are group-owned by the visitor, so the home is writable.
                fs_group: Some(gid),
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".into(),
                    localhost_profile: None,
                }),
                ..Default::default()
            }),
            volumes: Some(vec![
                memory_volume("tmp", limits.tmp_mib),
                memory_volume("home", limits.home_mib),
            ]),
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            restart_policy: Some("Never".into()),
            active_deadline_seconds: Some(i64::try_from(lifetime.max(1)).unwrap_or(i64::MAX)),
            termination_grace_period_seconds: Some(TERMINATION_GRACE_SECS),
            runtime_class_name: (!settings.runtime_class.is_empty())
                .then(|| settings.runtime_class.clone()),
            ..Default::default()
        }),
        status: None,
    })
}
