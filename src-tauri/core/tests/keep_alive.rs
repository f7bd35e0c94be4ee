//! The keep-alive loop on tokio's paused clock, with a scripted Genesys API and a wall clock
//! that follows tokio's (and can jump, like a machine waking from sleep). Every timing here is
//! exact virtual time: renewals at the margin, a shift of short tokens in which no token ever
//! expires before its successor, one renewal (not a storm) after waking, an unrenewable
//! session warned then ended. The emulator-backed tests (refresh.rs) cover the real HTTP path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use agent_shell_core::config::{parse_str, RedirectMode};
use agent_shell_core::oauth::TokenError;
use agent_shell_core::platform::keychain::{MemoryStore, SecretStore};
use agent_shell_core::session::auth::{AuthService, Phase, RedirectTransport};
use agent_shell_test_kit::{FakeApi, StoredSession, TestClock};

const CHECK_EVERY: Duration = Duration::from_secs(15);

/// A signed-in engine (silent start from a stored refresh token) with its keep-alive running.
async fn running(
    lifetime: Duration,
    margin_secs: u64,
) -> (Arc<AuthService>, Arc<FakeApi>, Arc<TestClock>) {
    let StoredSession {
        auth, api, clock, ..
    } = StoredSession::new(
        &format!(
            "environment = \"mypurecloud.ie\"\nclient_id = \"c\"\n[session]\nrefresh_margin_secs = {margin_secs}\n"
        ),
        lifetime,
    );
    assert_eq!(auth.silent_start().await.phase, Phase::SignedIn);
    let keeper = auth.clone();
    tokio::spawn(async move { keeper.keep_alive(CHECK_EVERY, |_| {}).await });
    (auth, api, clock)
}

