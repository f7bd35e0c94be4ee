//! The one table of every setting machine policy can set: its configuration key, its policy
//! name (Windows registry value under `HKLM\SOFTWARE\Policies\AgentShell`, then HKCU; macOS
//! forced managed-preference key of `com.agentshell.desktop`), its type, default, range and the
//! first version that reads it. The readers map values through it ([`super::values`]), and the
//! ADMX/ADML templates and docs/policy-reference.md are rendered from it
//! ([`super::documents`]), so the three never disagree.

use crate::config::environment::KNOWN_ENVIRONMENTS;
use crate::config::{DEFAULT_DEEP_LINK_SCHEME, KNOWN_SSO_PROVIDERS};

/// The value type of a setting, as every store holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string; `allowed` lists the only values accepted (empty: any text the key accepts).
    Text { allowed: &'static [&'static str] },
    /// A whole number from `min` to `max` (inclusive).
    Integer { min: u32, max: u32 },
    /// true or false.
    Bool,
    /// A list of strings.
    TextList,
    /// A list of whole numbers, each from `min` to `max`.
    IntegerList { min: u32, max: u32 },
}

impl Kind {
    /// The type in words (the reference's "type" column, and error messages).
    pub fn label(self) -> &'static str {
        match self {
            Self::Text { .. } => "string",
            Self::Integer { .. } => "integer",
            Self::Bool => "boolean",
            Self::TextList => "list of strings",
            Self::IntegerList { .. } => "list of integers",
        }
    }

    /// The Windows registry value kind Group Policy and the readers use.
    pub fn registry_kind(self) -> &'static str {
        match self {
            Self::Text { .. } => "REG_SZ",
            Self::Integer { .. } | Self::Bool => "REG_DWORD",
            Self::TextList | Self::IntegerList { .. } => "REG_MULTI_SZ",
        }
    }

    /// The property-list type of the macOS managed preference.
    pub fn plist_type(self) -> &'static str {
        match self {
            Self::Text { .. } => "string",
            Self::Integer { .. } => "integer",
            Self::Bool => "boolean",
            Self::TextList => "array of strings",
            Self::IntegerList { .. } => "array of integers",
        }
    }

    /// The accepted range or values in words (empty when any value of the type is accepted).
    pub fn range(self) -> String {
        match self {
            Self::Text { allowed } => allowed.join(", "),
            Self::Integer { min, max } | Self::IntegerList { min, max } => format!("{min}-{max}"),
            Self::Bool => "true, false (1, 0)".to_string(),
            Self::TextList => String::new(),
        }
    }
}

/// The group a setting is shown under (ADMX categories, the reference's sections).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    Genesys,
    SignIn,
    Endpoints,
    Embed,
    Session,
    Links,
    Desktop,
}

impl Category {
    pub const ALL: [Category; 7] = [
        Self::Genesys,
        Self::SignIn,
        Self::Endpoints,
        Self::Embed,
        Self::Session,
        Self::Links,
        Self::Desktop,
    ];

    /// The ADMX category name (an identifier).
    pub fn id(self) -> &'static str {
        match self {
            Self::Genesys => "Genesys",
            Self::SignIn => "SignIn",
            Self::Endpoints => "Endpoints",
            Self::Embed => "Embed",
            Self::Session => "Session",
            Self::Links => "Links",
            Self::Desktop => "Desktop",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::Genesys => "Genesys Cloud org",
            Self::SignIn => "Sign-in",
            Self::Endpoints => "Where tokens go (machine policy only)",
            Self::Embed => "Agent client",
            Self::Session => "Session renewal",
            Self::Links => "Links and CRM",
            Self::Desktop => "Desktop",
        }
    }
}

/// One setting machine policy can set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The dotted key in the configuration file (and the Linux policy file).
    pub key: &'static str,
    /// The registry value / managed-preference key (compared without regard to ASCII case).
    pub name: &'static str,
    pub kind: Kind,
    /// The built-in default: a literal value in the policy's own syntax (lists comma
    /// separated), or a description in parentheses when it is not one fixed value.
    pub default: &'static str,
    pub category: Category,
    /// The first Agent Shell version that reads this policy name from the registry and
    /// managed preferences (the Linux policy file has read every key since 0.1.0).
    pub since: &'static str,
    /// One or two sentences for the reference and the Group Policy editor.
    pub description: &'static str,
}

