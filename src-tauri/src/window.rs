//! The main window, built in code (tauri.conf.json declares it with `create: false`) so its
//! webview gets the navigation lock, the new-window handler and the media permission policy.
//! The decisions are `agent_shell_core::embed::links`; this file only wires them to the webview.

use std::sync::Arc;

use agent_shell_core::embed::links::{self, LinkPolicy};
use agent_shell_core::session::auth::Phase;
use agent_shell_core::ErrorCode;
use serde::Serialize;
use tauri::utils::config::WindowConfig;
use tauri::webview::{NewWindowResponse, PageLoadEvent, PermissionKind, PermissionResponse, Url};
use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewWindow, WebviewWindowBuilder};

use crate::state::ShellState;
use crate::{browser, MAIN_WINDOW};

/// How long the main window may stay hidden when its page never loads: it is shown then anyway,
/// so an agent never launches an app with no window.
const REVEAL_AT_THE_LATEST: std::time::Duration = std::time::Duration::from_secs(3);

/// Event telling the page what became of a link the client tried to open.
pub const LINK_EVENT: &str = "shell://link";

/// Mirrored by `LinkOutcome` in ui/src/ipc.ts.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkOutcome {
    pub opened: bool,
    pub host: Option<String>,
    pub code: Option<agent_shell_core::Code>,
    pub message: String,
}

pub fn create_main_window<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<WebviewWindow<R>> {
    let window_config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN_WINDOW)
        .cloned()
        .unwrap_or_else(|| WindowConfig {
            label: MAIN_WINDOW.into(),
            ..WindowConfig::default()
        });
    let state = app.state::<ShellState>();
    let mock_media = state.config().is_some_and(|c| c.mock_media_devices);
    let (nav_policy, link_policy, media_policy) = (
        state.links.clone(),
        state.links.clone(),
        state.links.clone(),
    );
    let (link_app, media_app) = (app.clone(), app.clone());

    let window = WebviewWindowBuilder::from_config(app, &window_config)?
        .on_navigation(move |url| {
            let allowed = nav_policy.allows_navigation(url);
            if !allowed {
                tracing::warn!(target = %links::redacted(url), "navigation blocked");
            }
            allowed
        })
        // The lock above admits the client's origins for the iframe; should the main frame
        // ever start loading one, the window goes straight back to the app page.
        .on_page_load(|webview, payload| {
            if payload.event() == PageLoadEvent::Finished {
                reveal_main_window(webview.app_handle(), "page loaded");
            }
            if payload.event() != PageLoadEvent::Started || !links::main_frame_strayed(payload.url()) {
                return;
            }
            tracing::warn!(target = %links::redacted(payload.url()), "main frame left the app page: going back");
            match links::app_page() {
                Ok(page) => {
                    if let Err(error) = webview.navigate(page) {
                        tracing::error!(%error, "could not return to the app page");
                    }
                }
                Err(error) => tracing::error!(%error, "no app page URL"),
            }
        })
        // Never a second webview window: the link goes to the system browser, or nowhere.
        .on_new_window(move |url, _features| {
            open_external(&link_app, &link_policy, &url, "window-open");
            NewWindowResponse::Deny
        })
        .on_permission_request(move |webview, kind| {
            let page = webview.url().ok();
            media_permission(&media_app, &media_policy, page.as_ref(), kind)
        })
        .build()?;
    configure_platform_webview(&window, mock_media);
    let fallback = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(REVEAL_AT_THE_LATEST).await;
        reveal_main_window(&fallback, "page did not load in time");
    });
    Ok(window)
}

