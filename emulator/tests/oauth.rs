//! Authorization code + PKCE, the token endpoint and refresh-token rotation, over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::*;
use genesys_emulator::{ClientRegistration, EmulatorConfig, DEMO_CLIENT_ID, REQUIRED_SCOPES};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn code_flow_through_the_login_form() {
    let emu = start_default().await;
    let p = pkce();
    let req = AuthRequest::demo(&p.challenge);

    // The login page: a plain form, no script, one request_id, the prefilled agent.
    let page = emu.authorize(&req).await;
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<form method="post" action="/oauth/login">"#));
    assert!(html.contains(r#"<input name="username" value="agent@example.com""#));
    assert!(html.contains(r#"<button name="decision" value="approve""#));
    assert!(html.contains(r#"<button name="decision" value="deny""#));
    assert!(!html.contains("<script"));
    let request_id = request_id(&html);

    let redirect = emu
        .submit_login(&request_id, "agent@example.com", "approve")
        .await;
    assert_eq!(redirect.status(), StatusCode::FOUND);
    let loc = location(redirect.headers());
    assert!(
        loc.starts_with("com.agentshell.desktop:/oauth/callback?code="),
        "{loc}"
    );
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st-123"));
    let code = query_param(&loc, "code").unwrap();
    assert!(code.len() >= 43);

    let res = emu
        .exchange(DEMO_CLIENT_ID, &code, REDIRECT, &p.verifier)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["pragma"], "no-cache");
    let body: Value = res.json().await.unwrap();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "access_token",
            "expires_in",
            "refresh_token",
            "scope",
            "token_type"
        ]
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 7200);
    assert_eq!(body["scope"], "users:readonly presence");
    let access = body["access_token"].as_str().unwrap();
    assert!(access.len() >= 43);
    assert_ne!(access, body["refresh_token"].as_str().unwrap());

    let me = emu.me(access).await;
    assert_eq!(
        me,
        json!({"id": DEFAULT_USER_ID, "name": "Alex Agent", "email": "agent@example.com",
               "username": "agent@example.com", "state": "active"})
    );

    // The form cannot be replayed.
    let again = emu
        .submit_login(&request_id, "agent@example.com", "approve")
        .await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert!(again.headers().get("location").is_none());

    let state = emu.control.state().await;
    assert_eq!(state["authorize_requests"], 1);
    assert_eq!(state["codes_issued"], 1);
    assert_eq!(state["codes_exchanged"], 1);
    assert_eq!(state["token_requests"], 1);
    assert_eq!(state["users_me_ok"], 1);
}

#[tokio::test]
async fn auto_approve_and_the_api_origin_token_alias() {
    let emu = start(EmulatorConfig {
        auto_approve: true,
        ..EmulatorConfig::default()
    })
    .await;
    let p = pkce();
    let mut req = AuthRequest::demo(&p.challenge);
    req.redirect_uri = Some(LOOPBACK_REDIRECT);
    req.scope = None;
    let res = emu.authorize(&req).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let loc = location(res.headers());
    assert!(
        loc.starts_with("http://127.0.0.1:47615/oauth/callback?code="),
        "{loc}"
    );
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st-123"));
    let code = query_param(&loc, "code").unwrap();

    let res = emu
        .token_form(
            &format!("{}/api/v2", emu.api()),
            &[
                ("grant_type", "authorization_code"),
                ("client_id", DEMO_CLIENT_ID),
                ("code", &code),
                ("redirect_uri", LOOPBACK_REDIRECT),
                ("code_verifier", &p.verifier),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    // No scope requested: the scopes Agent Shell needs are granted.
    assert_eq!(body["scope"], REQUIRED_SCOPES.join(" "));
    let me = emu.me(body["access_token"].as_str().unwrap()).await;
    assert_eq!(me["id"], DEFAULT_USER_ID);
    // Same state behind both token paths.
    assert_eq!(emu.control.state().await["codes_exchanged"], 1);
}

#[tokio::test]
async fn login_form_other_user_deny_and_bad_submissions() {
    let emu = start_default().await;
    let p = pkce();
    let req = AuthRequest::demo(&p.challenge);

    let tokens = emu.tokens_for("jane.doe@corp.example").await;
    let me = emu.me(tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(me["name"], "Jane Doe");
    assert_eq!(me["email"], "jane.doe@corp.example");
    let id = me["id"].as_str().unwrap().to_owned();
    assert_ne!(id, DEFAULT_USER_ID);
    // Deterministic: the same login gives the same id.
    let tokens2 = emu.tokens_for("jane.doe@corp.example").await;
    let me2 = emu.me(tokens2["access_token"].as_str().unwrap()).await;
    assert_eq!(me2["id"], id.as_str());

    // Deny: access_denied back to the client, with the state.
    let html = emu.authorize(&req).await.text().await.unwrap();
    let rid = request_id(&html);
    let res = emu.submit_login(&rid, "agent@example.com", "deny").await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let loc = location(res.headers());
    assert_eq!(query_param(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st-123"));
    assert_eq!(query_param(&loc, "code"), None);

    // Unknown request id, missing decision, empty username.
    let res = emu
        .submit_login("nope", "agent@example.com", "approve")
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = emu.authorize(&req).await.text().await.unwrap();
    let rid = request_id(&html);
    let res = emu.submit_login(&rid, "agent@example.com", "maybe").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = emu.submit_login(&rid, "  ", "approve").await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("Enter your email"));
    assert_eq!(request_id(&html), rid);
    // Still usable after those mistakes.
    let res = emu.submit_login(&rid, "agent@example.com", "approve").await;
    assert_eq!(res.status(), StatusCode::FOUND);
}

#[tokio::test]
async fn wrong_missing_and_malformed_verifier() {
    let emu = start_default().await;
    let p = pkce();
    let code = emu
        .code_for(&AuthRequest::demo(&p.challenge), "agent@example.com")
        .await;

    let wrong = pkce();
    let res = emu
        .exchange(DEMO_CLIENT_ID, &code, REDIRECT, &wrong.verifier)
        .await;
    let desc = assert_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(desc.contains("code_verifier"), "{desc}");

    let res = emu
        .exchange(DEMO_CLIENT_ID, &code, REDIRECT, "too-short")
        .await;
    assert_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;

    let res = emu
        .token_form(
            emu.login(),
            &[
                ("grant_type", "authorization_code"),
                ("client_id", DEMO_CLIENT_ID),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ],
        )
        .await;
    assert_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;

    // The challenge itself (verifier == challenge) is not a valid proof either.
    let res = emu
        .exchange(DEMO_CLIENT_ID, &code, REDIRECT, &p.challenge)
        .await;
    assert_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;

    assert_eq!(emu.control.state().await["codes_exchanged"], 0);
    // Failed proofs do not burn the code for its rightful owner.
    let res = emu
        .exchange(DEMO_CLIENT_ID, &code, REDIRECT, &p.verifier)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn authorize_errors_redirect_back_with_state() {
    let emu = start_default().await;
    let p = pkce();
    let base = AuthRequest::demo(&p.challenge);
    let cases: Vec<(AuthRequest<'_>, &str, &str)> = vec![
        (
            AuthRequest {
                code_challenge: None,
                ..base.clone()
            },
            "invalid_request",
            "code_challenge",
        ),
        (
            AuthRequest {
                code_challenge_method: Some("plain"),
                ..base.clone()
            },
            "invalid_request",
            "plain",
        ),
        (
            AuthRequest {
                code_challenge_method: None,
                ..base.clone()
            },
            "invalid_request",
            "code_challenge_method",
        ),
        (
            AuthRequest {
                code_challenge: Some("abc"),
                ..base.clone()
            },
            "invalid_request",
            "43",
        ),
        (
            AuthRequest {
                code_challenge: Some(&p.verifier), // 64 chars: not a S256 digest
                ..base.clone()
            },
            "invalid_request",
            "43",
        ),
        (
            AuthRequest {
                response_type: Some("token"),
                ..base.clone()
            },
            "unsupported_response_type",
            "code",
        ),
        (
            AuthRequest {
                response_type: None,
                ..base.clone()
            },
            "invalid_request",
            "response_type",
        ),
        (
            AuthRequest {
                scope: Some("users:readonly admin:everything"),
                ..base.clone()
            },
            "invalid_scope",
            "admin:everything",
        ),
    ];
    for (req, error, mention) in cases {
        let res = emu.authorize(&req).await;
        assert_eq!(res.status(), StatusCode::FOUND, "{error}");
        let loc = location(res.headers());
        assert!(loc.starts_with(REDIRECT), "{loc}");
        assert_eq!(query_param(&loc, "error").as_deref(), Some(error), "{loc}");
        assert_eq!(query_param(&loc, "state").as_deref(), Some("st-123"));
        let desc = query_param(&loc, "error_description").unwrap();
        assert!(desc.contains(mention), "{desc}");
        assert_eq!(query_param(&loc, "code"), None);
    }
    let state = emu.control.state().await;
    assert_eq!(state["authorize_requests"], 8);
    assert_eq!(state["codes_issued"], 0);
}

#[tokio::test]
async fn redirect_uri_mismatch_at_authorize_shows_a_page_and_never_redirects() {
    let emu = start_default().await;
    let p = pkce();
    let base = AuthRequest::demo(&p.challenge);
    for req in [
        AuthRequest {
            redirect_uri: Some("com.agentshell.desktop:/oauth/callback/"),
            ..base.clone()
        },
        AuthRequest {
            redirect_uri: Some("https://attacker.example/cb"),
            ..base.clone()
        },
        AuthRequest {
            redirect_uri: None,
            ..base.clone()
        },
        AuthRequest {
            client_id: Some("unknown-client"),
            ..base.clone()
        },
        AuthRequest {
            client_id: None,
            ..base.clone()
        },
        // Even with other errors present, an unregistered redirect_uri wins: no redirect.
        AuthRequest {
            redirect_uri: Some("https://attacker.example/cb"),
            response_type: Some("token"),
            code_challenge: None,
            ..base.clone()
        },
    ] {
        let res = emu.authorize(&req).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert!(res.headers().get("location").is_none());
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let html = res.text().await.unwrap();
        assert!(!html.contains("name=\"request_id\""));
    }
    // A repeated redirect_uri is refused the same way (RFC 6749 3.1).
    let url = format!(
        "{}&redirect_uri={}",
        base.url(emu.login()),
        "com.agentshell.desktop%3A%2Foauth%2Fcallback"
    );
    let res = emu.get(&url).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("location").is_none());
}

#[tokio::test]
async fn redirect_uri_mismatch_and_wrong_client_at_token() {
    let emu = start(EmulatorConfig {
        clients: vec![
            ClientRegistration::demo(),
            ClientRegistration::parse_public("other-app=http://127.0.0.1:9/cb").unwrap(),
        ],
        ..EmulatorConfig::default()
    })
    .await;
    let p = pkce();
    let code = emu
        .code_for(&AuthRequest::demo(&p.challenge), "agent@example.com")
        .await;
    // Registered, but not the one used at authorize.
    let res = emu
        .exchange(DEMO_CLIENT_ID, &code, LOOPBACK_REDIRECT, &p.verifier)
        .await;
    let desc = assert_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(desc.contains("redirect_uri"), "{desc}");
    // Bound to the client it was issued to.
    let res = emu
        .exchange("other-app", &code, REDIRECT, &p.verifier)
        .await;
    let desc = assert_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(desc.contains("another client"), "{desc}");
    let res = emu
        .exchange(DEMO_CLIENT_ID, "made-up-code", REDIRECT, &p.verifier)
        .await;
    assert_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    // None of that consumed the code.
    let res = emu
        .exchange(DEMO_CLIENT_ID, &code, REDIRECT, &p.verifier)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn code_reuse_is_refused_and_revokes_what_the_code_produced() {
    let emu = start_default().await;
    let p = pkce();
    let code = emu
        .code_for(&AuthRequest::demo(&p.challenge), "agent@example.com")
        .await;
    let first: Value = emu
        .exchange(DEMO_CLIENT_ID, &code, REDIRECT, &p.verifier)
        .await
        .json()
        .await
        .unwrap();
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(emu.users_me(access).await.status(), StatusCode::OK);

    let res = emu
        .exchange(DEMO_CLIENT_ID, &code, REDIRECT, &p.verifier)
        .await;
    let desc = assert_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(desc.contains("already been used"), "{desc}");

    let me = emu.users_me(access).await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    let res = emu
        .refresh(DEMO_CLIENT_ID, first["refresh_token"].as_str().unwrap())
        .await;
    assert_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;

    let state = emu.control.state().await;
    assert_eq!(state["codes_exchanged"], 1);
    assert_eq!(state["families_revoked"], 1);
    assert_eq!(state["users_me_unauthorized"], 1);
}

#[tokio::test]
async fn expired_code_is_refused() {
    let emu = start(EmulatorConfig {
        code_lifetime: Duration::from_millis(300),
        ..EmulatorConfig::default()
    })
    .await;
    let p = pkce();
    let code = emu
        .code_for(&AuthRequest::demo(&p.challenge), "agent@example.com")
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let res = emu
        .exchange(DEMO_CLIENT_ID, &code, REDIRECT, &p.verifier)
        .await;
    let desc = assert_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(desc.contains("expired"), "{desc}");
}

#[tokio::test]
async fn refresh_tokens_rotate_and_old_ones_die() {
    let emu = start_default().await;
    let first = emu.demo_tokens().await;
    let r1 = first["refresh_token"].as_str().unwrap();

    let res = emu.refresh(DEMO_CLIENT_ID, r1).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let second: Value = res.json().await.unwrap();
    let r2 = second["refresh_token"].as_str().unwrap();
    let a2 = second["access_token"].as_str().unwrap();
    assert_ne!(r1, r2);
    assert_ne!(first["access_token"], second["access_token"]);
    assert_eq!(second["scope"], first["scope"]);
    assert_eq!(second["expires_in"], 7200);
    assert_eq!(emu.users_me(a2).await.status(), StatusCode::OK);

    // The rotated token keeps working down the chain.
    let third: Value = emu.refresh(DEMO_CLIENT_ID, r2).await.json().await.unwrap();
    assert!(third["refresh_token"].is_string());

    // Narrowing the scope on refresh is allowed; widening is not.
    let r3 = third["refresh_token"].as_str().unwrap();
    let res = emu
        .token_form(
            emu.login(),
            &[
                ("grant_type", "refresh_token"),
                ("client_id", DEMO_CLIENT_ID),
                ("refresh_token", r3),
                ("scope", "users:readonly organization:readonly"),
            ],
        )
        .await;
    assert_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_scope").await;
    let res = emu
        .token_form(
            emu.login(),
            &[
                ("grant_type", "refresh_token"),
                ("client_id", DEMO_CLIENT_ID),
                ("refresh_token", r3),
                ("scope", "users:readonly"),
            ],
        )
        .await;
    let narrowed: Value = res.json().await.unwrap();
    assert_eq!(narrowed["scope"], "users:readonly");

    let res = emu.refresh(DEMO_CLIENT_ID, "not-a-refresh-token").await;
    assert_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(emu.control.state().await["refreshes_served"], 3);
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_family() {
    let emu = start_default().await;
    let first = emu.demo_tokens().await;
    let r1 = first["refresh_token"].as_str().unwrap();
    let second: Value = emu.refresh(DEMO_CLIENT_ID, r1).await.json().await.unwrap();
    let a2 = second["access_token"].as_str().unwrap();
    let r2 = second["refresh_token"].as_str().unwrap();

    // An unrelated login must survive.
    let bystander = emu.demo_tokens().await;

    let res = emu.refresh(DEMO_CLIENT_ID, r1).await;
    let desc = assert_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(desc.contains("already been used"), "{desc}");

    assert_eq!(emu.users_me(a2).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        emu.users_me(first["access_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let res = emu.refresh(DEMO_CLIENT_ID, r2).await;
    assert_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(
        emu.users_me(bystander["access_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );

    let state = emu.control.state().await;
    assert_eq!(state["refresh_reuse_detected"], 1);
    assert_eq!(state["families_revoked"], 1);
    assert_eq!(state["refreshes_served"], 1);
}

#[tokio::test]
async fn access_tokens_expire_after_the_token_lifetime() {
    let emu = start(EmulatorConfig {
        token_lifetime: Duration::from_secs(1),
        ..EmulatorConfig::default()
    })
    .await;
    let tokens = emu.demo_tokens().await;
    assert_eq!(tokens["expires_in"], 1);
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(emu.users_me(access).await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let res = emu.users_me(access).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], 401);
    assert_eq!(body["code"], "bad.credentials");
    // The refresh token outlives the access token.
    let res = emu
        .refresh(DEMO_CLIENT_ID, tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

fn confidential_config() -> EmulatorConfig {
    EmulatorConfig {
        clients: vec![
            ClientRegistration::demo(),
            ClientRegistration::parse_confidential("svc:s3cret=http://127.0.0.1:9/cb").unwrap(),
        ],
        ..EmulatorConfig::default()
    }
}

async fn confidential_code(emu: &Emu, p: &Pkce) -> String {
    let req = AuthRequest {
        client_id: Some("svc"),
        redirect_uri: Some("http://127.0.0.1:9/cb"),
        ..AuthRequest::demo(&p.challenge)
    };
    emu.code_for(&req, "agent@example.com").await
}

#[tokio::test]
async fn confidential_clients_must_authenticate() {
    let emu = start(confidential_config()).await;
    let token_url = format!("{}/oauth/token", emu.login());

    // Secret in the body.
    let p = pkce();
    let code = confidential_code(&emu, &p).await;
    let form = |code: &str, verifier: &str| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", "http://127.0.0.1:9/cb".to_owned()),
            ("code_verifier", verifier.to_owned()),
        ]
    };
    let mut body = form(&code, &p.verifier);
    body.push(("client_id", "svc".to_owned()));
    body.push(("client_secret", "s3cret".to_owned()));
    let res = emu.http.post(&token_url).form(&body).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let tokens: Value = res.json().await.unwrap();
    assert!(tokens["refresh_token"].is_string());

    // HTTP Basic.
    let p = pkce();
    let code = confidential_code(&emu, &p).await;
    let res = emu
        .http
        .post(&token_url)
        .basic_auth("svc", Some("s3cret"))
        .form(&form(&code, &p.verifier))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // Wrong secret (Basic and body), missing secret: 401 invalid_client with WWW-Authenticate.
    let p = pkce();
    let code = confidential_code(&emu, &p).await;
    let res = emu
        .http
        .post(&token_url)
        .basic_auth("svc", Some("nope"))
        .form(&form(&code, &p.verifier))
        .send()
        .await
        .unwrap();
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    assert_oauth_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
    for extra in [
        vec![("client_id", "svc"), ("client_secret", "nope")],
        vec![("client_id", "svc")],
    ] {
        let mut body = form(&code, &p.verifier);
        body.extend(extra.into_iter().map(|(k, v)| (k, v.to_owned())));
        let res = emu.http.post(&token_url).form(&body).send().await.unwrap();
        assert!(res.headers().contains_key("www-authenticate"));
        assert_oauth_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
    }
    // Two authentication methods at once.
    let mut body = form(&code, &p.verifier);
    body.push(("client_secret", "s3cret".to_owned()));
    let res = emu
        .http
        .post(&token_url)
        .basic_auth("svc", Some("s3cret"))
        .form(&body)
        .send()
        .await
        .unwrap();
    assert_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    // Malformed Basic credentials.
    let res = emu
        .http
        .post(&token_url)
        .header(
            "authorization",
            format!("Basic {}", STANDARD.encode("no-colon")),
        )
        .form(&form(&code, &p.verifier))
        .send()
        .await
        .unwrap();
    assert_oauth_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
    // Refresh needs the secret too.
    let r = tokens["refresh_token"].as_str().unwrap();
    let res = emu.refresh("svc", r).await;
    assert_oauth_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let res = emu
        .http
        .post(&token_url)
        .basic_auth("svc", Some("s3cret"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", r)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // And the code, still unused, works with the right credentials.
    let res = emu
        .http
        .post(&token_url)
        .basic_auth("svc", Some("s3cret"))
        .form(&form(&code, &p.verifier))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn public_clients_get_no_refresh_token_when_disabled() {
    let emu = start(EmulatorConfig {
        public_refresh_tokens: false,
        ..confidential_config()
    })
    .await;
    let tokens = emu.demo_tokens().await;
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    assert!(tokens["access_token"].is_string());

    // Confidential clients still get one.
    let p = pkce();
    let code = confidential_code(&emu, &p).await;
    let res = emu
        .http
        .post(format!("{}/oauth/token", emu.login()))
        .basic_auth("svc", Some("s3cret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("code_verifier", &p.verifier),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert!(body["refresh_token"].is_string(), "{body}");
}

#[tokio::test]
async fn grant_scopes_narrows_what_is_granted() {
    let emu = start(EmulatorConfig {
        grant_scopes: Some(vec!["users:readonly".to_owned(), "presence".to_owned()]),
        ..EmulatorConfig::default()
    })
    .await;
    let p = pkce();
    let all = REQUIRED_SCOPES.join(" ");
    let req = AuthRequest {
        scope: Some(&all),
        ..AuthRequest::demo(&p.challenge)
    };
    let code = emu.code_for(&req, "agent@example.com").await;
    let tokens: Value = emu
        .exchange(DEMO_CLIENT_ID, &code, REDIRECT, &p.verifier)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tokens["scope"], "users:readonly presence");
    let info: Value = emu
        .http
        .get(format!("{}/api/v2/tokens/me", emu.api()))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        info["authorizedScope"],
        json!(["users:readonly", "presence"])
    );
}

#[tokio::test]
async fn token_endpoint_rejects_malformed_requests() {
    let emu = start_default().await;
    let url = format!("{}/oauth/token", emu.login());

    // JSON is not accepted, nor a missing content type.
    let res = emu
        .http
        .post(&url)
        .json(&json!({"grant_type": "refresh_token", "client_id": DEMO_CLIENT_ID}))
        .send()
        .await
        .unwrap();
    let desc = assert_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(desc.contains("x-www-form-urlencoded"), "{desc}");
    let res = emu
        .http
        .post(&url)
        .body("grant_type=refresh_token")
        .send()
        .await
        .unwrap();
    assert_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;

    let res = emu
        .token_form(
            emu.login(),
            &[("grant_type", "password"), ("client_id", DEMO_CLIENT_ID)],
        )
        .await;
    assert_oauth_error(res, StatusCode::BAD_REQUEST, "unsupported_grant_type").await;
    let res = emu
        .token_form(emu.login(), &[("client_id", DEMO_CLIENT_ID)])
        .await;
    assert_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    let res = emu
        .token_form(
            emu.login(),
            &[("grant_type", "refresh_token"), ("client_id", "who")],
        )
        .await;
    assert!(res.headers().contains_key("www-authenticate"));
    assert_oauth_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let res = emu
        .token_form(emu.login(), &[("grant_type", "refresh_token")])
        .await;
    assert_oauth_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
    // A public client has no secret to send.
    let res = emu
        .token_form(
            emu.login(),
            &[
                ("grant_type", "refresh_token"),
                ("client_id", DEMO_CLIENT_ID),
                ("client_secret", "guess"),
                ("refresh_token", "x"),
            ],
        )
        .await;
    assert_oauth_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let res = emu
        .http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=refresh_token&client_id=agent-shell-demo&refresh_token=a&refresh_token=b")
        .send()
        .await
        .unwrap();
    let desc = assert_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(desc.contains("more than once"), "{desc}");
    let res = emu
        .token_form(
            emu.login(),
            &[
                ("grant_type", "authorization_code"),
                ("client_id", DEMO_CLIENT_ID),
            ],
        )
        .await;
    assert_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;

    // Bodies are bounded at 64 KiB.
    let big = format!("grant_type=refresh_token&pad={}", "a".repeat(70 * 1024));
    let res = emu
        .http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);

    assert_eq!(emu.control.state().await["token_requests"], 10);
}

#[tokio::test]
async fn missing_grant_type_is_invalid_request_before_client_authentication() {
    let emu = start(confidential_config()).await;
    // Neither grant_type nor client_id: a malformed request, not a failed authentication.
    let res = emu.token_form(emu.login(), &[]).await;
    let desc = assert_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(desc.contains("grant_type"), "{desc}");
    let res = emu
        .token_form(
            emu.login(),
            &[("client_id", "svc"), ("client_secret", "wrong")],
        )
        .await;
    assert_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    // With a grant_type, client authentication still comes first.
    let res = emu
        .token_form(emu.login(), &[("grant_type", "refresh_token")])
        .await;
    assert_oauth_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
}

#[tokio::test]
async fn refresh_with_a_blank_scope_keeps_the_granted_scopes() {
    let emu = start_default().await;
    let first = emu.demo_tokens().await;
    let res = emu
        .token_form(
            emu.login(),
            &[
                ("grant_type", "refresh_token"),
                ("client_id", DEMO_CLIENT_ID),
                ("refresh_token", first["refresh_token"].as_str().unwrap()),
                ("scope", "   "),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let second: Value = res.json().await.unwrap();
    assert_eq!(second["scope"], first["scope"]);
    assert_eq!(second["scope"], "users:readonly presence");
    // Duplicates in a narrowing scope are harmless.
    let res = emu
        .token_form(
            emu.login(),
            &[
                ("grant_type", "refresh_token"),
                ("client_id", DEMO_CLIENT_ID),
                ("refresh_token", second["refresh_token"].as_str().unwrap()),
                ("scope", "users:readonly  users:readonly"),
            ],
        )
        .await;
    let third: Value = res.json().await.unwrap();
    assert_eq!(third["scope"], "users:readonly");
}
