//! Configuration: built in code ([`BrokerConfig::new`]) or read from a TOML file and
//! `AGENT_SHELL_BROKER_*` environment variables ([`BrokerConfig::load`]); the environment wins.
//!
//! Secrets never come from the command line or the file itself: a client secret is read from a
//! file (`secret_file`) or an environment variable (`secret_env`), and sealing keys from files.
//! Errors name the key and the variable, never the value.

mod file;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use axum::http::HeaderName;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::net::IpNet;
use crate::seal::{KeyError, SealingKey, SealingKeys};

/// Prefix of every environment variable the broker reads.
pub const ENV_PREFIX: &str = "AGENT_SHELL_BROKER_";
/// Where a container listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8080";
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024;
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);
/// Retry-After sent when Genesys Cloud could not be reached or did not answer in time.
pub const DEFAULT_UPSTREAM_RETRY_AFTER: Duration = Duration::from_secs(5);
pub const DEFAULT_RATE_PER_SECOND: u32 = 10;
pub const DEFAULT_RATE_BURST: u32 = 50;
/// Requests forwarded upstream per minute, per client and grant type (file/environment default).
pub const DEFAULT_UPSTREAM_BUDGET_PER_MINUTE: u32 = 600;
/// Requests forwarded upstream at once, per client and grant type, after a quiet spell.
pub const DEFAULT_UPSTREAM_BUDGET_BURST: u32 = 200;
/// Connections served at once; more are closed as soon as they are accepted.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// A connection with no request in flight for this long is closed (HTTP/1 and HTTP/2).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Streams (requests) one HTTP/2 connection may have open at once.
pub const DEFAULT_H2_MAX_STREAMS: u32 = 100;
/// How often an HTTP/2 connection is pinged; one whose peer stops answering is closed.
pub const DEFAULT_H2_KEEPALIVE: Duration = Duration::from_secs(20);

const BODY_LIMIT_RANGE: std::ops::RangeInclusive<usize> = 1024..=1024 * 1024;
const TIMEOUT_RANGE_SECS: std::ops::RangeInclusive<u64> = 1..=120;
const RETRY_AFTER_RANGE_SECS: std::ops::RangeInclusive<u64> = 1..=3600;
const MAX_CONNECTIONS_RANGE: std::ops::RangeInclusive<usize> = 1..=1_000_000;
const IDLE_TIMEOUT_RANGE_SECS: std::ops::RangeInclusive<u64> = 1..=3600;
const H2_MAX_STREAMS_RANGE: std::ops::RangeInclusive<u32> = 1..=1000;

/// One OAuth client the broker serves. `Debug` never shows the secret.
#[derive(Clone)]
pub struct ClientConfig {
    pub client_id: String,
    pub secret: SecretString,
    /// Redirect URIs the desktop may use in a code exchange, compared byte for byte.
    pub redirect_uris: Vec<String>,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("client_id", &self.client_id)
            .field("secret", &oauth_wire::REDACTED)
            .field("redirect_uris", &self.redirect_uris)
            .finish()
    }
}

impl ClientConfig {
    pub fn new(
        client_id: impl Into<String>,
        secret: impl Into<String>,
        redirect_uris: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            secret: SecretString::from(secret.into()),
            redirect_uris: redirect_uris.into_iter().map(Into::into).collect(),
        }
    }
}

/// Token-bucket limit per client IP address, kept in each replica's memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per second a client IP may sustain.
    pub per_second: NonZeroU32,
    /// Requests a client IP may send at once after being idle.
    pub burst: NonZeroU32,
    /// Take the client IP from this header (set by a reverse proxy you trust) instead of the
    /// TCP peer, but only when the TCP peer is in `trusted_proxies`. In an `X-Forwarded-For`
    /// style list the right-most address that is not a trusted proxy is the client.
    pub client_ip_header: Option<HeaderName>,
    /// The proxies whose `client_ip_header` counts (required when the header is set).
    pub trusted_proxies: Vec<IpNet>,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_second: NonZeroU32::new(DEFAULT_RATE_PER_SECOND).unwrap_or(NonZeroU32::MIN),
            burst: NonZeroU32::new(DEFAULT_RATE_BURST).unwrap_or(NonZeroU32::MIN),
            client_ip_header: None,
            trusted_proxies: Vec::new(),
        }
    }
}

/// How many requests each client may have forwarded to Genesys Cloud: a token bucket per
/// `client_id` and grant type, in each replica's memory, whatever address they come from. It
/// bounds what junk (unauthenticated code grants) can spend of the org's upstream quota, and
/// junk code grants cannot use up the refreshes' budget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamBudget {
    pub per_minute: NonZeroU32,
    pub burst: NonZeroU32,
}

