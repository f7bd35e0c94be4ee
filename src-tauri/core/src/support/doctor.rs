//! `agent-shell doctor`: checks of the known traps, each with a status, the evidence and a
//! one-line fix, printed as a table for people or JSON for tools. No window is opened.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use url::Url;

use crate::config::{origin_of, ShellConfig, AGENT_CLIENT_ORIGIN};
use crate::platform::desktop::{self, Resolution, XdgDirs};
use crate::platform::keychain::{self, SecretStore};
use crate::platform::net::{ClientOptions, Http, NetError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Self::Pass => "ok",
            Self::Warn => "warn",
            Self::Fail => "FAIL",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable identifier, e.g. `deep_link.xdg_open`.
    pub id: &'static str,
    pub status: Status,
    /// What was found.
    pub evidence: String,
    /// What to do about it (None when it passed).
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The desktop the report was taken on (OS, build, webview, app version, when).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<crate::support::diagnostics::SystemInfo>,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn push(&mut self, check: Check) {
        self.checks.push(check);
    }

    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }

    /// The table for people: one line per check, its evidence, and the fix under it.
    pub fn table(&self) -> String {
        let width = self.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
        let mut out = String::new();
        for check in &self.checks {
            out.push_str(&format!(
                "{:<4}  {:<width$}  {}\n",
                check.status.label(),
                check.id,
                check.evidence
            ));
            if let Some(fix) = &check.fix {
                out.push_str(&format!("      {:<width$}  fix: {fix}\n", ""));
            }
        }
        let failed = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .count();
        let warned = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Warn)
            .count();
        out.push_str(&format!(
            "\n{} check(s): {failed} failed, {warned} warning(s)\n",
            self.checks.len()
        ));
        out
    }
}

/// The page origins IT allow-lists in "Restrict Genesys Cloud embedding".
pub fn page_origin_check() -> Check {
    Check {
        id: "embedding.page_origin",
        status: Status::Pass,
        evidence: "Agent Shell's page origin is tauri://localhost (Linux, macOS) and http://tauri.localhost (Windows)".into(),
        fix: None,
    }
}

fn describe(resolution: &Resolution) -> String {
    format!(
        "{} -> {} -> {}",
        resolution.via,
        resolution
            .desktop_file
            .as_deref()
            .unwrap_or("(no desktop file)"),
        resolution.program.as_deref().unwrap_or("(no program)")
    )
}

fn resolution_check(
    id: &'static str,
    resolution: Resolution,
    scheme: &str,
    status_if_broken: Status,
) -> Check {
    match &resolution.problem {
        None => Check {
            id,
            status: Status::Pass,
            evidence: describe(&resolution),
            fix: None,
        },
        Some(problem) => Check {
            id,
            status: status_if_broken,
            evidence: format!("{}: {problem}", describe(&resolution)),
            fix: Some(desktop::fix_command(scheme)),
        },
    }
}

/// How the deep-link scheme resolves on this Linux desktop, through xdg-open (fails: the
/// sign-in falls back to loopback, or breaks where no loopback port is configured) and through
/// gio (a warning where gio itself is missing; GNOME, KDE and Firefox go through it). The
/// queries run programs (each with a time limit), so they run on the blocking pool, never on
/// an async worker.
pub async fn deep_link_checks(scheme: &str, exe: &Path, dirs: &XdgDirs) -> Vec<Check> {
    let (scheme, exe, dirs) = (scheme.to_string(), exe.to_path_buf(), dirs.clone());
    let resolved = tokio::task::spawn_blocking(move || {
        let xdg = desktop::resolve_xdg(&scheme, &exe, &dirs);
        let gio = desktop::resolve_gio(&scheme, &exe, &dirs);
        (scheme, xdg, gio)
    })
    .await;
    let (scheme, xdg, gio) = match resolved {
        Ok(resolved) => resolved,
        Err(error) => {
            return vec![Check {
                id: "deep_link.xdg_open",
                status: Status::Fail,
                evidence: format!("the desktop queries did not finish: {error}"),
                fix: None,
            }]
        }
    };
    // Without gio itself this desktop does not open links through it: a warning, not a failure.
    let gio_status = if gio.tool_missing {
        Status::Warn
    } else {
        Status::Fail
    };
    vec![
        resolution_check("deep_link.xdg_open", xdg, &scheme, Status::Fail),
        resolution_check("deep_link.gio", gio, &scheme, gio_status),
    ]
}

