//! Client addresses: which bucket an address falls in, address ranges (CIDR), and the client IP
//! behind trusted reverse proxies. A leaf module: it depends on nothing else in the crate.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use axum::http::{HeaderMap, HeaderName};

/// The address as the broker reasons about it: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`,
/// what a dual-stack socket reports for an IPv4 client) is the IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The rate-limit bucket of an address: an IPv4 address is its own bucket; an IPv6 address
/// counts as its /64, the smallest block a site is normally given (one host can use any of its
/// 2^64 addresses, so a bucket per address would be no limit at all).
pub fn rate_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & (u128::MAX << 64);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

/// An address range such as `10.0.0.0/8` or `2001:db8::/32`; a bare address is a range of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

/// Why a range could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an IP address or CIDR range (such as 10.0.0.0/8 or 2001:db8::/32)")]
pub struct IpNetError(pub String);

impl IpNet {
    /// The range of `addr`/`prefix`; host bits are cleared. `None` for a prefix longer than the
    /// address.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        let (addr, prefix) = match addr {
            // An IPv4-mapped range is the IPv4 range, as addresses are.
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() && prefix >= 96 => {
                (canonical(addr), prefix - 96)
            }
            _ => (addr, prefix),
        };
        let addr = match addr {
            IpAddr::V4(v4) if prefix <= 32 => {
                IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask_u32(prefix)))
            }
            IpAddr::V6(v6) if prefix <= 128 => {
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask_u128(prefix)))
            }
            _ => return None,
        };
        Some(Self { addr, prefix })
    }

    /// Whether `ip` (IPv4-mapped IPv6 counted as IPv4) is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                u32::from(ip) & mask_u32(self.prefix) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                u128::from(ip) & mask_u128(self.prefix) == u128::from(net)
            }
            _ => false,
        }
    }
}

fn mask_u32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask_u128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl FromStr for IpNet {
    type Err = IpNetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = || IpNetError(s.to_owned());
        let text = s.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| error())?;
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().map_err(|_| error())?
            }
            Some(_) => return Err(error()),
            None if addr.is_ipv4() => 32,
            None => 128,
        };
        Self::new(addr, prefix).ok_or_else(error)
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The client's address. The TCP peer, unless `header` is configured and the peer is one of the
/// `trusted` proxies: then the header's list (`X-Forwarded-For` style, or `Forwarded`'s `for=`)
/// is read from the right, skipping trusted proxies, and the first untrusted address is the
/// client. Entries to its left were written by the client and can be forged. An unreadable
/// entry ends the walk at the last address a trusted hop vouched for.
pub fn client_ip(
    peer: IpAddr,
    headers: &HeaderMap,
    header: Option<&HeaderName>,
    trusted: &[IpNet],
) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    let Some(name) = header else {
        return peer;
    };
    if !is_trusted(peer) {
        return peer;
    }
    let forwarded = name.as_str() == "forwarded";
    let mut entries = Vec::new();
    for value in headers.get_all(name) {
        let Ok(value) = value.to_str() else {
            // Not text: nothing in it can be trusted, stop at the proxy.
            return peer;
        };
        entries.extend(value.split(',').map(|e| {
            if forwarded {
                forwarded_for(e)
            } else {
                parse_node(e)
            }
        }));
    }
    let mut client = peer;
    for entry in entries.into_iter().rev() {
        match entry {
            Some(ip) => {
                client = canonical(ip);
                if !is_trusted(client) {
                    return client;
                }
            }
            None => return client,
        }
    }
    client
}

