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

/// The embedded client said genesys-cloud-embed:token-expiring. The message is parsed again
/// in Rust, like every client event; only a well-formed one can start a renewal, and the
/// engine renews only when one is due.
#[tauri::command]
pub async fn report_token_expiring<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, ShellState>,
    event: serde_json::Value,
) -> Result<SessionView, IpcError> {
    session::on_token_expiring(app, auth(&state)?, event).await
}

/// The embedded client said genesys-cloud-embed:auth-error (its token was refused). Parsed
/// again in Rust; the engine renews, lets a running renewal answer, or reports.
#[tauri::command]
pub async fn report_auth_error<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, ShellState>,
    event: serde_json::Value,
) -> Result<session::AuthErrorOutcome, IpcError> {
    session::on_auth_error(app, auth(&state)?, event).await
}

/// What the page posts to the embedded client in genesys-cloud-embed:init / :token. The access
/// token crosses into JS only for this, and only to be posted to the client's exact origin.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmbedCredentials {
    pub(crate) access_token: String,
    #[serde(flatten)]
    pub(crate) init: agent_shell_core::embed::EmbedInit,
}

/// Credentials for (re)initialising the embedded client. A token about to expire is renewed
/// first: the client's bootstrap takes seconds and must not start with a dying token.
#[tauri::command]
pub async fn get_embed_credentials<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, ShellState>,
) -> Result<EmbedCredentials, IpcError> {
    let auth = auth(&state)?;
    session::renew_if_due(app, auth.clone(), "before-client-init").await?;
    let token = auth
        .access_token()
        .ok_or_else(|| IpcError::from_error(&AuthError::NotSignedIn))?;
    let config = auth.config();
    Ok(EmbedCredentials {
        access_token: token.expose().to_string(),
        init: agent_shell_core::embed::EmbedInit {
            environment: config.environment_label(),
            client_id: config.client_id.clone(),
            embedded_client_settings: config.embed,
        },
    })
}

/// A message from the embedded client that passed the page's origin and source checks; parsed
/// again in Rust into a typed event (anything else is refused and logged). interaction-end opens
/// the configured CRM page, once per interaction.
#[tauri::command]
pub fn report_client_event<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, ShellState>,
    event: serde_json::Value,
) -> Result<(), IpcError> {
    session::on_client_event(&app, &state, event)
}
