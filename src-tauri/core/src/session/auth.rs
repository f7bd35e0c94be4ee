//! Sign-in, silent start and sign-out: the session as the agent sees it, without Tauri.
//!
//! The app edge opens the browser and routes redirects here; everything that decides anything
//! (state matching, code exchange, scope check, what is stored where) happens in this module.
//!
//! **Epochs.** Sign-out ends the session epoch and the sign-in epoch; Cancel (and a new
//! sign-in) ends the sign-in epoch; a fresh sign-in starts a new session epoch. Work that was
//! started in one epoch (a renewal, a code exchange) and finishes in another commits nothing:
//! it stores no token, changes no phase, and revokes at Genesys what it was given. Checking the
//! epoch and committing happen under one lock that sign-out also takes, so "signed out" can
//! never be followed by a late "signed in" or a refresh token back in the keychain.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::RefreshPolicy;
use crate::config::{RedirectMode, ShellConfig};
use crate::error::{Code, ErrorCode};
use crate::oauth::login::{ApprovedLogin, DEFAULT_LOGIN_TIMEOUT};
pub use crate::oauth::UserInfo;
use crate::oauth::{
    parse_redirect, AuthorizationRequest, Clock, GenesysApi, LoginSlot, SignInError, SystemClock,
    TokenClient, TokenError, TokenSet,
};
use crate::platform::keychain::{run_with_timeout, SecretStore};
use crate::platform::loopback::LoopbackError;
use crate::secret::{AccessToken, RefreshToken};
use crate::session::refresh::refresh_with_retries;

mod renewal;
use renewal::log_retry;
mod values;

pub use values::*;

#[derive(Debug)]
struct Session {
    phase: Phase,
    tokens: Option<TokenSet>,
    user: Option<UserInfo>,
    persisted: bool,
    notice: Option<Notice>,
    /// After a renewal episode failed while the access token was still valid: the earliest
    /// time of the next episode, and how many episodes have failed in a row (the gap grows).
    retry_at: Option<SystemTime>,
    deferrals: u32,
}

/// Which epoch a piece of work belongs to: it may commit only while that epoch is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ticket {
    /// A renewal or silent start: belongs to the session it renews.
    Session(u64),
    /// A code exchange: belongs to the sign-in that produced the code.
    SignIn(u64),
}

/// A silent start under way (see [`AuthService::begin_silent_start`]).
#[derive(Debug)]
pub struct SilentStart(tokio::task::JoinHandle<SessionView>);

impl SilentStart {
    /// Waits for it to end. Should its task have died (a panic is a bug), the silent start runs
    /// again here, so the launch still ends on a screen.
    pub async fn finish(self, auth: &AuthService) -> SessionView {
        match self.0.await {
            Ok(view) => view,
            Err(error) => {
                tracing::error!(%error, "the silent start's task ended early; starting it again");
                auth.silent_start().await
            }
        }
    }
}

