//! Abuse the broker must withstand: rotating IPv6 addresses, a spoofed client-IP header, junk
//! code grants spending the org's upstream quota, idle HTTP/2 connections, too many
//! connections, and a passphrase given as a sealing key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use agent_shell_broker::{BrokerConfig, ConfigError, RateLimit, UpstreamBudget};
use axum::http::HeaderName;
use common::*;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn rate(per_second: u32, burst: u32) -> RateLimit {
    RateLimit {
        per_second: NonZeroU32::new(per_second).unwrap(),
        burst: NonZeroU32::new(burst).unwrap(),
        ..RateLimit::default()
    }
}

/// A junk code grant of the right shape (so it is not refused locally), from `client_ip` as the
/// proxy says.
async fn junk_grant(h: &Harness, forwarded_for: &str) -> Reply {
    let res = h
        .http
        .post(h.broker.token_url())
        .header("x-forwarded-for", forwarded_for)
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("code", "junk-code"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &pkce().verifier),
        ])
        .send()
        .await
        .unwrap();
    h.record(res).await
}

#[tokio::test]
async fn two_hundred_rotating_addresses_in_one_ipv6_64_are_limited() {
    // The test's requests come from 127.0.0.1, a trusted proxy saying who the client is.
    let h = Harness::start_with(|mut c| {
        c.rate_limit = Some(RateLimit {
            client_ip_header: Some(HeaderName::from_static("x-forwarded-for")),
            trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
            ..rate(1, 10)
        });
        c
    })
    .await;
    let before = h.control.count("token_requests").await;
    let mut limited = 0;
    for i in 0..200u32 {
        let address = format!("2001:db8:17:42:{:x}:{:x}::1", i >> 4, (i * 7919) & 0xffff);
        let r = junk_grant(&h, &address).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(r.error(), "temporarily_unavailable");
            assert!(r.retry_after().is_some_and(|s| s >= 1));
            limited += 1;
        }
    }
    // The burst, plus at most a few refills while the loop ran.
    assert!(limited >= 185, "only {limited} of 200 limited");
    let forwarded = h.control.count("token_requests").await - before;
    assert!(forwarded <= 15, "{forwarded} junk grants reached upstream");

    // Another /64 (and an IPv4 client) have buckets of their own.
    let r = junk_grant(&h, "2001:db8:17:43::1").await;
    assert_ne!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    let r = junk_grant(&h, "192.0.2.1").await;
    assert_ne!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
}

#[tokio::test]
async fn a_client_ip_header_from_an_untrusted_peer_is_ignored() {
    // Only 10.0.0.0/8 may set the header; the test connects from 127.0.0.1 (as an attacker
    // reaching the broker around the proxy would).
    let h = Harness::start_with(|mut c| {
        c.rate_limit = Some(RateLimit {
            client_ip_header: Some(HeaderName::from_static("x-forwarded-for")),
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            ..rate(1, 5)
        });
        c
    })
    .await;
    let mut statuses = Vec::new();
    for i in 0..8 {
        let r = junk_grant(&h, &format!("198.51.100.{i}")).await;
        statuses.push(r.status);
    }
    // Every spoofed address landed in the peer's one bucket: the burst, then 429.
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(limited >= 2, "{statuses:?}");
    assert_ne!(statuses[0], StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_client_ip_header_needs_trusted_proxies() {
    let emu = emulator().await;
    let mut config = broker_config(&emu, agent_shell_broker::SealingKey::generate());
    config.rate_limit = Some(RateLimit {
        client_ip_header: Some(HeaderName::from_static("x-forwarded-for")),
        ..RateLimit::default()
    });
    let err = agent_shell_broker::start(config).await.unwrap_err();
    assert!(err.to_string().contains("trusted_proxies"), "{err}");
}

#[tokio::test]
async fn the_upstream_budget_holds_and_junk_cannot_spend_the_refreshes() {
    let h = Harness::start_with(|mut c| {
        c.upstream_budget = Some(UpstreamBudget {
            per_minute: NonZeroU32::new(1).unwrap(),
            burst: NonZeroU32::new(3).unwrap(),
        });
        c
    })
    .await;
    // One honest sign-in spends one of the three code grants.
    let envelope = h.sign_in().await.refresh_token();
    let before = h.control.count("token_requests").await;
    let mut limited = 0;
    for i in 0..20 {
        // Every junk grant from its own address: the per-IP limit (off here) is not what holds.
        let r = junk_grant(&h, &format!("203.0.113.{i}")).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(r.error(), "temporarily_unavailable");
            assert!(r.retry_after().is_some_and(|s| s >= 1));
            limited += 1;
        } else {
            assert_eq!(r.error(), "invalid_grant", "{}", r.body);
        }
    }
    assert_eq!(limited, 18);
    assert_eq!(h.control.count("token_requests").await - before, 2);
    // Refreshes have a budget of their own.
    let r = h.refresh(&envelope).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // A malformed verifier never spends budget or reaches upstream.
    let before = h.control.count("token_requests").await;
    let r = h
        .post(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("code", "junk"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", "short"),
        ])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error(), "invalid_request");
    assert_eq!(h.control.count("token_requests").await, before);
}

