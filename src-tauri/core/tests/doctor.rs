//! `agent-shell doctor`'s network and keychain checks against the emulator, one known trap per
//! test: each must turn its check red with evidence an admin can act on, and a healthy setup
//! must pass them all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use agent_shell_core::config::{parse_str, ShellConfig};
use agent_shell_core::platform::keychain::{KeychainError, KeyringStore, MemoryStore, SecretStore};
use agent_shell_core::support::doctor::{self, Check, Status};
use genesys_emulator::{EmulatorConfig, RunningEmulator};

async fn emulator(config: EmulatorConfig) -> RunningEmulator {
    genesys_emulator::start(config).await.unwrap()
}

fn config_for(emulator: &RunningEmulator, client_id: &str, extra: &str) -> ShellConfig {
    let urls = emulator.urls();
    parse_str(&format!(
        "client_id = \"{client_id}\"\n{extra}\n[local_emulator]\nlogin = \"{}\"\napi = \"{}\"\nmedia = \"{}\"\n",
        urls.login, urls.api, urls.media
    ))
    .unwrap()
}

async fn run(config: &ShellConfig, keychain: Arc<dyn SecretStore>) -> Vec<Check> {
    doctor::network_checks(config, keychain).await
}

fn check<'a>(checks: &'a [Check], id: &str) -> &'a Check {
    checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id} in {checks:#?}"))
}

fn memory() -> Arc<dyn SecretStore> {
    Arc::new(MemoryStore::default())
}

#[tokio::test]
async fn a_healthy_setup_passes_every_check() {
    let emulator = emulator(EmulatorConfig::default()).await;
    let config = config_for(&emulator, genesys_emulator::DEMO_CLIENT_ID, "");
    let checks = run(&config, memory()).await;
    for check in &checks {
        assert_eq!(check.status, Status::Pass, "{check:#?}");
    }
    let authorize = check(&checks, "oauth.authorize");
    // Both redirect URIs sign-in can use were tried.
    assert!(
        authorize
            .evidence
            .contains("com.agentshell.desktop:/oauth/callback"),
        "{authorize:?}"
    );
    assert!(
        authorize.evidence.contains("http://127.0.0.1:"),
        "{authorize:?}"
    );
    assert!(check(&checks, "clock.skew").evidence.contains(" s "));
    // The websocket's host is probed over HTTP(S) on its own port.
    let streaming = check(&checks, "network.streaming_host");
    assert!(
        streaming
            .evidence
            .contains(emulator.urls().api.trim_end_matches('/')),
        "{streaming:?}"
    );
}

#[tokio::test]
async fn a_wrong_client_id_gets_the_error_page_as_evidence() {
    let emulator = emulator(EmulatorConfig::default()).await;
    let config = config_for(&emulator, "not-our-client", "");
    let checks = run(&config, memory()).await;
    let authorize = check(&checks, "oauth.authorize");
    assert_eq!(authorize.status, Status::Fail);
    assert!(
        authorize.evidence.contains("unknown client_id"),
        "{authorize:?}"
    );
    assert!(authorize.fix.as_deref().unwrap().contains("redirect URIs"));
}

#[tokio::test]
async fn an_unregistered_redirect_uri_is_named() {
    let emulator = emulator(EmulatorConfig::default()).await;
    let config = config_for(
        &emulator,
        genesys_emulator::DEMO_CLIENT_ID,
        "[redirect]\ndeep_link_scheme = \"com.example.other\"",
    );
    let checks = run(&config, memory()).await;
    let authorize = check(&checks, "oauth.authorize");
    assert_eq!(authorize.status, Status::Fail);
    assert!(
        authorize
            .evidence
            .contains("com.example.other:/oauth/callback: HTTP 400"),
        "{authorize:?}"
    );
    assert!(
        authorize.evidence.contains("not registered"),
        "{authorize:?}"
    );
    // The loopback URI is still fine, and says so.
    assert!(authorize.evidence.contains("accepted"), "{authorize:?}");
}

#[tokio::test]
async fn a_scope_the_org_does_not_know_is_refused_at_authorize() {
    let emulator = emulator(EmulatorConfig::default()).await;
    let mut scopes: Vec<String> = agent_shell_core::config::REQUIRED_SCOPES
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect();
    scopes.push("\"not-a-scope\"".into());
    let config = config_for(
        &emulator,
        genesys_emulator::DEMO_CLIENT_ID,
        &format!("scopes = [{}]", scopes.join(", ")),
    );
    let checks = run(&config, memory()).await;
    let authorize = check(&checks, "oauth.authorize");
    assert_eq!(authorize.status, Status::Fail, "{authorize:?}");
    assert!(
        authorize.evidence.contains("invalid_scope"),
        "{authorize:?}"
    );
}

