//! The TOML file and `AGENT_SHELL_BROKER_*` environment format, resolved into a
//! [`BrokerConfig`].

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::HeaderName;
use secrecy::SecretString;
use serde::Deserialize;

use super::{
    parse_upstream, BrokerConfig, ClientConfig, ConfigError, ConnectionLimits, RateLimit, TlsFiles,
    UpstreamBudget, DEFAULT_BODY_LIMIT, DEFAULT_LISTEN, DEFAULT_RATE_BURST,
    DEFAULT_RATE_PER_SECOND, DEFAULT_UPSTREAM_BUDGET_BURST, DEFAULT_UPSTREAM_BUDGET_PER_MINUTE,
    DEFAULT_UPSTREAM_RETRY_AFTER, DEFAULT_UPSTREAM_TIMEOUT, ENV_PREFIX,
};
use crate::net::IpNet;
use crate::seal::{SealingKey, SealingKeys};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
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
    upstream_budget: RawBudget,
    #[serde(default)]
    connections: RawConnections,
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
    trusted_proxies: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBudget {
    per_minute: Option<u32>,
    burst: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnections {
    max_connections: Option<usize>,
    idle_timeout_secs: Option<u64>,
    h2_max_streams: Option<u32>,
    h2_keepalive_secs: Option<u64>,
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

pub(super) fn read_file(path: &Path) -> Result<RawConfig, ConfigError> {
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

impl BrokerConfig {
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
}

fn env_name(suffix: &str) -> String {
    format!("{ENV_PREFIX}{suffix}")
}

impl RawConfig {
    pub(super) fn apply_env(
        &mut self,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
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
        if let Some(v) = get("RATE_LIMIT_TRUSTED_PROXIES") {
            self.rate_limit.trusted_proxies = Some(split_list(&v));
        }
        if let Some(v) = number("UPSTREAM_BUDGET_PER_MINUTE")? {
            self.upstream_budget.per_minute = Some(u32::try_from(v).unwrap_or(u32::MAX));
        }
        if let Some(v) = number("UPSTREAM_BUDGET_BURST")? {
            self.upstream_budget.burst = Some(u32::try_from(v).unwrap_or(u32::MAX));
        }
        if let Some(v) = number("MAX_CONNECTIONS")? {
            self.connections.max_connections = Some(usize::try_from(v).unwrap_or(usize::MAX));
        }
        if let Some(v) = number("IDLE_TIMEOUT_SECS")? {
            self.connections.idle_timeout_secs = Some(v);
        }
        if let Some(v) = number("H2_MAX_STREAMS")? {
            self.connections.h2_max_streams = Some(u32::try_from(v).unwrap_or(u32::MAX));
        }
        if let Some(v) = number("H2_KEEPALIVE_SECS")? {
            self.connections.h2_keepalive_secs = Some(v);
        }
        // One client from the environment, beside any in the file.
        if let Some(client_id) = get("CLIENT_ID") {
            let secret_env = get("CLIENT_SECRET").map(|_| env_name("CLIENT_SECRET"));
            self.clients.push(RawClient {
                client_id,
                secret_file: get("CLIENT_SECRET_FILE").map(PathBuf::from),
                secret_env,
                redirect_uris: get("CLIENT_REDIRECT_URIS")
                    .map(|v| split_list(&v))
                    .unwrap_or_default(),
            });
        }
        Ok(())
    }

    pub(super) fn resolve(
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
                let trusted_proxies = self
                    .rate_limit
                    .trusted_proxies
                    .unwrap_or_default()
                    .iter()
                    .map(|p| {
                        p.parse::<IpNet>().map_err(|e| ConfigError::Invalid {
                            key: "rate_limit.trusted_proxies".into(),
                            reason: e.to_string(),
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Some(RateLimit {
                    per_second: NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN),
                    burst: NonZeroU32::new(burst).ok_or_else(|| ConfigError::Invalid {
                        key: "rate_limit.burst".into(),
                        reason: "must be at least 1 (set per_second = 0 to turn the limit off)"
                            .into(),
                    })?,
                    client_ip_header,
                    trusted_proxies,
                })
            }
        };
        let upstream_budget = match self
            .upstream_budget
            .per_minute
            .unwrap_or(DEFAULT_UPSTREAM_BUDGET_PER_MINUTE)
        {
            0 => None,
            per_minute => Some(UpstreamBudget {
                per_minute: NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN),
                burst: NonZeroU32::new(
                    self.upstream_budget
                        .burst
                        .unwrap_or(DEFAULT_UPSTREAM_BUDGET_BURST.min(per_minute)),
                )
                .ok_or_else(|| ConfigError::Invalid {
                    key: "upstream_budget.burst".into(),
                    reason: "must be at least 1 (set per_minute = 0 to turn the budget off)".into(),
                })?,
            }),
        };
        let connections = self.connections.resolve();

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
            upstream_budget,
            connections,
            tls,
        };
        config.validate()?;
        Ok(config)
    }
}

impl RawConnections {
    fn resolve(self) -> ConnectionLimits {
        let defaults = ConnectionLimits::default();
        let keepalive = match self.h2_keepalive_secs {
            None => defaults.h2_keepalive_interval,
            Some(0) => None,
            Some(secs) => Some(Duration::from_secs(secs)),
        };
        ConnectionLimits {
            max_connections: self.max_connections.unwrap_or(defaults.max_connections),
            idle_timeout: self
                .idle_timeout_secs
                .map_or(defaults.idle_timeout, Duration::from_secs),
            h2_max_concurrent_streams: self
                .h2_max_streams
                .unwrap_or(defaults.h2_max_concurrent_streams),
            h2_keepalive_interval: keepalive,
            h2_keepalive_timeout: keepalive.unwrap_or(defaults.h2_keepalive_timeout),
        }
    }
}

/// A comma-separated list from an environment variable, empty entries dropped.
fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
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
