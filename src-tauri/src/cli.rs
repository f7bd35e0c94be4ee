//! Command line: `agent-shell [--config FILE] [REDIRECT_URL]`, `agent-shell demo`,
//! `agent-shell config check|paths`. Exit codes are documented in docs/configuration.md.

use std::path::PathBuf;
use std::process::ExitCode;

use agent_shell_core::config::policy;
use agent_shell_core::config::{self, ConfigOrigin};
use agent_shell_core::embed::csp;
use agent_shell_core::ErrorCode;
use clap::{Parser, Subcommand};

use crate::state::{ConfigState, ShellState};

pub const EXIT_OK: u8 = 0;
/// Runtime failure, or `config check` found an invalid file.
pub const EXIT_FAILURE: u8 = 1;
/// Bad command line (clap's convention).
pub const EXIT_USAGE: u8 = 2;
/// No graphical display to open a window on.
pub const EXIT_NO_DISPLAY: u8 = 3;
/// `config check` found no configuration file.
pub const EXIT_NOT_CONFIGURED: u8 = 4;

#[derive(Debug, Parser)]
#[command(
    name = "agent-shell",
    version,
    about = "Desktop shell for the Genesys Cloud Embedded Client",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Configuration file (takes precedence over AGENT_SHELL_CONFIG and the user config dir).
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,

    /// Sign-in redirect handed over by the browser (custom-scheme deep link).
    #[arg(value_name = "REDIRECT_URL")]
    pub redirect_url: Option<String>,

    /// Started by a start-at-login entry: quits at once (exit 0) unless `[startup] autostart`
    /// is on, so policy alone decides even where a machine-wide entry is installed.
    #[arg(long)]
    pub autostart: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run against the bundled Genesys Cloud emulator: no org and no configuration needed.
    Demo,
    /// Check this desktop for the known traps (no window): a table, or JSON with --json.
    /// Exits 1 when a check fails.
    Doctor {
        /// Print the report as JSON for tools.
        #[arg(long)]
        json: bool,
        /// Also write a diagnostics bundle (the report, the configuration's sources and recent
        /// log lines, scrubbed) to FILE, to attach to a ticket.
        #[arg(long, value_name = "FILE")]
        bundle: Option<PathBuf>,
    },
    /// Remove what Agent Shell keeps for this user: saved sign-ins, the start-at-login entry,
    /// the scheme handler (Linux), logs and webview data. For uninstall scripts and shared
    /// desks; the configuration file is kept. Exits 1 when something could not be removed.
    Cleanup {
        /// Only list what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
    /// Inspect the configuration (for IT).
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Validate the configuration file and print what it resolves to.
    Check,
    /// Print where the configuration file is looked for, in order.
    Paths,
}

/// What the first argument says about the launch, before any option is parsed.
pub use agent_shell_core::platform::launch::{classify_launch, LaunchArgs};

