//! Low-level framing shared by both message directions.

use crate::PROTOCOL_VERSION;

/// Bytes of framing before the payload: version and kind.
pub(crate) const HEADER_LEN: usize = 2;

/// Why a frame could not be decoded. Every variant names what the peer should fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The frame had no bytes at all.
    #[error("empty frame: expected a version byte and a message kind")]
    Empty,
    /// The frame was written for a protocol version this side does not speak.
    #[error("unsupported protocol version {found} (this side speaks version {PROTOCOL_VERSION}); reload the page to get a matching client")]
    UnsupportedVersion {
        /// The version byte that was found.
        found: u8,
    },
    /// The frame ended right after the version byte.
    #[error("frame has a version but no message kind")]
    MissingKind,
    /// The message kind is not one this direction defines.
    #[error("unknown message kind 0x{kind:02x}")]
    UnknownKind {
        /// The kind byte that was found.
        kind: u8,
    },
    /// The payload length does not fit the message kind.
    #[error("{message} payload must be {expected} bytes, got {found}")]
    BadLength {
        /// Which message was being decoded.
        message: &'static str,
        /// The length the message requires, described for humans (e.g. "4", "at least 1").
        expected: &'static str,
        /// The length that was found.
        found: usize,
    },
    /// A text field was not valid UTF-8.
    #[error("{field} is not valid UTF-8")]
    InvalidText {
        /// Which field held the bad text.
        field: &'static str,
    },
    /// A code byte (error code, end reason, notice kind) is not defined.
    #[error("unknown {field} 0x{value:02x}")]
    UnknownCode {
        /// Which code field held the value.
        field: &'static str,
        /// The value that was found.
        value: u8,
    },
    /// The frame is larger than [`crate::MAX_FRAME_LEN`].
    #[error("frame of {found} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// The size of the frame.
        found: usize,
        /// The limit.
        max: usize,
    },
}

/// Starts a frame with the header for `kind`, reserving room for `payload_len` more bytes.
pub(crate) fn frame(kind: u8, payload_len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload_len);
    out.push(PROTOCOL_VERSION);
    out.push(kind);
    out
}

/// Checks the header and splits a frame into its kind and payload.
pub(crate) fn split(frame: &[u8]) -> Result<(u8, &[u8]), DecodeError> {
    if frame.len() > crate::MAX_FRAME_LEN {
        return Err(DecodeError::TooLarge {
            found: frame.len(),
            max: crate::MAX_FRAME_LEN,
        });
    }
    let (&version, rest) = frame.split_first().ok_or(DecodeError::Empty)?;
    if version != PROTOCOL_VERSION {
        return Err(DecodeError::UnsupportedVersion { found: version });
    }
    let (&kind, payload) = rest.split_first().ok_or(DecodeError::MissingKind)?;
    Ok((kind, payload))
}

/// Reads a payload that must be exactly `N` bytes long.
pub(crate) fn exact<const N: usize>(
    message: &'static str,
    expected: &'static str,
    payload: &[u8],
) -> Result<[u8; N], DecodeError> {
    payload.try_into().map_err(|_| DecodeError::BadLength {
        message,
        expected,
        found: payload.len(),
    })
}

/// Splits off the one code byte that starts a payload.
pub(crate) fn code_then_rest<'a>(
    message: &'static str,
    payload: &'a [u8],
) -> Result<(u8, &'a [u8]), DecodeError> {
    payload
        .split_first()
        .map(|(&code, rest)| (code, rest))
        .ok_or(DecodeError::BadLength {
            message,
            expected: "at least 1",
            found: 0,
        })
}

/// Decodes a UTF-8 text field.
pub(crate) fn text(field: &'static str, bytes: &[u8]) -> Result<String, DecodeError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::InvalidText { field })
}

/// Appends a text of at most 255 bytes, after its length byte (longer texts are cut at a
/// character boundary: ids and names are short).
pub(crate) fn push_short_text(out: &mut Vec<u8>, text: &str) {
    let mut end = text.len().min(usize::from(u8::MAX));
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    out.push(u8::try_from(end).unwrap_or(u8::MAX));
    out.extend_from_slice(&text.as_bytes()[..end]);
}

/// Reads a text [`push_short_text`] wrote; returns it and the bytes after it.
pub(crate) fn short_text<'a>(
    field: &'static str,
    payload: &'a [u8],
) -> Result<(String, &'a [u8]), DecodeError> {
    let (len, rest) = code_then_rest(field, payload)?;
    let len = usize::from(len);
    if rest.len() < len {
        return Err(DecodeError::BadLength {
            message: field,
            expected: "its length byte's count",
            found: rest.len(),
        });
    }
    let (text_bytes, rest) = rest.split_at(len);
    Ok((text(field, text_bytes)?, rest))
}

/// Reads a one-byte flag: 0 is false, 1 is true, anything else an error naming `field`.
pub(crate) fn flag(field: &'static str, value: u8) -> Result<bool, DecodeError> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        value => Err(DecodeError::UnknownCode { field, value }),
    }
}
