//! `agent-shell doctor`: checks of the known traps, each with a status, the evidence and a
//! one-line fix, printed as a table for people or JSON for tools. No window is opened.

use std::path::Path;

use serde::Serialize;

use crate::config::ShellConfig;
use crate::desktop::{self, Resolution, XdgDirs};

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

/// The page origins IT allow-lists in "Restrict Genesys Cloud embedding".
pub fn page_origin_check() -> Check {
    Check {
        id: "embedding.page_origin",
        status: Status::Pass,
        evidence: "Agent Shell's page origin is tauri://localhost (Linux, macOS) and http://tauri.localhost (Windows)".into(),
        fix: None,
    }
}

fn describe(resolution: &Resolution) -> String {
    format!(
        "{} -> {} -> {}",
        resolution.via,
        resolution
            .desktop_file
            .as_deref()
            .unwrap_or("(no desktop file)"),
        resolution.program.as_deref().unwrap_or("(no program)")
    )
}

fn resolution_check(
    id: &'static str,
    resolution: Resolution,
    scheme: &str,
    status_if_broken: Status,
) -> Check {
    match &resolution.problem {
        None => Check {
            id,
            status: Status::Pass,
            evidence: describe(&resolution),
            fix: None,
        },
        Some(problem) => Check {
            id,
            status: status_if_broken,
            evidence: format!("{}: {problem}", describe(&resolution)),
            fix: Some(desktop::fix_command(scheme)),
        },
    }
}

/// How the deep-link scheme resolves on this Linux desktop, through xdg-open (fails: the
/// sign-in falls back to loopback, or breaks where no loopback port is configured) and through
/// gio (a warning where gio itself is missing; GNOME, KDE and Firefox go through it).
pub fn deep_link_checks(scheme: &str, exe: &Path, dirs: &XdgDirs) -> Vec<Check> {
    let xdg = desktop::resolve_xdg(scheme, exe, dirs);
    let gio = desktop::resolve_gio(scheme, exe, dirs);
    // Without gio itself this desktop does not open links through it: a warning, not a failure.
    let gio_status = if gio.tool_missing {
        Status::Warn
    } else {
        Status::Fail
    };
    vec![
        resolution_check("deep_link.xdg_open", xdg, scheme, Status::Fail),
        resolution_check("deep_link.gio", gio, scheme, gio_status),
    ]
}

/// The configuration's own summary line.
pub fn config_check(config: &ShellConfig, source: &str) -> Check {
    Check {
        id: "config",
        status: Status::Pass,
        evidence: format!(
            "{source}: environment {}, client id {}",
            config.environment_label(),
            config.client_id
        ),
        fix: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
