//! Checks that reach the network (Genesys Cloud, the broker, the clock) and the keychain.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use url::Url;

use crate::config::{origin_of, ShellConfig, AGENT_CLIENT_ORIGIN};
use crate::platform::keychain::{self, SecretStore};
use crate::platform::net::{ClientOptions, Http, NetError};

use super::{Check, Status};

use super::local::*;

// ---------------------------------------------------------------------------------------------
// Checks that reach the network and the keychain

/// How long each network check may take.
pub const NETWORK_TIMEOUT: Duration = Duration::from_secs(10);

/// The request headers the agent client's API calls carry (what its preflight asks for).
pub const AGENT_CLIENT_REQUEST_HEADERS: &str = "authorization, content-type";

/// The page origin this build's webview has (what IT allow-lists and what the preflight sends).
pub fn page_origin() -> &'static str {
    if cfg!(windows) {
        "http://tauri.localhost"
    } else {
        "tauri://localhost"
    }
}

/// The HTTP client for probes, built like every client of the shell (platform/net.rs: OS trust store,
/// the configured or system proxy); no redirects followed (the answers are the evidence).
pub fn probe_client(config: &ShellConfig) -> Result<Http, NetError> {
    Http::build(
        &config.proxy,
        ClientOptions {
            timeout: NETWORK_TIMEOUT,
            connect_timeout: NETWORK_TIMEOUT,
            user_agent: concat!("agent-shell-doctor/", env!("CARGO_PKG_VERSION")),
        },
    )
}

/// [`online_checks`] with [`probe_client`], or one failed check saying why there is no client.
pub async fn network_checks(config: &ShellConfig, keychain: Arc<dyn SecretStore>) -> Vec<Check> {
    match probe_client(config) {
        Ok(http) => online_checks(config, &http, keychain).await,
        Err(error) => vec![Check {
            id: "network.client",
            status: Status::Fail,
            evidence: error.to_string(),
            fix: Some("on Linux, install the ca-certificates package (or point SSL_CERT_FILE at a CA bundle); check [network] proxy".into()),
        }],
    }
}

/// Every check that needs the network or the keychain, in the order an admin reads them.
pub async fn online_checks(
    config: &ShellConfig,
    http: &Http,
    keychain: Arc<dyn SecretStore>,
) -> Vec<Check> {
    let (login, date) = host_check("network.login_host", &config.endpoints.login, http).await;
    let (api, _) = host_check("network.api_host", &config.endpoints.api, http).await;
    // The notification websocket's host, reached over HTTPS: TLS, the proxy and reachability
    // are the same for the upgrade that follows.
    let streaming = match websocket_as_http(&config.endpoints.streaming) {
        Some(url) => host_check("network.streaming_host", &url, http).await.0,
        None => Check {
            id: "network.streaming_host",
            status: Status::Warn,
            evidence: format!("{} is not a websocket URL", config.endpoints.streaming),
            fix: None,
        },
    };
    let mut checks = vec![login, api, streaming];
    checks.push(clock_check(date, SystemTime::now()));
    checks.push(authorize_check(config, http).await);
    checks.push(preflight_check(config, http).await);
    checks.push(scopes_check(config));
    checks.push(csp_check(config));
    checks.push(keychain_check(keychain).await);
    if let Some(broker) = &config.endpoints.broker {
        checks.push(broker_check(broker, &config.endpoints.token, &config.client_id, http).await);
    }
    checks
}

/// `wss://host` as `https://host/` (`ws://` as `http://`), for probing the host.
fn websocket_as_http(url: &Url) -> Option<Url> {
    let scheme = match url.scheme() {
        "wss" => "https",
        "ws" => "http",
        _ => return None,
    };
    Url::parse(&format!("{scheme}://{}/", url.host_str()?))
        .ok()
        .map(|mut probe| {
            let _ = probe.set_port(url.port());
            probe
        })
}