#[tokio::test(start_paused = true)]
async fn renews_exactly_at_the_margin_before_expiry() {
    let (_auth, api, _clock) = running(Duration::from_secs(600), 120).await;
    tokio::time::sleep(Duration::from_secs(479)).await;
    assert_eq!(api.issued().len(), 1, "nothing before the margin");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let issued = api.issued();
    assert_eq!(issued.len(), 2, "renewed at the margin");
    let (renewed_at, _) = issued[1];
    let due = issued[0].1 - Duration::from_secs(120);
    assert!(
        renewed_at >= due && renewed_at <= due + Duration::from_millis(100),
        "renewed at {renewed_at:?}, due at {due:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_shift_of_short_tokens_never_lets_one_expire_before_its_successor() {
    // 3-second tokens for a 9-hour shift compressed to 900 virtual seconds: the margin is a
    // third of the life (1 s).
    let (auth, api, _clock) = running(Duration::from_secs(3), 120).await;
    tokio::time::sleep(Duration::from_secs(900)).await;
    let issued = api.issued();
    assert!(issued.len() >= 440, "{} renewals", issued.len());
    for pair in issued.windows(2) {
        let ((_, expires), (next_issued, _)) = (pair[0], pair[1]);
        assert!(
            next_issued < expires,
            "a token expired at {expires:?} before the next came at {next_issued:?}"
        );
    }
    assert_eq!(auth.view().phase, Phase::SignedIn);
}

#[tokio::test(start_paused = true)]
async fn waking_long_after_expiry_renews_once_not_in_a_storm() {
    let (auth, api, clock) = running(Duration::from_secs(600), 120).await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    // The lid closes for an hour: the wall clock runs on, tokio's does not.
    clock.jump(Duration::from_secs(3600));
    tokio::time::sleep(CHECK_EVERY + Duration::from_secs(1)).await;
    assert_eq!(api.issued().len(), 2, "exactly one renewal on waking");
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(api.issued().len(), 2, "and no more until the next margin");
    assert_eq!(auth.view().phase, Phase::SignedIn);
}

#[tokio::test(start_paused = true)]
async fn an_unrenewable_session_is_warned_inside_the_margin_then_ended() {
    let clock = TestClock::new();
    let api = FakeApi::new(clock.clone(), Duration::from_secs(600), false);
    let config = parse_str("environment = \"mypurecloud.ie\"\nclient_id = \"c\"\n").unwrap();
    let auth = Arc::new(
        AuthService::new(config, Arc::new(MemoryStore::default()))
            .unwrap()
            .with_api(api.clone())
            .with_clock(clock.clone()),
    );
    // An interactive sign-in: the redirect carries the state of the authorize URL.
    let request = auth.begin_sign_in(RedirectMode::DeepLink).unwrap();
    let state = request
        .url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let redirect = format!("com.agentshell.desktop:/oauth/callback?code=c1&state={state}");
    let view = auth
        .complete_sign_in(&redirect, RedirectTransport::DeepLink)
        .await
        .unwrap();
    assert!(!view.refreshable);
    let keeper = auth.clone();
    tokio::spawn(async move { keeper.keep_alive(CHECK_EVERY, |_| {}).await });

    tokio::time::sleep(Duration::from_secs(470)).await;
    assert!(auth
        .view()
        .notice
        .is_none_or(|n| n.code != "session_ending"));
    tokio::time::sleep(Duration::from_secs(20)).await;
    let notice = auth.view().notice.expect("warned inside the margin");
    assert_eq!(notice.code, "session_ending");
    assert!(
        notice.message.contains("about 2 minute"),
        "{}",
        notice.message
    );
    tokio::time::sleep(Duration::from_secs(125)).await;
    let view = auth.view();
    assert_eq!(view.phase, Phase::ReloginRequired);
    assert_eq!(view.notice.unwrap().code, "session_ended");
    assert_eq!(api.issued().len(), 1, "nothing was renewed");
}

/// A renewal that starts while sign-out is revoking (issue 17's reproduction): it must neither
/// write the rotated refresh token back to the keychain nor set the session signed in (or
/// asking for a new sign-in) after an explicit sign-out, whether it would succeed or fail.
#[tokio::test(start_paused = true)]
async fn a_renewal_started_while_sign_out_revokes_commits_nothing() {
    for refuse in [false, true] {
        let StoredSession {
            auth, api, store, ..
        } = StoredSession::new(
            "environment = \"mypurecloud.ie\"\nclient_id = \"c\"\n",
            Duration::from_secs(3600),
        );
        assert_eq!(auth.silent_start().await.phase, Phase::SignedIn);
        api.slow_revocations(Duration::from_secs(2));
        if refuse {
            api.refuse_refreshes(TokenError::Network("connection reset".into()));
        }
        let sign_out = tokio::spawn({
            let auth = auth.clone();
            async move { auth.sign_out().await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let renewal = auth.refresh().await;
        assert!(
            renewal.is_err(),
            "no renewal after sign-out began: {renewal:?}"
        );
        let signed_out = sign_out.await.unwrap();
        assert_eq!(signed_out.phase, Phase::SignedOut);
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(auth.view().phase, Phase::SignedOut, "refuse={refuse}");
        assert!(auth.access_token().is_none());
        assert!(store.load().unwrap().is_none(), "keychain empty");
    }
}

/// Issue 19: a renewal whose tries fail while the access token is still valid keeps the
/// session (and the client) with a calm notice, tries again after growing gaps, and asks for
/// a new sign-in only when the token has really ended: never retrying forever.
#[tokio::test(start_paused = true)]
async fn a_failing_token_endpoint_defers_renewal_until_the_token_really_ends() {
    let (auth, api, _clock) = running(Duration::from_secs(600), 120).await;
    api.refuse_refreshes(TokenError::Network("connection reset".into()));
    tokio::time::sleep(Duration::from_secs(490)).await;
    let view = auth.view();
    assert_eq!(view.phase, Phase::SignedIn, "{view:?}");
    assert_eq!(view.notice.as_ref().unwrap().code, "renewal_deferred");
    assert!(auth.access_token().is_some());

    tokio::time::sleep(Duration::from_secs(105)).await;
    let phase = auth.view().phase;
    assert!(
        matches!(phase, Phase::SignedIn | Phase::Refreshing),
        "still valid at 595 s: {phase:?}"
    );
    assert!(auth.access_token().is_some());
    tokio::time::sleep(Duration::from_secs(10)).await;
    let view = auth.view();
    assert_eq!(view.phase, Phase::ReloginRequired, "ended with the token");
    assert_eq!(view.notice.unwrap().code, "token_network");

    // Episodes at 480 s, then 15, 30, 60 s later, and the last at the token's expiry: each
    // three tries, none after the token ended.
    // (The first call is the silent start's, which succeeded.)
    let episodes: Vec<u64> = api.refresh_calls()[1..]
        .chunks(3)
        .map(|tries| tries[0].as_secs())
        .collect();
    assert_eq!(episodes.first(), Some(&480), "{episodes:?}");
    assert_eq!(
        episodes.last(),
        Some(&600),
        "the last at expiry: {episodes:?}"
    );
    let gaps: Vec<u64> = episodes.windows(2).map(|w| w[1] - w[0]).collect();
    let before_expiry = &gaps[..gaps.len() - 1];
    assert!(
        before_expiry.len() >= 2 && before_expiry.windows(2).all(|g| g[1] > g[0]),
        "growing gaps: {episodes:?}"
    );
    let calls = api.refresh_calls().len();
    assert_eq!(calls, 1 + episodes.len() * 3, "three tries an episode");
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(
        api.refresh_calls().len(),
        calls,
        "no retries after the token ended"
    );
}

#[tokio::test(start_paused = true)]
async fn the_session_carries_on_without_a_new_sign_in_when_the_endpoint_is_back() {
    let (auth, api, _clock) = running(Duration::from_secs(600), 120).await;
    api.refuse_refreshes(TokenError::ServerUnavailable {
        status: 503,
        retry_after: None,
    });
    tokio::time::sleep(Duration::from_secs(530)).await;
    assert_eq!(
        auth.view().notice.unwrap().code,
        "renewal_deferred",
        "a minute of failures"
    );
    api.accept_refreshes();
    tokio::time::sleep(Duration::from_secs(60)).await;
    let view = auth.view();
    assert_eq!(view.phase, Phase::SignedIn);
    assert!(view.notice.is_none(), "{view:?}");
    assert_eq!(api.issued().len(), 2, "renewed once the endpoint answered");
    // And the next renewal is due at the new token's margin again.
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(api.issued().len(), 3);
    assert_eq!(auth.view().phase, Phase::SignedIn);
}
