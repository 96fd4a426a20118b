//! Messages from the browser to the server.

use crate::codec::{self, DecodeError};
use crate::run::RunRequest;

const KIND_INPUT: u8 = 0x01;
const KIND_RESIZE: u8 = 0x02;
const KIND_PING: u8 = 0x03;
const KIND_ATTACH: u8 = 0x04;
const KIND_RUN: u8 = 0x05;
const KIND_CHECK: u8 = 0x06;
const KIND_ATTACH_TERMINAL: u8 = 0x07;
const KIND_OPEN_TERMINAL: u8 = 0x08;
const KIND_CLOSE_TERMINAL: u8 = 0x09;
const KIND_WATCH: u8 = 0x0a;
const KIND_SHARE: u8 = 0x0b;
const KIND_STOP_SHARING: u8 = 0x0c;
const KIND_METER: u8 = 0x0d;

/// The longest challenge id [`ClientMessage::Check`] carries.
pub const MAX_CHALLENGE_LEN: usize = 64;

/// The longest session id [`ClientMessage::Attach`] carries; ids are UUIDs (36 characters).
pub const MAX_SESSION_LEN: usize = 64;

/// The longest share link token [`ClientMessage::Watch`] carries; tokens are 32 hex digits.
pub const MAX_LINK_LEN: usize = 64;

/// A message the browser sends to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// Bytes typed or pasted into the terminal, passed to the shell unchanged.
    Input(Vec<u8>),
    /// The visible terminal changed size; the server resizes the shell's pty to match.
    Resize {
        /// Columns of character cells.
        cols: u16,
        /// Rows of character cells.
        rows: u16,
    },
    /// A liveness probe; the server answers with [`crate::ServerMessage::Pong`] carrying the nonce.
    Ping(u64),
    /// The first frame of every socket: the session to attach to. The id is a bearer token, so
    /// it travels inside the socket rather than in its URL, which proxies write to their logs.
    Attach {
        /// The session id `create_session` returned.
        session: String,
    },
    /// Run a code block from the page in the shell: the server writes it to its file, brings the
    /// shell back to its prompt (interrupting what runs in the foreground) and types the command
    /// that runs it. Added in version 2 without a new version: a server that predates it answers
    /// with a [`crate::ErrorCode::BadMessage`] naming the unknown kind.
    Run(RunRequest),
    /// Check the reader's work for a challenge of the page: the server runs the challenge's
    /// check script in the sandbox, apart from the shell, and answers with
    /// [`crate::ServerMessage::Checked`]. Added in version 2, like [`ClientMessage::Run`].
    Check {
        /// The challenge's id, as the page names it.
        challenge: String,
    },
    /// Like [`ClientMessage::Attach`], for one terminal of the session: 0 is the first (the
    /// server then also sends [`crate::ServerMessage::Terminals`] on this socket whenever the
    /// terminals open change), others were opened with [`ClientMessage::OpenTerminal`]. Added
    /// in version 2: a server that predates it refuses the socket with a
    /// [`crate::ErrorCode::BadMessage`].
    AttachTerminal {
        /// The session id `create_session` returned.
        session: String,
        /// The terminal's number.
        terminal: u8,
    },
    /// Open another terminal (a shell with its own pty) in the same sandbox; sent on the first
    /// terminal's socket. The answer is a [`crate::ServerMessage::Terminals`] naming it, or an
    /// error with [`crate::ErrorCode::TerminalRefused`] saying why not.
    OpenTerminal,
    /// Close a terminal opened with [`ClientMessage::OpenTerminal`]: its shell is hung up on.
    CloseTerminal(u8),
    /// The first frame of a spectator's socket (the `/watch/TOKEN` page): the token of a share
    /// link. The socket then receives the shared terminal's output and nothing it sends reaches
    /// the shell, unless the token is the pair link's (then its keys do). Added in version 2,
    /// like [`ClientMessage::AttachTerminal`].
    Watch {
        /// The token from the link.
        link: String,
    },
    /// Share terminal `terminal` of the session through read-only links; sent on the first
    /// terminal's socket, which is answered with [`crate::ServerMessage::Sharing`] (and told
    /// again whenever the number of viewers changes). Asked again, it replaces the links: the
    /// old ones' viewers are closed.
    Share {
        /// The terminal to share.
        terminal: u8,
        /// Whether to make a second link whose viewers may type (pair mode).
        pair: bool,
    },
    /// Stop sharing: the links die and every viewer is closed at once.
    StopSharing,
    /// Turn the resource meter on (the panel is visible) or off (the tab is hidden): while on,
    /// the first terminal's socket gets a [`crate::ServerMessage::Meter`] every couple of
    /// seconds; off by default.
    Meter(bool),
}

