//! Log files: where they live, the scrubbing backstop every log line passes through, and the
//! recent lines a diagnostics bundle carries.
//!
//! Secrets are kept out of logs by their types (they redact `Debug` and `Display`); this module
//! is the second line: anything *shaped* like a credential is replaced before a line reaches
//! a file or stderr, so a future `tracing::debug!(?url)` cannot leak a code or a token.

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What replaces a scrubbed value.
pub const REDACTED: &str = "[redacted]";

/// The log files' name: `agent-shell.YYYY-MM-DD.log`, one per day.
pub const FILE_PREFIX: &str = "agent-shell";
pub const FILE_SUFFIX: &str = "log";
/// Days of log files kept (older ones are deleted as a new day starts).
pub const KEPT_FILES: usize = 7;

/// Query and form parameters, JSON fields and headers whose value is a credential, however
/// short it is.
const SECRET_NAMES: [&str; 10] = [
    "code",
    "state",
    "code_verifier",
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "password",
    "authorization",
    "bearer",
];

/// A run of token characters at least this long is treated as a credential: OAuth codes,
/// tokens, PKCE verifiers and states are 32 random bytes or more (43+ characters), while the
/// identifiers worth keeping in a log (UUIDs, hosts, paths) are shorter or are split by `.`/`/`.
const MIN_OPAQUE_RUN: usize = 32;

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '~' || c == '+'
}

