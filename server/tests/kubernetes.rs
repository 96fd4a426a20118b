//! The Kubernetes backend's API calls against a mock API service (no cluster runs here):
//! create, the quota-exceeded answer, list by label, watch, delete, and the states a pod can
//! be found in when a shell is opened. A smoke test runs on a real cluster when KUBECONFIG is set.

#[path = "common/kube_api.rs"]
mod kube_api;

use std::io::Write;
use std::time::Duration;

use axum::http::Method;
use futures_util::StreamExt;
use kube_api::{answer, answer_raw, exited, mocked, pod_json, running, status_json, NAMESPACE};
use serde_json::json;
use server::sandbox::kubernetes::KubernetesSandbox;
use server::sandbox::{ContainerId, ContainerSpec, Sandbox, SandboxError, SandboxLimits, TermSize};
use tokio::io::AsyncWriteExt;

const SESSION: &str = "00112233445566778899aabbccddeeff";
const POD: &str = "rootresume-00112233445566778899aabbccddeeff";

fn spec() -> ContainerSpec {
    ContainerSpec::new(SESSION, Duration::from_secs(600), SandboxLimits::default())
}

#[tokio::test]
async fn create_posts_the_built_pod_and_returns_its_name() {
    let (sandbox, mut api) = mocked();
    let spec = spec();
    let (created, seen) = tokio::join!(
        sandbox.create(&spec),
        answer(
            &mut api,
            201,
            pod_json(POD, SESSION, json!({"phase": "Pending"}))
        )
    );
    assert_eq!(created.unwrap(), ContainerId(POD.into()));
    assert_eq!(seen.method, Method::POST);
    assert_eq!(seen.uri, format!("/api/v1/namespaces/{NAMESPACE}/pods?"));
    let pod = seen.body;
    assert_eq!(pod["metadata"]["name"], POD);
    assert_eq!(pod["metadata"]["labels"]["rootresume.session"], SESSION);
    assert_eq!(pod["metadata"]["labels"]["rootresume.instance"], "test");
    assert_eq!(pod["spec"]["activeDeadlineSeconds"], 600);
    let shell = &pod["spec"]["containers"][0];
    assert_eq!(shell["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(shell["resources"]["limits"]["memory"], "128Mi");
}

#[tokio::test]
async fn quota_exceeded_says_what_to_change() {
    let (sandbox, mut api) = mocked();
    let spec = spec();
    let message = "pods \"rootresume-0011\" is forbidden: exceeded quota: sandboxes, requested: pods=1, used: pods=220, limited: pods=220";
    let (created, _) = tokio::join!(
        sandbox.create(&spec),
        answer(&mut api, 403, status_json(403, "Forbidden", message))
    );
    let error = created.unwrap_err();
    let SandboxError::Engine { action, detail } = &error else {
        panic!("expected an engine refusal, got {error:?}");
    };
    assert_eq!(*action, "create a sandbox pod");
    assert!(detail.contains("ResourceQuota is used up"), "{detail}");
    assert!(detail.contains("limited: pods=220"), "{detail}");
    assert!(
        detail.contains("deploy/kubernetes/sandbox-quota.yaml"),
        "{detail}"
    );
}

#[tokio::test]
async fn list_selects_this_instance_by_label() {
    let (sandbox, mut api) = mocked();
    let list = json!({
        "apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "7"},
        "items": [
            pod_json("rootresume-a", "a", running()),
            pod_json("rootresume-b", "b", exited(0)),
            pod_json("rootresume-c", "c", json!({"phase": "Pending"})),
        ]
    });
    let (found, seen) = tokio::join!(sandbox.list(), answer(&mut api, 200, list));
    assert_eq!(seen.method, Method::GET);
    assert!(
        seen.uri
            .starts_with(&format!("/api/v1/namespaces/{NAMESPACE}/pods?"))
            && seen
                .uri
                .contains("labelSelector=rootresume.session%2Crootresume.instance%3Dtest"),
        "{}",
        seen.uri
    );
    let found: Vec<(String, String, bool, Option<u64>)> = found
        .unwrap()
        .into_iter()
        .map(|c| (c.id.0, c.session, c.running, c.expires_at))
        .collect();
    let expires = Some(4_102_444_800);
    assert_eq!(
        found,
        [
            ("rootresume-a".into(), "a".into(), true, expires),
            ("rootresume-b".into(), "b".into(), false, expires),
            ("rootresume-c".into(), "c".into(), true, expires),
        ]
    );
}

/// One watch event line, with the pod's resource version set to `version`.
fn event(kind: &str, mut pod: serde_json::Value, version: &str) -> String {
    pod["metadata"]["resourceVersion"] = json!(version);
    format!("{}\n", json!({"type": kind, "object": pod}))
}

#[tokio::test]
async fn watch_reports_each_stopped_pod_once_and_resumes_where_it_ended() {
    let (sandbox, mut api) = mocked();
    let start = json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "100"}, "items": []});
    let (stopped, seen) = tokio::join!(sandbox.stopped(), answer(&mut api, 200, start));
    assert!(seen.uri.contains("limit=1"), "{}", seen.uri);
    let mut stopped = stopped.unwrap();

    let events = [
        event("MODIFIED", pod_json("rootresume-a", "a", running()), "101"),
        event("MODIFIED", pod_json("rootresume-a", "a", exited(2)), "102"),
        event("MODIFIED", pod_json("rootresume-a", "a", exited(2)), "103"),
        event("DELETED", pod_json("rootresume-a", "a", exited(2)), "104"),
        event("DELETED", pod_json("rootresume-b", "b", running()), "105"),
    ]
    .concat();
    let (first, seen) = tokio::join!(stopped.next(), answer_raw(&mut api, 200, events.into()));
    assert!(
        seen.uri.contains("watch=true") && seen.uri.contains("resourceVersion=100"),
        "{}",
        seen.uri
    );
    assert!(seen
        .uri
        .contains("labelSelector=rootresume.session%2Crootresume.instance%3Dtest"));
    let first = first.unwrap().unwrap();
    assert_eq!(
        (first.id.0.as_str(), first.session.as_str(), first.exit_code),
        ("rootresume-a", "a", Some(2))
    );
    // The repeat and the deletion of a are not reported again; b, deleted while running, is.
    let second = stopped.next().await.unwrap().unwrap();
    assert_eq!(
        (
            second.id.0.as_str(),
            second.session.as_str(),
            second.exit_code
        ),
        ("rootresume-b", "b", None)
    );

    // The server ends that watch; the next resumes at the last version seen, and a 410 Gone
    // (the version is too old) ends the stream with an error, for the caller to start afresh.
    let gone = format!(
        "{}\n",
        json!({"type": "ERROR", "object": status_json(410, "Expired", "too old resource version: 105")})
    );
    let (third, seen) = tokio::join!(stopped.next(), answer_raw(&mut api, 200, gone.into()));
    assert!(seen.uri.contains("resourceVersion=105"), "{}", seen.uri);
    let error = third.unwrap().unwrap_err();
    assert!(error.to_string().contains("410"), "{error}");
    assert!(stopped.next().await.is_none());
}

