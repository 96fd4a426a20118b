//! Embeds every file under `content/` into the server build, so the binary carries its own
//! profile and posts and adding a post needs no code change: this script lists the files, the
//! `content` module parses them when the server starts.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let content = Path::new(&manifest).join("../content");
    println!("cargo:rerun-if-changed={}", content.display());
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));

    // The browser build never reads content: give it an empty list.
    let mut files = Vec::new();
    if std::env::var_os("CARGO_FEATURE_SSR").is_some() {
        collect(&content, &content, &mut files);
        files.sort();
    }
    let mut code = String::from("&[\n");
    for (relative, absolute) in &files {
        let _ = writeln!(code, "    ({relative:?}, include_str!({absolute:?})),");
    }
    code.push(']');
    if let Err(error) = std::fs::write(out.join("content_files.rs"), code) {
        panic!("cannot write the embedded content list: {error}");
    }
}

/// Adds every regular file under `dir` as (path relative to `root` with `/`, absolute path).
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, String)>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => panic!(
            "cannot read the content folder {}: {error} (it holds profile.toml and posts/)",
            dir.display()
        ),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(relative) = path.strip_prefix(root) {
            let relative = relative.to_string_lossy().replace('\\', "/");
            let absolute = path.canonicalize().unwrap_or(path.clone());
            files.push((relative, absolute.to_string_lossy().into_owned()));
        }
    }
}
