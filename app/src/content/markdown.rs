//! Markdown to HTML with pulldown-cmark, code blocks highlighted, and reading time.

use pulldown_cmark::{CodeBlockKind, CowStr, Event, Options, Parser, Tag, TagEnd};

use super::highlight::{escape, highlight};

/// Words a reader gets through in a minute of technical prose; code reads slower, so code words
/// count double.
const WORDS_PER_MINUTE: usize = 220;

/// Renders a post body. Code blocks come out as
/// `<pre class="code" data-lang="…"><code>…highlighted…</code></pre>`.
pub fn render(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_SMART_PUNCTUATION;
    let mut events = Vec::new();
    let mut code: Option<(String, String)> = None;
    for event in Parser::new_ext(markdown, options) {
        match (event, code.as_mut()) {
            (Event::Start(Tag::CodeBlock(kind)), _) => {
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => info
                        .split(|c: char| c.is_whitespace() || c == ',')
                        .next()
                        .unwrap_or("")
                        .to_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                code = Some((lang, String::new()));
            }
            (Event::Text(text), Some((_, buffer))) => buffer.push_str(&text),
            (Event::End(TagEnd::CodeBlock), Some(_)) => {
                if let Some((lang, buffer)) = code.take() {
                    let label = if lang.is_empty() {
                        "text"
                    } else {
                        lang.as_str()
                    };
                    let html = format!(
                        "<pre class=\"code\" data-lang=\"{}\" tabindex=\"0\"><code>{}</code></pre>\n",
                        escape(label),
                        highlight(&lang, &buffer)
                    );
                    events.push(Event::Html(CowStr::from(html)));
                }
            }
            (event, _) => events.push(event),
        }
    }
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    html
}

/// Minutes to read a Markdown body, rounded up, at least 1.
pub fn reading_minutes(markdown: &str) -> u32 {
    let mut words = 0;
    let mut in_code = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        let count = line.split_whitespace().count();
        words += if in_code { count * 2 } else { count };
    }
    let minutes = words.div_ceil(WORDS_PER_MINUTE).max(1);
    u32::try_from(minutes).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_time_rounds_up_and_is_at_least_one_minute() {
        assert_eq!(reading_minutes(""), 1);
        assert_eq!(reading_minutes("word "), 1);
        assert_eq!(reading_minutes(&"word ".repeat(220)), 1);
        assert_eq!(reading_minutes(&"word ".repeat(221)), 2);
        assert_eq!(reading_minutes(&"word\n".repeat(1000)), 5);
    }

    #[test]
    fn code_words_count_double() {
        let body = format!("```rust\n{}\n```\n", "x ".repeat(150));
        assert_eq!(reading_minutes(&body), 2);
    }

    #[test]
    fn code_blocks_are_highlighted_and_escaped() {
        let html = render("Intro\n\n```rust\nlet a = \"<b>\";\n```\n");
        assert!(html.contains("<p>Intro</p>"), "{html}");
        assert!(
            html.contains("<pre class=\"code\" data-lang=\"rust\""),
            "{html}"
        );
        assert!(html.contains("<span class=\"hl-k\">let</span>"), "{html}");
        assert!(html.contains("&lt;b&gt;"), "{html}");
    }

    #[test]
    fn tables_render() {
        let html = render("| a | b |\n| --- | --- |\n| 1 | 2 |\n");
        assert!(html.contains("<table>"), "{html}");
    }
}
