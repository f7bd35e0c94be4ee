//! The shell through a token broker to the emulator, as an org with a confidential client
//! runs it: the emulator gives public clients no refresh token (as Genesys may), the broker
//! adds the client secret and seals the refresh token. Real HTTP end to end: the shell's own
//! token client, the broker's server, the emulator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use agent_shell_broker::{BrokerConfig, ClientConfig, RunningBroker, SealingKey};
use agent_shell_core::config::RefreshPolicy;
use agent_shell_core::config::{parse_str, RedirectMode};
use agent_shell_core::platform::keychain::{MemoryStore, SecretStore};
use agent_shell_core::session::auth::{AuthService, Phase, RedirectTransport};
use agent_shell_core::ErrorCode;
use agent_shell_test_kit::{Control, FaultExt, FaultKind};
use genesys_emulator::{ClientRegistration, EmulatorConfig, RunningEmulator, DEMO_CLIENT_ID};

const SECRET: &str = "broker-only-client-secret";

struct Org {
    emulator: RunningEmulator,
    control: Control,
    broker: RunningBroker,
    key: SealingKey,
    store: Arc<MemoryStore>,
    http: reqwest::Client,
}

fn broker_config(emulator: &RunningEmulator, key: SealingKey) -> BrokerConfig {
    let upstream = format!("{}/oauth/token", emulator.urls().login);
    BrokerConfig::new(&upstream, key)
        .unwrap()
        .with_client(ClientConfig::new(
            DEMO_CLIENT_ID,
            SECRET,
            genesys_emulator::DEMO_REDIRECT_URIS,
        ))
}

impl Org {
    async fn start() -> Org {
        let confidential = ClientRegistration {
            secret: Some(SECRET.into()),
            ..ClientRegistration::demo()
        };
        let emulator = genesys_emulator::start(EmulatorConfig {
            auto_approve: true,
            public_refresh_tokens: false,
            clients: vec![confidential],
            ..EmulatorConfig::default()
        })
        .await
        .unwrap();
        let key = SealingKey::generate();
        let broker = agent_shell_broker::start(broker_config(&emulator, key.clone()))
            .await
            .unwrap();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Org {
            control: Control::new(&emulator),
            emulator,
            broker,
            key,
            store: Arc::new(MemoryStore::default()),
            http,
        }
    }

    /// The app as it starts: a fresh AuthService over the same keychain.
    fn shell(&self) -> AuthService {
        let urls = self.emulator.urls();
        let config = parse_str(&format!(
            "client_id = \"{DEMO_CLIENT_ID}\"\ntoken_broker = \"{}\"\n[local_emulator]\nlogin = \"{}\"\napi = \"{}\"\nmedia = \"{}\"\n",
            self.broker.url(),
            urls.login,
            urls.api,
            urls.media
        ))
        .unwrap();
        AuthService::new(config, self.store.clone())
            .unwrap()
            .with_refresh_policy(RefreshPolicy {
                first_delay: Duration::from_millis(100),
                max_delay: Duration::from_millis(400),
                attempt_timeout: Duration::from_millis(800),
                min_lifetime: agent_shell_core::config::EMULATOR_MIN_LIFETIME,
                ..RefreshPolicy::default()
            })
            .unwrap()
    }

    async fn sign_in(&self, auth: &AuthService) {
        let request = auth.begin_sign_in(RedirectMode::DeepLink).unwrap();
        let response = self.http.get(request.url.clone()).send().await.unwrap();
        let location = response.headers()["location"].to_str().unwrap().to_string();
        auth.complete_sign_in(&location, RedirectTransport::DeepLink)
            .await
            .unwrap();
    }

    fn stored(&self) -> Option<String> {
        self.store.load().unwrap().map(|t| t.expose().to_string())
    }
}

