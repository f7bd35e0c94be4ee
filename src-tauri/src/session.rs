//! Glue between the auth service and the app: browser, redirect routing, loopback listener,
//! and the `session://changed` event. No decisions are made here.

use std::sync::Arc;

use agent_shell_core::auth::{AuthService, Notice, Phase, RedirectTransport, SessionView};
use agent_shell_core::config::RedirectMode;
use agent_shell_core::loopback::{self, Verdict};
use agent_shell_core::ErrorCode;
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, Runtime};

use agent_shell_core::embed::{ClientEvent, RenewalRequest};
use agent_shell_core::links::CrmAction;

use crate::ipc_error::IpcError;
use crate::state::ShellState;
use crate::MAIN_WINDOW;

/// Event carrying a [`SessionView`] whenever the session changes (main window only).
pub const SESSION_CHANGED: &str = "session://changed";

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInStarted {
    /// The authorize URL, for "copy sign-in link" when no browser opens. Carries no secret
    /// that works without the PKCE verifier, which never leaves Rust.
    pub url: String,
    pub redirect_uri: String,
    pub browser_opened: bool,
    pub browser_error: Option<String>,
    /// Why this sign-in does not use the configured redirect (the deep link does not reach the
    /// app on this desktop), for the waiting screen.
    pub redirect_note: Option<String>,
}

/// How often the keep-alive loop re-reads the wall clock (bounds how late a refresh can be
/// after the machine wakes from sleep).
pub const KEEP_ALIVE_CHECK: std::time::Duration = std::time::Duration::from_secs(15);

pub fn emit<R: Runtime>(app: &AppHandle<R>, auth: &AuthService) {
    emit_view(app, auth.view());
}

pub fn emit_view<R: Runtime>(app: &AppHandle<R>, view: SessionView) {
    draw_attention(app, &view);
    crate::tray::show_session(app, &view);
    let _ = app.emit_to(MAIN_WINDOW, SESSION_CHANGED, view);
}

/// The last phase shown, to notice the moment a new sign-in becomes necessary.
#[derive(Default)]
pub struct Attention {
    last: std::sync::Mutex<Option<Phase>>,
}

/// True when the session has just come to need the agent (not on every repeat of the event).
pub fn needs_attention(previous: Option<Phase>, current: Phase) -> bool {
    current == Phase::ReloginRequired && previous != Some(Phase::ReloginRequired)
}

/// If the agent cannot see the window, a native notification and the OS attention signal
/// (taskbar flash, dock bounce, urgency hint) tell them to sign in again.
fn draw_attention<R: Runtime>(app: &AppHandle<R>, view: &SessionView) {
    let previous = match app.try_state::<Attention>() {
        Some(attention) => match attention.last.lock() {
            Ok(mut last) => last.replace(view.phase),
            Err(_) => return,
        },
        None => return,
    };
    if !needs_attention(previous, view.phase) {
        return;
    }
    let Some(window) = app.get_webview_window(MAIN_WINDOW) else {
        return;
    };
    let seen = window.is_visible().unwrap_or(false)
        && !window.is_minimized().unwrap_or(false)
        && window.is_focused().unwrap_or(false);
    if seen {
        return;
    }
    use tauri_plugin_notification::NotificationExt;
    let body = view
        .notice
        .as_ref()
        .map(|n| n.message.clone())
        .unwrap_or_else(|| "Your session needs you to sign in again.".into());
    if let Err(error) = app
        .notification()
        .builder()
        .title("Agent Shell: please sign in again")
        .body(body)
        .show()
    {
        tracing::warn!(%error, "could not show a notification");
    }
    let _ = window.request_user_attention(Some(tauri::UserAttentionType::Critical));
    tracing::info!("re-login needed while the window is not in view: notified");
}

/// A refresh asked for by the UI or the embedded client; the outcome also goes out as an event.
pub async fn refresh<R: Runtime>(
    app: AppHandle<R>,
    auth: Arc<AuthService>,
    trigger: &'static str,
) -> Result<SessionView, IpcError> {
    tracing::info!(trigger, "refresh requested");
    let result = auth.refresh().await;
    emit(&app, &auth);
    result.map_err(|e| IpcError::from_error(&e))
}

