//! The Content-Security-Policy of the local page, built from the configured environment.
//!
//! The page may frame and talk to exactly the configured environment's client/api/media hosts
//! (https and wss listed separately: `https://host` does not match `wss://host`) and Tauri's IPC;
//! scripts and styles come only from the app itself. The builder fails closed: a source that is
//! not a plain origin is an error, never a silently weaker policy.

use std::collections::BTreeMap;
use std::fmt;

use url::Url;

use crate::config::environment::{GenesysEnvironment, KNOWN_ENVIRONMENTS};
use crate::config::{origin_of, Endpoints, ShellConfig, AGENT_CLIENT_ORIGIN, AGENT_CLIENT_ORIGINS};
use crate::embed::links::APP_ORIGIN;
use crate::error::{Code, ErrorCode};

/// IPC endpoints Tauri uses (custom protocol on Linux/macOS, http on Windows). Tauri does not
/// add them to connect-src by itself.
pub const IPC_SOURCES: [&str; 2] = ["ipc:", "http://ipc.localhost"];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CspError {
    #[error("refusing to put \"{value}\" into the Content-Security-Policy directive {directive}: {reason}")]
    UnsafeSource {
        directive: &'static str,
        value: String,
        reason: &'static str,
    },
}

impl ErrorCode for CspError {
    fn error_code(&self) -> Code {
        Code::CspUnsafeSource
    }
}

/// A policy as an ordered directive map (stable output, easy to assert on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CspPolicy {
    directives: BTreeMap<&'static str, Vec<String>>,
}

impl CspPolicy {
    pub fn sources(&self, directive: &str) -> Option<&[String]> {
        self.directives.get(directive).map(Vec::as_slice)
    }

    pub fn directives(&self) -> impl Iterator<Item = (&'static str, &[String])> {
        self.directives.iter().map(|(k, v)| (*k, v.as_slice()))
    }

    fn add(&mut self, directive: &'static str, source: String) -> Result<(), CspError> {
        check_source(directive, &source)?;
        let sources = self.directives.entry(directive).or_default();
        if !sources.contains(&source) {
            sources.push(source);
        }
        Ok(())
    }
}

impl fmt::Display for CspPolicy {
    /// The header value: `directive source source; directive ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (directive, sources) in &self.directives {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            f.write_str(directive)?;
            for source in sources {
                write!(f, " {source}")?;
            }
        }
        Ok(())
    }
}

/// The policy every page of the shell starts from: nothing remote at all.
fn base_policy() -> Result<CspPolicy, CspError> {
    let mut policy = CspPolicy {
        directives: BTreeMap::new(),
    };
    for directive in [
        "default-src",
        "script-src",
        "style-src",
        "img-src",
        "font-src",
        "connect-src",
    ] {
        policy.add(directive, "'self'".into())?;
    }
    for source in IPC_SOURCES {
        policy.add("connect-src", source.into())?;
    }
    for directive in ["object-src", "base-uri", "form-action", "frame-ancestors"] {
        policy.add(directive, "'none'".into())?;
    }
    Ok(policy)
}

fn add_endpoints(policy: &mut CspPolicy, endpoints: &Endpoints) -> Result<(), CspError> {
    if endpoints.frames_agent_client() {
        // The agent client is the only page framed, and it talks to Genesys itself (under its
        // own policy): the app page connects to nothing but its IPC.
        return policy.add("frame-src", AGENT_CLIENT_ORIGIN.into());
    }
    for url in [&endpoints.client_page, &endpoints.api, &endpoints.media] {
        policy.add("frame-src", origin_of(url))?;
    }
    for url in [&endpoints.api, &endpoints.media] {
        policy.add("connect-src", origin_of(url))?;
        policy.add("connect-src", websocket_origin(url))?;
    }
    Ok(())
}

/// The agent client's own policy (sent with its page by the shell's `agent-client:` scheme):
/// scripts and styles from its own origin only, REST to exactly the api origin and the
/// notification websocket on exactly the streaming origin, media from the microphone, no
/// frames, and framed only by the app page. Nothing else: no IPC, no other host.
pub fn agent_client_policy(endpoints: &Endpoints) -> Result<CspPolicy, CspError> {
    let mut policy = CspPolicy {
        directives: BTreeMap::new(),
    };
    policy.add("default-src", "'none'".into())?;
    for directive in [
        "script-src",
        "style-src",
        "img-src",
        "font-src",
        "media-src",
    ] {
        policy.add(directive, "'self'".into())?;
    }
    policy.add("img-src", "data:".into())?;
    // The softphone plays the call's remote stream and ringing from blob/mediastream URLs.
    policy.add("media-src", "blob:".into())?;
    policy.add("media-src", "mediastream:".into())?;
    policy.add("connect-src", origin_of(&endpoints.api))?;
    policy.add("connect-src", origin_of(&endpoints.streaming))?;
    for directive in ["object-src", "base-uri", "form-action", "frame-src"] {
        policy.add(directive, "'none'".into())?;
    }
    policy.add("frame-ancestors", APP_ORIGIN.into())?;
    Ok(policy)
}

