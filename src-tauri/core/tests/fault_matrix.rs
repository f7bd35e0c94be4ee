//! The fault matrix: every failure of the token endpoint x every trigger of a renewal, each
//! cell a test against the emulator over real HTTP (docs/session.md#fault-matrix has the table).
//!
//! Failures: 500, 503 + Retry-After, 429 + Retry-After, a hang, a garbage body, invalid_grant,
//! connection refused (the emulator shut down). Each transient one lasts longer than the three
//! attempts. Triggers: the keep-alive timer, the client's token-expiring (a renewal when due),
//! the client's auth-error, waking from sleep (the wall clock jumps past expiry), silent start.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use agent_shell_core::config::{RefreshPolicy, EMULATOR_MIN_LIFETIME};
use agent_shell_core::oauth::Clock;
use agent_shell_core::platform::keychain::SecretStore;
use agent_shell_core::session::auth::{AuthService, Phase, SessionView};
use agent_shell_test_kit::{FaultExt, FaultKind, Settings};
use common::Fixture;

#[derive(Clone, Copy, Debug)]
enum Fault {
    ServerError,
    Unavailable,
    RateLimited,
    Hang,
    Garbage,
    InvalidGrant,
    Refused,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Trigger {
    Timer,
    TokenExpiring,
    AuthError,
    Resume,
    SilentStart,
}

impl Fault {
    /// The emulator fault, lasting past three attempts.
    fn queued(self) -> Option<agent_shell_test_kit::Fault> {
        let fault = match self {
            Fault::ServerError => FaultKind::ServerError.times(5),
            Fault::Unavailable => FaultKind::ServiceUnavailable.times(5).retry_after(1),
            Fault::RateLimited => FaultKind::RateLimited.times(5).retry_after(1),
            Fault::Hang => FaultKind::Hang.times(5).secs(2),
            Fault::Garbage => FaultKind::Malformed.times(5),
            Fault::InvalidGrant => FaultKind::InvalidGrant.times(5),
            Fault::Refused => return None,
        };
        Some(fault)
    }

    /// The code the agent sees.
    fn code(self) -> &'static str {
        match self {
            Fault::ServerError | Fault::Unavailable | Fault::RateLimited => {
                "token_server_unavailable"
            }
            Fault::Hang => "token_timeout",
            Fault::Garbage => "token_malformed_response",
            Fault::InvalidGrant => "token_invalid_grant",
            Fault::Refused => "token_network",
        }
    }

    /// Token requests one renewal makes: transient failures are tried three times.
    fn attempts(self) -> u64 {
        match self {
            Fault::Garbage | Fault::InvalidGrant => 1,
            _ => 3,
        }
    }
}

/// Fast but real: short backoff, a short attempt timeout, Retry-After capped at 300 ms.
fn policy() -> RefreshPolicy {
    RefreshPolicy {
        first_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(200),
        attempt_timeout: Duration::from_millis(500),
        max_retry_after: Duration::from_millis(300),
        min_lifetime: EMULATOR_MIN_LIFETIME,
        ..RefreshPolicy::default()
    }
}

/// The wall clock, plus jumps: a machine that slept.
#[derive(Default)]
struct JumpClock(AtomicU64);

impl Clock for JumpClock {
    fn now(&self) -> SystemTime {
        SystemTime::now() + Duration::from_secs(self.0.load(Ordering::SeqCst))
    }
}

