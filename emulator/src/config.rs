//! Emulator configuration: registered OAuth clients, lifetimes and the embedded-client schedule.

use std::time::Duration;

use crate::error::EmulatorError;

/// The client id of the Agent Shell demo registration.
pub const DEMO_CLIENT_ID: &str = "agent-shell-demo";

/// Redirect URIs registered for [`DEMO_CLIENT_ID`]: the desktop deep link and the loopback fallback.
pub const DEMO_REDIRECT_URIS: [&str; 2] = [
    "com.agentshell.desktop:/oauth/callback",
    "http://127.0.0.1:47615/oauth/callback",
];

/// The scopes Agent Shell needs (Genesys Cloud's own names). Also what is granted when an
/// authorize request names no scope.
pub const REQUIRED_SCOPES: [&str; 7] = [
    "users:readonly",
    "presence",
    "routing",
    "conversations",
    "notifications",
    "stations:readonly",
    "organization:readonly",
];

/// Scopes that may be requested besides [`REQUIRED_SCOPES`]. Anything else is `invalid_scope`,
/// so a typo in the app's scope list shows up in development instead of in production. A scope
/// `X` also grants `X:readonly`.
pub const EXTRA_KNOWN_SCOPES: [&str; 8] = [
    "users",
    "presence:readonly",
    "routing:readonly",
    "conversations:readonly",
    "stations",
    "organization",
    "authorization:readonly",
    "analytics:readonly",
];

/// Origins of the agent client: `agent-client://localhost` (Linux, macOS) and
/// `http://agent-client.localhost` (Windows). CORS on the Platform API routes allows these and
/// the embed origins by default.
pub const AGENT_CLIENT_ORIGINS: [&str; 2] =
    ["agent-client://localhost", "http://agent-client.localhost"];

/// Longest token or code lifetime accepted (about 31 years): far enough for any test, and far
/// from the point where `Instant + lifetime` overflows.
pub const MAX_LIFETIME: Duration = Duration::from_secs(1_000_000_000);

/// Splits a space-separated scope string (RFC 6749 3.3) into scopes, dropping duplicates and
/// keeping the first occurrence's order. Only whitespace gives an empty list.
pub fn parse_scopes(scope: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in scope.split_whitespace() {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    out
}

/// Whether `scope` may appear in an authorize request.
pub fn is_known_scope(scope: &str) -> bool {
    REQUIRED_SCOPES.contains(&scope) || EXTRA_KNOWN_SCOPES.contains(&scope)
}

/// One registered OAuth client.
#[derive(Clone, Debug)]
pub struct ClientRegistration {
    pub client_id: String,
    /// `Some` makes this a confidential client that must authenticate at the token endpoint.
    pub secret: Option<String>,
    /// Compared byte for byte with the `redirect_uri` of authorize and token requests.
    pub redirect_uris: Vec<String>,
}

impl ClientRegistration {
    /// The demo client Agent Shell uses in `agent-shell demo`.
    pub fn demo() -> Self {
        Self {
            client_id: DEMO_CLIENT_ID.to_owned(),
            secret: None,
            redirect_uris: DEMO_REDIRECT_URIS.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// Parses `ID=URI[,URI...]` into a public client.
    ///
    /// The id ends at the first `=`, so redirect URIs may carry query strings; URIs are separated
    /// by commas and so cannot contain one.
    pub fn parse_public(spec: &str) -> Result<Self, EmulatorError> {
        let (id, uris) = split_spec(spec)?;
        if id.contains(':') {
            return Err(invalid(
                spec,
                "a public client id cannot contain ':' (use --confidential ID:SECRET=URI for a confidential client)",
            ));
        }
        let client_id = validate_id(spec, id)?;
        Ok(Self {
            client_id,
            secret: None,
            redirect_uris: parse_uris(spec, uris)?,
        })
    }

    /// Parses `ID:SECRET=URI[,URI...]` into a confidential client.
    ///
    /// The id ends at the first `:` and the secret at the first `=`, so a secret cannot contain `=`.
    pub fn parse_confidential(spec: &str) -> Result<Self, EmulatorError> {
        let (credentials, uris) = split_spec(spec)?;
        let Some((id, secret)) = credentials.split_once(':') else {
            return Err(invalid(
                spec,
                "expected ID:SECRET=REDIRECT_URI[,REDIRECT_URI...] (missing ':' between id and secret)",
            ));
        };
        let client_id = validate_id(spec, id)?;
        if secret.is_empty() {
            return Err(invalid(spec, "the client secret is empty"));
        }
        if secret.chars().any(char::is_whitespace) {
            return Err(invalid(spec, "the client secret contains whitespace"));
        }
        Ok(Self {
            client_id,
            secret: Some(secret.to_owned()),
            redirect_uris: parse_uris(spec, uris)?,
        })
    }

    /// Whether the client must authenticate with a secret.
    pub fn is_confidential(&self) -> bool {
        self.secret.is_some()
    }
}

fn invalid(spec: &str, reason: &str) -> EmulatorError {
    EmulatorError::InvalidClientSpec {
        spec: spec.to_owned(),
        reason: reason.to_owned(),
    }
}

fn split_spec(spec: &str) -> Result<(&str, &str), EmulatorError> {
    spec.split_once('=').ok_or_else(|| {
        invalid(
            spec,
            "expected '=' between the client and its redirect URIs, e.g. my-app=http://127.0.0.1:8080/callback",
        )
    })
}

fn validate_id(spec: &str, id: &str) -> Result<String, EmulatorError> {
    if id.is_empty() {
        return Err(invalid(spec, "the client id is empty"));
    }
    if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(spec, "the client id contains whitespace"));
    }
    Ok(id.to_owned())
}

fn parse_uris(spec: &str, uris: &str) -> Result<Vec<String>, EmulatorError> {
    let mut out = Vec::new();
    for raw in uris.split(',') {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(invalid(
                spec,
                "empty redirect URI (check for a stray comma)",
            ));
        }
        validate_redirect_uri(raw).map_err(|reason| invalid(spec, &reason))?;
        if !out.iter().any(|u| u == raw) {
            out.push(raw.to_owned());
        }
    }
    if out.is_empty() {
        return Err(invalid(spec, "at least one redirect URI is required"));
    }
    Ok(out)
}

