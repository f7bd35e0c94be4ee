//! Sign-in, silent start and sign-out: the session as the agent sees it, without Tauri.
//!
//! The app edge opens the browser and routes redirects here; everything that decides anything
//! (state matching, code exchange, scope check, what is stored where) happens in this module.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::config::{RedirectMode, ShellConfig};
use crate::error::ErrorCode;
use crate::keychain::{run_with_timeout, KeychainError, SecretStore};
use crate::loopback::LoopbackError;
use crate::oauth::login::{ApprovedLogin, DEFAULT_LOGIN_TIMEOUT};
use crate::oauth::{
    parse_redirect, AuthorizationRequest, LoginSlot, SignInError, TokenClient, TokenError, TokenSet,
};
use crate::refresh::{refresh_with_retries, RefreshPolicy};
use crate::secret::{AccessToken, RefreshToken};

const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);

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
    #[error("Genesys Cloud did not accept the new sign-in when reading your user profile ({0})")]
    UserLookup(String),
    #[error("Agent Shell is not configured, so there is nothing to sign in to")]
    NotConfigured,
    #[error(
        "this session cannot be renewed automatically (Genesys Cloud issued no refresh token)"
    )]
    NoRefreshToken,
    #[error("nobody is signed in")]
    NotSignedIn,
}

impl ErrorCode for AuthError {
    fn code(&self) -> &'static str {
        match self {
            Self::SignIn(e) => e.code(),
            Self::Token(e) => e.code(),
            Self::Keychain(e) => e.code(),
            Self::Loopback(e) => e.code(),
            Self::UserLookup(_) => "user_lookup_failed",
            Self::NotConfigured => "not_configured",
            Self::NoRefreshToken => "no_refresh_token",
            Self::NotSignedIn => "not_signed_in",
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

/// Something the agent should read (kept until the next change of session).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub code: String,
    pub message: String,
}

impl Notice {
    fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_string(),
            message: message.into(),
        }
    }

    fn from_error<E: ErrorCode>(error: &E) -> Self {
        Self::new(error.code(), error.to_string())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// The session as the UI may see it: no refresh token, no access token.
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

#[derive(Debug)]
struct Session {
    phase: Phase,
    tokens: Option<TokenSet>,
    user: Option<UserInfo>,
    persisted: bool,
    notice: Option<Notice>,
}

/// Where a redirect came from: a deep link is matched against the configured scheme, a
/// loopback request target against the callback path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectTransport {
    DeepLink,
    Loopback,
}

