//! Configuration: built in code ([`BrokerConfig::new`]) or read from a TOML file and
//! `AGENT_SHELL_BROKER_*` environment variables ([`BrokerConfig::load`]); the environment wins.
//!
//! Secrets never come from the command line or the file itself: a client secret is read from a
//! file (`secret_file`) or an environment variable (`secret_env`), and sealing keys from files.
//! Errors name the key and the variable, never the value.

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::HeaderName;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

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

const BODY_LIMIT_RANGE: std::ops::RangeInclusive<usize> = 1024..=1024 * 1024;
const TIMEOUT_RANGE_SECS: std::ops::RangeInclusive<u64> = 1..=120;
const RETRY_AFTER_RANGE_SECS: std::ops::RangeInclusive<u64> = 1..=3600;

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
            .field("secret", &"[redacted]")
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
    /// TCP peer. For `X-Forwarded-For` the right-most address is used: the one your proxy added.
    pub client_ip_header: Option<HeaderName>,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_second: NonZeroU32::new(DEFAULT_RATE_PER_SECOND).unwrap_or(NonZeroU32::MIN),
            burst: NonZeroU32::new(DEFAULT_RATE_BURST).unwrap_or(NonZeroU32::MIN),
            client_ip_header: None,
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
    /// `None` serves plain HTTP (behind a TLS-terminating reverse proxy).
    pub tls: Option<TlsFiles>,
}

impl BrokerConfig {
    /// A configuration with the defaults, listening on `127.0.0.1` on a port the OS picks
    /// (what tests and in-process use want), no client yet and rate limiting off.
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

    /// Reads the TOML file (if any) and the `AGENT_SHELL_BROKER_*` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with_env(file, |name| std::env::var(name).ok())
    }

    /// [`BrokerConfig::load`] with the environment given as a lookup function (for tests).
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        // An empty variable counts as unset, as in most container tooling.
        let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let (mut raw, base) = match file {
            Some(path) => (read_file(path)?, path.parent().map(Path::to_path_buf)),
            None => (RawConfig::default(), None),
        };
        raw.apply_env(&env)?;
        raw.resolve(base.as_deref(), &env)
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
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => return Err(invalid("the URL has no host")),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(invalid(
                "must be https:// (plain http only to a loopback host)",
            ))
        }
    }
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

// ----- the file and environment format -----

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<String>,
    upstream_token_url: Option<String>,
    upstream_timeout_secs: Option<u64>,
    upstream_retry_after_secs: Option<u64>,
    body_limit_bytes: Option<usize>,
    #[serde(default)]
    keys: RawKeys,
    tls: Option<RawTls>,
    #[serde(default)]
    rate_limit: RawRateLimit,
    #[serde(default)]
    clients: Vec<RawClient>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeys {
    current_file: Option<PathBuf>,
    previous_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    per_second: Option<u32>,
    burst: Option<u32>,
    client_ip_header: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    client_id: String,
    secret_file: Option<PathBuf>,
    secret_env: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
}

fn read_file(path: &Path) -> Result<RawConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| {
        // The message and line only: toml's own Display quotes the offending line, which
        // could be a secret someone pasted into the wrong key.
        let line = e.span().map_or(0, |span| {
            let before = text.get(..span.start).unwrap_or(text.as_str());
            before.bytes().filter(|b| *b == b'\n').count() + 1
        });
        ConfigError::Parse {
            path: path.to_path_buf(),
            line,
            message: e.message().to_owned(),
        }
    })
}

fn env_name(suffix: &str) -> String {
    format!("{ENV_PREFIX}{suffix}")
}