/// The runtime policy for a configuration; `None` (not configured) frames nothing.
pub fn for_config(config: Option<&ShellConfig>) -> Result<CspPolicy, CspError> {
    let mut policy = base_policy()?;
    match config {
        Some(config) => add_endpoints(&mut policy, &config.endpoints)?,
        None => policy.add("frame-src", "'none'".into())?,
    }
    Ok(policy)
}

/// The policy shipped in tauri.conf.json: every known environment's default hosts, exact
/// names, no loopback. The app replaces it at start-up with [`for_config`]; a test keeps the
/// file equal to this function's output.
pub fn shipped_policy() -> Result<CspPolicy, CspError> {
    let mut policy = base_policy()?;
    // The agent client's origin on every platform (one tauri.conf.json for all builds; the
    // runtime policy names only this platform's form).
    for origin in AGENT_CLIENT_ORIGINS {
        policy.add("frame-src", origin.to_string())?;
    }
    for name in KNOWN_ENVIRONMENTS {
        let Some(env) = GenesysEnvironment::parse(name) else {
            continue;
        };
        let config = crate::config::parse_str(&format!(
            "environment = \"{env}\"\nclient_id = \"shipped-policy\"\n"
        ));
        if let Ok(config) = config {
            add_endpoints(&mut policy, &config.endpoints)?;
        }
    }
    Ok(policy)
}

/// `https://h` -> `wss://h`, `http://h` -> `ws://h` (local emulator only).
fn websocket_origin(url: &Url) -> String {
    let origin = origin_of(url);
    if let Some(rest) = origin.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = origin.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        origin
    }
}