async fn wait_for(auth: &AuthService, what: impl Fn(&SessionView) -> bool) -> SessionView {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let view = auth.view();
        if what(&view) {
            return view;
        }
        assert!(Instant::now() < deadline, "still {view:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs the keep-alive loop until the session is no longer signed in, and returns the view.
async fn keep_alive_until_it_gives_up(auth: &Arc<AuthService>) -> SessionView {
    let keeper = auth.clone();
    let task =
        tokio::spawn(async move { keeper.keep_alive(Duration::from_millis(100), |_| {}).await });
    let view = wait_for(auth, |v| {
        v.phase != Phase::SignedIn && v.phase != Phase::Refreshing
    })
    .await;
    task.abort();
    view
}

async fn cell(fault: Fault, trigger: Trigger) {
    let fx = Fixture::new().await;
    if matches!(trigger, Trigger::Timer | Trigger::TokenExpiring) {
        // 9-second tokens: due 3 s before they end, more than a whole episode takes (2.1 s at
        // worst with this policy), so a failed episode always ends with the token still valid.
        fx.control.settings(Settings::token_lifetime(9.0)).await;
    }
    let clock = Arc::new(JumpClock::default());
    let auth = Arc::new(
        fx.service()
            .with_refresh_policy(policy())
            .unwrap()
            .with_clock(clock.clone()),
    );
    fx.sign_in(&auth).await;
    let requests_before = fx.control.state().await["token_requests"].as_u64().unwrap();
    let stored_before = fx.store.load().unwrap().expect("signed in and stored");
    let expires_before = auth.view().expires_at_ms;

    // The fault, then the trigger.
    let store = fx.store.clone();
    let counting = match fault.queued() {
        Some(body) => {
            fx.control.fault(body).await;
            Some(fx)
        }
        None => {
            let common::Fixture { emulator, .. } = fx;
            emulator.shutdown().await;
            None
        }
    };
    let outcome = Outcome::of(fault, trigger);
    let view = match trigger {
        Trigger::Timer if outcome == Outcome::CarriesOn => {
            // The first episode fails with the token still valid; the next one, at the
            // token's expiry, gets through once the endpoint is back: no new sign-in.
            let keeper = auth.clone();
            let task =
                tokio::spawn(
                    async move { keeper.keep_alive(Duration::from_millis(100), |_| {}).await },
                );
            wait_for(&auth, |v| {
                v.notice
                    .as_ref()
                    .is_some_and(|n| n.code == "renewal_deferred")
            })
            .await;
            let view = wait_for(&auth, |v| {
                v.phase == Phase::SignedIn && v.notice.is_none() && v.expires_at_ms > expires_before
            })
            .await;
            task.abort();
            view
        }
        Trigger::Timer => keep_alive_until_it_gives_up(&auth).await,
        Trigger::TokenExpiring => {
            wait_for(&auth, |v| {
                v.expires_at_ms.is_some_and(|ms| {
                    let now = SystemTime::now()
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .unwrap()
                        .as_millis() as u64;
                    ms.saturating_sub(now) <= 2_900
                })
            })
            .await;
            let _ = auth.renew_if_due().await;
            auth.view()
        }
        Trigger::AuthError => {
            let _ = auth.on_auth_error().await;
            auth.view()
        }
        Trigger::Resume => {
            // The lid was closed for three hours: the token (2 h) ran out meanwhile.
            clock.0.store(3 * 3600, Ordering::SeqCst);
            keep_alive_until_it_gives_up(&auth).await
        }
        Trigger::SilentStart => {
            let restarted = AuthService::new(auth.config().clone(), store.clone())
                .unwrap()
                .with_refresh_policy(policy())
                .unwrap();
            restarted.silent_start().await
        }
    };

    match outcome {
        Outcome::CarriesOn => {
            assert!(auth.access_token().is_some(), "{fault:?} x {trigger:?}");
            let stored_after = store.load().unwrap().expect("still stored");
            assert_ne!(
                stored_after.expose(),
                stored_before.expose(),
                "the renewal that got through rotated the stored sign-in"
            );
            if let Some(fx) = counting {
                let requests =
                    fx.control.state().await["token_requests"].as_u64().unwrap() - requests_before;
                // Three failed tries, then two failed and one that got through.
                assert_eq!(requests, 6, "{fault:?} x {trigger:?}: token requests");
            }
            return;
        }
        Outcome::Deferred => {
            // A failed renewal with the token still valid: the client keeps working, the
            // agent is told calmly, nothing is deleted, and the next try waits for its gap.
            assert_eq!(
                view.phase,
                Phase::SignedIn,
                "{fault:?} x {trigger:?}: {view:?}"
            );
            let notice = view.notice.expect("the agent is told");
            assert_eq!(notice.code, "renewal_deferred", "{}", notice.message);
            assert!(
                notice.message.contains("keep working"),
                "{}",
                notice.message
            );
            assert!(auth.access_token().is_some(), "the token in hand is kept");
        }
        Outcome::Relogin => {
            // Never access without a valid token, the reason in words.
            let expected_phase = if trigger == Trigger::SilentStart {
                Phase::SignedOut
            } else {
                Phase::ReloginRequired
            };
            assert_eq!(
                view.phase, expected_phase,
                "{fault:?} x {trigger:?}: {view:?}"
            );
            let notice = view.notice.expect("the agent is told why");
            let expected_code = match (fault, trigger) {
                (Fault::InvalidGrant, Trigger::SilentStart) => "session_expired",
                _ => fault.code(),
            };
            assert_eq!(
                notice.code, expected_code,
                "{fault:?} x {trigger:?}: {}",
                notice.message
            );
            if trigger != Trigger::SilentStart {
                assert!(
                    auth.access_token().is_none(),
                    "no access without a valid token"
                );
            }
        }
    }
    // The stored sign-in is kept unless Genesys said it is dead.
    let stored_after = store.load().unwrap();
    match fault {
        Fault::InvalidGrant => assert!(stored_after.is_none(), "a dead sign-in is deleted"),
        _ => assert_eq!(
            stored_after.map(|t| t.expose().to_string()),
            Some(stored_before.expose().to_string()),
            "a transient failure keeps the stored sign-in"
        ),
    }
    if let Some(fx) = counting {
        let requests =
            fx.control.state().await["token_requests"].as_u64().unwrap() - requests_before;
        assert_eq!(
            requests,
            fault.attempts(),
            "{fault:?} x {trigger:?}: token requests"
        );
        // Nothing retries by itself afterwards (a deferred renewal waits for its gap).
        tokio::time::sleep(Duration::from_millis(400)).await;
        let later = fx.control.state().await["token_requests"].as_u64().unwrap() - requests_before;
        assert_eq!(later, requests, "no retries after giving up");
    }
}

/// What a cell must end in.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Outcome {
    /// The agent keeps working through the failure and the session is renewed once the
    /// endpoint answers again.
    CarriesOn,
    /// The renewal failed with the token still valid: kept, with a calm notice.
    Deferred,
    /// The session ends: a new sign-in is needed.
    Relogin,
}

impl Outcome {
    fn of(fault: Fault, trigger: Trigger) -> Self {
        let transient = !matches!(fault, Fault::Garbage | Fault::InvalidGrant);
        match trigger {
            // No token in hand (start-up) or it ran out while the machine slept.
            Trigger::SilentStart | Trigger::Resume => Outcome::Relogin,
            _ if !transient => Outcome::Relogin,
            // The emulator is gone for good: the retries end with the token.
            Trigger::Timer if matches!(fault, Fault::Refused) => Outcome::Relogin,
            Trigger::Timer => Outcome::CarriesOn,
            Trigger::TokenExpiring | Trigger::AuthError => Outcome::Deferred,
        }
    }
}

macro_rules! matrix {
    ($($name:ident: $fault:ident x $trigger:ident,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                cell(Fault::$fault, Trigger::$trigger).await;
            }
        )*
    };
}