pub struct AuthService {
    config: ShellConfig,
    client: TokenClient,
    store: Arc<dyn SecretStore>,
    login: Mutex<LoginSlot>,
    session: Mutex<Session>,
    login_timeout: Duration,
    policy: RefreshPolicy,
    /// Single flight: one refresh at a time; callers that waited share its outcome.
    refresh_gate: tokio::sync::Mutex<()>,
    refresh_generation: AtomicU64,
    /// Wakes the keep-alive loop when a new session starts (it may be sleeping long).
    session_started: tokio::sync::Notify,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain data behind; keep going with it.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl AuthService {
    pub fn new(config: ShellConfig, store: Arc<dyn SecretStore>) -> Result<Self, AuthError> {
        Ok(Self {
            client: TokenClient::new(&config, ATTEMPT_TIMEOUT)?,
            config,
            store,
            login: Mutex::new(LoginSlot::default()),
            session: Mutex::new(Session {
                phase: Phase::SignedOut,
                tokens: None,
                user: None,
                persisted: false,
                notice: None,
            }),
            login_timeout: DEFAULT_LOGIN_TIMEOUT,
            policy: RefreshPolicy::default(),
            refresh_gate: tokio::sync::Mutex::new(()),
            refresh_generation: AtomicU64::new(0),
            session_started: tokio::sync::Notify::new(),
        })
    }

    pub fn with_refresh_policy(mut self, policy: RefreshPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn refresh_policy(&self) -> &RefreshPolicy {
        &self.policy
    }

    pub fn with_login_timeout(mut self, timeout: Duration) -> Self {
        self.login_timeout = timeout;
        self
    }

    pub fn config(&self) -> &ShellConfig {
        &self.config
    }

    pub fn login_timeout(&self) -> Duration {
        self.login_timeout
    }

    pub fn view(&self) -> SessionView {
        let session = lock(&self.session);
        SessionView {
            phase: session.phase,
            user: session.user.clone(),
            expires_at_ms: session.tokens.as_ref().map(|t| {
                t.expires_at
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_millis() as u64)
                    .unwrap_or(0)
            }),
            refreshable: session
                .tokens
                .as_ref()
                .is_some_and(|t| t.refresh_token.is_some()),
            persisted: session.persisted,
            notice: session.notice.clone(),
        }
    }

    /// The current access token, for posting to the embedded client.
    pub fn access_token(&self) -> Option<AccessToken> {
        lock(&self.session)
            .tokens
            .as_ref()
            .map(|t| t.access_token.clone())
    }

    /// The redirect URI this sign-in will use.
    pub fn redirect_uri(&self, mode: RedirectMode) -> Option<String> {
        match mode {
            RedirectMode::DeepLink => Some(self.config.redirect.deep_link_uri()),
            RedirectMode::Loopback => self.config.redirect.loopback_uris().into_iter().next(),
        }
    }

    /// Starts an interactive sign-in; the caller opens `url` in the system browser.
    pub fn begin_sign_in(&self, mode: RedirectMode) -> Result<AuthorizationRequest, AuthError> {
        let redirect = self.redirect_uri(mode).ok_or(LoopbackError::PortBusy {
            port: 0,
            reason: "no loopback port is configured".into(),
        })?;
        let request =
            lock(&self.login).begin(&self.config, &redirect, Instant::now(), self.login_timeout)?;
        let mut session = lock(&self.session);
        if !matches!(session.phase, Phase::SignedIn | Phase::Refreshing) {
            session.phase = Phase::SigningIn;
        }
        session.notice = None;
        drop(session);
        tracing::info!(redirect_uri = %redirect, "sign-in started in the system browser");
        Ok(request)
    }

    /// Ends a pending sign-in (the agent cancelled, the deadline passed, or the listener failed).
    pub fn cancel_sign_in(&self, notice: Option<Notice>) {
        let had_pending = lock(&self.login).cancel();
        let mut session = lock(&self.session);
        if session.phase == Phase::SigningIn {
            session.phase = Phase::SignedOut;
        }
        if had_pending || notice.is_some() {
            session.notice = notice;
        }
    }

    /// Called when a sign-in's deadline passes: ends it with a notice if it is still waiting.
    pub fn expire_sign_in(&self) -> bool {
        let expired = lock(&self.login).expire(Instant::now());
        if expired {
            let mut session = lock(&self.session);
            if session.phase == Phase::SigningIn {
                session.phase = Phase::SignedOut;
            }
            session.notice = Some(Notice::from_error(&SignInError::TimedOut));
        }
        expired
    }

    /// Handles a redirect. Errors leave a signed-in session untouched, and a spoofed
    /// redirect (wrong state) leaves the real sign-in pending.
    pub async fn complete_sign_in(
        &self,
        raw: &str,
        transport: RedirectTransport,
    ) -> Result<SessionView, AuthError> {
        let result = self.exchange(raw, transport).await;
        if let Err(error) = &result {
            tracing::warn!(code = error.code(), %error, "sign-in redirect rejected");
            let still_pending = lock(&self.login).is_pending(Instant::now());
            let mut session = lock(&self.session);
            if session.phase == Phase::SigningIn && !still_pending {
                session.phase = Phase::SignedOut;
            }
            if !matches!(session.phase, Phase::SignedIn | Phase::Refreshing) {
                session.notice = Some(Notice::from_error(error));
            }
        }
        result
    }

    async fn exchange(
        &self,
        raw: &str,
        transport: RedirectTransport,
    ) -> Result<SessionView, AuthError> {
        let scheme = match transport {
            RedirectTransport::DeepLink => Some(self.config.redirect.deep_link_scheme.as_str()),
            RedirectTransport::Loopback => None,
        };
        let callback = parse_redirect(raw, scheme).map_err(SignInError::from)?;
        let ApprovedLogin {
            code,
            verifier,
            redirect_uri,
        } = lock(&self.login).complete(callback, Instant::now())?;
        let tokens = self
            .client
            .exchange_code(code, verifier, &redirect_uri)
            .await?;
        let user = self.users_me(&tokens.access_token).await?;
        self.establish(tokens, Some(user), None).await;
        tracing::info!("signed in");
        Ok(self.view())
    }

    /// Marks the session as being restored, so the UI shows progress, not a sign-in button.
    pub fn mark_restoring(&self) {
        let mut session = lock(&self.session);
        if session.phase == Phase::SignedOut {
            session.phase = Phase::Restoring;
        }
    }

    /// At launch: a stored refresh token signs the agent in without a browser.
    pub async fn silent_start(&self) -> SessionView {
        self.mark_restoring();
        let stored = match run_with_timeout(self.store.clone(), |s| s.load()).await {
            Ok(stored) => stored,
            Err(error) => {
                tracing::warn!(code = error.code(), %error, "keychain unavailable at start");
                self.set_signed_out(Some(Notice::new(
                    error.code(),
                    format!("{error}. Please sign in; Agent Shell cannot remember your sign-in on this computer until the keychain is available."),
                )));
                return self.view();
            }
        };
        let Some(refresh_token) = stored else {
            self.set_signed_out(None);
            return self.view();
        };
        match self.refresh_with(&refresh_token).await {
            Ok(()) => tracing::info!("signed in silently with the stored refresh token"),
            Err(AuthError::Token(TokenError::InvalidGrant(_))) => {
                tracing::info!("stored refresh token rejected (invalid_grant); deleted");
                let _ = run_with_timeout(self.store.clone(), |s| s.delete()).await;
                self.set_signed_out(Some(Notice::new(
                    "session_expired",
                    "Your saved sign-in has expired or was revoked. Please sign in again.",
                )));
            }
            Err(error) => {
                tracing::warn!(code = error.code(), %error, "silent sign-in failed; stored token kept");
                self.set_signed_out(Some(Notice::new(
                    error.code(),
                    format!("Could not restore your sign-in: {error}"),
                )));
            }
        }
        self.view()
    }

    async fn refresh_with(&self, refresh_token: &RefreshToken) -> Result<(), AuthError> {
        let tokens =
            refresh_with_retries(&self.client, refresh_token, &self.policy, log_retry).await?;
        let user = self.users_me(&tokens.access_token).await?;
        // Without rotation the old token stays valid and stays stored.
        let keep = tokens
            .refresh_token
            .is_none()
            .then(|| refresh_token.clone());
        self.establish(tokens, Some(user), keep).await;
        Ok(())
    }

    /// Stores the refresh token (before reporting success) and makes the session active.
    async fn establish(
        &self,
        mut tokens: TokenSet,
        user: Option<UserInfo>,
        unrotated: Option<RefreshToken>,
    ) {
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = unrotated;
        }
        let mut notice = None;
        let persisted = match tokens.refresh_token.clone() {
            Some(token) => {
                match run_with_timeout(self.store.clone(), move |s| s.save(&token)).await {
                    Ok(()) => true,
                    Err(error) => {
                        tracing::warn!(code = error.code(), %error, "refresh token kept in memory only");
                        notice = Some(Notice::new(
                        error.code(),
                        format!("{error}. You are signed in for now, but will need to sign in again the next time you start Agent Shell."),
                    ));
                        false
                    }
                }
            }
            None => {
                let _ = run_with_timeout(self.store.clone(), |s| s.delete()).await;
                notice = Some(Notice::new(
                    "no_refresh_token",
                    "Genesys Cloud did not issue a long-lived sign-in: you will be asked to sign in again when this session ends.",
                ));
                false
            }
        };
        let mut session = lock(&self.session);
        session.phase = Phase::SignedIn;
        session.tokens = Some(tokens);
        if user.is_some() {
            session.user = user;
        }
        session.persisted = persisted;
        session.notice = notice;
        drop(session);
        self.session_started.notify_one();
    }

