//! The diagnostics bundle an agent copies (or `agent-shell doctor --bundle` writes) for IT: what
//! the doctor found, where the configuration came from, and recent log lines. Every part passes
//! the same scrubber as the log files ([`crate::support::scrub`]: credentials and e-mail addresses), so
//! it carries no personal data beyond what the agent sees on screen.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::support::scrub;

/// What a value is when this OS does not say (never a guess).
pub const UNKNOWN: &str = "unknown";

/// The desktop a report was taken on: in the bundle's facts and in `agent-shell doctor --json`
/// (`system`). Holds nothing personal (no host or user name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SystemInfo {
    /// Agent Shell's version.
    pub app_version: String,
    /// The OS and its release, e.g. `Ubuntu 24.04.1 LTS`, `macOS 14.5`, `Windows 10 Pro 22H2`.
    pub os: String,
    /// The OS build: the kernel release on Linux, the build number on macOS and Windows.
    pub os_build: String,
    /// The CPU architecture this build runs as (`x86_64`, `aarch64`).
    pub arch: String,
    /// The webview engine and its version: WebKitGTK (Linux), WebKit (macOS), WebView2 (Windows).
    pub webview: String,
    /// When the report was taken, UTC, RFC 3339.
    pub collected_at: String,
}

impl SystemInfo {
    /// This desktop, now. `webview` is the engine's version as the app read it (None: unknown).
    pub fn of_this_machine(webview: Option<String>) -> Self {
        let (os, os_build) = os_name_and_build();
        let engine = if cfg!(windows) {
            "WebView2"
        } else if cfg!(target_os = "macos") {
            "WebKit"
        } else {
            "WebKitGTK"
        };
        Self {
            app_version: env!("CARGO_PKG_VERSION").to_string(),
            os,
            os_build,
            arch: std::env::consts::ARCH.to_string(),
            webview: format!("{engine} {}", webview.as_deref().unwrap_or(UNKNOWN)),
            collected_at: rfc3339_utc(SystemTime::now()),
        }
    }

    /// The facts as (name, value) lines of the bundle.
    pub fn facts(&self) -> Vec<(String, String)> {
        vec![
            ("Agent Shell".into(), self.app_version.clone()),
            ("Collected at".into(), self.collected_at.clone()),
            ("OS".into(), format!("{} ({})", self.os, self.arch)),
            ("OS build".into(), self.os_build.clone()),
            ("Webview".into(), self.webview.clone()),
        ]
    }
}

/// `PRETTY_NAME` of an os-release file (quotes removed), else `NAME VERSION`.
pub fn os_release_name(text: &str) -> Option<String> {
    let value = |key: &str| {
        text.lines().find_map(|line| {
            let rest = line.trim().strip_prefix(key)?.strip_prefix('=')?;
            let unquoted = rest.trim().trim_matches(|c| c == '"' || c == '\'');
            (!unquoted.is_empty()).then(|| unquoted.to_string())
        })
    };
    value("PRETTY_NAME").or_else(|| match (value("NAME"), value("VERSION")) {
        (Some(name), Some(version)) => Some(format!("{name} {version}")),
        (name, _) => name,
    })
}

/// The `<string>` after `<key>KEY</key>` in a property list's XML (SystemVersion.plist).
pub fn plist_string(text: &str, key: &str) -> Option<String> {
    let after = &text[text.find(&format!("<key>{key}</key>"))?..];
    let start = after.find("<string>")? + "<string>".len();
    let end = after[start..].find("</string>")? + start;
    Some(after[start..end].trim().to_string()).filter(|v| !v.is_empty())
}

/// The OS with its release, and its build, read where each OS keeps them without starting a
/// program: /etc/os-release and the kernel's release (what `uname -r` prints, from
/// /proc/sys/kernel/osrelease) on Linux, SystemVersion.plist on macOS, the registry's
/// `CurrentVersion` key on Windows. What cannot be read is [`UNKNOWN`].
fn os_name_and_build() -> (String, String) {
    let unknown = || UNKNOWN.to_string();
    if cfg!(target_os = "linux") {
        let name = ["/etc/os-release", "/usr/lib/os-release"]
            .iter()
            .find_map(|path| os_release_name(&std::fs::read_to_string(path).ok()?))
            .unwrap_or_else(|| format!("Linux ({UNKNOWN} distribution)"));
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|release| release.trim().to_string())
            .filter(|release| !release.is_empty())
            .map_or_else(unknown, |release| format!("Linux kernel {release}"));
        (name, kernel)
    } else if cfg!(target_os = "macos") {
        let plist = std::fs::read_to_string("/System/Library/CoreServices/SystemVersion.plist")
            .unwrap_or_default();
        let version = plist_string(&plist, "ProductVersion").unwrap_or_else(unknown);
        let build = plist_string(&plist, "ProductBuildVersion").unwrap_or_else(unknown);
        (format!("macOS {version}"), build)
    } else if cfg!(windows) {
        match agent_shell_os_calls::windows_version() {
            Some(version) => (version.name, version.build),
            None => (format!("Windows ({UNKNOWN} version)"), unknown()),
        }
    } else {
        (std::env::consts::OS.to_string(), unknown())
    }
}