/// Shows the main window the first time its page is ready (the page's first call, or its load
/// finished, or [`REVEAL_AT_THE_LATEST`]); later calls do nothing. The window is built hidden
/// (tauri.conf.json): shown before its web process has painted, WebKitGTK without compositing
/// blocks the app's main thread for up to half a second waiting for that paint, and every
/// webview shows a blank frame meanwhile (docs/benchmarks.md).
pub fn reveal_main_window<R: Runtime>(app: &AppHandle<R>, why: &'static str) {
    if !app.state::<ShellState>().first_reveal() {
        return;
    }
    let Some(window) = app.get_webview_window(crate::MAIN_WINDOW) else {
        return;
    };
    match window.show() {
        Ok(()) => tracing::info!(phase = "shown", why, "start phase"),
        Err(error) => tracing::warn!(%error, "could not show the main window"),
    }
}

/// Opens `url` in the system browser if the link policy allows it, and tells the page either
/// way (the agent sees why a link did not open).
pub fn open_external<R: Runtime>(
    app: &AppHandle<R>,
    policy: &LinkPolicy,
    url: &Url,
    source: &'static str,
) {
    let host = url.host_str().map(str::to_string);
    let outcome = match policy.external_link(url) {
        Ok(url) => match browser::open(app, url.as_str()) {
            Ok(()) => {
                tracing::info!(source, link = %links::redacted(&url), "link opened in the system browser");
                LinkOutcome {
                    opened: true,
                    message: format!(
                        "Opened {} in your browser",
                        host.as_deref().unwrap_or("the link")
                    ),
                    host,
                    code: None,
                }
            }
            Err(error) => {
                tracing::warn!(source, %error, "the system browser did not open");
                LinkOutcome {
                    opened: false,
                    host,
                    code: Some(agent_shell_core::Code::BrowserUnavailable),
                    message: error,
                }
            }
        },
        Err(error) => {
            tracing::warn!(source, code = error.code(), link = %links::redacted(url), "link refused");
            LinkOutcome {
                opened: false,
                host,
                code: Some(error.error_code()),
                message: error.to_string(),
            }
        }
    };
    let _ = app.emit_to(MAIN_WINDOW, LINK_EVENT, outcome);
}

/// Microphone and camera for the softphone while a session is active; nothing else, ever
/// (no screen capture, location, notifications from web content, ...).
fn media_permission<R: Runtime>(
    app: &AppHandle<R>,
    policy: &Arc<LinkPolicy>,
    page: Option<&Url>,
    kind: PermissionKind,
) -> PermissionResponse {
    let session_active = app
        .state::<ShellState>()
        .auth
        .as_ref()
        .is_some_and(|auth| matches!(auth.view().phase, Phase::SignedIn | Phase::Refreshing));
    let allow = matches!(kind, PermissionKind::Microphone | PermissionKind::Camera)
        && page.is_some_and(|page| policy.allows_media(page, session_active));
    tracing::info!(?kind, allow, "webview permission request");
    if allow {
        PermissionResponse::Allow
    } else {
        PermissionResponse::Deny
    }
}

/// WebKitGTK keeps media capture and WebRTC off unless asked; a ringing call must play
/// without a click. Other platforms enable these in their webviews by default. (WebKit's
/// document-viewer cache model was tried for memory and saved nothing: docs/benchmarks.md.)
#[cfg(target_os = "linux")]
fn configure_platform_webview<R: Runtime>(window: &WebviewWindow<R>, mock_media: bool) {
    let result = window.with_webview(move |webview| {
        use webkit2gtk::{SettingsExt, WebViewExt};
        let Some(settings) = WebViewExt::settings(&webview.inner()) else {
            tracing::warn!("webview settings unavailable: softphone media stays off");
            return;
        };
        settings.set_enable_media_stream(true);
        settings.set_enable_mediasource(true);
        settings.set_enable_webrtc(true);
        settings.set_media_playback_requires_user_gesture(false);
        settings.set_enable_mock_capture_devices(mock_media);
        tracing::info!(mock_media, "webview media stream and WebRTC enabled");
    });
    if let Err(error) = result {
        tracing::warn!(%error, "could not configure the webview for media");
    }
}

#[cfg(not(target_os = "linux"))]
fn configure_platform_webview<R: Runtime>(_window: &WebviewWindow<R>, _mock_media: bool) {}
