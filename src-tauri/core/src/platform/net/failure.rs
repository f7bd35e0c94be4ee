//! Why a request failed, in an admin's words, with a fix that fits the cause.

use url::Url;

use super::tls::Rejection;
use super::{Http, SeenChain};

/// The whole error chain of a request failure, without the request's URL (query strings must
/// not reach logs). `io::Error` hides the error it wraps from `source()`: it is unwrapped here.
pub fn error_chain(error: &reqwest::Error) -> String {
    let mut chain = error.without_url_ref();
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(inner) = next {
        let text = inner.to_string();
        if !chain.ends_with(&text) {
            chain.push_str(": ");
            chain.push_str(&text);
        }
        next = match inner.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|e| e as &(dyn std::error::Error + 'static))
                .filter(|e| e.to_string() != text)
                .or_else(|| inner.source()),
            None => inner.source(),
        };
    }
    chain
}

trait WithoutUrl {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref(&self) -> String {
        let text = self.to_string();
        match self.url() {
            Some(url) => text
                .replace(&format!(" for url ({url})"), "")
                .replace(&format!(" ({url})"), "")
                .replace(url.as_str(), "(url)"),
            None => text,
        }
    }
}

/// What kind of failure it was: each has its own fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    Timeout,
    Dns,
    Refused,
    /// The proxy answered CONNECT with 407.
    ProxyAuth,
    /// The proxy itself could not be reached or refused the tunnel.
    Proxy,
    /// The OS trust store rejected the chain the host (or a proxy in between) sent.
    Certificate(SeenChain),
    /// TLS failed otherwise (handshake, protocol).
    Tls,
    Other,
}

/// A request failure explained: what happened, through which proxy, and the fix.
#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: FailureKind,
    /// e.g. "TLS failed: certificate chain seen (...): ...; via proxy http://***@p:3128".
    pub evidence: String,
    pub fix: String,
}

impl Http {
    /// Explains a failed request to `url` made with this client.
    pub fn explain(&self, url: &Url, error: &reqwest::Error) -> Failure {
        let chain = error_chain(error);
        let lower = chain.to_ascii_lowercase();
        let host = url.host_str().unwrap_or_default().to_string();
        let port = url.port_or_known_default().unwrap_or(443);
        let via = self.proxy_for(url);
        let seen = self.rejected_chain(&host);
        let kind = if lower.contains("proxy authorization required") || lower.contains(" 407") {
            FailureKind::ProxyAuth
        } else if let Some(seen) = seen.filter(|_| lower.contains("certificate")) {
            FailureKind::Certificate(seen)
        } else if error.is_timeout() {
            FailureKind::Timeout
        } else if lower.contains("tunnel") || lower.contains("proxy") {
            FailureKind::Proxy
        } else if lower.contains("dns") || lower.contains("lookup") || lower.contains("resolve") {
            FailureKind::Dns
        } else if lower.contains("certificate")
            || lower.contains("tls")
            || lower.contains("handshake")
        {
            FailureKind::Tls
        } else if lower.contains("refused") {
            FailureKind::Refused
        } else {
            FailureKind::Other
        };
        let (what, fix) = match &kind {
            FailureKind::Timeout => ("timed out".to_string(), format!("allow {host}:{port} through the proxy and firewall for this desktop")),
            FailureKind::Dns => ("does not resolve (DNS)".to_string(), format!("check that {host} resolves on this desktop (DNS, or the proxy when one is set)")),
            FailureKind::Refused => ("refused the connection".to_string(), format!("allow {host}:{port} through the firewall, or set the proxy this desktop must use ([network] proxy)")),
            FailureKind::ProxyAuth => ("the proxy wants credentials it was not given or refused (HTTP 407)".to_string(), "give Agent Shell's proxy credentials in [network] proxy (http://user:password@host:port, machine policy), or let the proxy pass Agent Shell without authentication".to_string()),
            FailureKind::Proxy => ("the proxy could not be used".to_string(), "check the proxy address ([network] proxy or the system's proxy settings) and that it allows CONNECT to port 443".to_string()),
            FailureKind::Certificate(seen) => (format!("TLS failed: {}", seen.describe()), certificate_fix(&host, seen)),
            FailureKind::Tls => ("TLS failed".to_string(), format!("the TLS handshake with {host} failed: check what sits between this desktop and {host} (proxy, firewall)")),
            FailureKind::Other => ("cannot be reached".to_string(), format!("allow {host}:{port} through DNS, proxy and firewall for this desktop")),
        };
        Failure {
            kind,
            evidence: format!("{what}; via {via}; {chain}"),
            fix,
        }
    }
}

fn certificate_fix(host: &str, seen: &SeenChain) -> String {
    match seen.reason {
        Rejection::UnknownIssuer => format!(
            "this machine does not trust \"{}\", the root the chain for {host} needs: if it is your proxy's TLS-inspection root certificate, install it in the OS trust store (docs/deployment.md, Proxies and TLS inspection); if not, something between this desktop and {host} is intercepting TLS",
            seen.top_issuer
        ),
        Rejection::Expired => format!(
            "the certificate for {host} is expired or not yet valid: check this desktop's clock, then the TLS-inspecting proxy's certificates"
        ),
        Rejection::WrongName => format!(
            "the certificate presented for {host} is for another name: a proxy or captive portal is answering for {host}"
        ),
        Rejection::Other(_) => format!(
            "the certificate chain for {host} was refused: check what sits between this desktop and {host}"
        ),
    }
}