fn check_source(directive: &'static str, source: &str) -> Result<(), CspError> {
    let unsafe_source = |reason| CspError::UnsafeSource {
        directive,
        value: source.to_string(),
        reason,
    };
    if source.is_empty() || source == "null" {
        return Err(unsafe_source("empty or opaque origin"));
    }
    if source
        .chars()
        .any(|c| c.is_whitespace() || c == ';' || c == ',' || c.is_control())
    {
        return Err(unsafe_source(
            "separator characters would inject directives",
        ));
    }
    if source.contains('*') {
        return Err(unsafe_source("wildcards are not allowed"));
    }
    if source.starts_with('\'') {
        return match source {
            "'self'" | "'none'" => Ok(()),
            _ => Err(unsafe_source("only 'self' and 'none' keywords are allowed")),
        };
    }
    if matches!(source, "ipc:" | "http://ipc.localhost") {
        return Ok(());
    }
    // The shell's own origins (their URL origin is opaque, so they are named exactly).
    if AGENT_CLIENT_ORIGINS.contains(&source) || source == APP_ORIGIN {
        return Ok(());
    }
    // Scheme sources only where media and images need them, never for scripts or connections.
    if matches!(source, "data:" | "blob:" | "mediastream:") {
        return match directive {
            "img-src" | "media-src" => Ok(()),
            _ => Err(unsafe_source(
                "scheme sources only in img-src and media-src",
            )),
        };
    }
    let parsed = Url::parse(source).map_err(|_| unsafe_source("not an origin"))?;
    let scheme_ok = matches!(parsed.scheme(), "https" | "wss" | "http" | "ws");
    if !scheme_ok || parsed.host_str().is_none() || parsed.path() != "/" || source.ends_with('/') {
        return Err(unsafe_source("not a scheme://host[:port] origin"));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::parse_str;

    fn policy_for(text: &str) -> CspPolicy {
        for_config(Some(&parse_str(text).unwrap())).unwrap()
    }

    #[test]
    fn environment_policy_frames_only_the_agent_client_and_connects_only_to_ipc() {
        let policy = policy_for("environment = \"mypurecloud.de\"\nclient_id = \"c\"\n");
        assert_eq!(
            policy.sources("frame-src").unwrap(),
            ["agent-client://localhost"]
        );
        assert_eq!(
            policy.sources("connect-src").unwrap(),
            ["'self'", "ipc:", "http://ipc.localhost"]
        );
        assert_eq!(policy.sources("script-src").unwrap(), ["'self'"]);
        assert_eq!(policy.sources("object-src").unwrap(), ["'none'"]);
        assert_eq!(policy.sources("base-uri").unwrap(), ["'none'"]);
        assert_eq!(policy.sources("form-action").unwrap(), ["'none'"]);
        let header = policy.to_string();
        assert!(!header.contains("unsafe"), "{header}");
        assert!(!header.contains('*'), "{header}");
        assert!(!header.contains("mypurecloud"), "{header}");
    }

    #[test]
    fn a_page_of_its_own_is_framed_with_exactly_that_environments_hosts() {
        let policy = policy_for(
            "environment = \"mypurecloud.de\"\nclient_id = \"c\"\n[embed]\nclient_url = \"https://api.mypurecloud.de/our-client/\"\n",
        );
        assert_eq!(
            policy.sources("frame-src").unwrap(),
            ["https://api.mypurecloud.de", "https://media.mypurecloud.de"]
        );
        assert_eq!(
            policy.sources("connect-src").unwrap(),
            [
                "'self'",
                "ipc:",
                "http://ipc.localhost",
                "https://api.mypurecloud.de",
                "wss://api.mypurecloud.de",
                "https://media.mypurecloud.de",
                "wss://media.mypurecloud.de"
            ]
        );
        assert!(!policy.to_string().contains("mypurecloud.com"));
    }

    #[test]
    fn the_agent_clients_policy_reaches_exactly_the_api_and_streaming_origins() {
        let config = parse_str("environment = \"mypurecloud.de\"\nclient_id = \"c\"\n").unwrap();
        let policy = agent_client_policy(&config.endpoints).unwrap();
        assert_eq!(
            policy.to_string(),
            "base-uri 'none'; connect-src https://api.mypurecloud.de wss://streaming.mypurecloud.de; \
             default-src 'none'; font-src 'self'; form-action 'none'; \
             frame-ancestors agent-client://localhost; frame-src 'none'; img-src 'self' data:; \
             media-src 'self' blob: mediastream:; object-src 'none'; script-src 'self'; style-src 'self'"
                .replace("frame-ancestors agent-client://localhost", &format!("frame-ancestors {APP_ORIGIN}"))
        );
        let local = parse_str(
            "client_id = \"c\"\n[local_emulator]\nlogin = \"http://127.0.0.1:9000\"\napi = \"http://127.0.0.1:9001\"\nmedia = \"http://127.0.0.1:9002\"\n",
        )
        .unwrap();
        let policy = agent_client_policy(&local.endpoints).unwrap();
        assert_eq!(
            policy.sources("connect-src").unwrap(),
            ["http://127.0.0.1:9001", "ws://127.0.0.1:9001"]
        );
        // Scheme sources only where they belong.
        let mut policy = agent_client_policy(&config.endpoints).unwrap();
        assert!(policy.add("script-src", "data:".into()).is_err());
        assert!(policy.add("connect-src", "blob:".into()).is_err());
    }

    #[test]
    fn local_emulator_origins_enter_only_in_local_mode() {
        let policy = policy_for(
            "client_id = \"c\"\n[embed]\nclient_url = \"http://127.0.0.1:9001/embedded-client/\"\n[local_emulator]\nlogin = \"http://127.0.0.1:9000\"\napi = \"http://127.0.0.1:9001\"\nmedia = \"http://127.0.0.1:9002\"\n",
        );
        assert_eq!(
            policy.sources("frame-src").unwrap(),
            ["http://127.0.0.1:9001", "http://127.0.0.1:9002"]
        );
        assert!(policy
            .sources("connect-src")
            .unwrap()
            .contains(&"ws://127.0.0.1:9002".to_string()));
        let shipped = shipped_policy().unwrap().to_string();
        assert!(!shipped.contains("127.0.0.1"), "{shipped}");
    }

    #[test]
    fn unconfigured_policy_frames_nothing() {
        let policy = for_config(None).unwrap();
        assert_eq!(policy.sources("frame-src").unwrap(), ["'none'"]);
    }

    #[test]
    fn shipped_policy_frames_only_the_agent_client() {
        // Every known environment frames the agent client; the runtime policy for a page of
        // IT's own (embed.client_url) replaces this one at start-up.
        let policy = shipped_policy().unwrap();
        assert_eq!(policy.sources("frame-src").unwrap(), AGENT_CLIENT_ORIGINS);
        assert_eq!(
            policy.sources("connect-src").unwrap(),
            ["'self'", "ipc:", "http://ipc.localhost"]
        );
    }

    #[test]
    fn unsafe_sources_fail_closed() {
        for bad in [
            "'unsafe-inline'",
            "'unsafe-eval'",
            "https://*.mypurecloud.com",
            "*",
            "https://a.com; script-src *",
            "https://a.com/path",
            "null",
            "",
            "data:",
            "javascript:alert(1)",
        ] {
            let mut policy = base_policy().unwrap();
            assert!(
                policy.add("frame-src", bad.to_string()).is_err(),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn header_format_is_stable() {
        let header = for_config(None).unwrap().to_string();
        assert_eq!(
            header,
            "base-uri 'none'; connect-src 'self' ipc: http://ipc.localhost; default-src 'self'; \
             font-src 'self'; form-action 'none'; frame-ancestors 'none'; frame-src 'none'; \
             img-src 'self'; object-src 'none'; script-src 'self'; style-src 'self'"
        );
    }
}
