//! The session's public values: its phase and view, its errors, the auth-error gate and the
//! renewal retry gaps.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::oauth::UserInfo;

use crate::error::{Code, ErrorCode, Problem};
use crate::oauth::{SignInError, TokenError, UserLookupError};
use crate::platform::keychain::KeychainError;
use crate::platform::loopback::LoopbackError;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    SignIn(#[from] SignInError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Keychain(#[from] KeychainError),
    #[error(transparent)]
    Loopback(#[from] LoopbackError),
    #[error(transparent)]
    UserLookup(#[from] UserLookupError),
    #[error("Agent Shell is not configured, so there is nothing to sign in to")]
    NotConfigured,
    #[error(
        "this session cannot be renewed automatically (Genesys Cloud issued no refresh token)"
    )]
    NoRefreshToken,
    #[error("nobody is signed in")]
    NotSignedIn,
    #[error("the sign-in or renewal was overtaken (cancelled, signed out, or replaced by a new sign-in); what Genesys Cloud sent back was discarded and revoked")]
    Superseded,
}

impl ErrorCode for AuthError {
    fn error_code(&self) -> Code {
        match self {
            Self::SignIn(e) => e.error_code(),
            Self::Token(e) => e.error_code(),
            Self::Keychain(e) => e.error_code(),
            Self::Loopback(e) => e.error_code(),
            Self::UserLookup(_) => Code::UserLookupFailed,
            Self::NotConfigured => Code::NotConfigured,
            Self::NoRefreshToken => Code::NoRefreshToken,
            Self::NotSignedIn => Code::NotSignedIn,
            Self::Superseded => Code::Superseded,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    SignedOut,
    /// At launch, while a stored sign-in is being restored.
    Restoring,
    SigningIn,
    SignedIn,
    /// Signed in, and renewing the access token right now.
    Refreshing,
    /// The session could not be kept (refresh failed for good, or it ended): the embedded
    /// client must be covered and the agent asked to sign in again.
    ReloginRequired,
}

/// Something the agent should read (kept until the next change of session): the same shape
/// as an error a command returns.
pub type Notice = Problem;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    pub phase: Phase,
    pub user: Option<UserInfo>,
    /// Access token expiry, milliseconds since the Unix epoch.
    pub expires_at_ms: Option<u64>,
    /// A refresh token exists (in memory at least): the session can be extended.
    pub refreshable: bool,
    /// The refresh token is in the OS keychain: the next launch signs in silently.
    pub persisted: bool,
    pub notice: Option<Notice>,
}

/// The first gap between renewal episodes after one failed with the token still valid; it
/// doubles with each failure, up to [`RENEWAL_RETRY_MAX_GAP`], and never passes the token's
/// expiry: the retries end with the token.
pub const RENEWAL_RETRY_FIRST_GAP: Duration = Duration::from_secs(15);
pub const RENEWAL_RETRY_MAX_GAP: Duration = Duration::from_secs(300);

/// The gap before the next renewal episode after `failures` failed ones in a row.
pub fn renewal_retry_gap(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    RENEWAL_RETRY_FIRST_GAP
        .saturating_mul(1 << doublings)
        .min(RENEWAL_RETRY_MAX_GAP)
}

/// Where a redirect came from: a deep link is matched against the configured scheme, a
/// loopback request target against the callback path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectTransport {
    DeepLink,
    Loopback,
}

/// Whether a deep link can reach this app on this desktop (Linux reads it back after
/// registering the scheme; installers register it elsewhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeepLinkCheck {
    /// The registration is being written and read back.
    Pending,
    Works,
    /// It does not resolve to this app: sign-ins use the loopback redirect, saying why.
    Broken(String),
}

/// How long a sign-in waits for the deep-link check still under way at start.
pub(super) const DEEP_LINK_CHECK_WAIT: Duration = Duration::from_secs(3);

/// What the engine did about one auth-error (the embedded client's access token was refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthErrorAction {
    /// The session was renewed: post the new token to the client.
    Renewed,
    /// A renewal for an earlier refusal is running: it answers this one too.
    RenewalRunning,
    /// The token was refused again soon after a renewal: more renewals would not help, tell
    /// the agent (no storm against the token endpoint).
    Report,
}

/// The auth-error policy, pure: one renewal answers a refused token; refusals while it runs
/// are about the old token; a refusal within [`AuthErrorGate::INTERVAL`] after it finished is
/// reported; one later in the shift (a network outage, a clock jump) is renewed again.
#[derive(Debug, Default)]
pub struct AuthErrorGate {
    running: bool,
    last_finished: Option<Instant>,
}

impl AuthErrorGate {
    pub const INTERVAL: Duration = Duration::from_secs(60);

    /// Decides about an auth-error at `now`; `Renewed` means "renew now" and counts as a
    /// renewal started.
    pub fn decide(&mut self, now: Instant) -> AuthErrorAction {
        if self.running {
            return AuthErrorAction::RenewalRunning;
        }
        if self
            .last_finished
            .is_some_and(|finished| now.saturating_duration_since(finished) < Self::INTERVAL)
        {
            return AuthErrorAction::Report;
        }
        self.running = true;
        AuthErrorAction::Renewed
    }

    /// The renewal ended (succeeded or failed) at `now`.
    pub fn finished(&mut self, now: Instant) {
        self.running = false;
        self.last_finished = Some(now);
    }
}
