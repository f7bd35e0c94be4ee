//! "Network like the OS": a token request through an authenticating CONNECT proxy on loopback,
//! to a TLS server standing in for the token endpoint whose certificate a TLS-inspection CA
//! signed. The CA is trusted through a *test* trust store (`SSL_CERT_FILE`, which the OS
//! verifier reads on Linux instead of the system bundle); the real store is never touched.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use agent_shell_core::config::{parse_str, ShellConfig};
use agent_shell_core::oauth::{TokenClient, TokenError};
use agent_shell_core::platform::keychain::MemoryStore;
use agent_shell_core::secret::RefreshToken;
use agent_shell_core::support::doctor::{self, Status};
use base64::Engine;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const USER: &str = "agent-proxy";
const PASSWORD: &str = "pr0xy-s3cret";
const TRUSTED_ROOT: &str = "Corp TLS Inspection Root CA";
const UNTRUSTED_ROOT: &str = "Unknown Inspection Root";

struct Pki {
    trusted: CertifiedIssuer<'static, KeyPair>,
    untrusted: CertifiedIssuer<'static, KeyPair>,
    _store: tempfile::TempDir,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Example Corp IT");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// The two CAs, and a trust store holding only the first, set up once before any client is
/// built (every test calls this first, so nothing reads the environment while it changes).
fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let trusted = ca(TRUSTED_ROOT);
        let untrusted = ca(UNTRUSTED_ROOT);
        let store = tempfile::tempdir().unwrap();
        let bundle = store.path().join("ca-bundle.pem");
        std::fs::write(&bundle, trusted.pem()).unwrap();
        std::env::set_var("SSL_CERT_FILE", &bundle);
        std::env::remove_var("SSL_CERT_DIR");
        for var in [
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            std::env::remove_var(var);
        }
        Pki {
            trusted,
            untrusted,
            _store: store,
        }
    })
}

/// A TLS server on loopback answering every request with a token response, its certificate
/// for localhost signed by `issuer`.
async fn token_server(issuer: &CertifiedIssuer<'static, KeyPair>) -> u16 {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, issuer).unwrap();
    let chain = vec![cert.der().clone()];
    let key_der = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key_der)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                if read_head(&mut tls).await.is_none() {
                    return;
                }
                let body = r#"{"access_token":"new-access","token_type":"bearer","expires_in":3600,"refresh_token":"new-refresh"}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

/// Reads a request head (and a short body, which is all the token request has).
async fn read_head<S: AsyncReadExt + Unpin>(stream: &mut S) -> Option<String> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_string();
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            while buffer.len() < end + 4 + length {
                let n = stream.read(&mut chunk).await.ok()?;
                if n == 0 {
                    break;
                }
                buffer.extend_from_slice(&chunk[..n]);
            }
            return Some(head);
        }
    }
}

/// An HTTP CONNECT proxy on loopback that requires Basic credentials; counts the tunnels it
/// opened.
async fn connect_proxy() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tunnels = Arc::new(AtomicUsize::new(0));
    let counter = tunnels.clone();
    let expected = format!(
        "basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
    );
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let counter = counter.clone();
            let expected = expected.clone();
            tokio::spawn(async move {
                let Some(head) = read_head(&mut client).await else {
                    return;
                };
                let mut lines = head.lines();
                let request = lines.next().unwrap_or_default().to_string();
                let authorized = lines.any(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("proxy-authorization:")
                        .is_some_and(|v| v.trim().eq_ignore_ascii_case(&expected))
                });
                let mut parts = request.split_whitespace();
                let (Some("CONNECT"), Some(target)) = (parts.next(), parts.next()) else {
                    let _ = client
                        .write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
                        .await;
                    return;
                };
                if !authorized {
                    let _ = client
                        .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"corp\"\r\ncontent-length: 0\r\n\r\n")
                        .await;
                    return;
                }
                let Ok(mut upstream) = TcpStream::connect(target).await else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                    return;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                if client
                    .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                    .await
                    .is_ok()
                {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            });
        }
    });
    (port, tunnels)
}

fn config(server_port: u16, proxy: &str) -> ShellConfig {
    let base = format!("https://localhost:{server_port}");
    parse_str(&format!(
        "client_id = \"agent-shell-test\"\n[network]\nproxy = \"{proxy}\"\n[local_emulator]\nlogin = \"{base}\"\napi = \"{base}\"\nmedia = \"{base}\"\n"
    ))
    .unwrap()
}