impl Default for UpstreamBudget {
    fn default() -> Self {
        Self {
            per_minute: NonZeroU32::new(DEFAULT_UPSTREAM_BUDGET_PER_MINUTE)
                .unwrap_or(NonZeroU32::MIN),
            burst: NonZeroU32::new(DEFAULT_UPSTREAM_BUDGET_BURST).unwrap_or(NonZeroU32::MIN),
        }
    }
}

/// Limits on connections (a change needs a restart).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections served at once; one more is closed right after it is accepted.
    pub max_connections: usize,
    /// A connection without a request in flight for this long is closed (HTTP/2: GOAWAY).
    pub idle_timeout: Duration,
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` of an HTTP/2 connection.
    pub h2_max_concurrent_streams: u32,
    /// HTTP/2 keep-alive ping interval (`None`: no pings).
    pub h2_keepalive_interval: Option<Duration>,
    /// A ping not answered within this closes the connection.
    pub h2_keepalive_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            h2_max_concurrent_streams: DEFAULT_H2_MAX_STREAMS,
            h2_keepalive_interval: Some(DEFAULT_H2_KEEPALIVE),
            h2_keepalive_timeout: DEFAULT_H2_KEEPALIVE,
        }
    }
}

/// PEM files for serving HTTPS directly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// Everything [`crate::start`] needs.
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    pub listen: SocketAddr,
    /// Genesys Cloud's token endpoint, e.g. `https://login.mypurecloud.ie/oauth/token`.
    pub upstream_token_url: Url,
    pub clients: Vec<ClientConfig>,
    pub keys: SealingKeys,
    /// Largest request body accepted (413 above it).
    pub body_limit: usize,
    /// Whole-request limit for the upstream call (connect, send, answer).
    pub upstream_timeout: Duration,
    /// Retry-After on a 503 caused by an unreachable or slow upstream.
    pub upstream_retry_after: Duration,
    /// `None` turns rate limiting off.
    pub rate_limit: Option<RateLimit>,
    /// `None` forwards every valid request upstream.
    pub upstream_budget: Option<UpstreamBudget>,
    pub connections: ConnectionLimits,
    /// `None` serves plain HTTP (behind a TLS-terminating reverse proxy).
    pub tls: Option<TlsFiles>,
}

impl BrokerConfig {
    /// A configuration with the defaults, listening on `127.0.0.1` on a port the OS picks
    /// (what tests and in-process use want), no client yet, rate limiting and the upstream
    /// budget off, the default connection limits.
    pub fn new(upstream_token_url: &str, current_key: SealingKey) -> Result<Self, ConfigError> {
        let upstream_token_url = parse_upstream(upstream_token_url)?;
        Ok(Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            upstream_token_url,
            clients: Vec::new(),
            keys: SealingKeys::new(current_key),
            body_limit: DEFAULT_BODY_LIMIT,
            upstream_timeout: DEFAULT_UPSTREAM_TIMEOUT,
            upstream_retry_after: DEFAULT_UPSTREAM_RETRY_AFTER,
            rate_limit: None,
            upstream_budget: None,
            connections: ConnectionLimits::default(),
            tls: None,
        })
    }

    pub fn with_client(mut self, client: ClientConfig) -> Self {
        self.clients.push(client);
        self
    }

    pub fn with_previous_key(mut self, previous: SealingKey) -> Self {
        self.keys.previous = Some(previous);
        self
    }

    /// Checks what [`crate::start`] and a reload rely on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_upstream(&self.upstream_token_url)?;
        if self.clients.is_empty() {
            return Err(ConfigError::Invalid {
                key: "clients".into(),
                reason: format!(
                    "no OAuth client is configured (add a [[clients]] table or set {ENV_PREFIX}CLIENT_ID)"
                ),
            });
        }
        let mut seen = HashSet::new();
        for client in &self.clients {
            validate_client(client)?;
            if !seen.insert(client.client_id.as_str()) {
                return Err(ConfigError::Invalid {
                    key: "clients".into(),
                    reason: format!("client '{}' is configured twice", client.client_id),
                });
            }
        }
        if self
            .keys
            .previous
            .as_ref()
            .is_some_and(|p| p.id() == self.keys.current.id())
        {
            return Err(ConfigError::Invalid {
                key: "keys.previous_file".into(),
                reason: "the previous key is the current key".into(),
            });
        }
        if !BODY_LIMIT_RANGE.contains(&self.body_limit) {
            return Err(out_of_range("body_limit_bytes", &BODY_LIMIT_RANGE));
        }
        // In code a sub-second timeout is fine (tests); the file and environment take seconds.
        if self.upstream_timeout.is_zero()
            || self.upstream_timeout > Duration::from_secs(*TIMEOUT_RANGE_SECS.end())
        {
            return Err(out_of_range("upstream_timeout_secs", &TIMEOUT_RANGE_SECS));
        }
        if !RETRY_AFTER_RANGE_SECS.contains(&self.upstream_retry_after.as_secs()) {
            return Err(out_of_range(
                "upstream_retry_after_secs",
                &RETRY_AFTER_RANGE_SECS,
            ));
        }
        if let Some(rate) = &self.rate_limit {
            if rate.client_ip_header.is_some() && rate.trusted_proxies.is_empty() {
                return Err(ConfigError::Invalid {
                    key: "rate_limit.trusted_proxies".into(),
                    reason: format!(
                        "client_ip_header is honoured only from trusted proxies: list the addresses or ranges of the proxies that set it, e.g. trusted_proxies = [\"10.0.0.0/8\"] ({ENV_PREFIX}RATE_LIMIT_TRUSTED_PROXIES=10.0.0.0/8)"
                    ),
                });
            }
        }
        self.connections.validate()
    }
}

