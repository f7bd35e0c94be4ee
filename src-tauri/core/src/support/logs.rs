//! Log files: where they live, the writer that passes every line through the one scrubber
//! ([`crate::support::scrub`]) on its way to a file or stderr, the recent lines a diagnostics bundle
//! carries (scrubbed again), and how client-supplied text is logged ([`ClientText`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use crate::support::scrub::{scrub, REDACTED};

/// The log files' name: `agent-shell.YYYY-MM-DD.log`, one per day.
pub const FILE_PREFIX: &str = "agent-shell";
pub const FILE_SUFFIX: &str = "log";
/// Days of log files kept (older ones are deleted as a new day starts).
pub const KEPT_FILES: usize = 7;

/// How a message from the embedded client (free text a page supplied) is logged: its type, the
/// length of the rest and the first 8 hex digits of its SHA-256, never the text itself. Equal
/// messages give equal digests, so a support session can still tell them apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientText {
    /// The message's `type` (`agent-shell:auth-error`), or `?` when it has none.
    pub kind: String,
    /// Bytes of the message as JSON, without its type.
    pub len: usize,
    /// First 8 hex digits of the SHA-256 of those bytes.
    pub sha256: String,
}

impl ClientText {
    /// Digests a message as it serialises (a `type` field is kept as the kind).
    pub fn of(message: &impl Serialize) -> Self {
        let mut value = serde_json::to_value(message).unwrap_or(serde_json::Value::Null);
        let kind = value
            .as_object_mut()
            .and_then(|fields| fields.remove("type"))
            .and_then(|kind| kind.as_str().map(str::to_string))
            .unwrap_or_else(|| "?".to_string());
        let rest = value.to_string();
        let digest = Sha256::digest(rest.as_bytes());
        Self {
            kind,
            len: rest.len(),
            sha256: digest[..4].iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

impl std::fmt::Display for ClientText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} len={} sha256={}", self.kind, self.len, self.sha256)
    }
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
    fn client_text_is_logged_as_its_type_length_and_digest() {
        let message = serde_json::json!({
            "type": "agent-shell:auth-error",
            "status": 401,
            "message": "call me on 555-0100, agent.one@example.com",
        });
        let logged = ClientText::of(&message);
        assert_eq!(logged.kind, "agent-shell:auth-error");
        assert_eq!(logged.sha256.len(), 8);
        let line = logged.to_string();
        assert!(!line.contains("555") && !line.contains("example"), "{line}");
        assert!(line.starts_with("agent-shell:auth-error len="), "{line}");
        // Equal messages, equal digests; different text, a different digest.
        assert_eq!(ClientText::of(&message), logged);
        let other = serde_json::json!({"type": "agent-shell:auth-error", "message": "x"});
        assert_ne!(ClientText::of(&other).sha256, logged.sha256);
        assert_eq!(ClientText::of(&"no type").kind, "?");
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
