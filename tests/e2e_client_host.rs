//! End to end: what the embedded client can and cannot do from inside its iframe, in the real
//! webview. The emulator's isolation probe is loaded in place of the client: it tries every
//! route to the shell's IPC, its window and its navigation, opens links, asks for the
//! microphone, spoofs messages from a frame that is not the client, and finally turns the client
//! frame's own document into an opaque origin to post from the wrong origin.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{
    browser_home, browser_opens, click_in_client, config_text, emulator, enter_client_frame,
    free_port, launch, wait_for_open, wait_for_tray, wait_until, E2eApp, TRAY_GREEN,
};

/// Reads the probe's report from inside the iframe.
async fn probe_results(app: &E2eApp) -> Value {
    enter_client_frame(app).await;
    let report = wait_until(Duration::from_secs(20), "the probe to finish", async || {
        let done = app
            .client
            .execute(
                "const r = document.getElementById('results');\
                 return r && r.dataset.done === 'true' ? r.textContent : null;",
                vec![],
            )
            .await
            .unwrap();
        match done.as_str() {
            Some(text) => Ok(serde_json::from_str(text).unwrap()),
            None => Err("no results yet".into()),
        }
    })
    .await;
    app.client.enter_parent_frame().await.unwrap();
    report
}

/// The code and full reason of the last link notice (its tooltip).
async fn link_notice_reason(app: &E2eApp) -> String {
    let value = app
        .client
        .execute(
            "const n = document.getElementById('link-notice'); return n.dataset.code + ': ' + n.title;",
            vec![],
        )
        .await
        .unwrap();
    value.as_str().unwrap().to_string()
}

