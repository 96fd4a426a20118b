//! A cap on the terminal sockets one client may hold open, so one address cannot tie up the
//! server's tasks and memory with thousands of sockets. Each socket costs a task and buffers
//! even when its session id is bogus.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::client::{client_address, ProxyPolicy};

/// Counts open terminal sockets per client address.
pub struct SocketLimiter {
    cap: usize,
    proxies: ProxyPolicy,
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl SocketLimiter {
    /// A limiter allowing `cap` sockets per client; the client is found as for sessions.
    pub fn new(cap: usize, proxies: ProxyPolicy) -> Self {
        Self {
            cap,
            proxies,
            open: Mutex::new(HashMap::new()),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        // Each operation is one counter update, so a poisoned table is still consistent.
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a slot for `client`, or `None` when it already holds `cap` sockets.
    pub fn acquire(self: &Arc<Self>, client: Option<IpAddr>) -> Option<SocketPermit> {
        if let Some(ip) = client {
            let mut table = self.table();
            let count = table.entry(ip).or_insert(0);
            if *count >= self.cap {
                return None;
            }
            *count += 1;
        }
        Some(SocketPermit {
            slot: client.map(|ip| (self.clone(), ip)),
            client,
        })
    }

    /// Sockets `client` holds open now.
    pub fn open_for(&self, client: IpAddr) -> usize {
        self.table().get(&client).copied().unwrap_or(0)
    }
}

/// One open terminal socket's slot; dropping it (when the socket ends) frees the slot. As an
/// extractor it refuses the upgrade with 429 when the client is at its cap.
pub struct SocketPermit {
    slot: Option<(Arc<SocketLimiter>, IpAddr)>,
    client: Option<IpAddr>,
}

impl SocketPermit {
    /// The client this socket comes from, when known.
    pub fn client(&self) -> Option<IpAddr> {
        self.client
    }
}

impl Drop for SocketPermit {
    fn drop(&mut self) {
        if let Some((limiter, ip)) = self.slot.take() {
            let mut table = limiter.table();
            if let Some(count) = table.get_mut(&ip) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    table.remove(&ip);
                }
            }
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SocketPermit {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(limiter) = parts.extensions.get::<Arc<SocketLimiter>>().cloned() else {
            // A router built without `harden` has no limit to apply.
            return Ok(SocketPermit {
                slot: None,
                client: None,
            });
        };
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        let client = client_address(peer, &parts.headers, &limiter.proxies);
        limiter.acquire(client).ok_or_else(|| {
            let message = format!(
                "too many terminal connections from your address (at most {}); close other tabs",
                limiter.cap
            );
            tracing::info!(?client, "terminal socket refused: per-client cap reached");
            (StatusCode::TOO_MANY_REQUESTS, message).into_response()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_per_client_and_freed_on_drop() {
        let limiter = Arc::new(SocketLimiter::new(2, ProxyPolicy::default()));
        let a: IpAddr = [10, 0, 0, 1].into();
        let first = limiter.acquire(Some(a)).expect("first");
        let _second = limiter.acquire(Some(a)).expect("second");
        assert!(limiter.acquire(Some(a)).is_none(), "third is over the cap");
        assert!(limiter.acquire(Some([10, 0, 0, 2].into())).is_some());
        drop(first);
        assert_eq!(limiter.open_for(a), 1);
        assert!(limiter.acquire(Some(a)).is_some());
    }
}
