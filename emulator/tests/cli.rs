//! The `genesys-emulator` binary's contract: one JSON line on stdout when ready, exit 0 on
//! SIGTERM / SIGINT, exit 2 on bad arguments.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use genesys_emulator::EmulatorUrls;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

const BIN: &str = env!("CARGO_BIN_EXE_genesys-emulator");

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn spawn(args: &[&str]) -> (Child, EmulatorUrls, BufReader<ChildStdout>) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(10), stdout.read_line(&mut line))
        .await
        .expect("ready line within 10 s")
        .unwrap();
    assert!(line.ends_with('\n'), "{line:?}");
    let urls: EmulatorUrls = serde_json::from_str(line.trim_end()).unwrap();
    let keys: Vec<String> =
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&line)
            .unwrap()
            .keys()
            .cloned()
            .collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
    for url in [&urls.login, &urls.api, &urls.media] {
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        assert!(!url.ends_with('/'), "{url}");
    }
    assert_eq!(urls.streaming, urls.api.replacen("http://", "ws://", 1));
    (child, urls, stdout)
}

fn send_signal(child: &Child, signal: &str) {
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

async fn assert_exits_cleanly(mut child: Child, mut stdout: BufReader<ChildStdout>) {
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("exit within 5 s")
        .unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    // Nothing but the ready line was ever written to stdout.
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).await.unwrap();
    assert_eq!(rest, "");
}

#[tokio::test]
async fn default_binary_announces_three_origins_and_stops_on_sigterm() {
    let (child, urls, stdout) = spawn(&[]).await;
    let http = http();
    assert_ne!(urls.login, urls.api);
    assert_ne!(urls.api, urls.media);
    let res = http
        .get(format!("{}/logout", urls.login))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    for base in [&urls.api, &urls.media] {
        let res = http
            .get(format!("{base}/embedded-client/"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    // The demo client is registered by default, with the login page (no auto-approve).
    let res = http
        .get(format!(
            "{}/oauth/authorize?client_id=agent-shell-demo&redirect_uri=http%3A%2F%2F127.0.0.1%3A47615%2Foauth%2Fcallback&response_type=code&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
            urls.login
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("name=\"request_id\""));

    send_signal(&child, "-TERM");
    assert_exits_cleanly(child, stdout).await;
}

#[tokio::test]
async fn binary_with_clients_port_and_options_stops_on_sigint() {
    // Find three consecutive free ports (retrying if another process grabs one meanwhile).
    let mut spawned = None;
    for _ in 0..10 {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        if port > 65_000 {
            continue;
        }
        let free = (1..=2).all(|i| std::net::TcpListener::bind(("127.0.0.1", port + i)).is_ok());
        if !free {
            continue;
        }
        let port_arg = port.to_string();
        let args = [
            "--client",
            "my-app=http://127.0.0.1:9/cb",
            "--confidential",
            "svc:s3cret=http://127.0.0.1:9/svc",
            "--auto-approve",
            "--token-lifetime",
            "120",
            "--grant-scopes",
            "users:readonly",
            "--no-public-refresh-tokens",
            "--port",
            &port_arg,
        ];
        let mut child = Command::new(BIN)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let read = tokio::time::timeout(Duration::from_secs(10), stdout.read_line(&mut line))
            .await
            .unwrap()
            .unwrap();
        if read == 0 {
            // Lost the race for a port: the process exited with a bind error. Try again.
            let _ = child.wait().await;
            continue;
        }
        let urls: EmulatorUrls = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(urls.login, format!("http://127.0.0.1:{port}"));
        assert_eq!(urls.api, format!("http://127.0.0.1:{}", port + 1));
        assert_eq!(urls.media, format!("http://127.0.0.1:{}", port + 2));
        spawned = Some((child, urls, stdout));
        break;
    }
    let (child, urls, stdout) = spawned.expect("three consecutive free ports");

    let http = http();
    // The demo client is not registered when --client is given.
    let res = http
        .get(format!(
            "{}/oauth/authorize?client_id=agent-shell-demo&redirect_uri=http%3A%2F%2F127.0.0.1%3A47615%2Foauth%2Fcallback&response_type=code",
            urls.login
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // --auto-approve: straight back with a code.
    let res = http
        .get(format!(
            "{}/oauth/authorize?client_id=my-app&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&response_type=code&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
            urls.login
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let code = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let res = http
        .post(format!("{}/oauth/token", urls.login))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "my-app"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            (
                "code_verifier",
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["expires_in"], 120);
    assert_eq!(body["scope"], "users:readonly");
    assert!(body.get("refresh_token").is_none());
    // The confidential client is registered and needs its secret.
    let res = http
        .post(format!("{}/api/v2/oauth/token", urls.api))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "svc"),
            ("refresh_token", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    send_signal(&child, "-INT");
    assert_exits_cleanly(child, stdout).await;
}

#[tokio::test]
async fn bad_arguments_exit_with_2_and_explain_on_stderr() {
    for (args, mention) in [
        (vec!["--client", "no-redirect"], "--client"),
        (vec!["--client", "app=not a uri"], "redirect URI"),
        (
            vec!["--confidential", "app=http://127.0.0.1:9/cb"],
            "SECRET",
        ),
        (vec!["--port", "65535"], "--port"),
        (vec!["--token-lifetime", "soon"], "--token-lifetime"),
        (vec!["--token-lifetime", "0"], "--token-lifetime"),
        (
            vec!["--token-lifetime", "18446744073709551615"],
            "--token-lifetime",
        ),
        (vec!["--code-lifetime", "1000000001"], "--code-lifetime"),
        (
            vec!["--embed-origin", "HTTP://Localhost:80"],
            "embed origin",
        ),
        (
            vec!["--embed-origin", "tauri://localhost/path"],
            "embed origin",
        ),
        (
            vec!["--trusted-domain", "https://localhost"],
            "trusted domain",
        ),
        (
            vec!["--client", "a=http://x/cb", "--client", "a=http://y/cb"],
            "registered twice",
        ),
        (vec!["--no-such-flag"], "--no-such-flag"),
    ] {
        let out = tokio::time::timeout(
            Duration::from_secs(10),
            Command::new(BIN)
                .args(&args)
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("exits promptly")
        .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(mention), "{args:?}: {stderr}");
    }
}
