//! Files in and out of a visitor's sandbox: what `download FILE` in their shell asks for, their
//! whole home as a `.tar.gz` ("Download home"), files they upload, and the session's recording.
//!
//! `POST /api/files/upload` takes the file as the body, its session in the
//! `X-RootResume-Session` header and its name (percent-encoded) in `X-RootResume-Name`. It goes
//! into the sandbox on a command's standard input, into a hidden part file in the home, which
//! is then renamed to the (sanitised) name, never over an existing file.
//!
//! `POST /api/files/download` with a JSON body: `{"session": ID, "path": BASE64}` for one file
//! (the absolute path the sandbox's `download` command wrote in its terminal, base64-encoded),
//! or `{"session": ID, "home": true}` for the home. The session id, a bearer token, travels in
//! the body, never the URL. The file is read by a command in the sandbox, as the visitor, so
//! nothing the visitor cannot read leaves it, and it comes back through the same engine calls as
//! a Run block's file goes in (the socket proxy carries them).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::ids::SessionId;
use crate::sandbox::Command;
use crate::security::SocketPermit;
use crate::sessions::SessionManager;

mod archive;
mod recording;
mod restore;
mod upload;

pub use archive::{check as check_archive, ArchiveError};
pub use recording::{recording, RECORDING_PATH};
pub use restore::{restore, RESTORE_PATH};
pub use upload::{upload, upload_name, NAME_HEADER, SESSION_HEADER, UPLOAD_PATH};

pub use rootresume_protocol::DOWNLOAD_PATH;
/// The largest file `download` hands over (the sandbox's `download` command says so first).
pub const MAX_FILE: usize = 10 * 1024 * 1024;
/// The largest home archive: a 50 MiB home compresses below this unless it holds random data.
pub const MAX_ARCHIVE: usize = 64 * 1024 * 1024;
/// How long reading a file or archiving the home (or writing a piece of an upload) may take.
pub(crate) const DEADLINE: Duration = Duration::from_secs(60);
/// Transfers under way at once, server-wide: each holds its file in memory while it goes out.
pub(crate) static TRANSFERS: Semaphore = Semaphore::const_new(2);

/// What the page asks for.
#[derive(Debug, Deserialize)]
pub struct DownloadRequest {
    /// The tab's session id.
    session: String,
    /// The file's absolute path in the sandbox, base64-encoded (as `download` wrote it).
    #[serde(default)]
    path: Option<String>,
    /// The whole home, as a `.tar.gz`, instead of a file.
    #[serde(default)]
    home: bool,
}

/// Why a download was refused: a status and a sentence for the visitor.
pub(crate) fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.into(),
    )
        .into_response()
}

/// A transfer refused before it began: the status and the sentence for the visitor, sent as
/// [`refuse`] sends them. Small, unlike a whole [`Response`], so a `Result` can carry it.
#[derive(Debug)]
pub(crate) struct Refusal {
    /// The response's status.
    status: StatusCode,
    /// What the visitor reads: what went wrong and what to do.
    message: String,
}

impl Refusal {
    /// `status` with `message` for the visitor.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        refuse(self.status, self.message)
    }
}

/// What to run in the sandbox for `request`, the name the browser saves it under, and the most
/// bytes it may give.
fn plan(request: &DownloadRequest) -> Result<(Command, String, usize), String> {
    if request.home {
        let argv = vec!["sh".into(), "-c".into(), "exec tar czf - -C $HOME .".into()];
        let command = Command {
            max_output: MAX_ARCHIVE + 1,
            keep_stderr: false,
            ..Command::new(argv, DEADLINE)
        };
        return Ok((command, "home.tar.gz".into(), MAX_ARCHIVE));
    }
    let encoded = request
        .path
        .as_deref()
        .ok_or("say which file: a path, or the home")?;
    let path = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|path| path.starts_with('/') && path.len() <= 4096 && !path.contains('\0'))
        .ok_or("the file's path must be an absolute path, base64-encoded")?;
    // No quotes or backslashes (the socket proxy refuses them): the path, decoded, is one word
    // since field splitting and globbing are off.
    let argv = vec![
        "sh".into(),
        "-c".into(),
        "set -f; IFS=; f=$(printf %s $1 | base64 -d); test -f $f && exec cat -- $f".into(),
        "sh".into(),
        encoded.to_owned(),
    ];
    let command = Command {
        max_output: MAX_FILE + 1,
        keep_stderr: false,
        ..Command::new(argv, DEADLINE)
    };
    Ok((command, save_as(&path), MAX_FILE))
}