/// RFC 6749 3.1.2: a redirection endpoint is an absolute URI without a fragment.
fn validate_redirect_uri(raw: &str) -> Result<(), String> {
    let parsed = url::Url::parse(raw)
        .map_err(|e| format!("redirect URI '{raw}' is not an absolute URI ({e})"))?;
    if parsed.cannot_be_a_base() && parsed.path().is_empty() {
        return Err(format!("redirect URI '{raw}' has no path"));
    }
    if parsed.fragment().is_some() {
        return Err(format!(
            "redirect URI '{raw}' has a fragment, which RFC 6749 3.1.2 forbids"
        ));
    }
    Ok(())
}

/// Everything [`crate::start`] needs. `Default` is the Agent Shell demo setup.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    pub clients: Vec<ClientRegistration>,
    /// Skip the login page: authorize redirects straight back with a code for agent@example.com.
    pub auto_approve: bool,
    pub token_lifetime: Duration,
    pub code_lifetime: Duration,
    /// Scopes granted whatever was requested (`None`: grant what was requested).
    pub grant_scopes: Option<Vec<String>>,
    /// Genesys issues no refresh token to public clients unless this is on.
    pub public_refresh_tokens: bool,
    /// login = port, api = port + 1, media = port + 2; `None` (or `Some(0)`) lets the OS choose.
    pub port: Option<u16>,
    /// Hostnames whose origins pass the token endpoint's CORS preflight.
    pub trusted_domains: Vec<String>,
    /// Origins the embedded client talks to with postMessage.
    pub embed_origins: Vec<String>,
    pub queue_interval: Duration,
    pub interaction_interval: Duration,
    /// How long before token expiry the embedded client posts `token-expiring`.
    pub token_expiring_margin: Duration,
    /// Origins allowed by CORS on the Platform API routes (answered with that exact origin,
    /// never `*`).
    pub api_cors_origins: Vec<String>,
    /// When set, the first time an agent goes On Queue a demo inbound call rings after this delay.
    pub ring_after_on_queue: Option<Duration>,
    /// Interval of the notification websocket's `WebSocket Heartbeat` messages.
    pub heartbeat_interval: Duration,
    /// How long an outbound call takes to connect (0: at once).
    pub outbound_connect_delay: Duration,
    /// How long a notification channel lives (Genesys: 24 h).
    pub channel_lifetime: Duration,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            clients: vec![ClientRegistration::demo()],
            auto_approve: false,
            token_lifetime: Duration::from_secs(7200),
            code_lifetime: Duration::from_secs(60),
            grant_scopes: None,
            public_refresh_tokens: true,
            port: None,
            trusted_domains: vec!["localhost".to_owned(), "tauri.localhost".to_owned()],
            embed_origins: vec![
                "tauri://localhost".to_owned(),
                "http://tauri.localhost".to_owned(),
            ],
            queue_interval: Duration::from_secs(3),
            interaction_interval: Duration::from_secs(20),
            token_expiring_margin: Duration::from_secs(60),
            api_cors_origins: AGENT_CLIENT_ORIGINS
                .iter()
                .chain(["tauri://localhost", "http://tauri.localhost"].iter())
                .map(|s| (*s).to_owned())
                .collect(),
            ring_after_on_queue: None,
            heartbeat_interval: Duration::from_secs(30),
            outbound_connect_delay: Duration::from_millis(500),
            channel_lifetime: Duration::from_secs(24 * 3600),
        }
    }
}

