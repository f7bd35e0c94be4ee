//! The session engine as the app drives it: typed inputs in, effects out through an edge that
//! records them, against a scripted Genesys API on tokio's paused clock. These are the glue's
//! decisions (what is shown, when the browser opens, when the agent is called, what a client
//! message may cause), tested without a window; tests/e2e_*.rs run the same engine in the app.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_shell_core::config::parse_str;
use agent_shell_core::embed::links::CrmHook;
use agent_shell_core::embed::{ClientEvent, RenewalRequest};
use agent_shell_core::oauth::TokenError;
use agent_shell_core::platform::keychain::{MemoryStore, SecretStore};
use agent_shell_core::secret::RefreshToken;
use agent_shell_core::session::auth::{AuthService, Phase};
use agent_shell_core::session::engine::{
    parse_client_message, Edge, Effect, SessionEngine, ATTENTION_TITLE,
};
use agent_shell_test_kit::{FakeApi, TestClock};
use serde_json::json;

#[derive(Default)]
struct RecordingEdge {
    effects: Mutex<Vec<Effect>>,
    in_view: AtomicBool,
    no_browser: AtomicBool,
}

impl Edge for RecordingEdge {
    fn execute(&self, effect: Effect) -> Result<(), String> {
        let failed =
            matches!(effect, Effect::OpenBrowser(_)) && self.no_browser.load(Ordering::SeqCst);
        self.effects.lock().unwrap().push(effect);
        if failed {
            return Err("no browser is installed".into());
        }
        Ok(())
    }

    fn window_in_view(&self) -> bool {
        self.in_view.load(Ordering::SeqCst)
    }
}

impl RecordingEdge {
    fn take(&self) -> Vec<Effect> {
        std::mem::take(&mut *self.effects.lock().unwrap())
    }

    fn phases_shown(effects: &[Effect]) -> Vec<Phase> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::ShowSession(view) => Some(view.phase),
                _ => None,
            })
            .collect()
    }
}

struct Desk {
    engine: Arc<SessionEngine>,
    edge: Arc<RecordingEdge>,
    api: Arc<FakeApi>,
    store: Arc<MemoryStore>,
}

/// An engine with `extra` configuration; `stored`: a refresh token in the keychain.
fn desk(extra: &str, stored: bool) -> Desk {
    let clock = TestClock::new();
    let api = FakeApi::new(clock.clone(), Duration::from_secs(600), true);
    let store = Arc::new(MemoryStore::default());
    if stored {
        store.save(&RefreshToken::new("stored")).unwrap();
    }
    let config = parse_str(&format!(
        "environment = \"mypurecloud.ie\"\nclient_id = \"c\"\n{extra}"
    ))
    .unwrap();
    let crm = CrmHook::for_config(&config);
    let auth = Arc::new(
        AuthService::new(config, store.clone())
            .unwrap()
            .with_api(api.clone())
            .with_clock(clock),
    );
    let edge = Arc::new(RecordingEdge::default());
    let engine =
        SessionEngine::with_keep_alive_check(auth, crm, edge.clone(), Duration::from_secs(5));
    Desk {
        engine,
        edge,
        api,
        store,
    }
}

fn expiring_message(message: &serde_json::Value) -> ClientEvent {
    parse_client_message(message.clone(), Some(RenewalRequest::TokenExpiring)).unwrap()
}

fn refused_message(message: &serde_json::Value) -> ClientEvent {
    parse_client_message(message.clone(), Some(RenewalRequest::AuthError)).unwrap()
}

/// Launches and waits (in virtual time) for the silent start to finish.
async fn launched(desk: &Desk, redirect: Option<String>) {
    let started = desk
        .engine
        .auth()
        .begin_silent_start(&tokio::runtime::Handle::current());
    desk.engine.launch(started, redirect);
    tokio::time::sleep(Duration::from_secs(1)).await;
}