    fn set_signed_out(&self, notice: Option<Notice>) {
        let mut session = lock(&self.session);
        session.phase = Phase::SignedOut;
        session.tokens = None;
        session.user = None;
        session.persisted = false;
        session.notice = notice;
    }

    /// Renews the access token: one episode of at most `max_attempts` tries. Concurrent callers
    /// (timer, token-expiring, UI, resume) share one episode; never two token requests with the
    /// same refresh token. On failure the session becomes ReloginRequired.
    pub async fn refresh(&self) -> Result<SessionView, AuthError> {
        let seen = self.refresh_generation.load(Ordering::SeqCst);
        let _gate = self.refresh_gate.lock().await;
        if self.refresh_generation.load(Ordering::SeqCst) != seen {
            return Ok(self.view());
        }
        let refresh_token = {
            let mut session = lock(&self.session);
            if !matches!(session.phase, Phase::SignedIn | Phase::Refreshing) {
                return Err(AuthError::NotSignedIn);
            }
            let Some(token) = session
                .tokens
                .as_ref()
                .and_then(|t| t.refresh_token.clone())
            else {
                return Err(AuthError::NoRefreshToken);
            };
            session.phase = Phase::Refreshing;
            token
        };
        tracing::info!("refreshing the access token");
        let result =
            refresh_with_retries(&self.client, &refresh_token, &self.policy, log_retry).await;
        self.refresh_generation.fetch_add(1, Ordering::SeqCst);
        match result {
            Ok(tokens) => {
                self.establish(tokens, None, Some(refresh_token)).await;
                tracing::info!("access token refreshed");
                Ok(self.view())
            }
            Err(error) => {
                tracing::warn!(code = error.code(), %error, "refresh failed; re-login required");
                if matches!(error, TokenError::InvalidGrant(_)) {
                    let _ = run_with_timeout(self.store.clone(), |s| s.delete()).await;
                }
                let message = match &error {
                    TokenError::InvalidGrant(_) => "Your sign-in is no longer valid (it was revoked, expired, or used elsewhere). Please sign in again.".to_string(),
                    e if e.is_retryable() => format!(
                        "Genesys Cloud could not be reached to renew your session after {} attempts ({e}). Please sign in again.",
                        self.policy.max_attempts
                    ),
                    e => format!("Your session could not be renewed: {e}. Please sign in again."),
                };
                self.require_relogin(Notice::new(error.code(), message));
                Err(AuthError::Token(error))
            }
        }
    }

