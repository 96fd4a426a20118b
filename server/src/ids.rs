//! Session ids, and the names of sessions that are safe to show. A session id is a bearer
//! token: whoever holds it drives that shell. It is random (UUID v4: 122 bits from the OS
//! generator) and never printed: its `Display` and `Debug` show the [`SessionTag`], and only
//! [`SessionId::expose`] gives the token itself, for the one place it goes: its own tab.

use std::fmt;

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A session's id.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(Uuid);

impl SessionId {
    /// A new random id.
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }

    /// Reads an id a browser sent; `None` for anything but a UUID.
    pub fn parse(text: &str) -> Option<Self> {
        Uuid::parse_str(text).ok().map(Self)
    }

    /// The token itself, to hand to the tab the session belongs to. Nowhere else.
    pub fn expose(&self) -> String {
        self.0.to_string()
    }

    /// The hash the session is stored under: SHA-256 of the id, as hex (32 digits). Seen in
    /// Redis or in a label, it does not let anyone in.
    pub fn hash(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    /// The session's tag, for logs and hostnames.
    pub fn tag(&self) -> SessionTag<'_> {
        SessionTag(&self.0)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.tag(), f)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.tag())
    }
}

/// The name of a container engine, as written in session records (where a session's
/// container runs) and in the name of its sweep's lease.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EngineId(String);

impl EngineId {
    /// The engine named `name`.
    pub fn new(name: &str) -> Self {
        Self(name.to_owned())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EngineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What logs say instead of a session id: `rr-` and its first 8 hex digits, the same as the
/// container's hostname, so an operator can match a log line to a container. The 90 bits left
/// unknown keep the id unguessable to anyone reading the logs.
#[derive(Clone, Copy)]
pub struct SessionTag<'a>(pub &'a Uuid);

impl fmt::Display for SessionTag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let simple = self.0.simple().to_string();
        write!(f, "rr-{}", simple.get(..8).unwrap_or(&simple))
    }
}

impl fmt::Debug for SessionTag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_debug_redact_and_only_expose_tells() {
        let id = SessionId::random();
        let token = id.expose();
        assert!(SessionId::parse(&token) == Some(id));
        for shown in [id.to_string(), format!("{id:?}"), id.tag().to_string()] {
            assert!(!shown.contains(&token), "{shown}");
            assert!(shown.contains("rr-"), "{shown}");
        }
        assert_eq!(id.to_string().len(), 11);
        assert!(token.replace('-', "").starts_with(&id.to_string()[3..]));
        assert_eq!(id.hash().len(), 32);
        assert!(SessionId::parse("not-an-id").is_none());
    }
}
