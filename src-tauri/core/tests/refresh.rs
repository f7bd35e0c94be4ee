//! The refresh engine against the emulator's fault injection: attempts, backoff, Retry-After,
//! timeouts, classification, single flight, rotation, wall-clock checks. Real HTTP; the
//! keychain is the in-memory store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant, SystemTime};

use agent_shell_core::config::RefreshPolicy;
use agent_shell_core::platform::keychain::SecretStore;
use agent_shell_core::session::auth::{AuthService, Phase};
use agent_shell_core::ErrorCode;
use agent_shell_test_kit::{FaultExt, FaultKind, Settings};
use common::Fixture;
use serde_json::Value;

/// Fast but real: 100 ms then 200 ms between attempts (jitter adds up to as much again).
fn fast_policy() -> RefreshPolicy {
    RefreshPolicy {
        first_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(400),
        attempt_timeout: Duration::from_millis(500),
        // The emulator's 3-second tokens are believed, as the app believes them in emulator mode.
        min_lifetime: agent_shell_core::config::EMULATOR_MIN_LIFETIME,
        ..RefreshPolicy::default()
    }
}

async fn signed_in(fx: &Fixture) -> AuthService {
    let auth = fx.service().with_refresh_policy(fast_policy()).unwrap();
    fx.sign_in(&auth).await;
    auth
}

