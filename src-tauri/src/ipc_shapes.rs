//! The JSON that crosses IPC, written out as samples in src-tauri/fixtures/ipc-shapes.json and
//! type-checked there against the page's hand-written mirror (ui/src/ipc.ts) by
//! ui/test/ipcShapes.test.ts. The samples are built from the real Rust types, so a field
//! added, renamed or retyped fails a check: here when the file no longer matches, in the page's
//! type check when the types no longer fit. After a deliberate change, refresh the file with
//! `UPDATE_IPC_SHAPES=1 cargo test -p agent-shell --lib ipc_shapes` and update ui/src/ipc.ts.
#![cfg(test)]
#![allow(clippy::unwrap_used)]

use agent_shell_core::embed::EmbedInit;
use agent_shell_core::session::auth::{Notice, Phase, SessionView, UserInfo};
use serde_json::{json, Value};

use crate::ipc_error::IpcError;
use crate::state::{ConfigState, ConfigStatus, ShellState};
use crate::window::LinkOutcome;
use agent_shell_core::session::engine::EmbedCredentials;
use agent_shell_core::session::engine::SignInStarted;

const SHAPES_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/src-tauri/fixtures/ipc-shapes.json"
);

/// Every phase; the match makes a new variant a compile error here until it is listed.
fn all_phases() -> Vec<Phase> {
    let all = vec![
        Phase::SignedOut,
        Phase::Restoring,
        Phase::SigningIn,
        Phase::SignedIn,
        Phase::Refreshing,
        Phase::ReloginRequired,
    ];
    for phase in &all {
        match phase {
            Phase::SignedOut
            | Phase::Restoring
            | Phase::SigningIn
            | Phase::SignedIn
            | Phase::Refreshing
            | Phase::ReloginRequired => {}
        }
    }
    all
}

fn all_config_statuses() -> Vec<ConfigStatus> {
    let all = vec![
        ConfigStatus::Configured,
        ConfigStatus::NotConfigured,
        ConfigStatus::Invalid,
    ];
    for status in &all {
        match status {
            ConfigStatus::Configured | ConfigStatus::NotConfigured | ConfigStatus::Invalid => {}
        }
    }
    all
}

/// ShellInfo as the app builds it for a configuration file with `text`, with the
/// machine-specific values (version, file path) made stable.
fn shell_info_for_file(text: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent-shell.toml");
    std::fs::write(&path, text).unwrap();
    let mut info = ShellState::from_files(Some(&path)).info();
    // Errors name the file: keep the sample free of the temporary directory.
    if let Some(error) = info.config_error.as_mut() {
        error.message = error
            .message
            .replace(&dir.path().display().to_string(), "/etc/agent-shell");
    }
    stable(info)
}

fn stable(mut info: crate::state::ShellInfo) -> Value {
    info.version = "0.0.0-sample";
    // The same sample whether or not this test build has the `demo` feature.
    info.demo_available = false;
    if info.config_path.is_some() {
        info.config_path = Some("/etc/agent-shell/agent-shell.toml".into());
    }
    serde_json::to_value(info).unwrap()
}

fn shell_info_not_configured() -> Value {
    stable(
        ShellState::for_config_state(ConfigState::NotConfigured {
            searched: vec!["/home/agent/.config/agent-shell/agent-shell.toml".into()],
        })
        .info(),
    )
}

fn samples() -> Value {
    let session = SessionView {
        phase: Phase::SignedIn,
        user: Some(UserInfo {
            id: "a1b2c3d4-0000-4000-8000-000000000001".into(),
            name: Some("Alex Agent".into()),
            email: Some("agent@example.com".into()),
        }),
        expires_at_ms: Some(1_790_000_000_000),
        refreshable: true,
        persisted: true,
        notice: Some(Notice {
            code: agent_shell_core::Code::KeychainUnavailable,
            message: "The OS keychain is not available.".into(),
        }),
    };
    let credentials = EmbedCredentials {
        access_token: "sample-access-token".into(),
        expires_at: Some(1_790_000_000_000),
        init: EmbedInit {
            environment: "mypurecloud.ie".into(),
            api_base: "https://api.mypurecloud.ie".into(),
            client_id: "sample-client-id".into(),
            embedded_client_settings: Default::default(),
        },
    };
    let sign_in = SignInStarted {
        url: "https://login.mypurecloud.ie/oauth/authorize?client_id=sample-client-id".into(),
        redirect_uri: "com.agentshell.desktop:/oauth/callback".into(),
        browser_opened: true,
        browser_error: Some("no browser found".into()),
        redirect_note: Some("This computer does not pass sign-in links to Agent Shell.".into()),
    };
    let link = LinkOutcome {
        opened: false,
        host: Some("evil.example".into()),
        code: Some(agent_shell_core::Code::LinkHostNotAllowed),
        message: "Links to evil.example are not opened.".into(),
    };
    let error = IpcError {
        code: agent_shell_core::Code::NotSignedIn,
        message: "You are not signed in.".into(),
    };
    let signed_out = SessionView {
        phase: Phase::SignedOut,
        user: None,
        expires_at_ms: None,
        refreshable: false,
        persisted: false,
        notice: None,
    };
    let link_opened = LinkOutcome {
        opened: true,
        host: None,
        code: None,
        message: "Opened in your browser.".into(),
    };
    json!({
        "shellInfo": shell_info_for_file(
            "environment = \"mypurecloud.ie\"\nclient_id = \"sample-client-id\"\n"
        ),
        "shellInfoInvalid": shell_info_for_file(
            "environment = \"nowhere.example\"\nclient_id = \"sample-client-id\"\n"
        ),
        "shellInfoNotConfigured": shell_info_not_configured(),
        "sessionView": session,
        "sessionViewSignedOut": signed_out,
        "linkOutcomeOpened": link_opened,
        "embedCredentials": credentials,
        "signInStarted": sign_in,
        "authErrorOutcome": agent_shell_core::session::engine::AuthErrorOutcome {
            action: agent_shell_core::session::auth::AuthErrorAction::Report,
        },
        "authErrorActions": [
            agent_shell_core::session::auth::AuthErrorAction::Renewed,
            agent_shell_core::session::auth::AuthErrorAction::RenewalRunning,
            agent_shell_core::session::auth::AuthErrorAction::Report,
        ],
        "linkOutcome": link,
        "diagnosticsCopy": crate::commands::DiagnosticsCopy {
            copied: true,
            text: "Agent Shell diagnostics".into(),
        },
        "ipcError": error,
        "phases": all_phases(),
        "codes": agent_shell_core::Code::ALL,
        "configStatuses": all_config_statuses(),
    })
}

#[test]
fn the_ipc_samples_match_what_the_rust_types_produce() {
    let expected = format!("{}\n", serde_json::to_string_pretty(&samples()).unwrap());
    let committed = std::fs::read_to_string(SHAPES_PATH).unwrap_or_default();
    if std::env::var_os("UPDATE_IPC_SHAPES").is_some() && committed != expected {
        std::fs::write(SHAPES_PATH, &expected).unwrap();
        // Never a silent pass: a run that rewrote the file must not count as green (in CI it
        // would hide the drift).
        panic!("{SHAPES_PATH} was rewritten; review the change, update ui/src/ipc.ts, and run the tests again without UPDATE_IPC_SHAPES");
    }
    assert!(
        committed == expected,
        "{SHAPES_PATH} is out of date with the Rust types. Refresh it with \
         UPDATE_IPC_SHAPES=1 cargo test -p agent-shell --lib ipc_shapes, then update \
         ui/src/ipc.ts to match (npm run typecheck checks it).\nExpected:\n{expected}"
    );
}
