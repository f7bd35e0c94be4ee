//! Helpers shared by the broker's integration tests: the real emulator with a confidential
//! client, a broker in front of it (and the test kit's client of the emulator's control API),
//! PKCE sign-ins through the broker, and a log capture.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_shell_broker::{BrokerConfig, ClientConfig, RunningBroker, SealingKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use genesys_emulator::{ClientRegistration, EmulatorConfig, RunningEmulator};
use reqwest::header::LOCATION;
use reqwest::StatusCode;
use serde_json::Value;

pub use agent_shell_test_kit::Control;

pub const CLIENT_ID: &str = "broker-client";
/// Long and distinctive, so a scan of logs and responses cannot miss it.
pub const CLIENT_SECRET: &str = "cs-7f3a9d2e41b8c6057e9a3d1f2b4c8e6a0d5f7b9c";
pub const REDIRECT: &str = "com.agentshell.desktop:/oauth/callback";
pub const LOOPBACK_REDIRECT: &str = "http://127.0.0.1:47615/oauth/callback";

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The emulator with the broker's client registered as confidential (Genesys gives refresh
/// tokens to those), auto-approving sign-ins, and public clients getting no refresh token.
pub async fn emulator() -> RunningEmulator {
    genesys_emulator::start(EmulatorConfig {
        clients: vec![ClientRegistration {
            client_id: CLIENT_ID.to_owned(),
            secret: Some(CLIENT_SECRET.to_owned()),
            redirect_uris: vec![REDIRECT.to_owned(), LOOPBACK_REDIRECT.to_owned()],
        }],
        auto_approve: true,
        public_refresh_tokens: false,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

pub fn upstream(emu: &RunningEmulator) -> String {
    format!("{}/oauth/token", emu.urls().login)
}

/// A broker config in front of `emu` serving [`CLIENT_ID`] (only [`REDIRECT`] allowed).
pub fn broker_config(emu: &RunningEmulator, key: SealingKey) -> BrokerConfig {
    let mut config = BrokerConfig::new(&upstream(emu), key)
        .unwrap()
        .with_client(ClientConfig::new(CLIENT_ID, CLIENT_SECRET, [REDIRECT]));
    config.upstream_timeout = Duration::from_secs(2);
    config
}

pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    let bytes: [u8; 48] = rand::random();
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = genesys_emulator::pkce_s256_challenge(&verifier);
    Pkce {
        verifier,
        challenge,
    }
}

/// Every response the tests saw, flattened (status, headers, body) for the leak scan.
#[derive(Clone, Default)]
pub struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    pub fn all(&self) -> String {
        self.0.lock().unwrap().join("\n")
    }
}

/// A reply as the tests look at it.
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    pub fn retry_after(&self) -> Option<u64> {
        self.headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    }

    pub fn refresh_token(&self) -> String {
        self.body["refresh_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no refresh_token in {}", self.body))
            .to_owned()
    }

    pub fn access_token(&self) -> String {
        self.body["access_token"].as_str().unwrap().to_owned()
    }
}

pub struct Harness {
    pub emu: RunningEmulator,
    /// The emulator's control API (faults, counters, secrets).
    pub control: Control,
    pub broker: RunningBroker,
    pub http: reqwest::Client,
    pub seen: Seen,
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(|c| c).await
    }

    pub async fn start_with(tweak: impl FnOnce(BrokerConfig) -> BrokerConfig) -> Self {
        let emu = emulator().await;
        let config = tweak(broker_config(&emu, SealingKey::generate()));
        let broker = agent_shell_broker::start(config).await.unwrap();
        Self {
            control: Control::new(&emu),
            emu,
            broker,
            http: http(),
            seen: Seen::default(),
        }
    }

    pub fn login(&self) -> &str {
        &self.emu.urls().login
    }

    /// Authorize at the emulator (auto-approved) and return the code from the redirect.
    pub async fn code(&self, redirect_uri: &str, challenge: &str) -> String {
        let mut url = url::Url::parse(&format!("{}/oauth/authorize", self.login())).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", CLIENT_ID)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("state", "st")
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256");
        let res = self.http.get(url).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FOUND);
        let location = res.headers()[LOCATION].to_str().unwrap().to_owned();
        let url = url::Url::parse(&location).unwrap();
        url.query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no code in {location}"))
    }

    /// POSTs a form to the broker's token endpoint and records what came back.
    pub async fn post(&self, form: &[(&str, &str)]) -> Reply {
        let res = self
            .http
            .post(self.broker.token_url())
            .form(form)
            .send()
            .await
            .unwrap();
        self.record(res).await
    }

    pub async fn record(&self, res: reqwest::Response) -> Reply {
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        self.seen
            .0
            .lock()
            .unwrap()
            .push(format!("{status} {headers:?} {text}"));
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A full sign-in through the broker; the token response.
    pub async fn sign_in(&self) -> Reply {
        let p = pkce();
        let code = self.code(REDIRECT, &p.challenge).await;
        let reply = self.exchange(&code, REDIRECT, &p.verifier).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply
    }

    pub async fn exchange(&self, code: &str, redirect_uri: &str, verifier: &str) -> Reply {
        self.post(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ])
        .await
    }

    pub async fn refresh(&self, envelope: &str) -> Reply {
        self.post(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("refresh_token", envelope),
        ])
        .await
    }

    /// Every secret the emulator handed out or saw (tokens, codes, verifiers) plus the client
    /// secret.
    pub async fn secrets(&self) -> Vec<String> {
        let mut all: Vec<String> = self.control.secrets().await;
        all.push(CLIENT_SECRET.to_owned());
        all.retain(|s| s.len() >= 8 && s != "st");
        all
    }

    pub async fn users_me(&self, access_token: &str) -> StatusCode {
        self.http
            .get(format!("{}/api/v2/users/me", self.emu.urls().api))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap()
            .status()
    }
}

/// A tracing subscriber writing JSON log lines into memory.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// Installs the capture as the process-wide subscriber (a scoped one misses events when
    /// other threads touched a callsite first). Once per test binary.
    pub fn install_global() -> Self {
        let capture = Self::default();
        tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_max_level(tracing::Level::TRACE)
            .with_writer(capture.clone())
            .init();
        capture
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    pub fn lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Asserts that none of `secrets` occurs in `haystack` (named `what` in the failure).
pub fn assert_no_secret(what: &str, haystack: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !haystack.contains(secret.as_str()),
            "{what} contains a secret ({}...)",
            &secret[..6.min(secret.len())]
        );
    }
}
