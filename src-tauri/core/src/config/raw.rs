//! The file's raw shape as serde reads it. Unknown keys are errors, so a typo never falls
//! back silently to a default.

use serde::{Deserialize, Serialize};

use super::model::*;
use super::values::*;

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub environment: Option<String>,
    /// A Genesys region this build does not list (its domain): machine policy only.
    pub custom_environment: Option<String>,
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
        let proxy = self
            .proxy
            .as_deref()
            .map(|p| ProxySetting::parse(p).map_or("(invalid)".into(), |p| p.describe()));
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
/// 110 MB in the web process (docs/benchmarks.md). `auto` is the default: the "freeze" that
/// once held it back was WebKitWebDriver's screenshot waiting for a repaint that a still page
/// never makes without compositing, not the webview (docs/benchmarks.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compositing {
    #[default]
    Auto,
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
    pub sign_out_on_lock: Option<bool>,
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
    /// The notification websocket's base (`wss://host`).
    pub streaming: Option<String>,
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
