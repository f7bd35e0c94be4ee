//! Helpers shared by the integration tests: a real emulator on loopback, a reqwest client
//! that does not follow redirects (so every 302 and its Location can be asserted), and the test
//! kit's client of the control API.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub use agent_shell_test_kit::Control;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use genesys_emulator::{EmulatorConfig, RunningEmulator, DEMO_CLIENT_ID, DEMO_REDIRECT_URIS};
use reqwest::header::{HeaderMap, LOCATION};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const REDIRECT: &str = DEMO_REDIRECT_URIS[0];
pub const LOOPBACK_REDIRECT: &str = DEMO_REDIRECT_URIS[1];
pub const DEFAULT_USER_ID: &str = "a1b2c3d4-0000-4000-8000-000000000001";

pub struct Emu {
    pub running: RunningEmulator,
    pub http: reqwest::Client,
    /// `/_emulator/*`.
    pub control: Control,
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub async fn start(config: EmulatorConfig) -> Emu {
    let running = genesys_emulator::start(config).await.unwrap();
    Emu {
        control: Control::new(&running),
        running,
        http: http_client(),
    }
}

pub async fn start_default() -> Emu {
    start(EmulatorConfig::default()).await
}

/// A PKCE pair computed here, independently of the emulator's own implementation.
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    let bytes: [u8; 48] = rand::random();
    let verifier = URL_SAFE_NO_PAD.encode(bytes); // 64 chars of [A-Za-z0-9-_]
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

/// Parameters of an authorize request; `None` leaves a parameter out.
#[derive(Clone)]
pub struct AuthRequest<'a> {
    pub client_id: Option<&'a str>,
    pub redirect_uri: Option<&'a str>,
    pub response_type: Option<&'a str>,
    pub state: Option<&'a str>,
    pub scope: Option<&'a str>,
    pub code_challenge: Option<&'a str>,
    pub code_challenge_method: Option<&'a str>,
}

impl<'a> AuthRequest<'a> {
    pub fn demo(challenge: &'a str) -> Self {
        Self {
            client_id: Some(DEMO_CLIENT_ID),
            redirect_uri: Some(REDIRECT),
            response_type: Some("code"),
            state: Some("st-123"),
            scope: Some("users:readonly presence"),
            code_challenge: Some(challenge),
            code_challenge_method: Some("S256"),
        }
    }

    pub fn url(&self, login_base: &str) -> String {
        let mut url = url::Url::parse(&format!("{login_base}/oauth/authorize")).unwrap();
        {
            let mut q = url.query_pairs_mut();
            for (name, value) in [
                ("client_id", self.client_id),
                ("redirect_uri", self.redirect_uri),
                ("response_type", self.response_type),
                ("state", self.state),
                ("scope", self.scope),
                ("code_challenge", self.code_challenge),
                ("code_challenge_method", self.code_challenge_method),
            ] {
                if let Some(value) = value {
                    q.append_pair(name, value);
                }
            }
        }
        url.into()
    }
}

impl Emu {
    pub fn login(&self) -> &str {
        &self.running.urls().login
    }

    pub fn api(&self) -> &str {
        &self.running.urls().api
    }

    pub fn media(&self) -> &str {
        &self.running.urls().media
    }

    pub async fn get(&self, url: &str) -> Response {
        self.http.get(url).send().await.unwrap()
    }

    pub async fn authorize(&self, req: &AuthRequest<'_>) -> Response {
        self.get(&req.url(self.login())).await
    }

    /// Submits the login form the way a browser without JavaScript would.
    pub async fn submit_login(&self, request_id: &str, username: &str, decision: &str) -> Response {
        self.http
            .post(format!("{}/oauth/login", self.login()))
            .form(&[
                ("request_id", request_id),
                ("username", username),
                ("decision", decision),
            ])
            .send()
            .await
            .unwrap()
    }

    /// Authorize, approve on the login page as `username`, return the code from the redirect.
    pub async fn code_for(&self, req: &AuthRequest<'_>, username: &str) -> String {
        let page = self.authorize(req).await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        let request_id = request_id(&html);
        let redirect = self.submit_login(&request_id, username, "approve").await;
        assert_eq!(redirect.status(), StatusCode::FOUND);
        let location = location(redirect.headers());
        assert!(
            location.starts_with(req.redirect_uri.unwrap()),
            "{location}"
        );
        assert_eq!(query_param(&location, "state").as_deref(), req.state);
        query_param(&location, "code").expect("code in redirect")
    }

    pub async fn token_form(&self, base: &str, form: &[(&str, &str)]) -> Response {
        self.http
            .post(format!("{base}/oauth/token"))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// `grant_type=authorization_code` for a public client at the login origin.
    pub async fn exchange(
        &self,
        client_id: &str,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Response {
        self.token_form(
            self.login(),
            &[
                ("grant_type", "authorization_code"),
                ("client_id", client_id),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier),
            ],
        )
        .await
    }

    pub async fn refresh(&self, client_id: &str, refresh_token: &str) -> Response {
        self.token_form(
            self.login(),
            &[
                ("grant_type", "refresh_token"),
                ("client_id", client_id),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }

    /// A full demo-client login; returns the token response body.
    pub async fn demo_tokens(&self) -> Value {
        self.tokens_for("agent@example.com").await
    }

    /// A full demo-client login as `username`; returns the token response body.
    pub async fn tokens_for(&self, username: &str) -> Value {
        let p = pkce();
        let req = AuthRequest::demo(&p.challenge);
        let code = self.code_for(&req, username).await;
        let res = self
            .exchange(DEMO_CLIENT_ID, &code, REDIRECT, &p.verifier)
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }

    /// A full demo-client login as the default agent asking for exactly `scopes`.
    pub async fn tokens_with_scopes(&self, scopes: &str) -> Value {
        let p = pkce();
        let mut req = AuthRequest::demo(&p.challenge);
        req.scope = Some(scopes);
        let code = self.code_for(&req, "agent@example.com").await;
        let res = self
            .exchange(DEMO_CLIENT_ID, &code, REDIRECT, &p.verifier)
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }

    pub async fn users_me(&self, token: &str) -> Response {
        self.http
            .get(format!("{}/api/v2/users/me", self.api()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// `users/me` for a token that must be good; the user object.
    pub async fn me(&self, token: &str) -> Value {
        let res = self.users_me(token).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }
}

/// The value of the login form's single hidden `request_id` input.
pub fn request_id(html: &str) -> String {
    let marker = "name=\"request_id\" value=\"";
    assert_eq!(html.matches("name=\"request_id\"").count(), 1, "{html}");
    let start = html.find(marker).expect("request_id input") + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

pub fn location(headers: &HeaderMap) -> String {
    headers
        .get(LOCATION)
        .expect("Location header")
        .to_str()
        .unwrap()
        .to_owned()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Asserts an RFC 6749 5.2 error response and returns its description.
pub async fn assert_oauth_error(res: Response, status: StatusCode, error: &str) -> String {
    assert_eq!(res.status(), status);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    body["error_description"].as_str().unwrap().to_owned()
}
