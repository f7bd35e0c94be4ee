//! Where OAuth traffic may go: https anywhere, plain http only to this machine (an emulator or
//! a local sidecar), RFC 6749 3.1 and 3.2 ("MUST use TLS") with RFC 8252's loopback exception.

use url::Url;

/// Why a URL may not carry OAuth traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("the URL has no host")]
    NoHost,
    #[error("must be https:// (plain http only to a loopback host)")]
    Insecure,
}

/// `localhost` (any case), an IPv4 address in 127.0.0.0/8 or `::1` (bracketed or not).
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `https://` to any host, or `http://` to a loopback host ([`is_loopback_host`]).
pub fn check_transport(url: &Url) -> Result<(), TransportError> {
    let host = url.host_str().ok_or(TransportError::NoHost)?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_host(host) => Ok(()),
        _ => Err(TransportError::Insecure),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn check(url: &str) -> Result<(), TransportError> {
        check_transport(&Url::parse(url).unwrap())
    }

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "LocalHost",
            "127.0.0.1",
            "127.0.0.2",
            "127.255.255.254",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "localhost.",
            "localhost.evil.example",
            "evil.localhost",
            "128.0.0.1",
            "10.0.0.5",
            "0.0.0.0",
            "::",
            "[::2]",
            "::ffff:127.0.0.1",
            "[::1",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn https_anywhere_http_to_loopback_only() {
        for ok in [
            "https://login.mypurecloud.ie/oauth/token",
            "https://10.0.0.5/token",
            "http://127.0.0.1:9000/oauth/token",
            "http://127.0.0.2/token",
            "http://[::1]:8443/token",
            "http://localhost:9000/token",
            "http://LOCALHOST/token",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://login.mypurecloud.ie/oauth/token",
            "http://10.0.0.5/token",
            "http://localhost.evil.example/token",
            "http://[::ffff:127.0.0.1]/token",
            "ftp://localhost/token",
            "ws://127.0.0.1/token",
        ] {
            assert_eq!(check(bad), Err(TransportError::Insecure), "{bad}");
        }
        assert_eq!(check("file:///etc/passwd"), Err(TransportError::NoHost));
        assert_eq!(check("mailto:a@b.example"), Err(TransportError::NoHost));
    }
}
