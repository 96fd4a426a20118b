//! The pod builder's fields, each asserted against the limit it mirrors.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::pod::{pod_name, sandbox_pod, PodError, CONTAINER_NAME};
use super::settings::KubernetesSettings;
use crate::sandbox::docker::SHELL_COMMAND;
use crate::sandbox::{ContainerSpec, SandboxLimits, INSTANCE_LABEL, SESSION_LABEL};

const SESSION: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

fn spec(limits: SandboxLimits) -> ContainerSpec {
    ContainerSpec::new(SESSION, Duration::from_secs(3600), limits)
}

#[test]
fn every_limit_is_mirrored() {
    let limits = SandboxLimits {
        memory_mib: 200,
        cpu_millis: 750,
        home_mib: 30,
        tmp_mib: 20,
        nofile: 512,
        ..Default::default()
    };
    let pod = sandbox_pod(&spec(limits), "prod", &KubernetesSettings::default()).unwrap();
    let meta = &pod.metadata;
    assert_eq!(
        meta.name.as_deref(),
        Some(&*format!("rootresume-{SESSION}"))
    );
    assert_eq!(meta.namespace.as_deref(), Some("rootresume-sandboxes"));
    let labels = meta.labels.as_ref().unwrap();
    assert_eq!(labels[SESSION_LABEL], SESSION);
    assert_eq!(labels[INSTANCE_LABEL], "prod");
    let created: u64 = labels["rootresume.created"].parse().unwrap();
    let expires: u64 = labels["rootresume.expires"].parse().unwrap();
    assert_eq!(expires - created, 3600);

    let spec = pod.spec.as_ref().unwrap();
    assert_eq!(spec.automount_service_account_token, Some(false));
    assert_eq!(spec.enable_service_links, Some(false));
    assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
    assert_eq!(spec.active_deadline_seconds, Some(3600));
    assert_eq!(spec.share_process_namespace, Some(true));
    assert_eq!(spec.runtime_class_name, None);
    assert_eq!(spec.hostname.as_deref(), Some("rr-0f1e2d3c"));
    let pod_security = spec.security_context.as_ref().unwrap();
    assert_eq!(pod_security.run_as_user, Some(1000));
    assert_eq!(pod_security.run_as_group, Some(1000));
    assert_eq!(pod_security.fs_group, Some(1000));
    assert_eq!(pod_security.run_as_non_root, Some(true));
    assert_eq!(
        pod_security.seccomp_profile.as_ref().unwrap().type_,
        "RuntimeDefault"
    );
    let volumes = spec.volumes.as_ref().unwrap();
    let sizes: Vec<(&str, Option<&str>, Option<&Quantity>)> = volumes
        .iter()
        .map(|v| {
            let dir = v.empty_dir.as_ref().unwrap();
            (
                v.name.as_str(),
                dir.medium.as_deref(),
                dir.size_limit.as_ref(),
            )
        })
        .collect();
    assert_eq!(
        sizes,
        [
            ("tmp", Some("Memory"), Some(&Quantity("20Mi".into()))),
            ("home", Some("Memory"), Some(&Quantity("30Mi".into()))),
        ]
    );

    assert_eq!(spec.containers.len(), 1);
    let shell = &spec.containers[0];
    assert_eq!(shell.name, CONTAINER_NAME);
    assert_eq!(shell.image.as_deref(), Some("rootresume-sandbox:latest"));
    assert_eq!(shell.image_pull_policy.as_deref(), Some("IfNotPresent"));
    let command = shell.command.as_ref().unwrap();
    assert_eq!(command[2], format!("ulimit -n 512 && exec {SHELL_COMMAND}"));
    assert_eq!(
        (shell.tty, shell.stdin, shell.stdin_once),
        (Some(true), Some(true), Some(false))
    );
    assert_eq!(shell.working_dir.as_deref(), Some("/home/visitor"));
    let resources = shell.resources.as_ref().unwrap();
    assert_eq!(resources.limits, resources.requests, "Guaranteed QoS");
    let limits = resources.limits.as_ref().unwrap();
    assert_eq!(limits["memory"], Quantity("200Mi".into()));
    assert_eq!(limits["cpu"], Quantity("750m".into()));
    let security = shell.security_context.as_ref().unwrap();
    assert_eq!(security.allow_privilege_escalation, Some(false));
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.privileged, Some(false));
    let drop = security.capabilities.as_ref().unwrap().drop.as_ref();
    assert_eq!(drop, Some(&vec!["ALL".to_owned()]));
    let mounts: Vec<(&str, &str)> = shell
        .volume_mounts
        .as_ref()
        .unwrap()
        .iter()
        .map(|m| (m.name.as_str(), m.mount_path.as_str()))
        .collect();
    assert_eq!(mounts, [("tmp", "/tmp"), ("home", "/home/visitor")]);
    let env: Vec<String> = shell
        .env
        .as_ref()
        .unwrap()
        .iter()
        .map(|e| format!("{}={}", e.name, e.value.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        env,
        ["LANG=C.UTF-8", "TERM=xterm-256color", "HOME=/home/visitor"]
    );
}

