//! What a visitor waits for, through the Chromium measurement (end2end/bench/first-load.mjs):
//! first-load transfer of the home page (HTML, JS, WASM and CSS as sent, and as gzip -9 of each
//! body), and navigation start → prompt painted over fresh tabs, with its breakdown.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The home page's first load.
#[derive(Debug, Clone, Default)]
pub struct FirstLoad {
    /// Total as sent by the server (its gzip), KiB.
    pub sent_kib: f64,
    /// Total as gzip -9 of each body, KiB.
    pub gzip9_kib: f64,
    /// The script's per-file lines, for the report.
    pub files: Vec<String>,
    /// Tabs behind each time below.
    pub tabs: usize,
    /// How the tabs were spaced: each once the warm pool's refill after the tab before was
    /// done, or back to back.
    pub spacing: &'static str,
    /// `/terminal`: navigation start → prompt painted (the first screen or xterm.js, whichever
    /// shows it first), ms: (p50, min, max).
    pub terminal: Option<(f64, f64, f64)>,
    /// `/terminal`: navigation start → prompt painted by xterm.js, ms.
    pub terminal_xterm: Option<(f64, f64, f64)>,
    /// `/about`, a page with no terminal: navigation start → first contentful paint, ms; the
    /// floor under every time here.
    pub plain_paint: Option<(f64, f64, f64)>,
    /// A one-line page the script serves itself (no RootResume in its path): navigation start →
    /// first contentful paint, ms; the browser's own floor on this machine.
    pub blank_paint: Option<(f64, f64, f64)>,
    /// `/terminal`: navigation start → first typed command's answer painted, ms.
    pub answered: Option<(f64, f64, f64)>,
    /// Home page: the press of "Start your sandbox" → prompt painted, ms.
    pub home: Option<(f64, f64, f64)>,
    /// Home page: the press of "Start your sandbox" → prompt painted by xterm.js, ms.
    pub home_xterm: Option<(f64, f64, f64)>,
    /// A post: the press of a C block's Run button (no terminal loaded) → its output painted.
    pub run: Option<(f64, f64, f64)>,
    /// The breakdown lines of the `/terminal` time, for the report.
    pub steps: Vec<String>,
}

/// Loads `base` in Chromium with the repository's script, `tabs` fresh tabs per page, and reads
/// its figures.
pub fn measure(repo: &Path, base: &str, tabs: usize) -> Result<FirstLoad> {
    let output = Command::new("node")
        .current_dir(repo)
        .args([
            "end2end/bench/first-load.mjs",
            base,
            &tabs.max(1).to_string(),
        ])
        .output()
        .context("running node end2end/bench/first-load.mjs")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "first-load.mjs failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse(&text).with_context(|| format!("reading first-load.mjs output: {text}"))
}

/// Reads `total: A KiB raw, B KiB sent, C KiB gzip -9` and the file lines above it.
fn parse(text: &str) -> Option<FirstLoad> {
    let total = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("total: "))?;
    let numbers: Vec<f64> = total
        .split(',')
        .filter_map(|part| part.split_whitespace().next()?.parse().ok())
        .collect();
    let files = text
        .lines()
        .filter(|l| l.contains(" sent ") && l.contains(" gzip-9 "))
        .map(|l| l.trim().to_owned())
        .collect();
    let steps = text
        .lines()
        .skip_while(|l| !l.starts_with("/terminal over "))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.trim().to_owned())
        .collect();
    let tabs = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("/terminal over ")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0);
    let spacing = if text
        .lines()
        .any(|l| l.starts_with("each tab once no pooled sandbox is starting"))
    {
        "each once the pool's refill was done"
    } else {
        "back to back"
    };
    const TERMINAL: &str = "time to prompt (navigation start → prompt painted), /terminal:";
    const HOME: &str =
        "time to prompt (press of \"Start your sandbox\" → prompt painted), home page:";
    const XTERM: &str = "in xterm.js:";
    Some(FirstLoad {
        sent_kib: *numbers.get(1)?,
        gzip9_kib: *numbers.get(2)?,
        files,
        tabs,
        spacing,
        terminal: spread_after(text, TERMINAL),
        terminal_xterm: spread_after_in(text, TERMINAL, XTERM),
        plain_paint: spread_after(
            text,
            "first paint of a page with no terminal (navigation start → first contentful paint), /about:",
        ),
        blank_paint: spread_after(
            text,
            "first paint of a one-line page served by Node, no server (navigation start → first contentful paint):",
        ),
        answered: spread_after(
            text,
            "first typed command answered (navigation start → answer painted), /terminal:",
        ),
        home: spread_after(text, HOME),
        home_xterm: spread_after_in(text, HOME, XTERM),
        run: spread_after(
            text,
            "Run on a post's C block (press → program's output painted; the terminal loads on the press), /blog/read-it-run-it:",
        ),
        steps,
    })
}

