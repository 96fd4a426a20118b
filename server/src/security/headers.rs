//! Security headers on every response, and the Content Security Policy of pages.
//!
//! The policy lets pages run only the site's own scripts: files from this origin, the WASM
//! bundle (`'wasm-unsafe-eval'` allows compiling it, not `eval` of text), the fixed inline
//! scripts of the page shell (the import map, the theme script and the terminal loader) by
//! SHA-256 hash, and Leptos' own scripts (live reload in development) by the per-response nonce
//! Leptos puts on them. An injected `<script>` has neither. Frames of other sites may not embed the pages (`frame-ancestors 'none'`).

use std::sync::LazyLock;

use axum::extract::Request;
use axum::http::header::{
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, HOST, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use leptos::prelude::use_context;
use sha2::{Digest, Sha256};

/// Carries a page's nonce from its render to [`add`], which removes it.
const NONCE_HEADER: HeaderName = HeaderName::from_static("x-rootresume-csp-nonce");

/// CSP sources (`'sha256-…'`) of the page shell's fixed inline scripts.
pub struct ScriptHashes(Vec<String>);

impl ScriptHashes {
    /// Hashes of the given inline script texts, exactly as they appear in the page.
    pub fn of(scripts: &[&str]) -> Self {
        Self(
            scripts
                .iter()
                .map(|text| {
                    let digest = Sha256::digest(text.as_bytes());
                    let encoded = base64::engine::general_purpose::STANDARD.encode(digest);
                    format!("'sha256-{encoded}'")
                })
                .collect(),
        )
    }
}

static SHELL_SCRIPTS: LazyLock<ScriptHashes> = LazyLock::new(|| {
    ScriptHashes::of(&[
        app::IMPORT_MAP,
        app::THEME_SCRIPT,
        app::TERMINAL_LOADER,
        app::FIRST_SCREEN,
    ])
});

/// The Content Security Policy for a response to a request for `host`, with the page's
/// `nonce` when it has one.
pub fn policy(hashes: &ScriptHashes, nonce: Option<&str>, host: Option<&str>) -> String {
    let mut script = vec!["'self'".to_owned(), "'wasm-unsafe-eval'".to_owned()];
    script.extend(hashes.0.iter().cloned());
    if let Some(nonce) = nonce {
        script.push(format!("'nonce-{nonce}'"));
    }
    // Older browsers do not count ws: as 'self'; name the host. Any port of it: the dev
    // server's live reload listens on its own port.
    let mut connect = vec!["'self'".to_owned()];
    if let Some(name) = host.and_then(host_name) {
        connect.extend([format!("ws://{name}:*"), format!("wss://{name}:*")]);
    }
    format!(
        "default-src 'self'; script-src {}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
         font-src 'self'; connect-src {}; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'",
        script.join(" "),
        connect.join(" ")
    )
}

/// The host name of a `Host` header, if it is a plain name or address (the header is the
/// client's to choose; nothing else may reach the policy).
fn host_name(host: &str) -> Option<&str> {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    let valid = |c: char| c.is_ascii_alphanumeric() || "-.[]:".contains(c);
    (!name.is_empty() && name.chars().all(valid)).then_some(name)
}

/// Runs in every page render (Leptos' additional context): hands the nonce Leptos put on the
/// page's scripts to [`add`] through the response options.
pub fn page_context() {
    let nonce = leptos::nonce::use_nonce();
    let response = use_context::<leptos_axum::ResponseOptions>();
    if let (Some(nonce), Some(response)) = (nonce, response) {
        if let Ok(value) = HeaderValue::from_str(&nonce) {
            response.insert_header(NONCE_HEADER, value);
        }
    }
}

/// Middleware: the security headers, on every response that does not set its own.
pub(super) async fn add(request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let nonce = headers.remove(NONCE_HEADER);
    let nonce = nonce.as_ref().and_then(|n| n.to_str().ok());
    let content_type = headers.get(CONTENT_TYPE).and_then(|t| t.to_str().ok());
    if content_type.is_some_and(is_subresource) {
        // A script, bundle, stylesheet or JSON answer is never a document: the policies below
        // govern documents only, and would add most of a kilobyte to each of the page's files.
        headers
            .entry(X_CONTENT_TYPE_OPTIONS)
            .or_insert(HeaderValue::from_static("nosniff"));
        return response;
    }
    if !headers.contains_key(CONTENT_SECURITY_POLICY) {
        if let Ok(value) = HeaderValue::from_str(&policy(&SHELL_SCRIPTS, nonce, host.as_deref())) {
            headers.insert(CONTENT_SECURITY_POLICY, value);
        }
    }
    let fixed = [
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (REFERRER_POLICY, "same-origin"),
        // For browsers without CSP frame-ancestors.
        (X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=()",
        ),
    ];
    for (name, value) in fixed {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    response
}

/// Whether a response of this `Content-Type` can only be a subresource, never a document a
/// browser renders (HTML, SVG and XML can be; they keep every header).
fn is_subresource(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    matches!(
        essence.to_ascii_lowercase().as_str(),
        "text/javascript"
            | "application/javascript"
            | "application/wasm"
            | "text/css"
            | "application/json"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_scripts_bundles_styles_and_json_are_subresources() {
        for sub in [
            "text/javascript",
            "application/wasm",
            "text/css; charset=utf-8",
            "application/json",
        ] {
            assert!(is_subresource(sub), "{sub}");
        }
        for document in [
            "text/html; charset=utf-8",
            "image/svg+xml",
            "application/atom+xml",
            "text/xml",
            "",
        ] {
            assert!(!is_subresource(document), "{document}");
        }
    }

    #[test]
    fn policy_allows_own_scripts_only() {
        let hashes = ScriptHashes::of(&["alert(1)"]);
        let csp = policy(&hashes, Some("abc"), Some("site.example:3000"));
        assert!(
            csp.contains("script-src 'self' 'wasm-unsafe-eval' 'sha256-"),
            "{csp}"
        );
        assert!(csp.contains("'nonce-abc'") && csp.contains("frame-ancestors 'none'"));
        assert!(csp.contains("ws://site.example:*"), "{csp}");
        assert!(!csp.contains("unsafe-eval'; ") && !csp.contains("script-src *"));
        // A hostile Host header cannot add sources.
        let csp = policy(&hashes, None, Some("x; script-src *"));
        assert!(
            !csp.contains("script-src *") && !csp.contains("nonce"),
            "{csp}"
        );
    }

    #[test]
    fn hash_matches_the_csp_spec_example() {
        // echo -n "alert('Hello, world.');" | openssl dgst -sha256 -binary | base64
        let hashes = ScriptHashes::of(&["alert('Hello, world.');"]);
        assert_eq!(
            hashes.0[0],
            "'sha256-qznLcsROx4GACP2dm0UCKCzCG+HiZ1guq6ZZDob/Tng='"
        );
    }
}