impl Setting {
    /// Whether only machine policy may set it (it decides where sign-in tokens are sent).
    pub fn policy_only(&self) -> bool {
        super::POLICY_ONLY_KEYS
            .iter()
            .any(|k| self.key == *k || self.key.starts_with(&format!("{k}.")))
    }
}

/// The setting with this policy name, compared without regard to ASCII case (on every OS).
pub fn by_name(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

/// The setting with this configuration key, compared without regard to ASCII case.
pub fn by_key(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key.eq_ignore_ascii_case(key))
}

/// Every policy name, in table order.
pub fn names() -> Vec<&'static str> {
    SETTINGS.iter().map(|s| s.name).collect()
}

const SSO_PROVIDERS: &[&str] = &KNOWN_SSO_PROVIDERS;
const ENVIRONMENTS: &[&str] = &KNOWN_ENVIRONMENTS;
const TEXT: Kind = Kind::Text { allowed: &[] };
const V1: &str = "0.1.0";
const V2: &str = "0.2.0";

/// Every setting policy can set. `[local_emulator]` (development only) is the one part of the
/// configuration file that is not here: no desktop in a fleet points at a local emulator.
pub const SETTINGS: &[Setting] = &[
    Setting {
        key: "environment",
        name: "Environment",
        kind: Kind::Text {
            allowed: ENVIRONMENTS,
        },
        default: "(required)",
        category: Category::Genesys,
        since: V1,
        description: "The Genesys Cloud environment (region) of the org, e.g. mypurecloud.ie.",
    },
    Setting {
        key: "custom_environment",
        name: "CustomEnvironment",
        kind: TEXT,
        default: "(none)",
        category: Category::Genesys,
        since: V2,
        description: "A Genesys Cloud region this version does not list, by its domain (e.g. euc3.pure.cloud): its login, api, apps, streaming and media hosts are that domain's login., api., apps., streaming. and media. names, and enter the content security policy. Machine policy only; leave Environment unset (or set it to the same domain). The Endpoints settings override single hosts.",
    },
    Setting {
        key: "client_id",
        name: "ClientId",
        kind: TEXT,
        default: "(required)",
        category: Category::Genesys,
        since: V1,
        description: "The id of the Genesys Cloud OAuth client (grant type Code Authorization), at most 128 printable ASCII characters.",
    },
    Setting {
        key: "scopes",
        name: "Scopes",
        kind: Kind::TextList,
        default: "(the seven required scopes)",
        category: Category::Genesys,
        since: V1,
        description: "The OAuth scopes requested at sign-in. Must include users:readonly presence routing conversations notifications stations:readonly organization:readonly; may add more.",
    },
    Setting {
        key: "sso.org",
        name: "SsoOrg",
        kind: TEXT,
        default: "(none)",
        category: Category::SignIn,
        since: V1,
        description: "The org's short name (letters, digits, - _ .). With SsoProvider, the browser goes straight to your identity provider.",
    },
    Setting {
        key: "sso.provider",
        name: "SsoProvider",
        kind: Kind::Text {
            allowed: SSO_PROVIDERS,
        },
        default: "(none)",
        category: Category::SignIn,
        since: V1,
        description: "The identity provider to go straight to at sign-in (needs SsoOrg).",
    },
    Setting {
        key: "sso.prompt_login",
        name: "SsoPromptLogin",
        kind: Kind::Bool,
        default: "false",
        category: Category::SignIn,
        since: V1,
        description: "Always ask the identity provider for credentials (prompt=login).",
    },
    Setting {
        key: "redirect.prefer",
        name: "RedirectPrefer",
        kind: Kind::Text {
            allowed: &["deep-link", "loopback"],
        },
        default: "deep-link",
        category: Category::SignIn,
        since: V1,
        description: "How the browser hands the sign-in back: the deep link, or the loopback address first.",
    },
    Setting {
        key: "redirect.deep_link_scheme",
        name: "DeepLinkScheme",
        kind: TEXT,
        default: DEFAULT_DEEP_LINK_SCHEME,
        category: Category::SignIn,
        since: V2,
        description: "The custom URI scheme of the sign-in redirect SCHEME:/oauth/callback: lower-case reverse DNS of a domain you control (RFC 8252 7.1). The installers register only the default.",
    },
    Setting {
        key: "redirect.loopback_ports",
        name: "LoopbackPorts",
        kind: Kind::IntegerList {
            min: 1024,
            max: 65535,
        },
        default: "47615",
        category: Category::SignIn,
        since: V2,
        description: "Fixed ports of the loopback fallback http://127.0.0.1:PORT/oauth/callback, each registered exactly on the OAuth client.",
    },
    Setting {
        key: "token_broker",
        name: "TokenBroker",
        kind: TEXT,
        default: "(none)",
        category: Category::Endpoints,
        since: V1,
        description: "The https base URL of an Agent Shell token broker: the code exchange and every refresh go to BROKER/oauth/token. Cannot be combined with TokenEndpoint.",
    },
    Setting {
        key: "endpoints.login",
        name: "LoginEndpoint",
        kind: TEXT,
        default: "(https://login.{environment})",
        category: Category::Endpoints,
        since: V2,
        description: "The login base URL (https://host only), e.g. a reverse proxy.",
    },
    Setting {
        key: "endpoints.api",
        name: "ApiEndpoint",
        kind: TEXT,
        default: "(https://api.{environment})",
        category: Category::Endpoints,
        since: V2,
        description: "The Platform API base URL (https://host only).",
    },
    Setting {
        key: "endpoints.media",
        name: "MediaEndpoint",
        kind: TEXT,
        default: "(https://media.{environment})",
        category: Category::Endpoints,
        since: V2,
        description: "The media base URL (https://host only).",
    },
    Setting {
        key: "endpoints.streaming",
        name: "StreamingEndpoint",
        kind: TEXT,
        default: "(wss://streaming.{environment})",
        category: Category::Endpoints,
        since: V2,
        description: "The notification websocket base URL (wss://host only).",
    },
    Setting {
        key: "endpoints.authorize",
        name: "AuthorizeEndpoint",
        kind: TEXT,
        default: "({login}/oauth/authorize)",
        category: Category::Endpoints,
        since: V1,
        description: "The https authorization endpoint.",
    },
    Setting {
        key: "endpoints.token",
        name: "TokenEndpoint",
        kind: TEXT,
        default: "({login}/oauth/token)",
        category: Category::Endpoints,
        since: V1,
        description: "The https token endpoint (e.g. a reverse proxy). Cannot be combined with TokenBroker.",
    },
    Setting {
        key: "embed.show_queue_position",
        name: "EmbedShowQueuePosition",
        kind: Kind::Bool,
        default: "true",
        category: Category::Embed,
        since: V2,
        description: "Client setting showQueuePosition.",
    },
    Setting {
        key: "embed.show_call_controls",
        name: "EmbedShowCallControls",
        kind: Kind::Bool,
        default: "true",
        category: Category::Embed,
        since: V2,
        description: "Client setting showCallControls.",
    },
    Setting {
        key: "embed.allow_transfer",
        name: "EmbedAllowTransfer",
        kind: Kind::Bool,
        default: "true",
        category: Category::Embed,
        since: V2,
        description: "Client setting allowTransfer.",
    },
    Setting {
        key: "embed.allow_park",
        name: "EmbedAllowPark",
        kind: Kind::Bool,
        default: "false",
        category: Category::Embed,
        since: V2,
        description: "Client setting allowPark.",
    },
    Setting {
        key: "embed.allow_conference",
        name: "EmbedAllowConference",
        kind: Kind::Bool,
        default: "true",
        category: Category::Embed,
        since: V2,
        description: "Client setting allowConference.",
    },
    Setting {
        key: "embed.client_url",
        name: "EmbedClientUrl",
        kind: TEXT,
        default: "(the built-in agent client)",
        category: Category::Embed,
        since: V2,
        description: "An https page of your own to frame instead of the agent client; it must be on the environment's api or media origin, without credentials in its query.",
    },
    Setting {
        key: "embed.start_timeout_secs",
        name: "EmbedStartTimeoutSecs",
        kind: Kind::Integer { min: 5, max: 600 },
        default: "45",
        category: Category::Embed,
        since: V2,
        description: "Seconds the client may take to start before the agent sees a Reload button. Raise it for slow virtual desktops.",
    },
    Setting {
        key: "session.refresh_margin_secs",
        name: "RefreshMarginSecs",
        kind: Kind::Integer { min: 10, max: 3600 },
        default: "120",
        category: Category::Session,
        since: V2,
        description: "Renew the access token this many seconds before it expires; must leave room for every attempt.",
    },
    Setting {
        key: "session.max_attempts",
        name: "RefreshMaxAttempts",
        kind: Kind::Integer { min: 1, max: 3 },
        default: "3",
        category: Category::Session,
        since: V2,
        description: "Token requests per renewal before the agent is asked to sign in again.",
    },
    Setting {
        key: "session.attempt_timeout_secs",
        name: "RefreshAttemptTimeoutSecs",
        kind: Kind::Integer { min: 1, max: 60 },
        default: "10",
        category: Category::Session,
        since: V2,
        description: "Timeout of each token request, in seconds.",
    },
    Setting {
        key: "session.first_retry_delay_ms",
        name: "RefreshFirstRetryDelayMs",
        kind: Kind::Integer {
            min: 50,
            max: 10_000,
        },
        default: "500",
        category: Category::Session,
        since: V2,
        description: "First backoff delay in milliseconds; it doubles with jitter, up to 4 s.",
    },
    Setting {
        key: "session.max_retry_after_secs",
        name: "RefreshMaxRetryAfterSecs",
        kind: Kind::Integer { min: 0, max: 60 },
        default: "10",
        category: Category::Session,
        since: V2,
        description: "The longest Retry-After (seconds) a renewal waits for.",
    },
    Setting {
        key: "session.forget_at_quit",
        name: "ForgetSignInAtQuit",
        kind: Kind::Bool,
        default: "false",
        category: Category::Session,
        since: V2,
        description: "Sign out when Agent Shell quits (the token is revoked and the saved sign-in deleted), for desks several agents share under one OS account.",
    },
    Setting {
        key: "session.sign_out_on_lock",
        name: "SignOutOnLock",
        kind: Kind::Bool,
        default: "false",
        category: Category::Session,
        since: V2,
        description: "Sign out when the desktop session is locked (never during a call: then as soon as the call ends, if the desktop is still locked).",
    },
    Setting {
        key: "links.allowed_hosts",
        name: "AllowedLinkHosts",
        kind: Kind::TextList,
        default: "help.mypurecloud.com, help.genesys.cloud",
        category: Category::Links,
        since: V1,
        description: "Hosts whose https links open in the system browser: exact names, or *.example.com for any subdomain. Replaces the default list.",
    },
    Setting {
        key: "crm.interaction_url",
        name: "CrmInteractionUrl",
        kind: TEXT,
        default: "(none)",
        category: Category::Links,
        since: V1,
        description: "An https URL template opened in the system browser when an interaction ends; {interactionId} is its one placeholder.",
    },
    Setting {
        key: "startup.autostart",
        name: "Autostart",
        kind: Kind::Bool,
        default: "false",
        category: Category::Desktop,
        since: V1,
        description: "Open Agent Shell when the agent logs in to the desktop (signed in silently).",
    },
    Setting {
        key: "startup.close_to_tray",
        name: "CloseToTray",
        kind: Kind::Bool,
        default: "false",
        category: Category::Desktop,
        since: V2,
        description: "Closing the window hides Agent Shell to the tray instead of quitting: the session and any call go on, and Quit in the tray ends it.",
    },
    Setting {
        key: "webview.compositing",
        name: "WebviewCompositing",
        kind: Kind::Text {
            allowed: &["auto", "on", "off"],
        },
        default: "auto",
        category: Category::Desktop,
        since: V1,
        description: "WebKitGTK accelerated compositing (Linux): on, off, or auto (off where there is no GPU render node).",
    },
    Setting {
        key: "network.proxy",
        name: "NetworkProxy",
        kind: TEXT,
        default: "system",
        category: Category::Desktop,
        since: V2,
        description: "The proxy for sign-in, renewal and doctor: system (the OS proxy settings; no PAC/WPAD), direct, or http://[user:password@]host:port. A password is never shown or logged.",
    },
    Setting {
        key: "logs.level",
        name: "LogLevel",
        kind: Kind::Text {
            allowed: &["error", "warn", "info", "debug"],
        },
        default: "info",
        category: Category::Desktop,
        since: V1,
        description: "How much the log files record. Locking it also stops AGENT_SHELL_LOG from changing it.",
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use toml::{Table, Value};

    /// The fields serde expects at `path` (a table of the file), from its unknown-field error.
    fn fields_at(path: &[&str]) -> Vec<String> {
        let mut table = Table::new();
        table.insert("zz_not_a_key".into(), Value::Integer(1));
        for part in path.iter().rev() {
            let mut outer = Table::new();
            outer.insert((*part).to_string(), Value::Table(table));
            table = outer;
        }
        let error = config::check_raw(&table).unwrap_err().to_string();
        let expected = error.split(", expected ").nth(1).unwrap_or_default();
        // toml names the table the field is in: "... `prefer` in `redirect`".
        let expected = expected.split(" in `").next().unwrap_or_default();
        expected
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    /// Every leaf key of the configuration file's shape (config/raw.rs's Raw structs).
    fn file_keys() -> Vec<String> {
        let mut keys = Vec::new();
        for top in fields_at(&[]) {
            let inner = fields_at(&[&top]);
            if inner.is_empty() {
                keys.push(top);
            } else {
                keys.extend(inner.into_iter().map(|k| format!("{top}.{k}")));
            }
        }
        keys
    }

    #[test]
    fn every_key_of_the_file_is_in_the_table_once_and_nothing_else() {
        let keys = file_keys();
        assert!(keys.len() > 20, "{keys:?}");
        for key in &keys {
            if key.starts_with("local_emulator.") {
                assert!(by_key(key).is_none(), "{key} is development only");
                continue;
            }
            assert!(
                by_key(key).is_some(),
                "{key} is in the file but not in the policy table"
            );
        }
        for setting in SETTINGS {
            assert!(keys.iter().any(|k| k == setting.key), "{}", setting.key);
            let same_name = SETTINGS
                .iter()
                .filter(|s| s.name.eq_ignore_ascii_case(setting.name));
            assert_eq!(same_name.count(), 1, "{}", setting.name);
            assert!(
                setting.name.chars().all(|c| c.is_ascii_alphanumeric())
                    && setting.name.starts_with(|c: char| c.is_ascii_uppercase()),
                "{}",
                setting.name
            );
            assert!(
                matches!(setting.since, "0.1.0" | "0.2.0"),
                "{}",
                setting.since
            );
            assert!(!setting.description.is_empty());
        }
    }

    /// A literal default, set explicitly, changes nothing: the table says what the code does.
    #[test]
    fn literal_defaults_are_the_code_defaults() {
        let base = "environment = \"mypurecloud.ie\"\nclient_id = \"c\"\n";
        let plain = config::parse_str(base).unwrap();
        for setting in SETTINGS.iter().filter(|s| !s.default.starts_with('(')) {
            let value = match setting.kind {
                Kind::Text { .. } => format!("\"{}\"", setting.default),
                Kind::Integer { .. } | Kind::Bool => setting.default.to_string(),
                Kind::TextList => format!(
                    "[{}]",
                    setting
                        .default
                        .split(", ")
                        .map(|v| format!("\"{v}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Kind::IntegerList { .. } => format!("[{}]", setting.default),
            };
            let text = match setting.key.split_once('.') {
                Some((section, key)) => format!("{base}[{section}]\n{key} = {value}\n"),
                None => format!("{value_key} = {value}\n{base}", value_key = setting.key),
            };
            let explicit =
                config::parse_str(&text).unwrap_or_else(|e| panic!("{}: {e}", setting.key));
            assert_eq!(explicit, plain, "{}", setting.key);
        }
    }
}
