//! `[session] sign_out_on_lock`: reads whether the desktop session is locked every
//! [`POLL_EVERY`] and hands a lock to the session engine, which signs out (never during a call:
//! see agent_shell_core::session::lock). Reading is all that differs by OS:
//! - Linux: the screen saver's `GetActive` on the session bus (org.freedesktop.ScreenSaver:
//!   KDE, Xfce, Cinnamon, MATE...; org.gnome.ScreenSaver: GNOME), and logind's `LockedHint` of
//!   this session on the system bus; locked when any of them says so;
//! - Windows and macOS: agent_shell_os_calls::session_locked (WTS session flags;
//!   CGSessionCopyCurrentDictionary).
//!
//! Polled rather than subscribed: one small query every two seconds on a thread of its own is
//! the same on every OS, and a missed signal cannot leave a desk signed in.

use std::sync::Arc;
use std::time::Duration;

use agent_shell_core::session::engine::SessionEngine;
use agent_shell_core::session::lock::LockWatch;

/// How often the lock state is read.
pub const POLL_EVERY: Duration = Duration::from_secs(2);

/// Starts watching (only called when policy asks for it).
pub fn start(engine: Arc<SessionEngine>) {
    let spawned = std::thread::Builder::new()
        .name("lock-watch".into())
        .spawn(move || {
            let reader = LockReader::new();
            let mut watch = LockWatch::default();
            let mut last = None;
            loop {
                let locked = reader.locked();
                if locked != last {
                    tracing::info!(?locked, "desktop lock state");
                    last = locked;
                }
                if watch.observe(locked) {
                    let outcome = tauri::async_runtime::block_on(engine.desktop_locked());
                    watch.acted(outcome);
                }
                std::thread::sleep(POLL_EVERY);
            }
        });
    match spawned {
        Ok(_) => tracing::info!("sign_out_on_lock: watching the desktop's lock state"),
        Err(error) => tracing::warn!(%error, "sign_out_on_lock: cannot watch the lock state"),
    }
}

#[cfg(target_os = "linux")]
struct LockReader {
    session: Option<zbus::blocking::Connection>,
    system: Option<zbus::blocking::Connection>,
}

#[cfg(target_os = "linux")]
impl LockReader {
    fn new() -> Self {
        Self {
            session: zbus::blocking::Connection::session().ok(),
            system: zbus::blocking::Connection::system().ok(),
        }
    }

    /// Locked when any source says so; unlocked when one answered and none says so; None
    /// when nothing answers.
    fn locked(&self) -> Option<bool> {
        let mut answers = Vec::new();
        if let Some(session) = &self.session {
            for (name, path) in [
                (
                    "org.freedesktop.ScreenSaver",
                    "/org/freedesktop/ScreenSaver",
                ),
                ("org.gnome.ScreenSaver", "/org/gnome/ScreenSaver"),
            ] {
                let reply = session.call_method(Some(name), path, Some(name), "GetActive", &());
                if let Ok(active) = reply.and_then(|r| r.body().deserialize::<bool>()) {
                    answers.push(active);
                }
            }
        }
        if let Some(system) = &self.system {
            let reply = system.call_method(
                Some("org.freedesktop.login1"),
                "/org/freedesktop/login1/session/auto",
                Some("org.freedesktop.DBus.Properties"),
                "Get",
                &("org.freedesktop.login1.Session", "LockedHint"),
            );
            let hint = reply.and_then(|r| r.body().deserialize::<zbus::zvariant::OwnedValue>());
            if let Ok(Ok(locked)) = hint.map(bool::try_from) {
                answers.push(locked);
            }
        }
        match answers.is_empty() {
            true => None,
            false => Some(answers.contains(&true)),
        }
    }
}

#[cfg(not(target_os = "linux"))]
struct LockReader;

#[cfg(not(target_os = "linux"))]
impl LockReader {
    fn new() -> Self {
        Self
    }

    fn locked(&self) -> Option<bool> {
        agent_shell_os_calls::session_locked()
    }
}
