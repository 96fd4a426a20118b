//! Messages from the server to the browser.

use crate::codec::{self, DecodeError};

const KIND_OUTPUT: u8 = 0x81;
const KIND_NOTICE: u8 = 0x82;
const KIND_ERROR: u8 = 0x83;
const KIND_PONG: u8 = 0x84;
const KIND_CHECKED: u8 = 0x85;
const KIND_TERMINALS: u8 = 0x86;

const NOTICE_STARTED: u8 = 0x01;
const NOTICE_EXPIRING: u8 = 0x02;
const NOTICE_ENDED: u8 = 0x03;

/// A message the server sends to the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerMessage {
    /// Bytes the shell wrote to its terminal, unchanged.
    Output(Vec<u8>),
    /// A change in the session's life the page should show.
    Notice(SessionNotice),
    /// Something went wrong; `message` is written for the visitor.
    Error {
        /// What kind of failure, so the client can decide what to do next.
        code: ErrorCode,
        /// A sentence the visitor can act on.
        message: String,
    },
    /// The answer to [`crate::ClientMessage::Ping`], carrying the same nonce.
    Pong(u64),
    /// A challenge's verdict: the answer to [`crate::ClientMessage::Check`], and, when a tab
    /// attaches, one for each challenge the session already passed.
    Checked {
        /// The challenge's id.
        challenge: String,
        /// Whether the work passes.
        passed: bool,
        /// What the check said: a hint when it does not pass.
        message: String,
    },
    /// The numbers of the session's terminals open, the first (0) included, in order: sent on
    /// the first terminal's socket when it attaches with
    /// [`crate::ClientMessage::AttachTerminal`] and whenever a terminal opens or ends.
    Terminals(Vec<u8>),
}

/// A change in a session's life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionNotice {
    /// The shell is attached. `resumed` is true when this socket reattached to a shell that was
    /// already running (a reload), false for a fresh one.
    Started {
        /// The session id, which the tab keeps to reattach after a reload.
        session: String,
        /// Whether the shell already existed before this connection.
        resumed: bool,
        /// Seconds until the session reaches its maximum lifetime, so the page can count down.
        seconds_left: u32,
    },
    /// The session ends in `seconds_left` seconds.
    Expiring {
        /// Seconds until the session ends.
        seconds_left: u32,
    },
    /// The session is over and its container is being removed.
    Ended {
        /// Why the session ended.
        reason: EndReason,
    },
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The shell exited (`exit`, Ctrl-D).
    ShellExited,
    /// The session reached its maximum lifetime.
    Expired,
    /// No input arrived for the idle timeout.
    Idle,
    /// The server is shutting down.
    ServerShutdown,
    /// The container disappeared or was removed from outside.
    ContainerGone,
    /// No browser was attached for the whole grace period, so the container was removed.
    Abandoned,
}

/// What kind of error the server reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The container engine cannot be reached; retrying later may work.
    SandboxUnavailable,
    /// The sandbox image is not built on the server.
    ImageMissing,
    /// The session id is unknown or expired; the client should create a new session.
    UnknownSession,
    /// The client sent a frame the server could not decode.
    BadMessage,
    /// The server has no room for another session right now.
    AtCapacity,
    /// An unexpected server-side failure.
    Internal,
    /// A [`crate::ClientMessage::Run`] could not be carried out; the message says why. The
    /// session goes on.
    RunRefused,
    /// A [`crate::ClientMessage::OpenTerminal`] was refused (the session has as many as it may,
    /// or the sandbox cannot open one); the message says why. The session goes on.
    TerminalRefused,
}

/// Maps a C-like enum to and from its wire byte.
macro_rules! wire_codes {
    ($ty:ident, $field:literal, { $($variant:ident = $value:literal),+ $(,)? }) => {
        impl $ty {
            fn to_wire(self) -> u8 {
                match self { $(Self::$variant => $value),+ }
            }
            fn from_wire(value: u8) -> Result<Self, DecodeError> {
                match value {
                    $($value => Ok(Self::$variant),)+
                    value => Err(DecodeError::UnknownCode { field: $field, value }),
                }
            }
        }
    };
}

impl EndReason {
    /// Every reason, in wire order.
    pub const ALL: [EndReason; 6] = [
        Self::ShellExited,
        Self::Expired,
        Self::Idle,
        Self::ServerShutdown,
        Self::ContainerGone,
        Self::Abandoned,
    ];
}

wire_codes!(EndReason, "end reason", {
    ShellExited = 1, Expired = 2, Idle = 3, ServerShutdown = 4, ContainerGone = 5,
    Abandoned = 6,
});

