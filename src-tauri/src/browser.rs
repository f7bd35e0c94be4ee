//! Opens the sign-in page in the system browser, from Rust.

use std::process::{Command, Stdio};

use tauri::{AppHandle, Runtime};
use tauri_plugin_opener::OpenerExt;

/// `$BROWSER` when set (the convention gh and git follow; entries separated by the platform's
/// path-list separator are alternatives, the first is used), otherwise the platform's opener.
/// xdg-open itself ignores `$BROWSER` when a display and an https handler exist, hence the
/// explicit check.
pub fn open<R: Runtime>(app: &AppHandle<R>, url: &str) -> Result<(), String> {
    let from_env = std::env::var("BROWSER").ok();
    match from_env.as_deref().and_then(first_browser) {
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

/// The first entry of a `$BROWSER` list. Entries are separated as the platform separates its
/// path lists (`;` on Windows, where `:` is part of `C:\...`; `:` elsewhere).
fn first_browser(list: &str) -> Option<&str> {
    let separator = if cfg!(windows) { ';' } else { ':' };
    list.split(separator)
        .map(str::trim)
        .find(|entry| !entry.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_lists_split_like_the_platform_path() {
        assert_eq!(first_browser("  "), None);
        if cfg!(windows) {
            assert_eq!(
                first_browser(r"C:\Program Files\Firefox\firefox.exe;chrome"),
                Some(r"C:\Program Files\Firefox\firefox.exe")
            );
        } else {
            assert_eq!(
                first_browser(":/usr/bin/firefox:chromium"),
                Some("/usr/bin/firefox")
            );
            assert_eq!(
                first_browser("/opt/my browser/run"),
                Some("/opt/my browser/run")
            );
        }
    }
}
