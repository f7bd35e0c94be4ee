//! Tauri commands: each hands one input to the session engine and returns its answer. The
//! decisions, and the effects they lead to, are the engine's (agent_shell_core::engine).

use std::sync::Arc;

use agent_shell_core::auth::{AuthError, SessionView};
use agent_shell_core::engine::{
    AuthErrorOutcome, EmbedCredentials, Input, SessionEngine, SignInStarted,
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
pub fn get_shell_info(state: State<'_, ShellState>) -> ShellInfo {
    state.info()
}

#[tauri::command]
pub async fn get_session(state: State<'_, ShellState>) -> Result<SessionView, IpcError> {
    engine(&state)?.handle(Input::GetSession).await?.view()
}

#[tauri::command]
pub async fn start_sign_in(state: State<'_, ShellState>) -> Result<SignInStarted, IpcError> {
    engine(&state)?
        .handle(Input::StartSignIn)
        .await?
        .sign_in_started()
}

#[tauri::command]
pub async fn cancel_sign_in(state: State<'_, ShellState>) -> Result<(), IpcError> {
    engine(&state)?.handle(Input::CancelSignIn).await?.done()
}

#[tauri::command]
pub async fn sign_out(state: State<'_, ShellState>) -> Result<SessionView, IpcError> {
    engine(&state)?.handle(Input::SignOut).await?.view()
}

/// Renew the access token now (the agent pressed "retry").
#[tauri::command]
pub async fn refresh_session(state: State<'_, ShellState>) -> Result<SessionView, IpcError> {
    engine(&state)?.handle(Input::Renew).await?.view()
}

/// genesys-cloud-embed:token-expiring, parsed again in Rust; the engine renews when one is due.
#[tauri::command]
pub async fn report_token_expiring(
    state: State<'_, ShellState>,
    event: serde_json::Value,
) -> Result<SessionView, IpcError> {
    engine(&state)?
        .handle(Input::ClientTokenExpiring(event))
        .await?
        .view()
}

/// genesys-cloud-embed:auth-error, parsed again in Rust; the engine renews, lets a running
/// renewal answer, or reports.
#[tauri::command]
pub async fn report_auth_error(
    state: State<'_, ShellState>,
    event: serde_json::Value,
) -> Result<AuthErrorOutcome, IpcError> {
    engine(&state)?
        .handle(Input::ClientAuthError(event))
        .await?
        .auth_error()
}

/// Credentials for (re)initialising the embedded client (renewed first when due).
#[tauri::command]
pub async fn get_embed_credentials(
    state: State<'_, ShellState>,
) -> Result<EmbedCredentials, IpcError> {
    engine(&state)?
        .handle(Input::ClientInit)
        .await?
        .credentials()
}

/// Any other client message that passed the page's origin and source checks.
#[tauri::command]
pub async fn report_client_event(
    state: State<'_, ShellState>,
    event: serde_json::Value,
) -> Result<(), IpcError> {
    engine(&state)?
        .handle(Input::ClientEvent(event))
        .await?
        .done()
}
