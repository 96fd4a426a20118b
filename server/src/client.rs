//! Who the client is: its address, taken from the socket unless a trusted proxy header is
//! configured. Below both the web side (`security`, `routes`) and `sessions`, so neither has to
//! reach into the other for it.

use std::net::IpAddr;

use axum::http::HeaderMap;

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
