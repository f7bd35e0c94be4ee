//! The one fake Genesys API (the core's `GenesysApi`) and a wall clock for tokio's paused
//! clock: what the core's engine and keep-alive tests script, and what the bench harness runs
//! the refresh engine against to time the shell's own work.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agent_shell_core::oauth::{
    ApiFuture, Clock, GenesysApi, SystemClock, TokenError, TokenSet, UserInfo, UserLookupError,
};
use agent_shell_core::secret::{AccessToken, AuthCode, RefreshToken};
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

    /// Wall-clock time since the clock was made (jumps included).
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

/// A token endpoint that issues tokens of `lifetime` (`access-N`, `refresh-N`), rotating the
/// refresh token or issuing none, and signs in "Alex Agent" (`u-1`). It can be told to refuse
/// refreshes or to revoke slowly, and (when scripted) records when each token set was issued
/// and each refresh asked for.
pub struct FakeApi {
    clock: Arc<dyn Clock>,
    /// Where [`issued`](Self::issued) and [`refresh_calls`](Self::refresh_calls) count from.
    origin: SystemTime,
    lifetime: Duration,
    issue_refresh_tokens: bool,
    /// How long a refresh request takes (on tokio's clock).
    request_time: Duration,
    /// Whether to keep the records below (the bench's memory figure must not grow with them).
    record: bool,
    count: AtomicU64,
    /// (issued at, expires at) since `origin`, per token set.
    issued: Mutex<Vec<(Duration, Duration)>>,
    /// When set, every refresh fails with it.
    refusal: Mutex<Option<TokenError>>,
    /// How long a revocation takes (a slow Genesys during sign-out).
    revoke_delay: Mutex<Duration>,
    /// Every refresh request, failed or not, since `origin`.
    refresh_calls: Mutex<Vec<Duration>>,
}

impl FakeApi {
    /// Scripted on `clock` (tokio's paused clock): a refresh takes 50 ms of virtual time, as a
    /// real one takes a little; every token set and refresh request is recorded.
    pub fn new(clock: Arc<TestClock>, lifetime: Duration, issue_refresh_tokens: bool) -> Arc<Self> {
        let origin = clock.start_wall;
        Arc::new(FakeApi::with(
            clock,
            origin,
            lifetime,
            issue_refresh_tokens,
            Duration::from_millis(50),
            true,
        ))
    }

    /// Genesys as fast as it can be, on the real clock: hour-long tokens, rotated refresh
    /// tokens, no wait and nothing recorded. What is left of a renewal is the shell's own work.
    pub fn instant() -> Arc<Self> {
        Arc::new(FakeApi::with(
            Arc::new(SystemClock),
            SystemTime::now(),
            Duration::from_secs(3600),
            true,
            Duration::ZERO,
            false,
        ))
    }

    fn with(
        clock: Arc<dyn Clock>,
        origin: SystemTime,
        lifetime: Duration,
        issue_refresh_tokens: bool,
        request_time: Duration,
        record: bool,
    ) -> FakeApi {
        FakeApi {
            clock,
            origin,
            lifetime,
            issue_refresh_tokens,
            request_time,
            record,
            count: AtomicU64::new(0),
            issued: Mutex::new(Vec::new()),
            refusal: Mutex::new(None),
            revoke_delay: Mutex::new(Duration::ZERO),
            refresh_calls: Mutex::new(Vec::new()),
        }
    }

    fn since_origin(&self) -> Duration {
        self.clock
            .now()
            .duration_since(self.origin)
            .unwrap_or_default()
    }

    /// From now on refreshes succeed again.
    pub fn accept_refreshes(&self) {
        *self.refusal.lock().unwrap() = None;
    }

    /// From now on every refresh fails with `error`.
    pub fn refuse_refreshes(&self, error: TokenError) {
        *self.refusal.lock().unwrap() = Some(error);
    }

    /// From now on every revocation takes `delay`.
    pub fn slow_revocations(&self, delay: Duration) {
        *self.revoke_delay.lock().unwrap() = delay;
    }

    /// When each refresh request was made (failed ones included).
    pub fn refresh_calls(&self) -> Vec<Duration> {
        self.refresh_calls.lock().unwrap().clone()
    }

    /// (issued at, expires at) of every token set.
    pub fn issued(&self) -> Vec<(Duration, Duration)> {
        self.issued.lock().unwrap().clone()
    }

    fn tokens(&self) -> TokenSet {
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        if self.record {
            let now = self.since_origin();
            self.issued.lock().unwrap().push((now, now + self.lifetime));
        }
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
}

impl GenesysApi for FakeApi {
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
            if self.record {
                let now = self.since_origin();
                self.refresh_calls.lock().unwrap().push(now);
            }
            if !self.request_time.is_zero() {
                tokio::time::sleep(self.request_time).await;
            }
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

/// A session service with a refresh token already in its (in-memory) keychain, on the fake API
/// and the test clock: what a test of renewal, keep-alive or sign-out starts from. It is not
/// started: call `silent_start` (or race it).
pub struct StoredSession {
    pub auth: Arc<agent_shell_core::session::auth::AuthService>,
    pub api: Arc<FakeApi>,
    pub store: Arc<agent_shell_core::platform::keychain::MemoryStore>,
    pub clock: Arc<TestClock>,
}

impl StoredSession {
    /// `config` is the configuration file's text; tokens live `lifetime`.
    pub fn new(config: &str, lifetime: Duration) -> Self {
        use agent_shell_core::platform::keychain::{MemoryStore, SecretStore};
        let clock = TestClock::new();
        let api = FakeApi::new(clock.clone(), lifetime, true);
        let store = Arc::new(MemoryStore::default());
        store
            .save(&RefreshToken::new("stored"))
            .expect("the in-memory keychain saves");
        let config = agent_shell_core::config::parse_str(config).expect("a valid test config");
        let auth = Arc::new(
            agent_shell_core::session::auth::AuthService::new(config, store.clone())
                .expect("a session service for the test config")
                .with_api(api.clone())
                .with_clock(clock.clone()),
        );
        Self {
            auth,
            api,
            store,
            clock,
        }
    }
}