/// The token broker policy names: `/readyz` answers 200, and its token endpoint answers a
/// malformed request with an OAuth error (it speaks RFC 6749, and nothing in front of it
/// swallows the error).
pub(super) async fn broker_check(base: &Url, token: &Url, client_id: &str, http: &Http) -> Check {
    let id = "broker";
    let fix = Some(
        "check the broker's deployment (docs/broker.md: its /readyz, its logs) and that the proxy in front of it passes /readyz and /oauth/token".to_string(),
    );
    let ready = match base.join("readyz") {
        Ok(url) => http
            .client()
            .get(url.clone())
            .send()
            .await
            .map_err(|e| http.explain(&url, &e)),
        Err(error) => {
            return Check {
                id,
                status: Status::Fail,
                evidence: error.to_string(),
                fix,
            }
        }
    };
    match ready {
        Ok(response) if response.status().is_success() => {}
        Ok(response) => {
            return Check {
                id,
                status: Status::Fail,
                evidence: format!("{base}readyz answered HTTP {}", response.status().as_u16()),
                fix,
            }
        }
        Err(error) => {
            return Check {
                id,
                status: Status::Fail,
                evidence: format!("{base}readyz {}", error.evidence),
                fix,
            }
        }
    }
    // This client with a grant type nobody supports: a broker that knows the client answers
    // 400 unsupported_grant_type (401 invalid_client means the broker does not list it).
    let answer = http
        .client()
        .post(token.clone())
        .form(&[
            ("grant_type", "agent-shell-doctor-probe"),
            ("client_id", client_id),
        ])
        .send()
        .await;
    let (status, body) = match answer {
        Ok(response) => {
            let status = response.status().as_u16();
            (status, response.text().await.unwrap_or_default())
        }
        Err(error) => {
            return Check {
                id,
                status: Status::Fail,
                evidence: format!("POST {token}: {}", http.explain(token, &error).evidence),
                fix,
            }
        }
    };
    let oauth_error = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(String::from));
    match (status, oauth_error) {
        (401, Some(error)) => Check {
            id,
            status: Status::Fail,
            evidence: format!("{base}readyz ok, but the broker refuses client {client_id}: HTTP 401 {error}"),
            fix: Some(format!("add client {client_id} (with its secret and redirect URIs) to the broker's [[clients]]")),
        },
        (400, Some(error)) => Check {
            id,
            status: Status::Pass,
            evidence: format!("{base}readyz ok; a malformed request gets HTTP {status} {error}"),
            fix: None,
        },
        (status, error) => Check {
            id,
            status: Status::Fail,
            evidence: format!(
                "POST {token} with a malformed request: HTTP {status}, {}",
                error.map_or("no OAuth error object".to_string(), |e| format!(
                    "error {e}"
                ))
            ),
            fix,
        },
    }
}

/// The host answers HTTP(S) at all; returns its `Date` header for the clock check.
pub(super) async fn host_check(
    id: &'static str,
    base: &Url,
    http: &Http,
) -> (Check, Option<SystemTime>) {
    let started = Instant::now();
    match http.client().get(base.clone()).send().await {
        Ok(response) => {
            let date = response
                .headers()
                .get(reqwest::header::DATE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| httpdate::parse_http_date(v).ok());
            let check = Check {
                id,
                status: Status::Pass,
                evidence: format!(
                    "{} answered HTTP {} in {} ms{}; via {}",
                    origin_of(base),
                    response.status().as_u16(),
                    started.elapsed().as_millis(),
                    if base.scheme() == "https" {
                        " over TLS"
                    } else {
                        ""
                    },
                    http.proxy_for(base)
                ),
                fix: None,
            };
            (check, date)
        }
        Err(error) => {
            let failure = http.explain(base, &error);
            (
                Check {
                    id,
                    status: Status::Fail,
                    evidence: format!("{} {}", origin_of(base), failure.evidence),
                    fix: Some(failure.fix),
                },
                None,
            )
        }
    }
}

/// Tokens and SAML assertions carry times: a clock far from the server's breaks sign-in at
/// some identity providers. Warn past a minute, fail past five.
pub fn clock_check(server_date: Option<SystemTime>, now: SystemTime) -> Check {
    let id = "clock.skew";
    let Some(server) = server_date else {
        return Check {
            id,
            status: Status::Warn,
            evidence: "the login host sent no usable Date header (or was not reached)".into(),
            fix: None,
        };
    };
    let (skew, ahead) = match now.duration_since(server) {
        Ok(ahead) => (ahead, true),
        Err(behind) => (behind.duration(), false),
    };
    let secs = skew.as_secs();
    let evidence = format!(
        "this machine's clock is {secs} s {} the login host's",
        if ahead { "ahead of" } else { "behind" }
    );
    let status = match secs {
        0..=60 => Status::Pass,
        61..=300 => Status::Warn,
        _ => Status::Fail,
    };
    Check {
        id,
        status,
        evidence,
        fix: (status != Status::Pass).then(|| {
            "turn on time synchronisation (NTP / Windows Time / automatic date and time)".into()
        }),
    }
}