/// Windows: the sign-in scheme's registered command (HKCU, then HKLM) runs this program and
/// passes the URL (`"%1"`). `handlers` are (registry key, command) as the OS holds them.
pub fn windows_scheme_check(scheme: &str, exe: &Path, handlers: &[(String, String)]) -> Check {
    let id = "deep_link.windows";
    let exe_text = exe.display().to_string();
    let fix = Some(format!(
        "reinstall Agent Shell (the MSI registers {scheme} for the machine), or start it once to register it for this user"
    ));
    let Some((key, command)) = handlers.first() else {
        return Check {
            id,
            status: Status::Fail,
            evidence: format!(
                r"no handler is registered for {scheme}: (HKCU or HKLM)\Software\Classes\{scheme}\shell\open\command is absent"
            ),
            fix,
        };
    };
    // Parsed as Windows parses it (argv[0], then the arguments), and compared exactly: a
    // substring match would pass `cmd /c "<exe>" "%1" & other`.
    let argv = windows_argv(command);
    let runs_this = argv
        .first()
        .is_some_and(|program| program.eq_ignore_ascii_case(&exe_text));
    let passes_url = argv.get(1..) == Some(&["%1".to_string()][..]);
    match (runs_this, passes_url) {
        (true, true) => Check {
            id,
            status: Status::Pass,
            evidence: format!("{key} = {command}"),
            fix: None,
        },
        (false, _) => Check {
            id,
            status: Status::Fail,
            evidence: format!("{key} = {command}, which is not this program ({exe_text})"),
            fix,
        },
        (true, false) => Check {
            id,
            status: Status::Fail,
            evidence: format!(
                "{key} = {command}: the URL must be passed as the one argument (\"%1\")"
            ),
            fix,
        },
    }
}

/// A Windows command line split as `CommandLineToArgvW` splits it: argv[0] is quoted (up to
/// the next quote) or runs to the first space; in the arguments, 2n backslashes before a quote
/// are n backslashes and the quote toggles quoting, 2n+1 are n and a literal quote.
pub fn windows_argv(command: &str) -> Vec<String> {
    let mut argv = Vec::new();
    let mut rest = command.trim_start_matches([' ', '\t']);
    if rest.is_empty() {
        return argv;
    }
    if let Some(quoted) = rest.strip_prefix('"') {
        let end = quoted.find('"').unwrap_or(quoted.len());
        argv.push(quoted[..end].to_string());
        rest = quoted.get(end + 1..).unwrap_or("");
    } else {
        let end = rest.find([' ', '\t']).unwrap_or(rest.len());
        argv.push(rest[..end].to_string());
        rest = &rest[end..];
    }
    let chars: Vec<char> = rest.chars().collect();
    let mut i = 0;
    let mut current: Option<String> = None;
    let mut in_quotes = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' if !in_quotes => {
                if let Some(arg) = current.take() {
                    argv.push(arg);
                }
                i += 1;
            }
            '\\' => {
                let run = chars[i..].iter().take_while(|&&c| c == '\\').count();
                let arg = current.get_or_insert_with(String::new);
                if chars.get(i + run) == Some(&'"') {
                    arg.extend(std::iter::repeat_n('\\', run / 2));
                    if run % 2 == 1 {
                        arg.push('"');
                        i += run + 1;
                    } else {
                        i += run;
                    }
                } else {
                    arg.extend(std::iter::repeat_n('\\', run));
                    i += run;
                }
            }
            '"' => {
                current.get_or_insert_with(String::new);
                in_quotes = !in_quotes;
                i += 1;
            }
            c => {
                current.get_or_insert_with(String::new).push(c);
                i += 1;
            }
        }
    }
    if let Some(arg) = current {
        argv.push(arg);
    }
    argv
}

/// The configuration's own summary line.
pub fn config_check(config: &ShellConfig, source: &str) -> Check {
    Check {
        id: "config",
        status: Status::Pass,
        evidence: format!(
            "{source}: environment {}, client id {}",
            config.environment_label(),
            config.client_id
        ),
        fix: None,
    }
}

