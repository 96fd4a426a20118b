//! kube-rs errors turned into [`SandboxError`]s a person can act on.

use kube::client::UpgradeConnectionError;

use crate::sandbox::SandboxError;

/// Where to look when the API server refuses the server's own identity.
const RBAC_HINT: &str =
    "the server's ServiceAccount needs the Role of deploy/kubernetes/server-rbac.yaml in this namespace";

/// What the API server said, for the sandbox's error; `endpoint` names the API server and
/// namespace for the errors that mean it cannot be reached.
pub fn classify(action: &'static str, endpoint: &str, error: kube::Error) -> SandboxError {
    match error {
        kube::Error::Api(status) => {
            let detail = format!("{} {}: {}", status.code, status.reason, status.message);
            match status.code {
                404 => SandboxError::ContainerGone { detail },
                // The ResourceQuota's answer: "pods \"…\" is forbidden: exceeded quota: …".
                403 if status.message.contains("exceeded quota") => SandboxError::Engine {
                    action,
                    detail: format!(
                        "the sandbox namespace's ResourceQuota is used up ({}); raise it \
                         (deploy/kubernetes/sandbox-quota.yaml) or lower sessions.max_sessions",
                        status.message
                    ),
                },
                401 | 403 => SandboxError::Engine {
                    action,
                    detail: format!("{detail} ({RBAC_HINT})"),
                },
                // Overloaded or restarting: the same as not answering, for the visitor.
                500.. => SandboxError::EngineUnreachable {
                    endpoint: endpoint.to_owned(),
                    detail,
                },
                _ => SandboxError::Engine { action, detail },
            }
        }
        kube::Error::UpgradeConnection(UpgradeConnectionError::ProtocolSwitch(status)) => {
            let detail = format!("attach answered {status}");
            match status.as_u16() {
                // No such pod, or its container is not running (any more).
                400 | 404 => SandboxError::ContainerGone { detail },
                401 | 403 => SandboxError::Engine {
                    action,
                    detail: format!("{detail} ({RBAC_HINT}, with pods/attach)"),
                },
                _ => SandboxError::Engine { action, detail },
            }
        }
        kube::Error::SerdeError(_)
        | kube::Error::FromUtf8(_)
        | kube::Error::BuildRequest(_)
        | kube::Error::LinesCodecMaxLineLengthExceeded
        | kube::Error::UpgradeConnection(_) => SandboxError::Engine {
            action,
            detail: error.to_string(),
        },
        // Connection, TLS, credentials and configuration: the cluster is out of reach.
        other => SandboxError::EngineUnreachable {
            endpoint: endpoint.to_owned(),
            detail: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(Status::failure(message, reason).with_code(code).boxed())
    }

    #[test]
    fn quota_refusal_says_what_to_change() {
        let error = classify(
            "create a sandbox pod",
            "api",
            api(
                403,
                "Forbidden",
                "pods \"rootresume-x\" is forbidden: exceeded quota: sandboxes, requested: pods=1, used: pods=220, limited: pods=220",
            ),
        );
        let SandboxError::Engine { action, detail } = error else {
            panic!("{error:?}")
        };
        assert_eq!(action, "create a sandbox pod");
        assert!(detail.contains("ResourceQuota is used up"), "{detail}");
        assert!(detail.contains("limited: pods=220"), "{detail}");
        assert!(detail.contains("sessions.max_sessions"), "{detail}");
    }

    #[test]
    fn other_refusals_map_by_status() {
        let gone = classify("get", "api", api(404, "NotFound", "pods \"x\" not found"));
        assert!(
            matches!(gone, SandboxError::ContainerGone { .. }),
            "{gone:?}"
        );
        let rbac = classify("list", "api", api(403, "Forbidden", "cannot list pods"));
        assert!(rbac.to_string().contains("server-rbac.yaml"), "{rbac}");
        let down = classify(
            "list",
            "https://k8s:6443",
            api(503, "ServiceUnavailable", "x"),
        );
        assert!(
            matches!(&down, SandboxError::EngineUnreachable { endpoint, .. } if endpoint == "https://k8s:6443"),
            "{down:?}"
        );
        let attach = classify(
            "attach",
            "api",
            kube::Error::UpgradeConnection(UpgradeConnectionError::ProtocolSwitch(
                axum::http::StatusCode::BAD_REQUEST,
            )),
        );
        assert!(
            matches!(attach, SandboxError::ContainerGone { .. }),
            "{attach:?}"
        );
    }
}