pub fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match classify_launch(&args) {
        LaunchArgs::Options => {}
        LaunchArgs::Redirect(url) => {
            let handover_attempt = crate::handover::take_attempt();
            let log_level = crate::logging::init();
            // The redirect carries an authorization code: never log the URL itself.
            tracing::info!("started with a redirect URL argument");
            let mut state = ShellState::from_files(None);
            apply_log_level(&log_level, &state);
            state.launch_redirect = Some(url);
            return ExitCode::from(run_window(state, handover_attempt));
        }
        LaunchArgs::RedirectWithExtras => {
            attach_console();
            eprintln!(
                "agent-shell: a sign-in redirect must be the only argument; {} other argument(s) came with it, so nothing was done",
                args.len() - 2
            );
            return ExitCode::from(EXIT_USAGE);
        }
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(error) => {
            attach_console();
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_OK
            });
        }
    };
    if cli.command.is_some() {
        attach_console();
    }
    if let Some(Command::Cleanup { dry_run }) = cli.command {
        // Before logging starts: the log directory is one of the leftovers.
        return ExitCode::from(crate::cleanup::run(cli.config.as_deref(), dry_run));
    }
    let handover_attempt = crate::handover::take_attempt();
    let log_level = crate::logging::init();
    match cli.command {
        Some(Command::Config { action }) => ExitCode::from(config_command(&action, cli.config)),
        Some(Command::Demo) => ExitCode::from(run_demo(handover_attempt)),
        Some(Command::Doctor { json, bundle }) => {
            ExitCode::from(doctor_command(cli.config, json, bundle))
        }
        Some(Command::Cleanup { .. }) => ExitCode::from(EXIT_OK),
        None if cli.redirect_url.is_some() => {
            // Only `classify_launch` accepts a redirect (alone); here options came first.
            eprintln!("agent-shell: a sign-in redirect must be the only argument, without options");
            ExitCode::from(EXIT_USAGE)
        }
        None => {
            let state = ShellState::from_files(cli.config.as_deref());
            // The start's phases are log lines the bench times (docs/benchmarks.md).
            tracing::info!(phase = "config", "start phase");
            apply_log_level(&log_level, &state);
            if cli.autostart && !autostart_is_on(&state) {
                // The entry outlived the setting (a machine-wide one stays until uninstall):
                // remove the user's own, then quit before any window.
                crate::sync_user_autostart(crate::cleanup::PRODUCT_NAME, false);
                tracing::info!("started at login, but autostart is off: quitting");
                return ExitCode::from(EXIT_OK);
            }
            ExitCode::from(run_window(state, handover_attempt))
        }
    }
}

/// Windows release builds use the GUI subsystem (no console window behind the app), so the
/// command line subcommands attach to the console of cmd or PowerShell before they print;
/// without one (started from Explorer) nothing changes. Elsewhere this does nothing.
fn attach_console() {
    if cfg!(all(windows, not(debug_assertions))) {
        // False without a parent console: then there is nobody to print to anyway.
        let _ = agent_shell_os_calls::attach_parent_console();
    }
}

/// The configured `[logs] level`, once the configuration is read.
fn apply_log_level(handle: &crate::logging::LogLevelHandle, state: &ShellState) {
    if let ConfigState::Loaded {
        config, managed, ..
    } = &state.config
    {
        let locked = managed.iter().any(|(key, _)| key == "logs.level");
        handle.apply(config.log_level, locked);
    }
}

/// `[startup] autostart` of a configuration that loaded. A broken configuration counts as on:
/// the agent then sees the error screen at login instead of nothing.
fn autostart_is_on(state: &ShellState) -> bool {
    match &state.config {
        ConfigState::Loaded { config, .. } => config.autostart,
        ConfigState::Invalid { .. } => true,
        ConfigState::NotConfigured { .. } => false,
    }
}

/// True where a window can be opened. Only Linux/BSD can lack a display in practice.
fn display_available() -> bool {
    if !cfg!(any(
        target_os = "linux",
        target_os = "freebsd",
        target_os = "openbsd"
    )) {
        return true;
    }
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()))
}

fn no_display_message(command: &str) -> String {
    format!(
        "agent-shell: no graphical display (DISPLAY and WAYLAND_DISPLAY are not set).\n\
         Agent Shell is a desktop app and needs a display to open its window.\n\
         On a machine without one, run it on a virtual display:\n\n    xvfb-run -a {command}\n"
    )
}

fn run_window(state: ShellState, handover_attempt: u32) -> u8 {
    if !display_available() {
        eprint!("{}", no_display_message("agent-shell"));
        return EXIT_NO_DISPLAY;
    }
    match crate::run_gui(state) {
        Ok(()) => EXIT_OK,
        Err(error) => {
            if let Some(detail) = crate::handover::failed_handover(&error) {
                return handover_failed(detail, handover_attempt);
            }
            tracing::error!(%error, "agent-shell stopped");
            eprintln!("agent-shell: {error}");
            EXIT_FAILURE
        }
    }
}

