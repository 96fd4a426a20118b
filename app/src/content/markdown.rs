//! Markdown to HTML with pulldown-cmark, code blocks highlighted (and, when marked runnable,
//! given a Run button), and reading time.

use pulldown_cmark::{CodeBlockKind, CowStr, Event, Options, Parser, Tag, TagEnd};
use rootresume_protocol::{check_file_name, RunLang};

use super::highlight::{escape, highlight};

/// Words a reader gets through in a minute of technical prose; code reads slower, so code words
/// count double.
const WORDS_PER_MINUTE: usize = 220;

/// A rendered Markdown body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The HTML.
    pub html: String,
    /// Whether a block in it has a Run or Check button (the page then carries the terminal).
    pub runnable: bool,
    /// The ids of the challenges it holds, in order.
    pub challenges: Vec<String>,
}

/// A code block's info string: its language, and whether and as what file it runs.
#[derive(Debug, Default)]
struct Info {
    /// The first word: the language, for highlighting.
    lang: String,
    /// Set by the `run` flag on a language the sandbox runs: how, and the file it goes in.
    run: Option<(RunLang, String)>,
    /// For a ` ```challenge id=… ` block: the challenge's id (its check is
    /// `content/challenges/<id>.sh`); the block's text is the challenge, in Markdown.
    challenge: Option<String>,
}

/// Reads ` ```c run file=hello.c `: the language, then flags (`run`, `file=NAME`).
/// `number` is the runnable block's place in the post, which names its file by default.
fn info(text: &str, number: usize) -> Result<Info, String> {
    let mut words = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|word| !word.is_empty());
    let lang = words.next().unwrap_or("").to_string();
    let mut run = false;
    let mut file = None;
    let mut id = None;
    for word in words {
        match word.split_once('=') {
            None if word == "run" => run = true,
            Some(("file", name)) => file = Some(name.to_string()),
            Some(("id", name)) => id = Some(name.to_string()),
            _ => {}
        }
    }
    if lang == "challenge" {
        let id = id.ok_or("a challenge block needs an id: ```challenge id=NAME")?;
        if !super::site::is_slug(&id) || id.len() > rootresume_protocol::MAX_CHALLENGE_LEN {
            return Err(format!(
                "challenge id `{id}`: use lower-case letters, digits and `-`, at most 64"
            ));
        }
        return Ok(Info {
            lang,
            run: None,
            challenge: Some(id),
        });
    }
    if !run {
        return Ok(Info {
            lang,
            run: None,
            challenge: None,
        });
    }
    let Some(how) = RunLang::from_info(&lang) else {
        return Err(format!(
            "a `{lang}` block cannot be marked `run`: the sandbox runs sh, c and python blocks"
        ));
    };
    let file = file.unwrap_or_else(|| format!("block-{number}.{}", how.extension()));
    check_file_name(how, &file).map_err(|error| format!("`file={file}`: {error}"))?;
    Ok(Info {
        lang,
        run: Some((how, file)),
        challenge: None,
    })
}

/// Renders a post body. Code blocks come out as
/// `<pre class="code" data-lang="…"><code>…highlighted…</code></pre>`; a block marked `run` is
/// wrapped with its Run button: `<div class="runnable" data-run-lang="c" data-run-file="…">`.
/// A `run` flag the sandbox cannot honour is an error naming the block.
pub fn render(markdown: &str) -> Result<Rendered, String> {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_SMART_PUNCTUATION;
    let mut events = Vec::new();
    let mut code: Option<(Info, String)> = None;
    let mut runnable = 0;
    let mut challenges = Vec::new();
    for event in Parser::new_ext(markdown, options) {
        match (event, code.as_mut()) {
            (Event::Start(Tag::CodeBlock(kind)), _) => {
                let info = match kind {
                    CodeBlockKind::Fenced(text) => info(&text, runnable + 1)?,
                    CodeBlockKind::Indented => Info::default(),
                };
                runnable += usize::from(info.run.is_some());
                challenges.extend(info.challenge.clone());
                code = Some((info, String::new()));
            }
            (Event::Text(text), Some((_, buffer))) => buffer.push_str(&text),
            (Event::End(TagEnd::CodeBlock), Some(_)) => {
                if let Some((info, buffer)) = code.take() {
                    events.push(Event::Html(CowStr::from(block_html(&info, &buffer))));
                }
            }
            (event, _) => events.push(event),
        }
    }
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    Ok(Rendered {
        html,
        runnable: runnable > 0 || !challenges.is_empty(),
        challenges,
    })
}

