//! The one pending sign-in: PKCE verifier and state kept in Rust memory, a deadline, and the
//! rules for matching the redirect to it.

use std::time::{Duration, Instant};

use oauth2::{CsrfToken, PkceCodeChallenge, PkceCodeVerifier};
use subtle::ConstantTimeEq;
use url::Url;

use crate::config::ShellConfig;
use crate::error::{Code, ErrorCode};
use crate::oauth::callback::{Callback, CallbackError};
use crate::secret::AuthCode;

/// How long the agent has to finish in the browser (the IdP may ask for MFA).
pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("a sign-in is already waiting for the browser; finish or cancel it first")]
    AlreadyPending,
    #[error(
        "no sign-in is waiting: this redirect was not requested by this app, or was already used"
    )]
    NoPendingLogin,
    #[error("the sign-in took too long and was cancelled; please sign in again")]
    TimedOut,
    #[error(
        "the redirect does not belong to the sign-in in progress (state mismatch); it was ignored"
    )]
    StateMismatch,
    #[error("your identity provider refused the sign-in: {}", describe_idp_error(.error, .description.as_deref()))]
    IdpRefused {
        error: String,
        description: Option<String>,
    },
    #[error(transparent)]
    Callback(#[from] CallbackError),
    #[error("the sign-in address could not be built: {0}")]
    BadEndpoint(String),
}

impl ErrorCode for SignInError {
    fn error_code(&self) -> Code {
        match self {
            Self::AlreadyPending => Code::SignInAlreadyPending,
            Self::NoPendingLogin => Code::SignInNotPending,
            Self::TimedOut => Code::SignInTimedOut,
            Self::StateMismatch => Code::SignInStateMismatch,
            Self::IdpRefused { .. } => Code::SignInRefused,
            Self::Callback(inner) => inner.error_code(),
            Self::BadEndpoint(_) => Code::SignInBadEndpoint,
        }
    }
}

/// RFC 6749 4.1.2.1 error codes in words an agent understands.
fn describe_idp_error(error: &str, description: Option<&str>) -> String {
    use oauth_wire::ErrorCode::*;
    let words = match oauth_wire::ErrorCode::parse(error) {
        Some(AccessDenied) => "access was denied (you, or a policy, declined the sign-in)",
        Some(InvalidScope) => "the app asked for permissions this org does not grant (ask IT to check the OAuth client's scopes)",
        Some(UnauthorizedClient) => "this app is not allowed to sign in with this method (ask IT to check the OAuth client)",
        Some(InvalidRequest | UnsupportedResponseType) => "the sign-in request was not accepted (ask IT to check the OAuth client)",
        Some(ServerError | TemporarilyUnavailable) => "the sign-in service had a problem; try again in a minute",
        // Token-endpoint codes never come back from authorize; unknown codes say so.
        Some(InvalidClient | InvalidGrant | UnsupportedGrantType) | None => {
            "the sign-in was not completed"
        }
    };
    match description {
        Some(detail) => format!(
            "{words} ({error}: {})",
            detail.chars().take(200).collect::<String>()
        ),
        None => format!("{words} ({error})"),
    }
}

/// What the browser must open, and where the answer will come back.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub url: Url,
    pub redirect_uri: String,
    pub deadline: Instant,
}

/// The secrets of a sign-in in progress. Not Clone: the verifier is used exactly once.
pub struct PendingLogin {
    state: CsrfToken,
    verifier: PkceCodeVerifier,
    pub redirect_uri: String,
    deadline: Instant,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// A matched redirect: the code plus the verifier and redirect URI the exchange needs.
/// (Debug is derived: both secrets print redacted.)
#[derive(Debug)]
pub struct ApprovedLogin {
    pub code: AuthCode,
    pub verifier: PkceCodeVerifier,
    pub redirect_uri: String,
}

#[derive(Debug, Default)]
pub struct LoginSlot {
    pending: Option<PendingLogin>,
}

impl LoginSlot {
    pub fn is_pending(&self, now: Instant) -> bool {
        self.pending.as_ref().is_some_and(|p| now < p.deadline)
    }