matrix! {
    server_error_on_timer: ServerError x Timer,
    server_error_on_token_expiring: ServerError x TokenExpiring,
    server_error_on_auth_error: ServerError x AuthError,
    server_error_on_resume: ServerError x Resume,
    server_error_on_silent_start: ServerError x SilentStart,
    unavailable_on_timer: Unavailable x Timer,
    unavailable_on_token_expiring: Unavailable x TokenExpiring,
    unavailable_on_auth_error: Unavailable x AuthError,
    unavailable_on_resume: Unavailable x Resume,
    unavailable_on_silent_start: Unavailable x SilentStart,
    rate_limited_on_timer: RateLimited x Timer,
    rate_limited_on_token_expiring: RateLimited x TokenExpiring,
    rate_limited_on_auth_error: RateLimited x AuthError,
    rate_limited_on_resume: RateLimited x Resume,
    rate_limited_on_silent_start: RateLimited x SilentStart,
    hang_on_timer: Hang x Timer,
    hang_on_token_expiring: Hang x TokenExpiring,
    hang_on_auth_error: Hang x AuthError,
    hang_on_resume: Hang x Resume,
    hang_on_silent_start: Hang x SilentStart,
    garbage_on_timer: Garbage x Timer,
    garbage_on_token_expiring: Garbage x TokenExpiring,
    garbage_on_auth_error: Garbage x AuthError,
    garbage_on_resume: Garbage x Resume,
    garbage_on_silent_start: Garbage x SilentStart,
    invalid_grant_on_timer: InvalidGrant x Timer,
    invalid_grant_on_token_expiring: InvalidGrant x TokenExpiring,
    invalid_grant_on_auth_error: InvalidGrant x AuthError,
    invalid_grant_on_resume: InvalidGrant x Resume,
    invalid_grant_on_silent_start: InvalidGrant x SilentStart,
    refused_on_timer: Refused x Timer,
    refused_on_token_expiring: Refused x TokenExpiring,
    refused_on_auth_error: Refused x AuthError,
    refused_on_resume: Refused x Resume,
    refused_on_silent_start: Refused x SilentStart,
}
