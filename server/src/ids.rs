//! Session ids, and the names of sessions that are safe to show. A session id is a bearer
//! token: whoever holds it drives that shell. It is random (UUID v4: 122 bits from the OS
//! generator) and never printed: its `Display` and `Debug` show the [`SessionTag`], and only
//! [`SessionId::expose`] gives the token itself, for the one place it goes: its own tab.
//!
//! Everything outside the tab knows a session by its [`SessionId::hash`] (store keys, container
//! names and labels) or its tag (logs, hostnames), neither of which can be turned back into the
//! id.

use std::fmt;
use std::net::IpAddr;

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
    /// Redis, in a container's name or label, it does not let anyone in.
    pub fn hash(&self) -> String {
        hex16(&Sha256::digest(self.0.as_bytes()))
    }

    /// The session's tag, for logs and hostnames.
    pub fn tag(&self) -> SessionTag {
        SessionTag::of_hash(&self.hash())
    }

    /// Proof, written on the session's container, that `owner` created the session: a hash of
    /// the id and the address together, so that after a restart the adopted session still
    /// admits only its creator, while the container shows neither the id nor the address (the
    /// secret id makes the address impossible to find by trying every one).
    pub fn owner_proof(&self, owner: IpAddr) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"rootresume-owner\0");
        hasher.update(self.0.as_bytes());
        hasher.update(owner.to_string().as_bytes());
        hex16(&hasher.finalize())
    }
}

/// The first 16 bytes of a digest, as 32 lowercase hex digits.
fn hex16(digest: &[u8]) -> String {
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Whether `text` looks like a [`SessionId::hash`] (or an owner proof): 32 lowercase hex
/// digits. Container names and labels are read back through this, so nothing else is looked up.
pub fn is_hash(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
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

/// The token of a share link (`/watch/TOKEN`): 128 random bits from the OS, as 32 hex digits.
/// Like a session id it is a bearer token, so it prints redacted; a session keeps the tokens of
/// its links and they die with it (or when its owner stops sharing).
#[derive(Clone, PartialEq, Eq)]
pub struct LinkToken([u8; 16]);

impl LinkToken {
    /// A new random token; `None` only if the OS has no randomness to give.
    pub fn random() -> Option<Self> {
        let mut bytes = [0_u8; 16];
        getrandom::fill(&mut bytes).ok()?;
        Some(Self(bytes))
    }

    /// Reads a token from a link; `None` for anything but 32 lowercase hex digits.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 32 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        let mut bytes = [0_u8; 16];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(bytes))
    }

    /// The token itself, for the link its owner's page shows. Nowhere else.
    pub fn expose(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// SHA-256 of the token: what a presented token is compared by, so the comparison's
    /// timing tells nothing about the token.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.0).into()
    }
}

impl fmt::Display for LinkToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("link-token(redacted)")
    }
}

impl fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
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

/// What logs say instead of a session id: `rr-` and the first 8 hex digits of its hash, the
/// same as the container's hostname and the start of its name, so an operator can match a log
/// line to a container. It comes from the hash, so it tells nothing about the id.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionTag(String);

impl SessionTag {
    /// The tag of the session stored under `hash`.
    pub fn of_hash(hash: &str) -> Self {
        Self(format!("rr-{}", hash.get(..8).unwrap_or(hash)))
    }

    /// The tag as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SessionTag {
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
        assert!(id.hash().starts_with(&id.to_string()[3..]));
        assert!(!token.replace('-', "").contains(&id.to_string()[3..]));
        assert!(is_hash(&id.hash()));
        assert!(SessionId::parse("not-an-id").is_none());
    }

    #[test]
    fn link_tokens_are_random_parse_back_and_print_redacted() {
        let (a, b) = (LinkToken::random().unwrap(), LinkToken::random().unwrap());
        assert_ne!(a, b);
        let text = a.expose();
        assert_eq!(text.len(), 32);
        assert_eq!(LinkToken::parse(&text), Some(a.clone()));
        assert_eq!(LinkToken::parse(&text).unwrap().hash(), a.hash());
        for shown in [a.to_string(), format!("{a:?}")] {
            assert!(!shown.contains(&text), "{shown}");
        }
        for bad in [
            "",
            "xyz",
            &text.to_uppercase(),
            &text[..31],
            &format!("{text}0"),
        ] {
            assert_eq!(LinkToken::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn owner_proof_depends_on_both_id_and_address() {
        let (a, b) = (SessionId::random(), SessionId::random());
        let home: IpAddr = "192.0.2.7".parse().unwrap();
        let away: IpAddr = "192.0.2.8".parse().unwrap();
        assert_eq!(a.owner_proof(home), a.owner_proof(home));
        assert_ne!(a.owner_proof(home), a.owner_proof(away));
        assert_ne!(a.owner_proof(home), b.owner_proof(home));
        assert!(is_hash(&a.owner_proof(home)));
        assert!(!is_hash("rr-1234") && !is_hash(&"A".repeat(32)));
    }
}
