//! The test's stand-in for the system browser ($BROWSER) and what it was asked to open.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::wait_until;

/// A stand-in for the system browser, named by $BROWSER: it follows the authorize URL against
/// the emulator (auto-approve) and hands the redirect back the way a real browser does: a deep
/// link to the desktop's opener (`xdg-open` in a generic session with no desktop named, or the
/// command in `test-browser.opener`, e.g. `gio open`), which finds the handler the app
/// registered and runs it; a loopback redirect by fetching it.
/// Every URL it is asked to open is appended to `browser.log` in `dir`. Its own files (the
/// browser's "profile") are named `browser.log`, `loopback-page.html` and `test-browser.*`:
/// [`app_files_containing`] leaves them out, as the app never writes them.
/// - `test-browser.redirect`: the last redirect it was handed (for replay tests);
/// - `test-browser.hold` present: the redirect is kept in `test-browser.held`, not delivered
///   (the agent has not finished in the browser yet).
pub fn write_test_browser(dir: &Path) -> PathBuf {
    let script = dir.join("test-browser.sh");
    let log = dir.join("browser.log");
    std::fs::write(
        &script,
        format!(
            r#"#!/usr/bin/env bash
set -u
echo "$1" >> "{log}"
# Only the emulator (loopback) is followed: other pages (help, CRM) are just recorded, so the
# tests never depend on the network or on sites outside this machine.
case "$1" in
  http://127.0.0.1*) ;;
  *) exit 0 ;;
esac
# The Location header verbatim, as a browser hands it to the OS (curl's redirect_url would
# rewrite scheme:/path as scheme://path).
location=$(curl -s --max-time 10 -D - -o /dev/null "$1" | sed -n 's/^[Ll]ocation: //p' | tr -d '\r')
echo "redirect: ${{location%%\?*}}" >> "{log}"
printf '%s' "$location" > "{dir}/test-browser.redirect"
if [ -e "{dir}/test-browser.hold" ]; then
  printf '%s' "$location" > "{dir}/test-browser.held"
  exit 0
fi
case "$location" in
  http://127.0.0.1*) curl -s -o "{dir}/loopback-page.html" "$location" ;;
  "") echo "no redirect" >> "{log}" ;;
  *)
    opener=$(cat "{dir}/test-browser.opener" 2>/dev/null || echo xdg-open)
    echo "opener: $opener" >> "{log}"
    # A generic session: no desktop named, so xdg-open takes its xdg-mime path.
    env -u XDG_CURRENT_DESKTOP -u DESKTOP_SESSION -u KDE_FULL_SESSION -u GNOME_DESKTOP_SESSION_ID \
      timeout 30 $opener "$location" >> "{log}" 2>&1
    echo "opener exit: $?" >> "{log}"
    ;;
esac
"#,
            log = log.display(),
            dir = dir.display(),
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// Lines the test browser logged as opened URLs (not its own notes).
pub fn browser_opens(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("browser.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("http"))
        .map(String::from)
        .collect()
}

/// A fresh HOME with the test browser in it, and the environment that names it.
pub fn browser_home() -> (tempfile::TempDir, Vec<(String, String)>) {
    let home = tempfile::tempdir().unwrap();
    let browser = write_test_browser(home.path());
    (
        home,
        vec![("BROWSER".to_string(), browser.display().to_string())],
    )
}

pub async fn wait_for_open(home: &std::path::Path, url: &str) {
    let what = format!("the browser to open {url}");
    wait_until(Duration::from_secs(10), &what, async || {
        let opened = browser_opens(home);
        match opened.iter().any(|u| u == url) {
            true => Ok(()),
            false => Err(format!("opened {opened:?}")),
        }
    })
    .await;
}
