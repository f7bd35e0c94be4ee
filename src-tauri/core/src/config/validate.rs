//! Raw -> model: every value checked once, with an error that names the key and the reason.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Table;
use url::Url;

use oauth_wire::is_loopback_host;

use super::environment::GenesysEnvironment;
use super::error::ConfigError;
use super::model::*;
use super::raw::*;
use super::scopes::*;
use super::values::*;

fn raw_from_table(table: Table) -> Result<RawConfig, ConfigError> {
    RawConfig::deserialize(toml::Value::Table(table)).map_err(|e| ConfigError::Syntax {
        path: PathBuf::from("<config>"),
        message: e.to_string().trim_end().replace('\n', " "),
    })
}

/// Checks a table has the file's shape (known keys, right types) without validating values.
pub fn check_raw(table: &Table) -> Result<(), ConfigError> {
    raw_from_table(table.clone()).map(|_| ())
}

/// Validates a (merged) table of settings.
pub fn validate_table(table: Table) -> Result<ShellConfig, ConfigError> {
    validate(raw_from_table(table)?)
}

/// Parses and validates config text (the demo and tests; files go through [`crate::config::policy::load`]).
pub fn parse_str(text: &str) -> Result<ShellConfig, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
        path: PathBuf::from("<config>"),
        message: e.to_string().trim_end().replace('\n', " "),
    })?;
    validate(raw)
}

