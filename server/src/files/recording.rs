//! `POST /api/recording` with `{"session": ID}`: the session's recording, asciicast v3, as a
//! `.cast` file. The recording lives with the session in the replica that runs it; the session
//! id, a bearer token, travels in the body, never the URL.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::refuse;
use crate::ids::SessionId;
use crate::security::SocketPermit;
use crate::sessions::SessionManager;

pub use rootresume_protocol::RECORDING_PATH;

/// What the page asks for.
#[derive(Debug, Deserialize)]
pub struct RecordingRequest {
    /// The tab's session id.
    session: String,
}

/// `POST /api/recording`. Only the session's own client gets it; any other answer is 404.
pub async fn recording(
    permit: SocketPermit,
    State(sessions): State<Arc<SessionManager>>,
    Json(request): Json<RecordingRequest>,
) -> Response {
    let session = SessionId::parse(&request.session)
        .and_then(|id| sessions.live_session_for(&id, permit.client()));
    let Some(session) = session else {
        return refuse(
            StatusCode::NOT_FOUND,
            "this sandbox session is unknown, has ended, or runs on another server",
        );
    };
    let Some(text) = session.main().recording() else {
        return refuse(
            StatusCode::NOT_FOUND,
            "this server keeps no recordings (sessions.recording_max_bytes = 0)",
        );
    };
    (
        [
            (header::CONTENT_TYPE, "application/x-asciicast"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"sandbox.cast\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        text,
    )
        .into_response()
}