async fn body_attribute(app: &E2eApp, name: &str) -> u64 {
    app.client
        .execute(
            "return Number(document.body.getAttribute(arguments[0]) || 0);",
            vec![Value::from(name)],
        )
        .await
        .unwrap()
        .as_u64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus, gnome-keyring and tauri-driver: run scripts/test.sh"]
async fn client_frame_cannot_reach_ipc_navigate_or_spoof_and_links_go_through_rust() {
    let emulator = emulator(free_port()).await;
    let urls = emulator.urls().clone();
    let config = config_text(
        &emulator,
        &format!(
            "[embed]\nclient_url = \"{}/embedded-client/probe/probe.html\"\n\
             [links]\nallowed_hosts = [\"help.example.com\"]\n",
            urls.api
        ),
    );
    let (home, env) = browser_home();
    let app = launch(&config, &env, home).await;
    app.sign_in_through_the_browser().await;
    // The tray, as a desktop panel reads it over D-Bus: status line and a green dot.
    wait_for_tray("Signed in as Alex Agent", TRAY_GREEN).await;

    // The control: the probe's own well-formed session-start is heard.
    app.wait_for_text("#status-agent", "Probe Control").await;
    let report = probe_results(&app).await;
    eprintln!("isolation probe: {report:#}");
    app.screenshot("isolation-probe").await;

    // The probe ran to the end: every attempt reported, none timed out, nothing failed. A
    // missing key or a timeout would make the checks below prove nothing.
    assert!(report.get("error").is_none(), "the probe failed: {report}");
    let mut expected = vec![
        "internals",
        "tauriGlobal",
        "parentDocument",
        "topDocument",
        "parentInternals",
        "topInternals",
        "webkitIpc",
        "windowIpc",
        "topNavigation",
        "fetchIpcScheme",
        "fetchIpcLocalhost",
        "microphone",
    ];
    if report["internals"] == "present" {
        expected.push("internalsInvoke");
    }
    for key in expected {
        let value = report[key]
            .as_str()
            .unwrap_or_else(|| panic!("probe key {key} missing: {report}"));
        // WebKit never answers a fetch of the ipc: scheme from the iframe: for the two fetch
        // attempts "no answer" is an outcome (the request did not go through; the sign_out
        // canary below proves no command ran). Every other attempt must have a definite one.
        if !key.starts_with("fetchIpc") {
            assert!(
                !value.starts_with("no answer within"),
                "{key} timed out: {value}"
            );
        }
    }
    // No route from the iframe reaches a command. sign_out is the canary: had any attempt
    // reached it, the session would have ended.
    let outcome = |key: &str| report[key].as_str().unwrap_or("<missing>").to_string();
    assert!(
        outcome("internals") == "absent" || !outcome("internalsInvoke").starts_with("resolved"),
        "{report}"
    );
    for key in [
        "parentDocument",
        "topDocument",
        "parentInternals",
        "topInternals",
    ] {
        assert!(
            outcome(key).starts_with("blocked"),
            "{key}: {}",
            outcome(key)
        );
    }
    for key in ["fetchIpcScheme", "fetchIpcLocalhost"] {
        assert!(
            !outcome(key).starts_with("resolved: \"status 200"),
            "{key}: {}",
            outcome(key)
        );
    }
    // The softphone's microphone (WebKit's mock device here) is granted to the client.
    assert!(
        outcome("microphone").starts_with("granted"),
        "microphone: {}",
        outcome("microphone")
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        app.visible_text("#status-session").await,
        "Signed in as Alex Agent"
    );
    // The top window is still the app page: the client could not navigate it away.
    let top = app
        .client
        .execute("return window.location.href;", vec![])
        .await
        .unwrap();
    assert!(
        top.as_str().unwrap().starts_with("tauri://localhost"),
        "{top}"
    );

    // Spoofing: a frame that is not the client (on the client's own origin) and bad payloads
    // from the client itself are ignored and counted by reason; what the agent sees is unchanged.
    assert!(body_attribute(&app, "data-ignored-foreign-source").await >= 3);
    assert!(body_attribute(&app, "data-ignored-malformed").await >= 2);
    assert!(body_attribute(&app, "data-ignored-oversize").await >= 1);
    assert!(body_attribute(&app, "data-ignored-unknown-type").await >= 1);
    assert_eq!(app.visible_text("#status-agent").await, "Probe Control");
    assert!(!app.is_displayed("#status-queue").await);

    // The navigation lock: the frame of a non-client origin was never even requested, while
    // the same-origin spoofing frame (the control) was.
    let log = support::Control::at(&urls.login).access_log().await;
    let requested = |uri: &str| log.iter().any(|e| e["uri"] == uri);
    assert!(requested("/embedded-client/probe/spoof.html?from=client"));
    assert!(
        !requested("/embedded-client/probe/spoof.html?from=login"),
        "a non-client origin was loaded into the client frame"
    );

    // Links: only https on an allowed host reaches the system browser, from window.open and
    // from target=_blank alike; the agent is told when one is blocked.
    click_in_client(&app, "#open-allowed").await;
    wait_for_open(app.home.path(), "https://help.example.com/article?id=42").await;
    click_in_client(&app, "#link-blank").await;
    wait_for_open(app.home.path(), "https://help.example.com/from-anchor").await;
    click_in_client(&app, "#open-other").await;
    app.wait_for_text("#link-notice", "Blocked a link to evil.example.net")
        .await;
    assert_eq!(
        link_notice_reason(&app).await,
        "link_host_not_allowed: evil.example.net is not on the list of sites Agent Shell may open (links.allowed_hosts)"
    );
    app.screenshot("link-blocked").await;
    click_in_client(&app, "#open-http").await;
    app.wait_for_text("#link-notice", "Blocked a link to help.example.com")
        .await;
    assert_eq!(
        link_notice_reason(&app).await,
        "link_not_https: only https links open in the browser; this one is http"
    );
    let opened = browser_opens(app.home.path());
    assert_eq!(
        opened
            .iter()
            .filter(|u| u.contains("help.example.com"))
            .count(),
        2,
        "{opened:?}"
    );
    assert!(
        !opened
            .iter()
            .any(|u| u.contains("evil.example.net") || u.contains("plain-http")),
        "{opened:?}"
    );
    // No second webview window was ever created.
    assert_eq!(app.client.windows().await.unwrap().len(), 1);

    // Wrong origin from the right window: the client frame's own document is replaced by a
    // page that its policy sandboxes into an opaque origin ("null"). Its ready, session-start
    // and queue position are all ignored by origin: no handshake, no token posted, nothing
    // the agent sees changes.
    assert_eq!(body_attribute(&app, "data-ignored-foreign-origin").await, 0);
    let foreign_source_before = body_attribute(&app, "data-ignored-foreign-source").await;
    click_in_client(&app, "#become-opaque").await;
    enter_client_frame(&app).await;
    let posted = app.visible_text("#status").await;
    app.client.enter_parent_frame().await.unwrap();
    assert_eq!(posted, "posted 3 messages from origin null");
    wait_until(
        Duration::from_secs(10),
        "3 opaque-origin messages counted",
        async || match body_attribute(&app, "data-ignored-foreign-origin").await {
            counted if counted >= 3 => Ok(()),
            counted => Err(format!("{counted} counted")),
        },
    )
    .await;
    assert_eq!(
        body_attribute(&app, "data-ignored-foreign-source").await,
        foreign_source_before
    );
    assert_eq!(app.visible_text("#status-agent").await, "Probe Control");
    assert!(!app.is_displayed("#status-queue").await);
    assert_eq!(
        app.visible_text("#status-session").await,
        "Signed in as Alex Agent"
    );

    let log = app.quit().await;
    assert!(log.contains("link refused"), "{log}");
    assert!(!log.contains("no tray icon"), "{log}");
    // WebKitGTK hands the iframe's webkit.messageHandlers.ipc message to Tauri as if from the
    // app page; Tauri's per-launch invoke key is what refused it.
    assert!(
        log.contains("but received guessed-by-message-handler"),
        "{log}"
    );
}

/// A client that never starts (here: a page that only ever posts from an opaque origin) does
/// not leave the agent looking at a spinner: after embed.start_timeout_secs the overlay says
/// what happened and offers Reload, which starts the client afresh.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus, gnome-keyring and tauri-driver: run scripts/test.sh"]
async fn a_client_that_never_starts_gets_a_problem_and_a_reload_button() {
    let emulator = emulator(free_port()).await;
    let config = config_text(
        &emulator,
        &format!(
            "[embed]\nclient_url = \"{}/embedded-client/probe/opaque.html\"\nstart_timeout_secs = 5\n",
            emulator.urls().api
        ),
    );
    let (home, env) = browser_home();
    let app = launch(&config, &env, home).await;
    app.sign_in_through_the_browser().await;
    app.wait_for_text("#client-loading-text", "Loading Genesys Cloud…")
        .await;
    assert!(!app.is_displayed("#client-reload-button").await);

    app.wait_for_text("#client-loading-text", "Genesys Cloud did not start")
        .await;
    assert_eq!(
        app.visible_text("#client-loading-detail").await,
        "It did not finish loading within 5 seconds. Check the network connection, then reload it."
    );
    assert!(!app.is_displayed("#client-loading-spinner").await);
    app.screenshot("client-did-not-start").await;
    // The session itself is fine: only the client is in trouble.
    assert_eq!(
        app.visible_text("#status-session").await,
        "Signed in as Alex Agent"
    );

    // Each load of the page posts three messages the host ignores by origin: Reload must
    // run the page again (however WebKit fetches it), so the page-wide count doubles.
    let posted_per_load = 3;
    assert_eq!(
        body_attribute(&app, "data-ignored-foreign-origin").await,
        posted_per_load
    );
    assert_eq!(
        body_attribute(&app, "data-bridge-ignored").await,
        posted_per_load
    );
    app.click("#client-reload-button").await;
    app.wait_for_text("#client-loading-text", "Loading Genesys Cloud…")
        .await;
    wait_until(
        Duration::from_secs(15),
        "Reload to run the client page again",
        async || match body_attribute(&app, "data-bridge-ignored").await {
            ignored if ignored >= 2 * posted_per_load => Ok(()),
            ignored => Err(format!("{ignored} of the probe's messages ignored")),
        },
    )
    .await;
    app.wait_for_text("#client-loading-text", "Genesys Cloud did not start")
        .await;
    app.quit().await;
}
