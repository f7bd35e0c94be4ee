//! The `/_emulator/*` control API: faults, revocation, runtime settings, counters, access log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use agent_shell_test_kit::{FaultExt, FaultKind};
use common::*;
use genesys_emulator::{EmulatorConfig, DEMO_CLIENT_ID};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A refresh with an unknown token: 400 invalid_grant normally, so any other answer is the fault.
async fn probe_token(emu: &Emu, base: &str) -> reqwest::Response {
    emu.token_form(
        base,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", DEMO_CLIENT_ID),
            ("refresh_token", "unknown"),
        ],
    )
    .await
}

#[tokio::test]
async fn each_token_fault_kind() {
    let emu = start_default().await;
    let login = emu.login().to_owned();
    let api_alias = format!("{}/api/v2", emu.api());

    emu.control.fault(FaultKind::ServerError).await;
    let res = probe_token(&emu, &login).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "server_error");
    // Consumed: the next call is normal again.
    assert_oauth_error(
        probe_token(&emu, &login).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;

    emu.control
        .fault(FaultKind::ServiceUnavailable.retry_after(7))
        .await;
    let res = probe_token(&emu, &api_alias).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["retry-after"], "7");

    emu.control.fault(FaultKind::RateLimited.times(2)).await;
    assert_eq!(emu.control.state().await["faults_pending"], 2);
    for base in [&login, &api_alias] {
        let res = probe_token(&emu, base).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.headers()["retry-after"], "2");
    }
    assert_eq!(emu.control.state().await["faults_pending"], 0);

    emu.control.fault(FaultKind::Malformed).await;
    let res = probe_token(&emu, &login).await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");

    // The fault applies to any grant, even one that would succeed.
    let p = pkce();
    let code = emu
        .code_for(&AuthRequest::demo(&p.challenge), "agent@example.com")
        .await;
    emu.control.fault(FaultKind::InvalidGrant).await;
    let res = emu
        .exchange(DEMO_CLIENT_ID, &code, REDIRECT, &p.verifier)
        .await;
    assert_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let res = emu
        .exchange(DEMO_CLIENT_ID, &code, REDIRECT, &p.verifier)
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    emu.control.fault(FaultKind::Hang.secs(1)).await;
    let started = Instant::now();
    let res = probe_token(&emu, &login).await;
    assert_eq!(res.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(started.elapsed() >= Duration::from_millis(950));

    let state = emu.control.state().await;
    assert_eq!(state["faults_pending"], 0);
    assert_eq!(state["token_requests"], 9);
}

