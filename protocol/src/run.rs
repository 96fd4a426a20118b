//! A code block the reader asked to run in their sandbox: its language, the file it goes in and
//! its text, byte for byte.

use crate::codec::{self, DecodeError};

/// The longest file name a [`RunRequest`] may carry.
pub const MAX_FILE_NAME_LEN: usize = 64;

/// The language of a runnable block, which decides how the server runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunLang {
    /// Shell lines, pasted at the prompt as the reader would type them.
    Shell,
    /// A C program: written to the file, compiled with `gcc`, then run.
    C,
    /// A Python program: written to the file, then run with `python3`.
    Python,
}

impl RunLang {
    /// The language of a Markdown info string's first word (`sh`, `c`, `python`, and the usual
    /// aliases), if it is one the sandbox can run.
    pub fn from_info(word: &str) -> Option<Self> {
        match word {
            "sh" | "bash" | "shell" | "console" => Some(Self::Shell),
            "c" => Some(Self::C),
            "python" | "py" | "python3" => Some(Self::Python),
            _ => None,
        }
    }

    /// The name the page writes in `data-run-lang`, which [`RunLang::from_info`] reads back.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shell => "sh",
            Self::C => "c",
            Self::Python => "python",
        }
    }

    /// The file extension a file of this language takes.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Shell => "sh",
            Self::C => "c",
            Self::Python => "py",
        }
    }

    fn to_wire(self) -> u8 {
        match self {
            Self::Shell => 1,
            Self::C => 2,
            Self::Python => 3,
        }
    }

    fn from_wire(value: u8) -> Result<Self, DecodeError> {
        match value {
            1 => Ok(Self::Shell),
            2 => Ok(Self::C),
            3 => Ok(Self::Python),
            value => Err(DecodeError::UnknownCode {
                field: "run language",
                value,
            }),
        }
    }
}

/// Why a file name cannot be used for a runnable block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileNameError {
    /// Empty, or longer than [`MAX_FILE_NAME_LEN`].
    #[error("a file name has 1 to {MAX_FILE_NAME_LEN} characters")]
    Length,
    /// A character other than letters, digits, `.`, `_` and `-`, or a leading dot or dash.
    #[error(
        "a file name is letters, digits, '.', '_' and '-', and does not start with '.' or '-'"
    )]
    Characters,
    /// Not ending in the language's extension.
    #[error("a {lang} file's name ends in .{extension}")]
    Extension {
        /// The block's language.
        lang: &'static str,
        /// The extension it needs.
        extension: &'static str,
    },
}

/// Checks a block's file name: a plain name in the home directory (no path, nothing hidden, no
/// option-like dash), ending in the language's extension, so it can go into a command line
/// without quoting.
pub fn check_file_name(lang: RunLang, name: &str) -> Result<(), FileNameError> {
    if name.is_empty() || name.len() > MAX_FILE_NAME_LEN {
        return Err(FileNameError::Length);
    }
    let plain = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !plain || name.starts_with(['.', '-']) {
        return Err(FileNameError::Characters);
    }
    let stem = name
        .strip_suffix(lang.extension())
        .and_then(|rest| rest.strip_suffix('.'));
    if stem.is_none_or(str::is_empty) {
        return Err(FileNameError::Extension {
            lang: lang.as_str(),
            extension: lang.extension(),
        });
    }
    Ok(())
}

/// A block to run: see [`crate::ClientMessage::Run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRequest {
    /// How to run it.
    pub lang: RunLang,
    /// The file in the home directory it is written to (see [`check_file_name`]).
    pub file: String,
    /// The block's text, byte for byte.
    pub code: Vec<u8>,
}

impl RunRequest {
    /// Encodes the payload: language, file name length, file name, code.
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(self.lang.to_wire());
        // Longer names are refused on decode; truncating the length here would shift the code.
        out.push(u8::try_from(self.file.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(self.file.as_bytes());
        out.extend_from_slice(&self.code);
    }

    /// Decodes the payload [`RunRequest::encode_into`] wrote.
    pub(crate) fn decode(payload: &[u8]) -> Result<Self, DecodeError> {
        let (lang, rest) = codec::code_then_rest("run", payload)?;
        let lang = RunLang::from_wire(lang)?;
        let (len, rest) = codec::code_then_rest("run", rest)?;
        let len = usize::from(len);
        if len > MAX_FILE_NAME_LEN || rest.len() < len {
            return Err(DecodeError::BadLength {
                message: "run file name",
                expected: "1 to 64",
                found: len,
            });
        }
        let (file, code) = rest.split_at(len);
        Ok(Self {
            lang,
            file: codec::text("run file name", file)?,
            code: code.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_plain_names_with_the_right_extension() {
        assert_eq!(check_file_name(RunLang::C, "hello.c"), Ok(()));
        assert_eq!(check_file_name(RunLang::Python, "two_words-2.py"), Ok(()));
        for bad in [
            "../x.c", "a/b.c", ".x.c", "-x.c", "x y.c", "x;.c", "é.c", "x.c\n",
        ] {
            assert_eq!(
                check_file_name(RunLang::C, bad),
                Err(FileNameError::Characters),
                "{bad:?}"
            );
        }
        assert_eq!(check_file_name(RunLang::C, ""), Err(FileNameError::Length));
        assert_eq!(
            check_file_name(RunLang::C, &format!("{}.c", "x".repeat(63))),
            Err(FileNameError::Length)
        );
        for bad in ["hello.py", "c", ".c", "helloc"] {
            assert!(check_file_name(RunLang::C, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn info_words_name_languages() {
        assert_eq!(RunLang::from_info("c"), Some(RunLang::C));
        assert_eq!(RunLang::from_info("bash"), Some(RunLang::Shell));
        assert_eq!(RunLang::from_info("py"), Some(RunLang::Python));
        assert_eq!(RunLang::from_info("rust"), None);
        for lang in [RunLang::Shell, RunLang::C, RunLang::Python] {
            assert_eq!(RunLang::from_info(lang.as_str()), Some(lang));
            assert_eq!(RunLang::from_wire(lang.to_wire()), Ok(lang));
        }
    }
}
