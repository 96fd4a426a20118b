//! Messages from the server to the browser.

use crate::codec::{self, DecodeError};

const KIND_OUTPUT: u8 = 0x81;
const KIND_NOTICE: u8 = 0x82;
const KIND_ERROR: u8 = 0x83;
const KIND_PONG: u8 = 0x84;
const KIND_CHECKED: u8 = 0x85;
const KIND_TERMINALS: u8 = 0x86;
const KIND_SHARING: u8 = 0x87;
const KIND_WATCHING: u8 = 0x88;
const KIND_METER: u8 = 0x89;

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
    /// Where the session's sharing stands: the answer to [`crate::ClientMessage::Share`] and
    /// [`crate::ClientMessage::StopSharing`], sent on the first terminal's socket, again
    /// whenever the number of viewers changes, and when the socket attaches while sharing.
    Sharing(Sharing),
    /// Sent to a spectator's socket when it is let in, and whenever the shared terminal's size
    /// changes: the spectator's screen takes the owner's size, so the output lays out the same.
    Watching {
        /// Columns of the shared terminal.
        cols: u16,
        /// Rows of the shared terminal.
        rows: u16,
        /// Whether this spectator's keys reach the shell (a pair link).
        typing: bool,
    },
    /// The sandbox's resource use, for the panel's meter, while it is on
    /// ([`crate::ClientMessage::Meter`]).
    Meter(MeterReading),
}

/// What a sandbox uses of its limits, as the engine counted it a moment ago. Sizes in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MeterReading {
    /// CPU used lately, in percent of the sandbox's quota; `None` until two samples were taken.
    pub cpu_percent: Option<u16>,
    /// Memory in use (page cache the kernel can drop not counted).
    pub memory: u64,
    /// The memory limit.
    pub memory_limit: u64,
    /// Used and size of the home and /tmp, `None` until measured.
    pub disk: Option<Disk>,
    /// Processes and threads running.
    pub processes: u32,
    /// The most processes and threads the sandbox may have.
    pub processes_limit: u32,
}

/// The sandbox's two writable places, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Disk {
    /// Bytes used in the home.
    pub home_used: u64,
    /// The home's size.
    pub home_size: u64,
    /// Bytes used in /tmp.
    pub tmp_used: u64,
    /// /tmp's size.
    pub tmp_size: u64,
}

/// A session's share links, as its owner's page shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sharing {
    /// The terminal shared.
    pub terminal: u8,
    /// The read-only link's token; empty when the session is not shared.
    pub watch: String,
    /// The pair link's token (its viewers may type); empty when there is none.
    pub pair: String,
    /// How many spectators are watching now.
    pub viewers: u16,
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
    /// A spectator's link is not (or no longer) valid: mistyped, sharing stopped, or the
    /// session ended. Also said when a link has as many viewers as it may.
    LinkInvalid,
    /// A [`crate::ClientMessage::Share`] was refused; the message says why. The session goes
    /// on.
    ShareRefused,
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
    AtCapacity = 5, Internal = 6, RunRefused = 7, TerminalRefused = 8, LinkInvalid = 9,
    ShareRefused = 10,
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
            Self::Sharing(sharing) => {
                let len = 4 + sharing.watch.len() + sharing.pair.len();
                let mut out = codec::frame(KIND_SHARING, len);
                out.push(sharing.terminal);
                out.extend_from_slice(&sharing.viewers.to_be_bytes());
                codec::push_short_text(&mut out, &sharing.watch);
                out.extend_from_slice(sharing.pair.as_bytes());
                out
            }
            Self::Watching { cols, rows, typing } => {
                let mut out = codec::frame(KIND_WATCHING, 5);
                out.extend_from_slice(&cols.to_be_bytes());
                out.extend_from_slice(&rows.to_be_bytes());
                out.push(u8::from(*typing));
                out
            }
            Self::Meter(reading) => {
                let mut out = codec::frame(KIND_METER, METER_LEN);
                reading.encode_into(&mut out);
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
            KIND_SHARING => {
                let Some(([terminal, v0, v1], rest)) = payload.split_first_chunk::<3>() else {
                    return Err(DecodeError::BadLength {
                        message: "sharing",
                        expected: "at least 4",
                        found: payload.len(),
                    });
                };
                let (watch, pair) = codec::short_text("watch token", rest)?;
                Ok(Self::Sharing(Sharing {
                    terminal: *terminal,
                    watch,
                    pair: codec::text("pair token", pair)?,
                    viewers: u16::from_be_bytes([*v0, *v1]),
                }))
            }
            KIND_METER => MeterReading::decode(payload).map(Self::Meter),
            KIND_WATCHING => {
                let [c0, c1, r0, r1, typing] = codec::exact::<5>("watching", "5", payload)?;
                Ok(Self::Watching {
                    cols: u16::from_be_bytes([c0, c1]),
                    rows: u16::from_be_bytes([r0, r1]),
                    typing: codec::flag("typing flag", typing)?,
                })
            }
            kind => Err(DecodeError::UnknownKind { kind }),
        }
    }
}

/// A meter reading's length on the wire: CPU (2), memory and its limit (16), the disk (32),
/// processes and their limit (8).
const METER_LEN: usize = 58;
/// The CPU figure meaning "not known yet".
const NO_CPU: u16 = u16::MAX;
/// The disk figures meaning "not measured yet".
const NO_DISK: u64 = u64::MAX;

impl MeterReading {
    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.cpu_percent.unwrap_or(NO_CPU).to_be_bytes());
        out.extend_from_slice(&self.memory.to_be_bytes());
        out.extend_from_slice(&self.memory_limit.to_be_bytes());
        let disk = self.disk.map_or([NO_DISK; 4], |d| {
            [d.home_used, d.home_size, d.tmp_used, d.tmp_size]
        });
        for figure in disk {
            out.extend_from_slice(&figure.to_be_bytes());
        }
        out.extend_from_slice(&self.processes.to_be_bytes());
        out.extend_from_slice(&self.processes_limit.to_be_bytes());
    }

    fn decode(payload: &[u8]) -> Result<Self, DecodeError> {
        let bytes = codec::exact::<METER_LEN>("meter", "58", payload)?;
        let u64_at = |at: usize| {
            let mut word = [0_u8; 8];
            word.copy_from_slice(&bytes[at..at + 8]);
            u64::from_be_bytes(word)
        };
        let u32_at = |at: usize| {
            let mut word = [0_u8; 4];
            word.copy_from_slice(&bytes[at..at + 4]);
            u32::from_be_bytes(word)
        };
        let cpu = u16::from_be_bytes([bytes[0], bytes[1]]);
        let disk = [u64_at(18), u64_at(26), u64_at(34), u64_at(42)];
        Ok(Self {
            cpu_percent: (cpu != NO_CPU).then_some(cpu),
            memory: u64_at(2),
            memory_limit: u64_at(10),
            disk: (disk != [NO_DISK; 4]).then_some(Disk {
                home_used: disk[0],
                home_size: disk[1],
                tmp_used: disk[2],
                tmp_size: disk[3],
            }),
            processes: u32_at(50),
            processes_limit: u32_at(54),
        })
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
