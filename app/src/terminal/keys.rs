//! The phone key bar: the keys a touch keyboard lacks (Esc, Tab, Ctrl, arrows).

/// A key the bar can send to the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarKey {
    /// Escape, for vi and for cancelling in readline.
    Escape,
    /// Tab, for completion.
    Tab,
    /// Cursor up (history back).
    Up,
    /// Cursor down (history forward).
    Down,
    /// Cursor left.
    Left,
    /// Cursor right.
    Right,
}

impl BarKey {
    /// Every key, in the order the bar shows them.
    pub const ALL: [BarKey; 6] = [
        Self::Escape,
        Self::Tab,
        Self::Left,
        Self::Up,
        Self::Down,
        Self::Right,
    ];

    /// The bytes a terminal sends for the key (normal cursor mode, as xterm.js sends by default).
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Self::Escape => b"\x1b",
            Self::Tab => b"\t",
            Self::Up => b"\x1b[A",
            Self::Down => b"\x1b[B",
            Self::Right => b"\x1b[C",
            Self::Left => b"\x1b[D",
        }
    }

    /// What the button shows.
    pub fn label(self) -> &'static str {
        match self {
            Self::Escape => "Esc",
            Self::Tab => "Tab",
            Self::Up => "↑",
            Self::Down => "↓",
            Self::Left => "←",
            Self::Right => "→",
        }
    }

    /// The accessible name, where the label is a symbol.
    pub fn name(self) -> &'static str {
        match self {
            Self::Escape => "Escape",
            Self::Tab => "Tab",
            Self::Up => "Up arrow",
            Self::Down => "Down arrow",
            Self::Left => "Left arrow",
            Self::Right => "Right arrow",
        }
    }
}

/// The control character for `typed` with Ctrl held, as a keyboard would send it: Ctrl-C is
/// 0x03, Ctrl-[ is Escape, Ctrl-? is DEL. `None` when the text is not one key Ctrl applies to,
/// in which case it is sent unchanged.
pub fn with_ctrl(typed: &str) -> Option<u8> {
    let mut chars = typed.chars();
    let (Some(key), None) = (chars.next(), chars.next()) else {
        return None;
    };
    match key {
        'a'..='z' => Some(key as u8 - b'a' + 1),
        '@'..='_' => Some(key as u8 - b'@'),
        ' ' => Some(0),
        '?' => Some(0x7f),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctrl_maps_letters_and_punctuation_like_a_keyboard() {
        assert_eq!(with_ctrl("c"), Some(0x03));
        assert_eq!(with_ctrl("C"), Some(0x03));
        assert_eq!(with_ctrl("d"), Some(0x04));
        assert_eq!(with_ctrl("["), Some(0x1b));
        assert_eq!(with_ctrl(" "), Some(0x00));
        assert_eq!(with_ctrl("?"), Some(0x7f));
    }

    #[test]
    fn ctrl_leaves_other_text_alone() {
        assert_eq!(with_ctrl("1"), None);
        assert_eq!(with_ctrl("é"), None);
        assert_eq!(with_ctrl("ab"), None);
        assert_eq!(with_ctrl(""), None);
    }

    #[test]
    fn arrows_are_the_normal_cursor_sequences() {
        assert_eq!(BarKey::Up.bytes(), b"\x1b[A");
        assert_eq!(BarKey::Left.bytes(), b"\x1b[D");
        assert_eq!(BarKey::ALL.len(), 6);
    }
}