impl EmulatorConfig {
    /// Checks the configuration without binding anything. [`crate::start`] calls it too.
    pub fn validate(&self) -> Result<(), EmulatorError> {
        let bad = |msg: String| Err(EmulatorError::InvalidConfig(msg));
        if self.clients.is_empty() {
            return bad("no OAuth client is registered".to_owned());
        }
        for (i, client) in self.clients.iter().enumerate() {
            if client.client_id.is_empty() {
                return bad("a registered client has an empty client id".to_owned());
            }
            if client.redirect_uris.is_empty() {
                return bad(format!("client '{}' has no redirect URI", client.client_id));
            }
            for uri in &client.redirect_uris {
                if let Err(reason) = validate_redirect_uri(uri) {
                    return bad(format!("client '{}': {reason}", client.client_id));
                }
            }
            if matches!(&client.secret, Some(s) if s.is_empty()) {
                return bad(format!("client '{}' has an empty secret", client.client_id));
            }
            if self.clients[..i]
                .iter()
                .any(|c| c.client_id == client.client_id)
            {
                return bad(format!("client '{}' is registered twice", client.client_id));
            }
        }
        let max = MAX_LIFETIME.as_secs();
        if self.token_lifetime.is_zero() || self.token_lifetime > MAX_LIFETIME {
            return bad(format!(
                "the token lifetime must be positive and at most {max} s"
            ));
        }
        if self.code_lifetime.is_zero() || self.code_lifetime > MAX_LIFETIME {
            return bad(format!(
                "the code lifetime must be positive and at most {max} s"
            ));
        }
        if self.queue_interval.is_zero() || self.interaction_interval.is_zero() {
            return bad("the queue and interaction intervals must be positive".to_owned());
        }
        if let Some(port) = self.port {
            if port > u16::MAX - 2 {
                return bad(format!(
                    "port {port} leaves no room for the api (port + 1) and media (port + 2) origins"
                ));
            }
        }
        for domain in &self.trusted_domains {
            if domain.is_empty() || domain.contains(['/', ':', ' ', '*']) {
                return bad(format!(
                    "trusted domain '{domain}' must be a bare hostname such as localhost (no scheme, port or wildcard)"
                ));
            }
        }
        for origin in &self.embed_origins {
            if let Err(reason) = validate_origin(origin) {
                return bad(format!("embed origin '{origin}': {reason}"));
            }
        }
        for origin in &self.api_cors_origins {
            if let Err(reason) = validate_origin(origin) {
                return bad(format!("API CORS origin '{origin}': {reason}"));
            }
        }
        if self.heartbeat_interval.is_zero() || self.channel_lifetime.is_zero() {
            return bad("the heartbeat interval and channel lifetime must be positive".to_owned());
        }
        if self.channel_lifetime > MAX_LIFETIME {
            return bad(format!("the channel lifetime must be at most {max} s"));
        }
        Ok(())
    }
}

