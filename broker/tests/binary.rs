//! The `agent-shell-broker` binary: configuration from a file and the environment, JSON logs on
//! stdout without secrets, SIGHUP reload, graceful SIGTERM, `check` and `generate-key`.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::{assert_no_secret, pkce, CLIENT_ID, CLIENT_SECRET, REDIRECT};
use genesys_emulator::{ClientRegistration, EmulatorConfig};
use reqwest::StatusCode;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_agent-shell-broker");
const SECOND_ID: &str = "second-client";
const SECOND_SECRET: &str = "ss-91c4e7a2b3d5f60718293a4b5c6d7e8f90a1b2c3";

/// A running broker process; killed if the test fails before stopping it.
struct Broker {
    child: std::process::Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Broker {
    fn spawn(config: &Path) -> Self {
        let mut cmd = Command::new(BIN);
        cmd.arg("--config").arg(config);
        for (name, _) in std::env::vars() {
            if name.starts_with("AGENT_SHELL_BROKER_") {
                cmd.env_remove(name);
            }
        }
        let mut child = cmd
            .env("AGENT_SHELL_BROKER_LOG", "debug")
            .env("SECOND_CLIENT_SECRET", SECOND_SECRET)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    lines.lock().unwrap().push(line);
                }
            });
        }
        Self { child, lines }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The first JSON log line whose message is `message` (waits up to 20 s).
    async fn wait_for(&self, message: &str, after: usize) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(v) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .skip(after)
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|v| v["message"] == message)
            {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "no '{message}' in:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    fn line_count(&self) -> usize {
        self.lines.lock().unwrap().len()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_config(dir: &Path, upstream: &str, second_client: bool) -> std::path::PathBuf {
    let mut text = format!(
        r#"listen = "127.0.0.1:0"
upstream_token_url = "{upstream}"
[keys]
current_file = "current.key"
[rate_limit]
per_second = 0
[[clients]]
client_id = "{CLIENT_ID}"
secret_file = "client.secret"
redirect_uris = ["{REDIRECT}"]
"#
    );
    if second_client {
        text.push_str(&format!(
            r#"[[clients]]
client_id = "{SECOND_ID}"
secret_env = "SECOND_CLIENT_SECRET"
redirect_uris = ["{REDIRECT}"]
"#
        ));
    }
    let path = dir.join("broker.toml");
    // Write then rename, as config management tools do, so a reload never reads half a file.
    let tmp = dir.join("broker.toml.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    path
}

fn form(client_id: &str, code: &str, verifier: &str) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "authorization_code".into()),
        ("client_id", client_id.into()),
        ("code", code.into()),
        ("redirect_uri", REDIRECT.into()),
        ("code_verifier", verifier.into()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_file_and_logs_carry_no_secret() {
    let emu = genesys_emulator::start(EmulatorConfig {
        clients: vec![
            ClientRegistration {
                client_id: CLIENT_ID.into(),
                secret: Some(CLIENT_SECRET.into()),
                redirect_uris: vec![REDIRECT.into()],
            },
            ClientRegistration {
                client_id: SECOND_ID.into(),
                secret: Some(SECOND_SECRET.into()),
                redirect_uris: vec![REDIRECT.into()],
            },
        ],
        auto_approve: true,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let upstream = format!("{}/oauth/token", emu.urls().login);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("current.key"),
        STANDARD.encode(rand::random::<[u8; 32]>()),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("client.secret"),
        format!("{CLIENT_SECRET}\n"),
    )
    .unwrap();
    let config = write_config(dir.path(), &upstream, false);

    let broker = Broker::spawn(&config);
    let listening = broker.wait_for("token broker listening", 0).await;
    let url = listening["url"].as_str().unwrap().to_owned();
    let http = common::http();

    // A full sign-in and a refresh through the process.
    let p = pkce();
    let code = authorize(&http, emu.urls().login.as_str(), CLIENT_ID, &p.challenge).await;
    let res = http
        .post(format!("{url}/oauth/token"))
        .form(&form(CLIENT_ID, &code, &p.verifier))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let tokens: Value = res.json().await.unwrap();
    let envelope = tokens["refresh_token"].as_str().unwrap().to_owned();
    let res = http
        .post(format!("{url}/oauth/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("refresh_token", &envelope),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let refreshed: Value = res.json().await.unwrap();

    // The second client is unknown...
    let p2 = pkce();
    let code2 = authorize(&http, emu.urls().login.as_str(), SECOND_ID, &p2.challenge).await;
    let res = http
        .post(format!("{url}/oauth/token"))
        .form(&form(SECOND_ID, &code2, &p2.verifier))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // ...until the file names it and the process gets SIGHUP.
    write_config(dir.path(), &upstream, true);
    let mark = broker.line_count();
    broker.signal("HUP");
    let reloaded = broker.wait_for("configuration reloaded", mark).await;
    assert_eq!(reloaded["clients"], 2);
    let res = http
        .post(format!("{url}/oauth/token"))
        .form(&form(SECOND_ID, &code2, &p2.verifier))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let ready: Value = http
        .get(format!("{url}/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["config_generation"], 2);

    // A broken file on SIGHUP keeps the configuration in force.
    std::fs::write(&config, "this is not toml = = =").unwrap();
    let mark = broker.line_count();
    broker.signal("HUP");
    let failed = broker
        .wait_for(
            "reload failed; the previous configuration stays in force",
            mark,
        )
        .await;
    assert_eq!(failed["level"], "ERROR");
    let ready: Value = http
        .get(format!("{url}/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["clients"], 2);

    // SIGTERM: a clean stop.
    let mut broker = broker;
    broker.signal("TERM");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = broker.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
    broker.wait_for("token broker stopped", 0).await;

    // Every line is JSON, and none carries a secret.
    let output = broker.output();
    for line in output.lines() {
        assert!(
            serde_json::from_str::<Value>(line).is_ok(),
            "not JSON: {line}"
        );
    }
    let mut secrets = common::Control::new(&emu).secrets().await;
    secrets.retain(|s| s.len() >= 8);
    secrets.extend([
        CLIENT_SECRET.to_owned(),
        SECOND_SECRET.to_owned(),
        envelope,
        refreshed["refresh_token"].as_str().unwrap().to_owned(),
        std::fs::read_to_string(dir.path().join("current.key")).unwrap(),
    ]);
    assert_no_secret("the broker's output", &output, &secrets);
}

async fn authorize(
    http: &reqwest::Client,
    login: &str,
    client_id: &str,
    challenge: &str,
) -> String {
    let mut url = url::Url::parse(&format!("{login}/oauth/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("response_type", "code")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    let res = http.get(url).send().await.unwrap();
    let location = res.headers()["location"].to_str().unwrap();
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

#[test]
fn check_prints_a_summary_without_secrets_and_fails_on_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("k"),
        STANDARD.encode(rand::random::<[u8; 32]>()),
    )
    .unwrap();
    let run = |envs: &[(&str, &str)]| {
        let mut cmd = Command::new(BIN);
        cmd.arg("check");
        for (name, _) in std::env::vars() {
            if name.starts_with("AGENT_SHELL_BROKER_") {
                cmd.env_remove(name);
            }
        }
        cmd.envs(envs.iter().copied()).output().unwrap()
    };
    let key = dir.path().join("k");
    let good = [
        (
            "AGENT_SHELL_BROKER_UPSTREAM_TOKEN_URL",
            "https://login.mypurecloud.ie/oauth/token",
        ),
        ("AGENT_SHELL_BROKER_KEY_FILE", key.to_str().unwrap()),
        ("AGENT_SHELL_BROKER_CLIENT_ID", "abc"),
        ("AGENT_SHELL_BROKER_CLIENT_SECRET", CLIENT_SECRET),
        ("AGENT_SHELL_BROKER_CLIENT_REDIRECT_URIS", REDIRECT),
    ];
    let out = run(&good);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("client abc"), "{stdout}");
    assert!(!stdout.contains(CLIENT_SECRET));

    let out = run(&good[..2]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no OAuth client"), "{stderr}");

    let key_out = Command::new(BIN).arg("generate-key").output().unwrap();
    assert!(key_out.status.success());
    let key = STANDARD
        .decode(String::from_utf8(key_out.stdout).unwrap().trim())
        .unwrap();
    assert_eq!(key.len(), 32);
}