impl ConnectionLimits {
    fn validate(&self) -> Result<(), ConfigError> {
        if !MAX_CONNECTIONS_RANGE.contains(&self.max_connections) {
            return Err(out_of_range(
                "connections.max_connections",
                &MAX_CONNECTIONS_RANGE,
            ));
        }
        // In code sub-second values are fine (tests); the file and environment take seconds.
        if self.idle_timeout.is_zero()
            || self.idle_timeout > Duration::from_secs(*IDLE_TIMEOUT_RANGE_SECS.end())
        {
            return Err(out_of_range(
                "connections.idle_timeout_secs",
                &IDLE_TIMEOUT_RANGE_SECS,
            ));
        }
        if !H2_MAX_STREAMS_RANGE.contains(&self.h2_max_concurrent_streams) {
            return Err(out_of_range(
                "connections.h2_max_streams",
                &H2_MAX_STREAMS_RANGE,
            ));
        }
        if self.h2_keepalive_interval.is_some_and(|d| d.is_zero())
            || self.h2_keepalive_timeout.is_zero()
        {
            return Err(ConfigError::Invalid {
                key: "connections.h2_keepalive_secs".into(),
                reason: "must be more than 0 (0 in the file turns pings off)".into(),
            });
        }
        Ok(())
    }
}

fn out_of_range<T: fmt::Display>(key: &str, range: &std::ops::RangeInclusive<T>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: format!("must be between {} and {}", range.start(), range.end()),
    }
}

fn validate_client(client: &ClientConfig) -> Result<(), ConfigError> {
    let key = || format!("clients.{}", client.client_id);
    let id = &client.client_id;
    if id.is_empty() || id.len() > 256 || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ConfigError::Invalid {
            key: "clients.client_id".into(),
            reason: "a client id must be 1 to 256 characters without whitespace".into(),
        });
    }
    let secret = client.secret.expose_secret();
    if secret.is_empty() || secret.chars().any(char::is_control) {
        return Err(ConfigError::Invalid {
            key: key(),
            reason: "the client secret is empty or contains control characters".into(),
        });
    }
    if client.redirect_uris.is_empty() {
        return Err(ConfigError::Invalid {
            key: key(),
            reason: "at least one redirect URI is required".into(),
        });
    }
    for uri in &client.redirect_uris {
        // RFC 6749 3.1.2: an absolute URI without a fragment.
        let ok = Url::parse(uri).is_ok_and(|u| u.fragment().is_none());
        if !ok {
            return Err(ConfigError::Invalid {
                key: key(),
                reason: format!("redirect URI '{uri}' is not an absolute URI without a fragment"),
            });
        }
    }
    Ok(())
}

fn parse_upstream(raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|e| ConfigError::Invalid {
        key: "upstream_token_url".into(),
        reason: format!("not an absolute URL ({e})"),
    })?;
    check_upstream(&url)?;
    Ok(url)
}

/// HTTPS only, except to a loopback host (the emulator, a local sidecar).
fn check_upstream(url: &Url) -> Result<(), ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        key: "upstream_token_url".into(),
        reason: reason.into(),
    };
    oauth_wire::check_transport(url).map_err(|e| invalid(&e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(invalid("must not carry credentials or a fragment"));
    }
    Ok(())
}

/// Why the configuration could not be loaded. Never carries a secret value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path}, line {line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{key} is required (or set {env})")]
    Missing { key: &'static str, env: String },
    #[error("{key}: {reason}")]
    Invalid { key: String, reason: String },
    #[error("{key} ({path}): {source}")]
    Key {
        key: &'static str,
        path: PathBuf,
        #[source]
        source: KeyError,
    },
}

/// The address the broker's own URL should name: a wildcard listen address is reached on
/// loopback.
pub(crate) fn connect_ip(listen: IpAddr) -> IpAddr {
    match listen {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::from([127, 0, 0, 1]),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    }
}
