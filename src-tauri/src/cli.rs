//! Command line: `agent-shell [--config FILE] [REDIRECT_URL]`, `agent-shell demo`,
//! `agent-shell config check|paths`. Exit codes are documented in docs/configuration.md.

use std::path::PathBuf;
use std::process::ExitCode;

use agent_shell_core::config::{self, ConfigOrigin};
use agent_shell_core::{csp, ErrorCode};
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
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run against the bundled Genesys Cloud emulator: no org and no configuration needed.
    Demo,
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

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_OK
            });
        }
    };
    let handover_attempt = crate::handover::take_attempt();
    init_logging();
    match cli.command {
        Some(Command::Config { action }) => ExitCode::from(config_command(&action, cli.config)),
        Some(Command::Demo) => ExitCode::from(run_demo(handover_attempt)),
        None => {
            let mut state = ShellState::from_files(cli.config.as_deref());
            if cli.redirect_url.is_some() {
                // The redirect carries an authorization code: never log the URL itself.
                tracing::info!("started with a redirect URL argument");
                state.launch_redirect = cli.redirect_url;
            }
            ExitCode::from(run_window(state, handover_attempt))
        }
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("AGENT_SHELL_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,tao=warn,wry=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
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
            EXIT_OK
        }
        ConfigAction::Check => {
            let state = ShellState::from_files(cli_path.as_deref());
            match &state.config {
                ConfigState::NotConfigured { searched } => {
                    eprintln!("No configuration file found.");
                    for path in searched {
                        eprintln!("  looked for: {}", path.display());
                    }
                    eprintln!("Name one with --config FILE or {}.", config::CONFIG_ENV_VAR);
                    EXIT_NOT_CONFIGURED
                }
                ConfigState::Invalid { error, path, .. } => {
                    eprintln!("{}: invalid configuration", path.display());
                    eprintln!("  error[{}]: {}", error.code, error.message);
                    EXIT_FAILURE
                }
                ConfigState::Loaded {
                    config,
                    origin,
                    path,
                } => {
                    print_config_summary(config, *origin, path.as_deref());
                    EXIT_OK
                }
            }
        }
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
    println!("  embedded client: {}", config.endpoints.client_page);
    println!("Register these redirect URIs on the Genesys Cloud OAuth client:");
    for uri in config.redirect.all_uris() {
        println!("  {uri}");
    }
    println!("Origins of the Agent Shell page (for \"Restrict Genesys Cloud Embedding\"):");
    println!("  tauri://localhost (Linux, macOS), http://tauri.localhost (Windows)");
    match csp::for_config(Some(config)) {
        Ok(policy) => println!("Content-Security-Policy:\n  {policy}"),
        Err(error) => println!("Content-Security-Policy: error[{}] {error}", error.code()),
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
