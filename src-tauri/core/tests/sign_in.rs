//! Sign-in, silent start and sign-out against the real emulator over HTTP, without a window.
//! The keychain here is the in-memory store (the real Secret Service is exercised by the
//! end-to-end tests in the app crate).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use agent_shell_core::config::RedirectMode;
use agent_shell_core::platform::keychain::{KeychainError, SecretStore};
use agent_shell_core::session::auth::{Phase, RedirectTransport};
use agent_shell_core::ErrorCode;
use agent_shell_test_kit::{FaultExt, FaultKind, Settings};
use common::Fixture;
use serde_json::json;

#[test]
fn the_emulator_requires_the_same_scopes_as_the_shell() {
    // Two independent crates state Genesys' required scopes; they must not drift apart.
    assert_eq!(
        agent_shell_core::config::REQUIRED_SCOPES,
        genesys_emulator::REQUIRED_SCOPES
    );
}

#[tokio::test]
async fn deep_link_sign_in_stores_the_refresh_token_and_exchanges_the_code_once() {
    let fx = Fixture::new().await;
    let auth = fx.service();
    let request = auth.begin_sign_in(RedirectMode::DeepLink).unwrap();
    assert_eq!(auth.view().phase, Phase::SigningIn);
    let location = fx.browse(&request.url).await;
    assert!(
        location.starts_with("com.agentshell.desktop:/oauth/callback?code="),
        "{location}"
    );

    let view = auth
        .complete_sign_in(&location, RedirectTransport::DeepLink)
        .await
        .unwrap();
    assert_eq!(view.phase, Phase::SignedIn);
    assert_eq!(
        view.user.as_ref().unwrap().name.as_deref(),
        Some("Alex Agent")
    );
    assert!(view.persisted && view.refreshable && view.notice.is_none());
    assert!(
        fx.store.load().unwrap().is_some(),
        "refresh token in the keychain"
    );
    assert_eq!(fx.control.state().await["codes_exchanged"], json!(1));

    // Replaying the same redirect changes nothing and exchanges nothing.
    let replay = auth
        .complete_sign_in(&location, RedirectTransport::DeepLink)
        .await
        .unwrap_err();
    assert_eq!(replay.code(), "sign_in_not_pending");
    assert_eq!(auth.view().phase, Phase::SignedIn);
    assert_eq!(fx.control.state().await["codes_exchanged"], json!(1));
}

#[tokio::test]
async fn loopback_sign_in_works_with_the_loopback_redirect_uri() {
    let fx = Fixture::new().await;
    let auth = fx.service();
    let request = auth.begin_sign_in(RedirectMode::Loopback).unwrap();
    assert_eq!(
        request.redirect_uri,
        "http://127.0.0.1:47615/oauth/callback"
    );
    let location = fx.browse(&request.url).await;
    let target = location.strip_prefix("http://127.0.0.1:47615").unwrap();
    let view = auth
        .complete_sign_in(target, RedirectTransport::Loopback)
        .await
        .unwrap();
    assert_eq!(view.phase, Phase::SignedIn);
}

#[tokio::test]
async fn spoofed_and_malformed_redirects_change_nothing() {
    let fx = Fixture::new().await;
    let auth = fx.service();
    let request = auth.begin_sign_in(RedirectMode::DeepLink).unwrap();
    for (raw, code) in [
        (
            "com.agentshell.desktop:/oauth/callback?code=x&state=forged",
            "sign_in_state_mismatch",
        ),
        (
            "com.agentshell.desktop:/oauth/callback?state=only",
            "callback_missing_param",
        ),
        (
            "evil.scheme:/oauth/callback?code=x&state=y",
            "callback_foreign_scheme",
        ),
        (
            "com.agentshell.desktop:/other?code=x&state=y",
            "callback_wrong_path",
        ),
    ] {
        let error = auth
            .complete_sign_in(raw, RedirectTransport::DeepLink)
            .await
            .unwrap_err();
        assert_eq!(error.code(), code, "{raw}");
    }
    assert!(fx.store.load().unwrap().is_none());
    assert_eq!(fx.control.state().await["codes_exchanged"], json!(0));
    // the real sign-in is still pending and completes
    let location = fx.browse(&request.url).await;
    auth.complete_sign_in(&location, RedirectTransport::DeepLink)
        .await
        .unwrap();
    let second = auth.begin_sign_in(RedirectMode::DeepLink).unwrap();
    assert!(
        auth.begin_sign_in(RedirectMode::DeepLink).is_err(),
        "one pending login at a time"
    );
    drop(second);
}

