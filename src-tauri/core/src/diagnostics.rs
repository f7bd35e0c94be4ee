//! The diagnostics bundle an agent copies (or `agent-shell doctor --bundle` writes) for IT: what
//! the doctor found, where the configuration came from, and recent log lines. Scrubbed twice:
//! credentials by [`crate::logs::scrub`], and e-mail addresses, so it carries no personal data
//! beyond what the agent sees on screen.

use std::borrow::Cow;

use crate::logs;

/// Replaces every e-mail address (`local@domain.tld`) with `[email]`.
pub fn scrub_emails(text: &str) -> Cow<'_, str> {
    if !text.contains('@') {
        return Cow::Borrowed(text);
    }
    let is_part = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '%');
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    for word in text.split_inclusive(|c: char| !is_part(c) && c != '@') {
        let (core, tail) = match word.char_indices().last() {
            Some((at, c)) if !is_part(c) && c != '@' => word.split_at(at),
            _ => (word, ""),
        };
        let email = core.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        });
        if email {
            out.push_str("[email]");
            changed = true;
        } else {
            out.push_str(core);
        }
        out.push_str(tail);
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

fn clean(text: &str) -> String {
    scrub_emails(&logs::scrub(text)).into_owned()
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
    fn emails_are_replaced_and_other_text_kept() {
        assert_eq!(
            scrub_emails("signed in as agent.one+x@example.com, queue 3"),
            "signed in as [email], queue 3"
        );
        assert_eq!(scrub_emails("<a@b.co>"), "<[email]>");
        for kept in ["no at sign", "user@localhost", "@handle", "a@.b"] {
            assert_eq!(scrub_emails(kept), kept);
        }
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