#[tokio::test]
async fn the_owner_proof_is_a_label_patched_on_and_read_back() {
    let (sandbox, mut api) = mocked();
    let proof = "ffeeddccbbaa99887766554433221100";
    let pod = ContainerId(POD.into());
    let mut labelled = pod_json(POD, SESSION, running());
    labelled["metadata"]["labels"]["rootresume.owner"] = json!(proof);
    let (patched, seen) = tokio::join!(
        sandbox.set_owner(&pod, SESSION, proof),
        answer(&mut api, 200, labelled.clone())
    );
    patched.unwrap();
    assert_eq!(seen.method, Method::PATCH);
    assert!(
        seen.uri
            .starts_with(&format!("/api/v1/namespaces/{NAMESPACE}/pods/{POD}?")),
        "{}",
        seen.uri
    );
    assert_eq!(
        seen.body,
        json!({"metadata": {"labels": {"rootresume.owner": proof}}})
    );

    let mut forged = pod_json("rootresume-b", "b", running());
    forged["metadata"]["labels"]["rootresume.owner"] = json!("not-a-proof");
    let list = json!({
        "apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "7"},
        "items": [labelled, forged, pod_json("rootresume-c", "c", running())]
    });
    let (found, _) = tokio::join!(sandbox.list(), answer(&mut api, 200, list));
    let owners: Vec<Option<String>> = found.unwrap().into_iter().map(|c| c.owner).collect();
    assert_eq!(owners, [Some(proof.to_owned()), None, None]);

    // A pod created for a visitor carries the proof from the start.
    let owned = spec().owned_by(Some(proof.to_owned()));
    let (_, seen) = tokio::join!(
        sandbox.create(&owned),
        answer(
            &mut api,
            201,
            pod_json(POD, SESSION, json!({"phase": "Pending"}))
        )
    );
    assert_eq!(seen.body["metadata"]["labels"]["rootresume.owner"], proof);
    assert_eq!(seen.body["metadata"]["name"], POD);
}