/// Text of an error page, short: style and script blocks dropped, tags stripped, whitespace
/// collapsed.
pub(super) fn page_text(html: &str) -> String {
    let mut visible = html.to_string();
    for block in ["style", "script", "head"] {
        let (open, close) = (format!("<{block}"), format!("</{block}>"));
        while let Some(start) = visible.to_ascii_lowercase().find(&open) {
            let lower = visible.to_ascii_lowercase();
            let end = lower[start..]
                .find(&close)
                .map_or(visible.len(), |at| start + at + close.len());
            visible.replace_range(start..end, " ");
        }
    }
    let mut text = String::new();
    let mut in_tag = false;
    for c in visible.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut joined = words.join(" ");
    if joined.len() > 300 {
        let cut = (0..=300)
            .rev()
            .find(|i| joined.is_char_boundary(*i))
            .unwrap_or(0);
        joined.truncate(cut);
        joined.push_str("...");
    }
    joined
}

/// What the authorize endpoint says to one redirect URI: `Ok(evidence)` when it would show a
/// sign-in, `Err(evidence)` when it refuses the client, the redirect URI or the scopes.
pub(super) async fn authorize_answer(
    config: &ShellConfig,
    redirect_uri: &str,
    http: &Http,
) -> Result<String, String> {
    let mut url = config.endpoints.authorize.clone();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &config.client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", &config.scopes.join(" "))
        // A well-formed challenge for a verifier nobody holds: no code can ever be redeemed.
        .append_pair(
            "code_challenge",
            "agentshelldoctorprobe-noverifierexistsforit",
        )
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", "agent-shell-doctor");
    let response = http
        .client()
        .get(url.clone())
        .send()
        .await
        .map_err(|e| http.explain(&url, &e).evidence)?;
    let status = response.status();
    if status.is_redirection() {
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        // An error sent back to the redirect URI (RFC 6749 4.1.2.1): the client is known but
        // the request is refused (scopes, consent, client type).
        if location.starts_with(redirect_uri) {
            if let Ok(back) = Url::parse(&location) {
                let param = |name: &str| {
                    back.query_pairs()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.into_owned())
                };
                if let Some(error) = param("error") {
                    return Err(format!(
                        "refused with {error}: {}",
                        param("error_description").unwrap_or_default()
                    ));
                }
            }
            return Ok(
                "accepted (it answered at once, as an already signed-in browser would)".into(),
            );
        }
        return Ok(format!(
            "accepted: HTTP {} to the sign-in page",
            status.as_u16()
        ));
    }
    if status.is_success() {
        return Ok(format!(
            "accepted: HTTP {} with the sign-in page",
            status.as_u16()
        ));
    }
    let body = response.text().await.unwrap_or_default();
    Err(format!("HTTP {}: {}", status.as_u16(), page_text(&body)))
}

/// The authorize endpoint accepts this client id with every redirect URI sign-in can use (an
/// unknown client or redirect URI gets an error page, not a login form).
pub(super) async fn authorize_check(config: &ShellConfig, http: &Http) -> Check {
    let mut lines = Vec::new();
    let mut refused = false;
    for uri in config.redirect.all_uris() {
        match authorize_answer(config, &uri, http).await {
            Ok(evidence) => lines.push(format!("{uri}: {evidence}")),
            Err(evidence) => {
                refused = true;
                lines.push(format!("{uri}: {evidence}"));
            }
        }
    }
    Check {
        id: "oauth.authorize",
        status: if refused { Status::Fail } else { Status::Pass },
        evidence: format!("client {}: {}", config.client_id, lines.join("; ")),
        fix: refused.then(|| {
            format!(
                "in Genesys Cloud Admin > OAuth, check the client id and register exactly these redirect URIs on client {}: {}",
                config.client_id,
                config.redirect.all_uris().join(", ")
            )
        }),
    }
}

