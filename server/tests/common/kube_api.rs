//! A mock Kubernetes API service for the Kubernetes backend's tests, as kube-rs documents it:
//! `tower_test::mock::pair` behind `kube::Client::new`, each request answered by the test.

#![allow(dead_code)] // each test file uses its own part of it

use std::time::Duration;

use axum::http::{Method, Request, Response};
use kube::client::Body;
use server::sandbox::kubernetes::{KubernetesSandbox, KubernetesSettings};

/// The test's side of the mock: the requests the backend sends, to answer one by one.
pub type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

/// The namespace the tests' sandboxes use.
pub const NAMESPACE: &str = "sandboxes";
/// The deployment name the tests' sandboxes carry.
pub const INSTANCE: &str = "test";

/// Settings of the tests' sandboxes.
pub fn settings() -> KubernetesSettings {
    KubernetesSettings {
        namespace: NAMESPACE.into(),
        ..Default::default()
    }
}

/// A sandbox whose client talks to the returned handle.
pub fn mocked() -> (KubernetesSandbox, Handle) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(service, NAMESPACE);
    let sandbox = KubernetesSandbox::with_client(settings(), client).with_instance(INSTANCE);
    (sandbox, handle)
}

/// One request as the API server saw it.
#[derive(Debug)]
pub struct Seen {
    pub method: Method,
    /// Path and query.
    pub uri: String,
    /// The body, parsed as JSON (Null when empty).
    pub body: serde_json::Value,
}

/// Waits (at most 10 s) for the next request and answers it with `status` and `body`.
pub async fn answer(handle: &mut Handle, status: u16, body: serde_json::Value) -> Seen {
    answer_raw(handle, status, serde_json::to_vec(&body).unwrap()).await
}

/// As [`answer`], with the body as given (a watch answers with one JSON event per line).
pub async fn answer_raw(handle: &mut Handle, status: u16, reply: Vec<u8>) -> Seen {
    let next = tokio::time::timeout(Duration::from_secs(10), handle.next_request());
    let (request, respond) = next
        .await
        .expect("the backend sent no request within 10 s")
        .expect("the client was dropped");
    let method = request.method().clone();
    let uri = request.uri().to_string();
    let sent = request.into_body().collect_bytes().await.unwrap();
    let body = if sent.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&sent).unwrap()
    };
    let response = Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(reply))
        .unwrap();
    respond.send_response(response);
    Seen { method, uri, body }
}

/// A pod as the API server returns it: `name`, the session label, and a status.
pub fn pod_json(name: &str, session: &str, status: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "resourceVersion": "41",
            "labels": {
                "rootresume.session": session,
                "rootresume.instance": INSTANCE,
                "rootresume.expires": "4102444800"
            }
        },
        "spec": {"containers": [{"name": "shell", "image": "rootresume-sandbox:latest"}]},
        "status": status
    })
}

/// A pod status whose shell runs.
pub fn running() -> serde_json::Value {
    serde_json::json!({"phase": "Running", "containerStatuses": [{
        "name": "shell", "image": "i", "imageID": "", "ready": true, "restartCount": 0,
        "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
    }]})
}

/// A pod status whose shell exited with `code`.
pub fn exited(code: i32) -> serde_json::Value {
    serde_json::json!({"phase": if code == 0 { "Succeeded" } else { "Failed" }, "containerStatuses": [{
        "name": "shell", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
        "state": {"terminated": {"exitCode": code}}
    }]})
}

/// An API error answer, as the API server writes it.
pub fn status_json(code: u16, reason: &str, message: &str) -> serde_json::Value {
    serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code
    })
}
