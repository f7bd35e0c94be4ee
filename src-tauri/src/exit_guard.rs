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