#[tokio::test]
async fn sign_in_through_the_broker_stores_a_sealed_token_and_a_restart_is_silent() {
    let org = Org::start().await;
    let auth = org.shell();
    org.sign_in(&auth).await;
    assert_eq!(auth.view().phase, Phase::SignedIn);
    let stored = org
        .stored()
        .expect("a refresh token, which a public client never gets here");
    assert!(
        stored.starts_with("asb1."),
        "the keychain holds the broker's envelope"
    );
    let issued: Vec<String> = org.control.issued_tokens().await;
    assert!(
        !issued.contains(&stored),
        "Genesys's own refresh token never reaches the desktop"
    );

    // The app starts again: signed in without a browser, through the broker.
    let restarted = org.shell();
    let view = restarted.silent_start().await;
    assert_eq!(view.phase, Phase::SignedIn, "{view:?}");
    let state = org.control.state().await;
    assert_eq!(state["refreshes_served"], 1);
    assert_ne!(
        org.stored().unwrap(),
        stored,
        "the rotated envelope was stored"
    );
}

#[tokio::test]
async fn twenty_renewals_through_the_broker_never_reuse_a_token() {
    let org = Org::start().await;
    let auth = org.shell();
    org.sign_in(&auth).await;
    let mut seen = vec![org.stored().unwrap()];
    for i in 0..20 {
        let view = auth.refresh().await.unwrap();
        assert_eq!(view.phase, Phase::SignedIn, "renewal {i}");
        let now = org.stored().unwrap();
        assert!(!seen.contains(&now), "envelope reused at renewal {i}");
        seen.push(now);
    }
    let state = org.control.state().await;
    assert_eq!(state["refreshes_served"], 20);
    assert_eq!(state["refresh_reuse_detected"], 0);
}

#[tokio::test]
async fn upstream_errors_and_timeouts_are_retried_by_the_shell() {
    let org = Org::start().await;
    let auth = org.shell();
    org.sign_in(&auth).await;

    // Two 500s from Genesys, passed through the broker: the third attempt succeeds.
    org.control.fault(FaultKind::ServerError.times(2)).await;
    assert_eq!(auth.refresh().await.unwrap().phase, Phase::SignedIn);

    // Genesys hangs once: the shell's attempt times out (before the broker's own upstream
    // timeout would answer 503 + Retry-After), and its next attempt gets through.
    org.control.fault(FaultKind::Hang.times(1)).await;
    assert_eq!(auth.refresh().await.unwrap().phase, Phase::SignedIn);
    let state = org.control.state().await;
    assert_eq!(state["refreshes_served"], 2, "{state}");
}

#[tokio::test]
async fn invalid_grant_through_the_broker_asks_for_a_new_sign_in() {
    let org = Org::start().await;
    let auth = org.shell();
    org.sign_in(&auth).await;
    org.control.fault(FaultKind::InvalidGrant.times(1)).await;
    let error = auth.refresh().await.unwrap_err();
    assert_eq!(error.code(), "token_invalid_grant", "{error:?}");
    assert_eq!(auth.view().phase, Phase::ReloginRequired);
    assert!(org.stored().is_none(), "the dead token is deleted");

    // The clean re-login works through the broker as before.
    org.sign_in(&auth).await;
    assert_eq!(auth.view().phase, Phase::SignedIn);
}

#[tokio::test]
async fn rotating_the_broker_key_signs_the_desktop_out_with_the_reason() {
    let org = Org::start().await;
    let auth = org.shell();
    org.sign_in(&auth).await;

    // Rotation with the old key kept as previous: nothing changes for the agent.
    let second = SealingKey::generate();
    org.broker
        .reload(broker_config(&org.emulator, second.clone()).with_previous_key(org.key.clone()))
        .await
        .unwrap();
    assert_eq!(auth.refresh().await.unwrap().phase, Phase::SignedIn);

    // The previous key retired before this desktop renewed: one fresh sign-in, with a reason.
    let third = SealingKey::generate();
    let before = org.stored().unwrap();
    org.broker
        .reload(broker_config(&org.emulator, third))
        .await
        .unwrap();
    let error = auth.refresh().await.unwrap_err();
    assert_eq!(error.code(), "token_invalid_grant", "{error:?}");
    // The broker's reason reaches the agent's notice and the log: the key was rotated.
    let message = error.to_string();
    assert!(message.contains("rotated"), "{message}");
    assert_eq!(auth.view().phase, Phase::ReloginRequired);
    assert!(
        org.stored().is_none(),
        "the envelope sealed with {} chars was deleted",
        before.len()
    );
    org.sign_in(&auth).await;
    assert_eq!(auth.view().phase, Phase::SignedIn);
}
