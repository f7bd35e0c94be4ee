//! The one decision "is this command line a sign-in redirect?", for the first launch (the
//! browser started the app with the redirect) and for a command line forwarded to the running
//! instance. What the redirect says is decided later, once, by `oauth::parse_redirect`.

use std::ffi::OsStr;

#[derive(Debug, PartialEq, Eq)]
pub enum LaunchArgs {
    /// An ordinary command line: parse it.
    Options,
    /// The browser handed over a redirect URL as the one argument.
    Redirect(String),
    /// A redirect URL together with other arguments: refused, they are never parsed.
    RedirectWithExtras,
}

/// A launch whose first argument is a URL is a redirect from the browser, and then nothing else
/// may come with it: a launcher that passes an unescaped quote must not be able to add options
/// such as `--config`. A URL is `scheme:...` with a scheme of two or more characters, so a
/// Windows path such as `C:\x` is not one.
pub fn classify_launch<S: AsRef<OsStr>>(args: &[S]) -> LaunchArgs {
    let Some(first) = args.get(1).and_then(|a| a.as_ref().to_str()) else {
        return LaunchArgs::Options;
    };
    let scheme_len = first
        .find(':')
        .filter(|&end| {
            first[..end].chars().enumerate().all(|(i, c)| {
                c.is_ascii_alphabetic() || (i > 0 && (c.is_ascii_digit() || "+.-".contains(c)))
            })
        })
        .unwrap_or(0);
    if scheme_len < 2 {
        return LaunchArgs::Options;
    }
    if args.len() == 2 {
        LaunchArgs::Redirect(first.to_string())
    } else {
        LaunchArgs::RedirectWithExtras
    }
}

/// The redirect in a command line forwarded to the running instance: a lone URL of the
/// configured `scheme` (compared as RFC 3986 compares schemes: ignoring case). Anything else
/// a second launch carries is not for the sign-in and is ignored.
pub fn forwarded_redirect<S: AsRef<OsStr>>(args: &[S], scheme: &str) -> Option<String> {
    match classify_launch(args) {
        LaunchArgs::Redirect(url)
            if url
                .split_once(':')
                .is_some_and(|(s, _)| s.eq_ignore_ascii_case(scheme)) =>
        {
            Some(url)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "com.agentshell.desktop:/oauth/callback?code=abc&state=xyz";

    #[test]
    fn a_redirect_is_accepted_only_as_the_lone_first_argument() {
        assert_eq!(
            classify_launch(&["agent-shell", URL]),
            LaunchArgs::Redirect(URL.into())
        );
        for extras in [
            &["agent-shell", URL, "--config", "/tmp/evil.toml"][..],
            &["agent-shell", URL, "demo"],
            &[
                "agent-shell",
                "com.agentshell.desktop:/oauth/callback?code=a\"",
                "--config=x",
            ],
        ] {
            assert_eq!(
                classify_launch(extras),
                LaunchArgs::RedirectWithExtras,
                "{extras:?}"
            );
        }
        for options in [
            &["agent-shell"][..],
            &["agent-shell", "--config", "x.toml"],
            &["agent-shell", "demo"],
            &["agent-shell", "C:\\config.toml"],
            &["agent-shell", "config", "check"],
        ] {
            assert_eq!(classify_launch(options), LaunchArgs::Options, "{options:?}");
        }
    }

    #[test]
    fn a_forwarded_command_line_yields_only_a_lone_redirect_of_the_scheme() {
        let scheme = "com.agentshell.desktop";
        assert_eq!(
            forwarded_redirect(&["agent-shell", URL], scheme).as_deref(),
            Some(URL)
        );
        let upper = "COM.AgentShell.Desktop:/oauth/callback?code=a&state=b";
        assert_eq!(
            forwarded_redirect(&["agent-shell", upper], scheme).as_deref(),
            Some(upper)
        );
        for args in [
            &["agent-shell"][..],
            &["agent-shell", "--config", "x"],
            &["agent-shell", "evil:/oauth/callback"],
            &["agent-shell", "com.agentshell.desktop.evil:/oauth/callback"],
            &["agent-shell", "com.agentshell.desktop:/x", "extra"],
        ] {
            assert_eq!(forwarded_redirect(args, scheme), None, "{args:?}");
        }
    }
}