/// The `for=` node of one `Forwarded` element (RFC 7239), if it is an address.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then(|| parse_node(value))?
    })
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]:4711`, possibly quoted.
fn parse_node(entry: &str) -> Option<IpAddr> {
    let text = entry.trim().trim_matches('"');
    if let Some(rest) = text.strip_prefix('[') {
        let (addr, _port) = rest.split_once(']')?;
        return addr.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    let (addr, port) = text.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    addr.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn rate_keys_group_an_ipv6_64_and_unmap_ipv4() {
        assert_eq!(rate_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            rate_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            ip("2001:db8:1:2::")
        );
        assert_ne!(rate_key(ip("2001:db8:1:3::1")), ip("2001:db8:1:2::"));
        assert_eq!(rate_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(rate_key(ip("192.0.2.7")), ip("192.0.2.7"));
        assert_ne!(rate_key(ip("192.0.2.7")), rate_key(ip("192.0.2.8")));
    }

    #[test]
    fn ranges_parse_and_match() {
        let net: IpNet = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains(ip("10.200.1.1")));
        assert!(net.contains(ip("::ffff:10.1.1.1")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(!net.contains(ip("::1")));
        let host: IpNet = "192.0.2.5".parse().unwrap();
        assert!(host.contains(ip("192.0.2.5")));
        assert!(!host.contains(ip("192.0.2.6")));
        let v6: IpNet = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        let all: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.9")));
        let mapped: IpNet = "::ffff:10.0.0.0/104".parse().unwrap();
        assert_eq!(mapped, "10.0.0.0/8".parse().unwrap());
        assert_eq!(net.to_string(), "10.0.0.0/8");
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "nope",
            "::/129",
        ] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_peer() {
        let xff = HeaderName::from_static("x-forwarded-for");
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.insert(xff.clone(), HeaderValue::from_static("203.0.113.7"));
        // Untrusted peer: the header is ignored.
        assert_eq!(
            client_ip(ip("198.51.100.1"), &h, Some(&xff), &trusted),
            ip("198.51.100.1")
        );
        // No header configured: the peer.
        assert_eq!(
            client_ip(ip("10.0.0.1"), &h, None, &trusted),
            ip("10.0.0.1")
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), &h, Some(&xff), &trusted),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.1"), &h, Some(&xff), &trusted),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn the_rightmost_untrusted_entry_is_the_client() {
        let xff = HeaderName::from_static("x-forwarded-for");
        let trusted: Vec<IpNet> = vec![
            "10.0.0.0/8".parse().unwrap(),
            "2001:db8:ffff::/48".parse().unwrap(),
        ];
        let peer = ip("10.0.0.1");
        let at = |value: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(xff.clone(), HeaderValue::from_static(value));
            client_ip(peer, &h, Some(&xff), &trusted)
        };
        // The forged left part is skipped; a second trusted hop too.
        assert_eq!(at("1.1.1.1, 203.0.113.7, 10.9.9.9"), ip("203.0.113.7"));
        assert_eq!(
            at("203.0.113.7:5555, [2001:db8:ffff::2]:443"),
            ip("203.0.113.7")
        );
        assert_eq!(at("[2001:db8:1::9]"), ip("2001:db8:1::9"));
        // Every hop trusted: the left-most.
        assert_eq!(at("10.1.1.1, 10.2.2.2"), ip("10.1.1.1"));
        // Garbage right of any address: stop at what the proxy vouched for.
        assert_eq!(at("203.0.113.7, garbage"), peer);
        assert_eq!(at("garbage, 10.3.3.3"), ip("10.3.3.3"));
        // Several header lines form one list.
        let mut h = HeaderMap::new();
        h.append(xff.clone(), HeaderValue::from_static("198.51.100.1"));
        h.append(xff.clone(), HeaderValue::from_static("203.0.113.8"));
        assert_eq!(client_ip(peer, &h, Some(&xff), &trusted), ip("203.0.113.8"));
    }

    #[test]
    fn forwarded_and_real_ip_headers() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer = ip("10.0.0.1");
        let fwd = HeaderName::from_static("forwarded");
        let mut h = HeaderMap::new();
        h.insert(
            fwd.clone(),
            HeaderValue::from_static(
                "for=192.0.2.60;proto=http, for=\"[2001:db8:cafe::17]:4711\";by=10.0.0.1",
            ),
        );
        assert_eq!(
            client_ip(peer, &h, Some(&fwd), &trusted),
            ip("2001:db8:cafe::17")
        );
        let real = HeaderName::from_static("x-real-ip");
        h.insert(real.clone(), HeaderValue::from_static("2001:db8::1"));
        assert_eq!(
            client_ip(peer, &h, Some(&real), &trusted),
            ip("2001:db8::1")
        );
    }
}
