//! Opens the sign-in page in the system browser, from Rust.

use std::process::{Command, Stdio};

use tauri::{AppHandle, Runtime};
use tauri_plugin_opener::OpenerExt;

/// `$BROWSER` when set (the convention gh and git follow; entries separated by ':' are
/// alternatives, the first is used), otherwise the platform's opener. xdg-open itself ignores
/// `$BROWSER` when a display and an https handler exist, hence the explicit check.
pub fn open<R: Runtime>(app: &AppHandle<R>, url: &str) -> Result<(), String> {
    let from_env = std::env::var("BROWSER").ok();
    match from_env
        .as_deref()
        .and_then(|v| v.split(':').find(|s| !s.trim().is_empty()))
    {
        Some(program) => {
            let mut child = Command::new(program.trim())
                .arg(url)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("could not start $BROWSER ({program}): {e}"))?;
            // Reap it so it does not linger as a zombie.
            std::thread::spawn(move || {
                let _ = child.wait();
            });
            Ok(())
        }
        None => app
            .opener()
            .open_url(url, None::<&str>)
            .map_err(|e| format!("could not open the system browser: {e}")),
    }
}
