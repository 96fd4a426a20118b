//! First-load transfer of the home page, through the existing Chromium measurement
//! (end2end/bench/first-load.mjs): HTML, JS, WASM and CSS as sent, and as gzip -9 of each body.

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
}

/// Loads `base` in Chromium with the repository's script and reads its totals.
pub fn measure(repo: &Path, base: &str) -> Result<FirstLoad> {
    let output = Command::new("node")
        .current_dir(repo)
        // One tab to prompt as well: the script's summary line needs at least one.
        .args(["end2end/bench/first-load.mjs", base, "1"])
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
    Some(FirstLoad {
        sent_kib: *numbers.get(1)?,
        gzip9_kib: *numbers.get(2)?,
        files,
    })
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
    }
}