#[tokio::test]
async fn an_api_that_refuses_the_agent_clients_origin_fails_the_preflight() {
    let emulator = emulator(EmulatorConfig {
        api_cors_origins: vec!["https://portal.example.com".into()],
        ..EmulatorConfig::default()
    })
    .await;
    let config = config_for(&emulator, genesys_emulator::DEMO_CLIENT_ID, "");
    let checks = run(&config, memory()).await;
    let preflight = check(&checks, "embedding.cors_preflight");
    assert_eq!(preflight.status, Status::Fail, "{preflight:?}");
    assert!(
        preflight.evidence.contains("agent-client://localhost"),
        "{preflight:?}"
    );
    assert!(
        preflight
            .evidence
            .contains("Access-Control-Allow-Origin absent"),
        "{preflight:?}"
    );
    assert!(
        preflight
            .fix
            .as_deref()
            .unwrap()
            .contains("embed.client_url"),
        "{preflight:?}"
    );
}

#[tokio::test]
async fn unreachable_hosts_are_reported_as_refused() {
    // A port nothing listens on: bind, note the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let config = parse_str(&format!(
        "client_id = \"c\"\n[local_emulator]\nlogin = \"{base}\"\napi = \"{base}\"\nmedia = \"{base}\"\n"
    ))
    .unwrap();
    let checks = run(&config, memory()).await;
    let login = check(&checks, "network.login_host");
    assert_eq!(login.status, Status::Fail);
    assert!(
        login.evidence.contains("refused the connection"),
        "{login:?}"
    );
    assert!(login
        .fix
        .as_deref()
        .unwrap()
        .contains(&format!("127.0.0.1:{port}")));
    assert_eq!(check(&checks, "clock.skew").status, Status::Warn);
}

#[tokio::test]
async fn a_locked_or_absent_keychain_fails_with_the_reason() {
    let emulator = emulator(EmulatorConfig::default()).await;
    let config = config_for(&emulator, genesys_emulator::DEMO_CLIENT_ID, "");
    let store = Arc::new(MemoryStore::default());
    store.fail_with(Some(KeychainError::Unavailable(
        "the collection is locked".into(),
    )));
    let checks = run(&config, store.clone()).await;
    let keychain = check(&checks, "keychain");
    assert_eq!(keychain.status, Status::Fail);
    assert!(keychain.evidence.contains("locked"), "{keychain:?}");
    assert!(keychain.fix.is_some());
    assert_eq!(
        store.record_count(),
        0,
        "a failed probe leaves nothing behind"
    );
}

/// The real Secret Service (run inside scripts/test.sh's D-Bus session with an unlocked
/// keyring): the probe round-trips and leaves no entry.
#[tokio::test]
#[ignore = "needs a Secret Service: run through scripts/test.sh"]
async fn the_real_keychain_probe_round_trips_and_leaves_nothing() {
    let result =
        agent_shell_core::platform::keychain::probe(Arc::new(KeyringStore::doctor_probe())).await;
    assert_eq!(result, Ok(()));
    let left = KeyringStore::doctor_probe().load().unwrap();
    assert!(left.is_none(), "the probe entry was left behind");
}

#[test]
fn clock_skew_warns_past_a_minute_and_fails_past_five() {
    let server = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let at = |secs: i64| {
        if secs >= 0 {
            server + Duration::from_secs(secs as u64)
        } else {
            server - Duration::from_secs((-secs) as u64)
        }
    };
    assert_eq!(
        doctor::clock_check(Some(server), at(30)).status,
        Status::Pass
    );
    let behind = doctor::clock_check(Some(server), at(-120));
    assert_eq!(behind.status, Status::Warn);
    assert!(behind.evidence.contains("120 s behind"), "{behind:?}");
    assert_eq!(
        doctor::clock_check(Some(server), at(301)).status,
        Status::Fail
    );
    assert_eq!(doctor::clock_check(None, server).status, Status::Warn);
}

#[tokio::test]
async fn a_configured_broker_is_checked_ready_and_speaking_oauth() {
    let emulator = emulator(EmulatorConfig::default()).await;
    let upstream = format!("{}/oauth/token", emulator.urls().login);
    let broker = agent_shell_broker::start(
        agent_shell_broker::BrokerConfig::new(
            &upstream,
            agent_shell_broker::SealingKey::generate(),
        )
        .unwrap()
        .with_client(agent_shell_broker::ClientConfig::new(
            genesys_emulator::DEMO_CLIENT_ID,
            "s",
            genesys_emulator::DEMO_REDIRECT_URIS,
        )),
    )
    .await
    .unwrap();
    let config = config_for(
        &emulator,
        genesys_emulator::DEMO_CLIENT_ID,
        &format!("token_broker = \"{}\"", broker.url()),
    );
    let checks = run(&config, memory()).await;
    let check_broker = check(&checks, "broker");
    assert_eq!(check_broker.status, Status::Pass, "{check_broker:?}");
    assert!(
        check_broker.evidence.contains("HTTP 400"),
        "{check_broker:?}"
    );

    // The broker goes away: the check fails and says how.
    broker.shutdown().await;
    let checks = run(&config, memory()).await;
    let check_broker = check(&checks, "broker");
    assert_eq!(check_broker.status, Status::Fail, "{check_broker:?}");
    assert!(check_broker.evidence.contains("readyz"), "{check_broker:?}");
}
