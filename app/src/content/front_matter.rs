//! The block of `key: value` lines between two `---` lines at the top of a post.
//!
//! Written by hand rather than with a YAML crate: posts need five keys, and a small strict parser
//! can name the exact line of a mistake (an unknown key, a date like `20/11/2026`).

use super::model::Date;

/// The metadata a post declares about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontMatter {
    /// Title.
    pub title: String,
    /// Publication date, `YYYY-MM-DD`.
    pub date: Date,
    /// Lower-case tags: `[a, b]` or `a, b`.
    pub tags: Vec<String>,
    /// One or two sentences.
    pub summary: String,
    /// Drafts are parsed and checked but never shown, fed or mapped.
    pub draft: bool,
}

/// A mistake in the front matter, at a 1-based line of the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct FrontMatterError {
    /// Line of the file where the problem is.
    pub line: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

fn error(line: usize, message: impl Into<String>) -> FrontMatterError {
    FrontMatterError {
        line,
        message: message.into(),
    }
}

/// A parsed post file: its front matter, and the Markdown body after it.
#[derive(Debug)]
pub struct Parsed<'a> {
    /// The metadata.
    pub front: FrontMatter,
    /// Everything after the closing `---`.
    pub body: &'a str,
}

/// Splits a post into front matter and body, checking every key.
pub fn parse(source: &str) -> Result<Parsed<'_>, FrontMatterError> {
    let mut lines = source.split_inclusive('\n');
    match lines.next() {
        Some(first) if first.trim_end() == "---" => {}
        _ => {
            return Err(error(
                1,
                "a post must start with a `---` line, then `title:`, `date:`, `tags:`, `summary:`, then `---`",
            ))
        }
    }
    let mut consumed = lines_len(source, 1);
    let (mut title, mut date, mut tags, mut summary, mut draft) = (None, None, None, None, None);
    let mut number = 1;
    for line in lines {
        number += 1;
        consumed += line.len();
        let text = line.trim_end();
        if text == "---" {
            let missing: Vec<&str> = [
                ("title", title.is_none()),
                ("date", date.is_none()),
                ("summary", summary.is_none()),
            ]
            .iter()
            .filter(|(_, absent)| *absent)
            .map(|(key, _)| *key)
            .collect();
            if !missing.is_empty() {
                return Err(error(
                    number,
                    format!("front matter ends without `{}`", missing.join("`, `")),
                ));
            }
            let front = FrontMatter {
                title: title.unwrap_or_default(),
                date: date.unwrap_or(Date {
                    year: 1970,
                    month: 1,
                    day: 1,
                }),
                tags: tags.unwrap_or_default(),
                summary: summary.unwrap_or_default(),
                draft: draft.unwrap_or(false),
            };
            return Ok(Parsed {
                front,
                body: &source[consumed..],
            });
        }
        if text.trim().is_empty() || text.trim_start().starts_with('#') {
            continue;
        }
        let Some((key, value)) = text.split_once(':') else {
            return Err(error(
                number,
                format!("expected `key: value`, found `{text}`"),
            ));
        };
        let (key, value) = (key.trim(), unquote(value.trim()));
        let duplicate = || error(number, format!("`{key}` is given twice"));
        match key {
            "title" => set(&mut title, non_empty(number, key, value)?, duplicate)?,
            "summary" => set(&mut summary, non_empty(number, key, value)?, duplicate)?,
            "date" => set(
                &mut date,
                parse_date(value).map_err(|m| error(number, m))?,
                duplicate,
            )?,
            "tags" => set(
                &mut tags,
                parse_tags(value).map_err(|m| error(number, m))?,
                duplicate,
            )?,
            "draft" => {
                let flag = match value {
                    "true" => true,
                    "false" => false,
                    other => {
                        return Err(error(
                            number,
                            format!("`draft` must be `true` or `false`, found `{other}`"),
                        ))
                    }
                };
                set(&mut draft, flag, duplicate)?
            }
            other => {
                return Err(error(
                    number,
                    format!(
                        "unknown key `{other}`; the keys are title, date, tags, summary and draft"
                    ),
                ))
            }
        }
    }
    Err(error(
        number,
        "the front matter is never closed: add a `---` line after it",
    ))
}

/// Byte length of the first `count` lines.
fn lines_len(source: &str, count: usize) -> usize {
    source.split_inclusive('\n').take(count).map(str::len).sum()
}

fn set<T>(
    slot: &mut Option<T>,
    value: T,
    duplicate: impl Fn() -> FrontMatterError,
) -> Result<(), FrontMatterError> {
    if slot.is_some() {
        return Err(duplicate());
    }
    *slot = Some(value);
    Ok(())
}

fn non_empty(line: usize, key: &str, value: &str) -> Result<String, FrontMatterError> {
    if value.is_empty() {
        Err(error(line, format!("`{key}` is empty")))
    } else {
        Ok(value.to_string())
    }
}