pub struct AuthService {
    config: ShellConfig,
    client: Arc<dyn GenesysApi>,
    clock: Arc<dyn Clock>,
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
    /// Ended by sign-out and by a fresh sign-in.
    session_epoch: AtomicU64,
    /// Ended by sign-out, Cancel and a new sign-in; watched by the loopback listener, which
    /// stops (and frees its port) as soon as its sign-in is over.
    sign_in_epoch: tokio::sync::watch::Sender<u64>,
    /// Held while checking a ticket and committing its result, and by sign-out.
    commit: tokio::sync::Mutex<()>,
    deep_link: tokio::sync::watch::Sender<DeepLinkCheck>,
    auth_errors: Mutex<AuthErrorGate>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain data behind; keep going with it.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl AuthService {
    /// A service with the configuration's refresh policy (`[session]` in the file).
    pub fn new(config: ShellConfig, store: Arc<dyn SecretStore>) -> Result<Self, AuthError> {
        Ok(Self {
            client: Arc::new(TokenClient::new(&config, &config.refresh)?),
            clock: Arc::new(SystemClock),
            policy: config.refresh,
            config,
            store,
            login: Mutex::new(LoginSlot::default()),
            session: Mutex::new(Session {
                phase: Phase::SignedOut,
                tokens: None,
                user: None,
                persisted: false,
                notice: None,
                retry_at: None,
                deferrals: 0,
            }),
            login_timeout: DEFAULT_LOGIN_TIMEOUT,
            refresh_gate: tokio::sync::Mutex::new(()),
            refresh_generation: AtomicU64::new(0),
            session_started: tokio::sync::Notify::new(),
            session_epoch: AtomicU64::new(0),
            sign_in_epoch: tokio::sync::watch::Sender::new(0),
            commit: tokio::sync::Mutex::new(()),
            deep_link: tokio::sync::watch::Sender::new(DeepLinkCheck::Works),
            auth_errors: Mutex::new(AuthErrorGate::default()),
        })
    }

    /// Records what the deep-link check found (the app edge runs it at start).
    pub fn set_deep_link_check(&self, check: DeepLinkCheck) {
        if let DeepLinkCheck::Broken(problem) = &check {
            tracing::warn!(%problem, "sign-in links cannot reach Agent Shell on this desktop; sign-ins will use the loopback redirect");
        }
        self.deep_link.send_replace(check);
    }

    /// The redirect the next sign-in uses, and, when it is not the configured one, why. A deep
    /// link that does not reach this app falls back to the loopback redirect (if one is
    /// configured), after waiting briefly for a check that is still running.
    pub async fn sign_in_route(&self) -> (RedirectMode, Option<String>) {
        let preferred = self.config.redirect.prefer;
        if preferred != RedirectMode::DeepLink || self.config.redirect.loopback_ports.is_empty() {
            return (preferred, None);
        }
        let mut checks = self.deep_link.subscribe();
        let settled = tokio::time::timeout(
            DEEP_LINK_CHECK_WAIT,
            checks.wait_for(|c| *c != DeepLinkCheck::Pending),
        )
        .await;
        let check = match settled {
            Ok(Ok(check)) => check.clone(),
            // Still unknown: keep the configured route.
            _ => DeepLinkCheck::Works,
        };
        match check {
            DeepLinkCheck::Broken(problem) => (
                RedirectMode::Loopback,
                Some(format!(
                    "This computer does not pass sign-in links to Agent Shell ({problem}), so this sign-in comes back through a local address instead. IT can fix this with: agent-shell doctor"
                )),
            ),
            _ => (preferred, None),
        }
    }

    /// Replaces the refresh policy (tests; the app uses the configuration's). The HTTP client's
    /// own time limit follows the policy's attempt timeout, so no cap hides behind it. (It
    /// makes a new HTTP client: call [`Self::with_api`] after it, not before.)
    pub fn with_refresh_policy(mut self, policy: RefreshPolicy) -> Result<Self, AuthError> {
        self.client = Arc::new(TokenClient::new(&self.config, &policy)?);
        self.policy = policy;
        Ok(self)
    }

    /// Talks to `api` instead of Genesys Cloud over HTTP (tests).
    pub fn with_api(mut self, api: Arc<dyn GenesysApi>) -> Self {
        self.client = api;
        self
    }

    /// Reads the wall clock from `clock` (tests: a clock that jumps like a machine waking up).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn ticket_is_current(&self, ticket: Ticket) -> bool {
        match ticket {
            Ticket::Session(epoch) => self.session_epoch.load(Ordering::SeqCst) == epoch,
            Ticket::SignIn(epoch) => *self.sign_in_epoch.borrow() == epoch,
        }
    }

    fn session_ticket(&self) -> Ticket {
        Ticket::Session(self.session_epoch.load(Ordering::SeqCst))
    }

    fn end_sign_in_epoch(&self) {
        self.sign_in_epoch.send_modify(|epoch| *epoch += 1);
    }

    /// Resolves when the sign-in that is current now is over (cancelled, replaced, signed out):
    /// what a loopback listener waits on to stop.
    pub fn sign_in_ended(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut epochs = self.sign_in_epoch.subscribe();
        async move {
            // An error means the service is gone: over too.
            let _ = epochs.changed().await;
        }
    }

    /// True while a sign-in waits for its redirect.
    pub fn sign_in_pending(&self) -> bool {
        lock(&self.login).is_pending(Instant::now())
    }

