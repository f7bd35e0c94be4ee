//! Secrets must not leak: the scans of the app's files, logs and of every process's arguments
//! and environment for what the emulator issued or saw.

use std::path::{Path, PathBuf};
use std::time::Duration;

use agent_shell_test_kit::Control;
use genesys_emulator::RunningEmulator;
use reqwest::Method;

/// Every regular file under `dir` (links not followed), leaving out files named as `skip` says.
fn files_under(dir: &Path, skip: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if skip(&name) {
            continue;
        }
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        } else if meta.is_file() {
            files.push(path);
        }
    }
    files
}

fn contains(bytes: &[u8], needle: &str) -> bool {
    !needle.is_empty() && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Files under `home` that contain any of `secrets` (with the secret's index), leaving out the
/// test browser's own files (a real browser keeps its history in its own profile, not in the
/// app's).
pub fn app_files_containing(home: &Path, secrets: &[String]) -> Vec<(PathBuf, usize)> {
    let browsers_own = |name: &str| {
        name == "browser.log" || name == "loopback-page.html" || name.starts_with("test-browser.")
    };
    let mut found = Vec::new();
    for path in files_under(home, browsers_own) {
        if let Ok(bytes) = std::fs::read(&path) {
            for (index, secret) in secrets.iter().enumerate() {
                if contains(&bytes, secret) {
                    found.push((path.clone(), index));
                }
            }
        }
    }
    found
}

/// The `login` URL of a `[local_emulator]` config.
pub fn emulator_login_url(config: &str) -> Option<String> {
    let table: toml::Table = toml::from_str(config).ok()?;
    Some(
        table
            .get("local_emulator")?
            .get("login")?
            .as_str()?
            .trim_end_matches('/')
            .to_string(),
    )
}

/// The app's log directory under a test HOME (XDG_STATE_HOME is not set there).
pub fn log_dir(home: &Path) -> PathBuf {
    home.join(".local/state/agent-shell/logs")
}

/// Asserts that the app wrote a log file, and that neither its log files nor its stderr hold
/// any secret the emulator issued or saw (counted, never printed). Skipped when the test has
/// already stopped its emulator.
pub async fn assert_no_secret_in_logs(control: &Control, home: &Path, stderr: &str) {
    let asked = control.try_call(Method::GET, "secrets", None);
    let Ok(Ok(answer)) = tokio::time::timeout(Duration::from_secs(5), asked).await else {
        return;
    };
    let Ok(secrets) = serde_json::from_value::<Vec<String>>(answer) else {
        return;
    };
    let files: Vec<PathBuf> = std::fs::read_dir(log_dir(home))
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(
        !files.is_empty(),
        "the app wrote no log file under {}",
        log_dir(home).display()
    );
    let mut texts: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|path| {
            (
                path.display().to_string(),
                std::fs::read(path).unwrap_or_default(),
            )
        })
        .collect();
    texts.push(("the app's stderr".into(), stderr.as_bytes().to_vec()));
    let leaks: Vec<String> = texts
        .iter()
        .flat_map(|(name, bytes)| {
            secrets
                .iter()
                .enumerate()
                .filter(|(_, secret)| contains(bytes, secret))
                .map(move |(index, _)| format!("secret #{index} in {name}"))
        })
        .collect();
    assert!(leaks.is_empty(), "secrets in the app's logs: {leaks:?}");
}

/// Asserts that no file the app could have written under `home` holds any secret the emulator
/// issued or saw (secrets are counted, never printed).
pub async fn assert_no_secret_in_home(emulator: &RunningEmulator, home: &Path) {
    let secrets = Control::new(emulator).secrets().await;
    assert!(
        !secrets.is_empty(),
        "the emulator saw no secret: nothing was checked"
    );
    let found = app_files_containing(home, &secrets);
    assert!(
        found.is_empty(),
        "{} secret(s) found in files under HOME: {:?}",
        found.len(),
        found
            .iter()
            .map(|(p, i)| (p, format!("secret #{i}")))
            .collect::<Vec<_>>()
    );
}

/// Asserts that no running process has any secret the emulator issued or saw in its
/// arguments or environment (`/proc/PID/cmdline`, `/proc/PID/environ`). Call it when no
/// browser is running: a browser is handed the authorize URL, state included, by design.
pub async fn assert_no_secret_in_processes(emulator: &RunningEmulator) {
    let secrets = Control::new(emulator).secrets().await;
    assert!(
        !secrets.is_empty(),
        "the emulator saw no secret: nothing was checked"
    );
    // A process that carried the redirect (the second instance, xdg-open) may still be on its
    // way out: give it five seconds, then whatever still holds a secret fails the test.
    let mut found = Vec::new();
    for _ in 0..50 {
        found = processes_holding(&secrets);
        if found.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("secrets in process arguments or environment: {found:?}");
}

fn processes_holding(secrets: &[String]) -> Vec<String> {
    let mut checked = 0;
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.parse::<u32>().is_err() {
            continue;
        }
        for part in ["cmdline", "environ"] {
            let Ok(bytes) = std::fs::read(entry.path().join(part)) else {
                continue;
            };
            checked += 1;
            for (index, secret) in secrets.iter().enumerate() {
                if contains(&bytes, secret) {
                    let comm =
                        std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
                    found.push(format!(
                        "secret #{index} in {part} of {name} ({})",
                        comm.trim()
                    ));
                }
            }
        }
    }
    assert!(checked > 0, "no process could be read");
    found
}

/// True if any file under `dir` contains `needle` (the refresh token must not be in a file).
pub fn any_file_contains(dir: &Path, needle: &str) -> Option<PathBuf> {
    files_under(dir, |_| false)
        .into_iter()
        .find(|path| std::fs::read(path).is_ok_and(|bytes| contains(&bytes, needle)))
}
