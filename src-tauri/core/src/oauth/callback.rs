//! The redirect that ends a sign-in, parsed into a typed value at the boundary.
//!
//! It arrives as a deep link (`SCHEME:/oauth/callback?code=..&state=..`, from the OS, i.e. from
//! anyone who can launch the app) or as the request target of the loopback listener. Anything
//! that is not exactly a callback is refused here with a specific error.

use url::Url;

use crate::config::REDIRECT_PATH;
use crate::error::{Code, ErrorCode};
use crate::secret::AuthCode;

/// Real callbacks are a few hundred bytes; refuse anything that could be an abuse.
pub const MAX_CALLBACK_LEN: usize = 4096;
const MAX_PARAM_LEN: usize = 2048;

#[derive(Debug)]
pub enum Callback {
    /// The IdP approved: exchange `code` if `state` matches the pending login.
    Code { code: AuthCode, state: String },
    /// The IdP refused (`error=access_denied` and friends).
    Denied {
        error: String,
        description: Option<String>,
        state: Option<String>,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CallbackError {
    #[error("the sign-in redirect is too long ({len} bytes, at most {MAX_CALLBACK_LEN})")]
    Oversize { len: usize },
    #[error("the sign-in redirect is not a valid URL: {reason}")]
    Malformed { reason: String },
    #[error("the redirect uses the scheme \"{scheme}\", not this app's \"{expected}\"")]
    ForeignScheme { scheme: String, expected: String },
    #[error("the redirect goes to \"{path}\", not {REDIRECT_PATH}")]
    WrongPath { path: String },
    #[error("the sign-in redirect lacks the `{0}` parameter")]
    MissingParam(&'static str),
    #[error("the sign-in redirect repeats the `{0}` parameter")]
    DuplicateParam(&'static str),
    #[error("the sign-in redirect's `{0}` parameter is not valid")]
    BadParam(&'static str),
}

impl ErrorCode for CallbackError {
    fn error_code(&self) -> Code {
        match self {
            Self::Oversize { .. } => Code::CallbackOversize,
            Self::Malformed { .. } => Code::CallbackMalformed,
            Self::ForeignScheme { .. } => Code::CallbackForeignScheme,
            Self::WrongPath { .. } => Code::CallbackWrongPath,
            Self::MissingParam(_) => Code::CallbackMissingParam,
            Self::DuplicateParam(_) => Code::CallbackDuplicateParam,
            Self::BadParam(_) => Code::CallbackBadParam,
        }
    }
}

/// Parses a deep link for `scheme`, or a loopback request target (`/oauth/callback?...`) when
/// `scheme` is `None`.
pub fn parse_redirect(raw: &str, scheme: Option<&str>) -> Result<Callback, CallbackError> {
    if raw.len() > MAX_CALLBACK_LEN {
        return Err(CallbackError::Oversize { len: raw.len() });
    }
    let raw = raw.trim();
    // Windows hands custom-scheme URLs over with a trailing slash appended to the whole URL.
    let raw = match raw.strip_suffix('/') {
        Some(stripped) if stripped.contains('?') => stripped,
        _ => raw,
    };
    let url = match scheme {
        Some(_) => Url::parse(raw),
        None => Url::parse(&format!("http://127.0.0.1{raw}")),
    }
    .map_err(|e| CallbackError::Malformed {
        reason: e.to_string(),
    })?;
    if let Some(expected) = scheme {
        if url.scheme() != expected {
            return Err(CallbackError::ForeignScheme {
                scheme: url.scheme().chars().take(64).collect(),
                expected: expected.to_string(),
            });
        }
        if url.host_str().is_some_and(|h| !h.is_empty()) {
            return Err(CallbackError::WrongPath {
                path: format!("//{}{}", url.host_str().unwrap_or_default(), url.path()),
            });
        }
    } else if !raw.starts_with('/') {
        return Err(CallbackError::Malformed {
            reason: "a loopback request target must start with /".into(),
        });
    }
    let path = url.path();
    if path != REDIRECT_PATH && path.strip_suffix('/') != Some(REDIRECT_PATH) {
        return Err(CallbackError::WrongPath {
            path: path.chars().take(128).collect(),
        });
    }
    if url.fragment().is_some() {
        return Err(CallbackError::Malformed {
            reason: "an authorization response never carries a fragment".into(),
        });
    }

    let mut code = None;
    let mut state = None;
    let mut error = None;
    let mut description = None;
    for (key, value) in url.query_pairs() {
        let (slot, name): (&mut Option<String>, &'static str) = match key.as_ref() {
            "code" => (&mut code, "code"),
            "state" => (&mut state, "state"),
            "error" => (&mut error, "error"),
            "error_description" => (&mut description, "error_description"),
            _ => continue,
        };
        if slot.is_some() {
            return Err(CallbackError::DuplicateParam(name));
        }
        let printable = value.chars().all(|c| !c.is_control());
        let token_like = name == "error_description" || value.chars().all(|c| c.is_ascii_graphic());
        if value.is_empty() || value.len() > MAX_PARAM_LEN || !printable || !token_like {
            return Err(CallbackError::BadParam(name));
        }
        *slot = Some(value.into_owned());
    }

    if let Some(error) = error {
        return Ok(Callback::Denied {
            error,
            description,
            state,
        });
    }
    let code = code.ok_or(CallbackError::MissingParam("code"))?;
    let state = state.ok_or(CallbackError::MissingParam("state"))?;
    Ok(Callback::Code {
        code: AuthCode::new(code),
        state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEME: Option<&str> = Some("com.agentshell.desktop");

    fn code_and_state(callback: Callback) -> (String, String) {
        match callback {
            Callback::Code { code, state } => (code.expose().to_string(), state),
            other => panic!("expected a code, got {other:?}"),
        }
    }

    #[test]
    fn parses_a_deep_link_and_a_loopback_target() {
        let deep = parse_redirect(
            "com.agentshell.desktop:/oauth/callback?code=abc&state=s1",
            SCHEME,
        );
        assert_eq!(code_and_state(deep.unwrap()), ("abc".into(), "s1".into()));
        let loopback = parse_redirect("/oauth/callback?state=s2&code=xyz&extra=1", None);
        assert_eq!(
            code_and_state(loopback.unwrap()),
            ("xyz".into(), "s2".into())
        );
    }

    #[test]
    fn accepts_the_windows_trailing_slash_forms() {
        for raw in [
            "com.agentshell.desktop:/oauth/callback?code=abc&state=s1/",
            "com.agentshell.desktop:/oauth/callback/?code=abc&state=s1",
        ] {
            let (code, state) = code_and_state(parse_redirect(raw, SCHEME).unwrap());
            assert_eq!((code.as_str(), state.as_str()), ("abc", "s1"), "{raw}");
        }
    }

    #[test]
    fn idp_errors_are_a_typed_outcome() {
        let denied = parse_redirect(
            "com.agentshell.desktop:/oauth/callback?error=access_denied&error_description=User%20said%20no&state=s1",
            SCHEME,
        )
        .unwrap();
        match denied {
            Callback::Denied {
                error,
                description,
                state,
            } => {
                assert_eq!(error, "access_denied");
                assert_eq!(description.as_deref(), Some("User said no"));
                assert_eq!(state.as_deref(), Some("s1"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refuses_everything_that_is_not_exactly_a_callback() {
        let long = format!(
            "com.agentshell.desktop:/oauth/callback?code={}&state=s",
            "a".repeat(5000)
        );
        let cases: Vec<(&str, &str)> = vec![
            (long.as_str(), "callback_oversize"),
            ("not a url", "callback_malformed"),
            (
                "https://evil.example/oauth/callback?code=a&state=b",
                "callback_foreign_scheme",
            ),
            (
                "com.other.app:/oauth/callback?code=a&state=b",
                "callback_foreign_scheme",
            ),
            (
                "com.agentshell.desktop:/somewhere?code=a&state=b",
                "callback_wrong_path",
            ),
            (
                "com.agentshell.desktop://oauth/callback?code=a&state=b",
                "callback_wrong_path",
            ),
            (
                "com.agentshell.desktop:/oauth/callback?state=b",
                "callback_missing_param",
            ),
            (
                "com.agentshell.desktop:/oauth/callback?code=a",
                "callback_missing_param",
            ),
            (
                "com.agentshell.desktop:/oauth/callback?code=a&code=b&state=s",
                "callback_duplicate_param",
            ),
            (
                "com.agentshell.desktop:/oauth/callback?code=&state=s",
                "callback_bad_param",
            ),
            (
                "com.agentshell.desktop:/oauth/callback?code=a%0Ab&state=s",
                "callback_bad_param",
            ),
            (
                "com.agentshell.desktop:/oauth/callback?code=a&state=s#frag",
                "callback_malformed",
            ),
        ];
        for (raw, expected) in cases {
            let error = parse_redirect(raw, SCHEME).expect_err(raw);
            assert_eq!(error.code(), expected, "{raw}: {error}");
        }
        assert_eq!(
            parse_redirect("http://evil/oauth/callback?code=a&state=b", None)
                .unwrap_err()
                .code(),
            "callback_malformed"
        );
        assert_eq!(
            parse_redirect("/favicon.ico", None).unwrap_err().code(),
            "callback_wrong_path"
        );
    }
}
