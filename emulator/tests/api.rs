//! Platform API endpoints, the token endpoint's CORS preflight and the embedded client page.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use genesys_emulator::{EmulatorConfig, CLIENT_CSP, DEMO_CLIENT_ID};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ALLOWED_HEADERS: &str = "Authorization, Content-Type";

#[tokio::test]
async fn users_me_and_tokens_me_need_a_live_bearer_token() {
    let emu = start_default().await;
    let me_url = format!("{}/api/v2/users/me", emu.api());
    let tokens_url = format!("{}/api/v2/tokens/me", emu.api());

    let res = emu.get(&me_url).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], 401);
    assert_eq!(body["code"], "bad.credentials");
    assert!(body["message"].is_string());
    for bad in ["Bearer made-up", "Basic YTpi", "Bearer "] {
        let res = emu
            .http
            .get(&me_url)
            .header("authorization", bad)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{bad}");
        let res = emu
            .http
            .get(&tokens_url)
            .header("authorization", bad)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{bad}");
    }

    let tokens = emu.demo_tokens().await;
    let access = tokens["access_token"].as_str().unwrap();
    let info: Value = emu
        .http
        .get(&tokens_url)
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let remaining = info["expires_in"].as_u64().unwrap();
    assert!((7190..=7200).contains(&remaining), "{info}");
    let date = info["expirationDate"].as_str().unwrap();
    assert_eq!(date.len(), "2024-05-01T12:00:00.000Z".len(), "{date}");
    assert!(date.ends_with('Z') && date.as_bytes()[10] == b'T', "{date}");
    assert_eq!(
        info["authorizedScope"],
        json!(["users:readonly", "presence"])
    );
    assert_eq!(info["OAuthClient"], json!({"id": DEMO_CLIENT_ID}));

    // The media origin answers the same reads (the embedded client calls same-origin).
    let res = emu
        .http
        .get(format!("{}/api/v2/users/me", emu.media()))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // DELETE signs the whole login out.
    let res = emu
        .http
        .delete(&tokens_url)
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        emu.users_me(access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let res = emu
        .http
        .get(&tokens_url)
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = emu
        .refresh(DEMO_CLIENT_ID, tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let res = emu
        .http
        .delete(&tokens_url)
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    let state = emu.control.state().await;
    assert_eq!(state["families_revoked"], 1);
    assert_eq!(state["users_me_ok"], 1);
    assert_eq!(state["users_me_unauthorized"], 5);
}

async fn preflight(emu: &Emu, url: &str, origin: Option<&str>) -> reqwest::Response {
    let mut req = emu
        .http
        .request(Method::OPTIONS, url)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization",
        );
    if let Some(origin) = origin {
        req = req.header("origin", origin);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn cors_preflight_on_both_token_paths() {
    let emu = start_default().await;
    for url in [
        format!("{}/oauth/token", emu.login()),
        format!("{}/api/v2/oauth/token", emu.api()),
    ] {
        for origin in [
            "tauri://localhost",
            "http://tauri.localhost",
            "http://localhost:1420",
        ] {
            let res = preflight(&emu, &url, Some(origin)).await;
            assert_eq!(res.status(), StatusCode::OK, "{origin}");
            let h = res.headers();
            assert_eq!(h["access-control-allow-origin"], origin);
            assert_eq!(h["access-control-allow-methods"], "POST, GET, OPTIONS");
            assert_eq!(h["access-control-allow-headers"], ALLOWED_HEADERS);
            assert_eq!(h["vary"], "Origin");
        }
        for origin in [
            Some("https://evil.example"),
            Some("http://localhost.evil.example"),
            Some("http://tauri.localhost.evil.example"),
            Some("null"),
            None,
        ] {
            let res = preflight(&emu, &url, origin).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{origin:?}");
            assert!(res.headers().get("access-control-allow-origin").is_none());
        }
    }
    // The actual POST from a trusted origin carries the exact origin, never '*'.
    let res = emu
        .http
        .post(format!("{}/oauth/token", emu.login()))
        .header("origin", "tauri://localhost")
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", DEMO_CLIENT_ID),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "tauri://localhost"
    );
    let res = emu
        .http
        .post(format!("{}/oauth/token", emu.login()))
        .header("origin", "https://evil.example")
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", DEMO_CLIENT_ID),
        ])
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn trusted_domains_replace_the_defaults() {
    let emu = start(EmulatorConfig {
        trusted_domains: vec!["app.example.test".to_owned()],
        ..EmulatorConfig::default()
    })
    .await;
    let url = format!("{}/oauth/token", emu.login());
    let res = preflight(&emu, &url, Some("https://app.example.test")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.example.test"
    );
    let res = preflight(&emu, &url, Some("tauri://localhost")).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn embedded_client_is_served_with_its_csp_and_no_inline_script() {
    let emu = start(EmulatorConfig {
        queue_interval: Duration::from_millis(250),
        embed_origins: vec!["http://localhost:1420".to_owned()],
        ..EmulatorConfig::default()
    })
    .await;
    for base in [emu.api(), emu.media()] {
        let res = emu.get(&format!("{base}/embedded-client/")).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-security-policy"], CLIENT_CSP);
        assert_eq!(
            CLIENT_CSP,
            "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'"
        );
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let html = res.text().await.unwrap();
        // Every script element loads a file; none has a body.
        let scripts: Vec<&str> = html.split("<script").skip(1).collect();
        assert_eq!(scripts.len(), 1);
        for s in scripts {
            let tag_end = s.find('>').unwrap();
            assert!(s[..tag_end].contains("src="), "{s}");
            assert!(s[tag_end + 1..].starts_with("</script>"), "{s}");
        }
        assert!(!html.contains("<style"));
        assert!(!html.contains(" style="));
        assert!(!html.contains("onclick") && !html.contains("onload"));

        let js = emu.get(&format!("{base}/embedded-client/client.js")).await;
        assert_eq!(js.status(), StatusCode::OK);
        assert!(js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript"));
        let js = js.text().await.unwrap();
        assert!(js.contains("agent-shell:ready"));
        assert!(!js.contains("location.search") && !js.contains("location.hash"));
        let css = emu.get(&format!("{base}/embedded-client/client.css")).await;
        assert_eq!(css.status(), StatusCode::OK);
        assert!(css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css"));

        let config: Value = emu
            .get(&format!("{base}/embedded-client/config.json"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(config["queue_interval_ms"], 250);
        assert_eq!(config["interaction_interval_ms"], 20_000);
        assert_eq!(config["token_expiring_margin_secs"], 60.0);
        assert_eq!(config["embed_origins"], json!(["http://localhost:1420"]));

        let res = emu.get(&format!("{base}/embedded-client")).await;
        assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(location(res.headers()), "/embedded-client/");
    }
    // Not on the login origin.
    let res = emu.get(&format!("{}/embedded-client/", emu.login())).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn logout_page_and_unknown_paths() {
    let emu = start_default().await;
    let res = emu.get(&format!("{}/logout", emu.login())).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("Signed out"));
    for url in [
        format!("{}/", emu.login()),
        format!("{}/api/v2/users/you", emu.api()),
        format!("{}/oauth/authorize", emu.api()),
        format!("{}/_emulator/state", emu.api()),
        format!("{}/api/v2/oauth/token", emu.media()),
    ] {
        assert_eq!(emu.get(&url).await.status(), StatusCode::NOT_FOUND, "{url}");
    }
    // Known path, wrong method.
    let res = emu
        .http
        .delete(format!("{}/api/v2/tokens/me", emu.media()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
}
