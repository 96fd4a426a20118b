//! Session ids are bearer tokens: whoever holds one drives that shell. They are random
//! (UUID v4: 122 bits from the OS generator), compared in constant time, and never logged.

use std::fmt;

use uuid::Uuid;

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

/// Compares two byte strings in time that depends only on their lengths, not on where they
/// first differ: a guesser timing the lookup learns nothing about the stored ids.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimiser from turning the fold back into an early-exit compare.
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_shows_only_a_prefix() {
        let id = Uuid::new_v4();
        let tag = SessionTag(&id).to_string();
        assert_eq!(tag.len(), 11);
        assert!(id.simple().to_string().starts_with(&tag[3..]));
        assert!(!tag.contains(&id.to_string()));
    }

    #[test]
    fn ct_eq_is_equality() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
