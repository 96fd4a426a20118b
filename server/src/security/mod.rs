//! Defences of the web side against hostile visitors: which origins may open a terminal, the
//! security headers on every response, per-client caps on sockets and connections, a deadline
//! for request headers (slowloris), and keeping session ids out of logs and timing.
//!
//! The rest of the server hooks in at a few points: [`harden`] wraps the router,
//! [`SocketPermit`] is an extractor of the terminal socket handler, [`serve`] accepts
//! connections, and [`page_context`] runs in every page render to set its CSP nonce.

mod headers;
mod origin;
mod secret;
mod serve;
mod sockets;

use std::sync::Arc;

use axum::{middleware, Extension, Router};
use serde::{Deserialize, Deserializer};

use crate::sandbox::check_range;

pub use headers::{page_context, policy, ScriptHashes};
pub use origin::{OriginPolicy, Refusal};
pub use secret::ct_eq;
pub use serve::serve;

use crate::client::ProxyPolicy;
pub use sockets::{SocketLimiter, SocketPermit};

/// Settings of the web-side defences (`[security]` in the config file).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecuritySettings {
    /// Origins besides the site's own (the request's `Host`) whose pages may open a terminal
    /// socket or call server functions, e.g. `https://example.org`. A list, or one string with
    /// commas. Default: none.
    #[serde(deserialize_with = "list_or_commas")]
    pub allowed_origins: Vec<String>,
    /// Terminal sockets one client address may hold open at once. Default: 16.
    pub max_sockets_per_client: usize,
    /// TCP connections one address may hold open at once; not applied to trusted proxies
    /// (their connections are many visitors'). Default: 64.
    pub max_connections_per_address: usize,
    /// Addresses or CIDRs of the reverse proxies whose `sessions.trusted_proxy_header` is
    /// believed; from any other peer the header is ignored. A list, or one string with commas.
    /// Default: loopback (`127.0.0.0/8`, `::1`), a proxy on the same machine.
    #[serde(deserialize_with = "list_or_commas")]
    pub trusted_proxies: Vec<String>,
    /// Seconds a client has to send a request's headers before the connection is closed
    /// (slowloris). Default: 10.
    pub header_read_timeout_secs: u64,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            max_sockets_per_client: 16,
            max_connections_per_address: 64,
            trusted_proxies: vec!["127.0.0.0/8".into(), "::1".into()],
            header_read_timeout_secs: 10,
        }
    }
}

impl SecuritySettings {
    /// Checks every setting; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        check_range(
            "security.max_sockets_per_client",
            count(self.max_sockets_per_client),
            1,
            10_000,
        )?;
        check_range(
            "security.max_connections_per_address",
            count(self.max_connections_per_address),
            4,
            100_000,
        )?;
        check_range(
            "security.header_read_timeout_secs",
            self.header_read_timeout_secs,
            1,
            300,
        )?;
        for proxy in &self.trusted_proxies {
            crate::client::parse_net(proxy).ok_or_else(|| {
                format!(
                    "security.trusted_proxies: {proxy:?} is not an address or a CIDR like 10.0.0.0/8"
                )
            })?;
        }
        for origin in &self.allowed_origins {
            origin::parse_origin(origin).ok_or_else(|| {
                format!(
                    "security.allowed_origins: {origin:?} is not an origin like https://example.org"
                )
            })?;
        }
        Ok(())
    }
}

/// Accepts `["a", "b"]` or `"a, b"` (handy in an environment variable).
fn list_or_commas<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        Text(String),
    }
    let items = match Either::deserialize(d)? {
        Either::List(list) => list,
        Either::Text(text) => text.split(',').map(str::to_owned).collect(),
    };
    Ok(items
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect())
}

/// Wraps the whole router: origin checks on the terminal socket and on server-function calls,
/// security headers on every response, and the socket limiter the terminal handler draws on.
pub fn harden(router: Router, settings: &SecuritySettings, proxies: &ProxyPolicy) -> Router {
    let origins = Arc::new(OriginPolicy::new(&settings.allowed_origins));
    let limiter = Arc::new(SocketLimiter::new(
        settings.max_sockets_per_client,
        proxies.clone(),
    ));
    router
        .layer(middleware::from_fn(origin::check))
        .layer(Extension(origins))
        .layer(Extension(limiter))
        .layer(middleware::from_fn(headers::add))
}
