//! The doctor's report on this desktop, shared by `agent-shell doctor` and the app's
//! "Copy diagnostics", and the diagnostics bundle built from it.

use std::sync::Arc;

use agent_shell_core::config;
use agent_shell_core::platform::keychain::SecretStore;
use agent_shell_core::support::doctor::{self, browser, Check, Report, Status};
use agent_shell_core::support::{diagnostics, logs};

use crate::state::{ConfigState, ShellState};

/// Log lines a bundle carries (the newest).
const BUNDLE_LOG_LINES: usize = 200;

/// Every check, in the order an admin reads them: the configuration, the page origin, the
/// network, OAuth client, CORS, CSP and keychain checks (when configured), the scheme, and
/// whether the default browser will ask before handing the sign-in back.
pub async fn report(state: &ShellState, keychain: Arc<dyn SecretStore>) -> Report {
    let mut report = Report {
        system: Some(diagnostics::SystemInfo::of_this_machine(webview_version())),
        ..Report::default()
    };
    let scheme = match &state.config {
        ConfigState::Loaded {
            config,
            origin,
            path,
            ..
        } => {
            let source = match path {
                Some(path) => format!("{} (from {origin})", path.display()),
                None => origin.to_string(),
            };
            report.push(doctor::config_check(config, &source));
            config.redirect.deep_link_scheme.clone()
        }
        ConfigState::Invalid { error, path, .. } => {
            report.push(Check {
                id: "config",
                status: Status::Fail,
                evidence: format!(
                    "{}: error[{}] {}",
                    path.display(),
                    error.code,
                    error.message
                ),
                fix: Some(
                    "correct the key named above; `agent-shell config check` shows the whole file"
                        .into(),
                ),
            });
            config::DEFAULT_DEEP_LINK_SCHEME.to_string()
        }
        ConfigState::NotConfigured { searched } => {
            report.push(Check {
                id: "config",
                status: Status::Fail,
                evidence: format!(
                    "no configuration file found (looked for {})",
                    searched
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                fix: Some(format!(
                    "write one (docs/config.example.toml) or name it with --config FILE or {}",
                    config::CONFIG_ENV_VAR
                )),
            });
            config::DEFAULT_DEEP_LINK_SCHEME.to_string()
        }
    };
    report.push(doctor::ignored_policy_names_check(
        &agent_shell_core::config::policy::MachinePolicy::of_this_machine(),
    ));
    report.push(doctor::page_origin_check());
    if let ConfigState::Loaded { config, .. } = &state.config {
        for check in doctor::network_checks(config, keychain).await {
            report.push(check);
        }
    }
    #[cfg(target_os = "linux")]
    match (
        std::env::current_exe(),
        agent_shell_core::platform::desktop::XdgDirs::from_env(),
    ) {
        (Ok(exe), Some(dirs)) => {
            for check in doctor::deep_link_checks(&scheme, &exe, &dirs).await {
                report.push(check);
            }
        }
        _ => report.push(Check {
            id: "deep_link.xdg_open",
            status: Status::Fail,
            evidence: "this program's path or HOME is unknown".into(),
            fix: None,
        }),
    }
    #[cfg(windows)]
    if let Ok(exe) = std::env::current_exe() {
        let handlers = agent_shell_os_calls::scheme_handlers(&scheme);
        report.push(doctor::windows_scheme_check(&scheme, &exe, &handlers));
    }
    #[cfg(not(any(target_os = "linux", windows)))]
    let _ = scheme;
    #[cfg(target_os = "linux")]
    {
        use agent_shell_core::platform::gpu;
        let setting = match &state.config {
            ConfigState::Loaded { config, .. } => config.compositing,
            _ => Default::default(),
        };
        let session = std::env::var("WEBKIT_DISABLE_COMPOSITING_MODE").ok();
        report.push(doctor::compositing_check(
            setting,
            gpu::this_machine_has_one(),
            session.as_deref(),
        ));
    }
    if let ConfigState::Loaded { config, .. } = &state.config {
        report.push(browser::scheme_prompt_check(&browser_prompt_facts(config)));
    }
    report
}

/// What doctor can read of the default browser and its prompt policy on this OS (macOS: not
/// read, the check says so).
fn browser_prompt_facts(config: &config::ShellConfig) -> browser::PromptFacts {
    let default_handler: Option<String> = {
        #[cfg(target_os = "linux")]
        {
            agent_shell_core::platform::desktop::XdgDirs::from_env()
                .and_then(|dirs| agent_shell_core::platform::desktop::default_browser(&dirs))
        }
        #[cfg(windows)]
        {
            agent_shell_os_calls::default_browser_progid()
        }
        #[cfg(not(any(target_os = "linux", windows)))]
        {
            None
        }
    };
    let policies = match default_handler
        .as_deref()
        .and_then(browser::Browser::from_handler)
    {
        #[cfg(target_os = "linux")]
        Some(found) => browser::linux_policy_values(found, std::path::Path::new("/")),
        #[cfg(windows)]
        Some(found) => {
            let mut values = Vec::new();
            for &name in found.policy_names() {
                for (at, text) in
                    agent_shell_os_calls::policy_strings(found.windows_policy_key(), name)
                {
                    values.push(browser::PolicyValue::from_json_text(name, at, &text));
                }
            }
            values
        }
        _ => Vec::new(),
    };
    browser::PromptFacts {
        scheme: config.redirect.deep_link_scheme.clone(),
        login_origin: config::origin_of(&config.endpoints.authorize),
        loopback: config.redirect.prefer == config::RedirectMode::Loopback,
        default_handler,
        policies,
    }
}

/// The webview engine's version: WebKitGTK's runtime version on Linux (what the loaded
/// library reports), the WebKit framework's on macOS, the installed WebView2 runtime's on
/// Windows. None where it cannot be read.
fn webview_version() -> Option<String> {
    match tauri::webview_version() {
        Ok(version) if !version.trim().is_empty() => Some(version.trim().to_string()),
        Ok(_) => None,
        Err(error) => {
            tracing::debug!(%error, "webview version unknown");
            None
        }
    }
}

/// The diagnostics bundle: the report, the configuration's sources, and recent log lines,
/// scrubbed of credentials and e-mail addresses.
pub fn bundle(report: &Report, state: &ShellState) -> String {
    let system = report
        .system
        .clone()
        .unwrap_or_else(|| diagnostics::SystemInfo::of_this_machine(webview_version()));
    let mut facts = system.facts();
    match &state.config {
        ConfigState::Loaded {
            config,
            origin,
            path,
            managed,
        } => {
            facts.push((
                "Configuration".to_string(),
                match path {
                    Some(path) => format!("{} (from {origin})", path.display()),
                    None => origin.to_string(),
                },
            ));
            facts.push(("Environment".to_string(), config.environment_label()));
            facts.push(("Client id".to_string(), config.client_id.clone()));
            for (key, source) in managed {
                facts.push((format!("Locked {key}"), source.clone()));
            }
        }
        ConfigState::Invalid { error, path, .. } => facts.push((
            "Configuration".to_string(),
            format!(
                "{}: error[{}] {}",
                path.display(),
                error.code,
                error.message
            ),
        )),
        ConfigState::NotConfigured { .. } => {
            facts.push(("Configuration".to_string(), "none found".to_string()))
        }
    }
    let lines = logs::log_dir()
        .map(|dir| logs::recent_lines(&dir, BUNDLE_LOG_LINES))
        .unwrap_or_default();
    diagnostics::render(&facts, &report.table(), &lines)
}