impl RawConfig {
    fn apply_env(&mut self, env: &impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let get = |suffix: &str| env(&env_name(suffix));
        let number = |suffix: &str| -> Result<Option<u64>, ConfigError> {
            get(suffix)
                .map(|v| {
                    v.trim().parse::<u64>().map_err(|_| ConfigError::Invalid {
                        key: env_name(suffix),
                        reason: "must be a whole number".into(),
                    })
                })
                .transpose()
        };
        if let Some(v) = get("LISTEN") {
            self.listen = Some(v);
        }
        if let Some(v) = get("UPSTREAM_TOKEN_URL") {
            self.upstream_token_url = Some(v);
        }
        if let Some(v) = number("UPSTREAM_TIMEOUT_SECS")? {
            self.upstream_timeout_secs = Some(v);
        }
        if let Some(v) = number("UPSTREAM_RETRY_AFTER_SECS")? {
            self.upstream_retry_after_secs = Some(v);
        }
        if let Some(v) = number("BODY_LIMIT_BYTES")? {
            self.body_limit_bytes = Some(usize::try_from(v).unwrap_or(usize::MAX));
        }
        if let Some(v) = get("KEY_FILE") {
            self.keys.current_file = Some(v.into());
        }
        if let Some(v) = get("PREVIOUS_KEY_FILE") {
            self.keys.previous_file = Some(v.into());
        }
        let cert = get("TLS_CERT_FILE");
        let key = get("TLS_KEY_FILE");
        if cert.is_some() || key.is_some() {
            let tls = self.tls.get_or_insert_with(RawTls::default);
            if let Some(cert) = cert {
                tls.cert_file = Some(cert.into());
            }
            if let Some(key) = key {
                tls.key_file = Some(key.into());
            }
        }
        if let Some(v) = number("RATE_LIMIT_PER_SECOND")? {
            self.rate_limit.per_second = Some(u32::try_from(v).unwrap_or(u32::MAX));
        }
        if let Some(v) = number("RATE_LIMIT_BURST")? {
            self.rate_limit.burst = Some(u32::try_from(v).unwrap_or(u32::MAX));
        }
        if let Some(v) = get("RATE_LIMIT_CLIENT_IP_HEADER") {
            self.rate_limit.client_ip_header = Some(v);
        }
        // One client from the environment, beside any in the file.
        if let Some(client_id) = get("CLIENT_ID") {
            let secret_env = get("CLIENT_SECRET").map(|_| env_name("CLIENT_SECRET"));
            self.clients.push(RawClient {
                client_id,
                secret_file: get("CLIENT_SECRET_FILE").map(PathBuf::from),
                secret_env,
                redirect_uris: get("CLIENT_REDIRECT_URIS")
                    .map(|v| {
                        v.split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
        Ok(())
    }

    fn resolve(
        self,
        base: Option<&Path>,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<BrokerConfig, ConfigError> {
        // Relative paths in the file are relative to the file, not to the working directory.
        let path = |p: PathBuf| match base {
            Some(base) if p.is_relative() => base.join(p),
            _ => p,
        };
        let listen = self.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen: SocketAddr = listen.trim().parse().map_err(|_| ConfigError::Invalid {
            key: "listen".into(),
            reason: format!("'{listen}' is not an address such as 0.0.0.0:8080"),
        })?;
        let upstream = self
            .upstream_token_url
            .ok_or_else(|| ConfigError::Missing {
                key: "upstream_token_url",
                env: env_name("UPSTREAM_TOKEN_URL"),
            })?;
        let upstream_token_url = parse_upstream(upstream.trim())?;

        let current_path =
            self.keys
                .current_file
                .map(path)
                .ok_or_else(|| ConfigError::Missing {
                    key: "keys.current_file",
                    env: env_name("KEY_FILE"),
                })?;
        let current = SealingKey::from_file(&current_path).map_err(|source| ConfigError::Key {
            key: "keys.current_file",
            path: current_path.clone(),
            source,
        })?;
        let mut keys = SealingKeys::new(current);
        if let Some(previous_path) = self.keys.previous_file.map(path) {
            let previous =
                SealingKey::from_file(&previous_path).map_err(|source| ConfigError::Key {
                    key: "keys.previous_file",
                    path: previous_path.clone(),
                    source,
                })?;
            keys = keys.with_previous(previous);
        }

        let tls = match self.tls {
            None => None,
            Some(RawTls {
                cert_file: Some(cert),
                key_file: Some(key),
            }) => Some(TlsFiles {
                cert_file: path(cert),
                key_file: path(key),
            }),
            Some(_) => {
                return Err(ConfigError::Invalid {
                    key: "tls".into(),
                    reason: format!(
                        "set both tls.cert_file and tls.key_file ({0}TLS_CERT_FILE, {0}TLS_KEY_FILE), or neither",
                        ENV_PREFIX
                    ),
                })
            }
        };

        let rate_limit = match self
            .rate_limit
            .per_second
            .unwrap_or(DEFAULT_RATE_PER_SECOND)
        {
            0 => None,
            per_second => {
                let burst = self
                    .rate_limit
                    .burst
                    .unwrap_or(DEFAULT_RATE_BURST.max(per_second));
                let client_ip_header = self
                    .rate_limit
                    .client_ip_header
                    .map(|h| {
                        HeaderName::try_from(h.trim()).map_err(|_| ConfigError::Invalid {
                            key: "rate_limit.client_ip_header".into(),
                            reason: format!("'{h}' is not a valid header name"),
                        })
                    })
                    .transpose()?;
                Some(RateLimit {
                    per_second: NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN),
                    burst: NonZeroU32::new(burst).ok_or_else(|| ConfigError::Invalid {
                        key: "rate_limit.burst".into(),
                        reason: "must be at least 1 (set per_second = 0 to turn the limit off)"
                            .into(),
                    })?,
                    client_ip_header,
                })
            }
        };

        let mut clients = Vec::with_capacity(self.clients.len());
        for raw in self.clients {
            let secret = read_secret(&raw, &path, env)?;
            clients.push(ClientConfig {
                client_id: raw.client_id,
                secret,
                redirect_uris: raw.redirect_uris,
            });
        }

        let config = BrokerConfig {
            listen,
            upstream_token_url,
            clients,
            keys,
            body_limit: self.body_limit_bytes.unwrap_or(DEFAULT_BODY_LIMIT),
            upstream_timeout: self
                .upstream_timeout_secs
                .map_or(DEFAULT_UPSTREAM_TIMEOUT, Duration::from_secs),
            upstream_retry_after: self
                .upstream_retry_after_secs
                .map_or(DEFAULT_UPSTREAM_RETRY_AFTER, Duration::from_secs),
            rate_limit,
            tls,
        };
        config.validate()?;
        Ok(config)
    }
}

fn read_secret(
    raw: &RawClient,
    path: &impl Fn(PathBuf) -> PathBuf,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<SecretString, ConfigError> {
    let key = || format!("clients.{}", raw.client_id);
    let value = match (&raw.secret_file, &raw.secret_env) {
        (Some(file), None) => {
            let file = path(file.clone());
            let text = std::fs::read_to_string(&file).map_err(|e| ConfigError::Invalid {
                key: key(),
                reason: format!("cannot read secret_file {}: {e}", file.display()),
            })?;
            SecretString::from(text.trim().to_owned())
        }
        (None, Some(name)) => {
            let text = env(name).ok_or_else(|| ConfigError::Invalid {
                key: key(),
                // The name is not echoed: an admin who pasted the secret itself here would
                // otherwise see it in the log.
                reason: "secret_env names an environment variable that is not set".into(),
            })?;
            SecretString::from(text.trim().to_owned())
        }
        _ => {
            return Err(ConfigError::Invalid {
                key: key(),
                reason: format!(
                    "set exactly one of secret_file or secret_env ({0}CLIENT_SECRET_FILE or {0}CLIENT_SECRET)",
                    ENV_PREFIX
                ),
            })
        }
    };
    Ok(value)
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::collections::HashMap;

    fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, contents).unwrap();
        p
    }

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn file_with_relative_paths_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "current.key", &"11".repeat(32));
        write(dir.path(), "secret", "s3cret\n");
        let file = write(
            dir.path(),
            "broker.toml",
            r#"
upstream_token_url = "https://login.mypurecloud.ie/oauth/token"
[keys]
current_file = "current.key"
[[clients]]
client_id = "abc"
secret_file = "secret"
redirect_uris = ["com.agentshell.desktop:/oauth/callback"]
"#,
        );
        let c = BrokerConfig::load_with_env(Some(&file), env_of(&[])).unwrap();
        assert_eq!(c.listen, DEFAULT_LISTEN.parse().unwrap());
        assert_eq!(c.body_limit, 16 * 1024);
        assert_eq!(c.upstream_timeout, Duration::from_secs(10));
        assert_eq!(c.rate_limit, Some(RateLimit::default()));
        assert_eq!(c.clients[0].secret.expose_secret(), "s3cret");
        assert!(c.tls.is_none());
        assert!(c.keys.previous.is_none());
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn environment_alone_and_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let key = write(dir.path(), "k", &"22".repeat(32));
        let prev = write(dir.path(), "p", &"33".repeat(32));
        let env = env_of(&[
            (
                "AGENT_SHELL_BROKER_UPSTREAM_TOKEN_URL",
                "http://127.0.0.1:9/oauth/token",
            ),
            ("AGENT_SHELL_BROKER_KEY_FILE", key.to_str().unwrap()),
            (
                "AGENT_SHELL_BROKER_PREVIOUS_KEY_FILE",
                prev.to_str().unwrap(),
            ),
            ("AGENT_SHELL_BROKER_LISTEN", "127.0.0.1:0"),
            ("AGENT_SHELL_BROKER_CLIENT_ID", "env-client"),
            ("AGENT_SHELL_BROKER_CLIENT_SECRET", " from-env "),
            (
                "AGENT_SHELL_BROKER_CLIENT_REDIRECT_URIS",
                "http://127.0.0.1:47615/oauth/callback, com.x:/cb",
            ),
            ("AGENT_SHELL_BROKER_RATE_LIMIT_PER_SECOND", "0"),
            ("AGENT_SHELL_BROKER_BODY_LIMIT_BYTES", "2048"),
            ("AGENT_SHELL_BROKER_UPSTREAM_TIMEOUT_SECS", ""),
        ]);
        let c = BrokerConfig::load_with_env(None, env).unwrap();
        assert_eq!(c.clients[0].client_id, "env-client");
        assert_eq!(c.clients[0].secret.expose_secret(), "from-env");
        assert_eq!(c.clients[0].redirect_uris.len(), 2);
        assert!(c.rate_limit.is_none());
        assert_eq!(c.body_limit, 2048);
        assert_eq!(c.upstream_timeout, DEFAULT_UPSTREAM_TIMEOUT);
        assert!(c.keys.previous.is_some());
    }

    #[test]
    fn errors_name_the_key_and_never_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let key = write(dir.path(), "k", &"22".repeat(32));
        let file = write(
            dir.path(),
            "bad.toml",
            "upstream_token_url = \"https://x.example/oauth/token\"\nsecret = \"hunter2-very-secret\"\n",
        );
        let err = BrokerConfig::load_with_env(Some(&file), env_of(&[])).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("line 2"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");

        let base = [
            (
                "AGENT_SHELL_BROKER_UPSTREAM_TOKEN_URL",
                "http://login.example/oauth/token",
            ),
            ("AGENT_SHELL_BROKER_KEY_FILE", key.to_str().unwrap()),
        ];
        let err = BrokerConfig::load_with_env(None, env_of(&base)).unwrap_err();
        assert!(err.to_string().contains("https"), "{err}");

        let missing_key = [(
            "AGENT_SHELL_BROKER_UPSTREAM_TOKEN_URL",
            "https://x.example/t",
        )];
        let err = BrokerConfig::load_with_env(None, env_of(&missing_key)).unwrap_err();
        assert!(
            err.to_string().contains("AGENT_SHELL_BROKER_KEY_FILE"),
            "{err}"
        );

        let no_secret = [
            (
                "AGENT_SHELL_BROKER_UPSTREAM_TOKEN_URL",
                "https://x.example/t",
            ),
            ("AGENT_SHELL_BROKER_KEY_FILE", key.to_str().unwrap()),
            ("AGENT_SHELL_BROKER_CLIENT_ID", "c"),
            ("AGENT_SHELL_BROKER_CLIENT_REDIRECT_URIS", "com.x:/cb"),
        ];
        let err = BrokerConfig::load_with_env(None, env_of(&no_secret)).unwrap_err();
        assert!(err.to_string().contains("secret_file"), "{err}");

        let bad_key = write(dir.path(), "short", "abc");
        let env = [
            (
                "AGENT_SHELL_BROKER_UPSTREAM_TOKEN_URL",
                "https://x.example/t",
            ),
            ("AGENT_SHELL_BROKER_KEY_FILE", bad_key.to_str().unwrap()),
        ];
        let err = BrokerConfig::load_with_env(None, env_of(&env)).unwrap_err();
        assert!(matches!(err, ConfigError::Key { .. }), "{err}");
    }

    #[test]
    fn validate_catches_inconsistencies() {
        let key = SealingKey::generate();
        let ok = BrokerConfig::new("http://127.0.0.1:1/oauth/token", key.clone())
            .unwrap()
            .with_client(ClientConfig::new("a", "s", ["com.x:/cb"]));
        ok.validate().unwrap();
        let mut c = ok.clone();
        c.clients.push(ClientConfig::new("a", "s", ["com.x:/cb"]));
        assert!(c.validate().is_err());
        let mut c = ok.clone();
        c.clients[0].redirect_uris = vec!["com.x:/cb#frag".into()];
        assert!(c.validate().is_err());
        let c = ok.clone().with_previous_key(key);
        assert!(c.validate().is_err());
        let mut c = ok.clone();
        c.body_limit = 10;
        assert!(c.validate().is_err());
        let mut c = ok;
        c.upstream_timeout = Duration::from_secs(121);
        assert!(c.validate().is_err());
        assert!(BrokerConfig::new("ftp://x/oauth/token", SealingKey::generate()).is_err());
    }
}