/// The agent client calls the Platform API from its own origin: the API must answer CORS for
/// it. `OPTIONS /api/v2/users/me` from that origin, as the webview sends it before the first
/// call. A page of IT's own (`embed.client_url`) lives on the API's origin: nothing to check.
pub(super) async fn preflight_check(config: &ShellConfig, http: &Http) -> Check {
    let id = "embedding.cors_preflight";
    if !config.endpoints.frames_agent_client() {
        return Check {
            id,
            status: Status::Pass,
            evidence: format!(
                "the client page ({}) is served from the environment's own origin: no cross-origin calls to check",
                crate::config::origin_of(&config.endpoints.client_page)
            ),
            fix: None,
        };
    }
    let origin = AGENT_CLIENT_ORIGIN;
    let fix = Some(format!(
        "the Genesys Cloud API must accept requests from the agent client's origin {origin}: let your proxy pass OPTIONS and CORS headers unchanged; if the API itself refuses the origin, use a client page on an https origin of your own (embed.client_url)"
    ));
    let url = match config.endpoints.api.join("/api/v2/users/me") {
        Ok(url) => url,
        Err(error) => {
            return Check {
                id,
                status: Status::Fail,
                evidence: error.to_string(),
                fix: None,
            }
        }
    };
    let answer = http
        .client()
        .request(reqwest::Method::OPTIONS, url.clone())
        .header(reqwest::header::ORIGIN, origin)
        .header(reqwest::header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
        .header(
            reqwest::header::ACCESS_CONTROL_REQUEST_HEADERS,
            AGENT_CLIENT_REQUEST_HEADERS,
        )
        .send()
        .await;
    let response = match answer {
        Ok(response) => response,
        Err(error) => {
            return Check {
                id,
                status: Status::Fail,
                evidence: format!("OPTIONS {url}: {}", http.explain(&url, &error).evidence),
                fix,
            }
        }
    };
    let status = response.status();
    let allowed = response
        .headers()
        .get(reqwest::header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    match (status.is_success(), allowed.as_deref()) {
        (true, Some(allowed)) if allowed == origin => Check {
            id,
            status: Status::Pass,
            evidence: format!(
                "OPTIONS {url} from {origin}: HTTP {}, allowed",
                status.as_u16()
            ),
            fix: None,
        },
        (_, allowed) => Check {
            id,
            status: Status::Fail,
            evidence: format!(
                "OPTIONS {url} from {origin}: HTTP {}, Access-Control-Allow-Origin {}",
                status.as_u16(),
                allowed.unwrap_or("absent")
            ),
            fix,
        },
    }
}

/// The keychain is there and unlocked: a probe entry is written, read back and deleted.
pub(super) async fn keychain_check(store: Arc<dyn SecretStore>) -> Check {
    let started = Instant::now();
    match keychain::probe(store).await {
        Ok(()) => Check {
            id: "keychain",
            status: Status::Pass,
            evidence: format!(
                "wrote, read back and deleted a probe entry in {} ({} ms)",
                keychain_name(),
                started.elapsed().as_millis()
            ),
            fix: None,
        },
        Err(error) => Check {
            id: "keychain",
            status: Status::Fail,
            evidence: format!("{}: {error}", keychain_name()),
            fix: Some(keychain_fix().into()),
        },
    }
}

pub(super) fn keychain_name() -> &'static str {
    if cfg!(windows) {
        "Windows Credential Manager"
    } else if cfg!(target_os = "macos") {
        "the macOS login keychain"
    } else {
        "the Secret Service (GNOME Keyring / KWallet)"
    }
}

pub(super) fn keychain_fix() -> &'static str {
    if cfg!(windows) {
        "sign in to Windows with the agent's own account (Credential Manager needs a user profile)"
    } else if cfg!(target_os = "macos") {
        "unlock the login keychain (Keychain Access), or reset it if its password is lost"
    } else {
        "start gnome-keyring-daemon (or KWallet) in the desktop session and unlock the login keyring; the shell never falls back to a file"
    }
}