    /// Late tokens from an epoch that has ended: revoke them at Genesys, keep nothing.
    async fn discard(&self, tokens: TokenSet) -> AuthError {
        let revoked = self.client.revoke(&tokens.access_token).await;
        tracing::info!(
            revoked,
            "tokens that arrived after sign-out or cancel were discarded"
        );
        AuthError::Superseded
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

    /// Starts an interactive sign-in that comes back by deep link; the caller opens `url` in
    /// the system browser.
    pub fn begin_sign_in(&self, mode: RedirectMode) -> Result<AuthorizationRequest, AuthError> {
        let redirect = self.redirect_uri(mode).ok_or(LoopbackError::PortBusy {
            ports: Vec::new(),
            reason: "no loopback port is configured".into(),
        })?;
        self.begin_with(&redirect)
    }

    /// Starts an interactive sign-in that comes back to the loopback listener bound on `port`.
    pub fn begin_loopback_sign_in(&self, port: u16) -> Result<AuthorizationRequest, AuthError> {
        self.begin_with(&format!(
            "http://127.0.0.1:{port}{}",
            crate::config::REDIRECT_PATH
        ))
    }

    fn begin_with(&self, redirect: &str) -> Result<AuthorizationRequest, AuthError> {
        let request =
            lock(&self.login).begin(&self.config, redirect, Instant::now(), self.login_timeout)?;
        // A new sign-in overtakes whatever an earlier one left running (its listener, its
        // exchange).
        self.end_sign_in_epoch();
        let mut session = lock(&self.session);
        if !matches!(session.phase, Phase::SignedIn | Phase::Refreshing) {
            session.phase = Phase::SigningIn;
        }
        session.notice = None;
        drop(session);
        tracing::info!(redirect_uri = %redirect, "sign-in started in the system browser");
        Ok(request)
    }

    /// Ends a pending sign-in (the agent cancelled, the deadline passed, or the listener
    /// failed). A code exchange already under way for it commits nothing.
    pub fn cancel_sign_in(&self, notice: Option<Notice>) {
        let had_pending = lock(&self.login).cancel();
        self.end_sign_in_epoch();
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
            self.end_sign_in_epoch();
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
            if matches!(error, AuthError::Superseded) {
                // Whatever overtook it (Cancel, sign-out, a new sign-in) has set the screen.
                return result;
            }
            let still_pending = self.sign_in_pending();
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
        let (approved, ticket) = {
            let mut login = lock(&self.login);
            let approved = login.complete(callback, Instant::now())?;
            (approved, Ticket::SignIn(*self.sign_in_epoch.borrow()))
        };
        let ApprovedLogin {
            code,
            verifier,
            redirect_uri,
        } = approved;
        let tokens = self
            .client
            .exchange_code(code, verifier, &redirect_uri)
            .await?;
        let user = match self.client.users_me(&tokens.access_token).await {
            Ok(user) => user,
            Err(error) => {
                // Nobody will use these tokens: end the login at Genesys too.
                self.client.revoke(&tokens.access_token).await;
                return Err(error.into());
            }
        };
        self.establish(tokens, Some(user), None, ticket).await?;
        tracing::info!("signed in");
        Ok(self.view())
    }

    /// Marks the session as being restored, so the UI shows progress, not a sign-in button.
    fn mark_restoring(&self) {
        let mut session = lock(&self.session);
        if session.phase == Phase::SignedOut {
            session.phase = Phase::Restoring;
        }
    }

    /// At launch: a stored refresh token signs the agent in without a browser.
    pub async fn silent_start(&self) -> SessionView {
        self.mark_restoring();
        let ticket = self.session_ticket();
        // A sign-in saved under another environment, client id or broker can never be used
        // by this configuration: it goes before anything else is read.
        match run_with_timeout(self.store.clone(), |s| s.delete_stale()).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(
                removed,
                "removed saved sign-ins of an earlier configuration"
            ),
            Err(error) => {
                tracing::warn!(code = error.code(), %error, "could not check the keychain for earlier sign-ins")
            }
        }
        let stored = match run_with_timeout(self.store.clone(), |s| s.load()).await {
            Ok(stored) => stored,
            Err(error) => {
                tracing::warn!(code = error.code(), %error, "keychain unavailable at start");
                self.set_signed_out_if(ticket, Some(Notice::new(
                    error.error_code(),
                    format!("{error}. Please sign in; Agent Shell cannot remember your sign-in on this computer until the keychain is available."),
                )));
                return self.view();
            }
        };
        // The start's phases are log lines the bench times (docs/benchmarks.md).
        tracing::info!(phase = "keychain", found = stored.is_some(), "start phase");
        let Some(refresh_token) = stored else {
            self.set_signed_out_if(ticket, None);
            return self.view();
        };
        let result = match refresh_with_retries(
            self.client.as_ref(),
            &refresh_token,
            &self.policy,
            log_retry,
        )
        .await
        {
            Ok(tokens) => match self.client.users_me(&tokens.access_token).await {
                // Without rotation the old token stays valid and stays stored.
                Ok(user) => {
                    self.establish(tokens, Some(user), Some(refresh_token), ticket)
                        .await
                }
                Err(error) => Err(error.into()),
            },
            Err(error) => Err(error.into()),
        };
        match result {
            Ok(()) => tracing::info!("signed in silently with the stored refresh token"),
            Err(AuthError::Superseded) => {}
            Err(AuthError::Token(TokenError::InvalidGrant(_))) => {
                tracing::info!("stored refresh token rejected (invalid_grant); deleted");
                let _ = run_with_timeout(self.store.clone(), |s| s.delete()).await;
                self.set_signed_out_if(
                    ticket,
                    Some(Notice::new(
                        Code::SessionExpired,
                        "Your saved sign-in has expired or was revoked. Please sign in again.",
                    )),
                );
            }
            Err(error) => {
                tracing::warn!(code = error.code(), %error, "silent sign-in failed; stored token kept");
                self.set_signed_out_if(
                    ticket,
                    Some(Notice::new(
                        error.error_code(),
                        format!("Could not restore your sign-in: {error}"),
                    )),
                );
            }
        }
        self.view()
    }

