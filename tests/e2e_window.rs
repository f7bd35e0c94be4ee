//! End to end: the real app in a real WebKitGTK webview under Xvfb, against the emulator.
//! Run through scripts/test.sh, which provides Xvfb, a D-Bus session and tauri-driver.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use genesys_emulator::{EmulatorConfig, RunningEmulator};
use serde_json::{json, Value};
use support::{wait_until, E2eApp, ForbiddenOrigin, Launch};

async fn emulator() -> RunningEmulator {
    genesys_emulator::start(EmulatorConfig::default())
        .await
        .unwrap()
}

fn local_config(emulator: &RunningEmulator) -> String {
    let urls = emulator.urls();
    format!(
        "client_id = \"{}\"\n[local_emulator]\nlogin = \"{}\"\napi = \"{}\"\nmedia = \"{}\"\n",
        genesys_emulator::DEMO_CLIENT_ID,
        urls.login,
        urls.api,
        urls.media
    )
}

/// Makes the page's `navigator.onLine` say `online` and fires the matching event, as WebKit
/// does when the machine's network goes away or comes back (this machine's own network cannot
/// be switched off under a test).
async fn set_network(app: &E2eApp, online: bool) {
    app.client
        .execute(
            "window.__testOnline = arguments[0];\
             Object.defineProperty(Navigator.prototype, 'onLine', \
               { configurable: true, get: () => window.__testOnline });\
             window.dispatchEvent(new Event(arguments[0] ? 'online' : 'offline'));",
            vec![Value::from(online)],
        )
        .await
        .unwrap();
}

async fn access_log(emulator: &RunningEmulator) -> Vec<Value> {
    support::Control::new(emulator).access_log().await
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus and tauri-driver: run scripts/test.sh"]
async fn window_shows_the_configured_environment_and_a_status_bar() {
    let emulator = emulator().await;
    let config = local_config(&emulator);
    let app = E2eApp::launch(Launch {
        args: vec![],
        config_toml: Some(&config),
        ..Launch::default()
    })
    .await;

    assert_eq!(
        app.visible_text("#status-environment").await,
        "Local emulator (127.0.0.1)"
    );
    assert_eq!(
        app.visible_text("#sign-in-environment").await,
        "Local emulator (127.0.0.1)"
    );
    assert_eq!(app.visible_text("#status-session").await, "Signed out");
    assert!(app
        .visible_text("#status-version")
        .await
        .starts_with("Agent Shell 0."));
    assert!(!app.is_displayed("#status-demo").await, "not a demo run");
    assert!(!app.is_displayed("#config-error").await);
    // The window is built hidden and shown when its page is there, not by the fallback timer.
    let log = app.log();
    assert!(
        log.contains("\"page loaded\"") || log.contains("\"page ready\""),
        "the window was not shown by its page:\n{log}"
    );
    assert!(!log.contains("page did not load in time"), "{log}");
    app.screenshot("sign-in-screen").await;
    // The emulator is on loopback: the machine's network going away does not concern it.
    set_network(&app, false).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!app.is_displayed("#status-offline").await);

    // The navigation lock admits the agent client's origin (for the iframe); the main frame
    // sent there comes straight back to the app page.
    let client_page = "agent-client://localhost/index.html".to_string();
    app.client
        .execute(
            "window.location.href = arguments[0];",
            vec![Value::from(client_page)],
        )
        .await
        .unwrap();
    wait_until(
        Duration::from_secs(10),
        "the main frame back on the app page",
        async || {
            let here = app.client.current_url().await.map(|u| u.to_string());
            let home = here
                .as_deref()
                .is_ok_and(|u| u.starts_with("tauri://localhost"));
            match home && app.is_displayed("#status-environment").await {
                true => Ok(()),
                false => Err(format!("on {here:?}")),
            }
        },
    )
    .await;
    assert_eq!(
        app.visible_text("#status-environment").await,
        "Local emulator (127.0.0.1)"
    );
    let log = app.quit().await;
    assert!(
        log.contains("main frame left the app page: going back"),
        "{log}"
    );
}

/// A real environment: when the webview reports the network gone, the status bar says so
/// (renewals would fail), and the notice goes when the network is back.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus and tauri-driver: run scripts/test.sh"]
async fn a_real_environment_says_when_the_network_is_down() {
    let app = E2eApp::launch(Launch {
        config_toml: Some(
            "environment = \"mypurecloud.com\"\nclient_id = \"00000000-0000-0000-0000-000000000000\"\n",
        ),
        ..Launch::default()
    })
    .await;
    assert_eq!(
        app.visible_text("#status-environment").await,
        "mypurecloud.com"
    );
    set_network(&app, false).await;
    app.wait_for_text("#status-offline", "Offline: waiting for the network")
        .await;
    app.screenshot("offline").await;
    set_network(&app, true).await;
    wait_until(
        Duration::from_secs(5),
        "the offline notice to go",
        async || match app.is_displayed("#status-offline").await {
            true => Err("still shown".into()),
            false => Ok(()),
        },
    )
    .await;
    app.quit().await;
}