/// Any other client event; interaction-end opens the configured CRM page, once per interaction.
pub fn on_client_event<R: Runtime>(
    app: &AppHandle<R>,
    state: &ShellState,
    event: serde_json::Value,
) -> Result<(), IpcError> {
    let event = ClientEvent::parse(event).map_err(|error| {
        tracing::warn!(%error, "embedded client message dropped");
        IpcError::from_error(&error)
    })?;
    tracing::info!(?event, "embedded client event");
    if let (ClientEvent::InteractionEnd { interaction_id }, Some(crm)) = (&event, &state.crm) {
        match crm.on_interaction_end(interaction_id, std::time::Instant::now()) {
            CrmAction::Open(url) => crate::window::open_external(app, &state.links, &url, "crm"),
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

/// A renewal the embedded client asked for: the core decides whether one is due.
pub async fn renew_if_due<R: Runtime>(
    app: AppHandle<R>,
    auth: Arc<AuthService>,
    trigger: &'static str,
) -> Result<SessionView, IpcError> {
    let result = auth.renew_if_due().await;
    tracing::info!(trigger, "renewal checked");
    emit(&app, &auth);
    result.map_err(|e| IpcError::from_error(&e))
}

/// What the page does about an auth-error, decided by the engine.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthErrorOutcome {
    pub action: agent_shell_core::auth::AuthErrorAction,
}

/// Parses a renewal message from the client, logging (never echoing) what was refused.
fn renewal_message(
    event: serde_json::Value,
    expected: RenewalRequest,
) -> Result<ClientEvent, IpcError> {
    ClientEvent::parse_renewal(event, expected).map_err(|error| {
        tracing::warn!(%error, "embedded client message dropped");
        IpcError::from_error(&error)
    })
}

/// token-expiring from the client: the engine renews only when a renewal is due.
pub async fn on_token_expiring<R: Runtime>(
    app: AppHandle<R>,
    auth: Arc<AuthService>,
    event: serde_json::Value,
) -> Result<SessionView, IpcError> {
    let message = renewal_message(event, RenewalRequest::TokenExpiring)?;
    tracing::info!(?message, "embedded client says its token is expiring");
    renew_if_due(app, auth, "token-expiring").await
}

/// The embedded client's access token was refused: the engine renews, waits or reports.
pub async fn on_auth_error<R: Runtime>(
    app: AppHandle<R>,
    auth: Arc<AuthService>,
    event: serde_json::Value,
) -> Result<AuthErrorOutcome, IpcError> {
    let message = renewal_message(event, RenewalRequest::AuthError)?;
    tracing::info!(?message, "embedded client says its token was refused");
    let result = auth.on_auth_error().await;
    emit(&app, &auth);
    result
        .map(|(action, _)| AuthErrorOutcome { action })
        .map_err(|e| IpcError::from_error(&e))
}

pub async fn start_sign_in<R: Runtime>(
    app: AppHandle<R>,
    auth: Arc<AuthService>,
) -> Result<SignInStarted, IpcError> {
    let (mode, redirect_note) = auth.sign_in_route().await;
    let request = match mode {
        RedirectMode::Loopback => {
            // The loopback port must be ours before the browser is sent to it.
            let listener = bind_loopback(&auth.config().redirect.loopback_ports).await?;
            let request = auth
                .begin_loopback_sign_in(listener.port())
                .map_err(|e| IpcError::from_error(&e))?;
            spawn_loopback_listener(app.clone(), auth.clone(), listener);
            request
        }
        RedirectMode::DeepLink => {
            let request = auth
                .begin_sign_in(mode)
                .map_err(|e| IpcError::from_error(&e))?;
            let (app, auth) = (app.clone(), auth.clone());
            let ended = auth.sign_in_ended();
            tauri::async_runtime::spawn(async move {
                tokio::select! {
                    () = tokio::time::sleep(auth.login_timeout()) => {
                        if auth.expire_sign_in() {
                            emit(&app, &auth);
                        }
                    }
                    () = ended => {}
                }
            });
            request
        }
    };
    emit(&app, &auth);

    let opened = crate::browser::open(&app, request.url.as_str());
    if let Err(error) = &opened {
        tracing::warn!(%error, "system browser did not open");
    }
    Ok(SignInStarted {
        url: request.url.to_string(),
        redirect_uri: request.redirect_uri,
        browser_opened: opened.is_ok(),
        browser_error: opened.err(),
        redirect_note,
    })
}

/// Binds a loopback port; briefly retries a busy one, which may be a cancelled sign-in's
/// listener that is just letting go of it.
async fn bind_loopback(ports: &[u16]) -> Result<loopback::Loopback, IpcError> {
    let mut tries = 0;
    loop {
        match loopback::bind(ports).await {
            Ok(listener) => return Ok(listener),
            Err(_) if tries < 5 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(error) => return Err(IpcError::from_error(&error)),
        }
    }
}

/// Serves the loopback redirect until the sign-in it belongs to is over: completed, timed out,
/// cancelled or replaced. Redirects that do not complete it (a wrong state from some web page)
/// get a neutral page and the listener keeps waiting for the real one.
fn spawn_loopback_listener<R: Runtime>(
    app: AppHandle<R>,
    auth: Arc<AuthService>,
    listener: loopback::Loopback,
) {
    let ended = auth.sign_in_ended();
    let timeout = auth.login_timeout();
    tauri::async_runtime::spawn(async move {
        let handler = |target: String| {
            let (app, auth) = (app.clone(), auth.clone());
            async move {
                let result = auth
                    .complete_sign_in(&target, RedirectTransport::Loopback)
                    .await;
                emit(&app, &auth);
                match result {
                    Ok(_) => {
                        crate::focus_main_window(&app);
                        Verdict::Done(Ok("You are signed in to Agent Shell.".to_string()))
                    }
                    Err(_) if auth.sign_in_pending() => Verdict::KeepWaiting(
                        "This link does not belong to the sign-in Agent Shell is waiting for, so it was ignored.".to_string(),
                    ),
                    Err(error) => Verdict::Done(Err(error.to_string())),
                }
            }
        };
        match loopback::serve(listener, timeout, ended, handler).await {
            Ok(()) | Err(loopback::LoopbackError::Cancelled) => {}
            Err(error) => {
                auth.cancel_sign_in(Some(Notice::from_error(&error)));
                emit(&app, &auth);
            }
        }
    });
}

/// A deep link from any source (second launch, cold-start argument, macOS open-url event).
pub fn handle_deep_link<R: Runtime>(app: AppHandle<R>, auth: Arc<AuthService>, url: String) {
    tauri::async_runtime::spawn(async move {
        // The URL carries a code: never log it.
        match auth
            .complete_sign_in(&url, RedirectTransport::DeepLink)
            .await
        {
            Ok(_) => crate::focus_main_window(&app),
            Err(error) => tracing::info!(code = error.code(), "deep link not accepted"),
        }
        emit(&app, &auth);
    });
}

/// The deep link in a forwarded command line: the only argument after the binary.
pub fn deep_link_in_args(args: &[String], scheme: &str) -> Option<String> {
    match args {
        [_, only] if only.starts_with(&format!("{scheme}:")) => Some(only.clone()),
        _ => None,
    }
}

pub async fn silent_start<R: Runtime>(app: AppHandle<R>, auth: Arc<AuthService>) -> SessionView {
    let view = auth.silent_start().await;
    emit(&app, &auth);
    view
}

pub async fn sign_out<R: Runtime>(app: AppHandle<R>, auth: Arc<AuthService>) -> SessionView {
    let view = auth.sign_out().await;
    crate::clear_genesys_browsing_data(&app);
    emit(&app, &auth);
    view
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attention_is_drawn_once_when_a_new_sign_in_becomes_necessary() {
        assert!(needs_attention(
            Some(Phase::SignedIn),
            Phase::ReloginRequired
        ));
        assert!(needs_attention(
            Some(Phase::Refreshing),
            Phase::ReloginRequired
        ));
        assert!(needs_attention(None, Phase::ReloginRequired));
        assert!(!needs_attention(
            Some(Phase::ReloginRequired),
            Phase::ReloginRequired
        ));
        assert!(!needs_attention(Some(Phase::SignedIn), Phase::SignedOut));
        assert!(!needs_attention(Some(Phase::Refreshing), Phase::SignedIn));
    }

    #[test]
    fn finds_only_a_lone_deep_link_argument() {
        let scheme = "com.agentshell.desktop";
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            deep_link_in_args(
                &args(&[
                    "agent-shell",
                    "com.agentshell.desktop:/oauth/callback?code=a&state=b"
                ]),
                scheme
            )
            .as_deref(),
            Some("com.agentshell.desktop:/oauth/callback?code=a&state=b")
        );
        assert!(deep_link_in_args(&args(&["agent-shell"]), scheme).is_none());
        assert!(deep_link_in_args(&args(&["agent-shell", "--config", "x"]), scheme).is_none());
        assert!(
            deep_link_in_args(&args(&["agent-shell", "evil:/oauth/callback"]), scheme).is_none()
        );
        assert!(deep_link_in_args(
            &args(&["agent-shell", "com.agentshell.desktop:/x", "extra"]),
            scheme
        )
        .is_none());
    }
}
