//! What Agent Shell leaves in a user's profile, and removing it (`agent-shell cleanup`, for
//! IT's uninstall scripts and for handing a desk to someone else). An uninstaller removes the
//! program; these are the per-user files it cannot see: the Linux scheme handler entry and its
//! association, the link the entry runs, the log directory and the webview's data and cache.
//! The keychain and the start-at-login entry are removed by the caller (they need the keyring
//! store and the autostart launcher); the user's configuration file is IT's and is kept.

use std::path::{Path, PathBuf};

use crate::platform::desktop::{XdgDirs, HANDLER_FILE};

/// One thing looked for, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// What it is, in words (`scheme handler entry`, `logs`...).
    pub what: &'static str,
    /// Where it is: a path, or a name such as a keychain account.
    pub location: String,
    pub state: State,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Nothing there.
    Absent,
    /// There, and left alone (a dry run).
    Present,
    Removed,
    Failed(String),
}

impl State {
    pub fn label(&self) -> String {
        match self {
            Self::Absent => "not present".into(),
            Self::Present => "present (dry run: kept)".into(),
            Self::Removed => "removed".into(),
            Self::Failed(reason) => format!("FAILED: {reason}"),
        }
    }
}

/// Where this user's leftovers are.
#[derive(Debug, Clone)]
pub struct Places {
    /// The Linux desktop's directories (None elsewhere).
    pub xdg: Option<XdgDirs>,
    pub log_dir: Option<PathBuf>,
    /// The webview's data and cache directories (named by the app's identifier).
    pub webview: Vec<PathBuf>,
    pub scheme: String,
}

impl Places {
    /// This user's places for an app with `identifier` that handles `scheme`.
    pub fn of_this_user(scheme: &str, identifier: &str) -> Self {
        let mut webview: Vec<PathBuf> = [dirs::data_local_dir(), dirs::cache_dir()]
            .into_iter()
            .flatten()
            .map(|dir| dir.join(identifier))
            .collect();
        if cfg!(target_os = "macos") {
            if let Some(home) = dirs::home_dir() {
                webview.push(home.join("Library/WebKit").join(identifier));
            }
        }
        Self {
            xdg: cfg!(target_os = "linux").then(XdgDirs::from_env).flatten(),
            log_dir: crate::support::logs::log_dir(),
            webview,
            scheme: scheme.to_string(),
        }
    }
}

/// Looks for every leftover and, unless `dry_run`, removes it.
pub fn clean(places: &Places, dry_run: bool) -> Vec<Leftover> {
    let mut found = Vec::new();
    if let Some(xdg) = &places.xdg {
        let applications = xdg.data_home.join("applications");
        found.push(file(
            "scheme handler entry",
            &applications.join(HANDLER_FILE),
            dry_run,
        ));
        found.push(file(
            "the program link the entry runs",
            &xdg.data_home.join("agent-shell/bin/agent-shell"),
            dry_run,
        ));
        let _ = std::fs::remove_dir(xdg.data_home.join("agent-shell/bin"));
        let _ = std::fs::remove_dir(xdg.data_home.join("agent-shell"));
        for list in [
            xdg.config_home.join("mimeapps.list"),
            applications.join("mimeapps.list"),
        ] {
            found.push(association(&list, &places.scheme, dry_run));
        }
        if !dry_run && found.iter().any(|f| f.state == State::Removed) {
            // Refreshes the desktop's cache of handlers; without the tool the entry is still gone.
            let mut update = std::process::Command::new("update-desktop-database");
            update.arg(&applications);
            let _ =
                crate::platform::process::run(update, crate::platform::process::DESKTOP_TOOL_LIMIT);
        }
    }
    if let Some(logs) = &places.log_dir {
        found.push(directory("logs", logs, dry_run));
    }
    for dir in &places.webview {
        found.push(directory("webview data", dir, dry_run));
    }
    found
}

fn outcome(what: &'static str, path: &Path, state: State) -> Leftover {
    Leftover {
        what,
        location: path.display().to_string(),
        state,
    }
}

fn file(what: &'static str, path: &Path, dry_run: bool) -> Leftover {
    // symlink_metadata: a dangling link is a leftover too.
    let state = match std::fs::symlink_metadata(path) {
        Err(_) => State::Absent,
        Ok(_) if dry_run => State::Present,
        Ok(_) => match std::fs::remove_file(path) {
            Ok(()) => State::Removed,
            Err(e) => State::Failed(e.to_string()),
        },
    };
    outcome(what, path, state)
}

fn directory(what: &'static str, path: &Path, dry_run: bool) -> Leftover {
    let state = match std::fs::symlink_metadata(path) {
        Err(_) => State::Absent,
        Ok(_) if dry_run => State::Present,
        Ok(meta) if meta.is_dir() => match std::fs::remove_dir_all(path) {
            Ok(()) => State::Removed,
            Err(e) => State::Failed(e.to_string()),
        },
        Ok(_) => State::Failed("not a directory; left alone".into()),
    };
    outcome(what, path, state)
}