#[tokio::test]
async fn authorize_faults_redirect_with_the_chosen_error() {
    let emu = start_default().await;
    emu.control
        .fault(FaultKind::AuthorizeError.error("invalid_scope"))
        .await;
    emu.control.fault(FaultKind::AuthorizeError).await;
    // Token calls do not consume authorize faults.
    assert_oauth_error(
        probe_token(&emu, emu.login()).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    let p = pkce();
    let req = AuthRequest::demo(&p.challenge);
    for expected in ["invalid_scope", "access_denied"] {
        let res = emu.authorize(&req).await;
        assert_eq!(res.status(), StatusCode::FOUND);
        let loc = location(res.headers());
        assert_eq!(query_param(&loc, "error").as_deref(), Some(expected));
        assert_eq!(query_param(&loc, "state").as_deref(), Some("st-123"));
    }
    assert_eq!(emu.authorize(&req).await.status(), StatusCode::OK);
}

/// users/me faults reject a valid token `count` times, and leave the token endpoint alone.
#[tokio::test]
async fn users_me_faults_reject_a_valid_token_then_pass() {
    let emu = start_default().await;
    let tokens = emu.demo_tokens().await;
    let access = tokens["access_token"].as_str().unwrap();
    emu.control
        .fault(FaultKind::UsersMeUnauthorized.times(2))
        .await;
    assert_oauth_error(
        probe_token(&emu, emu.login()).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    for _ in 0..2 {
        assert_eq!(
            emu.users_me(access).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(emu.users_me(access).await.status(), StatusCode::OK);
    let state = emu.control.state().await;
    assert_eq!(state["faults_pending"], 0);
    assert_eq!(state["users_me_unauthorized"], 2);
}

#[tokio::test]
async fn faults_can_be_cleared_and_are_validated() {
    let emu = start_default().await;
    emu.control.fault(FaultKind::ServerError.times(5)).await;
    emu.control.fault(FaultKind::AuthorizeError.times(2)).await;
    assert_eq!(emu.control.state().await["faults_pending"], 7);
    emu.control.clear_faults().await;
    assert_eq!(emu.control.state().await["faults_pending"], 0);
    assert_oauth_error(
        probe_token(&emu, emu.login()).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;

    for bad in [
        json!({"kind": "explode"}),
        json!({"kind": "server_error", "count": 0}),
        json!({"kind": "authorize_error", "error": "teapot"}),
        json!({"kind": "server_error", "error": "access_denied"}),
        json!({"count": 1}),
        json!({"kind": "hang", "hang_seconds": 1}),
    ] {
        let res = emu.control.post_raw("faults", bad.clone()).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body: Value = res.json().await.unwrap();
        assert!(body["error"].is_string());
    }
    let res = emu
        .http
        .post(format!("{}/_emulator/faults", emu.login()))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(emu.control.state().await["faults_pending"], 0);
}

#[tokio::test]
async fn revoke_by_user_and_all() {
    let emu = start_default().await;
    let agent = emu.demo_tokens().await;
    let other = emu.tokens_for("other@example.com").await;
    let agent_token = agent["access_token"].as_str().unwrap();
    let other_token = other["access_token"].as_str().unwrap();

    let res = emu
        .control
        .post_raw("revoke", json!({"user_id": DEFAULT_USER_ID}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"revoked_families": 1})
    );
    assert_eq!(
        emu.users_me(agent_token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(emu.users_me(other_token).await.status(), StatusCode::OK);
    let res = emu
        .refresh(DEMO_CLIENT_ID, agent["refresh_token"].as_str().unwrap())
        .await;
    assert_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;

    let res = emu.control.post_raw("revoke", json!({"all": true})).await;
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"revoked_families": 1})
    );
    assert_eq!(
        emu.users_me(other_token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(emu.control.state().await["families_revoked"], 2);

    for bad in [
        json!({}),
        json!({"all": true, "user_id": "x"}),
        json!({"all": false}),
    ] {
        let res = emu.control.post_raw("revoke", bad).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn settings_apply_to_later_requests_and_reset_restores_them() {
    let emu = start_default().await;
    let before = emu.demo_tokens().await;

    let res = emu
        .control
        .post_raw(
            "settings",
            json!({"token_lifetime_secs": 90, "grant_scopes": ["users:readonly"],
                   "public_refresh_tokens": false, "auto_approve": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let current: Value = res.json().await.unwrap();
    assert_eq!(current["token_lifetime_secs"], 90.0);
    assert_eq!(current["auto_approve"], true);

    // Auto-approve now: authorize redirects straight back.
    let p = pkce();
    let res = emu.authorize(&AuthRequest::demo(&p.challenge)).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let code = query_param(&location(res.headers()), "code").unwrap();
    let tokens: Value = emu
        .exchange(DEMO_CLIENT_ID, &code, REDIRECT, &p.verifier)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tokens["expires_in"], 90);
    assert_eq!(tokens["scope"], "users:readonly");
    assert!(tokens.get("refresh_token").is_none());
    // Earlier logins keep what they were given.
    assert_eq!(
        emu.users_me(before["access_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );

    // null puts grant_scopes back to "what was requested"; absent fields stay as they are.
    let res = emu
        .control
        .post_raw("settings", json!({"grant_scopes": null}))
        .await;
    let current: Value = res.json().await.unwrap();
    assert_eq!(current["grant_scopes"], Value::Null);
    assert_eq!(current["auto_approve"], true);

    for bad in [
        json!({"token_lifetime_secs": 0}),
        json!({"token_lifetime_secs": "long"}),
        json!({"auto_aprove": true}),
    ] {
        let res = emu.control.post_raw("settings", bad.clone()).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
    }

    emu.control.fault(FaultKind::ServerError).await;
    let res = emu.control.post_raw("reset", json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let state = emu.control.state().await;
    for key in [
        "authorize_requests",
        "codes_issued",
        "codes_exchanged",
        "token_requests",
        "refreshes_served",
        "refresh_reuse_detected",
        "families_revoked",
        "users_me_ok",
        "users_me_unauthorized",
        "faults_pending",
    ] {
        assert_eq!(state[key], 0, "{key}");
    }
    // Tokens are forgotten and the start-up settings are back.
    assert_eq!(
        emu.users_me(before["access_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let settings = emu.control.current_settings().await;
    assert_eq!(settings["auto_approve"], false);
    assert_eq!(settings["token_lifetime_secs"], 7200.0);
    let p = pkce();
    assert_eq!(
        emu.authorize(&AuthRequest::demo(&p.challenge))
            .await
            .status(),
        StatusCode::OK
    );
    // The log was cleared too: only requests since the reset remain.
    let log = emu.control.access_log().await;
    assert!(log.iter().all(|e| e["uri"] != "/oauth/login"), "{log:?}");
}

#[tokio::test]
async fn access_log_records_every_request_as_received() {
    let emu = start(EmulatorConfig {
        auto_approve: true,
        ..EmulatorConfig::default()
    })
    .await;
    let p = pkce();
    let req = AuthRequest::demo(&p.challenge);
    let authorize_url = req.url(emu.login());
    let res = emu.get(&authorize_url).await;
    let code = query_param(&location(res.headers()), "code").unwrap();
    let tokens: Value = emu
        .exchange(DEMO_CLIENT_ID, &code, REDIRECT, &p.verifier)
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    emu.users_me(access).await;
    emu.get(&format!("{}/embedded-client/?tab=queue", emu.media()))
        .await;
    emu.http
        .delete(format!("{}/nowhere?x=1", emu.api()))
        .send()
        .await
        .unwrap();

    let log = emu.control.access_log().await;
    let path_and_query = authorize_url.trim_start_matches(emu.login());
    assert_eq!(
        log,
        vec![
            json!({"origin": "login", "method": "GET", "uri": path_and_query}),
            json!({"origin": "login", "method": "POST", "uri": "/oauth/token"}),
            json!({"origin": "api", "method": "GET", "uri": "/api/v2/users/me"}),
            json!({"origin": "media", "method": "GET", "uri": "/embedded-client/?tab=queue"}),
            json!({"origin": "api", "method": "DELETE", "uri": "/nowhere?x=1"}),
            json!({"origin": "login", "method": "GET", "uri": "/_emulator/access-log"}),
        ]
    );
    // What the desktop tests rely on: tokens travel in headers and bodies, never in a URI.
    let text = serde_json::to_string(&log).unwrap();
    assert!(!text.contains(access));
    assert!(!text.contains(&code));
}

#[tokio::test]
async fn shutdown_cuts_a_hanging_request_short_and_stops_all_origins() {
    let emu = start_default().await;
    emu.control.fault(FaultKind::Hang.secs(30)).await;
    let http = emu.http.clone();
    let token_url = format!("{}/oauth/token", emu.login());
    let hanging = tokio::spawn(async move {
        http.post(token_url)
            .form(&[("grant_type", "refresh_token")])
            .send()
            .await
    });
    // Wait until the request has reached the server and taken the fault.
    let deadline = Instant::now() + Duration::from_secs(5);
    while emu.control.state().await["faults_pending"] != 0 {
        assert!(
            Instant::now() < deadline,
            "the hanging request never arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let urls = emu.running.urls().clone();
    let started = Instant::now();
    emu.running.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let res = hanging.await.unwrap().unwrap();
    assert_eq!(res.status(), StatusCode::GATEWAY_TIMEOUT);

    let fresh = http_client();
    for base in [urls.login, urls.api, urls.media] {
        assert!(
            fresh.get(format!("{base}/logout")).send().await.is_err(),
            "{base}"
        );
    }
}

#[tokio::test]
async fn browsers_on_other_origins_cannot_use_the_control_api() {
    let emu = start_default().await;
    let tokens = emu.demo_tokens().await;
    let access = tokens["access_token"].as_str().unwrap();
    let login = emu.login().to_owned();
    let api = emu.api().to_owned();

    // What a malicious page's fetch() or auto-submitted form carries.
    for (name, value) in [
        ("origin", "https://evil.example"),
        ("origin", "null"),
        ("origin", api.as_str()),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ] {
        for (method, path, body) in [
            ("POST", "revoke", Some(json!({"all": true}))),
            ("POST", "faults", Some(json!({"kind": "server_error"}))),
            ("POST", "settings", Some(json!({"auto_approve": true}))),
            ("POST", "reset", Some(json!({}))),
            ("DELETE", "faults", None),
            ("GET", "state", None),
            ("GET", "settings", None),
            ("GET", "access-log", None),
        ] {
            let mut req = emu
                .http
                .request(method.parse().unwrap(), format!("{login}/_emulator/{path}"))
                .header(name, value);
            if let Some(body) = body {
                req = req
                    .header("content-type", "text/plain")
                    .body(body.to_string());
            }
            let res = req.send().await.unwrap();
            assert_eq!(
                res.status(),
                StatusCode::FORBIDDEN,
                "{method} {path} with {name}: {value}"
            );
            let body: Value = res.json().await.unwrap();
            assert!(body["error"].is_string(), "{body}");
        }
    }
    // Nothing happened: the login lives, no fault is queued, the settings are unchanged.
    assert_eq!(emu.users_me(access).await.status(), StatusCode::OK);
    let state = emu.control.state().await;
    assert_eq!(state["faults_pending"], 0);
    assert_eq!(state["families_revoked"], 0);
    assert_eq!(state["codes_issued"], 1);

    // The login origin itself (a page served there, or a same-origin fetch) is allowed, and
    // so is a client that sends no Origin at all (curl, tests).
    let res = emu
        .http
        .get(format!("{login}/_emulator/settings"))
        .header("origin", login.as_str())
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = emu
        .http
        .post(format!("{login}/_emulator/revoke"))
        .header("origin", login.as_str())
        .json(&json!({"all": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        emu.users_me(access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Unknown control paths stay 404 whatever the origin.
    let res = emu
        .http
        .get(format!("{login}/_emulator/nope"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn lifetimes_are_capped_so_huge_ones_cannot_crash_the_server() {
    let emu = start_default().await;
    for bad in [
        json!({"token_lifetime_secs": 1.0e10}),
        json!({"code_lifetime_secs": 1.8e19}),
        json!({"token_lifetime_secs": 1.0e300}),
    ] {
        let res = emu.control.post_raw("settings", bad.clone()).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    // The largest accepted lifetimes work end to end.
    let res = emu
        .control
        .post_raw(
            "settings",
            json!({"token_lifetime_secs": 1.0e9, "code_lifetime_secs": 1.0e9}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let tokens = emu.demo_tokens().await;
    assert_eq!(tokens["expires_in"], 1_000_000_000_u64);
    let refreshed = emu
        .refresh(DEMO_CLIENT_ID, tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(emu.users_me(access).await.status(), StatusCode::OK);

    // start() refuses them as well.
    for config in [
        EmulatorConfig {
            token_lifetime: Duration::from_secs(u64::MAX),
            ..EmulatorConfig::default()
        },
        EmulatorConfig {
            code_lifetime: Duration::from_secs(1_000_000_001),
            ..EmulatorConfig::default()
        },
    ] {
        let err = genesys_emulator::start(config).await.unwrap_err();
        assert!(err.to_string().contains("lifetime"), "{err}");
    }
}