/// The name a file is saved under: its own name, with anything a header or a file system could
/// stumble on replaced.
pub(crate) fn save_as(path: &str) -> String {
    let name: String = path
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if name.trim_matches('.').is_empty() {
        "download".into()
    } else {
        name
    }
}

/// The container of the session `id` names, if it is `client`'s; else why the request is refused
/// (an unknown, ended or someone else's session alike: 404).
pub(crate) async fn session_container(
    sessions: &SessionManager,
    id: Option<&str>,
    client: Option<std::net::IpAddr>,
) -> Result<crate::sandbox::ContainerId, Refusal> {
    let found = match id.and_then(SessionId::parse) {
        Some(id) => sessions.container_for(&id, client).await,
        None => Ok(None),
    };
    match found {
        Ok(Some(container)) => Ok(container),
        Ok(None) => Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "this sandbox session is unknown or has ended",
        )),
        Err(error) => Err(Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            error.to_string(),
        )),
    }
}

/// A turn among the transfers under way (see [`TRANSFERS`]), or the refusal after waiting 30 s
/// for one.
pub(crate) async fn transfer_turn() -> Result<tokio::sync::SemaphorePermit<'static>, Refusal> {
    match tokio::time::timeout(Duration::from_secs(30), TRANSFERS.acquire()).await {
        Ok(Ok(turn)) => Ok(turn),
        _ => Err(Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "other transfers are under way; try again in a moment",
        )),
    }
}

/// `POST /api/files/download`. The socket permit counts the transfer under the client's
/// connection cap and names the client, whose session it must be.
pub async fn download(
    permit: SocketPermit,
    State(sessions): State<Arc<SessionManager>>,
    Json(request): Json<DownloadRequest>,
) -> Response {
    let (command, name, max) = match plan(&request) {
        Ok(plan) => plan,
        Err(why) => return refuse(StatusCode::BAD_REQUEST, why),
    };
    let container =
        match session_container(&sessions, Some(&request.session), permit.client()).await {
            Ok(container) => container,
            Err(refused) => return refused.into_response(),
        };
    let _turn = match transfer_turn().await {
        Ok(turn) => turn,
        Err(refused) => return refused.into_response(),
    };
    let output = match sessions.sandbox().run_command(&container, &command).await {
        Ok(output) => output,
        Err(error) => {
            tracing::warn!(%error, "a download failed");
            return refuse(
                StatusCode::BAD_GATEWAY,
                "your sandbox did not hand the file over; try again in a moment",
            );
        }
    };
    if output.output.len() > max {
        let what = if request.home {
            "your home"
        } else {
            "that file"
        };
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{what} is over the {} MiB a download may be", max >> 20),
        );
    }
    if output.exit_code != Some(0) {
        return refuse(
            StatusCode::NOT_FOUND,
            format!("{name} is not a file your sandbox can read"),
        );
    }
    let content_type = if request.home {
        "application/gzip"
    } else {
        "application/octet-stream"
    };
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        output.output,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: Option<&str>, home: bool) -> DownloadRequest {
        DownloadRequest {
            session: String::new(),
            path: path.map(|p| base64::engine::general_purpose::STANDARD.encode(p)),
            home,
        }
    }

    #[test]
    fn a_file_is_read_by_a_command_with_nothing_to_escape() {
        let (command, name, max) =
            plan(&request(Some("/home/visitor/my file's.txt"), false)).unwrap();
        assert_eq!((name.as_str(), max), ("my_file_s.txt", MAX_FILE));
        for arg in &command.argv {
            assert!(!arg.contains(['"', '\'', '\\']), "{arg}");
        }
        assert!(!command.keep_stderr);
    }

    #[test]
    fn the_home_is_an_archive() {
        let (command, name, _) = plan(&request(None, true)).unwrap();
        assert_eq!(name, "home.tar.gz");
        assert!(command.argv[2].contains("tar czf"));
    }

    #[test]
    fn bad_requests_say_why() {
        assert!(plan(&request(None, false))
            .unwrap_err()
            .contains("which file"));
        assert!(plan(&request(Some("relative.txt"), false))
            .unwrap_err()
            .contains("absolute"));
        let garbage = DownloadRequest {
            session: String::new(),
            path: Some("not base64!".into()),
            home: false,
        };
        assert!(plan(&garbage).is_err());
        assert_eq!(save_as("/x/.."), "download");
        assert_eq!(save_as("/x/ü.c"), "_.c");
    }
}
