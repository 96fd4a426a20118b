//! The terminal protocol spoken over the WebSocket between the browser and the server.
//!
//! Every message is one binary WebSocket frame: `[version][kind][payload…]`. Terminal bytes are
//! carried raw (no JSON, no base64) so a keystroke costs three bytes of framing. Message enums are
//! named after their direction, as in sshx: [`ClientMessage`] goes browser → server and
//! [`ServerMessage`] goes server → browser. Decoding never panics on any input; anything it does
//! not understand is a [`DecodeError`] that says what was wrong.

mod client;
mod codec;
mod run;
mod server;

pub use client::{ClientMessage, MAX_CHALLENGE_LEN, MAX_LINK_LEN, MAX_SESSION_LEN};
pub use codec::DecodeError;
pub use run::{check_file_name, FileNameError, RunLang, RunRequest, MAX_FILE_NAME_LEN};
pub use server::{Disk, EndReason, ErrorCode, MeterReading, ServerMessage, SessionNotice, Sharing};

/// The protocol version written in the first byte of every frame. Version 2 moved the session
/// id from the socket's URL into its first frame ([`ClientMessage::Attach`]).
pub const PROTOCOL_VERSION: u8 = 2;

/// The largest frame either side accepts. Input pastes larger than this are split by the client.
pub const MAX_FRAME_LEN: usize = 64 * 1024;

/// The largest payload of terminal bytes in one frame, leaving room for the header.
pub const MAX_DATA_LEN: usize = MAX_FRAME_LEN - codec::HEADER_LEN;

/// The path of the terminal WebSocket endpoint on the server.
pub const WS_PATH: &str = "/ws/terminal";

/// Where the page fetches a file out of its sandbox (`POST`, a JSON body naming the session).
pub const DOWNLOAD_PATH: &str = "/api/files/download";

/// Where the page uploads a file into its sandbox (`POST`, the file as the body; the session
/// and the file's name in headers).
pub const UPLOAD_PATH: &str = "/api/files/upload";

/// Where the page sends a home archive to restore (`POST`, like an upload).
pub const RESTORE_PATH: &str = "/api/files/restore";

/// Where the page gets the session's recording (asciicast v3): a `POST` with `{"session": ID}`.
pub const RECORDING_PATH: &str = "/api/recording";

/// Where a spectator opens a share link: `/watch/TOKEN`.
pub const WATCH_PATH: &str = "/watch";

/// The largest file the page may upload.
pub const MAX_UPLOAD: usize = 10 * 1024 * 1024;

/// The private OSC number by which the sandbox's `download` command names a file for the page:
/// `ESC ] 6973 ; download ; BASE64-PATH BEL`.
pub const DOWNLOAD_OSC: u32 = 6973;
