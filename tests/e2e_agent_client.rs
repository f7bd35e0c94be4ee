//! End to end: the shell's own agent client in the real webview, against the emulator's small
//! contact centre over the Genesys Cloud Platform API and a real notification websocket. An
//! agent signs in, goes On Queue, takes the inbound call the emulator rings, holds, resumes,
//! mutes, sends digits, survives a token renewal mid-call, hangs up, wraps up with a code and
//! a note, sees the call in the recent list, and the CRM hook opens with the conversation id.
//! WebRTC media cannot run here (Debian's WebKitGTK has no RTCPeerConnection): call control
//! goes through the API, as for a desk phone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use fantoccini::Locator;
use genesys_emulator::RunningEmulator;
use serde_json::Value;
use support::{
    agent_config_text, browser_home, emulator, enter_client_frame, free_port, launch,
    wait_for_open, wait_until, Control, E2eApp, FaultExt, FaultKind, Ring,
};

const CRM: &str = "https://crm.example.com/case?interaction=";

/// Rings an inbound ACD call; its conversation id. Retried while the agent is not On Queue
/// yet (409).
async fn ring(emulator: &RunningEmulator, call: Ring) -> String {
    let control = Control::new(emulator);
    wait_until(
        Duration::from_secs(15),
        "the emulator to ring the agent",
        async || control.try_ring(&call).await,
    )
    .await
}

async fn call_record(emulator: &RunningEmulator, id: &str) -> Value {
    Control::new(emulator).call_record(id).await
}

/// Runs `script` inside the client frame and returns its value (back in the app page after).
/// The frame is entered afresh each time: the app page may replace it (a client restart).
async fn in_client(app: &E2eApp, script: &str) -> Value {
    let _ = app.client.enter_parent_frame().await;
    enter_client_frame(app).await;
    let value = app
        .client
        .execute(script, vec![])
        .await
        .unwrap_or(Value::Null);
    app.client.enter_parent_frame().await.unwrap();
    value
}

/// The text of `css` in the client once it is displayed (waits up to 20 s).
async fn client_text(app: &E2eApp, css: &str) -> String {
    let script = format!(
        "const e = document.querySelector({css:?}); \
         return e && e.offsetParent !== null ? e.textContent : null;"
    );
    wait_until(Duration::from_secs(20), css, async || {
        match in_client(app, &script).await {
            Value::String(text) => Ok(text),
            other => Err(format!("{other}")),
        }
    })
    .await
}

/// An attribute of `css` in the client, or None.
async fn client_attribute(app: &E2eApp, css: &str, name: &str) -> Option<String> {
    let script = format!(
        "const e = document.querySelector({css:?}); return e ? e.getAttribute({name:?}) : null;"
    );
    in_client(app, &script).await.as_str().map(str::to_string)
}

/// Waits until `css`'s `aria-pressed` says `pressed`.
async fn until_pressed(app: &E2eApp, css: &str, pressed: &str) {
    wait_until(
        Duration::from_secs(10),
        css,
        async || match client_attribute(app, css, "aria-pressed").await.as_deref() {
            Some(p) if p == pressed => Ok(()),
            other => Err(format!("aria-pressed {other:?}")),
        },
    )
    .await;
}

