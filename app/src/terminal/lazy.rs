//! The parts of the browser bundle loaded on first use, not with the page: each function here
//! is a split point (`scripts/build-site.sh` splits the bundle there; `bindgen/`), whose code and
//! everything only it reaches are fetched from `/pkg` the first time it is called. Functions
//! naming the same part share one file. What every session shows (the terminal, its bar, the
//! meter) stays in the page's bundle; what few visitors use waits for them:
//! `docs/benchmarks/bundle-size.md` measures what each part takes out of the first load.
//!
//! A part that cannot be fetched (the network failed, a deploy replaced the files) is an error
//! the caller shows, never a panic: a panic would end the whole bundle, the shell's terminal with
//! it. A later call tries again.

use leptos::prelude::*;
use leptos::wasm_split::{wasm_split, SplitLoaderError};
use rootresume_protocol::Sharing;
use web_sys::{File, HtmlElement};

use super::watch::WatchSignals;
use super::ReplaySignals;

/// A part of the bundle could not be loaded.
#[derive(Debug)]
pub struct NotLoaded;

impl From<SplitLoaderError> for NotLoaded {
    fn from(_: SplitLoaderError) -> Self {
        Self
    }
}

impl std::fmt::Display for NotLoaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("part of the page could not be loaded: check the connection, then try again")
    }
}

/// Uploads `files` into the home of panel `handle`'s sandbox, or with `restore` unpacks them
/// there as home archives (the Upload and Restore home inputs, and files dropped on it).
#[wasm_split(
    files,
    wasm_split_path = ::leptos::wasm_split,
    fallible,
    preload(preload_files)
)]
pub fn upload(handle: u32, files: Vec<File>, restore: bool) -> Result<(), NotLoaded> {
    super::client::upload(handle, files, restore);
    Ok(())
}

/// Downloads a file out of the sandbox (`path` as the `download` command wrote it), or its
/// whole home.
#[wasm_split(files, wasm_split_path = ::leptos::wasm_split, fallible)]
pub fn download(handle: u32, path: Option<String>) -> Result<(), NotLoaded> {
    super::client::download(handle, path);
    Ok(())
}

/// The replay's bar and screen, for the panel to draw in `part` (which Close empties).
#[wasm_split(
    replay,
    wasm_split_path = ::leptos::wasm_split,
    fallible,
    preload(preload_replay)
)]
pub fn replay_bar(
    handle: u32,
    replay: ReplaySignals,
    part: RwSignal<Option<ViewFn>>,
) -> Result<ViewFn, NotLoaded> {
    Ok(ViewFn::from(move || {
        super::replay_bar::bar(handle, replay, part)
    }))
}

/// The share strip's contents, for the panel to draw while the session is shared.
#[wasm_split(
    sharing,
    wasm_split_path = ::leptos::wasm_split,
    fallible,
    preload(preload_sharing)
)]
pub fn share_strip(handle: u32, sharing: RwSignal<Sharing>) -> Result<ViewFn, NotLoaded> {
    Ok(ViewFn::from(move || super::sharing::strip(handle, sharing)))
}

/// The share page's spectator (`/watch/…`): only that page needs it.
#[wasm_split(spectator, wasm_split_path = ::leptos::wasm_split, fallible)]
pub fn watch(host: HtmlElement, signals: WatchSignals) -> Result<(), NotLoaded> {
    super::spectator::start(host, signals);
    Ok(())
}

/// Starts fetching the part behind a control the visitor reaches for (named by its `data-part`:
/// `files`, `replay` or `sharing`), so that the press finds it loaded. A failure is left to the
/// press, which tries again and says so.
pub fn warm(part: &str) {
    match part {
        "files" => leptos::task::spawn_local(async {
            let _ = preload_files().await;
        }),
        "replay" => leptos::task::spawn_local(async {
            let _ = preload_replay().await;
        }),
        "sharing" => leptos::task::spawn_local(async {
            let _ = preload_sharing().await;
        }),
        _ => {}
    }
}
