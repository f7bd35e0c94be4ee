//! A scripted Genesys API and a wall clock that follows tokio's paused clock (and can jump),
//! for tests of the engine in virtual time.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agent_shell_core::oauth::{
    ApiFuture, Clock, GenesysApi, TokenError, TokenSet, UserLookupError,
};
use agent_shell_core::secret::{AccessToken, AuthCode, RefreshToken};
use agent_shell_core::session::auth::UserInfo;
use tokio::time::Instant;

/// The wall clock as tokio's paused clock moves it, plus jumps (a sleeping machine's wall
/// clock runs on while tokio's monotonic one stands still).
pub struct TestClock {
    start_wall: SystemTime,
    start: Instant,
    jumped_ms: AtomicU64,
}

impl TestClock {
    pub fn new() -> Arc<Self> {
        Arc::new(TestClock {
            start_wall: UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            start: Instant::now(),
            jumped_ms: AtomicU64::new(0),
        })
    }

    pub fn jump(&self, by: Duration) {
        self.jumped_ms
            .fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn elapsed(&self) -> Duration {
        self.now().duration_since(self.start_wall).unwrap()
    }
}

impl Clock for TestClock {
    fn now(&self) -> SystemTime {
        self.start_wall
            + self.start.elapsed()
            + Duration::from_millis(self.jumped_ms.load(Ordering::SeqCst))
    }
}

/// A token endpoint that issues tokens of `lifetime`, rotating the refresh token (or issuing
/// none), and records when each was issued and until when it is valid.
pub struct ScriptedApi {
    clock: Arc<TestClock>,
    lifetime: Duration,
    issue_refresh_tokens: bool,
    /// (issued at, expires at) on the test's wall clock, per token set.
    issued: Mutex<Vec<(Duration, Duration)>>,
    /// When set, every refresh fails with it.
    refusal: Mutex<Option<TokenError>>,
    /// How long a revocation takes (a slow Genesys during sign-out).
    revoke_delay: Mutex<Duration>,
    /// Every refresh request, failed or not, at the test's wall-clock time.
    refresh_calls: Mutex<Vec<Duration>>,
}

impl ScriptedApi {
    pub fn new(clock: Arc<TestClock>, lifetime: Duration, issue_refresh_tokens: bool) -> Arc<Self> {
        Arc::new(ScriptedApi {
            clock,
            lifetime,
            issue_refresh_tokens,
            issued: Mutex::new(Vec::new()),
            refusal: Mutex::new(None),
            revoke_delay: Mutex::new(Duration::ZERO),
            refresh_calls: Mutex::new(Vec::new()),
        })
    }

    /// From now on refreshes succeed again.
    pub fn accept_refreshes(&self) {
        *self.refusal.lock().unwrap() = None;
    }

    /// When each refresh request was made (failed ones included).
    pub fn refresh_calls(&self) -> Vec<Duration> {
        self.refresh_calls.lock().unwrap().clone()
    }

    /// From now on every revocation takes `delay`.
    pub fn slow_revocations(&self, delay: Duration) {
        *self.revoke_delay.lock().unwrap() = delay;
    }

    /// From now on every refresh fails with `error`.
    pub fn refuse_refreshes(&self, error: TokenError) {
        *self.refusal.lock().unwrap() = Some(error);
    }

    fn tokens(&self) -> TokenSet {
        let mut issued = self.issued.lock().unwrap();
        let now = self.clock.elapsed();
        issued.push((now, now + self.lifetime));
        let n = issued.len();
        TokenSet {
            access_token: AccessToken::new(format!("access-{n}")),
            refresh_token: self
                .issue_refresh_tokens
                .then(|| RefreshToken::new(format!("refresh-{n}"))),
            lifetime: self.lifetime,
            expires_at: self.clock.now() + self.lifetime,
            granted_scopes: Vec::new(),
        }
    }

    pub fn issued(&self) -> Vec<(Duration, Duration)> {
        self.issued.lock().unwrap().clone()
    }
}

impl GenesysApi for ScriptedApi {
    fn exchange_code<'a>(
        &'a self,
        _code: AuthCode,
        _verifier: oauth2::PkceCodeVerifier,
        _redirect_uri: &'a str,
    ) -> ApiFuture<'a, Result<TokenSet, TokenError>> {
        Box::pin(async move { Ok(self.tokens()) })
    }

    fn refresh<'a>(
        &'a self,
        _token: &'a RefreshToken,
    ) -> ApiFuture<'a, Result<TokenSet, TokenError>> {
        Box::pin(async move {
            self.refresh_calls
                .lock()
                .unwrap()
                .push(self.clock.elapsed());
            // A request takes a little virtual time, as a real one does.
            tokio::time::sleep(Duration::from_millis(50)).await;
            if let Some(error) = self.refusal.lock().unwrap().clone() {
                return Err(error);
            }
            Ok(self.tokens())
        })
    }

    fn users_me<'a>(
        &'a self,
        _token: &'a AccessToken,
    ) -> ApiFuture<'a, Result<UserInfo, UserLookupError>> {
        Box::pin(async move {
            Ok(UserInfo {
                id: "u-1".into(),
                name: Some("Alex Agent".into()),
                email: None,
            })
        })
    }

    fn revoke<'a>(&'a self, _token: &'a AccessToken) -> ApiFuture<'a, bool> {
        Box::pin(async move {
            let delay = *self.revoke_delay.lock().unwrap();
            tokio::time::sleep(delay).await;
            true
        })
    }
}
