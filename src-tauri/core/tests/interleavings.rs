//! A property of the session under concurrency: whatever renewals, sign-ins, silent starts and
//! auth-errors are in flight, and however slow Genesys answers them, a sign-out that starts
//! after all of them ends with the agent signed out, no access token in memory and nothing in
//! the keychain. (Quitting with `session.forget_at_quit` is this same sign-out; quitting
//! without it keeps the sign-in on purpose.)
//!
//! Each case runs on tokio's paused clock with the test kit's scripted Genesys API, so the
//! interleaving is decided by the generated start times and delays, not by the machine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use agent_shell_core::config::RedirectMode;
use agent_shell_core::oauth::TokenError;
use agent_shell_core::platform::keychain::SecretStore;
use agent_shell_core::session::auth::{AuthService, Phase, RedirectTransport};
use agent_shell_test_kit::StoredSession;
use proptest::prelude::*;

#[derive(Debug, Clone, Copy)]
enum Op {
    Refresh,
    RenewIfDue,
    AuthError,
    SignIn,
    SilentStart,
    SignOut,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Refresh),
        Just(Op::RenewIfDue),
        Just(Op::AuthError),
        Just(Op::SignIn),
        Just(Op::SilentStart),
        Just(Op::SignOut),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    /// Each operation with the virtual millisecond it starts at.
    ops: Vec<(Op, u64)>,
    /// How long after the last of them the final sign-out starts.
    final_after_ms: u64,
    revoke_delay_ms: u64,
    refuse_refreshes: bool,
    /// Token lifetime: short ones make renew-if-due and the auth-error gate act.
    lifetime_secs: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec((op(), 0u64..300), 1..7),
        0u64..120,
        0u64..400,
        any::<bool>(),
        prop_oneof![Just(1u64), Just(30), Just(3600)],
    )
        .prop_map(
            |(ops, final_after_ms, revoke_delay_ms, refuse_refreshes, lifetime_secs)| Case {
                ops,
                final_after_ms,
                revoke_delay_ms,
                refuse_refreshes,
                lifetime_secs,
            },
        )
}

async fn sign_in(auth: &AuthService) {
    let Ok(request) = auth.begin_sign_in(RedirectMode::DeepLink) else {
        return;
    };
    let state = request
        .url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    // The browser takes a moment; the sign-out may come in between.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let redirect = format!("com.agentshell.desktop:/oauth/callback?code=c&state={state}");
    let _ = auth
        .complete_sign_in(&redirect, RedirectTransport::DeepLink)
        .await;
}

async fn run(case: Case) -> Result<(), String> {
    let StoredSession {
        auth, api, store, ..
    } = StoredSession::new(
        "environment = \"mypurecloud.ie\"\nclient_id = \"c\"\n",
        Duration::from_secs(case.lifetime_secs),
    );
    auth.silent_start().await;
    api.slow_revocations(Duration::from_millis(case.revoke_delay_ms));
    if case.refuse_refreshes {
        api.refuse_refreshes(TokenError::Network("connection reset".into()));
    }

    let mut tasks = Vec::new();
    for (op, at) in case.ops.iter().copied() {
        let auth = auth.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(at)).await;
            match op {
                Op::Refresh => drop(auth.refresh().await),
                Op::RenewIfDue => drop(auth.renew_if_due().await),
                Op::AuthError => drop(auth.on_auth_error().await),
                Op::SignIn => sign_in(&auth).await,
                Op::SilentStart => drop(auth.silent_start().await),
                Op::SignOut => drop(auth.sign_out().await),
            }
        }));
    }
    let last_start = case.ops.iter().map(|(_, at)| *at).max().unwrap_or(0);
    // One millisecond past the last start: every operation has begun (on the paused clock all
    // of them have run up to their first wait), so the sign-out is the last to start.
    tokio::time::sleep(Duration::from_millis(last_start + 1 + case.final_after_ms)).await;
    let signed_out = auth.sign_out().await;
    for task in tasks {
        task.await
            .map_err(|e| format!("an operation panicked: {e}"))?;
    }
    // Anything still scheduled (a deferred renewal, a late answer) has time to misbehave.
    tokio::time::sleep(Duration::from_secs(30)).await;

    let view = auth.view();
    if signed_out.phase != Phase::SignedOut || view.phase != Phase::SignedOut {
        return Err(format!(
            "phase after sign-out: {:?}, later {:?}",
            signed_out.phase, view.phase
        ));
    }
    if auth.access_token().is_some() {
        return Err("an access token outlived sign-out".into());
    }
    if store.load().unwrap().is_some() || store.record_count() != 0 {
        return Err("a refresh token is in the keychain after sign-out".into());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_interleaving_leaves_a_token_after_sign_out(case in case()) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        let outcome = runtime.block_on(run(case.clone()));
        prop_assert!(outcome.is_ok(), "{:?}: {}", case, outcome.unwrap_err());
    }
}