#[test]
fn runtime_class_and_pull_policy_come_from_settings() {
    let settings = KubernetesSettings {
        runtime_class: "gvisor".into(),
        image_pull_policy: "Always".into(),
        namespace: "sandboxes".into(),
        ..Default::default()
    };
    let pod = sandbox_pod(&spec(SandboxLimits::default()), "default", &settings).unwrap();
    let spec = pod.spec.unwrap();
    assert_eq!(spec.runtime_class_name.as_deref(), Some("gvisor"));
    assert_eq!(
        spec.containers[0].image_pull_policy.as_deref(),
        Some("Always")
    );
    assert_eq!(pod.metadata.namespace.as_deref(), Some("sandboxes"));
}

#[test]
fn numeric_user_sets_the_ids() {
    let limits = SandboxLimits {
        user: "2000:3000".into(),
        ..Default::default()
    };
    let pod = sandbox_pod(&spec(limits), "default", &KubernetesSettings::default()).unwrap();
    let security = pod.spec.unwrap().security_context.unwrap();
    assert_eq!(
        (
            security.run_as_user,
            security.run_as_group,
            security.fs_group
        ),
        (Some(2000), Some(3000), Some(3000))
    );
}

#[test]
fn names_are_dns_labels() {
    assert_eq!(pod_name("AB_cd.12"), "rootresume-ab-cd-12");
    assert_eq!(pod_name(&"f".repeat(80)).len(), 63);
    assert!(pod_name("x-").ends_with('x'));
}

#[test]
fn an_invalid_label_value_is_refused_by_name() {
    let error = sandbox_pod(
        &ContainerSpec::new(&"a".repeat(64), Duration::from_secs(60), Default::default()),
        "default",
        &KubernetesSettings::default(),
    )
    .unwrap_err();
    assert_eq!(
        error,
        PodError::Label {
            key: SESSION_LABEL.into(),
            value: "a".repeat(64)
        }
    );
    let error = sandbox_pod(
        &spec(SandboxLimits::default()),
        "-bad",
        &KubernetesSettings::default(),
    )
    .unwrap_err();
    assert!(error.to_string().contains(INSTANCE_LABEL), "{error}");
}

#[test]
fn yaml_names_the_kind_and_fields() {
    let pod = sandbox_pod(
        &spec(SandboxLimits::default()),
        "default",
        &KubernetesSettings::default(),
    )
    .unwrap();
    let yaml = serde_saphyr::to_string(&pod).unwrap();
    for line in [
        "apiVersion: v1",
        "kind: Pod",
        "readOnlyRootFilesystem: true",
        "shareProcessNamespace: true",
        "sizeLimit: 50Mi",
    ] {
        assert!(yaml.contains(line), "{line} missing from:\n{yaml}");
    }
}
