//! Nothing ends a call by accident: closing the window or Quit in the tray while the client
//! reports an interaction under way asks the agent first (the page shows the question; its
//! answer comes back as the `confirm_exit` command). Without an interaction they act at once.

use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::state::ShellState;
use crate::MAIN_WINDOW;

/// Event asking the page to confirm quitting during an interaction; the payload says what
/// asked (`"close"` or `"quit"`). Mirrored in ui/src/ipc.ts.
pub const CONFIRM_EXIT_EVENT: &str = "shell://confirm-exit";

/// Whether the client reports an interaction under way.
pub fn interaction_active<R: Runtime>(app: &AppHandle<R>) -> bool {
    app.state::<ShellState>()
        .engine()
        .is_some_and(|engine| engine.interaction_active())
}

/// Quits now, or (during an interaction) brings the window forward and asks the agent.
pub fn request_exit<R: Runtime>(app: &AppHandle<R>, source: &'static str) {
    if !interaction_active(app) {
        app.exit(0);
        return;
    }
    tracing::info!(source, "quit during an interaction: asking the agent first");
    crate::focus_main_window(app);
    if let Err(error) = app.emit_to(MAIN_WINDOW, CONFIRM_EXIT_EVENT, source) {
        // The question cannot be asked: keep the call rather than end it unasked.
        tracing::warn!(%error, "could not ask about quitting during an interaction");
    }
}

/// How long quitting waits for the sign-out of `[session] forget_at_quit`.
pub const FORGET_AT_QUIT_LIMIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Set once the sign-out at quit has begun: the exit it ends with is let through.
static FORGETTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `RunEvent::ExitRequested` (window closed, tray Quit, a confirmed quit, a termination
/// signal): with `[session] forget_at_quit` on, the exit waits while the session engine signs
/// out (the token revoked at Genesys, the keychain entry deleted), for at most
/// [`FORGET_AT_QUIT_LIMIT`], then happens with the same code. True when the exit was held.
pub fn hold_exit_to_forget<R: Runtime>(app: &AppHandle<R>, code: Option<i32>) -> bool {
    let state = app.state::<ShellState>();
    let wanted = state.config().is_some_and(|config| config.forget_at_quit);
    let Some(engine) = state.engine().filter(|_| wanted) else {
        return false;
    };
    if FORGETTING.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return false;
    }
    tracing::info!("forget_at_quit: signing out before quitting");
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let signed_out = tokio::time::timeout(FORGET_AT_QUIT_LIMIT, engine.sign_out()).await;
        match signed_out {
            Ok(view) if view.notice.is_some() => tracing::warn!(
                code = ?view.notice.as_ref().map(|n| n.code),
                "forget_at_quit: signed out, with a problem"
            ),
            Ok(_) => tracing::info!("forget_at_quit: signed out"),
            Err(_) => {
                // Genesys did not answer in time: the saved sign-in still goes from this desk.
                tracing::warn!(
                    limit_secs = FORGET_AT_QUIT_LIMIT.as_secs(),
                    "forget_at_quit: sign-out did not finish in time; deleting the saved sign-in"
                );
                delete_saved_sign_in(&app).await;
            }
        }
        app.exit(code.unwrap_or(0));
    });
    true
}

/// Deletes every saved sign-in directly (the demo keeps none), bounded like the sign-out.
async fn delete_saved_sign_in<R: Runtime>(app: &AppHandle<R>) {
    use agent_shell_core::platform::keychain::{KeyringStore, SecretStore};
    let state = app.state::<ShellState>();
    let Some(config) = state.config().filter(|_| !state.demo) else {
        return;
    };
    let store = KeyringStore::for_account(&config.keychain_account());
    let deleted = tokio::time::timeout(
        FORGET_AT_QUIT_LIMIT,
        tauri::async_runtime::spawn_blocking(move || store.delete_all()),
    )
    .await;
    match deleted {
        Ok(Ok(Ok(()))) => tracing::info!("forget_at_quit: saved sign-in deleted"),
        Ok(Ok(Err(error))) => {
            tracing::warn!(%error, "forget_at_quit: the saved sign-in could not be deleted")
        }
        _ => tracing::warn!("forget_at_quit: the keychain did not answer in time"),
    }
}
