//! The page's static files (the WASM bundle, its script and stylesheet, xterm.js) compressed once
//! rather than on every request: gzip at level 9 and Brotli at quality 11, kept in memory and
//! served with an `ETag`. Compressing the 330 KB bundle per request cost the first visit of every
//! tab tens of milliseconds before its shell could start; Brotli sends a fifth less than gzip.
//!
//! A file changed on disk (a development rebuild) is read again on its next request. Brotli's
//! best quality takes about a second for the bundle, so it is made in the background: until it
//! is ready, that file goes out as gzip. [`Assets::warm`] compresses every file at start-up.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use sha2::{Digest, Sha256};

/// Files larger than this are not kept in memory (nothing the page loads comes near it).
const MAX_FILE_BYTES: u64 = 16 << 20;

/// One file, as read and compressed.
struct Entry {
    /// The file's modification time and length when read: a change means a new build.
    stamp: (SystemTime, u64),
    /// The bytes as on disk.
    raw: Bytes,
    /// The bytes as text (invalid UTF-8 replaced), made on the first page that carries the file
    /// in itself, then shared by every page until the file changes.
    text: OnceLock<Arc<str>>,
    /// gzip, level 9.
    gzip: Bytes,
    /// Brotli, quality 11, once the background compression is done.
    brotli: OnceLock<Bytes>,
    /// A strong validator: the start of the raw bytes' SHA-256.
    etag: HeaderValue,
    /// By the file's extension.
    content_type: &'static str,
}

/// A folder of static files served from memory under one URL prefix.
#[derive(Clone)]
pub struct Assets {
    /// The folder.
    root: Arc<PathBuf>,
    /// Files read so far, by path below `root`.
    cache: Arc<Mutex<HashMap<PathBuf, Arc<Entry>>>>,
}

impl Assets {
    /// Serves the files below `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: Arc::new(root.into()),
            cache: Arc::default(),
        }
    }

    /// A router answering `GET` and `HEAD` for every file below the folder; nest it under the
    /// folder's URL prefix.
    pub fn router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        self.clone().warm();
        Router::new().route("/{*path}", get(serve)).with_state(self)
    }

    /// Reads and compresses the folder's scripts, bundles and stylesheets (subfolders too) in the
    /// background, so the first visitor already gets the smallest encoding. It runs on a thread of
    /// its own at the lowest CPU priority: Brotli's best quality takes seconds of a core (eight
    /// for a debug build's bundle), which at a server's start competed with the pool's first
    /// container starts and the first visitors' shells; until a file's Brotli is made, it goes
    /// out as gzip.
    pub fn warm(self) {
        let spawned = std::thread::Builder::new()
            .name("assets-warm".into())
            .spawn(move || {
                if !lowest_priority() {
                    tracing::debug!("could not lower the compressing thread's priority");
                }
                let mut pending = vec![PathBuf::new()];
                while let Some(dir) = pending.pop() {
                    let Ok(listing) = std::fs::read_dir(self.root.join(&dir)) else {
                        continue;
                    };
                    for item in listing.flatten() {
                        let relative = dir.join(item.file_name());
                        match item.file_type() {
                            Ok(kind) if kind.is_dir() => pending.push(relative),
                            // What pages load; the rest (source maps) waits for its first request.
                            Ok(kind) if kind.is_file() && is_page_asset(&relative) => {
                                if let Some(entry) = self.entry(&relative) {
                                    let _ = brotli_of(&entry);
                                }
                            }
                            _ => {}
                        }
                    }
                }
            });
        if let Err(error) = spawned {
            // Each file is then compressed on its first request instead.
            tracing::warn!(%error, "could not start compressing the static files");
        }
    }

    /// The file at `relative` as text (read again if it changed since it was cached), for a page
    /// that carries the file in itself; `None` if there is no such file. Decoded once per
    /// version of the file, not on every page.
    pub fn text(&self, relative: &Path) -> Option<Arc<str>> {
        let entry = self.entry(relative)?;
        let text = entry
            .text
            .get_or_init(|| String::from_utf8_lossy(&entry.raw).into());
        Some(text.clone())
    }

    /// The file at `relative`, read again if it changed since it was cached; `None` if there is
    /// no such regular file.
    fn entry(&self, relative: &Path) -> Option<Arc<Entry>> {
        let path = self.root.join(relative);
        let meta = std::fs::metadata(&path).ok()?;
        if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
            return None;
        }
        let stamp = (meta.modified().ok()?, meta.len());
        if let Some(entry) = self.cached(relative) {
            if entry.stamp == stamp {
                return Some(entry);
            }
        }
        let raw = Bytes::from(std::fs::read(&path).ok()?);
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gzip.write_all(&raw).ok()?;
        let digest = Sha256::digest(&raw);
        let etag = format!(
            "\"{}\"",
            digest[..12]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let entry = Arc::new(Entry {
            stamp,
            gzip: Bytes::from(gzip.finish().ok()?),
            raw,
            text: OnceLock::new(),
            brotli: OnceLock::new(),
            etag: HeaderValue::from_str(&etag).ok()?,
            content_type: content_type(relative),
        });
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(relative.to_path_buf(), entry.clone());
        Some(entry)
    }

    fn cached(&self, relative: &Path) -> Option<Arc<Entry>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(relative).cloned()
    }
}

