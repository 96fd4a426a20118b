//! A home archive back into a sandbox ("Restore home"): `POST /api/files/restore`, the
//! `.tar.gz` as the body and the session in the `X-RootResume-Session` header. The archive is
//! read whole on the server first ([`super::archive::check`]); one that could write outside
//! the home, holds devices or unpacks to more than the home holds is refused whole, with the
//! reason. An accepted one goes into the sandbox's `/tmp` like an upload and is unpacked into
//! the home by `tar`, as the visitor, files of the same name replaced.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::archive;
use super::upload::{failure, in_home, read_whole, write_parts, SESSION_HEADER};
use super::{refuse, MAX_ARCHIVE};
use crate::security::SocketPermit;
use crate::sessions::SessionManager;

pub use rootresume_protocol::RESTORE_PATH;

/// `POST /api/files/restore`: see the module's documentation. Answers what was restored.
pub async fn restore(
    permit: SocketPermit,
    State(sessions): State<Arc<SessionManager>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let session = headers
        .get(SESSION_HEADER)
        .and_then(|value| value.to_str().ok());
    let container = match super::session_container(&sessions, session, permit.client()).await {
        Ok(container) => container,
        Err(refused) => return refused.into_response(),
    };
    let archive_bytes = match read_whole(body, "the archive", MAX_ARCHIVE).await {
        Ok(bytes) => bytes,
        Err(refused) => return refused.into_response(),
    };
    let home = u64::from(sessions.limits().home_mib) << 20;
    // Reading a gzip stream is CPU work: off the async threads.
    let (checked, archive_bytes) = match tokio::task::spawn_blocking(move || {
        (archive::check(&archive_bytes, home), archive_bytes)
    })
    .await
    {
        Ok(result) => result,
        Err(_) => {
            return refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the archive could not be read",
            )
        }
    };
    let contents = match checked {
        Ok(contents) => contents,
        Err(why) => {
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("the archive was not restored: {why}"),
            )
        }
    };
    let _turn = match super::transfer_turn().await {
        Ok(turn) => turn,
        Err(refused) => return refused.into_response(),
    };
    let sandbox = sessions.sandbox().as_ref();
    let part = format!("/tmp/.rootresume-restore-{}", uuid::Uuid::new_v4().simple());
    let discard = in_home("rm -f -- $1", vec![part.clone()]);
    let body = axum::body::Body::from(archive_bytes);
    if let Err(refused) =
        write_parts(sandbox, &container, &part, "the archive", body, MAX_ARCHIVE).await
    {
        let _ = sandbox.run_command(&container, &discard).await;
        return refused.into_response();
    }
    let unpack = in_home(
        "cd; tar xzf $1 --no-same-owner --no-same-permissions --delay-directory-restore; s=$?; rm -f -- $1; exit $s",
        vec![part.clone()],
    );
    let unpacked = sandbox.run_command(&container, &unpack).await;
    if let Some(why) = failure("the archive", unpacked) {
        let _ = sandbox.run_command(&container, &discard).await;
        return refuse(StatusCode::INSUFFICIENT_STORAGE, why);
    }
    tracing::info!(
        entries = contents.entries,
        bytes = contents.bytes,
        "a home was restored"
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!(
            "{} files and folders, {} KiB",
            contents.entries,
            contents.bytes.div_ceil(1024)
        ),
    )
        .into_response()
}