#[tokio::test]
async fn remove_deletes_and_a_missing_pod_is_already_removed() {
    let (sandbox, mut api) = mocked();
    let pod = ContainerId(POD.into());
    let (removed, seen) = tokio::join!(
        sandbox.remove(&pod),
        answer(&mut api, 200, pod_json(POD, SESSION, running()))
    );
    removed.unwrap();
    assert_eq!(seen.method, Method::DELETE);
    assert!(
        seen.uri
            .starts_with(&format!("/api/v1/namespaces/{NAMESPACE}/pods/{POD}")),
        "{}",
        seen.uri
    );
    let (removed, _) = tokio::join!(
        sandbox.remove(&pod),
        answer(
            &mut api,
            404,
            status_json(404, "NotFound", "pods not found")
        )
    );
    removed.unwrap();
    let (removed, _) = tokio::join!(
        sandbox.remove(&pod),
        answer(
            &mut api,
            503,
            status_json(503, "ServiceUnavailable", "etcd down")
        )
    );
    let error = removed.unwrap_err();
    assert!(
        matches!(error, SandboxError::EngineUnreachable { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_pod_whose_image_cannot_be_pulled_is_an_image_missing() {
    let (sandbox, mut api) = mocked();
    let pulling = json!({"phase": "Pending", "containerStatuses": [{
        "name": "shell", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": "ImagePullBackOff", "message": "pull access denied"}}
    }]});
    let pod = ContainerId(POD.into());
    let (opened, seen) = tokio::join!(
        sandbox.open_shell(&pod, TermSize::default()),
        answer(&mut api, 200, pod_json(POD, SESSION, pulling))
    );
    assert_eq!(
        seen.uri,
        format!("/api/v1/namespaces/{NAMESPACE}/pods/{POD}")
    );
    let Err(SandboxError::ImageMissing { image }) = opened else {
        panic!("expected ImageMissing");
    };
    assert_eq!(image, "rootresume-sandbox:latest");
}

#[tokio::test]
async fn a_pod_that_already_stopped_is_gone() {
    let (sandbox, mut api) = mocked();
    let pod = ContainerId(POD.into());
    let (opened, _) = tokio::join!(
        sandbox.open_shell(&pod, TermSize::default()),
        answer(&mut api, 200, pod_json(POD, SESSION, exited(137)))
    );
    let Err(SandboxError::ContainerGone { detail }) = opened else {
        panic!("expected ContainerGone");
    };
    assert!(detail.contains("137"), "{detail}");
}

/// On a real cluster (KUBECONFIG set): a pod is created, its shell answers, and it is removed.
/// The namespace is ROOTRESUME_KUBERNETES_NAMESPACE (default rootresume-sandboxes), the image
/// ROOTRESUME_SANDBOX_IMAGE (default rootresume-sandbox:latest), reachable by the nodes.
#[tokio::test]
async fn real_cluster_smoke() {
    if std::env::var_os("KUBECONFIG").is_none() {
        // Straight to stderr: the test harness captures println! of passing tests.
        let _ = writeln!(
            std::io::stderr(),
            "skipped: real_cluster_smoke needs a Kubernetes cluster (set KUBECONFIG)"
        );
        return;
    }
    let mut settings = kube_api::settings();
    settings.namespace = std::env::var("ROOTRESUME_KUBERNETES_NAMESPACE")
        .unwrap_or_else(|_| "rootresume-sandboxes".into());
    let instance = format!("smoke-{}", std::process::id());
    let sandbox = KubernetesSandbox::new(settings).with_instance(&instance);
    sandbox.check().await.unwrap();
    let mut limits = SandboxLimits::default();
    if let Ok(image) = std::env::var("ROOTRESUME_SANDBOX_IMAGE") {
        limits.image = image;
    }
    let session = format!("{:032x}", std::process::id());
    let spec = ContainerSpec::new(&session, Duration::from_secs(300), limits);
    let pod = sandbox.create(&spec).await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(120), async {
        let listed = sandbox.list().await.unwrap();
        assert!(listed.iter().any(|c| c.id == pod), "{listed:?}");
        let mut shell = sandbox.open_shell(&pod, TermSize::default()).await.unwrap();
        shell
            .input
            .write_all(b"echo rr-smoke-$((6*7))\r")
            .await
            .unwrap();
        let mut seen = Vec::new();
        while let Some(chunk) = shell.output.next().await {
            seen.extend_from_slice(&chunk.unwrap());
            if String::from_utf8_lossy(&seen).contains("rr-smoke-42") {
                return;
            }
        }
        panic!(
            "the shell ended without echoing: {}",
            String::from_utf8_lossy(&seen)
        );
    })
    .await;
    sandbox.remove(&pod).await.unwrap();
    outcome.expect("no echo from the pod's shell within 120 s");
}
