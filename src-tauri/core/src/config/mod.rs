//! Configuration: the file format, where it is looked for, and validation into typed values.
//!
//! The file is TOML (documented in docs/configuration.md). Parsing is two steps: serde reads the
//! raw shape (unknown keys are errors, so typos do not silently fall back to defaults), then
//! [`validate`] turns it into a [`ShellConfig`] whose values can no longer be wrong: a known
//! environment, https endpoints without wildcards, the required scopes present.

pub mod environment;
pub mod policy;

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Table;
use url::Url;

use crate::config::environment::{GenesysEnvironment, KNOWN_ENVIRONMENTS};
use crate::embed::links::{CrmTemplate, HostPattern, DEFAULT_ALLOWED_HOSTS};
use crate::error::{Code, ErrorCode};
use crate::session::refresh::RefreshPolicy;
use std::time::Duration;

/// The Genesys Cloud OAuth scopes the agent client needs, each with what it is for (checked
/// against Genesys's published API definitions; docs/agent-client.md lists the calls).
pub const SCOPE_USES: [(&str, &str); 7] = [
    (
        "users:readonly",
        "read the signed-in agent (users/me) and transfer targets",
    ),
    (
        "presence",
        "read and set the agent's presence, including On Queue",
    ),
    (
        "routing",
        "the agent's queues (join, leave), routing status and wrap-up codes",
    ),
    (
        "conversations",
        "answer, hold, mute, transfer, end and wrap up calls, and place calls",
    ),
    (
        "notifications",
        "live events: incoming calls, presence and routing status",
    ),
    (
        "stations:readonly",
        "the agent's phone (station): where calls ring",
    ),
    ("organization:readonly", "the organization's name"),
];

/// The scopes requested unless the configuration names others (which must include these).
pub const REQUIRED_SCOPES: [&str; 7] = [
    SCOPE_USES[0].0,
    SCOPE_USES[1].0,
    SCOPE_USES[2].0,
    SCOPE_USES[3].0,
    SCOPE_USES[4].0,
    SCOPE_USES[5].0,
    SCOPE_USES[6].0,
];

/// The required scopes that `granted` lacks. Genesys's scope `X` includes `X:readonly`.
pub fn missing_scopes<S: AsRef<str>>(granted: &[S]) -> Vec<String> {
    let has = |scope: &str| granted.iter().any(|g| g.as_ref() == scope);
    REQUIRED_SCOPES
        .iter()
        .filter(|required| {
            let broader = required.strip_suffix(":readonly");
            !has(required) && !broader.is_some_and(has)
        })
        .map(|s| s.to_string())
        .collect()
}

/// Reverse-DNS custom scheme (RFC 8252 7.1) used when the config names none.
pub const DEFAULT_DEEP_LINK_SCHEME: &str = "com.agentshell.desktop";
/// Fixed loopback port: Genesys matches redirect URIs exactly, so the port cannot be random.
pub const DEFAULT_LOOPBACK_PORT: u16 = 47615;
/// Path of the redirect URI on both redirect transports.
pub const REDIRECT_PATH: &str = "/oauth/callback";
/// Environment variable naming the config file (after `--config`).
pub const CONFIG_ENV_VAR: &str = "AGENT_SHELL_CONFIG";
/// Identity-provider hints Genesys accepts in `provider` (they skip the Genesys login page).
pub const KNOWN_SSO_PROVIDERS: [&str; 6] =
    ["adfs", "gsuite", "okta", "onelogin", "ping", "salesforce"];

/// Refuse to read anything larger: a config file is a few hundred bytes.
const MAX_CONFIG_BYTES: u64 = 256 * 1024;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("config file {path} does not exist (named by {origin})")]
    NotFound { path: PathBuf, origin: ConfigOrigin },
    #[error("config file {path} cannot be read: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("config key `{key}` is missing: {hint}")]
    MissingKey {
        key: &'static str,
        hint: &'static str,
    },
    #[error("config keys `{first}` and `{second}` cannot both be set: {reason}")]
    Conflict {
        first: &'static str,
        second: &'static str,
        reason: &'static str,
    },
    #[error("config key `environment`: unknown environment \"{value}\" (known: {})", KNOWN_ENVIRONMENTS.join(", "))]
    UnknownEnvironment { value: String },
    #[error("config key `{key}`: \"{value}\" contains a wildcard; Genesys origins must be exact hostnames")]
    WildcardOrigin { key: String, value: String },
    #[error("config key `{key}`: \"{value}\" is not https; plain http is allowed only for loopback addresses in a [local_emulator] section")]
    InsecureEndpoint { key: String, value: String },
    #[error("config key `{key}`: \"{value}\" is not a usable URL: {reason}")]
    InvalidUrl {
        key: String,
        value: String,
        reason: String,
    },
    #[error("config key `scopes` lacks the required scope(s) {}: {}", .missing.join(", "), missing_scope_consequence(.missing))]
    MissingRequiredScope { missing: Vec<String> },
    #[error("config key `{key}`: \"{value}\" is invalid: {reason}")]
    InvalidValue {
        key: String,
        value: String,
        reason: String,
    },
    #[error("config key `{key}` in {path} can only be set by machine policy (it decides where sign-in tokens are sent); ask IT, or remove it from this file")]
    PolicyOnly { key: String, path: PathBuf },
    #[error("{path}: {inner}")]
    InFile {
        path: PathBuf,
        inner: Box<ConfigError>,
    },
}

