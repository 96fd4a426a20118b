//! Syntax highlighting for code blocks: a small lexer that marks comments, strings, numbers and
//! keywords with CSS classes (`hl-c`, `hl-s`, `hl-n`, `hl-k`).
//!
//! Hand-written instead of a grammar-based crate: posts show short snippets in a handful of
//! languages, and classes (not inline colours) let the light and dark themes colour them.

/// How one language's tokens look.
struct Lang {
    line_comments: &'static [&'static str],
    block_comment: Option<(&'static str, &'static str)>,
    quotes: &'static [char],
    keywords: &'static [&'static str],
}

const RUST: Lang = Lang {
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    // `'` also starts lifetimes in Rust, so only double quotes make strings.
    quotes: &['"'],
    keywords: &[
        "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
        "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
        "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true",
        "type", "unsafe", "use", "where", "while",
    ],
};

const C: Lang = Lang {
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    quotes: &['"', '\''],
    keywords: &[
        "#include", "#define", "break", "case", "char", "const", "continue", "default", "do",
        "double", "else", "enum", "extern", "float", "for", "if", "int", "long", "return", "short",
        "signed", "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void",
        "while", "NULL", "FILE",
    ],
};

const PYTHON: Lang = Lang {
    line_comments: &["#"],
    block_comment: None,
    quotes: &['"', '\''],
    keywords: &[
        "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
        "elif", "else", "except", "False", "finally", "for", "from", "if", "import", "in", "is",
        "lambda", "None", "not", "or", "pass", "raise", "return", "True", "try", "while", "with",
        "yield",
    ],
};

const SHELL: Lang = Lang {
    line_comments: &["#"],
    block_comment: None,
    quotes: &['"', '\''],
    keywords: &[
        "case", "do", "done", "echo", "elif", "else", "esac", "export", "fi", "for", "function",
        "if", "in", "local", "then", "until", "while", "cat", "cd", "grep", "ls", "sudo",
    ],
};

const TOML: Lang = Lang {
    line_comments: &["#"],
    block_comment: None,
    quotes: &['"', '\''],
    keywords: &["true", "false"],
};

fn lang(name: &str) -> Option<&'static Lang> {
    match name.to_ascii_lowercase().as_str() {
        "rust" | "rs" => Some(&RUST),
        "c" | "h" => Some(&C),
        "python" | "py" | "python3" => Some(&PYTHON),
        "sh" | "bash" | "shell" | "console" => Some(&SHELL),
        "toml" => Some(&TOML),
        _ => None,
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn span(out: &mut String, class: &str, text: &str) {
    out.push_str("<span class=\"");
    out.push_str(class);
    out.push_str("\">");
    out.push_str(&escape(text));
    out.push_str("</span>");
}

/// Length in bytes of a string literal opened by `quote` at the start of `text`: up to and
/// including the matching unescaped quote, or the whole text if it is never closed.
fn string_len(text: &str, quote: char) -> usize {
    let mut escaped = false;
    for (at, c) in text.char_indices().skip(1) {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == quote {
            return at + c.len_utf8();
        }
    }
    text.len()
}

/// Returns `code` as HTML, with tokens wrapped in classed spans when `language` is known and
/// simply escaped otherwise.
pub fn highlight(language: &str, code: &str) -> String {
    let Some(lang) = lang(language) else {
        return escape(code);
    };
    let mut out = String::with_capacity(code.len() * 2);
    let mut at = 0;
    // Whether the previous character ends a word: `#` only starts a comment after whitespace,
    // so `$#` in a shell script stays code.
    let mut after_space = true;
    while let Some(c) = code[at..].chars().next() {
        let rest = &code[at..];
        let comment = lang.line_comments.iter().any(|start| {
            rest.starts_with(start)
                && (*start != "#" || after_space)
                && !(lang
                    .keywords
                    .iter()
                    .any(|k| k.starts_with('#') && rest.starts_with(k)))
        });
        let taken = if comment {
            let len = rest.find('\n').unwrap_or(rest.len());
            span(&mut out, "hl-c", &rest[..len]);
            len
        } else if let Some((open, close)) = lang
            .block_comment
            .filter(|(open, _)| rest.starts_with(open))
        {
            let len = rest[open.len()..]
                .find(close)
                .map_or(rest.len(), |end| open.len() + end + close.len());
            span(&mut out, "hl-c", &rest[..len]);
            len
        } else if lang.quotes.contains(&c) {
            let len = string_len(rest, c);
            span(&mut out, "hl-s", &rest[..len]);
            len
        } else if c.is_ascii_digit() {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
                .unwrap_or(rest.len());
            span(&mut out, "hl-n", &rest[..len]);
            len
        } else if c.is_alphabetic() || c == '_' || c == '#' {
            let len = rest
                .char_indices()
                .skip(1)
                .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
                .map_or(rest.len(), |(end, _)| end);
            let word = &rest[..len];
            if lang.keywords.contains(&word) {
                span(&mut out, "hl-k", word);
            } else {
                out.push_str(&escape(word));
            }
            len
        } else {
            out.push_str(&escape(&rest[..c.len_utf8()]));
            c.len_utf8()
        };
        at += taken;
        after_space = code[..at]
            .chars()
            .next_back()
            .is_none_or(char::is_whitespace);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_rust_tokens() {
        let html = highlight("rust", "let x = 42; // the answer\nlet s = \"a<b\";");
        assert!(html.contains("<span class=\"hl-k\">let</span>"), "{html}");
        assert!(html.contains("<span class=\"hl-n\">42</span>"), "{html}");
        assert!(
            html.contains("<span class=\"hl-c\">// the answer</span>"),
            "{html}"
        );
        assert!(
            html.contains("<span class=\"hl-s\">&quot;a&lt;b&quot;</span>"),
            "{html}"
        );
    }

    #[test]
    fn shell_hash_is_a_comment_only_after_space() {
        let html = highlight("sh", "echo $# # count");
        assert!(html.contains("$#"), "{html}");
        assert!(
            html.contains("<span class=\"hl-c\"># count</span>"),
            "{html}"
        );
    }

    #[test]
    fn c_include_is_a_keyword_not_a_comment() {
        let html = highlight("c", "#include <stdio.h>");
        assert!(
            html.starts_with("<span class=\"hl-k\">#include</span>"),
            "{html}"
        );
    }

    #[test]
    fn unknown_languages_are_only_escaped() {
        assert_eq!(highlight("text", "a < b"), "a &lt; b");
    }

    #[test]
    fn unclosed_strings_and_comments_end_at_the_end() {
        assert_eq!(
            highlight("py", "'abc"),
            "<span class=\"hl-s\">&#39;abc</span>"
        );
        assert_eq!(highlight("c", "/* x"), "<span class=\"hl-c\">/* x</span>");
    }
}
