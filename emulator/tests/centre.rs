//! The contact centre: Platform API routes, the notifications websocket and the control API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use agent_shell_test_kit::Ring;
use common::*;
use futures_util::{SinkExt, StreamExt};
use genesys_emulator::{EmulatorConfig, REQUIRED_SCOPES};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Agent<'a> {
    emu: &'a Emu,
    token: String,
    id: String,
}

impl Agent<'_> {
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
        let mut req = self
            .emu
            .http
            .request(method, format!("{}{path}", self.emu.api()))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.unwrap()
    }

    async fn get(&self, path: &str) -> Value {
        let res = self.send(Method::GET, path, None).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        res.json().await.unwrap()
    }

    async fn status(&self, method: Method, path: &str, body: Value) -> StatusCode {
        self.send(method, path, Some(body)).await.status()
    }

    async fn presence_id(&self, system: &str) -> String {
        let defs = self.get("/api/v2/presencedefinitions?pageSize=100").await;
        defs["entities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["systemPresence"] == system)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn set_presence(&self, system: &str) {
        let id = self.presence_id(system).await;
        let path = format!("/api/v2/users/{}/presences/purecloud", self.id);
        let res = self
            .send(
                Method::PATCH,
                &path,
                Some(json!({"presenceDefinition": {"id": id}})),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["presenceDefinition"]["systemPresence"], system);
    }

    async fn routing(&self) -> String {
        let v = self
            .get(&format!("/api/v2/users/{}/routingstatus", self.id))
            .await;
        v["status"].as_str().unwrap().to_owned()
    }

    /// Rings an inbound call from Pat Caller with `attributes`; its conversation id.
    async fn ring(&self, attributes: &[(&str, &str)]) -> String {
        let call = attributes.iter().fold(
            Ring::from("+15551230000").caller("Pat Caller"),
            |call, (name, value)| call.attribute(name, value),
        );
        self.emu.control.ring(&call).await
    }

    async fn call(&self, id: &str) -> Value {
        self.get(&format!("/api/v2/conversations/calls/{id}")).await
    }

    async fn agent_participant(&self, id: &str) -> (String, Value) {
        let call = self.call(id).await;
        let p = call["participants"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|p| p["purpose"] == "agent" && p["user"]["id"] == self.id.as_str())
            .unwrap()
            .clone();
        (p["id"].as_str().unwrap().to_owned(), p)
    }

    async fn patch(&self, call: &str, participant: &str, body: Value) -> StatusCode {
        let path = format!("/api/v2/conversations/calls/{call}/participants/{participant}");
        self.status(Method::PATCH, &path, body).await
    }

    async fn record(&self, id: &str) -> Value {
        self.emu.control.call_record(id).await
    }
}

async fn agent(emu: &Emu) -> Agent<'_> {
    let tokens = emu.tokens_with_scopes(&REQUIRED_SCOPES.join(" ")).await;
    Agent {
        emu,
        token: tokens["access_token"].as_str().unwrap().to_owned(),
        id: DEFAULT_USER_ID.to_owned(),
    }
}

async fn channel(agent: &Agent<'_>) -> (String, Ws) {
    let res = agent
        .send(Method::POST, "/api/v2/notifications/channels", None)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let ch: Value = res.json().await.unwrap();
    let id = ch["id"].as_str().unwrap().to_owned();
    let uri = ch["connectUri"].as_str().unwrap();
    assert_eq!(
        uri,
        format!("{}/channels/{id}", agent.emu.running.urls().streaming)
    );
    assert!(ch["expires"].as_str().unwrap().ends_with('Z'));
    let topics: Vec<Value> = ["conversations.calls", "presence", "routingStatus"]
        .iter()
        .map(|t| json!({"id": format!("v2.users.{}.{t}", agent.id)}))
        .collect();
    let path = format!("/api/v2/notifications/channels/{id}/subscriptions");
    let res = agent.send(Method::PUT, &path, Some(json!(topics))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let subs: Value = res.json().await.unwrap();
    assert_eq!(subs["entities"].as_array().unwrap().len(), 3);
    assert_eq!(agent.get(&path).await, subs);
    let (ws, _) = tokio_tungstenite::connect_async(uri).await.unwrap();
    (id, ws)
}

async fn next_event(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .unwrap();
        if let Message::Text(text) = msg {
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["topicName"] != "channel.metadata" {
                return v;
            }
        }
    }
}