/// Removes one pair of surrounding double or single quotes.
fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|rest| rest.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

/// Parses `YYYY-MM-DD`, the only date format accepted, checking that the day exists.
pub fn parse_date(value: &str) -> Result<Date, String> {
    let wrong =
        || format!("unknown date format `{value}`: write dates as YYYY-MM-DD, e.g. 2026-11-20");
    let parts: Vec<&str> = value.split('-').collect();
    let [year, month, day] = parts.as_slice() else {
        return Err(wrong());
    };
    if year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return Err(wrong());
    }
    let (Ok(year), Ok(month), Ok(day)) =
        (year.parse::<u16>(), month.parse::<u8>(), day.parse::<u8>())
    else {
        return Err(wrong());
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(format!("`{value}` has no month {month}")),
    };
    if day == 0 || day > days {
        return Err(format!("`{value}`: that month has no day {day}"));
    }
    Ok(Date { year, month, day })
}

/// Parses `[a, b]` or `a, b` into lower-case tags made of letters, digits and `-`.
pub fn parse_tags(value: &str) -> Result<Vec<String>, String> {
    let inner = value
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(value);
    let mut tags = Vec::new();
    for tag in inner.split(',').map(|tag| unquote(tag.trim())) {
        if tag.is_empty() {
            continue;
        }
        if !tag
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(format!(
                "tag `{tag}` must be lower-case letters, digits and `-` (it becomes /tags/{tag})"
            ));
        }
        if !tags.iter().any(|known| known == tag) {
            tags.push(tag.to_string());
        }
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "---\ntitle: \"Hello: world\"\ndate: 2024-02-29\ntags: [rust, linux]\nsummary: A post.\n---\n\n# Body\n";

    #[test]
    fn parses_every_key_and_keeps_the_body() {
        let parsed = parse(GOOD).expect("valid front matter");
        assert_eq!(parsed.front.title, "Hello: world");
        assert_eq!(parsed.front.date.iso(), "2024-02-29");
        assert_eq!(parsed.front.tags, ["rust", "linux"]);
        assert_eq!(parsed.front.summary, "A post.");
        assert!(!parsed.front.draft);
        assert_eq!(parsed.body, "\n# Body\n");
    }

    #[test]
    fn draft_flag_and_bare_tag_lists() {
        let source =
            "---\ntitle: T\ndate: 2026-01-05\ntags: a, b-2, a\nsummary: S\ndraft: true\n---\n";
        let parsed = parse(source).expect("valid");
        assert!(parsed.front.draft);
        assert_eq!(parsed.front.tags, ["a", "b-2"]);
        assert_eq!(parsed.body, "");
    }

    #[test]
    fn unknown_date_format_names_its_line() {
        let source = "---\ntitle: T\ndate: 20/11/2026\nsummary: S\n---\n";
        let err = parse(source).expect_err("bad date");
        assert_eq!(err.line, 3);
        assert!(err.message.contains("YYYY-MM-DD"), "{err}");
    }

    #[test]
    fn impossible_dates_are_refused() {
        assert!(parse_date("2023-02-29").is_err());
        assert!(parse_date("2026-13-01").is_err());
        assert!(parse_date("2026-04-31").is_err());
        assert!(parse_date("2026-4-01").is_err());
        assert_eq!(parse_date("2000-02-29").map(|d| d.day), Ok(29));
    }

    #[test]
    fn mistakes_point_at_the_right_line() {
        let cases = [
            ("title: T\n", 1, "must start"),
            (
                "---\ntitle: T\ncolour: red\n---\n",
                3,
                "unknown key `colour`",
            ),
            ("---\ntitle: T\ntitle: U\n---\n", 3, "twice"),
            (
                "---\ntitle: T\ndate: 2026-01-01\n---\n",
                4,
                "without `summary`",
            ),
            ("---\ntitle: T\njust words\n", 3, "expected `key: value`"),
            (
                "---\ntitle: T\ndate: 2026-01-01\nsummary: S\n",
                4,
                "never closed",
            ),
            ("---\ntitle: T\ndraft: yes\n---\n", 3, "`true` or `false`"),
            ("---\ntags: [Rust]\n---\n", 2, "lower-case"),
            ("---\ntitle:\n---\n", 2, "empty"),
        ];
        for (source, line, needle) in cases {
            let err = parse(source).expect_err(source);
            assert_eq!(err.line, line, "{source:?} gave {err}");
            assert!(err.message.contains(needle), "{source:?} gave {err}");
        }
    }

    #[test]
    fn comments_and_blank_lines_are_allowed() {
        let source = "---\n# a comment\n\ntitle: T\ndate: 2026-01-01\nsummary: S\n---\nbody";
        assert_eq!(parse(source).map(|p| p.body), Ok("body"));
    }
}
