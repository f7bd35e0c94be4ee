//! The tray icon: the session state at a glance (a coloured dot on the app icon and a status
//! line in its menu), and a way back to the window. Linux shows it through AppIndicator; where
//! no tray exists the app works the same without it.

use std::sync::Mutex;

use agent_shell_core::session::auth::{Phase, SessionView};
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Runtime};

const SHOW_ID: &str = "show";
const QUIT_ID: &str = "quit";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Ok,
    Busy,
    Attention,
    Idle,
}

impl Tone {
    fn rgb(self) -> [u8; 3] {
        match self {
            Tone::Ok => [0x1f, 0x9d, 0x55],
            Tone::Busy => [0xe0, 0x9b, 0x16],
            Tone::Attention => [0xd6, 0x33, 0x2f],
            Tone::Idle => [0x8a, 0x94, 0xa3],
        }
    }
}

/// The status line and dot colour for a session state.
pub fn status_for(view: &SessionView) -> (String, Tone) {
    match view.phase {
        Phase::SignedIn => {
            let who = view
                .user
                .as_ref()
                .and_then(|u| u.name.clone().or_else(|| u.email.clone()));
            match who {
                Some(who) => (format!("Signed in as {who}"), Tone::Ok),
                None => ("Signed in".into(), Tone::Ok),
            }
        }
        Phase::Refreshing => ("Renewing session".into(), Tone::Busy),
        Phase::Restoring => ("Restoring sign-in".into(), Tone::Busy),
        Phase::SigningIn => ("Signing in".into(), Tone::Busy),
        Phase::ReloginRequired => ("Sign-in needed".into(), Tone::Attention),
        Phase::SignedOut => ("Signed out".into(), Tone::Idle),
    }
}

/// The app icon (RGBA) with a dot of `tone`'s colour and a white ring in the lower right.
pub fn badged(rgba: &[u8], width: u32, height: u32, tone: Tone) -> Vec<u8> {
    let mut out = rgba.to_vec();
    let size = width.min(height) as f32;
    let radius = size * 0.22;
    let ring = radius + size * 0.05;
    let (cx, cy) = (width as f32 - ring, height as f32 - ring);
    let [r, g, b] = tone.rgb();
    for y in 0..height {
        for x in 0..width {
            let distance = ((x as f32 + 0.5 - cx).powi(2) + (y as f32 + 0.5 - cy).powi(2)).sqrt();
            let pixel = match distance {
                d if d <= radius => [r, g, b, 0xff],
                d if d <= ring => [0xff, 0xff, 0xff, 0xff],
                _ => continue,
            };
            let at = ((y * width + x) * 4) as usize;
            if let Some(slot) = out.get_mut(at..at + 4) {
                slot.copy_from_slice(&pixel);
            }
        }
    }
    out
}

pub struct Tray<R: Runtime> {
    icon: TrayIcon<R>,
    status: MenuItem<R>,
    base: Option<Image<'static>>,
    shown: Mutex<Option<(String, Tone)>>,
}

/// Builds the tray icon; the app runs on without one when the desktop has no tray.
pub fn install<R: Runtime>(app: &AppHandle<R>) {
    match build(app) {
        Ok(tray) => {
            app.manage(tray);
        }
        Err(error) => tracing::warn!(%error, "no tray icon"),
    }
}

fn build<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<Tray<R>> {
    let status = MenuItem::with_id(app, "status", "Starting", false, None::<&str>)?;
    let show = MenuItem::with_id(app, SHOW_ID, "Show Agent Shell", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, QUIT_ID, "Quit Agent Shell", true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&status, &separator, &show, &quit])?;
    let base = app
        .default_window_icon()
        .map(|icon| icon.clone().to_owned());
    let mut builder = TrayIconBuilder::with_id("agent-shell")
        .menu(&menu)
        .tooltip("Agent Shell")
        .on_menu_event(|app, event| match event.id().as_ref() {
            SHOW_ID => crate::focus_main_window(app),
            QUIT_ID => crate::exit_guard::request_exit(app, "quit"),
            _ => {}
        });
    if let Some(base) = &base {
        builder = builder.icon(base.clone());
    }
    let icon = builder.build(app)?;
    Ok(Tray {
        icon,
        status,
        base,
        shown: Mutex::new(None),
    })
}

/// Shows the session state in the tray (a no-op when it did not change or there is no tray).
pub fn show_session<R: Runtime>(app: &AppHandle<R>, view: &SessionView) {
    let Some(tray) = app.try_state::<Tray<R>>() else {
        return;
    };
    let (text, tone) = status_for(view);
    {
        let Ok(mut shown) = tray.shown.lock() else {
            return;
        };
        if shown.as_ref() == Some(&(text.clone(), tone)) {
            return;
        }
        *shown = Some((text.clone(), tone));
    }
    let _ = tray.status.set_text(&text);
    let _ = tray.icon.set_tooltip(Some(format!("Agent Shell: {text}")));
    if let Some(base) = &tray.base {
        let rgba = badged(base.rgba(), base.width(), base.height(), tone);
        let _ = tray
            .icon
            .set_icon(Some(Image::new_owned(rgba, base.width(), base.height())));
    }
    tracing::info!(status = %text, ?tone, "tray updated");
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use agent_shell_core::session::auth::UserInfo;

    fn view(phase: Phase, name: Option<&str>) -> SessionView {
        SessionView {
            phase,
            user: name.map(|n| UserInfo {
                id: "u1".into(),
                name: Some(n.into()),
                email: None,
            }),
            expires_at_ms: None,
            refreshable: true,
            persisted: true,
            notice: None,
        }
    }

    #[test]
    fn every_state_has_its_words_and_colour() {
        assert_eq!(
            status_for(&view(Phase::SignedIn, Some("Alex Agent"))),
            ("Signed in as Alex Agent".into(), Tone::Ok)
        );
        assert_eq!(
            status_for(&view(Phase::ReloginRequired, None)).1,
            Tone::Attention
        );
        assert_eq!(status_for(&view(Phase::Refreshing, None)).1, Tone::Busy);
        assert_eq!(status_for(&view(Phase::SignedOut, None)).1, Tone::Idle);
    }

    #[test]
    fn badge_paints_the_corner_and_leaves_the_rest() {
        let (w, h) = (32u32, 32u32);
        let base = vec![7u8; (w * h * 4) as usize];
        let out = badged(&base, w, h, Tone::Attention);
        assert_eq!(out.len(), base.len());
        let pixel = |x: u32, y: u32| &out[((y * w + x) * 4) as usize..][..4];
        assert_eq!(pixel(0, 0), &[7, 7, 7, 7]);
        assert_eq!(pixel(w - 6, h - 6), &[0xd6, 0x33, 0x2f, 0xff]);
        assert_ne!(
            badged(&base, w, h, Tone::Ok),
            badged(&base, w, h, Tone::Idle)
        );
    }
}