    /// Starts a sign-in: fresh verifier and state, authorize URL with the SSO hints.
    pub fn begin(
        &mut self,
        config: &ShellConfig,
        redirect_uri: &str,
        now: Instant,
        timeout: Duration,
    ) -> Result<AuthorizationRequest, SignInError> {
        if self.is_pending(now) {
            return Err(SignInError::AlreadyPending);
        }
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = CsrfToken::new_random();
        let mut url = config.endpoints.authorize.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &config.client_id)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("scope", &config.scopes.join(" "))
                .append_pair("state", state.secret())
                .append_pair("code_challenge", challenge.as_str())
                .append_pair("code_challenge_method", challenge.method().as_str());
            if let Some(org) = &config.sso.org {
                query.append_pair("org", org);
            }
            if let Some(provider) = &config.sso.provider {
                query.append_pair("provider", provider);
            }
            if config.sso.prompt_login {
                query.append_pair("prompt", "login");
            }
        }
        let deadline = now + timeout;
        self.pending = Some(PendingLogin {
            state,
            verifier,
            redirect_uri: redirect_uri.to_string(),
            deadline,
        });
        Ok(AuthorizationRequest {
            url,
            redirect_uri: redirect_uri.to_string(),
            deadline,
        })
    }

    /// Drops the pending sign-in if its deadline has passed; true if it did.
    pub fn expire(&mut self, now: Instant) -> bool {
        if self.pending.as_ref().is_some_and(|p| now >= p.deadline) {
            self.pending = None;
            return true;
        }
        false
    }

    /// Cancels the pending sign-in; true if there was one.
    pub fn cancel(&mut self) -> bool {
        self.pending.take().is_some()
    }

    /// Matches a redirect to the pending sign-in. A wrong state leaves the real sign-in
    /// pending (a spoofed deep link must not be able to cancel it); every other outcome ends it.
    pub fn complete(
        &mut self,
        callback: Callback,
        now: Instant,
    ) -> Result<ApprovedLogin, SignInError> {
        let Some(pending) = self.pending.as_ref() else {
            return Err(SignInError::NoPendingLogin);
        };
        if now >= pending.deadline {
            self.pending = None;
            return Err(SignInError::TimedOut);
        }
        let matches = |state: &str| -> bool {
            bool::from(state.as_bytes().ct_eq(pending.state.secret().as_bytes()))
        };
        match callback {
            Callback::Denied {
                error,
                description,
                state,
            } => {
                if !state.as_deref().is_some_and(matches) {
                    return Err(SignInError::StateMismatch);
                }
                self.pending = None;
                Err(SignInError::IdpRefused { error, description })
            }
            Callback::Code { code, state } => {
                if !matches(&state) {
                    return Err(SignInError::StateMismatch);
                }
                let Some(pending) = self.pending.take() else {
                    return Err(SignInError::NoPendingLogin);
                };
                Ok(ApprovedLogin {
                    code,
                    verifier: pending.verifier,
                    redirect_uri: pending.redirect_uri,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_str;
    use crate::oauth::callback::parse_redirect;

    const REDIRECT: &str = "com.agentshell.desktop:/oauth/callback";

    fn config() -> ShellConfig {
        parse_str("environment = \"mypurecloud.ie\"\nclient_id = \"c-1\"\n[sso]\norg = \"acme\"\nprovider = \"okta\"\nprompt_login = true\n").unwrap()
    }

    fn param(url: &Url, name: &str) -> String {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    }

    fn redirect_for(request: &AuthorizationRequest, code: &str) -> Callback {
        let state = param(&request.url, "state");
        parse_redirect(
            &format!("{REDIRECT}?code={code}&state={state}"),
            Some("com.agentshell.desktop"),
        )
        .unwrap()
    }

    #[test]
    fn authorize_url_carries_pkce_state_scopes_and_sso_hints() {
        let mut slot = LoginSlot::default();
        let request = slot
            .begin(&config(), REDIRECT, Instant::now(), DEFAULT_LOGIN_TIMEOUT)
            .unwrap();
        let url = &request.url;
        assert!(url
            .as_str()
            .starts_with("https://login.mypurecloud.ie/oauth/authorize?"));
        assert_eq!(param(url, "response_type"), "code");
        assert_eq!(param(url, "client_id"), "c-1");
        assert_eq!(param(url, "redirect_uri"), REDIRECT);
        assert_eq!(param(url, "code_challenge_method"), "S256");
        assert_eq!(param(url, "code_challenge").len(), 43);
        assert!(param(url, "state").len() >= 22);
        assert!(param(url, "scope").contains("routing conversations notifications"));
        assert_eq!(
            (
                param(url, "org"),
                param(url, "provider"),
                param(url, "prompt")
            ),
            ("acme".into(), "okta".into(), "login".into())
        );
        // fresh per attempt
        slot.cancel();
        let again = slot
            .begin(&config(), REDIRECT, Instant::now(), DEFAULT_LOGIN_TIMEOUT)
            .unwrap();
        assert_ne!(param(&again.url, "state"), param(url, "state"));
        assert_ne!(
            param(&again.url, "code_challenge"),
            param(url, "code_challenge")
        );
    }

    #[test]
    fn matching_redirect_yields_code_once_then_replay_is_refused() {
        let mut slot = LoginSlot::default();
        let now = Instant::now();
        let request = slot
            .begin(&config(), REDIRECT, now, DEFAULT_LOGIN_TIMEOUT)
            .unwrap();
        let approved = slot
            .complete(redirect_for(&request, "the-code"), now)
            .unwrap();
        assert_eq!(approved.code.expose(), "the-code");
        assert_eq!(approved.redirect_uri, REDIRECT);
        let replay = slot
            .complete(redirect_for(&request, "the-code"), now)
            .unwrap_err();
        assert_eq!(replay.code(), "sign_in_not_pending");
    }

    #[test]
    fn wrong_state_is_refused_and_keeps_the_real_login_pending() {
        let mut slot = LoginSlot::default();
        let now = Instant::now();
        let request = slot
            .begin(&config(), REDIRECT, now, DEFAULT_LOGIN_TIMEOUT)
            .unwrap();
        let spoofed = parse_redirect(
            &format!("{REDIRECT}?code=evil&state=guess"),
            Some("com.agentshell.desktop"),
        )
        .unwrap();
        assert_eq!(
            slot.complete(spoofed, now).unwrap_err().code(),
            "sign_in_state_mismatch"
        );
        assert!(slot.is_pending(now));
        assert!(slot.complete(redirect_for(&request, "real"), now).is_ok());
    }

    #[test]
    fn one_login_at_a_time_and_a_deadline() {
        let mut slot = LoginSlot::default();
        let now = Instant::now();
        let request = slot
            .begin(&config(), REDIRECT, now, Duration::from_secs(60))
            .unwrap();
        assert_eq!(
            slot.begin(&config(), REDIRECT, now, Duration::from_secs(60))
                .unwrap_err()
                .code(),
            "sign_in_already_pending"
        );
        let late = now + Duration::from_secs(61);
        assert_eq!(
            slot.complete(redirect_for(&request, "c"), late)
                .unwrap_err()
                .code(),
            "sign_in_timed_out"
        );
        assert!(!slot.is_pending(late));
        assert!(
            slot.begin(&config(), REDIRECT, late, Duration::from_secs(60))
                .is_ok(),
            "an expired login does not block a new one"
        );
    }

    #[test]
    fn idp_refusal_is_described_in_words() {
        let mut slot = LoginSlot::default();
        let now = Instant::now();
        let request = slot
            .begin(&config(), REDIRECT, now, DEFAULT_LOGIN_TIMEOUT)
            .unwrap();
        let state = param(&request.url, "state");
        let denied = parse_redirect(
            &format!("{REDIRECT}?error=access_denied&state={state}"),
            Some("com.agentshell.desktop"),
        )
        .unwrap();
        let error = slot.complete(denied, now).unwrap_err();
        assert_eq!(error.code(), "sign_in_refused");
        assert!(error.to_string().contains("access was denied"), "{error}");
        assert!(!slot.is_pending(now));
    }
}