/// `time` as RFC 3339 in UTC to the second, e.g. `2026-12-02T08:13:53Z`.
pub fn rfc3339_utc(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm, years from 0000).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

fn clean(text: &str) -> String {
    scrub::scrub(text).into_owned()
}

/// The bundle as plain text: facts (name, value), the doctor's table, then the log lines.
pub fn render(facts: &[(String, String)], doctor_table: &str, log_lines: &[String]) -> String {
    let mut out = String::from("Agent Shell diagnostics\n=======================\n\n");
    let width = facts.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    for (name, value) in facts {
        out.push_str(&format!("{name:<width$}  {}\n", clean(value)));
    }
    out.push_str("\nDoctor\n------\n");
    out.push_str(&clean(doctor_table));
    out.push_str(&format!(
        "\nRecent log lines ({})\n------------------\n",
        log_lines.len()
    ));
    for line in log_lines {
        out.push_str(&clean(line));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let at = |secs| rfc3339_utc(UNIX_EPOCH + std::time::Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_798_761_599), "2026-12-31T23:59:59Z");
        assert_eq!(at(4_107_542_400), "2100-03-01T00:00:00Z");
    }

    #[test]
    fn os_names_come_from_os_release_and_system_version() {
        let ubuntu = "NAME=\"Ubuntu\"\nVERSION=\"24.04.1 LTS (Noble Numbat)\"\nPRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\n";
        assert_eq!(
            os_release_name(ubuntu).as_deref(),
            Some("Ubuntu 24.04.1 LTS")
        );
        assert_eq!(
            os_release_name("NAME=Fedora\nVERSION='40'\n").as_deref(),
            Some("Fedora 40")
        );
        assert_eq!(os_release_name("ID=x\n"), None);
        let plist = "<dict>\n\t<key>ProductBuildVersion</key>\n\t<string>23F79</string>\n\t<key>ProductVersion</key>\n\t<string>14.5</string>\n</dict>";
        assert_eq!(
            plist_string(plist, "ProductVersion").as_deref(),
            Some("14.5")
        );
        assert_eq!(
            plist_string(plist, "ProductBuildVersion").as_deref(),
            Some("23F79")
        );
        assert_eq!(plist_string(plist, "Missing"), None);
    }

    #[test]
    fn this_machine_is_described_without_guessing() {
        let info = SystemInfo::of_this_machine(None);
        assert_eq!(info.app_version, env!("CARGO_PKG_VERSION"));
        assert!(info.webview.ends_with(" unknown"), "{info:?}");
        assert!(info.collected_at.ends_with('Z') && info.collected_at.len() == 20);
        assert!(!info.os.is_empty() && !info.os_build.is_empty());
        let facts = info.facts();
        assert!(facts.iter().any(|(name, _)| name == "Webview"));
    }

    #[test]
    fn the_bundle_carries_facts_report_and_scrubbed_lines() {
        let token = "q3J0h8vO1yA9ZkPz_x-7LmN2bC4dE5fG6hI7jK8lM9n";
        let text = render(
            &[("Environment".into(), "mypurecloud.ie".into())],
            "ok    config  fine\n",
            &[
                format!("refreshed code={token}"),
                "user agent@example.com signed in".into(),
            ],
        );
        assert!(text.contains("Environment  mypurecloud.ie"), "{text}");
        assert!(text.contains("ok    config  fine"), "{text}");
        assert!(text.contains("Recent log lines (2)"), "{text}");
        assert!(
            !text.contains(token) && !text.contains("agent@example.com"),
            "{text}"
        );
        assert!(text.contains("user [email] signed in"), "{text}");
    }
}
