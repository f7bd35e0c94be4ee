//! The broker in front of the real emulator: sign-in, refresh, rotation, upstream failures,
//! allow-lists, sealed envelopes, key rotation, and no secret in any response or log line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use agent_shell_broker::{seal, unseal, RateLimit, SealingKey, SealingKeys};
use agent_shell_test_kit::{FaultExt, FaultKind};
use common::*;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

#[tokio::test]
async fn sign_in_and_refresh_through_the_broker() {
    let key = SealingKey::generate();
    let h = Harness::start_with({
        let key = key.clone();
        move |mut c| {
            c.keys = SealingKeys::new(key);
            c
        }
    })
    .await;

    let signed_in = h.sign_in().await;
    let envelope = signed_in.refresh_token();
    assert!(envelope.starts_with("asb1."), "{envelope}");
    assert_eq!(h.users_me(&signed_in.access_token()).await, StatusCode::OK);
    assert_eq!(signed_in.body["token_type"], "Bearer");
    assert!(signed_in.body["expires_in"].as_u64().unwrap() > 0);

    // The desktop holds an envelope, never the token Genesys issued.
    let issued: Vec<String> = h.control.issued_tokens().await;
    assert!(!issued.contains(&envelope));
    let opened = unseal(&SealingKeys::new(key), &envelope, CLIENT_ID).unwrap();
    assert!(issued.contains(&opened.refresh_token.expose_secret().to_owned()));

    // Only the allowed headers of Genesys's answer come through (the emulator sets Vary).
    let h1 = &signed_in.headers;
    assert!(h1["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(h1["cache-control"], "no-store");
    assert_eq!(h1["pragma"], "no-cache");
    assert!(h1.get("vary").is_none(), "{h1:?}");

    let refreshed = h.refresh(&envelope).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert_ne!(refreshed.refresh_token(), envelope);
    assert_eq!(h.users_me(&refreshed.access_token()).await, StatusCode::OK);

    // HTTP Basic with only the client id (and an empty password) identifies the client too.
    let res = h
        .http
        .post(h.broker.token_url())
        .basic_auth(CLIENT_ID, Some(""))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refreshed.refresh_token()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn twenty_refreshes_rotate_with_zero_reuse() {
    let key = SealingKey::generate();
    let keys = SealingKeys::new(key.clone());
    let h = Harness::start_with(move |mut c| {
        c.keys = SealingKeys::new(key);
        c
    })
    .await;
    let first = h.sign_in().await.refresh_token();
    let mut envelopes = vec![first.clone()];
    let mut upstream_tokens = HashSet::new();
    upstream_tokens.insert(
        unseal(&keys, &first, CLIENT_ID)
            .unwrap()
            .refresh_token
            .expose_secret()
            .to_owned(),
    );
    let mut current = first;
    for i in 0..20 {
        let reply = h.refresh(&current).await;
        assert_eq!(reply.status, StatusCode::OK, "refresh {i}: {}", reply.body);
        current = reply.refresh_token();
        assert!(!envelopes.contains(&current), "envelope repeated at {i}");
        envelopes.push(current.clone());
        let upstream = unseal(&keys, &current, CLIENT_ID).unwrap();
        assert!(
            upstream_tokens.insert(upstream.refresh_token.expose_secret().to_owned()),
            "Genesys refresh token repeated at {i}"
        );
    }
    let state = h.control.state().await;
    assert_eq!(state["refreshes_served"], 20);
    assert_eq!(state["refresh_reuse_detected"], 0);

    // Genesys rotated the token inside the first envelope: replaying it is final.
    let replay = h.refresh(&envelopes[0]).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(replay.error(), "invalid_grant");
}

#[tokio::test]
async fn upstream_5xx_and_429_stay_retryable_with_retry_after() {
    let h = Harness::start().await;
    let envelope = h.sign_in().await.refresh_token();

    h.control.fault(FaultKind::ServerError).await;
    let r = h.refresh(&envelope).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.error(), "server_error");

    h.control
        .fault(FaultKind::ServiceUnavailable.retry_after(7))
        .await;
    let r = h.refresh(&envelope).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.retry_after(), Some(7));

    h.control.fault(FaultKind::RateLimited.retry_after(3)).await;
    let r = h.refresh(&envelope).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.retry_after(), Some(3));

    // A 200 cut off mid-body is Genesys's problem, not the agent's: retryable 502.
    h.control.fault(FaultKind::Malformed).await;
    let r = h.refresh(&envelope).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert_eq!(r.error(), "server_error");

    // None of those consumed the refresh token.
    let r = h.refresh(&envelope).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn upstream_hang_or_down_gives_503_with_retry_after() {
    let h = Harness::start_with(|mut c| {
        c.upstream_timeout = Duration::from_millis(800);
        c.upstream_retry_after = Duration::from_secs(4);
        c
    })
    .await;
    let envelope = h.sign_in().await.refresh_token();
    h.control.fault(FaultKind::Hang.secs(30)).await;
    let started = Instant::now();
    let r = h.refresh(&envelope).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.error(), "temporarily_unavailable");
    assert_eq!(r.retry_after(), Some(4));

    // Nothing listening upstream at all.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let down = Harness::start_with(move |mut c| {
        c.upstream_token_url = format!("http://127.0.0.1:{port}/oauth/token")
            .parse()
            .unwrap();
        c
    })
    .await;
    let r = down.refresh(&envelope).await;
    // The envelope came from another broker's key: it never reaches upstream.
    assert_eq!(r.error(), "invalid_grant");
    let r = down.exchange("some-code", REDIRECT, &pkce().verifier).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.retry_after(), Some(5));
}