async fn refresh(config: &ShellConfig) -> Result<(), TokenError> {
    let client = TokenClient::new(config, &config.refresh)?;
    client
        .refresh(&RefreshToken::new("old-refresh"))
        .await
        .map(|set| assert_eq!(set.access_token.expose(), "new-access"))
}

async fn login_host_check(config: &ShellConfig) -> doctor::Check {
    doctor::network_checks(config, Arc::new(MemoryStore::default()))
        .await
        .into_iter()
        .find(|c| c.id == "network.login_host")
        .unwrap()
}

#[tokio::test]
async fn a_token_request_succeeds_through_the_proxy_with_the_inspection_ca_trusted() {
    let pki = pki();
    let server = token_server(&pki.trusted).await;
    let (proxy, tunnels) = connect_proxy().await;
    let config = config(
        server,
        &format!("http://{USER}:{PASSWORD}@127.0.0.1:{proxy}"),
    );
    refresh(&config).await.unwrap();
    assert!(
        tunnels.load(Ordering::SeqCst) >= 1,
        "the request did not go through the proxy"
    );

    let check = login_host_check(&config).await;
    assert_eq!(check.status, Status::Pass, "{check:?}");
    assert!(
        check
            .evidence
            .contains(&format!("via proxy http://***@127.0.0.1:{proxy}")),
        "{check:?}"
    );
    assert!(!format!("{check:?} {config:?}").contains(PASSWORD));
}

#[tokio::test]
async fn an_untrusted_inspection_ca_fails_with_a_tls_error_naming_the_issuer() {
    let pki = pki();
    let server = token_server(&pki.untrusted).await;
    let (proxy, _) = connect_proxy().await;
    let config = config(
        server,
        &format!("http://{USER}:{PASSWORD}@127.0.0.1:{proxy}"),
    );
    let error = refresh(&config).await.unwrap_err();
    let TokenError::Network(text) = &error else {
        panic!("not a network error: {error:?}");
    };
    assert!(text.contains("UnknownIssuer"), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");

    let check = login_host_check(&config).await;
    assert_eq!(check.status, Status::Fail, "{check:?}");
    assert!(check.evidence.contains("TLS failed"), "{check:?}");
    assert!(check.evidence.contains(UNTRUSTED_ROOT), "{check:?}");
    assert!(
        check.evidence.contains("not trusted by this machine"),
        "{check:?}"
    );
    let fix = check.fix.clone().unwrap();
    assert!(fix.contains("install it in the OS trust store"), "{fix}");
    assert!(fix.contains(UNTRUSTED_ROOT), "{fix}");
    assert!(!format!("{check:?}").contains(PASSWORD), "{check:?}");
}

#[tokio::test]
async fn a_wrong_proxy_password_is_a_proxy_authentication_error() {
    let pki = pki();
    let server = token_server(&pki.trusted).await;
    let (proxy, tunnels) = connect_proxy().await;
    let config = config(
        server,
        &format!("http://{USER}:wrong-password@127.0.0.1:{proxy}"),
    );
    let error = refresh(&config).await.unwrap_err();
    let TokenError::Network(text) = &error else {
        panic!("not a network error: {error:?}");
    };
    assert!(text.contains("proxy authorization required"), "{text}");
    assert!(!text.contains("wrong-password"), "{text}");
    assert_eq!(tunnels.load(Ordering::SeqCst), 0);

    let check = login_host_check(&config).await;
    assert_eq!(check.status, Status::Fail, "{check:?}");
    assert!(check.evidence.contains("HTTP 407"), "{check:?}");
    assert!(
        check.fix.as_deref().unwrap().contains("proxy credentials"),
        "{check:?}"
    );
    // A proxy-auth failure is not blamed on certificates.
    assert!(
        !check.fix.as_deref().unwrap().contains("trust store"),
        "{check:?}"
    );
    assert!(
        !format!("{check:?}").contains("wrong-password"),
        "{check:?}"
    );
}

#[tokio::test]
async fn direct_bypasses_the_proxy_and_still_uses_the_trust_store() {
    let pki = pki();
    let server = token_server(&pki.trusted).await;
    let config = config(server, "direct");
    refresh(&config).await.unwrap();
    let check = login_host_check(&config).await;
    assert!(check.evidence.contains("via direct"), "{check:?}");
}
