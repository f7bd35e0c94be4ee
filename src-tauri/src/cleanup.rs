//! `agent-shell cleanup [--dry-run]`: removes what Agent Shell keeps for the user who runs it,
//! for IT's uninstall scripts and for handing a desk to someone else. The configuration file
//! is IT's and stays. Runs before logging starts, so the log directory can go too.

use agent_shell_core::platform::keychain;
use agent_shell_core::support::cleanup::{self, Leftover, Places, State};

use crate::cli::{EXIT_FAILURE, EXIT_OK};
use crate::state::{ConfigState, ShellState};

/// The app's name and identifier as tauri.conf.json gives them (the autostart entry and the
/// webview's directories are named after them).
pub(crate) const PRODUCT_NAME: &str = "Agent Shell";
const IDENTIFIER: &str = "com.agentshell.desktop";

pub fn run(cli_path: Option<&std::path::Path>, dry_run: bool) -> u8 {
    let state = ShellState::from_files(cli_path);
    let (scheme, account) = match &state.config {
        ConfigState::Loaded { config, .. } => (
            config.redirect.deep_link_scheme.clone(),
            Some(config.keychain_account()),
        ),
        _ => (
            agent_shell_core::config::DEFAULT_DEEP_LINK_SCHEME.to_string(),
            None,
        ),
    };
    let mut found = vec![
        saved_sign_ins(account.as_deref(), dry_run),
        start_at_login(dry_run),
    ];
    if cfg!(windows) {
        found.push(windows_scheme_key(&scheme, dry_run));
    }
    found.extend(cleanup::clean(
        &Places::of_this_user(&scheme, IDENTIFIER),
        dry_run,
    ));
    let width = found.iter().map(|l| l.what.len()).max().unwrap_or(0);
    for leftover in &found {
        println!(
            "{:width$}  {}  {}",
            leftover.what,
            leftover.state.label(),
            leftover.location
        );
    }
    println!("kept: the configuration file (IT's); remove it with the installer or by hand");
    if dry_run {
        println!("dry run: nothing was removed");
    }
    let failed = found.iter().any(|l| matches!(l.state, State::Failed(_)));
    if failed {
        eprintln!("agent-shell cleanup: some leftovers could not be removed (see FAILED above)");
        EXIT_FAILURE
    } else {
        EXIT_OK
    }
}

fn saved_sign_ins(current: Option<&str>, dry_run: bool) -> Leftover {
    let what = "saved sign-ins (keychain)";
    let listed = keychain::saved_sign_in_accounts(current);
    let (location, state) = match (listed, dry_run) {
        (Err(error), _) => (
            keychain::KEYCHAIN_SERVICE.to_string(),
            State::Failed(error.to_string()),
        ),
        (Ok(accounts), _) if accounts.is_empty() => (String::new(), State::Absent),
        (Ok(accounts), true) => (names(&accounts), State::Present),
        (Ok(_), false) => match keychain::delete_every_saved_sign_in(current) {
            Ok(accounts) => (names(&accounts), State::Removed),
            Err(error) => (
                keychain::KEYCHAIN_SERVICE.to_string(),
                State::Failed(error.to_string()),
            ),
        },
    };
    Leftover {
        what,
        location,
        state,
    }
}

fn names(accounts: &[String]) -> String {
    format!(
        "service {}, account(s) {}",
        keychain::KEYCHAIN_SERVICE,
        accounts.join(", ")
    )
}

/// Windows: the per-user scheme registration (the installer's HKLM one is the installer's).
fn windows_scheme_key(scheme: &str, dry_run: bool) -> Leftover {
    let location = format!(r"HKCU\Software\Classes\{scheme}");
    let state = match agent_shell_os_calls::user_scheme_key(scheme, !dry_run) {
        Ok(None) => State::Absent,
        Ok(Some(_)) if dry_run => State::Present,
        Ok(Some(_)) => State::Removed,
        Err(error) => State::Failed(error),
    };
    Leftover {
        what: "scheme handler",
        location,
        state,
    }
}

fn start_at_login(dry_run: bool) -> Leftover {
    let what = "start at login";
    let state = match crate::autostart_launcher(PRODUCT_NAME) {
        Err(error) => State::Failed(error),
        Ok(launcher) => match launcher.is_enabled() {
            Err(error) => State::Failed(error.to_string()),
            Ok(false) => State::Absent,
            Ok(true) if dry_run => State::Present,
            Ok(true) => match launcher.disable() {
                Ok(()) => State::Removed,
                Err(error) => State::Failed(error.to_string()),
            },
        },
    };
    Leftover {
        what,
        location: format!("the {PRODUCT_NAME} entry"),
        state,
    }
}
