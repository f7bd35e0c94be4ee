//! `agent-shell doctor`: checks of the known traps, each with a status, the evidence and a
//! one-line fix, printed as a table for people or JSON for tools. No window is opened.

pub mod browser;
mod local;
mod online;

pub use local::*;
pub use online::*;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Self::Pass => "ok",
            Self::Warn => "warn",
            Self::Fail => "FAIL",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable identifier, e.g. `deep_link.xdg_open`.
    pub id: &'static str,
    pub status: Status,
    /// What was found.
    pub evidence: String,
    /// What to do about it (None when it passed).
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The desktop the report was taken on (OS, build, webview, app version, when).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<crate::support::diagnostics::SystemInfo>,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn push(&mut self, check: Check) {
        self.checks.push(check);
    }

    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }

    /// The table for people: one line per check, its evidence, and the fix under it.
    pub fn table(&self) -> String {
        let width = self.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
        let mut out = String::new();
        for check in &self.checks {
            out.push_str(&format!(
                "{:<4}  {:<width$}  {}\n",
                check.status.label(),
                check.id,
                check.evidence
            ));
            if let Some(fix) = &check.fix {
                out.push_str(&format!("      {:<width$}  fix: {fix}\n", ""));
            }
        }
        let failed = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .count();
        let warned = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Warn)
            .count();
        out.push_str(&format!(
            "\n{} check(s): {failed} failed, {warned} warning(s)\n",
            self.checks.len()
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_windows_handler_must_run_this_program_with_the_url() {
        let exe = Path::new(r"C:\Program Files\Agent Shell\agent-shell.exe");
        let key = r"HKLM\Software\Classes\com.agentshell.desktop\shell\open\command".to_string();
        let good = vec![(
            key.clone(),
            r#""C:\Program Files\Agent Shell\agent-shell.exe" "%1""#.to_string(),
        )];
        assert_eq!(
            windows_scheme_check("com.agentshell.desktop", exe, &good).status,
            Status::Pass
        );
        let other = vec![(key.clone(), r#""C:\Old\agent-shell.exe" "%1""#.to_string())];
        let check = windows_scheme_check("com.agentshell.desktop", exe, &other);
        assert_eq!(check.status, Status::Fail);
        assert!(check.evidence.contains("not this program"), "{check:?}");
        let no_url = vec![(
            key,
            r#""C:\Program Files\Agent Shell\agent-shell.exe""#.to_string(),
        )];
        assert!(windows_scheme_check("com.agentshell.desktop", exe, &no_url)
            .evidence
            .contains("%1"));
        // Parsed and compared exactly: not a substring, no extra arguments.
        for tricked in [
            r#"cmd /c "C:\Program Files\Agent Shell\agent-shell.exe" "%1" & evil"#,
            r#""C:\Program Files\Agent Shell\agent-shell.exe" "%1" & evil"#,
            r#""C:\Program Files\Agent Shell\agent-shell.exe.bak" "%1""#,
            r#""C:\Program Files\Agent Shell\agent-shell.exe" --other "%1""#,
        ] {
            let handlers = vec![(String::from("HKCU"), tricked.to_string())];
            let check = windows_scheme_check("com.agentshell.desktop", exe, &handlers);
            assert_eq!(check.status, Status::Fail, "{tricked}");
        }
        let unquoted = vec![(
            String::from("HKCU"),
            r#"C:\AgentShell\agent-shell.exe %1"#.to_string(),
        )];
        assert_eq!(
            windows_scheme_check(
                "com.agentshell.desktop",
                Path::new(r"C:\AgentShell\agent-shell.exe"),
                &unquoted
            )
            .status,
            Status::Pass
        );
        let none = windows_scheme_check("com.agentshell.desktop", exe, &[]);
        assert_eq!(none.status, Status::Fail);
        assert!(none.fix.is_some());
    }

    #[test]
    fn windows_command_lines_split_as_windows_splits_them() {
        assert_eq!(
            windows_argv(r#""C:\A B\x.exe" "%1""#),
            [r"C:\A B\x.exe", "%1"]
        );
        assert_eq!(windows_argv(r#"x.exe a"b c"d"#), ["x.exe", "ab cd"]);
        assert_eq!(
            windows_argv(r#"x.exe \\"a b\\" \"q"#),
            ["x.exe", r"\a b\", "\"q"]
        );
        assert_eq!(
            windows_argv(r#"x.exe a\\b "" c"#),
            ["x.exe", r"a\\b", "", "c"]
        );
        assert!(windows_argv("   ").is_empty());
        assert_eq!(windows_argv(r#""unterminated"#), ["unterminated"]);
    }

    #[test]
    fn compositing_forced_on_without_a_gpu_is_the_one_warning() {
        use crate::config::Compositing::{Auto, Off, On};
        let check = compositing_check(On, false, None);
        assert_eq!(check.status, Status::Warn);
        assert!(
            check
                .evidence
                .starts_with("on: compositing on; no GPU render node"),
            "{}",
            check.evidence
        );
        assert!(check.fix.unwrap().contains("compositing = \"auto\""));
        for (setting, gpu, evidence) in [
            (Auto, false, "auto: compositing off; no GPU"),
            (
                Auto,
                true,
                "auto: compositing on; a GPU render node is usable",
            ),
            (On, true, "on: compositing on; a GPU"),
            (Off, true, "off: compositing off; a GPU"),
        ] {
            let check = compositing_check(setting, gpu, None);
            assert_eq!(check.status, Status::Pass, "{}", check.evidence);
            assert!(check.evidence.starts_with(evidence), "{}", check.evidence);
        }
        // The session's own variable wins, and the check says so.
        let check = compositing_check(On, false, Some("1"));
        assert_eq!(check.status, Status::Pass);
        assert!(
            check
                .evidence
                .starts_with("WEBKIT_DISABLE_COMPOSITING_MODE=1 in the session decides"),
            "{}",
            check.evidence
        );
    }

    #[test]
    fn the_table_shows_evidence_and_fixes_and_counts_failures() {
        let mut report = Report::default();
        report.push(page_origin_check());
        report.push(Check {
            id: "deep_link.xdg_open",
            status: Status::Fail,
            evidence: "no application is registered".into(),
            fix: Some("xdg-mime default ...".into()),
        });
        assert!(report.failed());
        let table = report.table();
        assert!(
            table.contains("FAIL  deep_link.xdg_open     no application is registered"),
            "{table}"
        );
        assert!(table.contains("fix: xdg-mime default ..."), "{table}");
        assert!(
            table.contains("2 check(s): 1 failed, 0 warning(s)"),
            "{table}"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["checks"][1]["status"], "fail");
        assert_eq!(json["checks"][0]["fix"], serde_json::Value::Null);
    }
}