/// A canonical UUID (8-4-4-4-12 hex): an id (conversation, user), not a secret.
fn is_uuid(run: &str) -> bool {
    let groups: Vec<&str> = run.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Replaces every credential-shaped part of `text`: the value after a secret's name
/// (`code=...`, `"access_token":"..."`, `Bearer ...`), and any long opaque run.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut rest = text;
    // The name just written, if it names a secret: its value (next run) is redacted.
    let mut secret_value_next = false;
    while let Some(c) = rest.chars().next() {
        if is_token_char(c) {
            let end = rest.find(|c: char| !is_token_char(c)).unwrap_or(rest.len());
            let (run, after) = rest.split_at(end);
            let long_opaque = run.len() >= MIN_OPAQUE_RUN && !is_uuid(run);
            let scheme_word = secret_value_next
                && (run.eq_ignore_ascii_case("bearer") || run.eq_ignore_ascii_case("basic"))
                && after.starts_with(' ');
            if scheme_word {
                // "Authorization: Bearer <token>": the token is the value, not the scheme.
                out.push_str(run);
            } else if secret_value_next || long_opaque {
                out.push_str(REDACTED);
                changed = true;
                secret_value_next = false;
            } else {
                out.push_str(run);
                secret_value_next = names_secret(run, after);
            }
            rest = after;
        } else {
            out.push(c);
            // Separators between a name and its value keep the expectation alive; anything
            // else (a space after a value, a comma) ends it, except "Bearer <token>".
            if !matches!(c, '=' | ':' | '"' | '\'' | ' ') {
                secret_value_next = false;
            }
            rest = &rest[c.len_utf8()..];
        }
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

/// True when `name` is a secret's name followed by a value separator (`=`, `:`, `":"`, or a
/// space for `Bearer`), so a word like "code" in prose is left alone.
fn names_secret(name: &str, after: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    if !SECRET_NAMES.contains(&lower.as_str()) {
        return false;
    }
    let after = after.trim_start_matches(['"', '\'']);
    if lower == "bearer" {
        return after.starts_with(' ');
    }
    after.starts_with('=') || after.starts_with(':')
}

/// A writer that scrubs what passes through it. The formatter hands over one whole event per
/// write, so a credential is never split across two calls.
pub struct ScrubbingWriter<W: Write> {
    inner: W,
}

impl<W: Write> ScrubbingWriter<W> {
    pub fn new(inner: W) -> Self {
        Self { inner }
    }
}

impl<W: Write> Write for ScrubbingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.inner.write_all(scrub(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Where the log files go: the platform's place for an app's logs.
/// Linux `$XDG_STATE_HOME/agent-shell/logs` (`~/.local/state/...`), macOS
/// `~/Library/Logs/Agent Shell`, Windows `%LOCALAPPDATA%\Agent Shell\logs`.
pub fn log_dir() -> Option<PathBuf> {
    if cfg!(target_os = "macos") {
        return dirs::home_dir().map(|home| home.join("Library/Logs/Agent Shell"));
    }
    if cfg!(windows) {
        return dirs::data_local_dir().map(|dir| dir.join("Agent Shell").join("logs"));
    }
    dirs::state_dir()
        .or_else(|| dirs::home_dir().map(|home| home.join(".local/state")))
        .map(|dir| dir.join("agent-shell").join("logs"))
}

/// The last `max_lines` lines of the newest log files in `dir`, oldest first, scrubbed again
/// (a file written by an older version had no backstop).
pub fn recent_lines(dir: &Path, max_lines: usize) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| {
                    path.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(FILE_PREFIX) && n.ends_with(FILE_SUFFIX))
                })
                .collect()
        })
        .unwrap_or_default();
    // Daily names sort by date.
    files.sort();
    let mut lines: Vec<String> = Vec::new();
    for file in files.iter().rev() {
        let Ok(text) = std::fs::read(file) else {
            continue;
        };
        let text = String::from_utf8_lossy(&text);
        let mut these: Vec<String> = text.lines().map(|l| scrub(l).into_owned()).collect();
        these.append(&mut lines);
        lines = these;
        if lines.len() >= max_lines {
            break;
        }
    }
    let skip = lines.len().saturating_sub(max_lines);
    lines.split_off(skip)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "q3J0h8vO1yA9ZkPz_x-7LmN2bC4dE5fG6hI7jK8lM9n";

    #[test]
    fn opaque_runs_and_named_values_are_redacted() {
        let cases = [
            (
                format!("GET /cb?code={TOKEN}&state=abc"),
                "GET /cb?code=[redacted]&state=[redacted]",
            ),
            (
                format!("{{\"access_token\":\"{TOKEN}\",\"expires_in\":60}}"),
                "{\"access_token\":\"[redacted]\",\"expires_in\":60}",
            ),
            (
                "Authorization: Bearer short".to_string(),
                "Authorization: Bearer [redacted]",
            ),
            (format!("token {TOKEN} rotated"), "token [redacted] rotated"),
            ("refresh_token=x1".to_string(), "refresh_token=[redacted]"),
            ("client_secret: s".to_string(), "client_secret: [redacted]"),
        ];
        for (input, expected) in cases {
            assert_eq!(scrub(&input), expected, "{input}");
        }
    }

    #[test]
    fn ordinary_log_lines_are_left_alone() {
        let lines = [
            "token refreshed; next renewal in 3540 s",
            "conversation 5f0c7e0e-3c7a-4a47-8d5e-9a7f3c1b2d4e connected",
            "opening https://login.mypurecloud.ie/oauth/authorize in the browser",
            "/home/agent/.local/state/agent-shell/logs/agent-shell.2026-12-01.log",
            "the code exchange failed: invalid_grant",
            "state mismatch: the redirect was not for this sign-in",
        ];
        for line in lines {
            assert!(
                matches!(scrub(line), Cow::Borrowed(_)),
                "{line} -> {}",
                scrub(line)
            );
        }
    }

    #[test]
    fn the_writer_scrubs_and_reports_the_whole_buffer_written() {
        let mut sink = Vec::new();
        let mut writer = ScrubbingWriter::new(&mut sink);
        let line = format!("loopback redirect /callback?code={TOKEN}\n");
        assert_eq!(writer.write(line.as_bytes()).unwrap(), line.len());
        let written = String::from_utf8(sink).unwrap();
        assert!(!written.contains(TOKEN));
        assert_eq!(written, "loopback redirect /callback?code=[redacted]\n");
    }

    #[test]
    fn recent_lines_come_from_the_newest_files_in_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("agent-shell.2026-11-30.log"), "a\nb\n").unwrap();
        std::fs::write(
            dir.path().join("agent-shell.2026-12-01.log"),
            format!("c\nd code={TOKEN}\n"),
        )
        .unwrap();
        std::fs::write(dir.path().join("other.txt"), "x\n").unwrap();
        assert_eq!(recent_lines(dir.path(), 3), ["b", "c", "d code=[redacted]"]);
        assert_eq!(recent_lines(dir.path(), 10).len(), 4);
        assert!(recent_lines(&dir.path().join("none"), 10).is_empty());
    }
}
