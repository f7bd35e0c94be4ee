//! Keeping the session alive: renewal episodes, their deferral while the token still works,
//! the keep-alive loop, and sign-out.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::{Code, ErrorCode};
use crate::oauth::TokenError;
use crate::platform::keychain::run_with_timeout;
use crate::session::refresh::refresh_with_retries;

use super::*;

impl AuthService {
    /// Renews the access token: one episode of at most `max_attempts` tries. Concurrent callers
    /// (timer, token-expiring, UI, resume) share one episode; never two token requests with the
    /// same refresh token. On failure the session becomes ReloginRequired.
    pub async fn refresh(&self) -> Result<SessionView, AuthError> {
        let seen = self.refresh_generation.load(Ordering::SeqCst);
        let _gate = self.refresh_gate.lock().await;
        if self.refresh_generation.load(Ordering::SeqCst) != seen {
            return Ok(self.view());
        }
        // The phase check and the ticket are taken in one critical section with sign-out (which
        // takes the tokens and bumps the epoch under the same lock): a renewal either sees the
        // session it renews with that session's epoch, or sees it gone.
        let (refresh_token, ticket) = {
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
            (token, self.session_ticket())
        };
        tracing::info!("refreshing the access token");
        let result = refresh_with_retries(
            self.client.as_ref(),
            &refresh_token,
            &self.policy,
            log_retry,
        )
        .await;
        self.refresh_generation.fetch_add(1, Ordering::SeqCst);
        match result {
            Ok(tokens) => {
                self.establish(tokens, None, Some(refresh_token), ticket)
                    .await?;
                tracing::info!("access token refreshed");
                Ok(self.view())
            }
            Err(error) => {
                // A failure is applied under the same ticket check as a success: signed out (or
                // signed in afresh) meanwhile, there is nothing to report or delete.
                let _commit = self.commit.lock().await;
                if !self.ticket_is_current(ticket) {
                    return Err(AuthError::Superseded);
                }
                let now = self.clock.now();
                let valid_until = lock(&self.session)
                    .tokens
                    .as_ref()
                    .map(|t| t.expires_at)
                    .filter(|until| *until > now);
                if let (true, Some(until)) = (error.is_retryable(), valid_until) {
                    self.defer_renewal(now, until, &error);
                    return Err(AuthError::Token(error));
                }
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
                self.require_relogin(Notice::new(error.error_code(), message));
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
        // After a deferred failure the next episode waits for its gap.
        let due = session.retry_at.map_or(due, |retry| retry.max(due));
        Some(due.duration_since(now).unwrap_or(Duration::ZERO))
    }

    /// True when the access token is inside its renewal margin and a refresh token can renew
    /// it: what a client's token-expiring and a client (re)initialisation act on. Never true
    /// for an unrenewable session (its expiry is handled by [`Self::check_unrenewable_expiry`]).
    pub fn renewal_due(&self, now: SystemTime) -> bool {
        self.refresh_due_in(now).is_some_and(|due| due.is_zero()) && self.view().refreshable
    }

    /// A renewal asked for by the embedded client (token-expiring) or before (re)initialising
    /// it: renews only when the token is inside its renewal margin, so a client that repeats
    /// the message, or whose own margin is longer than the token's life, cannot cause a storm.
    pub async fn renew_if_due(&self) -> Result<SessionView, AuthError> {
        if !self.renewal_due(self.clock.now()) {
            return Ok(self.view());
        }
        self.refresh().await
    }

    /// The embedded client says its access token was refused (auth-error): renew once, or
    /// let a running renewal answer it, or report a repeat refusal (see [`AuthErrorGate`]).
    pub async fn on_auth_error(&self) -> Result<(AuthErrorAction, SessionView), AuthError> {
        let action = lock(&self.auth_errors).decide(Instant::now());
        if action != AuthErrorAction::Renewed {
            tracing::info!(?action, "auth-error from the embedded client");
            return Ok((action, self.view()));
        }
        let result = self.refresh().await;
        lock(&self.auth_errors).finished(Instant::now());
        result.map(|view| (AuthErrorAction::Renewed, view))
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
                Code::SessionEnded,
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
            .is_some_and(|n| n.code == Code::SessionEnding);
        if already_warned {
            return false;
        }
        let minutes = remaining.as_secs().div_ceil(60);
        session.notice = Some(Notice::new(
            Code::SessionEnding,
            format!("Your Genesys Cloud session ends in about {minutes} minute(s) and cannot be renewed automatically. Sign in again now to avoid an interruption."),
        ));
        true
    }

    /// Keeps the session alive until the process ends: renews before expiry, warns about and
    /// ends unrenewable sessions. Re-checks the wall clock at least every `check_every`, so a
    /// machine that slept past the deadline refreshes once on waking, not in a storm.
    pub async fn keep_alive(&self, check_every: Duration, on_change: impl Fn(SessionView)) {
        loop {
            let now = self.clock.now();
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
        session.retry_at = None;
        session.deferrals = 0;
    }

    /// A renewal episode failed for a transient reason while the access token is still valid
    /// until `valid_until`: the client keeps running, the agent is told calmly, and the next
    /// episode is due after a growing gap, never later than the token's expiry (so the
    /// retries end with the token, and then the re-login path runs).
    fn defer_renewal(&self, now: SystemTime, valid_until: SystemTime, error: &TokenError) {
        let mut session = lock(&self.session);
        session.deferrals = session.deferrals.saturating_add(1);
        let gap = renewal_retry_gap(session.deferrals);
        let next = now.checked_add(gap).unwrap_or(valid_until).min(valid_until);
        session.retry_at = Some(next);
        session.phase = Phase::SignedIn;
        let minutes = valid_until
            .duration_since(now)
            .unwrap_or(Duration::ZERO)
            .as_secs()
            .div_ceil(60);
        session.notice = Some(Notice::new(
            Code::RenewalDeferred,
            format!("Reconnecting to Genesys Cloud: your session is fine for about {minutes} more minute(s), and Agent Shell keeps trying. You can keep working."),
        ));
        tracing::warn!(
            code = error.code(),
            failures = session.deferrals,
            next_in_secs = next.duration_since(now).unwrap_or(Duration::ZERO).as_secs(),
            "renewal failed while the access token is still valid; trying again later"
        );
    }

    /// Signs out: revoke at Genesys (best effort), delete the keychain entry, forget tokens.
    /// Works offline; the returned view's notice says whether revocation was confirmed. A
    /// renewal or sign-in still under way when this starts commits nothing afterwards.
    pub async fn sign_out(&self) -> SessionView {
        // Take the tokens, leave the signed-in phase and end the epoch in one critical section:
        // a renewal that starts from here on finds no session, and one already under way holds
        // a ticket that is no longer current (its success and its failure both commit nothing).
        self.end_sign_in_epoch();
        let access = {
            let mut session = lock(&self.session);
            self.session_epoch.fetch_add(1, Ordering::SeqCst);
            let tokens = session.tokens.take();
            session.phase = Phase::SignedOut;
            session.user = None;
            session.persisted = false;
            session.notice = None;
            tokens.map(|t| t.access_token)
        };
        lock(&self.login).cancel();
        let _commit = self.commit.lock().await;
        // A commit that had passed its ticket check before this began (it held the lock) may
        // have set tokens since: those are revoked too, so Genesys keeps nothing this issued.
        let late = lock(&self.session).tokens.take().map(|t| t.access_token);
        if let Some(token) = &late {
            if access.as_ref().map(|a| a.expose()) != Some(token.expose()) {
                let _ = self.client.revoke(token).await;
            }
        }
        let revoked = match &access {
            Some(token) => self.client.revoke(token).await,
            None => true,
        };
        // Every saved sign-in of the app goes, an earlier configuration's included.
        let deleted = run_with_timeout(self.store.clone(), |s| s.delete_all()).await;
        let notice = match (revoked, deleted) {
            (_, Err(error)) => Some(Notice::new(
                error.error_code(),
                format!("Signed out, but the saved sign-in could not be removed from the keychain: {error}"),
            )),
            (false, Ok(())) => Some(Notice::new(
                Code::RevocationUnconfirmed,
                "Signed out on this computer. Genesys Cloud could not be reached to end the session there; it ends when it expires.",
            )),
            (true, Ok(())) => None,
        };
        tracing::info!(revoked, "signed out");
        self.set_signed_out(notice);
        self.view()
    }
}

pub(super) fn log_retry(error: &TokenError, delay: Duration) {
    tracing::warn!(
        code = error.code(),
        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        "token request failed; retrying"
    );
}
