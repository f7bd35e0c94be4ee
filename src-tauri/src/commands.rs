//! Tauri commands: deserialise, call the core, map errors. Nothing else lives here.

use std::sync::Arc;

use agent_shell_core::auth::{AuthError, AuthService, SessionView};
use tauri::{AppHandle, Runtime, State};

use agent_shell_core::embed::{ClientEvent, EmbedError};
use agent_shell_core::links::CrmAction;

use crate::ipc_error::IpcError;
use crate::session::{self, SignInStarted};
use crate::state::{ShellInfo, ShellState};
use crate::window;

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
/// here, like every client event; only a well-formed one can start a renewal.
#[tauri::command]
pub async fn report_token_expiring<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, ShellState>,
    event: serde_json::Value,
) -> Result<SessionView, IpcError> {
    let expires_in = match ClientEvent::parse(event) {
        Ok(ClientEvent::TokenExpiring { expires_in }) => expires_in,
        Ok(other) => {
            tracing::warn!(?other, "not a token-expiring message");
            return Err(IpcError::from_error(&EmbedError::Invalid(
                "expected a token-expiring message".into(),
            )));
        }
        Err(error) => {
            tracing::warn!(%error, "embedded client message dropped");
            return Err(IpcError::from_error(&error));
        }
    };
    tracing::info!(?expires_in, "embedded client says its token is expiring");
    session::renew_if_due(app, auth(&state)?, "token-expiring").await
}

/// The embedded client said genesys-cloud-embed:auth-error (its token was refused). Parsed
/// again here; the engine decides whether to renew, let a running renewal answer, or report.
#[tauri::command]
pub async fn report_auth_error<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, ShellState>,
    event: serde_json::Value,
) -> Result<session::AuthErrorOutcome, IpcError> {
    match ClientEvent::parse(event) {
        Ok(ClientEvent::AuthError { status, .. }) => {
            tracing::info!(?status, "embedded client says its token was refused");
        }
        Ok(other) => {
            tracing::warn!(?other, "not an auth-error message");
            return Err(IpcError::from_error(&EmbedError::Invalid(
                "expected an auth-error message".into(),
            )));
        }
        Err(error) => {
            tracing::warn!(%error, "embedded client message dropped");
            return Err(IpcError::from_error(&error));
        }
    }
    session::on_auth_error(app, auth(&state)?).await
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
/// again here into a typed event (anything else is refused and logged). interaction-end opens
/// the configured CRM page, once per interaction.
#[tauri::command]
pub fn report_client_event<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, ShellState>,
    event: serde_json::Value,
) -> Result<(), IpcError> {
    let event = ClientEvent::parse(event).map_err(|error| {
        tracing::warn!(%error, "embedded client message dropped");
        IpcError::from_error(&error)
    })?;
    tracing::info!(?event, "embedded client event");
    if let (ClientEvent::InteractionEnd { interaction_id }, Some(crm)) = (&event, &state.crm) {
        match crm.on_interaction_end(interaction_id, std::time::Instant::now()) {
            CrmAction::Open(url) => window::open_external(&app, &state.links, &url, "crm"),
            CrmAction::Duplicate => {
                tracing::info!(
                    interaction_id,
                    "CRM page already opened for this interaction"
                )
            }
            CrmAction::Invalid => {
                tracing::warn!(
                    interaction_id,
                    "CRM page skipped: the id does not fit the template"
                )
            }
            CrmAction::RateLimited => tracing::warn!(
                interaction_id,
                "CRM page skipped: too many interactions ended in the last minute"
            ),
        }
    }
    Ok(())
}
