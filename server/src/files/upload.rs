//! Files into a visitor's sandbox: `POST /api/files/upload`, the file as the body, its session
//! in the `X-RootResume-Session` header and its name (percent-encoded) in `X-RootResume-Name`.
//!
//! The file goes in on a command's standard input (`cat` as the visitor, into a hidden part
//! file in the home; the socket proxy passes that command's start through whole), and the part
//! file is then renamed to the sanitised name, never over an existing file. A failure removes
//! the part file.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::{refuse, save_as, Refusal, DEADLINE};
use crate::sandbox::{Command, CommandOutput, ContainerId, Sandbox, SandboxError};
use crate::security::SocketPermit;
use crate::sessions::SessionManager;

pub use rootresume_protocol::{MAX_UPLOAD, UPLOAD_PATH};

/// The header naming the upload's session.
pub const SESSION_HEADER: &str = "x-rootresume-session";
/// The header naming the uploaded file (percent-encoded UTF-8).
pub const NAME_HEADER: &str = "x-rootresume-name";
/// The name an uploaded file gets in the home: its own, with anything but letters, digits, `.`,
/// `_` and `-` replaced, no leading dot or dash (nothing hidden, nothing like an option), at
/// most 100 characters, and `upload` when nothing of it is left.
pub fn upload_name(raw: &str) -> String {
    let decoded = percent_decode(raw);
    let base = decoded.rsplit(['/', '\\']).next().unwrap_or_default();
    if !base.chars().any(char::is_alphanumeric) {
        return "upload".into();
    }
    let name = save_as(&format!("/{base}"));
    let name = name.trim_start_matches(['.', '-']);
    if !name.bytes().any(|b| b.is_ascii_alphanumeric()) {
        "upload".into()
    } else {
        name.to_owned()
    }
}

/// Decodes `%XX` escapes (as `encodeURIComponent` writes them); anything malformed stays.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A command in the home, as the visitor, with the usual deadline.
pub(super) fn in_home(script: &str, args: Vec<String>) -> Command {
    let mut argv = vec!["sh".into(), "-c".into(), script.into(), "sh".into()];
    argv.extend(args);
    Command::new(argv, DEADLINE)
}

/// Why an upload stopped, for the visitor.
pub(super) fn failure(name: &str, written: Result<CommandOutput, SandboxError>) -> Option<String> {
    let said = match written {
        Ok(output) if output.exit_code == Some(0) => return None,
        Ok(output) => String::from_utf8_lossy(&output.output).into_owned(),
        Err(error) => {
            tracing::warn!(%error, "an upload failed");
            String::new()
        }
    };
    Some(if said.contains("No space left") {
        format!("your home is full: {name} did not fit; remove files (df -h ~ shows the room) and try again")
    } else {
        format!("{name} could not be written in your home; try again in a moment")
    })
}

/// The body, read whole, at most `max` bytes; else why it is refused.
pub(super) async fn read_whole(
    body: axum::body::Body,
    name: &str,
    max: usize,
) -> Result<Vec<u8>, Refusal> {
    let mut stream = body.into_data_stream();
    let mut whole = Vec::new();
    while let Some(chunk) = stream.next().await {
        let Ok(bytes) = chunk else {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "the upload broke off; try again",
            ));
        };
        whole.extend_from_slice(&bytes);
        if whole.len() > max {
            return Err(Refusal::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("{name} is over the {} MiB an upload may be", max >> 20),
            ));
        }
    }
    Ok(whole)
}

/// Writes the body into the part file (a path from `/`, or from the home when relative), in
/// one command reading it on its standard input; returns the bytes written, or why it was
/// refused.
pub(super) async fn write_parts(
    sandbox: &dyn Sandbox,
    container: &ContainerId,
    part: &str,
    name: &str,
    body: axum::body::Body,
    max: usize,
) -> Result<usize, Refusal> {
    let whole = read_whole(body, name, max).await?;
    let total = whole.len();
    let command = Command {
        stdin: Some(whole.into()),
        ..in_home("cd; cat > $1", vec![part.into()])
    };
    let written = sandbox.run_command(container, &command).await;
    if let Some(why) = failure(name, written) {
        return Err(Refusal::new(StatusCode::INSUFFICIENT_STORAGE, why));
    }
    Ok(total)
}

/// `POST /api/files/upload`: see the module's documentation. Answers the name the file got.
pub async fn upload(
    permit: SocketPermit,
    State(sessions): State<Arc<SessionManager>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let Some(name) = text(NAME_HEADER).map(|raw| upload_name(&raw)) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "name the file in the X-RootResume-Name header",
        );
    };
    let declared = text(header::CONTENT_LENGTH.as_str()).and_then(|len| len.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_UPLOAD) {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{name} is over the {} MiB an upload may be",
                MAX_UPLOAD >> 20
            ),
        );
    }
    let session = text(SESSION_HEADER);
    let container =
        match super::session_container(&sessions, session.as_deref(), permit.client()).await {
            Ok(container) => container,
            Err(refused) => return refused.into_response(),
        };
    let _turn = match super::transfer_turn().await {
        Ok(turn) => turn,
        Err(refused) => return refused.into_response(),
    };
    let part = format!(".rootresume-upload-{}", uuid::Uuid::new_v4().simple());
    let sandbox = sessions.sandbox().as_ref();
    let discard = in_home("cd; rm -f -- $1", vec![part.clone()]);
    let total = match write_parts(sandbox, &container, &part, &name, body, MAX_UPLOAD).await {
        Ok(total) => total,
        Err(refused) => {
            let _ = sandbox.run_command(&container, &discard).await;
            return refused.into_response();
        }
    };
    let place = in_home(
        "cd; n=$2; i=1; while [ -e $n ]; do n=$2.$i; i=$((i+1)); done; mv -- $1 $n && echo $n",
        vec![part.clone(), name.clone()],
    );
    match sandbox.run_command(&container, &place).await {
        Ok(output) if output.exit_code == Some(0) => {
            let placed = String::from_utf8_lossy(&output.output).trim().to_owned();
            tracing::info!(bytes = total, "a file was uploaded");
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                placed,
            )
                .into_response()
        }
        _ => {
            let _ = sandbox.run_command(&container, &discard).await;
            refuse(
                StatusCode::INSUFFICIENT_STORAGE,
                format!("{name} could not be put in your home"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploaded_names_stay_plain_names_in_the_home() {
        assert_eq!(upload_name("notes.txt"), "notes.txt");
        assert_eq!(upload_name("my%20file.txt"), "my_file.txt");
        assert_eq!(upload_name("..%2F..%2Fetc%2Fpasswd"), "passwd");
        assert_eq!(upload_name("C:\\Users\\x\\a.c"), "a.c");
        assert_eq!(upload_name(".bashrc"), "bashrc");
        assert_eq!(upload_name("-rf"), "rf");
        assert_eq!(upload_name("%"), "upload");
        assert_eq!(upload_name("..."), "upload");
    }
}
