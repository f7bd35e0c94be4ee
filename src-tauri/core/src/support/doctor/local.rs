//! Checks that read this machine only: the page origin, deep-link registration, the
//! configuration and its policy, the scopes and the CSP.

use std::path::Path;

use crate::config::{origin_of, ShellConfig};
use crate::platform::desktop::{self, Resolution, XdgDirs};

use super::{Check, Status};

/// The page origins IT allow-lists in "Restrict Genesys Cloud embedding".
pub fn page_origin_check() -> Check {
    Check {
        id: "embedding.page_origin",
        status: Status::Pass,
        evidence: "Agent Shell's page origin is tauri://localhost (Linux, macOS) and http://tauri.localhost (Windows)".into(),
        fix: None,
    }
}

pub(super) fn describe(resolution: &Resolution) -> String {
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

pub(super) fn resolution_check(
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

/// What the webview's compositing rule gives on this Linux desktop: `setting` is
/// `[webview] compositing`, `gpu` whether a render node can be opened, `session_override` the
/// session's own WEBKIT_DISABLE_COMPOSITING_MODE (left to WebKit). Compositing forced on
/// without a GPU is the one trap: WebKit then composites in software and its web process holds
/// about 90 MB more, on every VDI desktop.
pub fn compositing_check(
    setting: crate::config::Compositing,
    gpu: bool,
    session_override: Option<&str>,
) -> Check {
    use crate::config::Compositing;
    let id = "webview.compositing";
    let node = if gpu {
        "a GPU render node is usable"
    } else {
        "no GPU render node (/dev/dri/renderD*): WebKit renders in software"
    };
    let setting_name = match setting {
        Compositing::Auto => "auto",
        Compositing::On => "on",
        Compositing::Off => "off",
    };
    if let Some(value) = session_override {
        return Check {
            id,
            status: Status::Pass,
            evidence: format!(
                "WEBKIT_DISABLE_COMPOSITING_MODE={value} in the session decides ({setting_name} is not applied); {node}"
            ),
            fix: None,
        };
    }
    let off = setting.disable(gpu, false);
    let evidence = format!(
        "{setting_name}: compositing {}; {node}",
        if off { "off" } else { "on" }
    );
    if setting == Compositing::On && !gpu {
        return Check {
            id,
            status: Status::Warn,
            evidence,
            fix: Some(
                "set [webview] compositing = \"auto\" (policy WebviewCompositing): about 90 MB less per desktop where there is no GPU".into(),
            ),
        };
    }
    Check {
        id,
        status: Status::Pass,
        evidence,
        fix: None,
    }
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

/// The scopes sign-in asks for (the configuration already refuses a list without the required
/// ones; what is *granted* is checked at each sign-in, which reports a missing grant).
pub(super) fn scopes_check(config: &ShellConfig) -> Check {
    Check {
        id: "oauth.scopes",
        status: Status::Pass,
        evidence: format!("requested: {}", config.scopes.join(" ")),
        fix: None,
    }
}

/// The content security policy this configuration runs with frames and reaches exactly the
/// environment's hosts (the same list a proxy allow-list needs).
pub(super) fn csp_check(config: &ShellConfig) -> Check {
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
