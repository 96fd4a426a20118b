//! Who may start a session: a creation rate per client (token bucket) and the client's address,
//! taken from the socket unless a trusted proxy header is configured.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::HeaderMap;
use tokio::time::Instant;

/// A token bucket per client address: `burst` creations at once, refilled at `per_minute`.
pub struct RateLimiter {
    burst: f64,
    per_second: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Buckets idle this long are full again and can be forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(600);

impl RateLimiter {
    /// A limiter allowing `burst` creations at once and `per_minute` on average.
    pub fn new(burst: u32, per_minute: u32) -> Self {
        Self {
            burst: f64::from(burst.max(1)),
            per_second: f64::from(per_minute.max(1)) / 60.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `client`, or says how long until one is available.
    pub fn take(&self, client: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 10_000 {
            // Bound the table against address floods: full buckets carry no information.
            buckets.retain(|_, b| now.duration_since(b.updated) < FORGET_AFTER);
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let refill = now.duration_since(bucket.updated).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.per_second,
            ))
        }
    }
}

/// The client's address: the last entry of `trusted_header` when it is configured and present
/// (the one the trusted proxy itself saw), else the socket's peer.
pub fn client_address(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted_header: &str,
) -> Option<IpAddr> {
    if !trusted_header.is_empty() {
        let forwarded = headers
            .get(trusted_header)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.rsplit(',').next())
            .and_then(|last| last.trim().parse().ok());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_refills() {
        let limiter = RateLimiter::new(2, 60);
        let client: IpAddr = [10, 0, 0, 1].into();
        assert!(limiter.take(client).is_ok());
        assert!(limiter.take(client).is_ok());
        let wait = limiter.take(client).unwrap_err();
        assert!(
            wait <= Duration::from_secs(1) && wait > Duration::ZERO,
            "{wait:?}"
        );
        let other: IpAddr = [10, 0, 0, 2].into();
        assert!(limiter.take(other).is_ok(), "clients have separate buckets");
        std::thread::sleep(Duration::from_millis(1100));
        assert!(limiter.take(client).is_ok());
    }

    #[test]
    fn trusted_header_wins_only_when_configured() {
        let peer: IpAddr = [127, 0, 0, 1].into();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7".parse().unwrap(),
        );
        assert_eq!(client_address(Some(peer), &headers, ""), Some(peer));
        assert_eq!(
            client_address(Some(peer), &headers, "x-forwarded-for"),
            Some([198, 51, 100, 7].into())
        );
        let garbage: HeaderMap = [(
            "x-forwarded-for".parse().unwrap(),
            "nonsense".parse().unwrap(),
        )]
        .into_iter()
        .collect();
        assert_eq!(
            client_address(Some(peer), &garbage, "x-forwarded-for"),
            Some(peer)
        );
    }
}