#[tokio::test]
async fn presence_on_queue_and_routing_status() {
    let emu = start_default().await;
    let a = agent(&emu).await;
    let me = a
        .get("/api/v2/users/me?expand=presence,routingStatus,station,organization")
        .await;
    assert_eq!(me["id"], DEFAULT_USER_ID);
    assert_eq!(me["state"], "active");
    assert_eq!(me["username"], "agent@example.com");
    assert_eq!(
        me["presence"]["presenceDefinition"]["systemPresence"],
        "Available"
    );
    assert_eq!(me["routingStatus"]["status"], "OFF_QUEUE");
    assert_eq!(
        me["station"]["effectiveStation"]["type"],
        "inin_webrtc_softphone"
    );
    assert!(me["organization"]["id"].is_string());
    let station_id = me["station"]["effectiveStation"]["id"].as_str().unwrap();
    let station = a.get(&format!("/api/v2/stations/{station_id}")).await;
    assert_eq!(station["type"], "inin_webrtc_softphone");

    let defs = a.get("/api/v2/presencedefinitions?pageSize=100").await;
    let names: Vec<&str> = defs["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["systemPresence"].as_str().unwrap())
        .collect();
    for p in [
        "Available",
        "Away",
        "Break",
        "Meal",
        "Meeting",
        "Training",
        "Busy",
        "On Queue",
        "Offline",
    ] {
        assert!(names.contains(&p), "{p}");
    }
    assert_eq!(defs["entities"][0]["languageLabels"]["en_US"], "Available");

    a.set_presence("On Queue").await;
    assert_eq!(a.routing().await, "IDLE");
    a.set_presence("Break").await;
    assert_eq!(a.routing().await, "OFF_QUEUE");
    let path = format!("/api/v2/users/{}/routingstatus", a.id);
    let res = a
        .send(Method::PUT, &path, Some(json!({"status": "IDLE"})))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "IDLE");
    assert_eq!(
        a.status(Method::PUT, &path, json!({"status": "INTERACTING"}))
            .await,
        StatusCode::BAD_REQUEST
    );
    // Someone else's presence: 403; an unknown user: 404.
    let users = a.get("/api/v2/users?pageSize=10").await;
    let other = users["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] != DEFAULT_USER_ID)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({"presenceDefinition": {"id": a.presence_id("Away").await}});
    assert_eq!(
        a.status(
            Method::PATCH,
            &format!("/api/v2/users/{other}/presences/purecloud"),
            body.clone()
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        a.status(
            Method::PATCH,
            "/api/v2/users/nobody/presences/purecloud",
            body
        )
        .await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn queues_join_and_leave() {
    let emu = start_default().await;
    let a = agent(&emu).await;
    let queues = a
        .get(&format!("/api/v2/users/{}/queues?pageSize=25", a.id))
        .await;
    let list = queues["entities"].as_array().unwrap();
    assert!(list.len() >= 2);
    let q = list[0]["id"].as_str().unwrap();
    let path = format!("/api/v2/users/{}/queues/{q}", a.id);
    let res = a
        .send(Method::PATCH, &path, Some(json!({"joined": false})))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["joined"], false);
    let again = a.get(&format!("/api/v2/users/{}/queues", a.id)).await;
    assert_eq!(again["entities"][0]["joined"], false);
    let targets = a.get("/api/v2/routing/queues?pageSize=25&name=Sal").await;
    assert_eq!(targets["entities"].as_array().unwrap().len(), 1);
    assert_eq!(targets["entities"][0]["name"], "Sales");
}

#[tokio::test]
async fn inbound_call_lifecycle_with_events() {
    let emu = start_default().await;
    let a = agent(&emu).await;
    let (_channel, mut ws) = channel(&a).await;
    // Not on queue: ringing is refused unless forced.
    let refused = emu.control.try_ring(&Ring::from("+15550000")).await;
    assert!(refused.unwrap_err().starts_with("409"));

    a.set_presence("On Queue").await;
    let ev = next_event(&mut ws).await;
    assert_eq!(ev["topicName"], format!("v2.users.{}.presence", a.id));
    assert_eq!(ev["version"], "2");
    assert!(ev["metadata"]["CorrelationId"].is_string());
    assert_eq!(ev["eventBody"]["source"], "PURECLOUD");
    assert_eq!(
        ev["eventBody"]["presenceDefinition"]["systemPresence"],
        "On Queue"
    );
    let ev = next_event(&mut ws).await;
    assert_eq!(ev["topicName"], format!("v2.users.{}.routingStatus", a.id));
    assert_eq!(ev["eventBody"]["routingStatus"]["status"], "IDLE");

    let id = a.ring(&[("account", "42")]).await;
    let ev = next_event(&mut ws).await;
    assert_eq!(
        ev["topicName"],
        format!("v2.users.{}.conversations.calls", a.id)
    );
    assert_eq!(ev["eventBody"]["id"], id.as_str());
    let ev = next_event(&mut ws).await;
    assert_eq!(ev["eventBody"]["routingStatus"]["status"], "INTERACTING");

    let active = a.get("/api/v2/conversations/calls").await;
    assert_eq!(active["entities"][0]["id"], id.as_str());
    let (pid, p) = a.agent_participant(&id).await;
    assert_eq!(p["state"], "alerting");
    assert_eq!(p["direction"], "inbound");
    assert_eq!(p["attributes"]["account"], "42");
    assert!(p["queue"]["id"].is_string());
    let call = a.call(&id).await;
    assert_eq!(call["participants"][0]["purpose"], "customer");
    assert_eq!(call["participants"][0]["name"], "Pat Caller");
    assert_eq!(call["participants"][1]["purpose"], "acd");

    assert_eq!(
        a.patch(&id, &pid, json!({"state": "connected"})).await,
        StatusCode::ACCEPTED
    );
    let ev = next_event(&mut ws).await;
    let agent_p = ev["eventBody"]["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == pid.as_str())
        .unwrap()
        .clone();
    assert_eq!(agent_p["state"], "connected");
    assert_eq!(
        a.patch(&id, &pid, json!({"held": true})).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(a.agent_participant(&id).await.1["held"], true);
    assert_eq!(
        a.patch(&id, &pid, json!({"held": false})).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        a.patch(&id, &pid, json!({"muted": true})).await,
        StatusCode::ACCEPTED
    );
    let (_, p) = a.agent_participant(&id).await;
    assert_eq!(
        (p["held"].clone(), p["muted"].clone()),
        (json!(false), json!(true))
    );
    let digits = format!("/api/v2/conversations/{id}/participants/{pid}/digits");
    assert_eq!(
        a.status(Method::POST, &digits, json!({"digits": "12#"}))
            .await,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        a.status(Method::POST, &digits, json!({"digits": "12x"}))
            .await,
        StatusCode::BAD_REQUEST
    );

    assert_eq!(
        a.patch(&id, &pid, json!({"state": "disconnected"})).await,
        StatusCode::ACCEPTED
    );
    let (_, p) = a.agent_participant(&id).await;
    assert_eq!(p["state"], "disconnected");
    assert_eq!(p["wrapupRequired"], true);
    assert_eq!(a.routing().await, "INTERACTING");
    let codes: Value = a
        .get(&format!(
            "/api/v2/conversations/calls/{id}/participants/{pid}/wrapupcodes"
        ))
        .await;
    let code = codes[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        a.patch(&id, &pid, json!({"wrapup": {"code": "nope"}}))
            .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        a.patch(
            &id,
            &pid,
            json!({"wrapup": {"code": code, "notes": "all good"}})
        )
        .await,
        StatusCode::ACCEPTED
    );
    let (_, p) = a.agent_participant(&id).await;
    assert_eq!(p["state"], "terminated");
    assert_eq!(p["wrapup"]["notes"], "all good");
    assert_eq!(a.routing().await, "IDLE");
    let record = a.record(&id).await;
    assert_eq!(record["allDigits"], "12#");
    assert_eq!(record["wrapup"]["code"], code.as_str());
    assert_eq!(record["phase"], "ended");
    assert_eq!(
        a.get("/api/v2/conversations/calls").await["entities"],
        json!([])
    );

    // Events arrived in order: connected, held, resumed, muted, digits, disconnected, wrap-up.
    let mut states = Vec::new();
    for _ in 0..12 {
        let Ok(ev) = tokio::time::timeout(Duration::from_millis(500), next_event(&mut ws)).await
        else {
            break;
        };
        states.push(
            ev["topicName"]
                .as_str()
                .unwrap()
                .rsplit('.')
                .next()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(
        states.last().map(String::as_str),
        Some("routingStatus"),
        "{states:?}"
    );
}

#[tokio::test]
async fn decline_hangup_transfer_and_outbound() {
    let emu = start_default().await;
    let a = agent(&emu).await;
    a.set_presence("On Queue").await;

    let id = a.ring(&[]).await;
    let (pid, _) = a.agent_participant(&id).await;
    assert_eq!(
        a.patch(&id, &pid, json!({"state": "disconnected"})).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(a.record(&id).await["declined"], true);
    assert_eq!(a.routing().await, "IDLE");

    let id = a.ring(&[]).await;
    let hangup = format!("calls/{id}/hangup");
    let (pid, _) = a.agent_participant(&id).await;
    assert_eq!(
        a.patch(&id, &pid, json!({"state": "connected"})).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        emu.control.send(Method::POST, &hangup, None).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        emu.control.send(Method::POST, &hangup, None).await.status(),
        StatusCode::CONFLICT
    );
    let (_, p) = a.agent_participant(&id).await;
    assert_eq!(p["disconnectType"], "peer");
    assert_eq!(p["wrapupRequired"], true);
    let codes = a
        .get(&format!(
            "/api/v2/conversations/calls/{id}/participants/{pid}/wrapupcodes"
        ))
        .await;
    assert_eq!(
        a.patch(&id, &pid, json!({"wrapup": {"code": codes[0]["id"]}}))
            .await,
        StatusCode::ACCEPTED
    );

    let id = a.ring(&[]).await;
    let (pid, _) = a.agent_participant(&id).await;
    assert_eq!(
        a.patch(&id, &pid, json!({"state": "connected"})).await,
        StatusCode::ACCEPTED
    );
    let users = a.get("/api/v2/users?pageSize=25").await;
    let target = users["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] != DEFAULT_USER_ID)
        .unwrap()
        .clone();
    let replace = format!("/api/v2/conversations/calls/{id}/participants/{pid}/replace");
    assert_eq!(
        a.status(Method::POST, &replace, json!({})).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        a.status(Method::POST, &replace, json!({"userId": target["id"]}))
            .await,
        StatusCode::ACCEPTED
    );
    let record = a.record(&id).await;
    assert_eq!(record["transfer"]["userId"], target["id"]);
    let (_, p) = a.agent_participant(&id).await;
    assert_eq!(p["disconnectType"], "transfer");
    assert_eq!(p["wrapupRequired"], true);

    let res = a
        .send(
            Method::POST,
            "/api/v2/conversations/calls",
            Some(json!({"phoneNumber": "+15559876543"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let out: Value = res.json().await.unwrap();
    let out_id = out["id"].as_str().unwrap().to_owned();
    let call = a.call(&out_id).await;
    assert_eq!(call["participants"][1]["address"], "tel:+15559876543");
    assert_eq!(call["participants"][0]["direction"], "outbound");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let call = a.call(&out_id).await;
    assert_eq!(call["participants"][0]["state"], "connected");
}

#[tokio::test]
async fn websocket_ping_heartbeat_and_revocation() {
    let emu = start(EmulatorConfig {
        heartbeat_interval: Duration::from_millis(300),
        ..EmulatorConfig::default()
    })
    .await;
    let a = agent(&emu).await;
    let (id, mut ws) = channel(&a).await;
    ws.send(Message::Text(r#"{"message":"ping"}"#.into()))
        .await
        .unwrap();
    let mut saw_pong = false;
    let mut saw_heartbeat = false;
    for _ in 0..10 {
        let msg = tokio::time::timeout(Duration::from_secs(3), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(text) = msg {
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["topicName"], "channel.metadata");
            saw_pong |= v["eventBody"]["message"] == "pong";
            saw_heartbeat |= v["eventBody"]["message"] == "WebSocket Heartbeat";
        }
        if saw_pong && saw_heartbeat {
            break;
        }
    }
    assert!(saw_pong && saw_heartbeat);
    // Bad topics.
    let path = format!("/api/v2/notifications/channels/{id}/subscriptions");
    assert_eq!(
        a.status(
            Method::PUT,
            &path,
            json!([{"id": "v2.users.someone-else.presence"}])
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        a.status(Method::PUT, &path, json!([{"id": "v2.nonsense"}]))
            .await,
        StatusCode::BAD_REQUEST
    );
    // Revoked: the socket closes.
    emu.control.revoke_channel(&id).await;
    let closed = tokio::time::timeout(Duration::from_secs(3), async {
        while let Some(Ok(msg)) = ws.next().await {
            if msg.is_close() {
                return true;
            }
        }
        true
    })
    .await
    .unwrap();
    assert!(closed);
    let res = a.send(Method::GET, &path, None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unauthorized_missing_scope_and_cors() {
    let emu = start_default().await;
    let url = format!("{}/api/v2/conversations/calls", emu.api());
    let res = emu.get(&url).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "bad.credentials");

    let tokens = emu
        .tokens_with_scopes("users:readonly presence:readonly")
        .await;
    let token = tokens["access_token"].as_str().unwrap();
    let res = emu.http.get(&url).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("conversations"),
        "{body}"
    );
    for field in [
        "code",
        "status",
        "messageWithParams",
        "messageParams",
        "contextId",
        "details",
        "errors",
    ] {
        assert!(body.get(field).is_some(), "{field}");
    }
    // presence:readonly reads but does not write.
    let defs = emu
        .http
        .get(format!("{}/api/v2/presencedefinitions", emu.api()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(defs.status(), StatusCode::OK);
    let res = emu
        .http
        .get(format!("{}/api/v2/users/me?expand=organization", emu.api()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    for origin in ["agent-client://localhost", "http://agent-client.localhost"] {
        let res = emu
            .http
            .request(Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "PATCH")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{origin}");
        assert_eq!(res.headers()["access-control-allow-origin"], origin);
        let res = emu
            .http
            .get(&url)
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(res.headers()["access-control-allow-origin"], origin);
    }
    let res = emu
        .http
        .request(Method::OPTIONS, &url)
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn ring_after_on_queue_rings_a_demo_call() {
    let emu = start(EmulatorConfig {
        ring_after_on_queue: Some(Duration::from_millis(200)),
        ..EmulatorConfig::default()
    })
    .await;
    let a = agent(&emu).await;
    a.set_presence("On Queue").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let calls = a.get("/api/v2/conversations/calls").await;
    assert_eq!(calls["entities"].as_array().unwrap().len(), 1);
    assert_eq!(a.routing().await, "INTERACTING");
}
