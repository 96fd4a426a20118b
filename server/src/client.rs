//! Who the client is: its address, taken from the socket unless a trusted proxy header is
//! configured. Below both the web side (`security`, `routes`) and `sessions`, so neither has to
//! reach into the other for it.

use std::net::IpAddr;

use axum::http::HeaderMap;

/// Which peers may name the client in a header: the header, and the proxies whose word on it
/// counts. A peer that is not one of them is the client itself, whatever headers it sends.
#[derive(Debug, Clone, Default)]
pub struct ProxyPolicy {
    /// The header, lower-cased; empty when no proxy is trusted.
    header: String,
    /// The trusted proxies.
    proxies: Vec<ipnet::IpNet>,
}

impl ProxyPolicy {
    /// Trusts `header` from peers within `proxies` (addresses or CIDRs, already validated;
    /// anything unreadable is skipped).
    pub fn new(header: &str, proxies: &[String]) -> Self {
        Self {
            header: header.trim().to_ascii_lowercase(),
            proxies: proxies.iter().filter_map(|p| parse_net(p)).collect(),
        }
    }

    /// Whether `peer` is a trusted proxy (so its connections are many visitors', not one).
    pub fn trusts(&self, peer: IpAddr) -> bool {
        !self.header.is_empty() && self.proxies.iter().any(|net| net.contains(&peer))
    }
}

/// Reads `1.2.3.4`, `::1` or a CIDR like `10.0.0.0/8`.
pub fn parse_net(text: &str) -> Option<ipnet::IpNet> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(ipnet::IpNet::from))
}

/// The client's address: the last entry of the policy's header when the peer is a trusted
/// proxy and the header is present (the address that proxy itself saw), else the peer.
pub fn client_address(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    policy: &ProxyPolicy,
) -> Option<IpAddr> {
    if peer.is_some_and(|peer| policy.trusts(peer)) {
        // The last entry of the last header line: the one the trusted proxy added itself
        // (what a client sent comes before it, on the same line or an earlier one).
        let forwarded = headers
            .get_all(policy.header.as_str())
            .iter()
            .next_back()
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
    fn trusted_header_wins_only_when_configured() {
        let peer: IpAddr = [127, 0, 0, 1].into();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7".parse().unwrap(),
        );
        let loopback = ["127.0.0.1/8".to_owned()];
        let none = ProxyPolicy::new("", &loopback);
        let trusted = ProxyPolicy::new("x-forwarded-for", &loopback);
        assert_eq!(client_address(Some(peer), &headers, &none), Some(peer));
        assert_eq!(
            client_address(Some(peer), &headers, &trusted),
            Some([198, 51, 100, 7].into())
        );
        // A client's own header line comes first; the proxy's line, last, counts.
        let mut two_lines = HeaderMap::new();
        two_lines.append("x-forwarded-for", "6.6.6.6".parse().unwrap());
        two_lines.append("x-forwarded-for", "198.51.100.8".parse().unwrap());
        assert_eq!(
            client_address(Some(peer), &two_lines, &trusted),
            Some([198, 51, 100, 8].into())
        );
        // Forged by a peer that is not a trusted proxy: ignored.
        let stranger: IpAddr = [203, 0, 113, 50].into();
        assert_eq!(
            client_address(Some(stranger), &headers, &trusted),
            Some(stranger)
        );
        let garbage: HeaderMap = [(
            "x-forwarded-for".parse().unwrap(),
            "nonsense".parse().unwrap(),
        )]
        .into_iter()
        .collect();
        assert_eq!(client_address(Some(peer), &garbage, &trusted), Some(peer));
    }
}