    /// Begins the silent start on `runtime` and returns at once, the session already marked as
    /// restoring. The app calls it as soon as it knows it is the only instance (a second one
    /// must never refresh: a rotation would leave the first holding a spent token), so the
    /// keychain read and the token refresh overlap the window's creation;
    /// [`SessionEngine::launch`](crate::session::engine::SessionEngine::launch) takes it.
    pub fn begin_silent_start(self: &Arc<Self>, runtime: &tokio::runtime::Handle) -> SilentStart {
        self.mark_restoring();
        let auth = self.clone();
        SilentStart(runtime.spawn(async move { auth.silent_start().await }))
    }

    /// Stores the refresh token (before reporting success) and makes the session active - if
    /// `ticket`'s epoch is still current; otherwise revokes the tokens and stores nothing.
    async fn establish(
        &self,
        mut tokens: TokenSet,
        user: Option<UserInfo>,
        unrotated: Option<RefreshToken>,
        ticket: Ticket,
    ) -> Result<(), AuthError> {
        let _commit = self.commit.lock().await;
        if !self.ticket_is_current(ticket) {
            return Err(self.discard(tokens).await);
        }
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
                        error.error_code(),
                        format!("{error}. You are signed in for now, but will need to sign in again the next time you start Agent Shell."),
                    ));
                        false
                    }
                }
            }
            None => {
                let _ = run_with_timeout(self.store.clone(), |s| s.delete()).await;
                notice = Some(Notice::new(
                    Code::NoRefreshToken,
                    "Genesys Cloud did not issue a long-lived sign-in: you will be asked to sign in again when this session ends.",
                ));
                false
            }
        };
        let mut session = lock(&self.session);
        if matches!(ticket, Ticket::SignIn(_)) {
            // A fresh sign-in is a new session: a renewal of the previous one still under way
            // must not overwrite it. Bumped under the session lock, where renewals take tickets.
            self.session_epoch.fetch_add(1, Ordering::SeqCst);
        }
        session.phase = Phase::SignedIn;
        session.tokens = Some(tokens);
        if user.is_some() {
            session.user = user;
        }
        session.persisted = persisted;
        session.notice = notice;
        session.retry_at = None;
        session.deferrals = 0;
        drop(session);
        self.session_started.notify_one();
        Ok(())
    }

    /// Signed out with `notice`, unless the epoch moved on meanwhile (then whatever moved it
    /// owns the screen).
    fn set_signed_out_if(&self, ticket: Ticket, notice: Option<Notice>) {
        if self.ticket_is_current(ticket) {
            self.set_signed_out(notice);
        }
    }

    fn set_signed_out(&self, notice: Option<Notice>) {
        let mut session = lock(&self.session);
        session.phase = Phase::SignedOut;
        session.tokens = None;
        session.user = None;
        session.persisted = false;
        session.notice = notice;
        session.retry_at = None;
        session.deferrals = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_refusal_is_renewed_and_refusals_while_it_runs_are_let_be() {
        let mut gate = AuthErrorGate::default();
        let t0 = Instant::now();
        assert_eq!(gate.decide(t0), AuthErrorAction::Renewed);
        assert_eq!(
            gate.decide(t0 + Duration::from_millis(100)),
            AuthErrorAction::RenewalRunning
        );
        assert_eq!(
            gate.decide(t0 + Duration::from_millis(200)),
            AuthErrorAction::RenewalRunning
        );
    }

    #[test]
    fn a_refusal_soon_after_a_renewal_is_reported_and_a_later_one_renewed() {
        let mut gate = AuthErrorGate::default();
        let t0 = Instant::now();
        assert_eq!(gate.decide(t0), AuthErrorAction::Renewed);
        let done = t0 + Duration::from_secs(1);
        gate.finished(done);
        assert_eq!(
            gate.decide(done + Duration::from_millis(500)),
            AuthErrorAction::Report
        );
        assert_eq!(
            gate.decide(done + AuthErrorGate::INTERVAL - Duration::from_millis(1)),
            AuthErrorAction::Report
        );
        assert_eq!(
            gate.decide(done + AuthErrorGate::INTERVAL),
            AuthErrorAction::Renewed
        );
    }

    #[test]
    fn a_failed_renewal_counts_as_finished() {
        let mut gate = AuthErrorGate::default();
        let t0 = Instant::now();
        assert_eq!(gate.decide(t0), AuthErrorAction::Renewed);
        gate.finished(t0);
        assert_eq!(
            gate.decide(t0 + Duration::from_secs(1)),
            AuthErrorAction::Report
        );
    }
}