/// Reads HTTP/2 frames until the server hangs up; the frame types seen, and when it hung up.
/// Answers the server's SETTINGS and PINGs as a live client does.
async fn read_frames(stream: &mut TcpStream) -> (Vec<u8>, Instant, Option<Instant>) {
    let mut types = Vec::new();
    let mut first_data = None;
    loop {
        let mut head = [0u8; 9];
        if stream.read_exact(&mut head).await.is_err() {
            return (types, Instant::now(), first_data);
        }
        let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
        let (kind, flags) = (head[3], head[4]);
        let mut payload = vec![0u8; len];
        if stream.read_exact(&mut payload).await.is_err() {
            return (types, Instant::now(), first_data);
        }
        types.push(kind);
        match (kind, flags & 1) {
            (0, _) if first_data.is_none() => first_data = Some(Instant::now()),
            (4, 0) => {
                let _ = stream.write_all(&[0, 0, 0, 4, 1, 0, 0, 0, 0]).await;
            }
            (6, 0) => {
                let mut ack = vec![0, 0, 8, 6, 1, 0, 0, 0, 0];
                ack.extend_from_slice(&payload);
                let _ = stream.write_all(&ack).await;
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_timeout_http2_and_http1() {
    let idle = Duration::from_millis(400);
    let h = Harness::start_with(move |mut c| {
        c.connections.idle_timeout = idle;
        c.connections.h2_keepalive_interval = Some(Duration::from_millis(100));
        c.connections.h2_keepalive_timeout = Duration::from_secs(5);
        c
    })
    .await;

    // h2c with prior knowledge: preface, empty SETTINGS, one GET /healthz.
    let mut h2 = TcpStream::connect(h.broker.local_addr()).await.unwrap();
    let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    hello.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    let mut block = vec![0x82, 0x86, 0x44, 8];
    block.extend_from_slice(b"/healthz");
    block.extend_from_slice(&[0x41, 9]);
    block.extend_from_slice(b"localhost");
    let len = u8::try_from(block.len()).unwrap();
    hello.extend_from_slice(&[0, 0, len, 1, 0x5, 0, 0, 0, 1]);
    hello.extend_from_slice(&block);
    h2.write_all(&hello).await.unwrap();
    let (types, closed, answered) =
        tokio::time::timeout(Duration::from_secs(10), read_frames(&mut h2))
            .await
            .expect("the idle HTTP/2 connection was not closed");
    let answered = answered.expect("no answer to the request");
    assert!(types.contains(&1), "no HEADERS answer: {types:?}");
    assert!(types.contains(&6), "no keep-alive PING: {types:?}");
    assert!(types.contains(&7), "closed without GOAWAY: {types:?}");
    let quiet = closed - answered;
    // Answering every ping did not keep it open.
    assert!(quiet >= idle - Duration::from_millis(50), "{quiet:?}");
    assert!(quiet < idle + Duration::from_secs(3), "{quiet:?}");

    // HTTP/1.1 keep-alive: answered, then closed once idle.
    let mut h1 = TcpStream::connect(h.broker.local_addr()).await.unwrap();
    h1.write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut all = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), h1.read_to_end(&mut all))
        .await
        .expect("the idle HTTP/1.1 connection was not closed")
        .ok();
    assert!(String::from_utf8_lossy(&all).starts_with("HTTP/1.1 200"));
    assert!(started.elapsed() >= idle - Duration::from_millis(50));
}

#[tokio::test]
async fn connections_over_the_cap_are_closed_at_once() {
    let h = Harness::start_with(|mut c| {
        c.connections.max_connections = 2;
        c
    })
    .await;
    let addr = h.broker.local_addr();
    let first = TcpStream::connect(addr).await.unwrap();
    let _second = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(2), third.read(&mut buf))
        .await
        .expect("the connection over the cap was kept open");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");

    // A slot that frees up is usable again.
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = TcpStream::connect(addr).await.unwrap();
    again
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut all = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), again.read_to_end(&mut all))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&all).starts_with("HTTP/1.1 200"));
}

#[test]
fn a_passphrase_key_file_is_refused_naming_the_file_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("passphrase.key");
    std::fs::write(&key, "correct horse battery staple 123").unwrap();
    let env = |name: &str| match name {
        "AGENT_SHELL_BROKER_UPSTREAM_TOKEN_URL" => {
            Some("https://login.mypurecloud.ie/oauth/token".to_owned())
        }
        "AGENT_SHELL_BROKER_KEY_FILE" => Some(key.to_str().unwrap().to_owned()),
        "AGENT_SHELL_BROKER_CLIENT_ID" => Some("abc".to_owned()),
        "AGENT_SHELL_BROKER_CLIENT_SECRET" => Some("s".to_owned()),
        "AGENT_SHELL_BROKER_CLIENT_REDIRECT_URIS" => Some(REDIRECT.to_owned()),
        _ => None,
    };
    let err = BrokerConfig::load_with_env(None, env).unwrap_err();
    assert!(matches!(err, ConfigError::Key { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("passphrase.key"), "{text}");
    assert!(text.contains("passphrase"), "{text}");
    assert!(text.contains("openssl rand -base64 32"), "{text}");
    assert!(!text.contains("horse"), "{text}");

    // Any other length too; a random key in base64 is fine.
    std::fs::write(&key, "c2hvcnQ=").unwrap();
    let err = BrokerConfig::load_with_env(None, env).unwrap_err();
    assert!(err.to_string().contains("5 bytes"), "{err}");
    std::fs::write(&key, "d1W1v0tq8mYqXEeTqW9uTg8tJqk0nq7i3rfJ3o1m2l8=").unwrap();
    BrokerConfig::load_with_env(None, env).unwrap();
}
