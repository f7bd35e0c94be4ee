//! Tauri commands: deserialise, call the core, map errors. Nothing else lives here.

use std::sync::Arc;

use agent_shell_core::auth::{AuthError, AuthService, SessionView};
use tauri::{AppHandle, Runtime, State};

use crate::ipc_error::IpcError;
use crate::session::{self, SignInStarted};
use crate::state::{ShellInfo, ShellState};

fn auth(state: &ShellState) -> Result<Arc<AuthService>, IpcError> {
    state
        .auth
        .clone()
        .ok_or_else(|| IpcError::from_error(&AuthError::NotConfigured))
}

#[tauri::command]
pub fn get_shell_info(state: State<'_, ShellState>) -> ShellInfo {
    state.info()
}

#[tauri::command]
pub fn get_session(state: State<'_, ShellState>) -> Result<SessionView, IpcError> {
    Ok(auth(&state)?.view())
}

#[tauri::command]
pub async fn start_sign_in<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, ShellState>,
) -> Result<SignInStarted, IpcError> {
    session::start_sign_in(app, auth(&state)?).await
}

#[tauri::command]
pub fn cancel_sign_in<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, ShellState>,
) -> Result<(), IpcError> {
    let auth = auth(&state)?;
    auth.cancel_sign_in(None);
    session::emit(&app, &auth);
    Ok(())
}

#[tauri::command]
pub async fn sign_out<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, ShellState>,
) -> Result<SessionView, IpcError> {
    Ok(session::sign_out(app, auth(&state)?).await)
}

/// Renew the access token now (the agent pressed "retry", or the UI is about to hand a token
/// to the embedded client).
#[tauri::command]
pub async fn refresh_session<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, ShellState>,
) -> Result<SessionView, IpcError> {
    session::refresh(app, auth(&state)?, "ui").await
}

/// The embedded client said genesys-cloud-embed:token-expiring.
#[tauri::command]
pub async fn report_token_expiring<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, ShellState>,
) -> Result<SessionView, IpcError> {
    session::refresh(app, auth(&state)?, "token-expiring").await
}