/// One code block's HTML, with its Run button when it runs. The button works only with
/// scripts (`TERMINAL_LOADER` handles its press), so the stylesheet shows it only then.
fn block_html(info: &Info, code: &str) -> String {
    if let Some(id) = &info.challenge {
        return challenge_html(id, code);
    }
    let label = if info.lang.is_empty() {
        "text"
    } else {
        info.lang.as_str()
    };
    let pre = format!(
        "<pre class=\"code\" data-lang=\"{}\" tabindex=\"0\"><code>{}</code></pre>",
        escape(label),
        highlight(&info.lang, code)
    );
    let Some((how, file)) = &info.run else {
        return format!("{pre}\n");
    };
    let what = match how {
        RunLang::Shell => "Types these lines in your sandbox's shell".to_string(),
        RunLang::C => {
            format!("Saves this as ~/{file} in your sandbox, compiles it with gcc and runs it")
        }
        RunLang::Python => {
            format!("Saves this as ~/{file} in your sandbox and runs it with python3")
        }
    };
    format!(
        "<div class=\"runnable\" data-run-lang=\"{lang}\" data-run-file=\"{file}\">{pre}\
         <div class=\"run-bar\"><button type=\"button\" class=\"button run-button\" data-run=\"\" \
         title=\"{what}\">Run</button><span class=\"run-note\" role=\"status\"></span></div></div>\n",
        lang = how.as_str(),
        file = escape(file),
        what = escape(&what),
    )
}

/// A challenge: its text, and the Check button that has the server check the reader's work.
fn challenge_html(id: &str, text: &str) -> String {
    let mut inner = String::new();
    pulldown_cmark::html::push_html(&mut inner, Parser::new(text));
    format!(
        "<aside class=\"challenge\" data-challenge=\"{id}\" aria-label=\"Challenge\">\
         <p class=\"challenge-label\">Challenge</p>{inner}\
         <div class=\"run-bar\"><button type=\"button\" class=\"button run-button\" data-check=\"\" \
         title=\"Checks the work in your sandbox\">Check</button>\
         <span class=\"run-note\" role=\"status\"></span></div></aside>\n",
        id = escape(id),
    )
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
    fn runnable_blocks_get_a_run_button_and_a_file() {
        let body = "```c run\nint main(void) { return 0; }\n```\n\n```sh\nls\n```\n\n```python run file=hi.py\nprint('</script>')\n```\n\n```c run,file=two.c\n```\n";
        let rendered = render(body).unwrap();
        assert!(rendered.runnable);
        let html = rendered.html;
        assert_eq!(html.matches("data-run=\"\"").count(), 3, "{html}");
        assert!(
            html.contains("data-run-lang=\"c\" data-run-file=\"block-1.c\""),
            "{html}"
        );
        assert!(
            html.contains("data-run-lang=\"python\" data-run-file=\"hi.py\""),
            "{html}"
        );
        assert!(html.contains("data-run-file=\"two.c\""), "{html}");
        // The code itself stays escaped text, whatever it holds.
        assert!(html.contains("&lt;/script&gt;"), "{html}");
        assert!(!render("```sh\nls\n```\n").unwrap().runnable);
    }

    #[test]
    fn a_challenge_renders_its_text_and_a_check_button() {
        let rendered =
            render("```challenge id=hello-name\nMake `hello` print *your* name.\n```\n").unwrap();
        assert!(rendered.runnable);
        assert_eq!(rendered.challenges, ["hello-name"]);
        assert!(
            rendered.html.contains("data-challenge=\"hello-name\""),
            "{}",
            rendered.html
        );
        assert!(
            rendered.html.contains("<code>hello</code>"),
            "{}",
            rendered.html
        );
        assert!(
            rendered.html.contains("data-check=\"\""),
            "{}",
            rendered.html
        );
        assert!(render("```challenge\nx\n```\n")
            .unwrap_err()
            .contains("needs an id"));
        assert!(render("```challenge id=Bad!\nx\n```\n")
            .unwrap_err()
            .contains("Bad!"));
    }

    #[test]
    fn a_run_flag_that_cannot_be_honoured_is_an_error() {
        assert!(render("```rust run\nfn main() {}\n```\n")
            .unwrap_err()
            .contains("sh, c and python"));
        assert!(render("```c run file=../x.c\n```\n")
            .unwrap_err()
            .contains("file=../x.c"));
        assert!(render("```python run file=x.c\n```\n")
            .unwrap_err()
            .contains(".py"));
    }

    #[test]
    fn code_blocks_are_highlighted_and_escaped() {
        let html = render("Intro\n\n```rust\nlet a = \"<b>\";\n```\n")
            .unwrap()
            .html;
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
        let html = render("| a | b |\n| --- | --- |\n| 1 | 2 |\n")
            .unwrap()
            .html;
        assert!(html.contains("<table>"), "{html}");
    }
}