/// The entry's Brotli bytes, compressing them now if no one has.
fn brotli_of(entry: &Entry) -> &Bytes {
    entry.brotli.get_or_init(|| {
        let mut out = Vec::with_capacity(entry.gzip.len());
        let params = brotli::enc::BrotliEncoderParams {
            quality: 11,
            lgwin: 22,
            size_hint: entry.raw.len(),
            ..Default::default()
        };
        let mut input = entry.raw.as_ref();
        match brotli::BrotliCompress(&mut input, &mut out, &params) {
            Ok(_) => Bytes::from(out),
            // Writing to memory does not fail; should it, gzip is kept (an empty body is never
            // chosen, see `pick`).
            Err(_) => Bytes::new(),
        }
    })
}

/// Puts the calling thread at the lowest CPU priority, nice 19 (Linux keeps the nice value per
/// thread); whether it could.
fn lowest_priority() -> bool {
    // SAFETY: setpriority reads only its three integers; `who` 0 is the calling thread.
    unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) == 0 }
}

/// Whether pages load this file (scripts, the bundle, stylesheets).
fn is_page_asset(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("js" | "mjs" | "wasm" | "css")
    )
}

/// The `Content-Type` for a file name.
fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "js" | "mjs" => "text/javascript",
        "wasm" => "application/wasm",
        "css" => "text/css",
        "svg" => "image/svg+xml",
        "json" | "map" => "application/json",
        "html" => "text/html; charset=utf-8",
        "txt" | "ts" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The part of a URL path below the prefix, as a path that cannot leave the folder.
fn safe_relative(path: &str) -> Option<PathBuf> {
    let relative = PathBuf::from(path);
    let normal = relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    (normal && !path.is_empty() && !path.contains('\\')).then_some(relative)
}

/// Which encodings the request accepts (a `q=0` refuses one).
fn accepts(headers: &HeaderMap) -> (bool, bool) {
    let (mut br, mut gzip) = (false, false);
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            match name {
                "br" => br = !refused,
                "gzip" => gzip = !refused,
                _ => {}
            }
        }
    }
    (br, gzip)
}

/// The body to send and its `Content-Encoding`: Brotli when accepted and ready, else gzip when
/// accepted, else the file as it is.
fn pick(entry: &Entry, headers: &HeaderMap) -> (Bytes, Option<&'static str>) {
    let (br, gzip) = accepts(headers);
    if br {
        if let Some(body) = entry.brotli.get().filter(|b| !b.is_empty()) {
            return (body.clone(), Some("br"));
        }
    }
    if gzip {
        return (entry.gzip.clone(), Some("gzip"));
    }
    (entry.raw.clone(), None)
}

