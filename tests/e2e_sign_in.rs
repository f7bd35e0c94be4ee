//! End to end: system-browser sign-in in the real app, with the real Secret Service
//! (gnome-keyring, unlocked in the test's D-Bus session by scripts/test.sh).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use genesys_emulator::{EmulatorConfig, RunningEmulator};
use serde_json::Value;
use support::{
    any_file_contains, assert_no_secret_in_home, browser_home, browser_opens, click_in_client,
    config_text, emulator, emulator_with, free_port, launch, stored_refresh_token, wait_for_open,
    wait_for_tray, Control, FaultExt, FaultKind, Settings, TRAY_GREEN, TRAY_RED,
};

/// Nothing of the embedded client stays once the session ends: its frame is blank and the
/// status bar no longer shows the agent, the queue or a running interaction.
async fn assert_client_removed(app: &support::E2eApp) {
    assert_eq!(support::client_frame_src(app).await, "about:blank");
    for item in ["#status-agent", "#status-queue", "#status-call"] {
        assert!(!app.is_displayed(item).await, "{item} still shown");
    }
}

/// An emulator issuing 3-second tokens, and the app signed in against it through the test
/// browser: the start of every test of the session engine. Returns the config text as well.
async fn signed_in_with_short_tokens() -> (RunningEmulator, String, support::E2eApp) {
    let emulator = emulator(free_port()).await;
    Control::new(&emulator)
        .settings(Settings::token_lifetime(3.0))
        .await;
    let config = config_text(&emulator, "");
    let (home, env) = browser_home();
    let app = launch(&config, &env, home).await;
    app.sign_in_through_the_browser().await;
    (emulator, config, app)
}

/// Shared desks: with `[session] forget_at_quit`, quitting (here the way tray Quit and a
/// confirmed quit do: `app.exit`) signs out first, so the next person at the same OS account
/// finds no saved sign-in, and Genesys no longer honours the token.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus, gnome-keyring and tauri-driver: run scripts/test.sh"]
async fn forget_at_quit_signs_out_when_the_app_quits() {
    let emulator = emulator(free_port()).await;
    let config = config_text(&emulator, "[session]\nforget_at_quit = true\n");
    let (home, env) = browser_home();
    let app = launch(&config, &env, home).await;
    app.wait_for_text("#status-session", "Signed out").await;
    app.sign_in_through_the_browser().await;
    assert!(stored_refresh_token(&config).is_some(), "not stored");
    assert_eq!(Control::new(&emulator).state().await["families_revoked"], 0);

    // Quit as tray Quit does outside an interaction (confirm_exit is the same app.exit).
    app.client
        .execute(
            "window.__TAURI_INTERNALS__.invoke('confirm_exit'); return true;",
            vec![],
        )
        .await
        .unwrap();
    support::wait_until(
        std::time::Duration::from_secs(15),
        "the app to sign out and quit",
        async || match support::app_running_in(app.home.path()) {
            true => Err("still running".to_string()),
            false => Ok(()),
        },
    )
    .await;

    assert!(
        stored_refresh_token(&config).is_none(),
        "the saved sign-in outlived the quit"
    );
    let state = Control::new(&emulator).state().await;
    assert!(
        state["families_revoked"].as_u64().unwrap() >= 1,
        "not revoked: {state}"
    );
    let log = app.quit().await;
    assert!(log.contains("forget_at_quit: signed out"), "{log}");
}