impl ClientMessage {
    /// Encodes the message as one binary frame.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Input(bytes) => {
                let mut out = codec::frame(KIND_INPUT, bytes.len());
                out.extend_from_slice(bytes);
                out
            }
            Self::Resize { cols, rows } => {
                let mut out = codec::frame(KIND_RESIZE, 4);
                out.extend_from_slice(&cols.to_be_bytes());
                out.extend_from_slice(&rows.to_be_bytes());
                out
            }
            Self::Ping(nonce) => {
                let mut out = codec::frame(KIND_PING, 8);
                out.extend_from_slice(&nonce.to_be_bytes());
                out
            }
            Self::Attach { session } => {
                let mut out = codec::frame(KIND_ATTACH, session.len());
                out.extend_from_slice(session.as_bytes());
                out
            }
            Self::Run(request) => {
                let mut out = codec::frame(KIND_RUN, 2 + request.file.len() + request.code.len());
                request.encode_into(&mut out);
                out
            }
            Self::Check { challenge } => {
                let mut out = codec::frame(KIND_CHECK, challenge.len());
                out.extend_from_slice(challenge.as_bytes());
                out
            }
            Self::AttachTerminal { session, terminal } => {
                let mut out = codec::frame(KIND_ATTACH_TERMINAL, 1 + session.len());
                out.push(*terminal);
                out.extend_from_slice(session.as_bytes());
                out
            }
            Self::OpenTerminal => codec::frame(KIND_OPEN_TERMINAL, 0),
            Self::CloseTerminal(terminal) => {
                let mut out = codec::frame(KIND_CLOSE_TERMINAL, 1);
                out.push(*terminal);
                out
            }
            Self::Watch { link } => {
                let mut out = codec::frame(KIND_WATCH, link.len());
                out.extend_from_slice(link.as_bytes());
                out
            }
            Self::Share { terminal, pair } => {
                let mut out = codec::frame(KIND_SHARE, 2);
                out.push(*terminal);
                out.push(u8::from(*pair));
                out
            }
            Self::StopSharing => codec::frame(KIND_STOP_SHARING, 0),
            Self::Meter(on) => {
                let mut out = codec::frame(KIND_METER, 1);
                out.push(u8::from(*on));
                out
            }
        }
    }

    /// Decodes one binary frame. Never panics, whatever the bytes.
    pub fn decode(frame: &[u8]) -> Result<Self, DecodeError> {
        let (kind, payload) = codec::split(frame)?;
        match kind {
            KIND_INPUT => Ok(Self::Input(payload.to_vec())),
            KIND_RESIZE => {
                let [c0, c1, r0, r1] = codec::exact::<4>("resize", "4", payload)?;
                Ok(Self::Resize {
                    cols: u16::from_be_bytes([c0, c1]),
                    rows: u16::from_be_bytes([r0, r1]),
                })
            }
            KIND_PING => Ok(Self::Ping(u64::from_be_bytes(codec::exact::<8>(
                "ping", "8", payload,
            )?))),
            KIND_ATTACH if payload.is_empty() || payload.len() > MAX_SESSION_LEN => {
                Err(DecodeError::BadLength {
                    message: "attach",
                    expected: "1 to 64",
                    found: payload.len(),
                })
            }
            KIND_ATTACH => Ok(Self::Attach {
                session: codec::text("session id", payload)?,
            }),
            KIND_RUN => RunRequest::decode(payload).map(Self::Run),
            KIND_CHECK if payload.is_empty() || payload.len() > MAX_CHALLENGE_LEN => {
                Err(DecodeError::BadLength {
                    message: "check",
                    expected: "1 to 64",
                    found: payload.len(),
                })
            }
            KIND_CHECK => Ok(Self::Check {
                challenge: codec::text("challenge id", payload)?,
            }),
            KIND_ATTACH_TERMINAL => match payload.split_first() {
                Some((&terminal, session)) if (1..=MAX_SESSION_LEN).contains(&session.len()) => {
                    Ok(Self::AttachTerminal {
                        session: codec::text("session id", session)?,
                        terminal,
                    })
                }
                _ => Err(DecodeError::BadLength {
                    message: "attach terminal",
                    expected: "2 to 65",
                    found: payload.len(),
                }),
            },
            KIND_OPEN_TERMINAL => {
                codec::exact::<0>("open terminal", "0", payload)?;
                Ok(Self::OpenTerminal)
            }
            KIND_CLOSE_TERMINAL => {
                let [terminal] = codec::exact::<1>("close terminal", "1", payload)?;
                Ok(Self::CloseTerminal(terminal))
            }
            KIND_WATCH if payload.is_empty() || payload.len() > MAX_LINK_LEN => {
                Err(DecodeError::BadLength {
                    message: "watch",
                    expected: "1 to 64",
                    found: payload.len(),
                })
            }
            KIND_WATCH => Ok(Self::Watch {
                link: codec::text("link token", payload)?,
            }),
            KIND_SHARE => {
                let [terminal, pair] = codec::exact::<2>("share", "2", payload)?;
                Ok(Self::Share {
                    terminal,
                    pair: codec::flag("pair flag", pair)?,
                })
            }
            KIND_STOP_SHARING => {
                codec::exact::<0>("stop sharing", "0", payload)?;
                Ok(Self::StopSharing)
            }
            KIND_METER => {
                let [on] = codec::exact::<1>("meter", "1", payload)?;
                Ok(Self::Meter(codec::flag("meter flag", on)?))
            }
            kind => Err(DecodeError::UnknownKind { kind }),
        }
    }
}
