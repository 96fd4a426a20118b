//! The session handed out with the page that is the terminal (`/terminal`).
//!
//! A browser's navigation to that page gets its sandbox in the same response: the session is
//! started (from the warm pool) before the page renders, and the page carries its id and what
//! its shell has printed so far, so the page's first paint already shows the prompt and the
//! browser asks for no session. Asking for it from the page instead costs a request and a
//! socket whose events wait for the page's first style, layout and paint: on this project's
//! two-core machine the prompt then came about 100 ms after that paint
//! (`docs/benchmarks/page-to-prompt.md`).
//!
//! Only a browser's own navigation gets one (`Sec-Fetch-Dest: document`), never a prefetch or a
//! prerender, nor a reload (`Cache-Control: max-age=0`: its tab most likely has its session
//! already, which it keeps), nor a client that sends no fetch metadata (scripts, crawlers). A
//! tab that has a session gives the page's back (the `release_session` server function); one
//! never attached otherwise ends after the grace period, as one asked for and never used does.
//! Caps and rate limits count it alike. Refused, the page is sent without one, and its loader
//! asks, so the visitor sees why.

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use std::net::SocketAddr;
use std::sync::Arc;

use app::api::launcher::{ClientInfo, Granted, Launcher};

use crate::sessions::SessionManager;

/// The most shell output a page carries; a pooled shell's prompt is a few dozen bytes.
const MAX_SCREEN: usize = 4096;

/// What [`grant`] needs.
#[derive(Clone)]
pub struct PageSessions {
    /// Starts sessions as the `create_session` server function does.
    pub launcher: Launcher,
    /// Where a started session's output is read.
    pub sessions: Arc<SessionManager>,
}

/// Whether `method`, `path` and `headers` are a browser's own navigation to the terminal page
/// (see the module's documentation).
pub fn wants_session(method: &Method, path: &str, headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    method == Method::GET
        && app::terminal_start(path) == Some(app::TerminalStart::Load)
        && header("sec-fetch-dest") == Some("document")
        && header("sec-purpose").is_none()
        && header("purpose").is_none()
        // A reload: its tab most likely has its session (a hard reload, or a page asked for
        // with the cache off, says `no-cache` instead, and gets one, which a tab that has its
        // own gives back).
        && !header("cache-control").is_some_and(|value| value.contains("max-age=0"))
}

/// Middleware: starts the session of a navigation to the terminal page and puts it in the
/// request's extensions for the page to carry; the response is then never stored.
pub async fn grant(
    State(pages): State<PageSessions>,
    mut request: Request,
    next: Next,
) -> Response {
    if !wants_session(request.method(), request.uri().path(), request.headers()) {
        return next.run(request).await;
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let client = ClientInfo {
        peer,
        headers: request.headers().clone(),
    };
    let Ok(id) = pages.launcher.0.launch(client).await else {
        return next.run(request).await;
    };
    let screen = pages
        .sessions
        .get(&id)
        .map(|session| {
            let (bytes, whole) = session.main().output.tail(MAX_SCREEN);
            // Only a screen from the shell's start: the socket replays from the same place.
            if whole {
                base64::engine::general_purpose::STANDARD.encode(bytes)
            } else {
                String::new()
            }
        })
        .unwrap_or_default();
    request.extensions_mut().insert(Granted { id, screen });
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn navigation(extra: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("sec-fetch-dest", HeaderValue::from_static("document"));
        headers.insert("sec-fetch-mode", HeaderValue::from_static("navigate"));
        for (name, value) in extra {
            headers.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
                HeaderValue::from_str(value).expect("a header value"),
            );
        }
        headers
    }

    #[test]
    fn only_a_browsers_own_navigation_to_the_terminal_gets_a_session() {
        let get = Method::GET;
        assert!(wants_session(&get, "/terminal", &navigation(&[])));
        assert!(wants_session(&get, "/terminal/", &navigation(&[])));
        // Other pages, other methods; no fetch metadata (a script or a crawler).
        assert!(!wants_session(&get, "/", &navigation(&[])));
        assert!(!wants_session(&get, "/about", &navigation(&[])));
        assert!(!wants_session(&Method::HEAD, "/terminal", &navigation(&[])));
        assert!(!wants_session(&get, "/terminal", &HeaderMap::new()));
        // What a request adds to a navigation's own headers, and whether it then gets one.
        let cases = [
            (("sec-fetch-dest", "iframe"), false),
            (("sec-purpose", "prefetch"), false),
            (("sec-purpose", "prefetch;prerender"), false),
            (("purpose", "prefetch"), false),
            // A reload; then a hard reload, or the cache turned off.
            (("cache-control", "max-age=0"), false),
            (("cache-control", "no-cache"), true),
        ];
        for (header, expected) in cases {
            let headers = navigation(&[header]);
            assert_eq!(
                wants_session(&get, "/terminal", &headers),
                expected,
                "{header:?}"
            );
        }
    }
}