impl ConfigError {
    /// The dotted key the error is about, if it is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::MissingKey { key, .. } => Some(key),
            Self::Conflict { first, .. } => Some(first),
            Self::UnknownEnvironment { .. } => Some("environment"),
            Self::WildcardOrigin { key, .. }
            | Self::InsecureEndpoint { key, .. }
            | Self::InvalidUrl { key, .. }
            | Self::InvalidValue { key, .. }
            | Self::PolicyOnly { key, .. } => Some(key),
            Self::MissingRequiredScope { .. } => Some("scopes"),
            Self::InFile { inner, .. } => inner.key(),
            Self::NotFound { .. } | Self::Unreadable { .. } | Self::Syntax { .. } => None,
        }
    }

    /// The same error, naming the file (or policy store) that holds the bad value.
    pub fn in_file(self, path: &Path) -> Self {
        match self {
            Self::Syntax { message, .. } => Self::Syntax {
                path: path.to_path_buf(),
                message,
            },
            already @ (Self::NotFound { .. }
            | Self::Unreadable { .. }
            | Self::PolicyOnly { .. }
            | Self::InFile { .. }) => already,
            other => Self::InFile {
                path: path.to_path_buf(),
                inner: Box::new(other),
            },
        }
    }
}

impl ErrorCode for ConfigError {
    fn error_code(&self) -> Code {
        match self {
            Self::NotFound { .. } => Code::ConfigNotFound,
            Self::Unreadable { .. } => Code::ConfigUnreadable,
            Self::Syntax { .. } => Code::ConfigSyntax,
            Self::MissingKey { .. } => Code::ConfigMissingKey,
            Self::Conflict { .. } => Code::ConfigConflict,
            Self::UnknownEnvironment { .. } => Code::ConfigUnknownEnvironment,
            Self::WildcardOrigin { .. } => Code::ConfigWildcardOrigin,
            Self::InsecureEndpoint { .. } => Code::ConfigInsecureEndpoint,
            Self::InvalidUrl { .. } => Code::ConfigInvalidUrl,
            Self::MissingRequiredScope { .. } => Code::ConfigMissingScope,
            Self::InvalidValue { .. } => Code::ConfigInvalidValue,
            Self::PolicyOnly { .. } => Code::ConfigPolicyOnly,
            Self::InFile { inner, .. } => inner.error_code(),
        }
    }
}

/// What breaks without each scope, in words an admin can act on.
pub fn missing_scope_consequence(missing: &[String]) -> String {
    let uses: Vec<String> = missing
        .iter()
        .filter_map(|m| SCOPE_USES.iter().find(|(scope, _)| scope == m))
        .map(|(scope, use_)| format!("without {scope} the agent client cannot {use_}"))
        .collect();
    if uses.is_empty() {
        "the agent client cannot work".to_string()
    } else {
        uses.join("; ")
    }
}

/// Where the config file came from; shown to IT by `agent-shell config check` and the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConfigOrigin {
    /// `--config FILE`
    CommandLine,
    /// `AGENT_SHELL_CONFIG`
    EnvironmentVariable,
    /// The per-user config directory.
    UserConfigDir,
    /// `agent-shell demo`: generated for the bundled emulator.
    Demo,
    /// Machine policy alone (no user file): set by IT for every user of the computer.
    MachinePolicy,
}

impl fmt::Display for ConfigOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CommandLine => "--config",
            Self::EnvironmentVariable => CONFIG_ENV_VAR,
            Self::UserConfigDir => "the user config directory",
            Self::Demo => "agent-shell demo",
            Self::MachinePolicy => "machine policy",
        })
    }
}

/// Where machine policy is read: `/etc/agent-shell/policy.toml` on Linux (None elsewhere in
/// this version). Debug builds honour `AGENT_SHELL_POLICY` so tests need not touch /etc;
/// release builds never do, so an agent cannot point the app at a policy of their own.
pub fn policy_path() -> Option<PathBuf> {
    if cfg!(debug_assertions) {
        if let Some(path) = std::env::var_os("AGENT_SHELL_POLICY").filter(|v| !v.is_empty()) {
            return Some(PathBuf::from(path));
        }
    }
    cfg!(target_os = "linux").then(|| PathBuf::from(crate::config::policy::LINUX_POLICY_PATH))
}

/// The per-user config file path (`~/.config/agent-shell/config.toml` on Linux).
pub fn user_config_path() -> Option<PathBuf> {
    dirs::config_dir().map(|dir| dir.join("agent-shell").join("config.toml"))
}

/// Picks the config file: `--config` beats `AGENT_SHELL_CONFIG` beats the user config dir.
///
/// Returns `None` when nothing was named and the user file does not exist ("not configured").
pub fn locate(
    cli: Option<&Path>,
    env_var: Option<&std::ffi::OsStr>,
    user_file: Option<&Path>,
) -> Option<(PathBuf, ConfigOrigin)> {
    if let Some(path) = cli {
        return Some((path.to_path_buf(), ConfigOrigin::CommandLine));
    }
    if let Some(value) = env_var.filter(|v| !v.is_empty()) {
        return Some((PathBuf::from(value), ConfigOrigin::EnvironmentVariable));
    }
    user_file
        .filter(|path| path.exists())
        .map(|path| (path.to_path_buf(), ConfigOrigin::UserConfigDir))
}