#[tokio::test]
async fn invalid_grant_from_upstream_stays_final() {
    let h = Harness::start().await;
    let envelope = h.sign_in().await.refresh_token();
    h.control.fault(FaultKind::InvalidGrant).await;
    let r = h.refresh(&envelope).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error(), "invalid_grant");
    assert_eq!(r.retry_after(), None);

    // Revoked at Genesys: the envelope opens, Genesys says no, the shell hears invalid_grant.
    h.control.revoke_all().await;
    let r = h.refresh(&envelope).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error(), "invalid_grant");

    // A wrong PKCE verifier is Genesys's call too, forwarded untouched.
    let p = pkce();
    let code = h.code(REDIRECT, &p.challenge).await;
    let r = h.exchange(&code, REDIRECT, &pkce().verifier).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error(), "invalid_grant");
}

#[tokio::test]
async fn allow_lists_and_malformed_requests_never_reach_upstream() {
    let h = Harness::start().await;
    let before = h.control.count("token_requests").await;
    let p = pkce();

    let r = h
        .post(&[
            ("grant_type", "authorization_code"),
            ("client_id", "someone-else"),
            ("code", "c"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &p.verifier),
        ])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error(), "invalid_client");
    assert!(r.headers.contains_key("www-authenticate"));

    let r = h
        .post(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "no client id at all");

    // Registered at Genesys, but not allowed at the broker.
    let code = h.code(LOOPBACK_REDIRECT, &p.challenge).await;
    let r = h.exchange(&code, LOOPBACK_REDIRECT, &p.verifier).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error(), "invalid_grant");
    assert!(r.body["error_description"]
        .as_str()
        .unwrap()
        .contains("redirect_uri"));

    let r = h.post(&[("client_id", CLIENT_ID)]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error(), "invalid_request");
    let r = h
        .post(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
        ])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error(), "unsupported_grant_type");
    let r = h
        .post(&[("grant_type", "password"), ("client_id", CLIENT_ID)])
        .await;
    assert_eq!(r.error(), "unsupported_grant_type");

    // PKCE is required end to end.
    let r = h
        .post(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ])
        .await;
    assert_eq!(r.error(), "invalid_request");
    let r = h
        .post(&[
            ("grant_type", "refresh_token"),
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
        ])
        .await;
    assert_eq!(r.error(), "invalid_request", "repeated parameter");

    let res = h
        .http
        .post(h.broker.token_url())
        .json(&json!({ "grant_type": "refresh_token" }))
        .send()
        .await
        .unwrap();
    let r = h.record(res).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error(), "invalid_request", "JSON instead of a form");

    let res = h.http.get(h.broker.token_url()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);

    assert_eq!(h.control.count("token_requests").await, before);
}

#[tokio::test]
async fn oversize_bodies_get_an_oauth_shaped_413() {
    let h = Harness::start().await;
    let big = "a".repeat(20 * 1024);
    let r = h
        .post(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("refresh_token", &big),
        ])
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.error(), "invalid_request");
    assert!(r.body["error_description"]
        .as_str()
        .unwrap()
        .contains("16384"));

    // Chunked, with no Content-Length to refuse up front: the limit holds while reading.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(h.broker.local_addr())
        .await
        .unwrap();
    let chunk = "b".repeat(8 * 1024);
    let mut request = String::from(
        "POST /oauth/token HTTP/1.1\r\nHost: broker\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
    );
    for _ in 0..3 {
        request.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    request.push_str("0\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"error\":\"invalid_request\""), "{answer}");
}