/// A real click inside the client frame.
async fn click(app: &E2eApp, css: &str) {
    client_text(app, css).await;
    let _ = app.client.enter_parent_frame().await;
    enter_client_frame(app).await;
    app.client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    app.client.enter_parent_frame().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus, gnome-keyring and tauri-driver: run scripts/test.sh"]
async fn an_agent_takes_an_inbound_call_from_on_queue_to_wrap_up() {
    let emulator = emulator(free_port()).await;
    let config = agent_config_text(
        &emulator,
        &format!("[crm]\ninteraction_url = \"{CRM}{{interactionId}}\"\n"),
    );
    let (home, env) = browser_home();
    let app = launch(&config, &env, home).await;
    app.click("#sign-in-button").await;
    app.visible_text("#signed-in-title").await;

    // The client runs on its own origin: a secure context (the microphone can be granted),
    // with no way into the shell's IPC and no stored token.
    let probe = wait_until(Duration::from_secs(20), "the agent client to load", async || {
        let value = in_client(
            &app,
            "if (!document.getElementById('agent-name')) return null;\
             let storage = 'none';\
             try { storage = String(localStorage.length + sessionStorage.length); } catch (e) { storage = 'blocked'; }\
             return { origin: location.origin, secure: window.isSecureContext,\
                      internals: typeof window.__TAURI_INTERNALS__, tauri: typeof window.__TAURI__,\
                      cookie: document.cookie, storage: storage,\
                      media: typeof (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) };",
        )
        .await;
        match value.is_null() {
            false => Ok(value),
            true => Err("not yet".to_string()),
        }
    })
    .await;
    assert_eq!(probe["origin"], "agent-client://localhost", "{probe}");
    assert_eq!(probe["secure"], true, "{probe}");
    assert_eq!(probe["internals"], "undefined", "no IPC bridge: {probe}");
    assert_eq!(probe["tauri"], "undefined", "{probe}");
    assert_eq!(probe["media"], "function", "{probe}");
    // IPC refused from the client's origin (its CSP allows no connection there).
    enter_client_frame(&app).await;
    let ipc = app
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             fetch('ipc://localhost/get_session', {method: 'POST', body: '{}'})\
               .then(r => done('answered ' + r.status), e => done('refused: ' + e));",
            vec![],
        )
        .await
        .unwrap();
    app.client.enter_parent_frame().await.unwrap();
    assert!(
        ipc.as_str().unwrap_or_default().starts_with("refused"),
        "{ipc}"
    );

    // Who the agent is, where calls ring, then On Queue.
    wait_until(Duration::from_secs(20), "the agent's name", async || {
        let name = client_text(&app, "#agent-name").await;
        match name.contains("Alex Agent") {
            true => Ok(()),
            false => Err(name),
        }
    })
    .await;
    let station = client_text(&app, "#station-text").await;
    assert!(station.contains("WebRTC"), "{station}");
    click(&app, "#on-queue").await;
    until_pressed(&app, "#on-queue", "true").await;

    // An inbound ACD call alerts; the agent answers.
    let conversation = ring(
        &emulator,
        Ring::from("+15551234567")
            .caller("Pat Caller")
            .attribute("account", "42"),
    )
    .await;
    let incoming = client_text(&app, "#incoming").await;
    assert!(
        incoming.contains("Pat Caller") || incoming.contains("5551234567"),
        "{incoming}"
    );
    app.screenshot("agent-client-incoming").await;
    click(&app, "#answer").await;
    client_text(&app, "#active-call").await;
    wait_until(Duration::from_secs(10), "the call connected", async || {
        let record = call_record(&emulator, &conversation).await;
        match record.to_string().contains("connected") {
            true => Ok(()),
            false => Err(record.to_string()),
        }
    })
    .await;

    // Hold, resume, mute.
    click(&app, "#hold").await;
    until_pressed(&app, "#hold", "true").await;
    click(&app, "#hold").await;
    until_pressed(&app, "#hold", "false").await;
    click(&app, "#mute").await;
    until_pressed(&app, "#mute", "true").await;
    app.screenshot("agent-client-on-call").await;

    // Sign out during the call asks first; "Keep working" keeps the call.
    app.click("#sign-out-button").await;
    app.visible_text("#confirm-end-dialog").await;
    app.click("#confirm-end-keep").await;
    assert!(!app.is_displayed("#confirm-end-dialog").await);
    client_text(&app, "#active-call").await;

    // A token renewal mid-call: the new token reaches the client, the call stays.
    let renewed = app
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             window.__TAURI_INTERNALS__.invoke('refresh_session')\
               .then(v => done(v.phase), e => done('error ' + JSON.stringify(e)));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(renewed, "signed-in");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = call_record(&emulator, &conversation).await;
    assert!(
        after.to_string().contains("connected"),
        "call kept: {after}"
    );
    client_text(&app, "#active-call").await;

    // Hang up, wrap up with a code and a note.
    click(&app, "#hangup").await;
    client_text(&app, "#wrapup").await;
    in_client(
        &app,
        "const s = document.getElementById('wrapup-code'); s.selectedIndex = s.options.length > 1 ? 1 : 0;\
         s.dispatchEvent(new Event('change', {bubbles: true}));\
         const n = document.getElementById('wrapup-notes'); n.value = 'Customer asked about billing';\
         n.dispatchEvent(new Event('input', {bubbles: true})); return true;",
    )
    .await;
    click(&app, "#wrapup-submit").await;
    let recent = format!("#recent-list li[data-interaction-id='{conversation}']");
    client_text(&app, &recent).await;
    app.screenshot("agent-client-recent").await;

    let record = call_record(&emulator, &conversation).await;
    let text = record.to_string();
    assert!(text.contains("Customer asked about billing"), "{text}");
    wait_for_open(app.home.path(), &format!("{CRM}{conversation}")).await;
    app.quit().await;
}

/// Genesys refuses the client's token mid-call (401 on the next API call): the client reports
/// auth-error, the shell renews once, the client retries with the new token, and the call and
/// the agent's action (hold) go through, with no new sign-in.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus, gnome-keyring and tauri-driver: run scripts/test.sh"]
async fn a_refused_token_mid_call_recovers_through_the_shell() {
    let emulator = emulator(free_port()).await;
    let config = agent_config_text(&emulator, "");
    let (home, env) = browser_home();
    let app = launch(&config, &env, home).await;
    app.click("#sign-in-button").await;
    app.visible_text("#signed-in-title").await;
    client_text(&app, "#agent-name").await;
    click(&app, "#on-queue").await;
    until_pressed(&app, "#on-queue", "true").await;
    let conversation = ring(&emulator, Ring::from("+15550100")).await;
    click(&app, "#answer").await;
    client_text(&app, "#active-call").await;
    let issued_before = Control::new(&emulator).state().await["token_requests"].clone();

    support::Control::new(&emulator)
        .fault(FaultKind::ApiUnauthorized.times(1))
        .await;
    click(&app, "#hold").await;
    until_pressed(&app, "#hold", "true").await;
    let record = call_record(&emulator, &conversation).await;
    assert!(record.to_string().contains("connected"), "{record}");
    let state = Control::new(&emulator).state().await;
    assert!(
        state["token_requests"].as_u64() > issued_before.as_u64(),
        "the shell renewed: {state}"
    );
    assert_eq!(state["faults_pending"], 0, "{state}");
    assert!(!app.is_displayed("#sign-in-button").await, "no new sign-in");
    app.quit().await;
}
