//! Cross-site WebSocket hijacking and cross-site requests: a page on another origin must not
//! drive a visitor's terminal or start sessions in their name.
//!
//! Browsers always send `Origin` on WebSocket handshakes and on cross-origin POSTs, and a page
//! cannot forge it. So a request whose `Origin` is neither this site (the `Host` the request was
//! sent to) nor configured in `security.allowed_origins` is refused with 403. A request with no
//! `Origin` at all does not come from a page's script (curl, the tests, a terminal client) and
//! carries no visitor's ambient authority, so it is allowed: the session id in the URL is then
//! the only credential, as for any client.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use rootresume_protocol::WS_PATH;

/// Which origins may open the terminal socket and call server functions.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    allowed: Vec<String>,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The `Origin` header names another site.
    #[error("requests from {origin} are refused: only pages of this site may open a terminal or start a session")]
    CrossOrigin {
        /// The origin the browser reported.
        origin: String,
    },
}

impl OriginPolicy {
    /// A policy allowing the site itself and `allowed` (origins like `https://example.org`;
    /// entries that are not origins are ignored here, config validation reports them).
    pub fn new(allowed: &[String]) -> Self {
        Self {
            allowed: allowed.iter().filter_map(|o| parse_origin(o)).collect(),
        }
    }

    /// Checks the request headers; `Ok` when there is no `Origin` or it is allowed.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let Some(raw) = headers.get(ORIGIN) else {
            return Ok(());
        };
        let text = raw.to_str().unwrap_or("");
        let refused = || Refusal::CrossOrigin {
            origin: text.chars().take(100).collect(),
        };
        // "null" (sandboxed frames, file: pages) and garbage parse to None: refused.
        let origin = parse_origin(text).ok_or_else(refused)?;
        if self.allowed.contains(&origin) {
            return Ok(());
        }
        let host = headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| strip_default_port(&h.to_ascii_lowercase()));
        // The scheme is not compared: TLS usually ends at a proxy, so the server sees plain HTTP.
        let authority = origin.split_once("://").map_or("", |(_, a)| a);
        if host.as_deref() == Some(authority) {
            Ok(())
        } else {
            Err(refused())
        }
    }
}

/// Normalises `scheme://host[:port]` (http or https, no path) to lower case without a default
/// port; `None` when it is not such an origin.
pub(super) fn parse_origin(text: &str) -> Option<String> {
    let text = text.trim().to_ascii_lowercase();
    let (scheme, authority) = text.split_once("://")?;
    let authority = authority.strip_suffix('/').unwrap_or(authority);
    let valid = |c: char| c.is_ascii_alphanumeric() || "-.:[]".contains(c);
    if !matches!(scheme, "http" | "https") || authority.is_empty() || !authority.chars().all(valid)
    {
        return None;
    }
    let default = if scheme == "http" { ":80" } else { ":443" };
    let authority = authority.strip_suffix(default).unwrap_or(authority);
    Some(format!("{scheme}://{authority}"))
}

fn strip_default_port(host: &str) -> String {
    host.strip_suffix(":80")
        .or_else(|| host.strip_suffix(":443"))
        .unwrap_or(host)
        .to_owned()
}

/// Middleware: applies the policy to the terminal socket and to every request that is not a
/// plain read (server functions are POSTs).
pub(super) async fn check(
    Extension(policy): Extension<Arc<OriginPolicy>>,
    request: Request,
    next: Next,
) -> Response {
    let guarded = request.uri().path() == WS_PATH
        || !matches!(
            *request.method(),
            Method::GET | Method::HEAD | Method::OPTIONS
        );
    if guarded {
        if let Err(refusal) = policy.check(request.headers()) {
            tracing::info!(path = request.uri().path(), %refusal, "cross-origin request refused");
            return (StatusCode::FORBIDDEN, refusal.to_string()).into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(HOST, host.parse().expect("header"));
        if let Some(origin) = origin {
            map.insert(ORIGIN, origin.parse().expect("header"));
        }
        map
    }

    #[test]
    fn own_origin_and_no_origin_pass_others_do_not() {
        let policy = OriginPolicy::new(&["https://Friend.example/".into()]);
        let ok = |o: Option<&str>, h: &str| policy.check(&headers(o, h)).is_ok();
        assert!(ok(None, "site.example"));
        assert!(ok(Some("http://site.example"), "site.example"));
        assert!(ok(Some("https://site.example:443"), "SITE.example"));
        assert!(ok(Some("http://127.0.0.1:3000"), "127.0.0.1:3000"));
        assert!(ok(Some("https://friend.example"), "site.example"));
        assert!(!ok(Some("https://evil.example"), "site.example"));
        assert!(!ok(Some("http://127.0.0.1:3001"), "127.0.0.1:3000"));
        assert!(!ok(
            Some("https://site.example.evil.example"),
            "site.example"
        ));
        assert!(!ok(Some("null"), "site.example"));
        assert!(!ok(Some("chrome-extension://abc"), "site.example"));
    }

    #[test]
    fn origins_parse_strictly() {
        assert_eq!(
            parse_origin("HTTPS://A.example:443/").as_deref(),
            Some("https://a.example")
        );
        assert_eq!(parse_origin("https://a.example/path"), None);
        assert_eq!(parse_origin("a.example"), None);
        assert_eq!(parse_origin("ftp://a.example"), None);
    }
}
