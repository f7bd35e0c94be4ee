//! The validated configuration: values that can no longer be wrong, and the narrow views
//! (endpoints, link settings, redirect, embed) other parts take instead of the whole of it.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use super::environment::GenesysEnvironment;
use super::raw::*;
use super::values::*;

/// Reverse-DNS custom scheme (RFC 8252 7.1) used when the config names none.
pub const DEFAULT_DEEP_LINK_SCHEME: &str = "com.agentshell.desktop";
/// Fixed loopback port: Genesys matches redirect URIs exactly, so the port cannot be random.
pub const DEFAULT_LOOPBACK_PORT: u16 = 47615;
/// Path of the redirect URI on both redirect transports.
pub const REDIRECT_PATH: &str = "/oauth/callback";

/// Identity-provider hints Genesys accepts in `provider` (they skip the Genesys login page).
pub const KNOWN_SSO_PROVIDERS: [&str; 6] =
    ["adfs", "gsuite", "okta", "onelogin", "ping", "salesforce"];

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
    /// `[webview] compositing` (auto unless set).
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
    /// `[session] sign_out_on_lock`: locking the desktop signs out (never during a call).
    pub sign_out_on_lock: bool,
    /// Local emulator only: WebKit's fake capture devices stand in for a microphone.
    pub mock_media_devices: bool,
    /// `[network] proxy`: the proxy every outgoing request of the core uses (system unless set).
    pub proxy: ProxySetting,
}

/// `[links]` and `[crm]`: what the embedded client may open in the system browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSettings {
    pub allowed_hosts: Vec<HostPattern>,
    /// Opened in the system browser after each interaction; off when unset.
    pub crm_interaction_url: Option<CrmTemplate>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
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

impl Endpoints {
    /// Whether the framed page is the shell's own agent client.
    pub fn frames_agent_client(&self) -> bool {
        origin_of(&self.client_page) == AGENT_CLIENT_ORIGIN
    }
}

impl ShellConfig {
    /// What the status bar shows as "environment".
    pub fn environment_label(&self) -> String {
        match &self.target {
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

/// How a local emulator's keychain account begins (`local-emulator@ORIGIN/CLIENT_ID`).
pub const LOCAL_EMULATOR_ACCOUNT_PREFIX: &str = "local-emulator@";

impl ShellConfig {
    /// The keychain account of this configuration's saved sign-in: one per environment and
    /// OAuth client, so two orgs never collide. When the token endpoint is not the
    /// environment's own login host (a broker or proxy named by machine policy), its origin is
    /// part of the name: a refresh token is only ever read back for the endpoint that issued
    /// it, and a changed endpoint means a fresh sign-in.
    pub fn keychain_account(&self) -> String {
        let environment = match &self.target {
            Target::Genesys(env) => env.name().to_string(),
            // The whole origin: two emulators on one machine differ only by port.
            Target::LocalEmulator => format!(
                "{LOCAL_EMULATOR_ACCOUNT_PREFIX}{}",
                origin_of(&self.endpoints.login)
            ),
        };
        let token_origin = origin_of(&self.endpoints.token);
        if token_origin == origin_of(&self.endpoints.login) {
            format!("{environment}/{}", self.client_id)
        } else {
            format!("{environment}/{}@{token_origin}", self.client_id)
        }
    }
}