/// An origin is `scheme://host[:port]`, exactly as a browser reports it in `MessageEvent.origin`:
/// lower-case scheme and host, no default port, no user info, path, query, fragment or trailing
/// slash. Anything else could never equal `event.origin`, so every message would be dropped.
fn validate_origin(origin: &str) -> Result<(), String> {
    let parsed = url::Url::parse(origin).map_err(|e| format!("not a URL ({e})"))?;
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return Err("no host".to_owned());
    };
    let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
    let canonical = format!("{}://{}{port}", parsed.scheme(), host.to_ascii_lowercase());
    if origin != canonical {
        return Err(format!(
            "not a canonical origin (scheme://host[:port], lower case, no default port, path or trailing slash); did you mean '{canonical}'?"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn parses_public_spec() {
        let c = ClientRegistration::parse_public(
            "my-app=http://127.0.0.1:9000/cb?x=1,com.example.app:/cb",
        )
        .unwrap();
        assert_eq!(c.client_id, "my-app");
        assert_eq!(c.secret, None);
        assert_eq!(
            c.redirect_uris,
            vec!["http://127.0.0.1:9000/cb?x=1", "com.example.app:/cb"]
        );
    }

    #[test]
    fn parses_confidential_spec() {
        let c =
            ClientRegistration::parse_confidential("svc:s3cr:et=https://example.com/cb").unwrap();
        assert_eq!(c.client_id, "svc");
        assert_eq!(c.secret.as_deref(), Some("s3cr:et"));
        assert!(c.is_confidential());
    }

    #[test]
    fn rejects_bad_specs() {
        for spec in [
            "no-equals",
            "=http://x/cb",
            "id=",
            "id=relative/path",
            "id=http://x/cb,",
            "id=http://x/cb#frag",
            "a b=http://x/cb",
        ] {
            let err = ClientRegistration::parse_public(spec).unwrap_err();
            assert!(
                matches!(err, EmulatorError::InvalidClientSpec { .. }),
                "{spec}: {err}"
            );
        }
        for spec in ["id=http://x/cb", "id:=http://x/cb", ":s=http://x/cb"] {
            assert!(
                ClientRegistration::parse_confidential(spec).is_err(),
                "{spec}"
            );
        }
        let msg = ClientRegistration::parse_public("x")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("'x'"), "{msg}");
    }

    #[test]
    fn default_config_is_valid() {
        EmulatorConfig::default().validate().unwrap();
    }

    #[test]
    fn scope_lists_use_genesys_names() {
        for scope in REQUIRED_SCOPES.iter().chain(EXTRA_KNOWN_SCOPES.iter()) {
            assert!(is_known_scope(scope));
            assert!(
                !scope.contains(":read") || scope.ends_with(":readonly"),
                "{scope}"
            );
        }
        assert!(!is_known_scope("user:read"));
        assert!(!is_known_scope("client:read"));
    }

    #[test]
    fn validate_rejects_bad_config() {
        let mut c = EmulatorConfig {
            port: Some(65534),
            ..EmulatorConfig::default()
        };
        assert!(c.validate().is_err());
        c.port = None;
        c.embed_origins = vec!["tauri://localhost/".to_owned()];
        assert!(c.validate().is_err());
        c.embed_origins = vec![];
        c.token_lifetime = MAX_LIFETIME + Duration::from_secs(1);
        assert!(c.validate().is_err());
        c.token_lifetime = Duration::from_secs(u64::MAX);
        assert!(c.validate().is_err());
        c.token_lifetime = MAX_LIFETIME;
        c.code_lifetime = Duration::from_secs(u64::MAX);
        assert!(c.validate().is_err());
        c.code_lifetime = Duration::from_secs(60);
        c.validate().unwrap();
        c.trusted_domains = vec!["*.example.com".to_owned()];
        assert!(c.validate().is_err());
        c.trusted_domains = vec![];
        c.clients.push(ClientRegistration::demo());
        assert!(c.validate().is_err());
    }

    #[test]
    fn embed_origins_must_be_canonical() {
        for ok in [
            "tauri://localhost",
            "http://tauri.localhost",
            "http://localhost:1420",
            "https://example.com:8443",
            "http://[::1]:8080",
        ] {
            validate_origin(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "HTTP://Localhost:80",
            "http://Localhost",
            "http://localhost:80",
            "https://example.com:443",
            "http://localhost/",
            "http://localhost/path",
            "http://localhost?x",
            "http://localhost#x",
            "http://user@localhost",
            "TAURI://localhost",
            "tauri://LOCALHOST",
            "tauri://",
            "localhost",
            "null",
        ] {
            assert!(validate_origin(bad).is_err(), "{bad}");
        }
        let msg = validate_origin("HTTP://Localhost:80").unwrap_err();
        assert!(msg.contains("'http://localhost'"), "{msg}");
    }

    #[test]
    fn parse_scopes_splits_and_dedups() {
        assert_eq!(
            parse_scopes(" users:readonly\tpresence  users:readonly "),
            vec!["users:readonly", "presence"]
        );
        assert!(parse_scopes("   ").is_empty());
        assert!(parse_scopes("").is_empty());
    }
}
