//! Sign-out and Cancel against work that is still under way: a renewal or a code exchange that
//! finishes after them commits nothing (no phase change, nothing in the keychain) and what
//! Genesys Cloud issued to it is revoked. Real HTTP against the emulator's `slow` fault.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use agent_shell_core::config::RedirectMode;
use agent_shell_core::platform::keychain::SecretStore;
use agent_shell_core::secret::AccessToken;
use agent_shell_core::session::auth::{AuthError, AuthService, Phase, RedirectTransport};
use agent_shell_core::ErrorCode;
use agent_shell_test_kit::{FaultExt, FaultKind};
use common::Fixture;

/// Waits until the emulator has received `count` token requests (the slow one is in flight).
async fn until_token_requests(fx: &Fixture, count: u64) {
    for _ in 0..200 {
        if fx.control.state().await["token_requests"].as_u64() >= Some(count) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the emulator never saw token request {count}");
}

/// Every access token the emulator ever issued is refused by users/me: nothing it handed out
/// is still usable.
async fn every_issued_access_token_is_dead(fx: &Fixture) {
    let issued = fx.control.issued_tokens().await;
    assert!(!issued.is_empty());
    let mut checked = 0;
    for token in issued {
        // Refresh tokens answer 401 too; only access tokens matter here, and both must be dead.
        let status = fx.users_me_status(&AccessToken::new(token)).await;
        assert_eq!(status, 401, "an issued token still works");
        checked += 1;
    }
    assert!(checked >= 2);
}

#[tokio::test]
async fn sign_out_during_a_slow_renewal_leaves_nothing_behind() {
    let fx = Fixture::new().await;
    let auth = Arc::new(fx.service());
    fx.sign_in(&auth).await;
    let requests_so_far = fx.control.state().await["token_requests"].as_u64().unwrap();
    fx.control.fault(FaultKind::Slow.secs(2)).await;

    let renewal = tokio::spawn({
        let auth = auth.clone();
        async move { auth.refresh().await }
    });
    until_token_requests(&fx, requests_so_far + 1).await;
    assert_eq!(auth.view().phase, Phase::Refreshing);
    let signed_out = auth.sign_out().await;
    assert_eq!(signed_out.phase, Phase::SignedOut);

    let late = renewal.await.unwrap();
    assert!(
        matches!(late, Err(AuthError::Superseded)),
        "the late renewal is inert: {late:?}"
    );
    assert_eq!(auth.view().phase, Phase::SignedOut, "still signed out");
    assert!(auth.access_token().is_none());
    assert!(fx.store.load().unwrap().is_none(), "keychain empty");

    // The next launch on this desk starts signed out.
    let restarted = fx.service();
    assert_eq!(restarted.silent_start().await.phase, Phase::SignedOut);
    every_issued_access_token_is_dead(&fx).await;
}

/// A sign-in whose code exchange is in flight against a token endpoint that answers in 2 s.
async fn slow_exchange_in_flight(
    fx: &Fixture,
) -> (
    Arc<AuthService>,
    tokio::task::JoinHandle<Result<agent_shell_core::session::auth::SessionView, AuthError>>,
) {
    let auth = Arc::new(fx.service());
    let request = auth.begin_sign_in(RedirectMode::DeepLink).unwrap();
    let location = fx.browse(&request.url).await;
    fx.control.fault(FaultKind::Slow.secs(2)).await;
    let exchange = tokio::spawn({
        let auth = auth.clone();
        async move {
            auth.complete_sign_in(&location, RedirectTransport::DeepLink)
                .await
        }
    });
    until_token_requests(fx, 1).await;
    (auth, exchange)
}

#[tokio::test]
async fn cancel_during_a_slow_code_exchange_discards_and_revokes_the_tokens() {
    let fx = Fixture::new().await;
    let (auth, exchange) = slow_exchange_in_flight(&fx).await;
    auth.cancel_sign_in(None);

    let late = exchange.await.unwrap();
    assert_eq!(late.unwrap_err().code(), "superseded");
    assert_eq!(auth.view().phase, Phase::SignedOut);
    assert!(auth.access_token().is_none());
    assert!(fx.store.load().unwrap().is_none(), "nothing stored");
    let state = fx.control.state().await;
    assert_eq!(state["codes_exchanged"], 1, "Genesys did issue tokens");
    assert!(
        state["families_revoked"].as_u64().unwrap() >= 1,
        "and they were revoked: {state}"
    );
    every_issued_access_token_is_dead(&fx).await;
    assert_eq!(fx.service().silent_start().await.phase, Phase::SignedOut);
}

#[tokio::test]
async fn sign_out_during_a_slow_code_exchange_discards_and_revokes_the_tokens() {
    let fx = Fixture::new().await;
    let (auth, exchange) = slow_exchange_in_flight(&fx).await;
    auth.sign_out().await;

    assert_eq!(exchange.await.unwrap().unwrap_err().code(), "superseded");
    assert_eq!(auth.view().phase, Phase::SignedOut);
    assert!(fx.store.load().unwrap().is_none());
    every_issued_access_token_is_dead(&fx).await;
    assert_eq!(fx.service().silent_start().await.phase, Phase::SignedOut);
}

#[tokio::test]
async fn a_new_sign_in_stops_the_previous_sign_ins_wait() {
    let fx = Fixture::new().await;
    let auth = fx.service();
    auth.begin_sign_in(RedirectMode::DeepLink).unwrap();
    let ended = auth.sign_in_ended();
    auth.cancel_sign_in(None);
    tokio::time::timeout(Duration::from_secs(1), ended)
        .await
        .expect("Cancel ends the sign-in's wait (and so its loopback listener)");
    let ended = auth.sign_in_ended();
    auth.sign_out().await;
    tokio::time::timeout(Duration::from_secs(1), ended)
        .await
        .expect("sign-out ends it too");
}