/// The notification websocket's base: `wss://host`, or `ws://` on loopback for the local
/// emulator; no path.
fn streaming_url(key: &str, value: &str, local: bool) -> Result<Url, ConfigError> {
    let invalid = |reason: &str| ConfigError::InvalidUrl {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let url = Url::parse(value.trim()).map_err(|e| invalid(&e.to_string()))?;
    let loopback = url.host_str().is_some_and(is_loopback_host);
    let scheme_ok = match url.scheme() {
        "wss" => !local || loopback,
        "ws" => local && loopback,
        _ => false,
    };
    if !scheme_ok {
        return Err(invalid(
            "use wss://host (ws:// only on loopback for the local emulator)",
        ));
    }
    if url.path() != "/" || url.query().is_some() || !url.username().is_empty() {
        return Err(invalid(
            "give only scheme://host[:port], without a path or query",
        ));
    }
    Ok(url)
}

/// `ws:`/`wss:` form of an `http:`/`https:` base URL.
fn websocket_base(base: &Url) -> Result<Url, ConfigError> {
    let scheme = if base.scheme() == "https" {
        "wss"
    } else {
        "ws"
    };
    let text = format!(
        "{scheme}://{}",
        &base[url::Position::BeforeHost..url::Position::AfterPort]
    );
    streaming_url("local_emulator.api", &text, true)
}

/// The Genesys environment `environment` names, or the region `custom_environment` defines
/// (`environment` may then be left out, or name the same region). `None`: neither is set.
fn genesys_environment(raw: &RawConfig) -> Result<Option<GenesysEnvironment>, ConfigError> {
    let custom = match &raw.custom_environment {
        Some(domain) => Some(
            GenesysEnvironment::defined_by_policy(domain).map_err(|why| {
                ConfigError::InvalidValue {
                    key: "custom_environment".into(),
                    value: domain.clone(),
                    reason: why.to_string(),
                }
            })?,
        ),
        None => None,
    };
    let Some(name) = &raw.environment else {
        return Ok(custom);
    };
    let named = match (GenesysEnvironment::parse(name), &custom) {
        (Some(listed), _) => listed,
        (None, Some(custom))
            if GenesysEnvironment::defined_by_policy(name).ok().as_ref() == Some(custom) =>
        {
            custom.clone()
        }
        (None, _) => {
            return Err(ConfigError::UnknownEnvironment {
                value: name.clone(),
            })
        }
    };
    match custom {
        Some(custom) if custom != named => Err(ConfigError::Conflict {
            first: "custom_environment",
            second: "environment",
            reason: "they name different regions; leave `environment` unset, or set it to the custom region",
        }),
        _ => Ok(Some(named)),
    }
}

pub fn validate(raw: RawConfig) -> Result<ShellConfig, ConfigError> {
    let local = raw.local_emulator.is_some();
    if raw.custom_environment.is_some() && local {
        return Err(ConfigError::Conflict {
            first: "custom_environment",
            second: "local_emulator",
            reason: "use a Genesys Cloud environment or the local emulator, not both",
        });
    }
    let environment = genesys_environment(&raw)?;
    let (target, bases) = match (environment, &raw.local_emulator) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::Conflict {
                first: "environment",
                second: "local_emulator",
                reason: "use a Genesys Cloud environment or the local emulator, not both",
            })
        }
        (None, None) => {
            return Err(ConfigError::MissingKey {
                key: "environment",
                hint: "set a Genesys Cloud environment such as \"mypurecloud.com\" (or a [local_emulator] section for development)",
            })
        }
        (Some(env), None) => {
            let pick = |key: &str, over: &Option<String>, default: String| match over {
                Some(value) => base_url(&format!("endpoints.{key}"), value, false),
                None => base_url(key, &default, false),
            };
            let bases = (
                pick("login", &raw.endpoints.login, env.login_base())?,
                pick("api", &raw.endpoints.api, env.api_base())?,
                pick("media", &raw.endpoints.media, env.media_base())?,
            );
            (Target::Genesys(env), bases)
        }
        (None, Some(emu)) => {
            if raw.endpoints.login.is_some()
                || raw.endpoints.api.is_some()
                || raw.endpoints.media.is_some()
                || raw.endpoints.streaming.is_some()
            {
                return Err(ConfigError::Conflict {
                    first: "endpoints",
                    second: "local_emulator",
                    reason: "the [local_emulator] section already names login, api and media",
                });
            }
            let bases = (
                base_url("local_emulator.login", &emu.login, true)?,
                base_url("local_emulator.api", &emu.api, true)?,
                base_url("local_emulator.media", &emu.media, true)?,
            );
            (Target::LocalEmulator, bases)
        }
    };
    let (login, api, media) = bases;
    let streaming = match (
        &target,
        raw.local_emulator
            .as_ref()
            .and_then(|e| e.streaming.as_ref()),
    ) {
        (_, Some(value)) => streaming_url("local_emulator.streaming", value, true)?,
        (Target::Genesys(_), None) if raw.endpoints.streaming.is_some() => {
            let value = raw.endpoints.streaming.as_deref().unwrap_or_default();
            streaming_url("endpoints.streaming", value, false)?
        }
        (Target::Genesys(env), None) => streaming_url("streaming", &env.streaming_base(), false)?,
        (Target::LocalEmulator, None) => websocket_base(&api)?,
    };

    let join = |base: &Url, key: &str, path: &str| {
        base.join(path).map_err(|e| ConfigError::InvalidUrl {
            key: key.to_string(),
            value: base.to_string(),
            reason: e.to_string(),
        })
    };
    let authorize = match &raw.endpoints.authorize {
        Some(value) => endpoint_url("endpoints.authorize", value, local)?,
        None => join(&login, "endpoints.login", "/oauth/authorize")?,
    };
    let broker = match &raw.token_broker {
        Some(value) => Some(broker_base(endpoint_url("token_broker", value, local)?)),
        None => None,
    };
    let token = match (&raw.endpoints.token, &broker) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::Conflict {
                first: "token_broker",
                second: "endpoints.token",
                reason: "the broker is the token endpoint; set one of them",
            })
        }
        (Some(value), None) => endpoint_url("endpoints.token", value, local)?,
        (None, Some(base)) => {
            base.join(BROKER_TOKEN_PATH)
                .map_err(|e| ConfigError::InvalidUrl {
                    key: "token_broker".into(),
                    value: base.to_string(),
                    reason: e.to_string(),
                })?
        }
        (None, None) => join(&login, "endpoints.login", "/oauth/token")?,
    };
    let client_page = match &raw.embed.client_url {
        Some(value) => checked_client_url(
            endpoint_url("embed.client_url", value, local)?,
            &api,
            &media,
        )?,
        None => agent_client_page().map_err(|e| ConfigError::InvalidUrl {
            key: "embed.client_url".into(),
            value: AGENT_CLIENT_ORIGIN.into(),
            reason: e.to_string(),
        })?,
    };
    let endpoints = Endpoints {
        users_me: join(&api, "endpoints.api", "/api/v2/users/me")?,
        tokens_me: join(&api, "endpoints.api", "/api/v2/tokens/me")?,
        login,
        api,
        media,
        streaming,
        authorize,
        token,
        client_page,
        broker,
    };

    let client_id = match raw.client_id.as_deref().map(str::trim) {
        None | Some("") => {
            return Err(ConfigError::MissingKey {
                key: "client_id",
                hint: "set the id of the Genesys Cloud OAuth client (Admin > OAuth > Client ID)",
            })
        }
        Some(id) if id.len() > 128 || !id.chars().all(|c| c.is_ascii_graphic()) => {
            return Err(ConfigError::InvalidValue {
                key: "client_id".into(),
                value: id.to_string(),
                reason: "must be at most 128 printable ASCII characters without spaces".into(),
            })
        }
        Some(id) => id.to_string(),
    };

    Ok(ShellConfig {
        target,
        client_id,
        scopes: validate_scopes(raw.scopes)?,
        redirect: validate_redirect(raw.redirect)?,
        sso: validate_sso(raw.sso)?,
        refresh: validate_session(&raw.session, local)?,
        links: validate_links(raw.links, raw.crm)?,
        log_level: raw.logs.level.unwrap_or_default(),
        autostart: raw.startup.autostart.unwrap_or(false),
        close_to_tray: raw.startup.close_to_tray.unwrap_or(false),
        forget_at_quit: raw.session.forget_at_quit.unwrap_or(false),
        sign_out_on_lock: raw.session.sign_out_on_lock.unwrap_or(false),
        compositing: raw.webview.compositing.unwrap_or_default(),
        proxy: match raw.network.proxy.as_deref() {
            None => ProxySetting::System,
            Some(text) => {
                ProxySetting::parse(text).map_err(|reason| {
                    ConfigError::InvalidValue {
                        key: "network.proxy".into(),
                        // Never the value: it may carry the proxy's password.
                        value: "(not shown)".into(),
                        reason,
                    }
                })?
            }
        },
        mock_media_devices: raw
            .local_emulator
            .as_ref()
            .is_some_and(|e| e.mock_media_devices),
        embed: EmbedSettings {
            show_queue_position: raw.embed.show_queue_position.unwrap_or(true),
            show_call_controls: raw.embed.show_call_controls.unwrap_or(true),
            allow_transfer: raw.embed.allow_transfer.unwrap_or(true),
            allow_park: raw.embed.allow_park.unwrap_or(false),
            allow_conference: raw.embed.allow_conference.unwrap_or(true),
        },
        client_start_timeout: Duration::from_secs(ranged(
            "embed.start_timeout_secs",
            raw.embed.start_timeout_secs,
            DEFAULT_CLIENT_START_TIMEOUT_SECS,
            5..=600,
        )?),
        endpoints,
    })
}