/// Policy names this version ignored (a policy of a newer version, or a misspelt one), with
/// the store each was found in: harmless, but a misspelt name leaves its setting unlocked.
pub fn ignored_policy_names_check(
    machine: &Result<crate::config::policy::MachinePolicy, crate::config::ConfigError>,
) -> Check {
    let id = "policy.ignored_names";
    match machine {
        Err(error) => Check {
            id,
            status: Status::Warn,
            evidence: format!("machine policy could not be read: {error}"),
            fix: Some("see the config check above".into()),
        },
        Ok(machine) if machine.ignored.is_empty() => Check {
            id,
            status: Status::Pass,
            evidence: "every policy name is known to this version".into(),
            fix: None,
        },
        Ok(machine) => Check {
            id,
            status: Status::Warn,
            evidence: machine
                .ignored
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
            fix: Some(format!(
                "a name for a newer version takes effect after the upgrade; correct a misspelt one (names of version {}: docs/policy-reference.md)",
                env!("CARGO_PKG_VERSION")
            )),
        },
    }
}

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

/// The HTTP client for probes, built like every client of the shell (net.rs: OS trust store,
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
    let mut checks = vec![login, api];
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

/// The token broker policy names: `/readyz` answers 200, and its token endpoint answers a
/// malformed request with an OAuth error (it speaks RFC 6749, and nothing in front of it
/// swallows the error).
async fn broker_check(base: &Url, token: &Url, client_id: &str, http: &Http) -> Check {
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
async fn host_check(id: &'static str, base: &Url, http: &Http) -> (Check, Option<SystemTime>) {
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
fn page_text(html: &str) -> String {
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
async fn authorize_answer(
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
async fn authorize_check(config: &ShellConfig, http: &Http) -> Check {
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
async fn preflight_check(config: &ShellConfig, http: &Http) -> Check {
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

/// The scopes sign-in asks for (the configuration already refuses a list without the required
/// ones; what is *granted* is checked at each sign-in, which reports a missing grant).
fn scopes_check(config: &ShellConfig) -> Check {
    Check {
        id: "oauth.scopes",
        status: Status::Pass,
        evidence: format!("requested: {}", config.scopes.join(" ")),
        fix: None,
    }
}

/// The content security policy this configuration runs with frames and reaches exactly the
/// environment's hosts (the same list a proxy allow-list needs).
fn csp_check(config: &ShellConfig) -> Check {
    let id = "csp";
    let policy = match crate::embed::csp::for_config(Some(config)) {
        Ok(policy) => policy,
        Err(error) => {
            return Check {
                id,
                status: Status::Fail,
                evidence: error.to_string(),
                fix: Some("correct the endpoint named above in the configuration".into()),
            }
        }
    };
    // With the agent client the app page only frames it; the client's own policy connects
    // to the API and the streaming origin.
    let client_policy = if config.endpoints.frames_agent_client() {
        match crate::embed::csp::agent_client_policy(&config.endpoints) {
            Ok(policy) => Some(policy),
            Err(error) => {
                return Check {
                    id,
                    status: Status::Fail,
                    evidence: error.to_string(),
                    fix: Some("correct the endpoint named above in the configuration".into()),
                }
            }
        }
    } else {
        None
    };
    let frames = policy.sources("frame-src").unwrap_or_default();
    let connects = client_policy
        .as_ref()
        .unwrap_or(&policy)
        .sources("connect-src")
        .unwrap_or_default();
    let mut needed = vec![
        (
            "frame-src",
            frames,
            origin_of(&config.endpoints.client_page),
        ),
        ("connect-src", connects, origin_of(&config.endpoints.api)),
    ];
    if client_policy.is_some() {
        needed.push((
            "connect-src",
            connects,
            origin_of(&config.endpoints.streaming),
        ));
    }
    let missing: Vec<String> = needed
        .iter()
        .filter(|(_, sources, origin)| !sources.iter().any(|s| s == origin))
        .map(|(directive, _, origin)| format!("{directive} lacks {origin}"))
        .collect();
    Check {
        id,
        status: if missing.is_empty() {
            Status::Pass
        } else {
            Status::Fail
        },
        evidence: if missing.is_empty() {
            format!(
                "frames {}; connects to {}",
                frames.join(" "),
                connects
                    .iter()
                    .filter(|s| s.contains("://"))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        } else {
            missing.join("; ")
        },
        fix: (!missing.is_empty())
            .then(|| "report this: the policy is built from the configuration".into()),
    }
}

/// The keychain is there and unlocked: a probe entry is written, read back and deleted.
async fn keychain_check(store: Arc<dyn SecretStore>) -> Check {
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

fn keychain_name() -> &'static str {
    if cfg!(windows) {
        "Windows Credential Manager"
    } else if cfg!(target_os = "macos") {
        "the macOS login keychain"
    } else {
        "the Secret Service (GNOME Keyring / KWallet)"
    }
}

fn keychain_fix() -> &'static str {
    if cfg!(windows) {
        "sign in to Windows with the agent's own account (Credential Manager needs a user profile)"
    } else if cfg!(target_os = "macos") {
        "unlock the login keychain (Keychain Access), or reset it if its password is lost"
    } else {
        "start gnome-keyring-daemon (or KWallet) in the desktop session and unlock the login keyring; the shell never falls back to a file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_windows_handler_must_run_this_program_with_the_url() {
        let exe = Path::new(r"C:\Program Files\Agent Shell\agent-shell.exe");
        let key = r"HKLM\Software\Classes\com.agentshell.desktop\shell\open\command".to_string();
        let good = vec![(
            key.clone(),
            r#""C:\Program Files\Agent Shell\agent-shell.exe" "%1""#.to_string(),
        )];
        assert_eq!(
            windows_scheme_check("com.agentshell.desktop", exe, &good).status,
            Status::Pass
        );
        let other = vec![(key.clone(), r#""C:\Old\agent-shell.exe" "%1""#.to_string())];
        let check = windows_scheme_check("com.agentshell.desktop", exe, &other);
        assert_eq!(check.status, Status::Fail);
        assert!(check.evidence.contains("not this program"), "{check:?}");
        let no_url = vec![(
            key,
            r#""C:\Program Files\Agent Shell\agent-shell.exe""#.to_string(),
        )];
        assert!(windows_scheme_check("com.agentshell.desktop", exe, &no_url)
            .evidence
            .contains("%1"));
        // Parsed and compared exactly: not a substring, no extra arguments.
        for tricked in [
            r#"cmd /c "C:\Program Files\Agent Shell\agent-shell.exe" "%1" & evil"#,
            r#""C:\Program Files\Agent Shell\agent-shell.exe" "%1" & evil"#,
            r#""C:\Program Files\Agent Shell\agent-shell.exe.bak" "%1""#,
            r#""C:\Program Files\Agent Shell\agent-shell.exe" --other "%1""#,
        ] {
            let handlers = vec![(String::from("HKCU"), tricked.to_string())];
            let check = windows_scheme_check("com.agentshell.desktop", exe, &handlers);
            assert_eq!(check.status, Status::Fail, "{tricked}");
        }
        let unquoted = vec![(
            String::from("HKCU"),
            r#"C:\AgentShell\agent-shell.exe %1"#.to_string(),
        )];
        assert_eq!(
            windows_scheme_check(
                "com.agentshell.desktop",
                Path::new(r"C:\AgentShell\agent-shell.exe"),
                &unquoted
            )
            .status,
            Status::Pass
        );
        let none = windows_scheme_check("com.agentshell.desktop", exe, &[]);
        assert_eq!(none.status, Status::Fail);
        assert!(none.fix.is_some());
    }

    #[test]
    fn windows_command_lines_split_as_windows_splits_them() {
        assert_eq!(
            windows_argv(r#""C:\A B\x.exe" "%1""#),
            [r"C:\A B\x.exe", "%1"]
        );
        assert_eq!(windows_argv(r#"x.exe a"b c"d"#), ["x.exe", "ab cd"]);
        assert_eq!(
            windows_argv(r#"x.exe \\"a b\\" \"q"#),
            ["x.exe", r"\a b\", "\"q"]
        );
        assert_eq!(
            windows_argv(r#"x.exe a\\b "" c"#),
            ["x.exe", r"a\\b", "", "c"]
        );
        assert!(windows_argv("   ").is_empty());
        assert_eq!(windows_argv(r#""unterminated"#), ["unterminated"]);
    }

    #[test]
    fn the_table_shows_evidence_and_fixes_and_counts_failures() {
        let mut report = Report::default();
        report.push(page_origin_check());
        report.push(Check {
            id: "deep_link.xdg_open",
            status: Status::Fail,
            evidence: "no application is registered".into(),
            fix: Some("xdg-mime default ...".into()),
        });
        assert!(report.failed());
        let table = report.table();
        assert!(
            table.contains("FAIL  deep_link.xdg_open     no application is registered"),
            "{table}"
        );
        assert!(table.contains("fix: xdg-mime default ..."), "{table}");
        assert!(
            table.contains("2 check(s): 1 failed, 0 warning(s)"),
            "{table}"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["checks"][1]["status"], "fail");
        assert_eq!(json["checks"][0]["fix"], serde_json::Value::Null);
    }
}