fn count(state: &Value, key: &str) -> u64 {
    state[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no counter {key} in {state}"))
}

#[tokio::test]
async fn two_server_errors_then_success_recovers_on_the_third_attempt() {
    let fx = Fixture::new().await;
    let auth = signed_in(&fx).await;
    let before = fx.store.load().unwrap().unwrap().expose().to_string();
    fx.control.fault(FaultKind::ServerError.times(2)).await;

    let view = auth.refresh().await.unwrap();
    assert_eq!(view.phase, Phase::SignedIn);
    let state = fx.control.state().await;
    assert_eq!(
        count(&state, "token_requests"),
        1 + 3,
        "code exchange + three attempts"
    );
    assert_eq!(count(&state, "refreshes_served"), 1);
    let after = fx.store.load().unwrap().unwrap().expose().to_string();
    assert_ne!(before, after, "the rotated refresh token was stored");
}

/// The wall clock, two hours and a minute ahead: the access token in hand has run out.
struct LateClock;

impl agent_shell_core::oauth::Clock for LateClock {
    fn now(&self) -> SystemTime {
        SystemTime::now() + Duration::from_secs(2 * 3600 + 60)
    }
}

#[tokio::test]
async fn three_failures_with_the_token_still_valid_keep_the_session_after_three_requests() {
    let fx = Fixture::new().await;
    let auth = signed_in(&fx).await;
    fx.control.fault(FaultKind::ServerError.times(5)).await;

    let started = Instant::now();
    let error = auth.refresh().await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(error.code(), "token_server_unavailable");
    assert_eq!(count(&fx.control.state().await, "token_requests"), 1 + 3);
    // delays: [100, 200) ms then [200, 400) ms
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
    let view = auth.view();
    assert_eq!(view.phase, Phase::SignedIn, "the client keeps working");
    assert_eq!(view.notice.unwrap().code, "renewal_deferred");
    assert!(auth.access_token().is_some(), "the valid token is kept");
    assert!(fx.store.load().unwrap().is_some());
    // The next episode waits for its gap (15 s): nothing on its own meanwhile.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(&fx.control.state().await, "token_requests"), 4);
}

#[tokio::test]
async fn three_failures_after_the_token_ended_require_relogin_after_exactly_three_requests() {
    let fx = Fixture::new().await;
    let auth = fx
        .service()
        .with_refresh_policy(fast_policy())
        .unwrap()
        .with_clock(std::sync::Arc::new(LateClock));
    fx.sign_in(&auth).await;
    fx.control.fault(FaultKind::ServerError.times(5)).await;

    let error = auth.refresh().await.unwrap_err();
    assert_eq!(error.code(), "token_server_unavailable");
    assert_eq!(count(&fx.control.state().await, "token_requests"), 1 + 3);
    let view = auth.view();
    assert_eq!(view.phase, Phase::ReloginRequired);
    let notice = view.notice.unwrap();
    assert_eq!(notice.code, "token_server_unavailable");
    assert!(
        notice.message.contains("after 3 attempts"),
        "{}",
        notice.message
    );
    assert!(
        auth.access_token().is_none(),
        "no access without a valid token"
    );
    assert!(
        fx.store.load().unwrap().is_some(),
        "a transient failure keeps the stored token"
    );
    // and no further attempts happen on their own
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(&fx.control.state().await, "token_requests"), 4);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let fx = Fixture::new().await;
    let auth = signed_in(&fx).await;
    fx.control
        .fault(FaultKind::RateLimited.retry_after(2))
        .await;
    let started = Instant::now();
    auth.refresh().await.unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(1900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert_eq!(count(&fx.control.state().await, "token_requests"), 1 + 2);
}

#[tokio::test]
async fn retry_after_is_capped() {
    let fx = Fixture::new().await;
    let auth = fx
        .service()
        .with_refresh_policy(RefreshPolicy {
            max_retry_after: Duration::from_millis(300),
            ..fast_policy()
        })
        .unwrap();
    fx.sign_in(&auth).await;
    fx.control
        .fault(FaultKind::ServiceUnavailable.retry_after(60))
        .await;
    let started = Instant::now();
    auth.refresh().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn invalid_grant_is_one_request_deletes_the_token_and_requires_relogin() {
    let fx = Fixture::new().await;
    let auth = signed_in(&fx).await;
    fx.control.fault(FaultKind::InvalidGrant).await;
    let error = auth.refresh().await.unwrap_err();
    assert_eq!(error.code(), "token_invalid_grant");
    assert_eq!(count(&fx.control.state().await, "token_requests"), 1 + 1);
    assert!(fx.store.load().unwrap().is_none());
    assert_eq!(auth.view().phase, Phase::ReloginRequired);
}

#[tokio::test]
async fn a_hung_endpoint_hits_the_per_attempt_timeout() {
    let fx = Fixture::new().await;
    let auth = signed_in(&fx).await;
    fx.control.fault(FaultKind::Hang.times(3).secs(5)).await;
    let started = Instant::now();
    let error = auth.refresh().await.unwrap_err();
    assert_eq!(error.code(), "token_timeout");
    // three 500 ms timeouts plus backoff, far below one 5 s hang
    assert!(
        started.elapsed() < Duration::from_millis(3000),
        "{:?}",
        started.elapsed()
    );
    // The token in hand is still valid: the session stays, with a calm notice.
    assert_eq!(auth.view().phase, Phase::SignedIn);
    assert_eq!(auth.view().notice.unwrap().code, "renewal_deferred");
}

#[tokio::test]
async fn a_malformed_body_is_classified_without_panic_or_retry() {
    let fx = Fixture::new().await;
    let auth = signed_in(&fx).await;
    fx.control.fault(FaultKind::Malformed).await;
    let error = auth.refresh().await.unwrap_err();
    assert_eq!(error.code(), "token_malformed_response");
    assert_eq!(count(&fx.control.state().await, "token_requests"), 1 + 1);
    assert_eq!(auth.view().phase, Phase::ReloginRequired);
}

#[tokio::test]
async fn fifty_concurrent_refreshes_make_one_token_request() {
    let fx = Fixture::new().await;
    let auth = std::sync::Arc::new(signed_in(&fx).await);
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let auth = auth.clone();
        callers.spawn(async move { auth.refresh().await });
    }
    let results = callers.join_all().await;
    assert_eq!(results.len(), 50);
    assert!(results.iter().all(Result::is_ok));
    let state = fx.control.state().await;
    assert_eq!(count(&state, "token_requests"), 1 + 1);
    assert_eq!(count(&state, "refresh_reuse_detected"), 0);
}

#[tokio::test]
async fn the_shell_never_reuses_a_rotated_refresh_token() {
    let fx = Fixture::new().await;
    let auth = signed_in(&fx).await;
    for _ in 0..20 {
        auth.refresh().await.unwrap();
    }
    let state = fx.control.state().await;
    assert_eq!(count(&state, "refreshes_served"), 20);
    assert_eq!(count(&state, "refresh_reuse_detected"), 0);
    assert_eq!(count(&state, "families_revoked"), 0);
    // the last stored token is the live one: a restart signs in with it
    assert_eq!(fx.service().silent_start().await.phase, Phase::SignedIn);
}

#[tokio::test]
async fn a_shift_in_miniature_keeps_every_token_valid() {
    let fx = Fixture::new().await;
    fx.control.settings(Settings::token_lifetime(3.0)).await;
    let auth = std::sync::Arc::new(signed_in(&fx).await);
    let keeper = {
        let auth = auth.clone();
        tokio::spawn(async move { auth.keep_alive(Duration::from_millis(100), |_| {}).await })
    };
    let mut unauthorized = 0;
    let deadline = Instant::now() + Duration::from_secs(9);
    while Instant::now() < deadline {
        if let Some(token) = auth.access_token() {
            if fx.users_me_status(&token).await == 401 {
                unauthorized += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    keeper.abort();
    let state = fx.control.state().await;
    // 3 s tokens renewed a second before expiry: about every 2 s over 9 s
    let refreshes = count(&state, "refreshes_served");
    assert!((3..=6).contains(&refreshes), "{refreshes} refreshes");
    assert_eq!(unauthorized, 0, "the shell never held an expired token");
    assert_eq!(auth.view().phase, Phase::SignedIn);
}

#[tokio::test]
async fn waking_after_expiry_refreshes_once_not_in_a_storm() {
    let fx = Fixture::new().await;
    fx.control.settings(Settings::token_lifetime(2.0)).await;
    let auth = std::sync::Arc::new(signed_in(&fx).await);
    // the machine "sleeps" past the access token's expiry with no timer running
    tokio::time::sleep(Duration::from_millis(2300)).await;
    assert_eq!(auth.refresh_due_in(SystemTime::now()), Some(Duration::ZERO));
    let keeper = {
        let auth = auth.clone();
        tokio::spawn(async move { auth.keep_alive(Duration::from_millis(50), |_| {}).await })
    };
    tokio::time::sleep(Duration::from_millis(600)).await;
    keeper.abort();
    assert_eq!(count(&fx.control.state().await, "refreshes_served"), 1);
    assert_eq!(auth.view().phase, Phase::SignedIn);
}

#[tokio::test]
async fn a_session_without_refresh_token_is_warned_about_then_ended() {
    let fx = Fixture::new().await;
    fx.control
        .settings(Settings {
            public_refresh_tokens: Some(false),
            token_lifetime_secs: Some(600.0),
            ..Settings::default()
        })
        .await;
    let auth = signed_in(&fx).await;
    assert_eq!(auth.refresh().await.unwrap_err().code(), "no_refresh_token");
    let now = SystemTime::now();
    assert!(
        !auth.check_unrenewable_expiry(now),
        "nothing to say ten minutes ahead"
    );
    // the warning comes inside the renewal margin (120 s by default)
    assert!(!auth.check_unrenewable_expiry(now + Duration::from_secs(450)));
    assert!(auth.check_unrenewable_expiry(now + Duration::from_secs(500)));
    let notice = auth.view().notice.unwrap();
    assert_eq!(notice.code, "session_ending");
    assert!(notice.message.contains("minute"), "{}", notice.message);
    assert!(
        !auth.check_unrenewable_expiry(now + Duration::from_secs(510)),
        "warned once"
    );
    assert!(auth.check_unrenewable_expiry(now + Duration::from_secs(601)));
    let view = auth.view();
    assert_eq!(view.phase, Phase::ReloginRequired);
    assert_eq!(view.notice.unwrap().code, "session_ended");
}

#[tokio::test]
async fn relogin_after_failure_restores_the_session() {
    let fx = Fixture::new().await;
    let auth = signed_in(&fx).await;
    fx.control.fault(FaultKind::InvalidGrant).await;
    auth.refresh().await.unwrap_err();
    assert_eq!(auth.view().phase, Phase::ReloginRequired);
    fx.sign_in(&auth).await;
    let view = auth.view();
    assert_eq!(view.phase, Phase::SignedIn);
    assert!(view.notice.is_none());
    assert!(fx.store.load().unwrap().is_some());
}
