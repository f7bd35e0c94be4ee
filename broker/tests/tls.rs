//! Serving HTTPS natively (rustls), and picking up a renewed certificate on reload. Needs the
//! `openssl` command to make throwaway certificates; without it the test says so and passes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use agent_shell_broker::{SealingKey, TlsFiles};

/// A self-signed certificate for 127.0.0.1 in `dir`, named `name`; `None` without openssl.
fn certificate(dir: &Path, name: &str) -> Option<TlsFiles> {
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args([
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=agent-shell-broker test",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        // An end-entity certificate: webpki refuses a CA certificate as a server's.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .ok()?;
    status.status.success().then_some(TlsFiles {
        cert_file: cert,
        key_file: key,
    })
}

fn client_trusting(cert: &PathBuf) -> reqwest::Client {
    let pem = std::fs::read(cert).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .tls_built_in_root_certs(false)
        .build()
        .unwrap()
}

#[tokio::test]
async fn serves_https_and_reloads_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (Some(first), Some(second)) = (
        certificate(dir.path(), "first"),
        certificate(dir.path(), "second"),
    ) else {
        eprintln!("skipped: the openssl command is not available to make test certificates");
        return;
    };
    let emu = common::emulator().await;
    let mut config = common::broker_config(&emu, SealingKey::generate());
    config.tls = Some(first.clone());
    let broker = agent_shell_broker::start(config.clone()).await.unwrap();
    assert!(
        broker.url().starts_with("https://127.0.0.1:"),
        "{}",
        broker.url()
    );

    let healthz = format!("{}/healthz", broker.url());
    let res = client_trusting(&first.cert_file)
        .get(&healthz)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    // Plain HTTP on the TLS port gets nowhere.
    let plain = format!("http://{}/healthz", broker.local_addr());
    assert!(common::http().get(&plain).send().await.is_err());

    config.tls = Some(second.clone());
    broker.reload(config).await.unwrap();
    let res = client_trusting(&second.cert_file)
        .get(&healthz)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    assert!(client_trusting(&first.cert_file)
        .get(&healthz)
        .send()
        .await
        .is_err());

    // A missing certificate file is a clear start-up error.
    let mut bad = common::broker_config(&emu, SealingKey::generate());
    bad.tls = Some(TlsFiles {
        cert_file: dir.path().join("missing.crt"),
        key_file: second.key_file,
    });
    let err = agent_shell_broker::start(bad).await.unwrap_err();
    assert!(err.to_string().contains("missing.crt"), "{err}");
}
