//! Names of sessions that are safe to show: a session id is a bearer token, so what logs and
//! hostnames carry is a tag.

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
}
