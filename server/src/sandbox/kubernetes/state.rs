//! What a pod's status says about its shell: starting, running, or over (and how).

use k8s_openapi::api::core::v1::Pod;

use super::pod::CONTAINER_NAME;

/// The life of a sandbox pod, as far as the session layer cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodState {
    /// Not running yet: being scheduled, pulling the image, creating the container. `why` is
    /// what the API server gives as the reason, if anything.
    Starting {
        /// The waiting reason or unschedulable message.
        why: Option<String>,
    },
    /// The image cannot be pulled: it will not start without an operator.
    ImageMissing {
        /// The kubelet's reason and message.
        why: String,
    },
    /// The shell runs.
    Running,
    /// The shell ended, the pod failed or is being deleted.
    Over {
        /// The shell's exit code, when it has one.
        exit_code: Option<i64>,
    },
}

/// Reasons the kubelet gives when the image will not come.
const IMAGE_REASONS: [&str; 4] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
];

/// Reads the pod's state from its status (and deletion mark).
pub fn pod_state(pod: &Pod) -> PodState {
    let status = pod.status.as_ref();
    let shell = status
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|all| all.iter().find(|c| c.name == CONTAINER_NAME));
    let state = shell.and_then(|c| c.state.as_ref());
    if let Some(terminated) = state.and_then(|s| s.terminated.as_ref()) {
        return PodState::Over {
            exit_code: Some(i64::from(terminated.exit_code)),
        };
    }
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    if matches!(phase, "Succeeded" | "Failed") || pod.metadata.deletion_timestamp.is_some() {
        return PodState::Over { exit_code: None };
    }
    if state.is_some_and(|s| s.running.is_some()) {
        return PodState::Running;
    }
    let waiting = state.and_then(|s| s.waiting.as_ref());
    if let Some(waiting) = waiting {
        let reason = waiting.reason.clone().unwrap_or_default();
        let message = waiting.message.clone().unwrap_or_default();
        if IMAGE_REASONS.contains(&reason.as_str()) {
            return PodState::ImageMissing {
                why: format!("{reason}: {message}"),
            };
        }
        return PodState::Starting {
            why: (!reason.is_empty()).then(|| format!("{reason} {message}").trim().to_owned()),
        };
    }
    let unscheduled = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|all| {
            all.iter()
                .find(|c| c.type_ == "PodScheduled" && c.status == "False")
        })
        .map(|c| {
            c.message
                .clone()
                .unwrap_or_else(|| "not scheduled yet".into())
        });
    PodState::Starting { why: unscheduled }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(json: serde_json::Value) -> Pod {
        serde_json::from_value(json).unwrap()
    }

    fn with_shell(phase: &str, state: serde_json::Value) -> Pod {
        pod(serde_json::json!({
            "metadata": {"name": "p"},
            "status": {"phase": phase, "containerStatuses": [{
                "name": "shell", "image": "i", "imageID": "", "ready": false,
                "restartCount": 0, "state": state
            }]}
        }))
    }

    #[test]
    fn states_from_status() {
        assert_eq!(
            pod_state(&with_shell("Running", serde_json::json!({"running": {}}))),
            PodState::Running
        );
        assert_eq!(
            pod_state(&with_shell(
                "Running",
                serde_json::json!({"terminated": {"exitCode": 137}})
            )),
            PodState::Over {
                exit_code: Some(137)
            }
        );
        assert_eq!(
            pod_state(&with_shell(
                "Pending",
                serde_json::json!({"waiting": {"reason": "ImagePullBackOff", "message": "no such image"}})
            )),
            PodState::ImageMissing {
                why: "ImagePullBackOff: no such image".into()
            }
        );
        assert_eq!(
            pod_state(&with_shell(
                "Pending",
                serde_json::json!({"waiting": {"reason": "ContainerCreating"}})
            )),
            PodState::Starting {
                why: Some("ContainerCreating".into())
            }
        );
        assert_eq!(
            pod_state(&pod(serde_json::json!({"status": {"phase": "Failed"}}))),
            PodState::Over { exit_code: None }
        );
        let unschedulable = pod(
            serde_json::json!({"status": {"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "message": "0/3 nodes are available"}
            ]}}),
        );
        assert_eq!(
            pod_state(&unschedulable),
            PodState::Starting {
                why: Some("0/3 nodes are available".into())
            }
        );
    }
}
