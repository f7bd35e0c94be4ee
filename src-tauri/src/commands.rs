//! Tauri commands: each hands one input to the session engine and returns its answer. The
//! decisions, and the effects they lead to, are the engine's (agent_shell_core::session::engine).

use std::sync::Arc;

use agent_shell_core::embed::RenewalRequest;
use agent_shell_core::session::auth::{AuthError, SessionView};
use agent_shell_core::session::engine::{
    parse_client_message, AuthErrorOutcome, EmbedCredentials, SessionEngine, SignInStarted,
};
use tauri::State;

use crate::ipc_error::IpcError;
use crate::state::{ShellInfo, ShellState};

fn engine(state: &ShellState) -> Result<Arc<SessionEngine>, IpcError> {
    state
        .engine()
        .ok_or_else(|| IpcError::from_error(&AuthError::NotConfigured))
}

#[tauri::command]
pub fn get_shell_info<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    state: State<'_, ShellState>,
) -> ShellInfo {
    // The page's script is running and about to draw its first screen (the start benchmark
    // times launch to this line): the window, built hidden, can be shown.
    tracing::info!("page ready: asked for the shell info");
    crate::window::reveal_main_window(&app, "page ready");
    state.info()
}

#[tauri::command]
pub async fn get_session(state: State<'_, ShellState>) -> Result<SessionView, IpcError> {
    Ok(engine(&state)?.session())
}

#[tauri::command]
pub async fn start_sign_in(state: State<'_, ShellState>) -> Result<SignInStarted, IpcError> {
    engine(&state)?.start_sign_in().await
}

#[tauri::command]
pub async fn cancel_sign_in(state: State<'_, ShellState>) -> Result<(), IpcError> {
    engine(&state)?.cancel_sign_in();
    Ok(())
}

#[tauri::command]
pub async fn sign_out(state: State<'_, ShellState>) -> Result<SessionView, IpcError> {
    Ok(engine(&state)?.sign_out().await)
}

/// Renew the access token now (the agent pressed "retry").
#[tauri::command]
pub async fn refresh_session(state: State<'_, ShellState>) -> Result<SessionView, IpcError> {
    engine(&state)?.renew().await
}

/// agent-shell:token-expiring, parsed again in Rust; the engine renews when one is due.
#[tauri::command]
pub async fn report_token_expiring(
    state: State<'_, ShellState>,
    event: serde_json::Value,
) -> Result<SessionView, IpcError> {
    let message = parse_client_message(event, Some(RenewalRequest::TokenExpiring))?;
    engine(&state)?.client_token_expiring(message).await
}

/// agent-shell:auth-error, parsed again in Rust; the engine renews, lets a running
/// renewal answer, or reports.
#[tauri::command]
pub async fn report_auth_error(
    state: State<'_, ShellState>,
    event: serde_json::Value,
) -> Result<AuthErrorOutcome, IpcError> {
    let message = parse_client_message(event, Some(RenewalRequest::AuthError))?;
    engine(&state)?.client_auth_error(message).await
}

/// Credentials for (re)initialising the embedded client (renewed first when due).
#[tauri::command]
pub async fn get_embed_credentials(
    state: State<'_, ShellState>,
) -> Result<EmbedCredentials, IpcError> {
    engine(&state)?.client_init().await
}

/// Any other client message that passed the page's origin and source checks.
#[tauri::command]
pub async fn report_client_event(
    state: State<'_, ShellState>,
    event: serde_json::Value,
) -> Result<(), IpcError> {
    let event = parse_client_message(event, None)?;
    engine(&state)?.client_event(event)
}

/// What "Copy diagnostics" did: the text is always returned, so the page can show it to copy
/// by hand when the clipboard could not be written.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiagnosticsCopy {
    pub copied: bool,
    pub text: String,
}

/// "Copy diagnostics": the doctor's report on this desktop, the configuration's sources and
/// recent log lines, scrubbed, put on the clipboard. The demo probes a throwaway store, never
/// the agent's keychain.
#[tauri::command]
pub async fn copy_diagnostics<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    state: State<'_, ShellState>,
) -> Result<DiagnosticsCopy, IpcError> {
    use tauri_plugin_clipboard_manager::ClipboardExt;
    let keychain: Arc<dyn agent_shell_core::platform::keychain::SecretStore> = if state.demo {
        Arc::new(agent_shell_core::platform::keychain::MemoryStore::default())
    } else {
        Arc::new(agent_shell_core::platform::keychain::KeyringStore::doctor_probe())
    };
    let report = crate::diagnose::report(&state, keychain).await;
    let text = crate::diagnose::bundle(&report, &state);
    let copied = match app.clipboard().write_text(text.clone()) {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(%error, "diagnostics could not be put on the clipboard");
            false
        }
    };
    tracing::info!(
        copied,
        checks = report.checks.len(),
        "diagnostics collected"
    );
    Ok(DiagnosticsCopy { copied, text })
}

/// The agent confirmed quitting during an interaction (after `shell://confirm-exit`).
#[tauri::command]
pub fn confirm_exit<R: tauri::Runtime>(app: tauri::AppHandle<R>) {
    tracing::info!("quit confirmed during an interaction");
    app.exit(0);
}
