//! The Tauri side of the session engine: carries out its effects (the page event and the tray,
//! the system browser, notifications, links, the window) and tells it whether the window is in
//! view. No decisions are made here: they are in agent_shell_core::session::engine.

use std::sync::Arc;

use agent_shell_core::embed::links::LinkPolicy;
use agent_shell_core::session::engine::{Edge, Effect};
use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::MAIN_WINDOW;

/// Event carrying a SessionView whenever the session changes (main window only).
pub const SESSION_CHANGED: &str = "session://changed";

pub struct TauriEdge<R: Runtime> {
    app: AppHandle<R>,
    links: Arc<LinkPolicy>,
}

impl<R: Runtime> TauriEdge<R> {
    pub fn new(app: AppHandle<R>, links: Arc<LinkPolicy>) -> Self {
        Self { app, links }
    }
}

impl<R: Runtime> Edge for TauriEdge<R> {
    fn execute(&self, effect: Effect) -> Result<(), String> {
        match effect {
            Effect::ShowSession(view) => {
                crate::tray::show_session(&self.app, &view);
                self.app
                    .emit_to(MAIN_WINDOW, SESSION_CHANGED, view)
                    .map_err(|e| e.to_string())
            }
            Effect::CallForAttention { title, body } => {
                use tauri_plugin_notification::NotificationExt;
                let shown = self
                    .app
                    .notification()
                    .builder()
                    .title(title)
                    .body(body)
                    .show()
                    .map_err(|e| e.to_string());
                if let Some(window) = self.app.get_webview_window(MAIN_WINDOW) {
                    let _ = window.request_user_attention(Some(tauri::UserAttentionType::Critical));
                }
                shown
            }
            Effect::OpenBrowser(url) => crate::browser::open(&self.app, url.as_str()),
            Effect::OpenLink { url, source } => {
                crate::window::open_external(&self.app, &self.links, &url, source);
                Ok(())
            }
            Effect::FocusWindow => {
                crate::focus_main_window(&self.app);
                Ok(())
            }
            Effect::ForgetBrowsingData => {
                crate::clear_genesys_browsing_data(&self.app);
                Ok(())
            }
        }
    }

    fn window_in_view(&self) -> bool {
        self.app
            .get_webview_window(MAIN_WINDOW)
            .is_some_and(|window| {
                window.is_visible().unwrap_or(false)
                    && !window.is_minimized().unwrap_or(false)
                    && window.is_focused().unwrap_or(false)
            })
    }
}