/// Reads a config or policy file, refusing anything over the size limit.
pub fn read_capped(path: &Path) -> Result<String, ConfigError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ConfigError::NotFound {
            path: path.to_path_buf(),
            origin: ConfigOrigin::CommandLine,
        },
        _ => ConfigError::Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        },
    })?;
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| ConfigError::Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(ConfigError::Unreadable {
            path: path.to_path_buf(),
            reason: format!("larger than {MAX_CONFIG_BYTES} bytes"),
        });
    }
    Ok(text)
}

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

// ---------------------------------------------------------------------------------------------
// Raw file shape

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub environment: Option<String>,
    pub client_id: Option<String>,
    /// A token broker (docs/broker.md): machine policy only.
    pub token_broker: Option<String>,
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub redirect: RawRedirect,
    #[serde(default)]
    pub sso: RawSso,
    #[serde(default)]
    pub embed: RawEmbed,
    #[serde(default)]
    pub endpoints: RawEndpoints,
    pub local_emulator: Option<RawLocalEmulator>,
    #[serde(default)]
    pub session: RawSession,
    #[serde(default)]
    pub links: RawLinks,
    #[serde(default)]
    pub crm: RawCrm,
    #[serde(default)]
    pub logs: RawLogs,
    #[serde(default)]
    pub startup: RawStartup,
    #[serde(default)]
    pub webview: RawWebview,
    #[serde(default)]
    pub network: RawNetwork,
}

/// `[network] proxy`: `system` (default), `direct`, or `http://[user:password@]host:port`.
#[derive(Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    pub proxy: Option<String>,
}

impl std::fmt::Debug for RawNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The proxy URL may carry a password.
        let proxy = self.proxy.as_deref().map(|p| {
            crate::platform::net::ProxySetting::parse(p)
                .map_or("(invalid)".into(), |p| p.describe())
        });
        f.debug_struct("RawNetwork").field("proxy", &proxy).finish()
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebview {
    pub compositing: Option<Compositing>,
}

/// `[webview] compositing`: WebKitGTK's accelerated compositing. `auto` turns it off only where
/// WebKit would composite in software anyway (no GPU render node): there it costs about
/// 110 MB in the web process (docs/benchmarks.md). The default stays `on`, WebKit's own: with
/// compositing off, the webview stopped answering in some of the e2e tests under Xvfb (the
/// client iframe reloading), so `auto` is for IT to choose on VDI after a pilot, not a default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compositing {
    Auto,
    #[default]
    On,
    Off,
}