/// The running instance holds the lock but did not answer: start again (it is probably closing),
/// and after the last try say plainly what to do.
fn handover_failed(detail: &str, attempt: u32) -> u8 {
    use crate::handover;
    if handover::may_relaunch(attempt) {
        tracing::warn!(
            error = detail,
            attempt = attempt + 1,
            "the running Agent Shell did not answer; starting again"
        );
        let relaunch_error = handover::relaunch(attempt);
        tracing::error!(error = %relaunch_error, "could not start again");
    }
    tracing::error!(error = detail, "agent-shell stopped");
    eprintln!(
        "agent-shell: another Agent Shell is running in this session but does not answer.\n\
         Close it (or end the agent-shell process) and start Agent Shell again.\n\
         Detail: {detail}"
    );
    EXIT_FAILURE
}

#[cfg(feature = "demo")]
fn run_demo(handover_attempt: u32) -> u8 {
    if !display_available() {
        eprint!("{}", no_display_message("agent-shell demo"));
        return EXIT_NO_DISPLAY;
    }
    match crate::demo::start() {
        Ok(state) => run_window(state, handover_attempt),
        Err(error) => {
            eprintln!("agent-shell demo: {error}");
            EXIT_FAILURE
        }
    }
}

#[cfg(not(feature = "demo"))]
fn run_demo(_handover_attempt: u32) -> u8 {
    eprintln!("agent-shell demo: this build does not include the Genesys Cloud emulator (cargo feature `demo`).");
    EXIT_FAILURE
}

fn config_command(action: &ConfigAction, cli_path: Option<PathBuf>) -> u8 {
    match action {
        ConfigAction::Paths => {
            println!("Agent Shell reads the first of these that applies:");
            println!("  1. --config FILE");
            let env_value = std::env::var(config::CONFIG_ENV_VAR).unwrap_or_default();
            println!(
                "  2. ${} {}",
                config::CONFIG_ENV_VAR,
                if env_value.is_empty() {
                    "(not set)".to_string()
                } else {
                    format!("= {env_value}")
                }
            );
            match config::user_config_path() {
                Some(path) => println!("  3. {}", path.display()),
                None => println!("  3. (no user config directory on this system)"),
            }
            match policy::MachinePolicy::of_this_machine() {
                Ok(machine) if machine.searched.is_empty() => {
                    println!("Machine policy: none on this system")
                }
                Ok(machine) => {
                    println!("Under it, machine policy (keys set there are locked), first wins:");
                    for at in &machine.searched {
                        let holds = machine.layers.iter().any(|layer| &layer.at == at);
                        println!("  - {at}{}", if holds { "" } else { " (not present)" });
                    }
                }
                Err(error) => println!("Machine policy: cannot be read: {error}"),
            }
            EXIT_OK
        }
        ConfigAction::Check => {
            let state = ShellState::from_files(cli_path.as_deref());
            match &state.config {
                ConfigState::NotConfigured { searched } => {
                    print_ignored_policy_names(true);
                    eprintln!("No configuration file found.");
                    for path in searched {
                        eprintln!("  looked for: {}", path.display());
                    }
                    eprintln!("Name one with --config FILE or {}.", config::CONFIG_ENV_VAR);
                    EXIT_NOT_CONFIGURED
                }
                ConfigState::Invalid { error, path, .. } => {
                    print_ignored_policy_names(true);
                    eprintln!("{}: invalid configuration", path.display());
                    eprintln!("  error[{}]: {}", error.code, error.message);
                    EXIT_FAILURE
                }
                ConfigState::Loaded {
                    config,
                    origin,
                    path,
                    managed,
                } => {
                    print_config_summary(config, *origin, path.as_deref());
                    if !managed.is_empty() {
                        println!("Managed by your organization (locked by machine policy):");
                        for (key, source) in managed {
                            println!("  {key}: {source}");
                        }
                    }
                    print_ignored_policy_names(false);
                    EXIT_OK
                }
            }
        }
    }
}

