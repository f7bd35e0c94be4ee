//! The diagnostics bundle an agent copies (or `agent-shell doctor --bundle` writes) for IT: what
//! the doctor found, where the configuration came from, and recent log lines. Every part passes
//! the same scrubber as the log files ([`crate::scrub`]: credentials and e-mail addresses), so
//! it carries no personal data beyond what the agent sees on screen.

use crate::scrub;

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