/// Reads `p50 A ms, min B ms, max C ms` after `label` on its line.
fn spread_after(text: &str, label: &str) -> Option<(f64, f64, f64)> {
    spread_after_in(text, label, "")
}

/// Reads `p50 A ms, min B ms, max C ms` after `part` on the line that starts with `label`.
fn spread_after_in(text: &str, label: &str, part: &str) -> Option<(f64, f64, f64)> {
    let line = text.lines().find_map(|l| l.strip_prefix(label))?;
    let rest = line.split_once(part)?.1;
    let value = |name: &str| -> Option<f64> {
        let after = rest.split(&format!("{name} ")).nth(1)?;
        after.split_whitespace().next()?.parse().ok()
    };
    Some((value("p50")?, value("min")?, value("max")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_totals_line() {
        let text = "first load of x\n  Document  100 raw  50 sent  40 gzip-9  /\n  total: 700.0 KiB raw, 368.2 KiB sent, 360.1 KiB gzip -9\n";
        let load = parse(text).unwrap();
        assert_eq!((load.sent_kib, load.gzip9_kib), (368.2, 360.1));
        assert_eq!(load.files.len(), 1);
        assert_eq!(load.terminal, None);
        assert_eq!(load.spacing, "back to back");
    }

    #[test]
    fn reads_the_times_and_their_breakdown() {
        let text = "each tab once no pooled sandbox is starting\n  total: 1.0 KiB raw, 2.0 KiB sent, 3.0 KiB gzip -9\n/terminal over 10 fresh tabs, by the page's clock (p50 of each step):\n  HTML received   12 ms\n  prompt painted   140 ms\ntime to prompt (navigation start → prompt painted), /terminal: p50 140 ms, min 120 ms, max 300 ms; in xterm.js: p50 400 ms, min 350 ms, max 500 ms\nfirst paint of a page with no terminal (navigation start → first contentful paint), /about: p50 100 ms, min 90 ms, max 120 ms\nfirst paint of a one-line page served by Node, no server (navigation start → first contentful paint): p50 60 ms, min 50 ms, max 70 ms\nfirst typed command answered (navigation start → answer painted), /terminal: p50 200 ms, min 180 ms, max 400 ms; from its first key: p50 50 ms, min 40 ms, max 90 ms\ntime to prompt (press of \"Start your sandbox\" → prompt painted), home page: p50 130 ms, min 110 ms, max 150 ms\nRun on a post's C block (press → program's output painted; the terminal loads on the press), /blog/read-it-run-it: p50 900 ms, min 800 ms, max 1000 ms\n";
        let load = parse(text).unwrap();
        assert_eq!(load.tabs, 10);
        assert_eq!(load.spacing, "each once the pool's refill was done");
        assert_eq!(load.terminal, Some((140.0, 120.0, 300.0)));
        assert_eq!(load.terminal_xterm, Some((400.0, 350.0, 500.0)));
        assert_eq!(load.plain_paint, Some((100.0, 90.0, 120.0)));
        assert_eq!(load.blank_paint, Some((60.0, 50.0, 70.0)));
        assert_eq!(load.home_xterm, None);
        assert_eq!(load.answered, Some((200.0, 180.0, 400.0)));
        assert_eq!(load.home, Some((130.0, 110.0, 150.0)));
        assert_eq!(load.run, Some((900.0, 800.0, 1000.0)));
        assert_eq!(
            load.steps,
            ["HTML received   12 ms", "prompt painted   140 ms"]
        );
    }
}