fn state_of(url: &url::Url) -> String {
    url.query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_deep_link_sign_in_opens_the_browser_then_shows_the_agent_and_brings_the_window_forward()
{
    let desk = desk("", false);
    launched(&desk, None).await;
    assert_eq!(
        RecordingEdge::phases_shown(&desk.edge.take()),
        vec![Phase::SignedOut]
    );

    let started = desk.engine.start_sign_in().await.unwrap();
    assert!(started.browser_opened);
    assert_eq!(
        started.redirect_uri,
        "com.agentshell.desktop:/oauth/callback"
    );
    assert!(started.redirect_note.is_none());
    let effects = desk.edge.take();
    let url = url::Url::parse(&started.url).unwrap();
    assert_eq!(
        effects,
        vec![
            Effect::ShowSession(desk.engine.auth().view()),
            Effect::OpenBrowser(url.clone())
        ]
    );
    assert_eq!(
        RecordingEdge::phases_shown(&effects),
        vec![Phase::SigningIn]
    );

    let redirect = format!(
        "com.agentshell.desktop:/oauth/callback?code=c1&state={}",
        state_of(&url)
    );
    desk.engine.deep_link(&redirect).await;
    let effects = desk.edge.take();
    assert_eq!(effects[0], Effect::FocusWindow);
    assert_eq!(RecordingEdge::phases_shown(&effects), vec![Phase::SignedIn]);
    assert!(desk.store.load().unwrap().is_some());

    // The same redirect again: refused, nothing brought forward, still signed in.
    desk.engine.deep_link(&redirect).await;
    let effects = desk.edge.take();
    assert!(!effects.contains(&Effect::FocusWindow));
    assert_eq!(RecordingEdge::phases_shown(&effects), vec![Phase::SignedIn]);
}

#[tokio::test(start_paused = true)]
async fn a_browser_that_does_not_open_is_reported_with_the_link_to_copy() {
    let desk = desk("", false);
    desk.edge.no_browser.store(true, Ordering::SeqCst);
    let started = desk.engine.start_sign_in().await.unwrap();
    assert!(!started.browser_opened);
    assert_eq!(
        started.browser_error.as_deref(),
        Some("no browser is installed")
    );
    assert!(started
        .url
        .starts_with("https://login.mypurecloud.ie/oauth/authorize?"));
    assert_eq!(
        desk.engine.auth().view().phase,
        Phase::SigningIn,
        "still waiting"
    );
}

#[tokio::test(start_paused = true)]
async fn a_lost_session_calls_for_attention_once_and_only_out_of_view() {
    for in_view in [false, true] {
        let desk = desk("", true);
        desk.edge.in_view.store(in_view, Ordering::SeqCst);
        launched(&desk, None).await;
        assert_eq!(desk.engine.auth().view().phase, Phase::SignedIn);
        desk.api.refuse_refreshes(TokenError::InvalidGrant(None));
        let renewed = desk.engine.renew().await;
        assert_eq!(renewed.unwrap_err().code, "token_invalid_grant");
        // Asked again (the page's retry): no second call.
        let _ = desk.engine.renew().await;
        let calls: Vec<Effect> = desk
            .edge
            .take()
            .into_iter()
            .filter(|e| matches!(e, Effect::CallForAttention { .. }))
            .collect();
        if in_view {
            assert!(
                calls.is_empty(),
                "in view: the screen says it, nothing pops up"
            );
        } else {
            assert_eq!(calls.len(), 1, "{calls:?}");
            let Effect::CallForAttention { title, body } = &calls[0] else {
                unreachable!()
            };
            assert_eq!(title, ATTENTION_TITLE);
            assert!(body.contains("no longer valid"), "{body}");
        }
        assert_eq!(desk.engine.auth().view().phase, Phase::ReloginRequired);
    }
}

#[tokio::test(start_paused = true)]
async fn token_expiring_renews_only_when_a_renewal_is_due_and_only_for_that_message() {
    let desk = desk("", true);
    launched(&desk, None).await;
    let expiring = json!({"type": "agent-shell:token-expiring", "expiresIn": 60});
    for _ in 0..5 {
        desk.engine
            .client_token_expiring(expiring_message(&expiring))
            .await
            .unwrap();
    }
    assert_eq!(
        desk.api.issued().len(),
        1,
        "a client repeating the message causes no storm"
    );
    // Another message sent to the renewal command is refused.
    let wrong = parse_client_message(
        json!({"type": "agent-shell:ready"}),
        Some(RenewalRequest::TokenExpiring),
    )
    .unwrap_err();
    assert_eq!(wrong.code, "embed_message_invalid");
    // Just before the margin (600 s tokens, 120 s margin): still nothing to renew.
    tokio::time::sleep(Duration::from_millis(478_800)).await;
    desk.engine
        .client_token_expiring(expiring_message(&expiring))
        .await
        .unwrap();
    assert_eq!(desk.api.issued().len(), 1);
    // Inside it, the keep-alive loop and the client's message together renew once, not twice.
    tokio::time::sleep(Duration::from_millis(400)).await;
    desk.engine
        .client_token_expiring(expiring_message(&expiring))
        .await
        .unwrap();
    assert_eq!(desk.api.issued().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_auth_error_renews_once_then_a_repeat_is_reported() {
    let desk = desk("", true);
    launched(&desk, None).await;
    let refused = json!({"type": "agent-shell:auth-error", "status": 401});
    let first = desk
        .engine
        .client_auth_error(refused_message(&refused))
        .await
        .unwrap();
    assert_eq!(serde_json::to_value(&first).unwrap()["action"], "renewed");
    let second = desk
        .engine
        .client_auth_error(refused_message(&refused))
        .await
        .unwrap();
    assert_eq!(serde_json::to_value(&second).unwrap()["action"], "report");
    assert_eq!(desk.api.issued().len(), 2, "one renewal in all");
}

#[tokio::test(start_paused = true)]
async fn an_ended_interaction_opens_the_crm_page_once() {
    let desk = desk(
        "[crm]\ninteraction_url = \"https://crm.example.com/case?interaction={interactionId}\"\n",
        true,
    );
    launched(&desk, None).await;
    desk.edge.take();
    let ended = json!({"type": "agent-shell:interaction-end", "interactionId": "i-42"});
    for _ in 0..3 {
        desk.engine
            .client_event(parse_client_message(ended.clone(), None).unwrap())
            .unwrap();
    }
    let opened: Vec<Effect> = desk.edge.take();
    assert_eq!(
        opened,
        vec![Effect::OpenLink {
            url: url::Url::parse("https://crm.example.com/case?interaction=i-42").unwrap(),
            source: "crm"
        }]
    );
    let junk = parse_client_message(json!({"type": "agent-shell:teleport"}), None).unwrap_err();
    assert_eq!(junk.code, "embed_message_unknown");
}

#[tokio::test(start_paused = true)]
async fn sign_out_forgets_the_webview_data_and_shows_signed_out() {
    let desk = desk("", true);
    launched(&desk, None).await;
    desk.edge.take();
    let view = desk.engine.sign_out().await;
    assert_eq!(view.phase, Phase::SignedOut);
    let effects = desk.edge.take();
    assert_eq!(effects[0], Effect::ForgetBrowsingData);
    assert_eq!(
        RecordingEdge::phases_shown(&effects),
        vec![Phase::SignedOut]
    );
    assert!(desk.store.load().unwrap().is_none());
    let credentials = desk.engine.client_init().await.unwrap_err();
    assert_eq!(credentials.code, "not_signed_in");
}

/// `sign_out_on_lock`: a lock during a call waits for the call to end; then the sign-out is the
/// same as the button's (keychain emptied, signed-out shown). Nobody signed in: nothing to do.
#[tokio::test(start_paused = true)]
async fn a_locked_desktop_signs_out_but_never_during_a_call() {
    use agent_shell_core::session::lock::LockOutcome;
    let desk = desk("[session]\nsign_out_on_lock = true\n", true);
    launched(&desk, None).await;
    desk.edge.take();
    let start = json!({"type": "agent-shell:interaction-start", "interactionId": "call-1"});
    desk.engine
        .client_event(parse_client_message(start, None).unwrap())
        .unwrap();
    assert_eq!(
        desk.engine.desktop_locked().await,
        LockOutcome::CallUnderWay
    );
    assert!(
        desk.store.load().unwrap().is_some(),
        "the call keeps its session"
    );
    assert!(desk.edge.take().is_empty(), "nothing changed on screen");

    let end = json!({"type": "agent-shell:interaction-end", "interactionId": "call-1"});
    desk.engine
        .client_event(parse_client_message(end, None).unwrap())
        .unwrap();
    assert_eq!(desk.engine.desktop_locked().await, LockOutcome::SignedOut);
    assert!(desk.store.load().unwrap().is_none());
    assert_eq!(
        RecordingEdge::phases_shown(&desk.edge.take()),
        vec![Phase::SignedOut]
    );
    assert_eq!(desk.engine.desktop_locked().await, LockOutcome::NotSignedIn);
}

#[tokio::test(start_paused = true)]
async fn a_redirect_at_cold_start_is_refused_after_the_silent_start() {
    let desk = desk("", false);
    launched(
        &desk,
        Some("com.agentshell.desktop:/oauth/callback?code=old&state=old".into()),
    )
    .await;
    let view = desk.engine.auth().view();
    assert_eq!(view.phase, Phase::SignedOut);
    assert_eq!(view.notice.unwrap().code, "sign_in_not_pending");
    assert!(desk.api.issued().is_empty(), "no code was exchanged");
}

#[tokio::test(start_paused = true)]
async fn client_init_hands_over_credentials_for_the_exact_client() {
    let desk = desk("", true);
    launched(&desk, None).await;
    let credentials = desk.engine.client_init().await.unwrap();
    let json = serde_json::to_value(&credentials).unwrap();
    assert_eq!(json["accessToken"], "access-1");
    assert_eq!(json["clientId"], "c");
    assert_eq!(json["environment"], "mypurecloud.ie");
    assert!(
        !format!("{credentials:?}").contains("access-1"),
        "Debug redacts the token"
    );
}