async fn serve(
    State(assets): State<Assets>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let Some(relative) = safe_relative(&path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let lookup = assets.clone();
    let found = tokio::task::spawn_blocking(move || lookup.entry(&relative)).await;
    let Ok(Some(entry)) = found else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if entry.brotli.get().is_none() {
        // Made in the background; this visitor gets gzip meanwhile.
        let later = entry.clone();
        tokio::task::spawn_blocking(move || {
            let _ = brotli_of(&later);
        });
    }
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|tag| tag == entry.etag)
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let (body, encoding) = pick(&entry, &headers);
        let mut response = Response::new(Body::from(body));
        if let Some(encoding) = encoding {
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(entry.content_type),
        );
        response
    };
    let out = response.headers_mut();
    out.insert(header::ETAG, entry.etag.clone());
    out.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    // The names are not content-hashed: a browser may keep them, but asks (and gets a 304)
    // before each use, so a new build is never mixed with an old one.
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_encoding(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).unwrap(),
        );
        headers
    }

    #[test]
    fn reads_accept_encoding() {
        assert_eq!(
            accepts(&with_encoding("gzip, deflate, br, zstd")),
            (true, true)
        );
        assert_eq!(accepts(&with_encoding("gzip;q=1.0, br;q=0")), (false, true));
        assert_eq!(accepts(&HeaderMap::new()), (false, false));
    }

    #[test]
    fn the_compressing_thread_runs_at_the_lowest_priority_and_only_it() {
        let nice = || {
            // SAFETY: getpriority reads only its two integers; `who` 0 is the calling thread.
            unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
        };
        let before = nice();
        let lowered = std::thread::spawn(move || (lowest_priority(), nice()))
            .join()
            .unwrap();
        assert_eq!(lowered, (true, 19));
        assert_eq!(
            nice(),
            before,
            "the thread that spawned it keeps its priority"
        );
    }

    #[test]
    fn paths_cannot_leave_the_folder() {
        assert!(safe_relative("xterm.mjs").is_some());
        assert!(safe_relative("lib/xterm.mjs").is_some());
        for bad in ["../secret", "/etc/passwd", "a/../../b", "", ".", "a\\..\\b"] {
            assert!(safe_relative(bad).is_none(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn serves_brotli_gzip_or_raw_as_asked_and_sees_a_rebuild() {
        let dir = std::env::temp_dir().join(format!("rr-assets-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = "console.log('hello');\n".repeat(200);
        std::fs::write(dir.join("a.js"), &text).unwrap();
        let assets = Assets::new(&dir);
        let entry = assets.entry(Path::new("a.js")).unwrap();
        assert_eq!(entry.content_type, "text/javascript");
        let (body, encoding) = pick(&entry, &with_encoding("gzip, br"));
        assert_eq!(encoding, Some("gzip"), "Brotli is not made yet");
        let mut unzipped = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut unzipped)
            .unwrap();
        assert_eq!(unzipped, text);
        let brotli = brotli_of(&entry).clone();
        let (body, encoding) = pick(&entry, &with_encoding("gzip, br"));
        assert_eq!((encoding, &body), (Some("br"), &brotli));
        let mut unbrotlied = Vec::new();
        brotli::BrotliDecompress(&mut &body[..], &mut unbrotlied).unwrap();
        assert_eq!(unbrotlied, text.as_bytes());
        assert!(body.len() < entry.gzip.len(), "Brotli is the smaller");
        assert_eq!(pick(&entry, &HeaderMap::new()).0, entry.raw);

        // A rebuild writes a different file: its next request sees it.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dir.join("a.js"), "changed").unwrap();
        let again = assets.entry(Path::new("a.js")).unwrap();
        assert_eq!(&again.raw[..], b"changed");
        assert_ne!(again.etag, entry.etag);
        assert!(assets.entry(Path::new("missing.js")).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_pages_text_is_decoded_once_per_version_of_the_file() {
        let dir = std::env::temp_dir().join(format!("rr-assets-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.css"), "a > b { color: red }").unwrap();
        let assets = Assets::new(&dir);
        let first = assets.text(Path::new("a.css")).unwrap();
        assert_eq!(&*first, "a > b { color: red }");
        let second = assets.text(Path::new("a.css")).unwrap();
        assert!(Arc::ptr_eq(&first, &second), "the same text, not a copy");

        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dir.join("a.css"), b"p { content: '\xff' }").unwrap();
        let rebuilt = assets.text(Path::new("a.css")).unwrap();
        assert_eq!(&*rebuilt, "p { content: '\u{fffd}' }");
        assert!(assets.text(Path::new("missing.css")).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
