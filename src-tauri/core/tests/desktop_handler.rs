//! The redirect's real path on a Linux desktop: register a handler in a throwaway XDG tree,
//! then open a redirect URL with the real `xdg-open` (generic session: no desktop named) and
//! the real `gio open`, and see that the registered program received it. The program is a
//! small script standing in for the app, so this runs without a window; the end-to-end test in
//! tests/e2e_sign_in.rs does the same with the app itself.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use agent_shell_core::platform::desktop::{self, XdgDirs, HANDLER_FILE};

const SCHEME: &str = "com.agentshell.desktop";

struct Desk {
    root: tempfile::TempDir,
    dirs: XdgDirs,
}

impl Desk {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let dirs = XdgDirs {
            data_home: root.path().join("data"),
            config_home: root.path().join("config"),
            // Only this tree: what the machine has installed must not decide the result.
            data_dirs: vec![root.path().join("system")],
        };
        Desk { root, dirs }
    }

    /// A stand-in for the app at `dir`: appends its arguments to `received` in the desk.
    fn program(&self, dir: &str) -> PathBuf {
        let dir = self.root.path().join(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let program = dir.join("agent-shell");
        std::fs::write(
            &program,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\n",
                self.received_path().display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        program
    }

    fn received_path(&self) -> PathBuf {
        self.root.path().join("received")
    }

    /// A browser that records what xdg-open fell back to (a redirect that went astray).
    fn fallback_browser(&self) -> PathBuf {
        let path = self.root.path().join("browser.sh");
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\nprintf 'browser: %s\\n' \"$1\" >> '{}'\n",
                self.received_path().display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// Runs an opener the way a browser would, in a generic session, bounded in time.
    fn open(&self, opener: &[&str], url: &str) -> std::process::Output {
        let mut command = Command::new("timeout");
        command
            .arg("20")
            .args(opener)
            .arg(url)
            .env("HOME", self.root.path())
            .env("XDG_DATA_HOME", &self.dirs.data_home)
            .env("XDG_CONFIG_HOME", &self.dirs.config_home)
            .env("XDG_DATA_DIRS", &self.dirs.data_dirs[0])
            .env(
                "DISPLAY",
                std::env::var("DISPLAY").unwrap_or_else(|_| ":0".into()),
            )
            .env("BROWSER", self.fallback_browser())
            .env_remove("XDG_CURRENT_DESKTOP")
            .env_remove("DESKTOP_SESSION")
            .env_remove("KDE_FULL_SESSION")
            .env_remove("GNOME_DESKTOP_SESSION_ID");
        command.output().unwrap()
    }

    /// What the stand-in received, waiting a little: openers may return before it runs.
    fn received(&self, expected: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(self.received_path()).unwrap_or_default();
            if text.contains(expected) || Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn check_tools() {
    for tool in ["xdg-open", "xdg-mime", "update-desktop-database", "gio"] {
        assert!(
            have(tool),
            "{tool} is missing: scripts/setup.sh installs xdg-utils, desktop-file-utils and libglib2.0-bin"
        );
    }
}

#[test]
fn xdg_open_and_gio_hand_the_redirect_to_the_registered_program() {
    check_tools();
    let desk = Desk::new();
    let program = desk.program("bin");
    let registration = desktop::register(SCHEME, &program, &desk.dirs);
    assert!(
        registration.warnings.is_empty(),
        "{:?}",
        registration.warnings
    );
    assert!(registration.xdg.resolves(), "{:?}", registration.xdg);
    assert_eq!(registration.xdg.desktop_file.as_deref(), Some(HANDLER_FILE));
    assert!(desktop::resolve_gio(SCHEME, &program, &desk.dirs).resolves());

    let url = format!("{SCHEME}:/oauth/callback?code=xdg&state=s1");
    let out = desk.open(&["xdg-open"], &url);
    assert!(
        out.status.success(),
        "xdg-open: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let received = desk.received(&url);
    assert!(
        received.contains(&url),
        "xdg-open did not hand it over: {received:?}"
    );
    assert!(
        !received.contains("browser:"),
        "went to the browser: {received:?}"
    );

    let url = format!("{SCHEME}:/oauth/callback?code=gio&state=s2");
    let out = desk.open(&["gio", "open"], &url);
    assert!(
        out.status.success(),
        "gio open: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        desk.received(&url).contains(&url),
        "gio did not hand it over"
    );

    // Registering again changes nothing and still resolves.
    let again = desktop::register(SCHEME, &program, &desk.dirs);
    assert!(again.xdg.resolves(), "{:?}", again.xdg);
}

#[test]
fn a_program_path_with_spaces_still_resolves_through_xdg_open() {
    check_tools();
    let desk = Desk::new();
    let program = desk.program("Agent Shell");
    let registration = desktop::register(SCHEME, &program, &desk.dirs);
    assert!(registration.xdg.resolves(), "{:?}", registration.xdg);
    let url = format!("{SCHEME}:/oauth/callback?code=spaces&state=s3");
    let out = desk.open(&["xdg-open"], &url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(desk.received(&url).contains(&url));
}

#[test]
fn the_plugins_quoted_entry_is_caught_by_the_read_back() {
    check_tools();
    let desk = Desk::new();
    let program = desk.program("bin");
    // What tauri-plugin-deep-link's register() writes: a quoted Exec.
    let applications = desk.dirs.data_home.join("applications");
    std::fs::create_dir_all(&applications).unwrap();
    std::fs::write(
        applications.join(HANDLER_FILE),
        format!(
            "[Desktop Entry]\nType=Application\nName=x\nExec=\"{}\" %u\nMimeType=x-scheme-handler/{SCHEME};\n",
            program.display()
        ),
    )
    .unwrap();
    let status = Command::new("xdg-mime")
        .args([
            "default",
            HANDLER_FILE,
            &format!("x-scheme-handler/{SCHEME}"),
        ])
        .env("XDG_DATA_HOME", &desk.dirs.data_home)
        .env("XDG_CONFIG_HOME", &desk.dirs.config_home)
        .status()
        .unwrap();
    assert!(status.success());
    let resolution = desktop::resolve_xdg(SCHEME, &program, &desk.dirs);
    let problem = resolution.problem.expect("a quoted Exec is a problem");
    assert!(problem.contains("quoted Exec"), "{problem}");
    // And it is a real one: xdg-open cannot run it (it runs the handler before returning, so
    // what the program received is complete here).
    let url = format!("{SCHEME}:/oauth/callback?code=q&state=s4");
    let out = desk.open(&["xdg-open"], &url);
    let received = std::fs::read_to_string(desk.received_path()).unwrap_or_default();
    assert!(
        !received.contains(&url) && !out.status.success(),
        "the quoted entry ran: {received:?} {out:?}"
    );

    // Registering rewrites the entry so that it works.
    let fixed = desktop::register(SCHEME, &program, &desk.dirs);
    assert!(fixed.xdg.resolves(), "{:?}", fixed.xdg);
}

#[test]
fn an_unregistered_scheme_says_so_and_names_the_fix() {
    check_tools();
    let desk = Desk::new();
    let program = desk.program("bin");
    let resolution = desktop::resolve_xdg(SCHEME, &program, &desk.dirs);
    assert!(!resolution.resolves());
    assert!(
        resolution
            .problem
            .as_deref()
            .unwrap()
            .contains("no application is registered"),
        "{resolution:?}"
    );
    assert!(desktop::fix_command(SCHEME).contains("xdg-mime default agent-shell-handler.desktop"));
    // A handler registered for another program does not count as this one.
    let other = desk.program("other");
    desktop::register(SCHEME, &other, &desk.dirs);
    let elsewhere = desktop::resolve_xdg(SCHEME, &program, &desk.dirs);
    assert!(elsewhere.problem.unwrap().contains("not this Agent Shell"));
}

#[test]
fn a_home_where_the_entry_cannot_be_written_is_reported() {
    check_tools();
    let desk = Desk::new();
    let program = desk.program("bin");
    // A file where the applications directory should be (a broken profile).
    std::fs::create_dir_all(&desk.dirs.data_home).unwrap();
    std::fs::write(desk.dirs.data_home.join("applications"), "").unwrap();
    let registration = desktop::register(SCHEME, &program, &desk.dirs);
    assert!(!registration.warnings.is_empty());
    assert!(!registration.xdg.resolves());
}

/// Doctor's `browser.scheme_prompt` starts from the default browser xdg-mime reports.
#[test]
fn the_default_browser_is_read_from_xdg_mime() {
    check_tools();
    let desk = Desk::new();
    assert_eq!(desktop::default_browser(&desk.dirs), None, "no browser set");
    agent_shell_test_kit::desktop::set_default_browser(
        &desk.dirs.data_home,
        &desk.dirs.config_home,
        "google-chrome.desktop",
        "Chrome",
        "google-chrome",
    );
    assert_eq!(
        desktop::default_browser(&desk.dirs).as_deref(),
        Some("google-chrome.desktop")
    );
}
