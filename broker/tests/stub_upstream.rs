//! The broker against a scripted upstream, for what the emulator never does: a confidential
//! client with no refresh token, leaky headers, redirects; and to see the exact request the
//! broker sends to Genesys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use agent_shell_broker::{seal, BrokerConfig, ClientConfig, SealingKey, SealingKeys};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::{CLIENT_ID, CLIENT_SECRET, REDIRECT};
use secrecy::SecretString;
use serde_json::Value;

/// A well-formed PKCE verifier (RFC 7636: 43 to 128 characters).
const VERIFIER: &str = "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv";

/// Status, headers and body of the next answer.
type Answer = (u16, Vec<(&'static str, &'static str)>, String);

#[derive(Clone, Default)]
struct Stub {
    seen: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    reply: Arc<Mutex<Option<Answer>>>,
}

impl Stub {
    fn answer(&self, status: u16, headers: &[(&'static str, &'static str)], body: &str) {
        *self.reply.lock().unwrap() = Some((status, headers.to_vec(), body.to_owned()));
    }

    fn last(&self) -> (HeaderMap, Vec<(String, String)>) {
        let (headers, body) = self.seen.lock().unwrap().last().cloned().unwrap();
        let form = url::form_urlencoded::parse(body.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        (headers, form)
    }
}

async fn start_stub() -> (Stub, String, tokio::task::JoinHandle<()>) {
    let stub = Stub::default();
    let state = stub.clone();
    let app = Router::new().route(
        "/oauth/token",
        routing::post(move |headers: HeaderMap, body: Bytes| {
            let state = state.clone();
            async move {
                state
                    .seen
                    .lock()
                    .unwrap()
                    .push((headers, String::from_utf8_lossy(&body).into_owned()));
                let (status, headers, body) = state.reply.lock().unwrap().clone().unwrap();
                let mut response = Response::new(axum::body::Body::from(body));
                *response.status_mut() = StatusCode::from_u16(status).unwrap();
                for (name, value) in headers {
                    response.headers_mut().append(name, value.parse().unwrap());
                }
                response.into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/oauth/token",
        listener.local_addr().unwrap().port()
    );
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (stub, url, task)
}

fn config(upstream: &str, keys: &SealingKeys) -> BrokerConfig {
    let mut c = BrokerConfig::new(upstream, keys.current.clone())
        .unwrap()
        .with_client(ClientConfig::new(CLIENT_ID, CLIENT_SECRET, [REDIRECT]));
    c.keys = keys.clone();
    c
}

async fn post(url: &str, form: &[(&str, &str)]) -> (StatusCode, HeaderMap, String) {
    let res = reqwest::Client::new()
        .post(url)
        .form(form)
        .send()
        .await
        .unwrap();
    let status = StatusCode::from_u16(res.status().as_u16()).unwrap();
    let mut headers = HeaderMap::new();
    for (k, v) in res.headers() {
        headers.append(
            axum::http::HeaderName::from_bytes(k.as_str().as_bytes()).unwrap(),
            v.to_str().unwrap().parse().unwrap(),
        );
    }
    (status, headers, res.text().await.unwrap())
}

#[tokio::test]
async fn the_request_genesys_sees_and_the_answer_the_shell_sees() {
    let (stub, upstream, _task) = start_stub().await;
    let keys = SealingKeys::new(SealingKey::generate());
    let broker = agent_shell_broker::start(config(&upstream, &keys))
        .await
        .unwrap();

    // No refresh token upstream (e.g. an org inactivity timeout): none downstream, the rest of
    // the body as it was, and only the allowed headers.
    stub.answer(
        200,
        &[
            ("content-type", "application/json"),
            ("cache-control", "no-store"),
            ("pragma", "no-cache"),
            ("set-cookie", "session=upstream-cookie"),
            ("x-internal-trace", "abc"),
            ("server", "genesys-edge"),
        ],
        r#"{"access_token":"at-1","token_type":"bearer","expires_in":7200,"scope":"users:readonly","x_extra":{"k":1}}"#,
    );
    let (status, headers, body) = post(
        &broker.token_url(),
        &[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("code", "the-code"),
            ("redirect_uri", REDIRECT),
            (
                "code_verifier",
                "the-verifier-exactly-as-sent~._-0123456789abcdef",
            ),
            ("client_secret", "desktop-must-not-send-this"),
            ("extra", "dropped"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert_eq!(body["access_token"], "at-1");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["x_extra"]["k"], 1);
    for leaked in ["set-cookie", "x-internal-trace", "server"] {
        assert!(headers.get(leaked).is_none(), "{leaked} forwarded");
    }
    assert_eq!(headers["cache-control"], "no-store");

    let (up_headers, form) = stub.last();
    let auth = up_headers["authorization"].to_str().unwrap();
    let decoded = STANDARD
        .decode(auth.strip_prefix("Basic ").unwrap())
        .unwrap();
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        format!("{CLIENT_ID}:{CLIENT_SECRET}")
    );
    let pairs = |f: &[(String, String)]| -> Vec<(String, String)> { f.to_vec() };
    assert_eq!(
        pairs(&form),
        vec![
            ("grant_type".into(), "authorization_code".into()),
            ("code".into(), "the-code".into()),
            ("redirect_uri".into(), REDIRECT.into()),
            (
                "code_verifier".into(),
                "the-verifier-exactly-as-sent~._-0123456789abcdef".into()
            ),
        ]
    );

    // Refresh: Genesys sees its own token and the requested scope, nothing else.
    let envelope = seal(
        &keys,
        CLIENT_ID,
        &SecretString::from("genesys-rt-1".to_owned()),
        SystemTime::now(),
    )
    .unwrap();
    stub.answer(
        200,
        &[("content-type", "application/json")],
        r#"{"access_token":"at-2","token_type":"bearer","expires_in":7200,"refresh_token":"genesys-rt-2"}"#,
    );
    let (status, headers, body) = post(
        &broker.token_url(),
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("refresh_token", &envelope),
            ("scope", "users:readonly"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, form) = stub.last();
    assert_eq!(
        form,
        vec![
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            ("refresh_token".to_owned(), "genesys-rt-1".to_owned()),
            ("scope".to_owned(), "users:readonly".to_owned()),
        ]
    );
    let body: Value = serde_json::from_str(&body).unwrap();
    let sealed = body["refresh_token"].as_str().unwrap();
    assert!(!sealed.contains("genesys-rt-2"));
    let opened = agent_shell_broker::unseal(&keys, sealed, CLIENT_ID).unwrap();
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&opened.refresh_token),
        "genesys-rt-2"
    );
    // Genesys set no caching headers: the broker still says no-store.
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["pragma"], "no-cache");
}

#[tokio::test]
async fn odd_upstream_answers() {
    let (stub, upstream, _task) = start_stub().await;
    let keys = SealingKeys::new(SealingKey::generate());
    let broker = agent_shell_broker::start(config(&upstream, &keys))
        .await
        .unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", CLIENT_ID),
        ("code", "c"),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];

    // A redirect from a token endpoint is not followed (it could carry the secret elsewhere).
    stub.answer(302, &[("location", "https://elsewhere.example/")], "");
    let (status, headers, body) = post(&broker.token_url(), &form).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(headers.get("location").is_none());
    assert!(body.contains("server_error"), "{body}");

    // Genesys refusing the broker's own credentials: passed on as is, so the shell says "ask IT".
    let refusal = r#"{"error":"invalid_client","error_description":"bad credentials"}"#;
    stub.answer(
        401,
        &[
            ("content-type", "application/json"),
            ("www-authenticate", "Basic realm=\"genesys\""),
        ],
        refusal,
    );
    let (status, headers, body) = post(&broker.token_url(), &form).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, refusal);
    assert!(headers.get("www-authenticate").is_none());

    // 200 without an access token is no token response.
    stub.answer(
        200,
        &[("content-type", "application/json")],
        r#"{"ok":true}"#,
    );
    let (status, _, _) = post(&broker.token_url(), &form).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);

