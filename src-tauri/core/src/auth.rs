//! Sign-in, silent start and sign-out: the session as the agent sees it, without Tauri.
//!
//! The app edge opens the browser and routes redirects here; everything that decides anything
//! (state matching, code exchange, scope check, what is stored where) happens in this module.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::config::{RedirectMode, ShellConfig};
use crate::error::ErrorCode;
use crate::keychain::{run_with_timeout, KeychainError, SecretStore};
use crate::loopback::LoopbackError;
use crate::oauth::login::{ApprovedLogin, DEFAULT_LOGIN_TIMEOUT};
use crate::oauth::{
    parse_redirect, AuthorizationRequest, LoginSlot, SignInError, TokenClient, TokenError, TokenSet,
};
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
        })
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
        if session.phase != Phase::SignedIn {
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
            if session.phase != Phase::SignedIn {
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
        self.establish(tokens, user, None).await;
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
        let tokens = self.client.refresh(refresh_token).await?;
        let user = self.users_me(&tokens.access_token).await?;
        // Without rotation the old token stays valid and stays stored.
        let keep = tokens
            .refresh_token
            .is_none()
            .then(|| refresh_token.clone());
        self.establish(tokens, user, keep).await;
        Ok(())
    }

    /// Stores the refresh token (before reporting success) and makes the session active.
    async fn establish(
        &self,
        mut tokens: TokenSet,
        user: UserInfo,
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
        session.user = Some(user);
        session.persisted = persisted;
        session.notice = notice;
    }

    fn set_signed_out(&self, notice: Option<Notice>) {
        let mut session = lock(&self.session);
        session.phase = Phase::SignedOut;
        session.tokens = None;
        session.user = None;
        session.persisted = false;
        session.notice = notice;
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