/// The desktop's screen saver as KDE, Xfce and others serve it on the session bus: what the
/// app reads to know the session is locked.
struct ScreenSaver {
    active: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

#[zbus::interface(name = "org.freedesktop.ScreenSaver")]
impl ScreenSaver {
    fn get_active(&self) -> bool {
        self.active.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Shared desks: with `[session] sign_out_on_lock`, locking the desktop signs the agent out
/// (token revoked, keychain emptied, the signed-out screen shown); unlocked, nothing happens.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus, gnome-keyring and tauri-driver: run scripts/test.sh"]
async fn locking_the_desktop_signs_out_when_policy_says_so() {
    let active = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let _screen_saver = zbus::connection::Builder::session()
        .unwrap()
        .name("org.freedesktop.ScreenSaver")
        .unwrap()
        .serve_at(
            "/org/freedesktop/ScreenSaver",
            ScreenSaver {
                active: active.clone(),
            },
        )
        .unwrap()
        .build()
        .await
        .unwrap();
    let emulator = emulator(free_port()).await;
    let config = config_text(&emulator, "[session]\nsign_out_on_lock = true\n");
    let (home, env) = browser_home();
    let app = launch(&config, &env, home).await;
    app.wait_for_text("#status-session", "Signed out").await;
    app.sign_in_through_the_browser().await;
    // Unlocked for a few polls: still signed in.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    assert!(
        stored_refresh_token(&config).is_some(),
        "signed out unlocked"
    );

    active.store(true, std::sync::atomic::Ordering::SeqCst);
    app.wait_for_text("#status-session", "Signed out").await;
    assert!(
        stored_refresh_token(&config).is_none(),
        "the sign-in outlived the lock"
    );
    let state = Control::new(&emulator).state().await;
    assert!(
        state["families_revoked"].as_u64().unwrap() >= 1,
        "not revoked: {state}"
    );
    assert_client_removed(&app).await;
    let log = app.quit().await;
    assert!(log.contains("desktop locked: signing out"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus, gnome-keyring and tauri-driver: run scripts/test.sh"]
async fn deep_link_sign_in_keeps_the_token_in_the_keychain_and_restart_is_silent() {
    let emulator = emulator(free_port()).await;
    let config = config_text(&emulator, "");
    let (home, env) = browser_home();

    let app = launch(&config, &env, home).await;
    app.wait_for_text("#status-session", "Signed out").await;
    app.sign_in_through_the_browser().await;
    assert_eq!(
        app.visible_text("#status-session").await,
        "Signed in as Alex Agent"
    );
    assert!(app
        .visible_text("#signed-in-expiry")
        .await
        .starts_with("renews automatically"));
    app.screenshot("signed-in").await;

    // Signed in, the browser gone: no process holds a token, code, verifier or state in its
    // arguments or environment (the second instance that carried the redirect has exited).
    support::assert_no_secret_in_processes(&emulator).await;

    // The refresh token is in the Secret Service, and in no file under HOME.
    let stored = stored_refresh_token(&config).expect("refresh token stored");
    assert!(
        any_file_contains(app.home.path(), stored.expose()).is_none(),
        "refresh token found in a file"
    );
    assert_eq!(Control::new(&emulator).state().await["codes_exchanged"], 1);
    assert_eq!(browser_opens(app.home.path()).len(), 1);

    // The redirect came back the desktop's way: the browser handed it to xdg-open, which ran
    // the handler the app registered.
    let log = std::fs::read_to_string(app.home.path().join("browser.log")).unwrap();
    assert!(
        log.contains("redirect: com.agentshell.desktop:/oauth/callback"),
        "{log}"
    );
    assert!(log.contains("opener: xdg-open"), "{log}");
    assert!(log.contains("opener exit: 0"), "{log}");

    // The real redirect delivered a second time (a replay), and junk deep links, change
    // nothing and crash nothing.
    let real = std::fs::read_to_string(app.home.path().join("test-browser.redirect")).unwrap();
    assert!(real.contains("code="), "the real redirect was kept");
    for replay in [
        real.as_str(),
        "com.agentshell.desktop:/oauth/callback?code=x&state=forged",
        "com.agentshell.desktop:%%%",
    ] {
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_agent-shell"))
            .arg(replay)
            .env("HOME", app.home.path())
            .status()
            .unwrap();
        assert!(status.success(), "second launch forwards and exits 0");
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        app.visible_text("#status-session").await,
        "Signed in as Alex Agent"
    );
    let state = Control::new(&emulator).state().await;
    assert_eq!(
        state["codes_exchanged"], 1,
        "the replayed code was never sent: {state}"
    );
    assert_eq!(state["families_revoked"], 0, "{state}");

    // Restart: signed in silently, no browser opened.
    let (_, home) = app.quit_keeping_home().await;
    let app = launch(&config, &env, home).await;
    app.wait_for_text("#signed-in-title", "Signed in as Alex Agent")
        .await;
    assert_eq!(
        browser_opens(app.home.path()).len(),
        1,
        "no browser at silent start"
    );
    assert_eq!(Control::new(&emulator).state().await["refreshes_served"], 1);

    // "Copy diagnostics" while signed in: the report reaches the clipboard, names the checks,
    // and carries no secret the emulator issued and no e-mail address.
    let diagnostics = copy_diagnostics(&app).await;
    for expected in [
        "Agent Shell diagnostics",
        "oauth.authorize",
        "keychain",
        "Recent log lines",
    ] {
        assert!(diagnostics.contains(expected), "{expected}: {diagnostics}");
    }
    assert!(!diagnostics.contains("agent@example.com"), "{diagnostics}");
    let secrets = support::Control::new(&emulator).secrets().await;
    assert!(
        !secrets.iter().any(|s| diagnostics.contains(s.as_str())),
        "a secret is in the diagnostics"
    );

    // Sign-out: revoked, keychain entry gone, back to the sign-in screen, the client gone.
    app.wait_for_text("#status-agent", "Alex Agent").await;
    app.click("#sign-out-button").await;
    app.wait_for_text("#status-session", "Signed out").await;
    assert_client_removed(&app).await;
    assert!(stored_refresh_token(&config).is_none());
    assert!(
        Control::new(&emulator).state().await["families_revoked"]
            .as_u64()
            .unwrap()
            >= 1
    );
    // No token, code, verifier or state the emulator issued or saw is in any file the app
    // could have written (its log included), after two runs.
    let (_, home) = app.quit_keeping_home().await;
    assert_no_secret_in_home(&emulator, home.path()).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus, gnome-keyring and tauri-driver: run scripts/test.sh"]
async fn loopback_sign_in_answers_the_browser_and_signs_in() {
    let port = free_port();
    let emulator = emulator(port).await;
    let config = config_text(
        &emulator,
        &format!("[redirect]\nprefer = \"loopback\"\nloopback_ports = [{port}]"),
    );
    let (home, env) = browser_home();
    let app = launch(&config, &env, home).await;
    app.sign_in_through_the_browser().await;
    let page = std::fs::read_to_string(app.home.path().join("loopback-page.html")).unwrap();
    assert!(page.contains("You can close this tab"), "{page}");
    assert_eq!(Control::new(&emulator).state().await["codes_exchanged"], 1);
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus, gnome-keyring and tauri-driver: run scripts/test.sh"]
async fn missing_scopes_and_idp_errors_are_shown_and_the_app_stays_usable() {
    let emulator = emulator(free_port()).await;

    Control::new(&emulator)
        .settings(Settings::grant_scopes(Some(&[
            "users:readonly",
            "presence",
            "routing",
            "notifications",
            "stations:readonly",
            "organization:readonly",
        ])))
        .await;
    let config = config_text(&emulator, "");
    let (home, env) = browser_home();
    let app = launch(&config, &env, home).await;
    app.click("#sign-in-button").await;
    app.wait_for_text("#notice-code", "token_missing_scopes")
        .await;
    let message = app.visible_text("#notice-message").await;
    assert!(message.contains("conversations"), "{message}");
    app.screenshot("missing-scopes").await;
    assert!(stored_refresh_token(&config).is_none());

    // IdP refusal next, then a successful sign-in: the app recovered from both.
    Control::new(&emulator)
        .settings(Settings::grant_scopes(None))
        .await;
    Control::new(&emulator)
        .fault(FaultKind::AuthorizeError.error("access_denied"))
        .await;
    app.click("#sign-in-button").await;
    app.wait_for_text("#notice-code", "sign_in_refused").await;
    app.sign_in_through_the_browser().await;
    app.quit().await;
}

/// No Secret Service at all (the app's D-Bus address leads nowhere): the agent still signs in
/// for this session, is told why they will sign in again next time, and nothing is written
/// anywhere; the next launch says the same instead of crashing.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus, gnome-keyring and tauri-driver: run scripts/test.sh"]
async fn unavailable_keychain_keeps_the_session_in_memory_and_says_so() {
    let port = free_port();
    let emulator = emulator(port).await;
    let config = config_text(
        &emulator,
        &format!("[redirect]\nprefer = \"loopback\"\nloopback_ports = [{port}]"),
    );
    let (home, mut env) = browser_home();
    env.push((
        "DBUS_SESSION_BUS_ADDRESS".to_string(),
        "unix:path=/nonexistent/agent-shell-test-bus".to_string(),
    ));
    let app = launch(&config, &env, home).await;
    app.sign_in_through_the_browser().await;
    let notice = app.visible_text("#signed-in-notice-message").await;
    assert!(notice.contains("keychain is not available"), "{notice}");
    assert!(notice.contains("sign in again the next time"), "{notice}");
    app.screenshot("keychain-unavailable").await;
    assert!(
        stored_refresh_token(&config).is_none(),
        "nothing reached the real keychain"
    );

    let (_, home) = app.quit_keeping_home().await;
    let app = launch(&config, &env, home).await;
    app.wait_for_text("#notice-code", "keychain_unavailable")
        .await;
    assert_eq!(app.visible_text("#status-session").await, "Signed out");
    app.quit().await;
}

/// The session engine in the real app: short-lived tokens are renewed in the background while
/// the agent stays signed in; when the emulator revokes the session, the next renewal fails
/// with invalid_grant, the UI asks for a new sign-in (no retries, no browser storm), and
/// signing in again restores the session.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus, gnome-keyring and tauri-driver: run scripts/test.sh"]
async fn background_renewal_then_revocation_asks_for_a_new_sign_in() {
    let (emulator, config, app) = signed_in_with_short_tokens().await;

    tokio::time::sleep(std::time::Duration::from_secs(7)).await;
    let state = Control::new(&emulator).state().await;
    assert!(state["refreshes_served"].as_u64().unwrap() >= 2, "{state}");
    assert_eq!(state["refresh_reuse_detected"], 0);
    assert!(app
        .visible_text("#signed-in-title")
        .await
        .starts_with("Signed in as"));

    wait_for_tray("Signed in as Alex Agent", TRAY_GREEN).await;

    Control::new(&emulator).revoke_all().await;
    app.wait_for_text("#status-session", "Sign-in needed").await;
    // The tray says it too, in red, for an agent whose window is behind others.
    wait_for_tray("Sign-in needed", TRAY_RED).await;
    assert_eq!(
        app.visible_text("#sign-in-title").await,
        "Please sign in again"
    );
    assert_eq!(
        app.visible_text("#notice-code").await,
        "token_invalid_grant"
    );
    app.screenshot("relogin-required").await;
    assert_client_removed(&app).await;
    let requests = Control::new(&emulator).state().await["token_requests"]
        .as_u64()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        Control::new(&emulator).state().await["token_requests"]
            .as_u64()
            .unwrap(),
        requests,
        "no retries after invalid_grant"
    );
    assert_eq!(
        browser_opens(app.home.path()).len(),
        1,
        "no browser opened by itself"
    );

    app.sign_in_through_the_browser().await;
    assert!(stored_refresh_token(&config).is_some());
    // the embedded client was re-initialised with the fresh credentials
    app.wait_for_text("#status-agent", "Alex Agent").await;
    let log = app.quit().await;
    assert!(log.contains("refresh failed; re-login required"), "{log}");
}

/// The embedded client in the real webview: it loads without credentials in its URL, gets them
/// by postMessage after the ready/ack handshake, validates them, and its session-start, queue
/// and interaction events reach the status bar. With 3-second tokens the shell renews in the
/// background and posts each new token, and the client never sees a 401. Messages from any
/// other window are ignored and counted.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus, gnome-keyring and tauri-driver: run scripts/test.sh"]
async fn embedded_client_gets_credentials_by_message_and_stays_authorised() {
    let emulator = emulator_with(
        free_port(),
        EmulatorConfig {
            queue_interval: std::time::Duration::from_millis(300),
            interaction_interval: std::time::Duration::from_millis(1500),
            token_expiring_margin: std::time::Duration::from_secs(1),
            ..EmulatorConfig::default()
        },
    )
    .await;
    Control::new(&emulator)
        .settings(Settings::token_lifetime(3.0))
        .await;
    let config = config_text(
        &emulator,
        "[crm]\ninteraction_url = \"https://crm.example.com/case?interaction={interactionId}\"\n",
    );
    let (home, env) = browser_home();
    let app = launch(&config, &env, home).await;
    app.click("#sign-in-button").await;
    app.wait_for_text("#status-agent", "Alex Agent").await;
    let queue = app.visible_text("#status-queue").await;
    assert!(queue.contains(" of "), "{queue}");
    // Time in the interaction while one is active, then when the last one ended.
    let elapsed = app.visible_text("#status-call").await;
    let (minutes, seconds) = elapsed.split_once(':').unwrap();
    assert!(
        minutes.parse::<u32>().is_ok() && seconds.len() == 2 && seconds.parse::<u32>().is_ok(),
        "{elapsed}"
    );
    app.screenshot("embedded-client-in-interaction").await;
    app.visible_text("#status-interaction").await;
    app.screenshot("embedded-client").await;
    // The client's help link opens in the system browser (the default allowed host).
    click_in_client(&app, "#help-link").await;
    wait_for_open(app.home.path(), "https://help.mypurecloud.com/").await;

    // A right-looking message from the host page itself (not the client iframe) is ignored.
    let ignored = app
        .client
        .execute(
            r#"const before = Number(document.body.dataset.bridgeIgnored || 0);
               window.postMessage({type: 'agent-shell:queue-position', position: 0, total: 999}, '*');
               return before;"#,
            vec![],
        )
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let after = app
        .client
        .execute(
            "return Number(document.body.dataset.bridgeIgnored || 0);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(after.as_u64().unwrap(), ignored.as_u64().unwrap() + 1);
    assert_ne!(app.visible_text("#status-queue").await, "0 of 999");

    // A shift in miniature with the client open: 3 s tokens renewed about every 2 s. CI runs 8 s;
    // AGENT_SHELL_SHIFT_SECS=400 gives a couple of hundred cycles (see docs/testing.md).
    let shift_secs: u64 = std::env::var("AGENT_SHELL_SHIFT_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    tokio::time::sleep(std::time::Duration::from_secs(shift_secs)).await;
    let state = Control::new(&emulator).state().await;
    let refreshes = state["refreshes_served"].as_u64().unwrap();
    assert!(
        refreshes >= shift_secs / 3,
        "{refreshes} refreshes in {shift_secs} s: {state}"
    );
    eprintln!("shift in miniature: {shift_secs} s, {refreshes} refreshes, 0 client 401s");
    assert_eq!(
        state["users_me_unauthorized"], 0,
        "the client saw a 401: {state}"
    );
    assert_eq!(state["refresh_reuse_detected"], 0);
    assert_eq!(app.visible_text("#status-agent").await, "Alex Agent");

    // The CRM page opened once per ended interaction, with the interaction's id.
    let crm: Vec<String> = browser_opens(app.home.path())
        .into_iter()
        .filter(|u| u.starts_with("https://crm.example.com/case?interaction="))
        .collect();
    assert!(!crm.is_empty(), "no CRM page opened");
    let unique: std::collections::BTreeSet<&String> = crm.iter().collect();
    assert_eq!(unique.len(), crm.len(), "a CRM page opened twice: {crm:?}");
    assert!(crm.iter().all(|u| u.len() == 41 + 36), "{crm:?}");

    // No credential ever appeared in a URL the emulator received: none of the tokens it
    // issued (in any form or parameter) and no token-looking parameter.
    let log = Control::new(&emulator).access_log().await;
    let issued = Control::new(&emulator).issued_tokens().await;
    assert!(issued.len() >= 4, "renewals issued tokens: {issued:?}");
    assert!(
        log.iter().any(|entry| entry["uri"] == "/embedded-client/"),
        "client page loaded"
    );
    for entry in &log {
        let uri = entry["uri"].as_str().unwrap();
        assert!(
            !uri.contains("access_token") && !uri.contains("token=") && !uri.contains("Bearer"),
            "credential in a URL: {uri}"
        );
        for token in &issued {
            assert!(!uri.contains(token.as_str()), "a token in a URL: {uri}");
        }
    }
    let log = app.quit().await;
    // token-expiring reached Rust as a typed event (parsed again there) and drove renewals.
    assert!(
        log.contains("embedded client says its token is expiring"),
        "{log}"
    );
}

/// Genesys Cloud refuses the running client's access token (the emulator's users/me fault hits
/// the client alone: the app calls users/me only at sign-in). The first refusal gets one
/// renewal and the client carries on with the new token; a second refusal right after is not
/// renewed again (no storm) but shown as "Genesys Cloud needs attention" with the reason, and
/// the status bar's Reload starts the client afresh.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus, gnome-keyring and tauri-driver: run scripts/test.sh"]
async fn a_refused_client_token_is_renewed_once_then_reported_with_a_reload() {
    let emulator = emulator_with(
        free_port(),
        EmulatorConfig {
            queue_interval: std::time::Duration::from_millis(300),
            ..EmulatorConfig::default()
        },
    )
    .await;
    let config = config_text(&emulator, "");
    let (home, env) = browser_home();
    let app = launch(&config, &env, home).await;
    app.click("#sign-in-button").await;
    app.wait_for_text("#status-agent", "Alex Agent").await;
    let refreshes = |state: &Value| state["refreshes_served"].as_u64().unwrap();
    let users_me_ok = |state: &Value| state["users_me_ok"].as_u64().unwrap();
    let before = Control::new(&emulator).state().await;

    // One refusal: one renewal, and the client's checks succeed again with the new token.
    Control::new(&emulator)
        .fault(FaultKind::UsersMeUnauthorized)
        .await;
    let renewed = Control::new(&emulator)
        .wait_for_state("renewed once", |state| {
            refreshes(state) == refreshes(&before) + 1
        })
        .await;
    Control::new(&emulator)
        .wait_for_state("the client checking again", |state| {
            users_me_ok(state) >= users_me_ok(&renewed) + 3
        })
        .await;
    assert!(!app.is_displayed("#status-client-problem-item").await);
    assert_eq!(app.visible_text("#status-agent").await, "Alex Agent");

    // Refused again straight after: reported, not renewed.
    Control::new(&emulator)
        .fault(FaultKind::UsersMeUnauthorized)
        .await;
    app.wait_for_text("#status-client-problem", "Genesys Cloud needs attention")
        .await;
    let reason = app
        .client
        .find(fantoccini::Locator::Css("#status-client-problem"))
        .await
        .unwrap()
        .attr("title")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        reason.contains("refused the access token again"),
        "{reason}"
    );
    app.screenshot("client-needs-attention").await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let reported = Control::new(&emulator).state().await;
    assert_eq!(refreshes(&reported), refreshes(&before) + 1, "{reported}");
    assert_eq!(reported["faults_pending"], 0);

    // Reload: a fresh client, a fresh handshake, and the problem is gone.
    app.click("#status-client-reload").await;
    Control::new(&emulator)
        .wait_for_state("the reloaded client checking", |state| {
            users_me_ok(state) >= users_me_ok(&reported) + 3
        })
        .await;
    app.wait_for_text("#status-agent", "Alex Agent").await;
    assert!(!app.is_displayed("#status-client-problem-item").await);
    app.quit().await;
}

/// The session needs a new sign-in while the agent works in another window: a native
/// notification says so, once. In view, the screen itself says it and nothing pops up. The
/// test is the desktop's notification daemon (it owns org.freedesktop.Notifications on its
/// D-Bus session), so it receives what the agent would.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus, gnome-keyring and tauri-driver: run scripts/test.sh"]
async fn relogin_needed_while_the_window_is_out_of_view_sends_one_notification() {
    let (emulator, _config, app) = signed_in_with_short_tokens().await;
    let notifications = support::NotificationServer::start();

    // In view: the screen says it, no notification.
    Control::new(&emulator).revoke_all().await;
    app.wait_for_text("#status-session", "Sign-in needed").await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert!(
        notifications.received().is_empty(),
        "{:?}",
        notifications.received()
    );

    // Out of view (minimised): one notification with the reason.
    app.sign_in_through_the_browser().await;
    app.client.minimize_window().await.unwrap();
    Control::new(&emulator).revoke_all().await;
    let notification = notifications.first().await;
    assert_eq!(notification.summary, "Agent Shell: please sign in again");
    assert!(
        notification.body.contains("sign in again"),
        "{notification:?}"
    );
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(
        notifications.received().len(),
        1,
        "{:?}",
        notifications.received()
    );
    assert!(app
        .log()
        .contains("re-login needed while the window is not in view"));
    app.quit().await;
}

/// Opens `url` the way a browser hands it to a generic desktop, as the agent at `home`.
fn xdg_open(home: &std::path::Path, url: &str) {
    let out = std::process::Command::new("xdg-open")
        .arg(url)
        .env("HOME", home)
        .env_remove("XDG_CURRENT_DESKTOP")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "xdg-open: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until the test browser holds the real redirect (the agent is "still in the browser").
async fn held_redirect(home: &std::path::Path) -> String {
    let path = home.join("test-browser.held");
    support::wait_until(
        std::time::Duration::from_secs(20),
        "the browser to reach the redirect",
        async || std::fs::read_to_string(&path).map_err(|e| e.to_string()),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus, gnome-keyring and tauri-driver: run scripts/test.sh"]
async fn a_wrong_state_deep_link_while_signing_in_leaves_the_real_sign_in_pending() {
    let emulator = emulator(free_port()).await;
    let config = config_text(&emulator, "");
    let (home, env) = browser_home();
    std::fs::write(home.path().join("test-browser.hold"), "").unwrap();
    let app = launch(&config, &env, home).await;
    app.wait_for_text("#status-session", "Signed out").await;
    app.click("#sign-in-button").await;
    let real = held_redirect(app.home.path()).await;
    assert!(app.is_displayed("#sign-in-waiting").await);

    // A forged redirect through the desktop (what any page could make the browser open).
    xdg_open(
        app.home.path(),
        "com.agentshell.desktop:/oauth/callback?code=forged&state=forged",
    );
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert!(
        app.is_displayed("#sign-in-waiting").await,
        "still waiting for the real redirect"
    );
    assert_eq!(Control::new(&emulator).state().await["codes_exchanged"], 0);

    // The real one then signs in.
    xdg_open(app.home.path(), &real);
    app.wait_for_text("#signed-in-title", "Signed in as Alex Agent")
        .await;
    assert_eq!(Control::new(&emulator).state().await["codes_exchanged"], 1);
    app.quit().await;
}

/// One GET to the loopback listener, as a browser or a web page's <img> would send it.
async fn loopback_get(port: u16, target: &str) -> (u16, String) {
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{port}{target}"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// A loopback sign-in started in the app, with the browser holding the real redirect.
async fn loopback_sign_in_held() -> (RunningEmulator, u16, support::E2eApp, String) {
    let port = free_port();
    let emulator = emulator(port).await;
    let config = config_text(
        &emulator,
        &format!("[redirect]\nprefer = \"loopback\"\nloopback_ports = [{port}]"),
    );
    let (home, env) = browser_home();
    std::fs::write(home.path().join("test-browser.hold"), "").unwrap();
    let app = launch(&config, &env, home).await;
    app.click("#sign-in-button").await;
    let real = held_redirect(app.home.path()).await;
    (emulator, port, app, real)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus, gnome-keyring and tauri-driver: run scripts/test.sh"]
async fn forged_loopback_requests_neither_end_the_listener_nor_the_sign_in() {
    let (emulator, port, app, real) = loopback_sign_in_held().await;
    let real_target = real
        .strip_prefix(&format!("http://127.0.0.1:{port}"))
        .unwrap()
        .to_string();

    // <img src="http://127.0.0.1:PORT/oauth/callback?code=x&state=y"> from any web page.
    let (status, page) = loopback_get(port, "/oauth/callback?code=x&state=y").await;
    assert_eq!(status, 400);
    assert!(page.contains("does not belong to the sign-in"), "{page}");
    let (status, _) = loopback_get(port, "/oauth/callbackX?code=x&state=y").await;
    assert_eq!(
        status, 404,
        "a path that merely starts with the callback path"
    );
    assert!(app.is_displayed("#sign-in-waiting").await);

    // The real redirect still reaches the app.
    let (status, page) = loopback_get(port, &real_target).await;
    assert_eq!(status, 200, "{page}");
    app.wait_for_text("#signed-in-title", "Signed in as Alex Agent")
        .await;
    // Replayed: the listener is gone, the code is not exchanged again.
    let replay = reqwest::get(&real).await;
    assert!(replay.is_err(), "the port is closed once signed in");
    assert_eq!(Control::new(&emulator).state().await["codes_exchanged"], 1);
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus, gnome-keyring and tauri-driver: run scripts/test.sh"]
async fn cancel_frees_the_loopback_port_for_the_next_sign_in() {
    let (emulator, _port, app, _real) = loopback_sign_in_held().await;
    app.click("#cancel-sign-in-button").await;
    app.wait_for_text("#status-session", "Signed out").await;
    std::fs::remove_file(app.home.path().join("test-browser.hold")).unwrap();
    app.sign_in_through_the_browser().await;
    assert_eq!(Control::new(&emulator).state().await["codes_exchanged"], 1);
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus, gnome-keyring and tauri-driver: run scripts/test.sh"]
async fn the_redirect_comes_back_through_gio_open() {
    let emulator = emulator(free_port()).await;
    let config = config_text(&emulator, "");
    let (home, env) = browser_home();
    std::fs::write(home.path().join("test-browser.opener"), "gio open").unwrap();
    let app = launch(&config, &env, home).await;
    app.wait_for_text("#status-session", "Signed out").await;
    app.sign_in_through_the_browser().await;
    let log = std::fs::read_to_string(app.home.path().join("browser.log")).unwrap();
    assert!(log.contains("opener: gio open"), "{log}");
    assert!(log.contains("opener exit: 0"), "{log}");
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus, gnome-keyring and tauri-driver: run scripts/test.sh"]
async fn when_the_desktop_cannot_route_the_scheme_sign_in_falls_back_to_loopback_and_says_why() {
    let port = free_port();
    let emulator = emulator(port).await;
    // Deep link preferred (the default), with a loopback port the emulator accepts as fallback.
    let config = config_text(&emulator, &format!("[redirect]\nloopback_ports = [{port}]"));
    let (home, env) = browser_home();
    // A broken profile: a file where the applications directory belongs, so the handler entry
    // cannot be written and the scheme does not resolve.
    let data = home.path().join(".local/share");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("applications"), "").unwrap();
    // The agent is still in the browser while the screen is read.
    std::fs::write(home.path().join("test-browser.hold"), "").unwrap();
    let app = launch(&config, &env, home).await;
    app.wait_for_text("#status-session", "Signed out").await;
    app.click("#sign-in-button").await;
    let held = held_redirect(app.home.path()).await;
    assert!(
        held.starts_with(&format!("http://127.0.0.1:{port}/oauth/callback?")),
        "the loopback redirect was used"
    );
    let note = app.visible_text("#redirect-note").await;
    assert!(note.contains("does not pass sign-in links"), "{note}");
    assert!(note.contains("agent-shell doctor"), "{note}");
    app.screenshot("loopback-fallback").await;
    let (status, _) = loopback_get(
        port,
        held.trim_start_matches(&format!("http://127.0.0.1:{port}")),
    )
    .await;
    assert_eq!(status, 200);
    app.wait_for_text("#signed-in-title", "Signed in as Alex Agent")
        .await;
    assert!(
        app.log().contains("does not resolve to this app"),
        "the log names the problem"
    );
    app.quit().await;
}

/// Clicks "Copy diagnostics" and returns what reached the X clipboard, read with xclip as a
/// paste into a ticket would.
async fn copy_diagnostics(app: &support::E2eApp) -> String {
    app.click("#copy-diagnostics").await;
    support::wait_until(
        std::time::Duration::from_secs(40),
        "\"Diagnostics copied\"",
        async || match app.visible_text("#copy-diagnostics").await.as_str() {
            "Diagnostics copied" => Ok(()),
            other => Err(other.to_string()),
        },
    )
    .await;
    let out = std::process::Command::new("xclip")
        .args(["-selection", "clipboard", "-o"])
        .output()
        .expect("xclip (scripts/setup.sh test installs it)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An org whose OAuth client is confidential and whose Genesys gives public clients no refresh
/// token: with the token broker policy names, the real app signs in through the browser,
/// renews through the broker all along (3-second tokens), and starts again signed in.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus, gnome-keyring and tauri-driver: run scripts/test.sh"]
async fn through_the_token_broker_a_confidential_org_stays_signed_in_and_restarts_silently() {
    const SECRET: &str = "held-by-the-broker-only";
    let loopback_port = free_port();
    let redirect_uris = vec![
        "com.agentshell.desktop:/oauth/callback".to_string(),
        format!("http://127.0.0.1:{loopback_port}/oauth/callback"),
    ];
    let emulator = genesys_emulator::start(EmulatorConfig {
        auto_approve: true,
        public_refresh_tokens: false,
        clients: vec![genesys_emulator::ClientRegistration {
            client_id: genesys_emulator::DEMO_CLIENT_ID.into(),
            secret: Some(SECRET.into()),
            redirect_uris: redirect_uris.clone(),
        }],
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    Control::new(&emulator)
        .settings(Settings::token_lifetime(3.0))
        .await;
    let broker = agent_shell_broker::start(
        agent_shell_broker::BrokerConfig::new(
            &format!("{}/oauth/token", emulator.urls().login),
            agent_shell_broker::SealingKey::generate(),
        )
        .unwrap()
        .with_client(agent_shell_broker::ClientConfig::new(
            genesys_emulator::DEMO_CLIENT_ID,
            SECRET,
            redirect_uris,
        )),
    )
    .await
    .unwrap();
    let config = config_text(
        &emulator,
        &format!(
            "token_broker = \"{}\"\n[redirect]\nloopback_ports = [{loopback_port}]",
            broker.url()
        ),
    );
    let (home, env) = browser_home();
    let app = launch(&config, &env, home).await;
    app.sign_in_through_the_browser().await;
    let stored = stored_refresh_token(&config).expect("a refresh token, through the broker");
    assert!(
        stored.expose().starts_with("asb1."),
        "the keychain holds the sealed envelope"
    );

    // The keep-alive renews through the broker, again and again, and the agent stays in.
    Control::new(&emulator)
        .wait_for_state("three renewals through the broker", |state| {
            state["refreshes_served"].as_u64().unwrap_or(0) >= 3
        })
        .await;
    assert_eq!(
        app.visible_text("#status-session").await,
        "Signed in as Alex Agent"
    );
    assert_eq!(
        Control::new(&emulator).state().await["refresh_reuse_detected"],
        0
    );

    // A restart is silent: the envelope goes back through the broker.
    let (_, home) = app.quit_keeping_home().await;
    let app = launch(&config, &env, home).await;
    app.wait_for_text("#signed-in-title", "Signed in as Alex Agent")
        .await;
    assert_eq!(
        browser_opens(app.home.path()).len(),
        1,
        "no browser at restart"
    );
    app.quit().await;
}

/// A compressed 12-hour shift: the real app signed in with the embedded client open the whole
/// time, 6-second tokens (a 1-hour token at 1:600, so 72 s is 12 hours), and a token-endpoint
/// fault injected every third renewal (500, 503 + Retry-After, 429 + Retry-After in turn). The
/// client must never see a 401 and the agent must never be dropped to a new sign-in. The
/// shell renews a third of a lifetime early (2 s here); a Retry-After cannot be compressed
/// below 1 s, so shorter tokens would leave the retry no room before expiry (3-second tokens
/// made a queue tick land on an expired token about one run in ten). CI runs 72 s;
/// `AGENT_SHELL_SHIFT_SECS=600` is a 100-hour equivalent (docs/benchmarks.md).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus, gnome-keyring and tauri-driver: run scripts/test.sh"]
async fn a_compressed_shift_with_faults_keeps_the_client_authorised_and_the_agent_in() {
    let shift_secs: u64 = std::env::var("AGENT_SHELL_SHIFT_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(72);
    let emulator = emulator_with(
        free_port(),
        EmulatorConfig {
            token_expiring_margin: std::time::Duration::from_secs(2),
            ..EmulatorConfig::default()
        },
    )
    .await;
    Control::new(&emulator)
        .settings(Settings::token_lifetime(6.0))
        .await;
    let config = config_text(&emulator, "");
    let (home, env) = browser_home();
    let app = launch(&config, &env, home).await;
    app.click("#sign-in-button").await;
    app.wait_for_text("#status-agent", "Alex Agent").await;

    let faults = [
        FaultKind::ServerError.times(1),
        FaultKind::ServiceUnavailable.times(1).retry_after(1),
        FaultKind::RateLimited.times(1).retry_after(1),
    ];
    let started = std::time::Instant::now();
    let mut injected = 0usize;
    let mut next_fault_at = 3u64;
    let mut dropped = 0u32;
    while started.elapsed() < std::time::Duration::from_secs(shift_secs) {
        let state = Control::new(&emulator).state().await;
        let served = state["refreshes_served"].as_u64().unwrap_or(0);
        if served >= next_fault_at {
            Control::new(&emulator)
                .fault(faults[injected % faults.len()].clone())
                .await;
            injected += 1;
            next_fault_at = served + 3;
        }
        // "Renewing session" while a retry waits is fine; anything else is a drop.
        let status = app.visible_text("#status-session").await;
        if status != "Signed in as Alex Agent" && status != "Renewing session" {
            eprintln!("not signed in: {status}");
            dropped += 1;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let state = Control::new(&emulator).state().await;
    let refreshes = state["refreshes_served"].as_u64().unwrap();
    let client_401s = state["users_me_unauthorized"].as_u64().unwrap();
    eprintln!(
        "compressed shift: {shift_secs} s (= {} h at 1:600), {refreshes} renewals, {injected} faults injected, {client_401s} client 401s, {dropped} samples not signed in",
        shift_secs / 6
    );
    assert!(refreshes >= shift_secs / 6, "{refreshes} renewals: {state}");
    assert!(injected >= 2, "faults were injected: {injected}");
    assert_eq!(client_401s, 0, "the client saw a 401: {state}");
    assert_eq!(dropped, 0, "the agent was not signed in at some point");
    assert_eq!(state["refresh_reuse_detected"], 0);
    assert_eq!(state["families_revoked"], 0, "{state}");
    assert_eq!(app.visible_text("#status-agent").await, "Alex Agent");
    app.quit().await;
}