#[tokio::test]
async fn tampered_foreign_and_raw_refresh_tokens_are_invalid_grant() {
    let h = Harness::start().await;
    let before = h.control.count("token_requests").await;

    let foreign_keys = SealingKeys::new(SealingKey::generate());
    let foreign = seal(
        &foreign_keys,
        CLIENT_ID,
        &SecretString::from("stolen".to_owned()),
        std::time::SystemTime::now(),
    )
    .unwrap();
    let r = h.refresh(&foreign).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error(), "invalid_grant");

    assert_eq!(
        h.control.count("token_requests").await,
        before,
        "foreign envelope forwarded"
    );

    let envelope = h.sign_in().await.refresh_token();
    let after_sign_in = h.control.count("token_requests").await;
    let mut tampered: Vec<char> = envelope.chars().collect();
    let i = tampered.len() - 3;
    tampered[i] = if tampered[i] == 'x' { 'y' } else { 'x' };
    let tampered: String = tampered.into_iter().collect();
    let r = h.refresh(&tampered).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error(), "invalid_grant");

    // A Genesys refresh token presented raw (e.g. copied from elsewhere) is not accepted.
    let r = h.refresh("a-raw-genesys-refresh-token").await;
    assert_eq!(r.error(), "invalid_grant");
    assert_eq!(
        h.control.count("token_requests").await,
        after_sign_in,
        "forwarded"
    );

    // The genuine envelope still works.
    assert_eq!(h.refresh(&envelope).await.status, StatusCode::OK);
}

#[tokio::test]
async fn envelopes_for_another_client_are_refused() {
    let h = Harness::start_with(|c| {
        c.with_client(agent_shell_broker::ClientConfig::new(
            "second-client",
            "another-secret-value",
            [REDIRECT],
        ))
    })
    .await;
    let envelope = h.sign_in().await.refresh_token();
    let r = h
        .post(&[
            ("grant_type", "refresh_token"),
            ("client_id", "second-client"),
            ("refresh_token", &envelope),
        ])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error(), "invalid_grant");
    assert!(r.body["error_description"]
        .as_str()
        .unwrap()
        .contains("another client"));
}

#[tokio::test]
async fn key_rotation_current_to_previous_then_removed() {
    let key_a = SealingKey::generate();
    let key_b = SealingKey::generate();
    let key_c = SealingKey::generate();
    let h = Harness::start_with({
        let key_a = key_a.clone();
        move |mut c| {
            c.keys = SealingKeys::new(key_a);
            c
        }
    })
    .await;
    let session_1 = h.sign_in().await.refresh_token();
    let session_2 = h.sign_in().await.refresh_token();
    assert!(session_1.starts_with(&format!("asb1.{}.", key_a.id())));

    // Rotate: B seals, A still opens.
    let mut config = broker_config(&h.emu, key_b.clone()).with_previous_key(key_a.clone());
    h.broker.reload(config.clone()).await.unwrap();
    let r = h.refresh(&session_1).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let session_1b = r.refresh_token();
    assert!(session_1b.starts_with(&format!("asb1.{}.", key_b.id())));

    // Rotate again: C seals, B opens, A is gone.
    config.keys = SealingKeys::new(key_c).with_previous(key_b);
    h.broker.reload(config).await.unwrap();
    let r = h.refresh(&session_2).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error(), "invalid_grant");
    let description = r.body["error_description"].as_str().unwrap();
    assert!(description.contains("rotated"), "{description}");
    assert!(description.contains("sign in again"), "{description}");
    let r = h.refresh(&session_1b).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let ready: serde_json::Value = h
        .http
        .get(format!("{}/readyz", h.broker.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["config_generation"], 3);
}

#[tokio::test]
async fn per_ip_rate_limit_answers_429_with_retry_after() {
    let h = Harness::start_with(|mut c| {
        c.rate_limit = Some(RateLimit {
            per_second: std::num::NonZeroU32::new(1).unwrap(),
            burst: std::num::NonZeroU32::new(2).unwrap(),
            ..RateLimit::default()
        });
        c
    })
    .await;
    let form = [("grant_type", "password"), ("client_id", CLIENT_ID)];
    assert_eq!(h.post(&form).await.error(), "unsupported_grant_type");
    assert_eq!(h.post(&form).await.error(), "unsupported_grant_type");
    let r = h.post(&form).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.retry_after().is_some_and(|s| s >= 1));
    // Probes are never limited.
    let res = h
        .http
        .get(format!("{}/healthz", h.broker.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn health_and_readiness() {
    let h = Harness::start().await;
    let res = h
        .http
        .get(format!("{}/healthz", h.broker.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let ready: serde_json::Value = h
        .http
        .get(format!("{}/readyz", h.broker.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["clients"], 1);
    assert_eq!(ready["current_key_id"].as_str().unwrap().len(), 8);
    assert!(ready["previous_key_id"].is_null());
    let res = h
        .http
        .get(format!("{}/nope?code=abc", h.broker.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
