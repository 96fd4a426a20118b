//! The operator's endpoints: `/healthz` (the process answers), `/readyz` (it can serve a new
//! visitor) and `/metrics` (Prometheus), on the site's address or a separate one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::sessions::SessionManager;

/// How long `/readyz` waits for the engine before calling it unreachable.
const ENGINE_CHECK_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one look at the engine and the store serves `/readyz`: a stranger polling it must
/// not turn into engine calls.
const CHECK_FOR: Duration = Duration::from_secs(5);

/// One readiness check: when it ran, and why the replica is not ready (empty: it is).
type Check = (tokio::time::Instant, Vec<String>);

/// What the endpoints read, and who may read `/metrics`.
#[derive(Clone)]
struct Ops {
    sessions: Arc<SessionManager>,
    /// Required bearer token; empty for none.
    token: Arc<str>,
    /// Whether only loopback clients may read (the site's own address without a token).
    loopback_only: bool,
    /// The last readiness check: when, and the reasons it found for not being ready.
    checked: Arc<tokio::sync::Mutex<Option<Check>>>,
}

/// The three endpoints. `token` protects `/metrics`; without one, `loopback_only` limits it to
/// clients on this machine.
pub fn router(sessions: Arc<SessionManager>, token: &str, loopback_only: bool) -> Router {
    let ops = Ops {
        sessions,
        token: token.into(),
        loopback_only: loopback_only && token.is_empty(),
        checked: Arc::default(),
    };
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(ops)
}

/// Ready when the engine answers, the image is there and the session store answers; otherwise
/// 503 with one reason per line, in words that name no internal endpoint (the details go to the
/// log). A full site is still ready: it serves pages, and the terminal tells a visitor who waits
/// for a slot why (capacity is a metric, not unreadiness).
async fn readyz(State(ops): State<Ops>) -> (StatusCode, String) {
    let sessions = &ops.sessions;
    let mut reasons = {
        // One check at a time, at most every CHECK_FOR; concurrent requests share it.
        let mut checked = ops.checked.lock().await;
        match &*checked {
            Some((at, reasons)) if at.elapsed() < CHECK_FOR => reasons.clone(),
            _ => {
                let reasons = check(sessions).await;
                *checked = Some((tokio::time::Instant::now(), reasons.clone()));
                reasons
            }
        }
    };
    let (live, capacity) = (sessions.live_count(), sessions.capacity());
    if sessions.is_shutting_down() {
        reasons.push("shutting down".into());
    }
    if reasons.is_empty() {
        (
            StatusCode::OK,
            format!("ready: {live} of {capacity} sessions in use\n"),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready:\n{}\n", reasons.join("\n")),
        )
    }
}

/// Asks the engine and the store; returns what is wrong, in public words.
async fn check(sessions: &SessionManager) -> Vec<String> {
    let mut reasons = Vec::new();
    match tokio::time::timeout(ENGINE_CHECK_TIMEOUT, sessions.sandbox().check()).await {
        Ok(Ok(())) => {}
        Ok(Err(crate::sandbox::SandboxError::ImageMissing { image })) => {
            tracing::warn!(%image, "not ready: the sandbox image is missing");
            reasons.push("the sandbox image is missing".into());
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "not ready: the container engine fails");
            reasons.push("the container engine does not answer".into());
        }
        Err(_) => reasons.push("the container engine does not answer".into()),
    }
    match tokio::time::timeout(ENGINE_CHECK_TIMEOUT, sessions.store().check()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::warn!(%error, "not ready: the session store fails");
            reasons.push("the session store does not answer".into());
        }
        Err(_) => reasons.push("the session store does not answer".into()),
    }
    reasons
}

async fn metrics(
    State(access): State<Ops>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if !access.token.is_empty() {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        if !given
            .is_some_and(|given| crate::security::ct_eq(given.as_bytes(), access.token.as_bytes()))
        {
            return (
                StatusCode::UNAUTHORIZED,
                "metrics need the header Authorization: Bearer <metrics.token>\n",
            )
                .into_response();
        }
    } else if access.loopback_only && !peer.ip().is_loopback() {
        return (
            StatusCode::FORBIDDEN,
            "metrics are served to this machine only; set metrics.token or metrics.listen\n",
        )
            .into_response();
    }
    let sessions = &access.sessions;
    let pool = sessions.pool();
    let body = sessions
        .metrics()
        .render(sessions.live_count(), pool.len(), pool.starting());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}