    // 5xx with Retry-After and an HTML body: status, body and Retry-After unchanged.
    stub.answer(
        502,
        &[("content-type", "text/html"), ("retry-after", "9")],
        "<html>bad gateway</html>",
    );
    let (status, headers, body) = post(&broker.token_url(), &form).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(headers["retry-after"], "9");
    assert_eq!(body, "<html>bad gateway</html>");
}

/// Genesys keeps the same refresh token and sends none back: a token presented under the
/// previous key comes back sealed with the current one (so retiring the previous key signs
/// out nobody who renewed since); under the current key, nothing is added.
#[tokio::test]
async fn a_kept_token_under_the_previous_key_is_resealed_with_the_current_one() {
    let (stub, upstream, _task) = start_stub().await;
    let old = SealingKey::generate();
    let new = SealingKey::generate();
    let mut keys = SealingKeys::new(new.clone());
    keys.previous = Some(old.clone());
    let broker = agent_shell_broker::start(config(&upstream, &keys))
        .await
        .unwrap();
    let under_old = seal(
        &SealingKeys::new(old),
        CLIENT_ID,
        &SecretString::from("genesys-rt-kept".to_owned()),
        SystemTime::now(),
    )
    .unwrap();
    stub.answer(
        200,
        &[("content-type", "application/json")],
        r#"{"access_token":"at-3","token_type":"bearer","expires_in":7200}"#,
    );
    let refresh = |envelope: String| {
        let url = broker.token_url();
        async move {
            post(
                &url,
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", CLIENT_ID),
                    ("refresh_token", &envelope),
                ],
            )
            .await
        }
    };
    let (status, _, body) = refresh(under_old).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    let resealed = body["refresh_token"].as_str().expect("resealed").to_owned();
    let opened = agent_shell_broker::unseal(&SealingKeys::new(new), &resealed, CLIENT_ID).unwrap();
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&opened.refresh_token),
        "genesys-rt-kept"
    );

    // Already under the current key: the answer stays without a refresh token, as Genesys sent it.
    let (status, _, body) = refresh(resealed).await;
    assert_eq!(status, StatusCode::OK);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert!(body.get("refresh_token").is_none(), "{body}");
}
