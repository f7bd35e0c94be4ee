//! Key rotation across replicas during a rolling deploy: the documented two-phase order (new
//! key as previous everywhere, then as current) never leaves a replica unable to open what
//! another one sealed; the one-step order does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use agent_shell_broker::{RunningBroker, SealingKey, SealingKeys};
use common::*;
use genesys_emulator::RunningEmulator;
use reqwest::StatusCode;
use serde_json::Value;

struct Replicas {
    emu: RunningEmulator,
    http: reqwest::Client,
}

impl Replicas {
    async fn start(&self, keys: &SealingKeys) -> RunningBroker {
        let mut config = broker_config(&self.emu, keys.current.clone());
        config.keys = keys.clone();
        agent_shell_broker::start(config).await.unwrap()
    }

    async fn reload(&self, broker: &RunningBroker, keys: &SealingKeys) {
        let mut config = broker_config(&self.emu, keys.current.clone());
        config.keys = keys.clone();
        broker.reload(config).await.unwrap();
    }

    async fn refresh(&self, broker: &RunningBroker, envelope: &str) -> (StatusCode, Value) {
        let res = self
            .http
            .post(broker.token_url())
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", CLIENT_ID),
                ("refresh_token", envelope),
            ])
            .send()
            .await
            .unwrap();
        (res.status(), res.json().await.unwrap())
    }

    /// Refreshes at `broker`, which must succeed; the new envelope.
    async fn renew(&self, broker: &RunningBroker, envelope: &str) -> String {
        let (status, body) = self.refresh(broker, envelope).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["refresh_token"].as_str().unwrap().to_owned()
    }
}

async fn sign_in(r: &Replicas, broker: &RunningBroker) -> String {
    // Authorize at the emulator (auto-approved), exchange the code at `broker`.
    let p = pkce();
    let code = {
        let mut url = url::Url::parse(&format!("{}/oauth/authorize", r.emu.urls().login)).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", CLIENT_ID)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("response_type", "code")
            .append_pair("code_challenge", &p.challenge)
            .append_pair("code_challenge_method", "S256");
        let res = r.http.get(url).send().await.unwrap();
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        url::Url::parse(&location)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    let res = r
        .http
        .post(broker.token_url())
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &p.verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    body["refresh_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn two_phase_rotation_never_strands_an_envelope_mid_deploy() {
    let r = Replicas {
        emu: emulator().await,
        http: http(),
    };
    let old = SealingKey::generate();
    let new = SealingKey::generate();
    let only_old = SealingKeys::new(old.clone());
    let phase_1 = SealingKeys::new(old.clone()).with_previous(new.clone());
    let phase_2 = SealingKeys::new(new.clone()).with_previous(old.clone());
    let phase_3 = SealingKeys::new(new.clone());
    let a = r.start(&only_old).await;
    let b = r.start(&only_old).await;
    let mut envelope = sign_in(&r, &a).await;

    // Phase 1, rolling: A knows the new key (as previous), B not yet. Nothing seals with it.
    r.reload(&a, &phase_1).await;
    envelope = r.renew(&b, &envelope).await;
    envelope = r.renew(&a, &envelope).await;
    r.reload(&b, &phase_1).await;

    // Phase 2, rolling: A seals with the new key; B (new key as previous) still opens it.
    r.reload(&a, &phase_2).await;
    envelope = r.renew(&a, &envelope).await;
    assert!(envelope.starts_with(&format!("asb1.{}.", new.id())));
    envelope = r.renew(&b, &envelope).await;
    envelope = r.renew(&a, &envelope).await;
    r.reload(&b, &phase_2).await;
    envelope = r.renew(&b, &envelope).await;
    assert!(envelope.starts_with(&format!("asb1.{}.", new.id())));

    // Phase 3, rolling: the old key goes.
    r.reload(&a, &phase_3).await;
    envelope = r.renew(&b, &envelope).await;
    envelope = r.renew(&a, &envelope).await;
    r.reload(&b, &phase_3).await;
    r.renew(&b, &envelope).await;
}

#[tokio::test]
async fn one_step_rotation_strands_envelopes_on_replicas_not_yet_updated() {
    let r = Replicas {
        emu: emulator().await,
        http: http(),
    };
    let old = SealingKey::generate();
    let new = SealingKey::generate();
    let a = r.start(&SealingKeys::new(old.clone())).await;
    let b = r.start(&SealingKeys::new(old.clone())).await;
    let envelope = sign_in(&r, &a).await;
    // The new key as current on A only: A seals with a key B has never seen.
    r.reload(&a, &SealingKeys::new(new).with_previous(old))
        .await;
    let envelope = r.renew(&a, &envelope).await;
    let (status, body) = r.refresh(&b, &envelope).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("rotated"));
}