/// Default for `embed.start_timeout_secs`: a slow VDI desktop loads the client in 10-20 s.
pub const DEFAULT_CLIENT_START_TIMEOUT_SECS: u64 = 45;

/// `value` (or `default`) when it lies in `range`; otherwise an error naming `key`.
fn ranged<T: PartialOrd + Copy + std::fmt::Display>(
    key: &str,
    value: Option<T>,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError> {
    let value = value.unwrap_or(default);
    if range.contains(&value) {
        return Ok(value);
    }
    Err(ConfigError::InvalidValue {
        key: key.to_string(),
        value: value.to_string(),
        reason: format!("must be from {} to {}", range.start(), range.end()),
    })
}

fn validate_links(links: RawLinks, crm: RawCrm) -> Result<LinkSettings, ConfigError> {
    let allowed_hosts = match links.allowed_hosts {
        None => DEFAULT_ALLOWED_HOSTS
            .iter()
            .map(|h| HostPattern::Exact((*h).to_string()))
            .collect(),
        Some(list) => list
            .iter()
            .map(|value| {
                HostPattern::parse(value).map_err(|reason| ConfigError::InvalidValue {
                    key: "links.allowed_hosts".into(),
                    value: value.clone(),
                    reason,
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let crm_interaction_url = crm
        .interaction_url
        .map(|value| {
            CrmTemplate::parse(&value).map_err(|reason| ConfigError::InvalidValue {
                key: "crm.interaction_url".into(),
                value,
                reason,
            })
        })
        .transpose()?;
    Ok(LinkSettings {
        allowed_hosts,
        crm_interaction_url,
    })
}

/// `local_emulator`: the emulator compresses a shift into seconds, so its token lifetimes are
/// believed from 1 s (a real environment's from 30 s: Genesys issues at least 300 s).
fn validate_session(raw: &RawSession, local_emulator: bool) -> Result<RefreshPolicy, ConfigError> {
    let default = RefreshPolicy::default();
    let policy = RefreshPolicy {
        margin: Duration::from_secs(ranged(
            "session.refresh_margin_secs",
            raw.refresh_margin_secs,
            default.margin.as_secs(),
            10..=3600,
        )?),
        max_attempts: ranged(
            "session.max_attempts",
            raw.max_attempts,
            default.max_attempts,
            1..=3,
        )?,
        attempt_timeout: Duration::from_secs(ranged(
            "session.attempt_timeout_secs",
            raw.attempt_timeout_secs,
            default.attempt_timeout.as_secs(),
            1..=60,
        )?),
        first_delay: Duration::from_millis(ranged(
            "session.first_retry_delay_ms",
            raw.first_retry_delay_ms,
            500,
            50..=10_000,
        )?),
        max_retry_after: Duration::from_secs(ranged(
            "session.max_retry_after_secs",
            raw.max_retry_after_secs,
            default.max_retry_after.as_secs(),
            0..=60,
        )?),
        max_delay: default.max_delay,
        min_lifetime: if local_emulator {
            EMULATOR_MIN_LIFETIME
        } else {
            default.min_lifetime
        },
    };
    if policy.margin < policy.worst_case() {
        return Err(ConfigError::InvalidValue {
            key: "session.refresh_margin_secs".into(),
            value: policy.margin.as_secs().to_string(),
            reason: format!(
                "leaves no room for {} attempts (up to {} s in all): raise it, or lower session.attempt_timeout_secs",
                policy.max_attempts,
                policy.worst_case().as_secs()
            ),
        });
    }
    Ok(policy)
}

fn validate_scopes(scopes: Option<Vec<String>>) -> Result<Vec<String>, ConfigError> {
    let Some(scopes) = scopes else {
        return Ok(REQUIRED_SCOPES.iter().map(|s| s.to_string()).collect());
    };
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for scope in scopes {
        let valid = !scope.is_empty()
            && scope
                .chars()
                .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\');
        if !valid {
            return Err(ConfigError::InvalidValue {
                key: "scopes".into(),
                value: scope,
                reason: "a scope is one word of printable ASCII (no spaces or quotes)".into(),
            });
        }
        if seen.insert(scope.clone()) {
            out.push(scope);
        }
    }
    let missing = missing_scopes(&out);
    if !missing.is_empty() {
        return Err(ConfigError::MissingRequiredScope { missing });
    }
    Ok(out)
}

fn validate_redirect(raw: RawRedirect) -> Result<RedirectConfig, ConfigError> {
    let scheme = raw
        .deep_link_scheme
        .unwrap_or_else(|| DEFAULT_DEEP_LINK_SCHEME.to_string());
    let well_formed = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase())
        && scheme
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.'));
    if !well_formed || !scheme.contains('.') || scheme.len() > 64 {
        return Err(ConfigError::InvalidValue {
            key: "redirect.deep_link_scheme".into(),
            value: scheme,
            reason: "use a lower-case reverse-DNS scheme of a domain you control, e.g. \"com.example.agentshell\" (RFC 8252 7.1)".into(),
        });
    }
    let ports = raw
        .loopback_ports
        .unwrap_or_else(|| vec![DEFAULT_LOOPBACK_PORT]);
    if let Some(bad) = ports.iter().find(|p| **p < 1024) {
        return Err(ConfigError::InvalidValue {
            key: "redirect.loopback_ports".into(),
            value: bad.to_string(),
            reason: "use fixed ports from 1024 to 65535 (registered exactly in the OAuth client)"
                .into(),
        });
    }
    let prefer = raw.prefer.unwrap_or(RedirectMode::DeepLink);
    if prefer == RedirectMode::Loopback && ports.is_empty() {
        return Err(ConfigError::InvalidValue {
            key: "redirect.loopback_ports".into(),
            value: "[]".into(),
            reason: "redirect.prefer is \"loopback\" but no loopback port is configured".into(),
        });
    }
    Ok(RedirectConfig {
        deep_link_scheme: scheme,
        loopback_ports: ports,
        prefer,
    })
}

fn validate_sso(raw: RawSso) -> Result<SsoHints, ConfigError> {
    if let Some(org) = &raw.org {
        let ok = !org.is_empty()
            && org.len() <= 100
            && org
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            return Err(ConfigError::InvalidValue {
                key: "sso.org".into(),
                value: org.clone(),
                reason: "use the org's short name (letters, digits, - _ .)".into(),
            });
        }
    }
    if let Some(provider) = &raw.provider {
        if !KNOWN_SSO_PROVIDERS.contains(&provider.as_str()) {
            return Err(ConfigError::InvalidValue {
                key: "sso.provider".into(),
                value: provider.clone(),
                reason: format!("must be one of {}", KNOWN_SSO_PROVIDERS.join(", ")),
            });
        }
        if raw.org.is_none() {
            return Err(ConfigError::MissingKey {
                key: "sso.org",
                hint: "Genesys needs the org name together with sso.provider",
            });
        }
    }
    Ok(SsoHints {
        org: raw.org,
        provider: raw.provider,
        prompt_login: raw.prompt_login.unwrap_or(false),
    })
}

/// An origin-only base URL (login/api/media).
fn base_url(key: &str, value: &str, local: bool) -> Result<Url, ConfigError> {
    let url = endpoint_url(key, value, local)?;
    if url.path() != "/" || url.query().is_some() {
        return Err(ConfigError::InvalidUrl {
            key: key.to_string(),
            value: value.to_string(),
            reason: "give only scheme://host[:port], without a path or query".into(),
        });
    }
    Ok(url)
}

/// Any endpoint URL: https only (http only on loopback in local-emulator mode), exact host.
/// Query parameter names that would carry a credential in the client page's URL.
const CREDENTIAL_PARAMETERS: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "code",
    "password",
    "secret",
    "client_secret",
    "authorization",
    "bearer",
];

/// `embed.client_url` may only point into the environment's own api or media origin (the CSP,
/// the message checks and the navigation lock trust exactly those), and never carries a
/// credential in its query.
fn checked_client_url(url: Url, api: &Url, media: &Url) -> Result<Url, ConfigError> {
    let invalid = |reason: String| ConfigError::InvalidValue {
        key: "embed.client_url".into(),
        value: url.to_string(),
        reason,
    };
    let (origin, api, media) = (origin_of(&url), origin_of(api), origin_of(media));
    if origin != api && origin != media {
        return Err(invalid(format!(
            "must be on the environment's api or media origin ({api} or {media})"
        )));
    }
    if let Some((name, _)) = url
        .query_pairs()
        .find(|(name, _)| CREDENTIAL_PARAMETERS.contains(&name.to_ascii_lowercase().as_str()))
    {
        // The value is reported without its query: it may hold a real secret.
        let mut shown = url.clone();
        shown.set_query(Some("[redacted]"));
        return Err(ConfigError::InvalidValue {
            key: "embed.client_url".into(),
            value: shown.to_string(),
            reason: format!(
                "must not carry credentials: remove the `{name}` parameter (the client gets its token by message)"
            ),
        });
    }
    Ok(url)
}

/// The broker's token endpoint, relative to its base URL.
pub const BROKER_TOKEN_PATH: &str = "oauth/token";

/// A broker base URL with a trailing slash, so `oauth/token` joins under a path prefix
/// (`https://example.com/broker/` -> `.../broker/oauth/token`) instead of replacing it.
fn broker_base(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url.set_query(None);
    url
}

fn endpoint_url(key: &str, value: &str, local: bool) -> Result<Url, ConfigError> {
    let invalid = |reason: &str| ConfigError::InvalidUrl {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    };
    if value.contains('*') {
        return Err(ConfigError::WildcardOrigin {
            key: key.to_string(),
            value: value.to_string(),
        });
    }
    let url = Url::parse(value.trim()).map_err(|e| invalid(&e.to_string()))?;
    if url.fragment().is_some() {
        return Err(invalid("a fragment (#...) is not allowed"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("credentials in a URL are not allowed"));
    }
    let Some(host) = url.host_str() else {
        return Err(invalid("a host is required"));
    };
    let loopback = is_loopback_host(host);
    match url.scheme() {
        "https" if local && !loopback => Err(ConfigError::InvalidValue {
            key: key.to_string(),
            value: value.to_string(),
            reason:
                "[local_emulator] endpoints must be on this machine (127.0.0.1, [::1] or localhost)"
                    .into(),
        }),
        "https" => Ok(url),
        "http" if local && loopback => Ok(url),
        "http" if local => Err(ConfigError::InvalidValue {
            key: key.to_string(),
            value: value.to_string(),
            reason:
                "[local_emulator] endpoints must be on this machine (127.0.0.1, [::1] or localhost)"
                    .into(),
        }),
        "http" => Err(ConfigError::InsecureEndpoint {
            key: key.to_string(),
            value: value.to_string(),
        }),
        other => Err(invalid(&format!("scheme \"{other}\" is not http(s)"))),
    }
}