impl Compositing {
    /// Whether to turn compositing off: `gpu` says whether a GPU render node is usable,
    /// `forced_by_env` is WEBKIT_DISABLE_COMPOSITING_MODE as the user's session set it (a
    /// support override that is left alone).
    pub fn disable(self, gpu: bool, forced_by_env: bool) -> bool {
        if forced_by_env {
            return false;
        }
        match self {
            Self::Auto => !gpu,
            Self::On => false,
            Self::Off => true,
        }
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawStartup {
    pub autostart: Option<bool>,
    pub close_to_tray: Option<bool>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawLogs {
    pub level: Option<LogLevel>,
}

/// `[logs] level`: how much the log files (and stderr) record. Secrets are never logged at
/// any level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    #[default]
    Info,
    Debug,
}

impl LogLevel {
    /// The filter directive for this level (the GUI toolkit's own chatter stays at warn).
    pub fn directive(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warn => "warn,tao=warn,wry=warn",
            Self::Info => "info,tao=warn,wry=warn",
            Self::Debug => "debug,tao=warn,wry=warn,hyper=info,hyper_util=info,reqwest=info,h2=info,rustls=info",
        }
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawLinks {
    pub allowed_hosts: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawCrm {
    pub interaction_url: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSession {
    pub refresh_margin_secs: Option<u64>,
    pub max_attempts: Option<usize>,
    pub attempt_timeout_secs: Option<u64>,
    pub first_retry_delay_ms: Option<u64>,
    pub max_retry_after_secs: Option<u64>,
    pub forget_at_quit: Option<bool>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawRedirect {
    pub deep_link_scheme: Option<String>,
    pub loopback_ports: Option<Vec<u16>>,
    pub prefer: Option<RedirectMode>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSso {
    pub org: Option<String>,
    pub provider: Option<String>,
    pub prompt_login: Option<bool>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawEmbed {
    pub show_queue_position: Option<bool>,
    pub show_call_controls: Option<bool>,
    pub allow_transfer: Option<bool>,
    pub allow_park: Option<bool>,
    pub allow_conference: Option<bool>,
    pub client_url: Option<String>,
    pub start_timeout_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawEndpoints {
    pub login: Option<String>,
    pub api: Option<String>,
    pub media: Option<String>,
    pub authorize: Option<String>,
    pub token: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawLocalEmulator {
    pub login: String,
    pub api: String,
    pub media: String,
    /// The notification websocket's base (`ws://127.0.0.1:PORT`); the api origin as `ws:`
    /// when unset.
    #[serde(default)]
    pub streaming: Option<String>,
    /// WebKit's fake microphone and camera, for machines without audio hardware (CI, demos).
    #[serde(default)]
    pub mock_media_devices: bool,
}

// ---------------------------------------------------------------------------------------------
// Validated values

/// A validated configuration. Every field is safe to use as is.
#[derive(Debug, Clone, PartialEq)]
pub struct ShellConfig {
    pub target: Target,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub redirect: RedirectConfig,
    pub sso: SsoHints,
    pub embed: EmbedSettings,
    /// How long the embedded client may take from loading to session-start before the agent is
    /// shown a problem and a Reload button instead of a spinner.
    pub client_start_timeout: Duration,
    pub endpoints: Endpoints,
    pub refresh: RefreshPolicy,
    pub links: LinkSettings,
    /// `[logs] level` (info unless set).
    pub log_level: LogLevel,
    /// `[webview] compositing` (on unless set).
    pub compositing: Compositing,
    /// `[startup] autostart`: open the shell when the agent logs in to the desktop (off
    /// unless set; set and locked by IT in practice).
    pub autostart: bool,
    /// `[startup] close_to_tray`: closing the window hides Agent Shell to the tray instead of
    /// quitting (the session and any call go on; the tray's Quit ends it). Off unless set.
    pub close_to_tray: bool,
    /// `[session] forget_at_quit`: quitting signs out (revokes the token, deletes the keychain
    /// entry), for desks several agents share under one OS account (off unless set).
    pub forget_at_quit: bool,
    /// Local emulator only: WebKit's fake capture devices stand in for a microphone.
    pub mock_media_devices: bool,
    /// `[network] proxy`: the proxy every outgoing request of the core uses (system unless set).
    pub proxy: crate::platform::net::ProxySetting,
}

/// `[links]` and `[crm]`: what the embedded client may open in the system browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSettings {
    pub allowed_hosts: Vec<HostPattern>,
    /// Opened in the system browser after each interaction; off when unset.
    pub crm_interaction_url: Option<CrmTemplate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Genesys(GenesysEnvironment),
    /// Explicit local-emulator mode: loopback http endpoints are allowed, and their origins
    /// enter the CSP at runtime.
    LocalEmulator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RedirectMode {
    DeepLink,
    Loopback,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectConfig {
    pub deep_link_scheme: String,
    pub loopback_ports: Vec<u16>,
    pub prefer: RedirectMode,
}

impl RedirectConfig {
    /// `com.agentshell.desktop:/oauth/callback` (RFC 8252 7.1: one slash after the scheme).
    pub fn deep_link_uri(&self) -> String {
        format!("{}:{REDIRECT_PATH}", self.deep_link_scheme)
    }

    /// `http://127.0.0.1:PORT/oauth/callback` (RFC 8252 7.3: the IP literal, never "localhost").
    pub fn loopback_uris(&self) -> Vec<String> {
        self.loopback_ports
            .iter()
            .map(|port| format!("http://127.0.0.1:{port}{REDIRECT_PATH}"))
            .collect()
    }

    /// Every redirect URI the admin must register on the Genesys OAuth client.
    pub fn all_uris(&self) -> Vec<String> {
        let mut uris = vec![self.deep_link_uri()];
        uris.extend(self.loopback_uris());
        uris
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SsoHints {
    pub org: Option<String>,
    pub provider: Option<String>,
    pub prompt_login: bool,
}

/// The guide's embeddedClientSettings; serialised with the guide's camelCase names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmbedSettings {
    pub show_queue_position: bool,
    pub show_call_controls: bool,
    pub allow_transfer: bool,
    pub allow_park: bool,
    pub allow_conference: bool,
}

impl Default for EmbedSettings {
    /// The guide's example values.
    fn default() -> Self {
        Self {
            show_queue_position: true,
            show_call_controls: true,
            allow_transfer: true,
            allow_park: false,
            allow_conference: true,
        }
    }
}

/// Every URL the shell talks to, derived from the environment or overridden.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub login: Url,
    pub api: Url,
    pub media: Url,
    pub authorize: Url,
    pub token: Url,
    pub users_me: Url,
    /// `DELETE` revokes the session's tokens.
    pub tokens_me: Url,
    /// `wss://streaming.{env}`: where the agent client's notification websocket connects.
    pub streaming: Url,
    /// The client page loaded into the iframe (never with credentials in it): the agent
    /// client, or a page of IT's own (`embed.client_url`).
    pub client_page: Url,
    /// The token broker's base URL when policy names one (`token` is then its token endpoint).
    pub broker: Option<Url>,
}

impl Endpoints {
    /// Exact origins (scheme://host[:port]) the embedded client may post messages from.
    pub fn client_origins(&self) -> Vec<String> {
        let mut origins = vec![origin_of(&self.client_page)];
        if self.frames_agent_client() {
            // Only the agent client is framed; Genesys's hosts are its to call, not frames.
            return origins;
        }
        for base in [&self.api, &self.media] {
            let origin = origin_of(base);
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        origins
    }
}

/// `scheme://host[:port]` of a URL, as browsers serialise `event.origin`; also for the
/// shell's own custom schemes (`tauri:`, `agent-client:`), whose URL origin is opaque.
pub fn origin_of(url: &Url) -> String {
    let origin = url.origin();
    if origin.is_tuple() {
        return origin.ascii_serialization();
    }
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{}://{host}:{port}", url.scheme()),
        (Some(host), None) => format!("{}://{host}", url.scheme()),
        _ => "null".to_string(),
    }
}

/// The custom URI scheme the shell serves the agent client from: an origin of its own, apart
/// from the app page's (which holds the IPC rights).
pub const AGENT_CLIENT_SCHEME: &str = "agent-client";

/// The agent client's origin as the webview serialises it: the custom scheme on Linux and
/// macOS, Tauri's `http://<scheme>.localhost` form on Windows (WebView2).
#[cfg(not(windows))]
pub const AGENT_CLIENT_ORIGIN: &str = "agent-client://localhost";
#[cfg(windows)]
pub const AGENT_CLIENT_ORIGIN: &str = "http://agent-client.localhost";

/// The agent client's origin on every platform (the shipped CSP names both).
pub const AGENT_CLIENT_ORIGINS: [&str; 2] =
    ["agent-client://localhost", "http://agent-client.localhost"];

/// The agent client's page, framed unless `embed.client_url` names another.
pub fn agent_client_page() -> Result<Url, url::ParseError> {
    Url::parse(&format!("{AGENT_CLIENT_ORIGIN}/index.html"))
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

impl Endpoints {
    /// Whether the framed page is the shell's own agent client.
    pub fn frames_agent_client(&self) -> bool {
        origin_of(&self.client_page) == AGENT_CLIENT_ORIGIN
    }
}

impl ShellConfig {
    /// What the status bar shows as "environment".
    pub fn environment_label(&self) -> String {
        match self.target {
            Target::Genesys(env) => env.name().to_string(),
            Target::LocalEmulator => {
                format!(
                    "Local emulator ({})",
                    self.endpoints.login.host_str().unwrap_or("loopback")
                )
            }
        }
    }

    pub fn is_local_emulator(&self) -> bool {
        self.target == Target::LocalEmulator
    }
}

// ---------------------------------------------------------------------------------------------
// Validation

pub fn validate(raw: RawConfig) -> Result<ShellConfig, ConfigError> {
    let local = raw.local_emulator.is_some();
    let (target, bases) = match (&raw.environment, &raw.local_emulator) {
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
        (Some(name), None) => {
            let env = GenesysEnvironment::parse(name).ok_or_else(|| {
                ConfigError::UnknownEnvironment {
                    value: name.clone(),
                }
            })?;
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
        compositing: raw.webview.compositing.unwrap_or_default(),
        proxy: match raw.network.proxy.as_deref() {
            None => crate::platform::net::ProxySetting::System,
            Some(text) => {
                crate::platform::net::ProxySetting::parse(text).map_err(|reason| {
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
            crate::session::refresh::EMULATOR_MIN_LIFETIME
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

fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn err(text: &str) -> ConfigError {
        parse_str(text).expect_err("config should be rejected")
    }

    const MINIMAL: &str = "environment = \"mypurecloud.ie\"\nclient_id = \"abc-123\"\n";

    #[test]
    fn minimal_file_gets_documented_defaults() {
        let config = parse_str(MINIMAL).unwrap();
        assert_eq!(
            config.target,
            Target::Genesys(GenesysEnvironment::parse("mypurecloud.ie").unwrap())
        );
        assert_eq!(config.scopes, REQUIRED_SCOPES.map(String::from).to_vec());
        assert_eq!(
            config.endpoints.authorize.as_str(),
            "https://login.mypurecloud.ie/oauth/authorize"
        );
        assert_eq!(
            config.endpoints.token.as_str(),
            "https://login.mypurecloud.ie/oauth/token"
        );
        // The shell's own agent client, on its own origin, talking to Genesys's hosts.
        assert_eq!(
            config.endpoints.client_page.as_str(),
            format!("{AGENT_CLIENT_ORIGIN}/index.html")
        );
        assert!(config.endpoints.frames_agent_client());
        assert!(
            !config.close_to_tray,
            "closing quits unless IT says otherwise"
        );
        let to_tray = parse_str(&format!("{MINIMAL}[startup]\nclose_to_tray = true\n")).unwrap();
        assert!(to_tray.close_to_tray);
        assert_eq!(config.endpoints.client_origins(), vec![AGENT_CLIENT_ORIGIN]);
        assert_eq!(
            config.endpoints.streaming.as_str(),
            "wss://streaming.mypurecloud.ie/"
        );
        assert_eq!(
            config.redirect.all_uris(),
            vec![
                "com.agentshell.desktop:/oauth/callback".to_string(),
                "http://127.0.0.1:47615/oauth/callback".to_string()
            ]
        );
        assert_eq!(config.embed, EmbedSettings::default());
        assert!(!config.embed.allow_park);
        assert_eq!(config.client_start_timeout, Duration::from_secs(45));
        assert_eq!(config.environment_label(), "mypurecloud.ie");
    }

    #[test]
    fn full_file_is_read_into_typed_values() {
        let config = parse_str(
            r#"
            environment = "usw2.pure.cloud"
            client_id = "client-1"
            scopes = ["users:readonly", "presence", "routing", "conversations",
                      "notifications", "stations:readonly", "organization:readonly", "analytics:readonly"]
            [redirect]
            deep_link_scheme = "com.example.agents"
            loopback_ports = [50123, 50124]
            prefer = "loopback"
            [sso]
            org = "acme"
            provider = "okta"
            prompt_login = true
            [embed]
            show_queue_position = false
            allow_park = true
            start_timeout_secs = 90
            [endpoints]
            token = "https://broker.example.com/token"
            "#,
        )
        .unwrap();
        assert_eq!(config.scopes.len(), 8);
        assert_eq!(config.redirect.prefer, RedirectMode::Loopback);
        assert_eq!(config.redirect.loopback_ports, vec![50123, 50124]);
        assert_eq!(
            config.redirect.deep_link_uri(),
            "com.example.agents:/oauth/callback"
        );
        assert_eq!(config.sso.provider.as_deref(), Some("okta"));
        assert!(config.sso.prompt_login);
        assert!(!config.embed.show_queue_position && config.embed.allow_park);
        assert_eq!(config.client_start_timeout, Duration::from_secs(90));
        assert_eq!(
            config.endpoints.token.as_str(),
            "https://broker.example.com/token"
        );
    }

    #[test]
    fn embed_settings_serialise_with_the_guides_names() {
        let json = serde_json::to_value(EmbedSettings::default()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"showQueuePosition": true, "showCallControls": true,
                "allowTransfer": true, "allowPark": false, "allowConference": true})
        );
    }

    #[test]
    fn unknown_environment_names_the_key_and_the_known_list() {
        let e = err("environment = \"mypurecloud.evil\"\nclient_id = \"x\"");
        assert_eq!(e.code(), "config_unknown_environment");
        let message = e.to_string();
        assert!(message.contains("`environment`") && message.contains("mypurecloud.evil"));
        assert!(message.contains("usw2.pure.cloud"), "{message}");
    }

    #[test]
    fn wildcard_origins_are_refused() {
        let e = err(&format!(
            "{MINIMAL}[endpoints]\napi = \"https://*.mypurecloud.ie\""
        ));
        assert_eq!(e.code(), "config_wildcard_origin");
        assert!(e.to_string().contains("`endpoints.api`"), "{e}");
        let e = err(&format!(
            "{MINIMAL}[embed]\nclient_url = \"https://*.example.com/client\""
        ));
        assert_eq!(e.code(), "config_wildcard_origin");
    }

    #[test]
    fn plain_http_is_refused_outside_local_emulator_mode() {
        let e = err(&format!(
            "{MINIMAL}[endpoints]\nlogin = \"http://127.0.0.1:9000\""
        ));
        assert_eq!(e.code(), "config_insecure_endpoint");
        assert!(e.to_string().contains("`endpoints.login`"), "{e}");
        let e = err(&format!(
            "{MINIMAL}[endpoints]\ntoken = \"http://broker.example.com/token\""
        ));
        assert_eq!(e.code(), "config_insecure_endpoint");
    }

    #[test]
    fn local_emulator_mode_allows_loopback_http_only() {
        let ok = parse_str(
            "client_id = \"agent-shell-demo\"\n[local_emulator]\nlogin = \"http://127.0.0.1:9000\"\napi = \"http://127.0.0.1:9001\"\nmedia = \"http://[::1]:9002\"\n",
        )
        .unwrap();
        assert!(ok.is_local_emulator());
        assert_eq!(
            ok.endpoints.token.as_str(),
            "http://127.0.0.1:9000/oauth/token"
        );
        assert_eq!(ok.environment_label(), "Local emulator (127.0.0.1)");
        // The agent client by default; the emulator's websocket on its api port.
        assert_eq!(ok.endpoints.client_origins(), vec![AGENT_CLIENT_ORIGIN]);
        assert_eq!(ok.endpoints.streaming.as_str(), "ws://127.0.0.1:9001/");
        let ok = parse_str(
            "client_id = \"agent-shell-demo\"\n[embed]\nclient_url = \"http://127.0.0.1:9001/embedded-client/\"\n[local_emulator]\nlogin = \"http://127.0.0.1:9000\"\napi = \"http://127.0.0.1:9001\"\nmedia = \"http://[::1]:9002\"\n",
        )
        .unwrap();
        assert_eq!(
            ok.endpoints.client_origins(),
            vec![
                "http://127.0.0.1:9001".to_string(),
                "http://[::1]:9002".to_string()
            ]
        );
        let e = err("client_id = \"x\"\n[local_emulator]\nlogin = \"http://10.0.0.5:9000\"\napi = \"http://127.0.0.1:9001\"\nmedia = \"http://127.0.0.1:9002\"\n");
        assert_eq!(e.code(), "config_invalid_value");
        assert!(e.to_string().contains("`local_emulator.login`"), "{e}");
    }

    #[test]
    fn environment_and_local_emulator_conflict() {
        let e = err(&format!("{MINIMAL}[local_emulator]\nlogin = \"http://127.0.0.1:1\"\napi = \"http://127.0.0.1:2\"\nmedia = \"http://127.0.0.1:3\"\n"));
        assert_eq!(e.code(), "config_conflict");
    }

    #[test]
    fn missing_required_scope_is_named_with_its_consequence() {
        let e = err(&format!(
            "{MINIMAL}scopes = [\"users\", \"presence\", \"routing\", \"notifications\", \"stations:readonly\", \"organization:readonly\"]"
        ));
        assert_eq!(e.code(), "config_missing_scope");
        let message = e.to_string();
        assert!(
            message.contains("conversations: without conversations"),
            "{message}"
        );
        assert!(message.contains("answer, hold"), "{message}");
    }

    #[test]
    fn missing_keys_are_named() {
        assert_eq!(err("client_id = \"x\"").code(), "config_missing_key");
        let e = err("environment = \"mypurecloud.com\"");
        assert!(e.to_string().contains("`client_id`"), "{e}");
        let e = err(&format!("{MINIMAL}[sso]\nprovider = \"okta\""));
        assert!(e.to_string().contains("`sso.org`"), "{e}");
    }

    #[test]
    fn typos_and_wrong_types_are_syntax_errors_with_the_key() {
        let e = err(&format!("{MINIMAL}enviroment = \"x\""));
        assert_eq!(e.code(), "config_syntax");
        assert!(e.to_string().contains("enviroment"), "{e}");
        let e = err(&format!("{MINIMAL}[embed]\nallow_park = \"yes\""));
        assert_eq!(e.code(), "config_syntax");
        assert!(e.to_string().contains("allow_park"), "{e}");
        assert_eq!(err("environment = ").code(), "config_syntax");
    }

    #[test]
    fn bad_values_are_refused() {
        for (snippet, key) in [
            (
                "[redirect]\ndeep_link_scheme = \"https\"",
                "redirect.deep_link_scheme",
            ),
            (
                "[redirect]\ndeep_link_scheme = \"Com.Example\"",
                "redirect.deep_link_scheme",
            ),
            (
                "[redirect]\nloopback_ports = [80]",
                "redirect.loopback_ports",
            ),
            (
                "[redirect]\nloopback_ports = []\nprefer = \"loopback\"",
                "redirect.loopback_ports",
            ),
            (
                "[sso]\norg = \"acme\"\nprovider = \"myidp\"",
                "sso.provider",
            ),
            ("[sso]\norg = \"a b\"", "sso.org"),
            ("scopes = [\"users presence\"]", "scopes"),
            (
                "[endpoints]\napi = \"https://api.mypurecloud.ie/v2\"",
                "endpoints.api",
            ),
            (
                "[endpoints]\ntoken = \"https://user:pw@broker.example.com/t\"",
                "endpoints.token",
            ),
            (
                "[endpoints]\ntoken = \"ftp://broker.example.com/t\"",
                "endpoints.token",
            ),
        ] {
            let e = err(&format!("{MINIMAL}{snippet}"));
            assert!(
                e.to_string().contains(&format!("`{key}`")),
                "{snippet}: {e}"
            );
        }
        let e = err("environment = \"mypurecloud.ie\"\nclient_id = \"has space\"");
        assert_eq!(e.code(), "config_invalid_value");
    }

    #[test]
    fn session_settings_change_the_refresh_policy_within_bounds() {
        assert_eq!(
            parse_str(MINIMAL).unwrap().refresh,
            RefreshPolicy::default()
        );
        let config = parse_str(&format!(
            "{MINIMAL}[session]\nrefresh_margin_secs = 300\nmax_attempts = 2\nattempt_timeout_secs = 5\n"
        ))
        .unwrap();
        assert_eq!(config.refresh.margin, Duration::from_secs(300));
        assert_eq!(config.refresh.max_attempts, 2);
        assert_eq!(config.refresh.attempt_timeout, Duration::from_secs(5));
        for (snippet, key) in [
            ("max_attempts = 4", "session.max_attempts"),
            ("max_attempts = 0", "session.max_attempts"),
            ("attempt_timeout_secs = 0", "session.attempt_timeout_secs"),
            ("refresh_margin_secs = 20", "session.refresh_margin_secs"),
        ] {
            let e = err(&format!("{MINIMAL}[session]\n{snippet}\n"));
            assert!(
                e.to_string().contains(&format!("`{key}`")),
                "{snippet}: {e}"
            );
        }
        let e = err(&format!("{MINIMAL}[session]\nrefresh_margin_secs = 20\n"));
        assert!(
            e.to_string().contains("leaves no room for 3 attempts"),
            "{e}"
        );
    }

    #[test]
    fn client_url_stays_on_the_environments_origins_and_carries_no_credentials() {
        let ok = parse_str(&format!(
            "{MINIMAL}[embed]\nclient_url = \"https://apps.mypurecloud.ie/embedded-client/?lang=de\"\n"
        ));
        // apps.{env} is not the api or media origin of mypurecloud.ie.
        let e = ok.unwrap_err();
        assert!(
            e.to_string()
                .contains("must be on the environment's api or media origin"),
            "{e}"
        );
        let config = parse_str(&format!(
            "{MINIMAL}[embed]\nclient_url = \"https://api.mypurecloud.ie/embedded-client/v2/?lang=de\"\n"
        ))
        .unwrap();
        assert_eq!(
            config.endpoints.client_page.as_str(),
            "https://api.mypurecloud.ie/embedded-client/v2/?lang=de"
        );
        for name in ["access_token", "Token", "code"] {
            let e = err(&format!(
                "{MINIMAL}[embed]\nclient_url = \"https://api.mypurecloud.ie/embedded-client/?{name}=abc\"\n"
            ));
            assert_eq!(e.code(), "config_invalid_value");
            assert!(
                e.to_string()
                    .contains(&format!("remove the `{name}` parameter")),
                "{e}"
            );
            assert!(
                !e.to_string().contains("abc"),
                "the value is not echoed: {e}"
            );
        }
    }

    #[test]
    fn client_start_timeout_is_bounded() {
        for value in ["4", "601"] {
            let e = err(&format!("{MINIMAL}[embed]\nstart_timeout_secs = {value}\n"));
            assert!(
                e.to_string().contains("`embed.start_timeout_secs`")
                    && e.to_string().contains("must be from 5 to 600"),
                "{e}"
            );
        }
        let e = err(&format!(
            "{MINIMAL}[embed]\nstart_timeout_secs = \"soon\"\n"
        ));
        assert_eq!(e.code(), "config_syntax", "{e}");
    }

    #[test]
    fn locate_prefers_cli_then_env_then_existing_user_file() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("config.toml");
        let cli = Path::new("/etc/cli.toml");
        let env = std::ffi::OsStr::new("/etc/env.toml");
        assert_eq!(
            locate(Some(cli), Some(env), Some(&user)),
            Some((cli.to_path_buf(), ConfigOrigin::CommandLine))
        );
        assert_eq!(
            locate(None, Some(env), Some(&user)),
            Some((
                PathBuf::from("/etc/env.toml"),
                ConfigOrigin::EnvironmentVariable
            ))
        );
        assert_eq!(
            locate(None, Some(std::ffi::OsStr::new("")), Some(&user)),
            None
        );
        std::fs::write(&user, MINIMAL).unwrap();
        assert_eq!(
            locate(None, None, Some(&user)),
            Some((user.clone(), ConfigOrigin::UserConfigDir))
        );
    }

    #[test]
    fn loading_a_file_reports_missing_unreadable_and_oversize_files() {
        // Files are read through the policy layer (here without a policy).
        let load_file = |path: &Path, origin: ConfigOrigin| {
            crate::config::policy::load_files(None, Some((path, origin)))
                .map(|layered| layered.expect("a named file is a configuration").config)
        };
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        let e = load_file(&missing, ConfigOrigin::CommandLine).unwrap_err();
        assert_eq!(e.code(), "config_not_found");
        assert!(e.to_string().contains("--config"), "{e}");

        let big = dir.path().join("big.toml");
        std::fs::write(&big, "#".repeat(300 * 1024)).unwrap();
        assert_eq!(
            load_file(&big, ConfigOrigin::CommandLine)
                .unwrap_err()
                .code(),
            "config_unreadable"
        );

        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "environment = [").unwrap();
        let e = load_file(&bad, ConfigOrigin::UserConfigDir).unwrap_err();
        assert_eq!(e.code(), "config_syntax");
        assert!(e.to_string().contains("bad.toml"), "{e}");

        let good = dir.path().join("good.toml");
        std::fs::write(&good, MINIMAL).unwrap();
        assert!(load_file(&good, ConfigOrigin::UserConfigDir).is_ok());
    }

    #[test]
    fn example_config_in_docs_is_valid() {
        let text = include_str!("../../../../docs/config.example.toml");
        parse_str(text).unwrap();
    }

    #[test]
    fn links_and_crm_are_validated_with_the_key_named() {
        let config = parse_str(MINIMAL).unwrap();
        assert_eq!(
            config.links.allowed_hosts,
            vec![
                HostPattern::Exact("help.mypurecloud.com".into()),
                HostPattern::Exact("help.genesys.cloud".into())
            ]
        );
        assert_eq!(config.links.crm_interaction_url, None);
        assert!(!config.mock_media_devices);
        for (extra, key) in [
            (
                "[links]\nallowed_hosts = [\"https://help.example.com\"]",
                "links.allowed_hosts",
            ),
            (
                "[links]\nallowed_hosts = [\"*.com\"]",
                "links.allowed_hosts",
            ),
            (
                "[crm]\ninteraction_url = \"https://crm.example.com/case\"",
                "crm.interaction_url",
            ),
            (
                "[crm]\ninteraction_url = \"http://crm.example.com/{interactionId}\"",
                "crm.interaction_url",
            ),
        ] {
            let e = parse_str(&format!("{MINIMAL}{extra}\n")).unwrap_err();
            assert_eq!(e.code(), "config_invalid_value", "{extra}");
            assert!(e.to_string().contains(key), "{e}");
        }
        let e = parse_str(&format!("{MINIMAL}[links]\nallowed_host = []\n")).unwrap_err();
        assert_eq!(e.code(), "config_syntax");
        let e = parse_str(&format!("{MINIMAL}[crm]\nurl = \"x\"\n")).unwrap_err();
        assert_eq!(e.code(), "config_syntax");
    }

    #[test]
    fn compositing_goes_off_only_without_a_gpu_unless_set() {
        use super::Compositing::*;
        assert_eq!(super::Compositing::default(), On);
        assert!(Auto.disable(false, false));
        assert!(!Auto.disable(true, false));
        assert!(!On.disable(false, false));
        assert!(Off.disable(true, false));
        // The session's own WEBKIT_DISABLE_COMPOSITING_MODE is left to WebKit.
        assert!(!Off.disable(false, true));
        let config = parse_str(
            "environment = \"mypurecloud.ie\"\nclient_id = \"c\"\n[webview]\ncompositing = \"on\"\n",
        )
        .unwrap();
        assert_eq!(config.compositing, On);
    }
}