/// The page really runs under the runtime CSP: frames and fetches to an origin outside the
/// configured environment never leave the webview, inline script does not run, and (the
/// positive control) a frame to the environment's client origin does load.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus and tauri-driver: run scripts/test.sh"]
async fn csp_blocks_other_origins_and_inline_script() {
    let emulator = emulator().await;
    let forbidden = ForbiddenOrigin::start().await;
    // A client page of IT's own on the emulator's api origin: the app page's CSP frames and
    // connects to exactly that environment (the agent client's own policy is tested in
    // e2e_agent_client.rs).
    let config = format!(
        "{}\n[embed]\nclient_url = \"{}/embedded-client/\"\n",
        local_config(&emulator),
        emulator.urls().api
    );
    let app = E2eApp::launch(Launch {
        args: vec![],
        config_toml: Some(&config),
        ..Launch::default()
    })
    .await;
    app.visible_text("#status-environment").await;

    let allowed_frame = format!("{}/embedded-client/?csp-probe=1", emulator.urls().api);
    let result = app
        .client
        .execute_async(
            r#"
            const [forbidden, allowed, done] = arguments;
            const violations = [];
            document.addEventListener('securitypolicyviolation',
                (e) => violations.push(e.violatedDirective + ' ' + e.blockedURI));
            const frame = (src) => {
                const f = document.createElement('iframe');
                f.src = src;
                document.body.appendChild(f);
            };
            frame(forbidden + '/framed');
            frame(allowed);
            let fetchResult = 'not attempted';
            fetch(forbidden + '/fetched').then(() => { fetchResult = 'succeeded'; },
                                                (e) => { fetchResult = 'refused: ' + e; });
            const inline = document.createElement('script');
            inline.textContent = 'window.__inlineRan = true;';
            document.body.appendChild(inline);
            setTimeout(() => done({
                violations,
                fetchResult,
                inlineRan: window.__inlineRan === true,
            }), 2500);
            "#,
            vec![json!(forbidden.origin), json!(allowed_frame)],
        )
        .await
        .unwrap();
    app.screenshot("csp-probe").await;
    let log = app.quit().await;

    assert_eq!(
        forbidden.hits(),
        0,
        "the forbidden origin was contacted: {result}"
    );
    assert!(
        result["fetchResult"]
            .as_str()
            .unwrap()
            .starts_with("refused"),
        "{result}"
    );
    assert_eq!(
        result["inlineRan"],
        json!(false),
        "inline script ran: {result}"
    );
    let violations: Vec<String> = result["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    for directive in ["frame-src", "connect-src", "script-src"] {
        assert!(
            violations.iter().any(|v| v.starts_with(directive)),
            "no {directive} violation reported: {violations:?}"
        );
    }
    // Positive control: the configured client origin is framed, so the probe above was real.
    wait_until(
        Duration::from_secs(5),
        "the allowed client frame to reach the emulator",
        async || {
            let served = access_log(&emulator).await.iter().any(|entry| {
                entry["origin"] == "api" && entry["uri"] == "/embedded-client/?csp-probe=1"
            });
            match served {
                true => Ok(()),
                false => Err(log.clone()),
            }
        },
    )
    .await;
    assert!(
        log.contains("content security policy"),
        "CSP not logged:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus and tauri-driver: run scripts/test.sh"]
async fn a_bad_config_file_gets_a_readable_error_screen_not_a_white_one() {
    let app = E2eApp::launch(Launch {
        args: vec![],
        config_toml: Some("environment = \"mypurecloud.example\"\nclient_id = \"x\"\n"),
        ..Launch::default()
    })
    .await;
    let message = app.visible_text("#config-error-message").await;
    assert!(
        message.contains("unknown environment \"mypurecloud.example\""),
        "{message}"
    );
    assert_eq!(
        app.visible_text("#config-error-code").await,
        "config_unknown_environment"
    );
    assert_eq!(
        app.visible_text("#status-session").await,
        "Configuration error"
    );
    app.screenshot("config-error").await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus and tauri-driver: run scripts/test.sh"]
async fn no_config_at_all_says_where_it_looked() {
    let app = E2eApp::launch(Launch {
        args: vec![],
        config_toml: None,
        ..Launch::default()
    })
    .await;
    // Both places: machine policy (IT's) and the agent's own file.
    let looked = app.visible_text("#searched-paths").await;
    let expected = app.home.path().join(".config/agent-shell/config.toml");
    assert!(looked.contains("/etc/agent-shell/policy.toml"), "{looked}");
    assert!(looked.contains(&expected.display().to_string()), "{looked}");
    assert_eq!(
        app.visible_text("#status-environment").await,
        "Not configured"
    );
    // What to do in a shipped build: contact IT, with the diagnostics to send them. The demo
    // hint only where `agent-shell demo` exists.
    assert!(app
        .visible_text("#not-configured .lede")
        .await
        .contains("contact your IT team"));
    assert_eq!(app.is_displayed("#demo-hint").await, cfg!(feature = "demo"));
    let button = "#not-configured .copy-diagnostics-action";
    app.click(button).await;
    support::wait_until(
        std::time::Duration::from_secs(40),
        "\"Diagnostics copied\" on the not-configured screen",
        async || match app.visible_text(button).await.as_str() {
            "Diagnostics copied" => Ok(()),
            other => Err(other.to_string()),
        },
    )
    .await;
    // Screen readers hear it too (a polite live region, visually hidden).
    let announced = app
        .client
        .execute(
            "return document.getElementById('diagnostics-status').textContent;",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        announced
            .as_str()
            .unwrap_or_default()
            .starts_with("Diagnostics copied"),
        "{announced}"
    );
    let clipboard = std::process::Command::new("xclip")
        .args(["-selection", "clipboard", "-o"])
        .output()
        .expect("xclip (scripts/setup.sh test installs it)");
    let clipboard = String::from_utf8_lossy(&clipboard.stdout);
    for fact in ["Collected at", "OS build", "Webview", "none found"] {
        assert!(clipboard.contains(fact), "{fact} missing:\n{clipboard}");
    }
    app.quit().await;
}

/// The quick start's demo command: the bundled emulator in-process, no config, no org.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus and tauri-driver: run scripts/test.sh"]
async fn demo_runs_against_the_bundled_emulator() {
    if !cfg!(feature = "demo") {
        eprintln!(
            "skipped: this build has no emulator (scripts/test.sh builds with --features demo)"
        );
        return;
    }
    let (home, env) = support::browser_home();
    let app = E2eApp::launch(Launch {
        args: vec!["demo".into()],
        config_toml: None,
        env,
        home: Some(home),
    })
    .await;
    assert_eq!(
        app.visible_text("#status-environment").await,
        "Local emulator (127.0.0.1)"
    );
    assert_eq!(app.visible_text("#status-demo").await, "Demo");
    app.screenshot("demo").await;

    // The demo's emulator shows its sign-in page to a person; the test browser cannot press
    // its button, so the test turns on auto-approve, as the emulator's control API allows.
    let log = app.log();
    let login = log
        .split("Genesys Cloud emulator running: login ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no emulator line in the log:\n{log}"))
        .to_string();
    support::Control::at(&login)
        .settings(support::Settings {
            auto_approve: Some(true),
            ..support::Settings::default()
        })
        .await;

    // Done when: a signed-in agent with a live (emulated) client.
    app.sign_in_through_the_browser().await;
    app.wait_for_text("#status-agent", "Alex Agent").await;
    // The agent client: On Queue, and the demo's emulator rings an inbound call shortly after.
    support::click_in_client(&app, "#on-queue").await;
    wait_until(
        Duration::from_secs(20),
        "the demo's inbound call to ring",
        async || {
            support::enter_client_frame(&app).await;
            let ringing = app
                .client
                .execute(
                    "const e = document.getElementById('incoming'); \
                     return e !== null && e.offsetParent !== null ? e.textContent : null;",
                    vec![],
                )
                .await
                .unwrap_or(Value::Null);
            app.client.enter_parent_frame().await.unwrap();
            match ringing {
                Value::String(text) => Ok(text),
                other => Err(other.to_string()),
            }
        },
    )
    .await;
    app.screenshot("demo-signed-in").await;

    // The demo leaves nothing in the agent's real keychain: its store is throwaway.
    let bases: Vec<String> = log
        .split("Genesys Cloud emulator running: ")
        .nth(1)
        .and_then(|line| line.lines().next())
        .unwrap()
        .split(" | ")
        .filter_map(|part| part.split_whitespace().nth(1).map(str::to_string))
        .collect();
    let demo_config = format!(
        "client_id = \"{}\"\n[local_emulator]\nlogin = \"{}\"\napi = \"{}\"\nmedia = \"{}\"\n",
        genesys_emulator::DEMO_CLIENT_ID,
        bases[0],
        bases[1],
        bases[2]
    );
    assert!(
        support::stored_refresh_token(&demo_config).is_none(),
        "the demo wrote to the real keychain"
    );
    app.quit().await;
}

/// Starts the app directly (not through WebDriver) with a fresh HOME and no configuration,
/// its log going to `log`.
fn direct_launch(home: &std::path::Path, log: &std::path::Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_agent-shell"));
    let log = std::fs::File::create(log).unwrap();
    command
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env_remove("AGENT_SHELL_CONFIG")
        .env("AGENT_SHELL_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .kill_on_drop(true);
    command
}

/// An agent starts Agent Shell again while the old one is still closing: the old one holds
/// the single-instance lock but never answers the hand-over. The new launch does not stop with
/// an error; it starts itself again and becomes the instance once the lock is free. When the
/// lock is never freed it gives up after its retries and says what to do. The test holds the
/// lock itself on the D-Bus session bus and refuses the hand-over, as a closing instance does.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, D-Bus and a built app: run scripts/test.sh"]
async fn a_launch_during_shutdown_of_the_old_instance_starts_once_it_is_gone() {
    let _slot = support::exclusive_app_slot().await;
    let bus = zbus::blocking::Connection::session().expect("a D-Bus session bus");
    bus.request_name(support::SINGLE_INSTANCE_NAME).unwrap();
    // An object server with nothing in it answers the hand-over call with an error at once,
    // like an instance that is going away (a hung one would never answer at all).
    let _answers_with_errors = bus.object_server();
    let home = tempfile::tempdir().unwrap();
    let log = home.path().join("app.log");

    // Never freed: three relaunches, then a clear failure.
    let finished = tokio::time::timeout(
        Duration::from_secs(60),
        direct_launch(home.path(), &log).status(),
    )
    .await
    .unwrap_or_else(|_| {
        panic!(
            "the launch did not give up within a minute\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    })
    .unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(finished.code(), Some(1), "{text}");
    assert_eq!(text.matches("starting again").count(), 3, "{text}");
    assert!(
        text.contains("another Agent Shell is running in this session but does not answer"),
        "{text}"
    );

    // Freed while the launch waits: the relaunched process (same pid) becomes the instance.
    let mut app = direct_launch(home.path(), &log).spawn().unwrap();
    wait_until(Duration::from_secs(30), "a relaunch", async || {
        let text = std::fs::read_to_string(&log).unwrap();
        match text.contains("starting again") {
            true => Ok(()),
            false => Err(text),
        }
    })
    .await;
    assert!(bus.release_name(support::SINGLE_INSTANCE_NAME).unwrap());
    let owner_pid = || -> Option<u32> {
        let proxy = zbus::blocking::fdo::DBusProxy::new(&bus).ok()?;
        let name = zbus::names::BusName::try_from(support::SINGLE_INSTANCE_NAME).ok()?;
        proxy.get_connection_unix_process_id(name).ok()
    };
    wait_until(
        Duration::from_secs(30),
        "the relaunched app to become the instance",
        async || {
            let text = std::fs::read_to_string(&log).unwrap();
            assert!(app.try_wait().unwrap().is_none(), "the app stopped\n{text}");
            match owner_pid() == app.id() {
                true => Ok(()),
                false => Err(text),
            }
        },
    )
    .await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("does not answer"), "{text}");
    if let Some(pid) = app.id() {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), app.wait()).await;
}

/// Start of shift: with `[startup] autostart` the app registers itself to open at desktop
/// login (on Linux an XDG autostart entry that runs this binary); without it, the entry goes.
#[tokio::test]
#[ignore = "needs Xvfb, D-Bus and tauri-driver: run scripts/test.sh"]
async fn autostart_follows_the_configuration_on_and_off() {
    let emulator = emulator().await;
    let with = format!("{}\n[startup]\nautostart = true\n", local_config(&emulator));
    let app = E2eApp::launch(Launch {
        config_toml: Some(&with),
        ..Launch::default()
    })
    .await;
    let entry = app
        .home
        .path()
        .join(".config/autostart/Agent Shell.desktop");
    let text = wait_until(Duration::from_secs(15), "the autostart entry", async || {
        std::fs::read_to_string(&entry).map_err(|e| e.to_string())
    })
    .await;
    let binary = std::fs::canonicalize(env!("CARGO_BIN_EXE_agent-shell")).unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("Exec=")
            && l.contains(binary.to_str().unwrap())
            && l.ends_with(" --autostart")),
        "{text}"
    );
    let (_, home) = app.quit_keeping_home().await;

    // The same desktop, the key removed: the entry is removed too.
    let without = local_config(&emulator);
    let app = E2eApp::launch(Launch {
        config_toml: Some(&without),
        home: Some(home),
        ..Launch::default()
    })
    .await;
    wait_until(
        Duration::from_secs(15),
        "the autostart entry to go",
        async || {
            if entry.exists() {
                Err("still there".to_string())
            } else {
                Ok(())
            }
        },
    )
    .await;
    app.quit().await;
}
