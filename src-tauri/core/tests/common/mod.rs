//! Shared fixture of the core integration tests: an auto-approving emulator (and the test
//! kit's client of its control API), an in-memory keychain, and a client that plays the browser.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use agent_shell_core::config::{parse_str, RedirectMode};
use agent_shell_core::platform::keychain::MemoryStore;
use agent_shell_core::secret::AccessToken;
use agent_shell_core::session::auth::{AuthError, AuthService, RedirectTransport, SessionView};
use agent_shell_test_kit::Control;
use genesys_emulator::{EmulatorConfig, RunningEmulator};

pub struct Fixture {
    pub emulator: RunningEmulator,
    /// The emulator's control API (faults, settings, counters).
    pub control: Control,
    pub store: Arc<MemoryStore>,
    pub http: reqwest::Client,
}

impl Fixture {
    pub async fn new() -> Self {
        let emulator = genesys_emulator::start(EmulatorConfig {
            auto_approve: true,
            ..EmulatorConfig::default()
        })
        .await
        .unwrap();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Fixture {
            control: Control::new(&emulator),
            emulator,
            store: Arc::new(MemoryStore::default()),
            http,
        }
    }

    pub fn service(&self) -> AuthService {
        let urls = self.emulator.urls();
        let config =
            parse_str(&format!(
            "client_id = \"{}\"\n[local_emulator]\nlogin = \"{}\"\napi = \"{}\"\nmedia = \"{}\"\n",
            genesys_emulator::DEMO_CLIENT_ID, urls.login, urls.api, urls.media
        ))
            .unwrap();
        AuthService::new(config, self.store.clone()).unwrap()
    }

    /// Plays the browser: follows the authorize URL and returns the redirect's Location.
    pub async fn browse(&self, url: &url::Url) -> String {
        let response = self.http.get(url.clone()).send().await.unwrap();
        assert_eq!(
            response.status().as_u16(),
            302,
            "authorize did not redirect"
        );
        response.headers()["location"].to_str().unwrap().to_string()
    }

    /// A whole deep-link sign-in: begin, play the browser, hand the redirect back.
    pub async fn try_sign_in(&self, auth: &AuthService) -> Result<SessionView, AuthError> {
        let request = auth.begin_sign_in(RedirectMode::DeepLink).unwrap();
        let location = self.browse(&request.url).await;
        auth.complete_sign_in(&location, RedirectTransport::DeepLink)
            .await
    }

    pub async fn sign_in(&self, auth: &AuthService) {
        self.try_sign_in(auth).await.unwrap();
    }

    /// HTTP status of users/me with `token`: what the embedded client would get.
    pub async fn users_me_status(&self, token: &AccessToken) -> u16 {
        let me = format!("{}/api/v2/users/me", self.emulator.urls().api);
        let response = self.http.get(&me).bearer_auth(token.expose()).send().await;
        response.unwrap().status().as_u16()
    }
}