    /// How long until the access token should be renewed (zero: now). None when there is
    /// nothing to renew. Measured on the wall clock, so a sleep of the machine counts.
    pub fn refresh_due_in(&self, now: SystemTime) -> Option<Duration> {
        let session = lock(&self.session);
        if session.phase != Phase::SignedIn {
            return None;
        }
        let tokens = session.tokens.as_ref()?;
        let margin = self.policy.margin_for(tokens.lifetime);
        let due = tokens.expires_at.checked_sub(margin).unwrap_or(UNIX_EPOCH);
        Some(due.duration_since(now).unwrap_or(Duration::ZERO))
    }

    /// True when the access token is inside its renewal margin and a refresh token can renew
    /// it: what a client's token-expiring and a client (re)initialisation act on. Never true
    /// for an unrenewable session (its expiry is handled by [`Self::check_unrenewable_expiry`]).
    pub fn renewal_due(&self, now: SystemTime) -> bool {
        self.refresh_due_in(now).is_some_and(|due| due.is_zero()) && self.view().refreshable
    }

    /// For sessions without a refresh token: warn ahead of expiry, and end the session (asking
    /// for a new sign-in) once it has expired. Returns true when the view changed.
    pub fn check_unrenewable_expiry(&self, now: SystemTime) -> bool {
        let mut session = lock(&self.session);
        let Some(tokens) = session.tokens.as_ref() else {
            return false;
        };
        if session.phase != Phase::SignedIn || tokens.refresh_token.is_some() {
            return false;
        }
        let remaining = tokens
            .expires_at
            .duration_since(now)
            .unwrap_or(Duration::ZERO);
        if remaining.is_zero() {
            drop(session);
            self.require_relogin(Notice::new(
                "session_ended",
                "Your Genesys Cloud session has ended. Please sign in again.",
            ));
            return true;
        }
        if remaining > self.policy.margin_for(tokens.lifetime) {
            return false;
        }
        let already_warned = session
            .notice
            .as_ref()
            .is_some_and(|n| n.code == "session_ending");
        if already_warned {
            return false;
        }
        let minutes = remaining.as_secs().div_ceil(60);
        session.notice = Some(Notice::new(
            "session_ending",
            format!("Your Genesys Cloud session ends in about {minutes} minute(s) and cannot be renewed automatically. Sign in again now to avoid an interruption."),
        ));
        true
    }