/// `agent-shell doctor [--json] [--bundle FILE]`: the report on this desktop, on a runtime of
/// its own (no window runs). `--bundle` also writes the diagnostics IT asks for.
fn doctor_command(cli_path: Option<PathBuf>, json: bool, bundle: Option<PathBuf>) -> u8 {
    let state = ShellState::from_files(cli_path.as_deref());
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("agent-shell doctor: no async runtime: {error}");
            return EXIT_FAILURE;
        }
    };
    let keychain =
        std::sync::Arc::new(agent_shell_core::platform::keychain::KeyringStore::doctor_probe());
    let report = runtime.block_on(crate::diagnose::report(&state, keychain));
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(error) => eprintln!("agent-shell doctor: {error}"),
        }
    } else {
        print!("{}", report.table());
    }
    if let Some(path) = bundle {
        let text = crate::diagnose::bundle(&report, &state);
        if let Err(error) = std::fs::write(&path, text) {
            eprintln!(
                "agent-shell doctor: cannot write {}: {error}",
                path.display()
            );
            return EXIT_FAILURE;
        }
        eprintln!("Diagnostics written to {}", path.display());
    }
    if report.failed() {
        EXIT_FAILURE
    } else {
        EXIT_OK
    }
}

/// Policy names this version ignored (unknown or set twice), with where each was found:
/// harmless (never an error), but a misspelt one leaves its setting unlocked.
fn print_ignored_policy_names(to_stderr: bool) {
    let Ok(machine) = policy::MachinePolicy::of_this_machine() else {
        return;
    };
    if machine.ignored.is_empty() {
        return;
    }
    let mut text = String::from(
        "Ignored policy names (not known to this version, or set twice; no effect, see docs/policy-reference.md):\n",
    );
    for name in &machine.ignored {
        text.push_str(&format!("  {name}\n"));
    }
    if to_stderr {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
}

fn print_config_summary(
    config: &config::ShellConfig,
    origin: ConfigOrigin,
    path: Option<&std::path::Path>,
) {
    let path = path.map(|p| p.display().to_string()).unwrap_or_default();
    println!("Configuration OK: {path} (from {origin})");
    println!("  environment:     {}", config.environment_label());
    println!("  client id:       {}", config.client_id);
    println!("  scopes:          {}", config.scopes.join(" "));
    println!("  authorize:       {}", config.endpoints.authorize);
    println!("  token:           {}", config.endpoints.token);
    println!("  client page:     {}", config.endpoints.client_page);
    println!("  api:             {}", config.endpoints.api);
    println!("  streaming:       {}", config.endpoints.streaming);
    println!("Register these redirect URIs on the Genesys Cloud OAuth client:");
    for uri in config.redirect.all_uris() {
        println!("  {uri}");
    }
    if config.endpoints.frames_agent_client() {
        println!("The agent client calls the Genesys Cloud API from its own origin:");
        println!(
            "  agent-client://localhost (Linux, macOS), http://agent-client.localhost (Windows)"
        );
    } else {
        println!("Origins of the Agent Shell page (for the client page's own checks):");
        println!("  tauri://localhost (Linux, macOS), http://tauri.localhost (Windows)");
    }
    match csp::for_config(Some(config)) {
        Ok(policy) => println!("Content-Security-Policy of the app page:\n  {policy}"),
        Err(error) => println!("Content-Security-Policy: error[{}] {error}", error.code()),
    }
    if config.endpoints.frames_agent_client() {
        match csp::agent_client_policy(&config.endpoints) {
            Ok(policy) => println!("Content-Security-Policy of the agent client:\n  {policy}"),
            Err(error) => println!("Content-Security-Policy: error[{}] {error}", error.code()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_deep_link_is_accepted_as_the_only_argument() {
        let cli = Cli::try_parse_from([
            "agent-shell",
            "com.agentshell.desktop:/oauth/callback?code=abc&state=xyz",
        ]);
        assert!(matches!(
            cli,
            Ok(Cli {
                command: None,
                redirect_url: Some(_),
                ..
            })
        ));
        let demo = Cli::try_parse_from(["agent-shell", "demo"]);
        assert!(matches!(
            demo,
            Ok(Cli {
                command: Some(Command::Demo),
                ..
            })
        ));
    }
}
