//! Which client a request came from: the socket's peer, or, when that peer is
//! a reverse proxy the operator named in `[server] trusted_proxies`, the
//! address the proxy saw (`Forwarded: for=…`, RFC 7239, else `X-Forwarded-For`). Without the setting the header
//! is ignored: anyone can write it, so believing it would let one client
//! pose as many and slip past per-address limits.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use crate::state::SharedState;

/// Addresses and networks (`10.0.0.0/8`, `::1`) whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TryFrom<Vec<String>> for TrustedProxies {
    type Error = String;

    fn try_from(entries: Vec<String>) -> Result<Self, String> {
        entries.iter().map(|e| network(e)).collect::<Result<_, _>>().map(TrustedProxies)
    }
}

impl From<TrustedProxies> for Vec<String> {
    fn from(t: TrustedProxies) -> Self {
        t.0.iter().map(|(ip, bits)| format!("{ip}/{bits}")).collect()
    }
}

fn network(entry: &str) -> Result<(IpAddr, u8), String> {
    let bad = || format!("trusted_proxies: {entry:?} is not an address or network such as 10.0.0.0/8 or ::1");
    let (addr, bits) = entry.trim().split_once('/').map_or((entry.trim(), None), |(a, b)| (a, Some(b)));
    let ip: IpAddr = addr.parse().map_err(|_| bad())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        None => max,
        Some(b) => b.parse::<u8>().ok().filter(|b| *b <= max).ok_or_else(bad)?,
    };
    Ok((ip, bits))
}

impl TrustedProxies {
    fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|&(net, bits)| match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix(u32::from(n).into(), u32::from(a).into(), 32, bits),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix(u128::from(n), u128::from(a), 128, bits),
            _ => false,
        })
    }

    /// The client behind `peer`: walking `X-Forwarded-For` from the right
    /// (the nearest hop first), the first address that is not a trusted proxy.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let values = |name: &str| headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
        let forwarded = values("forwarded");
        let hops: Vec<Option<IpAddr>> = if forwarded.is_empty() {
            values("x-forwarded-for").into_iter().flat_map(|v| v.split(',')).map(address).collect()
        } else {
            forwarded.into_iter().flat_map(|v| v.split(',')).map(forwarded_for).collect()
        };
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            // A hop that is not an address was written by someone we don't
            // trust: stop at the last address we could vouch for.
            let Some(hop) = hop else { break };
            client = hop.to_canonical();
            if !self.contains(hop) {
                break;
            }
        }
        client
    }
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`
/// or `[2001:db8::1]:4711`, quoted or not.
fn address(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    hop.parse::<SocketAddr>().ok().map(|s| s.ip())
}

/// The `for=` of one `Forwarded` element (`for=192.0.2.60;proto=http`).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let value = element.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        key.trim().eq_ignore_ascii_case("for").then_some(value)
    })?;
    address(value)
}

fn prefix(net: u128, addr: u128, width: u32, bits: u8) -> bool {
    let shift = width - u32::from(bits);
    shift >= width || (net >> shift) == (addr >> shift)
}

/// The request's client address; None for a request that came from inside
/// the process (tests) rather than a socket.
pub struct ClientAddress(pub Option<IpAddr>);

impl FromRequestParts<SharedState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        Ok(ClientAddress(peer.map(|p| state.settings.trusted_proxies.client(p, &parts.headers))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::try_from(list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", value.parse().unwrap());
        h
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_proxy() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("203.0.113.9"), &forwarded("1.2.3.4")), ip("203.0.113.9"));
        let lan = proxies(&["10.0.0.0/8", "::1"]);
        assert_eq!(lan.client(ip("10.1.2.3"), &forwarded("198.51.100.7")), ip("198.51.100.7"));
        // A client's own forged entry sits left of what the proxy appended.
        assert_eq!(lan.client(ip("10.1.2.3"), &forwarded("6.6.6.6, 198.51.100.7")), ip("198.51.100.7"));
        assert_eq!(lan.client(ip("10.1.2.3"), &forwarded("198.51.100.7, 10.9.9.9")), ip("198.51.100.7"));
        assert_eq!(lan.client(ip("::1"), &forwarded("garbage, 10.0.0.5")), ip("10.0.0.5"));
        assert_eq!(lan.client(ip("::ffff:10.0.0.1"), &forwarded("198.51.100.7")), ip("198.51.100.7"));
        assert_eq!(lan.client(ip("198.51.100.8"), &forwarded("1.1.1.1")), ip("198.51.100.8"));
        assert_eq!(lan.client(ip("10.1.2.3"), &HeaderMap::new()), ip("10.1.2.3"));
    }

    #[test]
    fn ports_brackets_and_the_standard_forwarded_header() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let lan = proxies(&["10.0.0.0/8"]);
        assert_eq!(lan.client(ip("10.0.0.1"), &forwarded("198.51.100.7:4711")), ip("198.51.100.7"));
        assert_eq!(lan.client(ip("10.0.0.1"), &forwarded("[2001:db8::1]:443")), ip("2001:db8::1"));
        let mut h = HeaderMap::new();
        h.insert("forwarded", r#"for=6.6.6.6, for="[2001:db8::7]:4711";proto=https, For=10.0.0.9"#.parse().unwrap());
        // X-Forwarded-For is not read when the standard header is there.
        h.insert("x-forwarded-for", "1.1.1.1".parse().unwrap());
        assert_eq!(lan.client(ip("10.0.0.1"), &h), ip("2001:db8::7"));
        let mut h = HeaderMap::new();
        h.insert("forwarded", "for=unknown".parse().unwrap());
        assert_eq!(lan.client(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn a_bad_entry_is_refused_at_start() {
        for bad in ["10.0.0.0/33", "localhost", "::1/129", ""] {
            assert!(TrustedProxies::try_from(vec![bad.to_string()]).is_err(), "{bad}");
        }
        assert_eq!(Vec::<String>::from(proxies(&["10.0.0.0/8", "::1"])), ["10.0.0.0/8", "::1/128"]);
    }
}