    /// Keeps the session alive until the process ends: renews before expiry, warns about and
    /// ends unrenewable sessions. Re-checks the wall clock at least every `check_every`, so a
    /// machine that slept past the deadline refreshes once on waking, not in a storm.
    pub async fn keep_alive(&self, check_every: Duration, on_change: impl Fn(SessionView)) {
        loop {
            let now = SystemTime::now();
            match self.refresh_due_in(now) {
                Some(due) if due.is_zero() && self.view().refreshable => {
                    let _ = self.refresh().await;
                    on_change(self.view());
                }
                Some(due) if due.is_zero() => {
                    if self.check_unrenewable_expiry(now) {
                        on_change(self.view());
                    }
                    self.nap(check_every).await;
                }
                Some(due) => self.nap(due.min(check_every)).await,
                None => self.nap(check_every).await,
            }
        }
    }

    /// Sleeps, but wakes early when a session starts.
    async fn nap(&self, duration: Duration) {
        tokio::select! {
            () = tokio::time::sleep(duration) => {}
            () = self.session_started.notified() => {}
        }
    }

    fn require_relogin(&self, notice: Notice) {
        let mut session = lock(&self.session);
        session.phase = Phase::ReloginRequired;
        session.tokens = None;
        session.persisted = false;
        session.notice = Some(notice);
    }

    async fn users_me(&self, token: &AccessToken) -> Result<UserInfo, AuthError> {
        let response = self
            .client
            .http()
            .get(self.config.endpoints.users_me.clone())
            .bearer_auth(token.expose())
            .send()
            .await
            .map_err(|e| AuthError::UserLookup(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(AuthError::UserLookup(format!(
                "HTTP {}",
                response.status().as_u16()
            )));
        }
        response
            .json::<UserInfo>()
            .await
            .map_err(|_| AuthError::UserLookup("unexpected response".into()))
    }

    /// Signs out: revoke at Genesys (best effort), delete the keychain entry, forget tokens.
    /// Works offline; the returned view's notice says whether revocation was confirmed.
    pub async fn sign_out(&self) -> SessionView {
        lock(&self.login).cancel();
        let access = lock(&self.session)
            .tokens
            .as_ref()
            .map(|t| t.access_token.clone());
        let revoked = match &access {
            Some(token) => self
                .client
                .http()
                .delete(self.config.endpoints.tokens_me.clone())
                .bearer_auth(token.expose())
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success()),
            None => true,
        };
        let deleted = run_with_timeout(self.store.clone(), |s| s.delete()).await;
        let notice = match (revoked, deleted) {
            (_, Err(error)) => Some(Notice::new(
                error.code(),
                format!("Signed out, but the saved sign-in could not be removed from the keychain: {error}"),
            )),
            (false, Ok(())) => Some(Notice::new(
                "revocation_unconfirmed",
                "Signed out on this computer. Genesys Cloud could not be reached to end the session there; it ends when it expires.",
            )),
            (true, Ok(())) => None,
        };
        tracing::info!(revoked, "signed out");
        self.set_signed_out(notice);
        self.view()
    }
}

fn log_retry(error: &TokenError, delay: Duration) {
    tracing::warn!(
        code = error.code(),
        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        "token request failed; retrying"
    );
}