/// Removes this app's handler from `x-scheme-handler/SCHEME` in a mimeapps.list, keeping every
/// other line and every other application's handler.
fn association(list: &Path, scheme: &str, dry_run: bool) -> Leftover {
    let what = "scheme association";
    let Ok(text) = std::fs::read_to_string(list) else {
        return outcome(what, list, State::Absent);
    };
    let Some(edited) = without_handler(&text, scheme) else {
        return outcome(what, list, State::Absent);
    };
    let state = if dry_run {
        State::Present
    } else {
        match std::fs::write(list, edited) {
            Ok(()) => State::Removed,
            Err(e) => State::Failed(e.to_string()),
        }
    };
    outcome(what, list, state)
}

/// The list without this app's handler for `scheme`, or None when it has none.
pub fn without_handler(text: &str, scheme: &str) -> Option<String> {
    let key = format!("x-scheme-handler/{scheme}");
    let mut changed = false;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        let Some((name, value)) = content.split_once('=') else {
            out.push_str(line);
            continue;
        };
        if name.trim() != key {
            out.push_str(line);
            continue;
        }
        let handlers: Vec<&str> = value
            .split(';')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        let kept: Vec<&str> = handlers
            .iter()
            .copied()
            .filter(|h| *h != HANDLER_FILE)
            .collect();
        if kept.len() == handlers.len() {
            out.push_str(line);
            continue;
        }
        changed = true;
        if !kept.is_empty() {
            out.push_str(&format!("{}={};\n", name.trim(), kept.join(";")));
        }
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const SCHEME: &str = "com.agentshell.desktop";

    #[test]
    fn only_this_apps_handler_leaves_the_association_list() {
        let text = "[Default Applications]\n\
             x-scheme-handler/com.agentshell.desktop=agent-shell-handler.desktop\n\
             x-scheme-handler/https=firefox.desktop\n\
             [Added Associations]\n\
             x-scheme-handler/com.agentshell.desktop=other.desktop;agent-shell-handler.desktop;\n";
        let edited = without_handler(text, SCHEME).unwrap();
        assert_eq!(
            edited,
            "[Default Applications]\n\
             x-scheme-handler/https=firefox.desktop\n\
             [Added Associations]\n\
             x-scheme-handler/com.agentshell.desktop=other.desktop;\n"
        );
        assert_eq!(without_handler(&edited, SCHEME), None, "nothing left to do");
        assert_eq!(
            without_handler(
                "x-scheme-handler/https=agent-shell-handler.desktop\n",
                SCHEME
            ),
            None,
            "another scheme is not ours to change"
        );
    }

    #[test]
    fn a_dry_run_reports_and_keeps_and_a_real_one_removes_everything_once() {
        let home = tempfile::tempdir().unwrap();
        let xdg = XdgDirs {
            data_home: home.path().join("data"),
            config_home: home.path().join("config"),
            data_dirs: Vec::new(),
        };
        let applications = xdg.data_home.join("applications");
        std::fs::create_dir_all(&applications).unwrap();
        std::fs::create_dir_all(&xdg.config_home).unwrap();
        std::fs::create_dir_all(xdg.data_home.join("agent-shell/bin")).unwrap();
        std::fs::write(applications.join(HANDLER_FILE), "[Desktop Entry]\n").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(
            "/nonexistent/agent-shell",
            xdg.data_home.join("agent-shell/bin/agent-shell"),
        )
        .unwrap();
        std::fs::write(
            xdg.config_home.join("mimeapps.list"),
            format!("[Default Applications]\nx-scheme-handler/{SCHEME}={HANDLER_FILE}\n"),
        )
        .unwrap();
        let logs = home.path().join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::write(logs.join("agent-shell.log"), "line\n").unwrap();
        let places = Places {
            xdg: Some(xdg.clone()),
            log_dir: Some(logs.clone()),
            webview: vec![home.path().join("webview")],
            scheme: SCHEME.into(),
        };

        let dry = clean(&places, true);
        let present = dry.iter().filter(|l| l.state == State::Present).count();
        assert_eq!(present, if cfg!(unix) { 4 } else { 3 }, "{dry:#?}");
        assert!(applications.join(HANDLER_FILE).exists(), "a dry run keeps");

        let done = clean(&places, false);
        assert!(
            done.iter()
                .all(|l| matches!(l.state, State::Removed | State::Absent)),
            "{done:#?}"
        );
        assert!(!applications.join(HANDLER_FILE).exists());
        assert!(!logs.exists());
        assert!(!xdg.data_home.join("agent-shell").exists());
        let list = std::fs::read_to_string(xdg.config_home.join("mimeapps.list")).unwrap();
        assert_eq!(list, "[Default Applications]\n");

        let again = clean(&places, false);
        assert!(again.iter().all(|l| l.state == State::Absent), "{again:#?}");
    }
}