#[tokio::test]
async fn missing_scopes_are_named_and_nothing_is_stored() {
    let fx = Fixture::new().await;
    fx.control
        .settings(Settings::grant_scopes(Some(&[
            "users:readonly",
            "presence",
            "routing",
            "notifications",
            "stations:readonly",
            "organization:readonly",
        ])))
        .await;
    let auth = fx.service();
    let error = fx.try_sign_in(&auth).await.unwrap_err();
    assert_eq!(error.code(), "token_missing_scopes");
    let message = error.to_string();
    assert!(message.contains("conversations"), "{message}");
    assert!(message.contains("answer, hold"), "{message}");
    assert!(fx.store.load().unwrap().is_none());
    // The refused tokens were revoked before they were dropped: none of them still works.
    let issued = fx.control.issued_tokens().await;
    assert!(!issued.is_empty());
    for token in issued {
        let token = agent_shell_core::secret::AccessToken::new(token);
        assert_eq!(
            fx.users_me_status(&token).await,
            401,
            "a refused token still works"
        );
    }
    let view = auth.view();
    assert_eq!(view.phase, Phase::SignedOut);
    assert_eq!(view.notice.unwrap().code, "token_missing_scopes");
}

#[tokio::test]
async fn idp_error_redirect_is_shown_in_words() {
    let fx = Fixture::new().await;
    fx.control
        .fault(FaultKind::AuthorizeError.error("access_denied"))
        .await;
    let auth = fx.service();
    let error = fx.try_sign_in(&auth).await.unwrap_err();
    assert_eq!(error.code(), "sign_in_refused");
    assert!(error.to_string().contains("access was denied"), "{error}");
    assert_eq!(auth.view().phase, Phase::SignedOut);
}

#[tokio::test]
async fn next_launch_signs_in_silently_and_rotates_the_stored_token() {
    let fx = Fixture::new().await;
    fx.sign_in(&fx.service()).await;
    let first = fx.store.load().unwrap().unwrap().expose().to_string();

    let next_launch = fx.service();
    let view = next_launch.silent_start().await;
    assert_eq!(view.phase, Phase::SignedIn);
    assert!(view.persisted);
    let rotated = fx.store.load().unwrap().unwrap().expose().to_string();
    assert_ne!(first, rotated, "rotation stored");
    let state = fx.control.state().await;
    assert_eq!(state["refreshes_served"], json!(1));
    assert_eq!(state["refresh_reuse_detected"], json!(0));
}

#[tokio::test]
async fn invalid_grant_at_silent_start_deletes_the_token_without_a_loop() {
    let fx = Fixture::new().await;
    fx.sign_in(&fx.service()).await;
    fx.control.fault(FaultKind::InvalidGrant).await;
    let view = fx.service().silent_start().await;
    assert_eq!(view.phase, Phase::SignedOut);
    assert_eq!(view.notice.unwrap().code, "session_expired");
    assert!(fx.store.load().unwrap().is_none());
    assert_eq!(
        fx.control.state().await["token_requests"],
        json!(2),
        "one exchange + one refresh, no retry"
    );
}

