//! Session ids are bearer tokens: whoever holds one drives that shell. They are random
//! (UUID v4: 122 bits from the OS generator), compared in constant time, and never logged
//! (see [`crate::ids::SessionTag`]).

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
    fn ct_eq_is_equality() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