wire_codes!(ErrorCode, "error code", {
    SandboxUnavailable = 1, ImageMissing = 2, UnknownSession = 3, BadMessage = 4,
    AtCapacity = 5, Internal = 6, RunRefused = 7, TerminalRefused = 8,
});

impl ServerMessage {
    /// Encodes the message as one binary frame.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Output(bytes) => {
                let mut out = codec::frame(KIND_OUTPUT, bytes.len());
                out.extend_from_slice(bytes);
                out
            }
            Self::Notice(notice) => {
                let mut out = codec::frame(KIND_NOTICE, 16);
                notice.encode_into(&mut out);
                out
            }
            Self::Error { code, message } => {
                let mut out = codec::frame(KIND_ERROR, 1 + message.len());
                out.push(code.to_wire());
                out.extend_from_slice(message.as_bytes());
                out
            }
            Self::Pong(nonce) => {
                let mut out = codec::frame(KIND_PONG, 8);
                out.extend_from_slice(&nonce.to_be_bytes());
                out
            }
            Self::Checked {
                challenge,
                passed,
                message,
            } => {
                let mut out = codec::frame(KIND_CHECKED, 2 + challenge.len() + message.len());
                out.push(u8::from(*passed));
                codec::push_short_text(&mut out, challenge);
                out.extend_from_slice(message.as_bytes());
                out
            }
            Self::Terminals(numbers) => {
                let mut out = codec::frame(KIND_TERMINALS, numbers.len());
                out.extend_from_slice(numbers);
                out
            }
        }
    }

    /// Decodes one binary frame. Never panics, whatever the bytes.
    pub fn decode(frame: &[u8]) -> Result<Self, DecodeError> {
        let (kind, payload) = codec::split(frame)?;
        match kind {
            KIND_OUTPUT => Ok(Self::Output(payload.to_vec())),
            KIND_NOTICE => SessionNotice::decode(payload).map(Self::Notice),
            KIND_ERROR => {
                let (code, message) = codec::code_then_rest("error", payload)?;
                Ok(Self::Error {
                    code: ErrorCode::from_wire(code)?,
                    message: codec::text("error message", message)?,
                })
            }
            KIND_PONG => Ok(Self::Pong(u64::from_be_bytes(codec::exact::<8>(
                "pong", "8", payload,
            )?))),
            KIND_CHECKED => {
                let (passed, rest) = codec::code_then_rest("checked", payload)?;
                let passed = codec::flag("passed flag", passed)?;
                let (challenge, message) = codec::short_text("challenge id", rest)?;
                Ok(Self::Checked {
                    challenge,
                    passed,
                    message: codec::text("check message", message)?,
                })
            }
            KIND_TERMINALS => Ok(Self::Terminals(payload.to_vec())),
            kind => Err(DecodeError::UnknownKind { kind }),
        }
    }
}

impl SessionNotice {
    fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Self::Started {
                session,
                resumed,
                seconds_left,
            } => {
                out.push(NOTICE_STARTED);
                out.push(u8::from(*resumed));
                out.extend_from_slice(&seconds_left.to_be_bytes());
                out.extend_from_slice(session.as_bytes());
            }
            Self::Expiring { seconds_left } => {
                out.push(NOTICE_EXPIRING);
                out.extend_from_slice(&seconds_left.to_be_bytes());
            }
            Self::Ended { reason } => {
                out.push(NOTICE_ENDED);
                out.push(reason.to_wire());
            }
        }
    }

    fn decode(payload: &[u8]) -> Result<Self, DecodeError> {
        let (kind, body) = codec::code_then_rest("notice", payload)?;
        match kind {
            NOTICE_STARTED => {
                let (resumed, rest) = codec::code_then_rest("started notice", body)?;
                let resumed = codec::flag("resumed flag", resumed)?;
                let Some((seconds_left, session)) = rest.split_first_chunk::<4>() else {
                    return Err(DecodeError::BadLength {
                        message: "started notice",
                        expected: "at least 5",
                        found: body.len(),
                    });
                };
                Ok(Self::Started {
                    session: codec::text("session id", session)?,
                    resumed,
                    seconds_left: u32::from_be_bytes(*seconds_left),
                })
            }
            NOTICE_EXPIRING => Ok(Self::Expiring {
                seconds_left: u32::from_be_bytes(codec::exact::<4>("expiring notice", "4", body)?),
            }),
            NOTICE_ENDED => {
                let [reason] = codec::exact::<1>("ended notice", "1", body)?;
                Ok(Self::Ended {
                    reason: EndReason::from_wire(reason)?,
                })
            }
            value => Err(DecodeError::UnknownCode {
                field: "notice kind",
                value,
            }),
        }
    }
}