#[tokio::test]
async fn locked_keychain_keeps_the_session_in_memory_and_says_so() {
    let fx = Fixture::new().await;
    fx.store.fail_with(Some(KeychainError::Unavailable(
        "collection is locked".into(),
    )));
    let auth = fx.service();
    fx.sign_in(&auth).await;
    let view = auth.view();
    assert_eq!(view.phase, Phase::SignedIn);
    assert!(!view.persisted && view.refreshable);
    let notice = view.notice.unwrap();
    assert_eq!(notice.code, "keychain_unavailable");
    assert!(
        notice.message.contains("sign in again the next time"),
        "{}",
        notice.message
    );
    // and at the next launch: a clear notice, no crash
    let view = fx.service().silent_start().await;
    assert_eq!(view.phase, Phase::SignedOut);
    assert_eq!(view.notice.unwrap().code, "keychain_unavailable");
}

#[tokio::test]
async fn no_refresh_token_means_nothing_stored_and_a_notice() {
    let fx = Fixture::new().await;
    fx.control
        .settings(Settings {
            public_refresh_tokens: Some(false),
            ..Settings::default()
        })
        .await;
    let auth = fx.service();
    fx.sign_in(&auth).await;
    let view = auth.view();
    assert_eq!(view.phase, Phase::SignedIn);
    assert!(!view.refreshable && !view.persisted);
    assert_eq!(view.notice.unwrap().code, "no_refresh_token");
    assert!(
        view.expires_at_ms.is_some(),
        "the UI can say when the session ends"
    );
    assert_eq!(fx.store.record_count(), 0);
}

#[tokio::test]
async fn sign_out_revokes_deletes_and_works_offline() {
    let fx = Fixture::new().await;
    let auth = fx.service();
    fx.sign_in(&auth).await;
    let token = auth.access_token().unwrap();
    let view = auth.sign_out().await;
    assert_eq!(view.phase, Phase::SignedOut);
    assert!(view.notice.is_none(), "revocation confirmed");
    assert!(fx.store.load().unwrap().is_none());
    assert_eq!(
        fx.users_me_status(&token).await,
        401,
        "revoked at the server"
    );

    let auth = fx.service();
    fx.sign_in(&auth).await;
    let Fixture {
        emulator, store, ..
    } = fx;
    emulator.shutdown().await;
    let view = auth.sign_out().await;
    assert_eq!(view.phase, Phase::SignedOut);
    assert_eq!(view.notice.unwrap().code, "revocation_unconfirmed");
    assert!(
        store.load().unwrap().is_none(),
        "local state cleared offline"
    );
}

#[tokio::test]
async fn the_configured_session_settings_reach_the_engine_uncapped() {
    let fx = Fixture::new().await;
    let urls = fx.emulator.urls();
    let config = agent_shell_core::config::parse_str(&format!(
        "client_id = \"{}\"\n[local_emulator]\nlogin = \"{}\"\napi = \"{}\"\nmedia = \"{}\"\n\
         [session]\nattempt_timeout_secs = 45\nmax_retry_after_secs = 50\nrefresh_margin_secs = 900\nmax_attempts = 2\n",
        genesys_emulator::DEMO_CLIENT_ID,
        urls.login,
        urls.api,
        urls.media
    ))
    .unwrap();
    let expected = config.refresh;
    let auth = agent_shell_core::session::auth::AuthService::new(config, fx.store.clone()).unwrap();
    let policy = auth.refresh_policy();
    assert_eq!(*policy, expected);
    assert_eq!(policy.attempt_timeout, std::time::Duration::from_secs(45));
    assert_eq!(policy.max_retry_after, std::time::Duration::from_secs(50));
    assert_eq!(policy.max_attempts, 2);
    // The emulator's compressed lifetimes are believed from 1 s; a real environment's from 30 s.
    assert_eq!(
        policy.min_lifetime,
        agent_shell_core::config::EMULATOR_MIN_LIFETIME
    );
    let real = agent_shell_core::config::parse_str(
        "environment = \"mypurecloud.ie\"\nclient_id = \"c\"\n",
    )
    .unwrap();
    assert_eq!(
        real.refresh.min_lifetime,
        agent_shell_core::config::MIN_LIFETIME
    );
}
