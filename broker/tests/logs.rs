//! No secret in any response or log line. Alone in its test binary: it installs the global
//! tracing subscriber, so every task on every thread logs into its capture.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use agent_shell_test_kit::{FaultExt, FaultKind};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::*;

#[tokio::test]
async fn no_secret_in_any_response_or_log_line() {
    let logs = LogCapture::install_global();
    let h = Harness::start_with(|mut c| {
        c.upstream_timeout = Duration::from_millis(800);
        c
    })
    .await;

    // A bit of everything: sign-ins, refreshes, failures of each kind.
    let first = h.sign_in().await;
    let mut envelopes = vec![first.refresh_token()];
    let mut access = vec![first.access_token()];
    let r = h.refresh(&envelopes[0]).await;
    envelopes.push(r.refresh_token());
    access.push(r.access_token());
    h.control.fault(FaultKind::ServerError).await;
    h.refresh(&envelopes[1]).await;
    h.control.fault(FaultKind::Hang.secs(30)).await;
    h.refresh(&envelopes[1]).await;
    h.control.fault(FaultKind::InvalidGrant).await;
    h.refresh(&envelopes[1]).await;
    h.refresh(&envelopes[0]).await; // replay: upstream invalid_grant
    let p = pkce();
    let code = h.code(LOOPBACK_REDIRECT, &p.challenge).await;
    h.exchange(&code, LOOPBACK_REDIRECT, &p.verifier).await;
    h.post(&[("grant_type", "refresh_token"), ("client_id", "nobody")])
        .await;
    h.refresh("not-an-envelope").await;
    let res = h
        .http
        .post(h.broker.token_url())
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap();
    h.record(res).await;

    let mut secrets = h.secrets().await;
    secrets.extend(envelopes.iter().cloned());
    secrets.extend(access.iter().cloned());
    secrets.push(code.clone());
    secrets.push(p.verifier.clone());
    // The HTTP Basic value the broker sends upstream.
    secrets.push(STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));

    let responses = h.seen.all();
    assert_no_secret("a response", &responses, &[CLIENT_SECRET.to_owned()]);
    // Everything logged except the emulator's own lines (it is the upstream, not the broker).
    let broker_lines: Vec<String> = logs
        .text()
        .lines()
        .filter(|l| !l.contains("\"target\":\"genesys_emulator"))
        .map(str::to_owned)
        .collect();
    let text = broker_lines.join("\n");
    assert!(
        text.contains("\"message\":\"token request\""),
        "no token request lines: {text}"
    );
    assert_no_secret("the log", &text, &secrets);

    let token_lines: Vec<serde_json::Value> = logs
        .lines()
        .into_iter()
        .filter(|l| l["message"] == "token request")
        .collect();
    assert!(
        token_lines.len() >= 10,
        "{}: {}",
        token_lines.len(),
        logs.text()
    );
    let outcomes: Vec<String> = token_lines
        .iter()
        .map(|l| format!("{} {}", l["status"], l["error"]))
        .collect();
    for expected in [
        "200 null",
        "500 \"upstream:server_error\"",
        "503 \"upstream_timeout\"",
        "400 \"upstream:invalid_grant\"",
        "400 \"invalid_grant\"",
        "401 \"invalid_client\"",
        "400 \"invalid_grant:not_an_envelope\"",
    ] {
        assert!(
            outcomes.iter().any(|o| o == expected),
            "{expected} not in {outcomes:?}"
        );
    }
    let ok = token_lines.iter().find(|l| l["status"] == 200).unwrap();
    assert_eq!(ok["client_id"], CLIENT_ID);
    assert!(ok["latency_ms"].as_f64().is_some());
    assert!(ok["upstream_ms"].as_f64().is_some());
}
