//! The one client of the emulator's control API: `/_emulator/*` on its login origin (see the
//! emulator's `control.rs` and `platform/control.rs`). Typed requests in; the emulator's JSON
//! out where it is a bag that grows (the counters, a call record), typed where it is fixed.
//!
//! Every method but [`Control::send`] asserts that the emulator accepted the request and
//! panics otherwise, naming the route, the status and the emulator's `{"error": ...}`.

use std::collections::BTreeMap;
use std::time::Duration;

use genesys_emulator::RunningEmulator;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};

use crate::wait::wait_until;

/// A client of one emulator's control API. Cheap to make: build one where it is needed.
#[derive(Clone, Debug)]
pub struct Control {
    login: String,
    http: reqwest::Client,
}

/// What a fault does to the next matching request(s) (`POST /_emulator/faults`): the
/// emulator's own type, so a kind the emulator does not know cannot be sent.
pub use genesys_emulator::FaultKind;

/// A fault to queue: a kind, and what the emulator defaults unless set (once, `Retry-After:
/// 2`, 30 s of hanging, `access_denied` for an authorize error).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fault {
    kind: FaultKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hang_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl From<FaultKind> for Fault {
    fn from(kind: FaultKind) -> Self {
        Fault {
            kind,
            count: None,
            retry_after_secs: None,
            hang_secs: None,
            error: None,
        }
    }
}

impl Fault {
    /// For the next `count` matching requests.
    pub fn times(self, count: u32) -> Fault {
        Fault {
            count: Some(count),
            ..self
        }
    }

    /// The `Retry-After` of a 429 or 503.
    pub fn retry_after(self, secs: u64) -> Fault {
        Fault {
            retry_after_secs: Some(secs),
            ..self
        }
    }

    /// How long a `hang` or `slow` fault holds the request.
    pub fn secs(self, secs: u64) -> Fault {
        Fault {
            hang_secs: Some(secs),
            ..self
        }
    }

    /// The RFC 6749 error an `authorize_error` fault redirects with.
    pub fn error(self, code: &str) -> Fault {
        Fault {
            error: Some(code.to_owned()),
            ..self
        }
    }
}

/// The [`Fault`] builders on a bare kind (`FaultKind::Hang.secs(1)`): a trait, since the kind
/// is the emulator's type.
pub trait FaultExt {
    /// See [`Fault::times`].
    fn times(self, count: u32) -> Fault;
    /// See [`Fault::retry_after`].
    fn retry_after(self, secs: u64) -> Fault;
    /// See [`Fault::secs`].
    fn secs(self, secs: u64) -> Fault;
    /// See [`Fault::error`].
    fn error(self, code: &str) -> Fault;
}

impl FaultExt for FaultKind {
    fn times(self, count: u32) -> Fault {
        Fault::from(self).times(count)
    }

    fn retry_after(self, secs: u64) -> Fault {
        Fault::from(self).retry_after(secs)
    }

    fn secs(self, secs: u64) -> Fault {
        Fault::from(self).secs(secs)
    }

    fn error(self, code: &str) -> Fault {
        Fault::from(self).error(code)
    }
}

/// A change of the emulator's runtime settings (`POST /_emulator/settings`); what is `None`
/// stays as it is. They apply to requests received afterwards.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Settings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_lifetime_secs: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_lifetime_secs: Option<f64>,
    /// `Some(None)`: back to granting what was asked for; `Some(Some(list))`: grant exactly
    /// that list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_scopes: Option<Option<Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_refresh_tokens: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_approve: Option<bool>,
}

impl Settings {
    /// Tokens issued from now on live `secs` seconds.
    pub fn token_lifetime(secs: f64) -> Settings {
        Settings {
            token_lifetime_secs: Some(secs),
            ..Settings::default()
        }
    }

    /// Tokens issued from now on carry exactly `scopes` (`None`: what was asked for).
    pub fn grant_scopes(scopes: Option<&[&str]>) -> Settings {
        Settings {
            grant_scopes: Some(scopes.map(|s| s.iter().map(|&s| s.to_owned()).collect())),
            ..Settings::default()
        }
    }
}

/// An inbound call to ring (`POST /_emulator/calls`): from `ani`, on the first queue, to the
/// default agent unless set.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ring {
    pub ani: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// Ring even when the agent is not On Queue.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
}

impl Ring {
    pub fn from(ani: &str) -> Ring {
        Ring {
            ani: ani.to_owned(),
            ..Ring::default()
        }
    }

    pub fn caller(self, name: &str) -> Ring {
        Ring {
            caller_name: Some(name.to_owned()),
            ..self
        }
    }

    pub fn attribute(mut self, name: &str, value: &str) -> Ring {
        self.attributes.insert(name.to_owned(), value.to_owned());
        self
    }
}

impl Control {
    /// The control API of `emulator`.
    pub fn new(emulator: &RunningEmulator) -> Control {
        Control::at(&emulator.urls().login)
    }

    /// The control API of the emulator whose login origin is `login` (e.g. one another process
    /// runs).
    pub fn at(login: &str) -> Control {
        Control {
            login: login.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// `{login}/_emulator/{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/_emulator/{path}", self.login)
    }

    /// Sends a request to `/_emulator/{path}` and returns the response as it is, accepted or
    /// not: for tests of the control API itself.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        self.request(method.clone(), path, body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} /_emulator/{path}: {e}"))
    }

    fn request(&self, method: Method, path: &str, body: Option<&Value>) -> reqwest::RequestBuilder {
        let request = self.http.request(method, self.url(path));
        match body {
            Some(body) => request.json(body),
            None => request,
        }
    }

    /// [`send`](Self::send) a POST with a JSON `body`.
    pub async fn post_raw(&self, path: &str, body: Value) -> reqwest::Response {
        self.send(Method::POST, path, Some(&body)).await
    }

    /// The JSON answer, or `Err("STATUS: BODY")` when refused, or the error when the emulator
    /// cannot be reached (a test that stopped it may still ask).
    pub async fn try_call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, String> {
        let response = self
            .request(method, path, body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let answer = serde_json::from_str(&text).unwrap_or(Value::String(text));
        match status {
            StatusCode::OK => Ok(answer),
            _ => Err(format!("{status}: {answer}")),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Value {
        let route = format!("{method} /_emulator/{path}");
        match self.try_call(method, path, body).await {
            Ok(answer) => answer,
            Err(refused) => panic!("{route} refused: {refused}"),
        }
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let answer = self.call(Method::GET, path, None).await;
        serde_json::from_value(answer)
            .unwrap_or_else(|e| panic!("GET /_emulator/{path}: unexpected answer: {e}"))
    }

    async fn post(&self, path: &str, body: impl Serialize) -> Value {
        let body = serde_json::to_value(body).unwrap_or_else(|e| panic!("{path}: {e}"));
        self.call(Method::POST, path, Some(&body)).await
    }

    /// `GET /_emulator/state`: every counter by name, and `faults_pending`.
    pub async fn state(&self) -> Value {
        self.get("state").await
    }

    /// One counter of [`state`](Self::state).
    pub async fn count(&self, counter: &str) -> u64 {
        let state = self.state().await;
        state[counter]
            .as_u64()
            .unwrap_or_else(|| panic!("no counter {counter} in {state}"))
    }

    /// Polls [`state`](Self::state) until `holds` is true for it (20 s at most) and returns it.
    pub async fn wait_for_state(&self, what: &str, holds: impl Fn(&Value) -> bool) -> Value {
        wait_until(Duration::from_secs(20), what, async || {
            let state = self.state().await;
            match holds(&state) {
                true => Ok(state),
                false => Err(state.to_string()),
            }
        })
        .await
    }

    /// `POST /_emulator/faults`; the answer (`queued`, `count`, `faults_pending`).
    pub async fn fault(&self, fault: impl Into<Fault>) -> Value {
        self.post("faults", fault.into()).await
    }

    /// `DELETE /_emulator/faults`.
    pub async fn clear_faults(&self) {
        self.call(Method::DELETE, "faults", None).await;
    }

    /// `POST /_emulator/revoke {"user_id"}`: every token family of the user; how many.
    pub async fn revoke_user(&self, user_id: &str) -> u64 {
        let answer = self.post("revoke", json!({ "user_id": user_id })).await;
        answer["revoked_families"].as_u64().unwrap_or_default()
    }

    /// `POST /_emulator/revoke {"all": true}`: every token family; how many.
    pub async fn revoke_all(&self) -> u64 {
        let answer = self.post("revoke", json!({ "all": true })).await;
        answer["revoked_families"].as_u64().unwrap_or_default()
    }

    /// `POST /_emulator/settings`: the settings now in force.
    pub async fn settings(&self, change: Settings) -> Value {
        self.post("settings", change).await
    }

    /// `GET /_emulator/settings`.
    pub async fn current_settings(&self) -> Value {
        self.get("settings").await
    }

    /// `GET /_emulator/access-log`: every request any origin received, oldest first
    /// (`origin`, `method`, `uri`).
    pub async fn access_log(&self) -> Vec<Value> {
        self.get("access-log").await
    }

    /// `GET /_emulator/issued-tokens`: every access and refresh token issued, oldest first.
    pub async fn issued_tokens(&self) -> Vec<String> {
        self.get("issued-tokens").await
    }

    /// `GET /_emulator/secrets`: every secret of the sign-ins seen (tokens, codes, verifiers,
    /// states), for scans of files, logs and processes.
    pub async fn secrets(&self) -> Vec<String> {
        self.get("secrets").await
    }

    /// `POST /_emulator/reset`: forget everything, back to the settings it started with.
    pub async fn reset(&self) {
        self.post("reset", json!({})).await;
    }

    /// `POST /_emulator/calls`: rings `call`; its conversation id, or `Err("STATUS: BODY")`
    /// when the emulator refuses (409 while the agent is not On Queue).
    pub async fn try_ring(&self, call: &Ring) -> Result<String, String> {
        let body = serde_json::to_value(call).unwrap_or_default();
        let answer = self.try_call(Method::POST, "calls", Some(&body)).await?;
        answer["conversationId"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no conversationId in {answer}"))
    }

    /// [`try_ring`](Self::try_ring) that must succeed.
    pub async fn ring(&self, call: &Ring) -> String {
        self.try_ring(call)
            .await
            .unwrap_or_else(|refused| panic!("POST /_emulator/calls refused: {refused}"))
    }

    /// `GET /_emulator/calls/{id}`: the call's phase, digits, transfer and wrap-up.
    pub async fn call_record(&self, id: &str) -> Value {
        self.get(&format!("calls/{id}")).await
    }

    /// `GET /_emulator/calls`: every call's record.
    pub async fn calls(&self) -> Vec<Value> {
        self.get("calls").await
    }

    /// `POST /_emulator/calls/{id}/hangup`: the caller hangs up; the call's record.
    pub async fn hang_up(&self, id: &str) -> Value {
        self.post(&format!("calls/{id}/hangup"), json!({})).await
    }

    /// `DELETE /_emulator/channels/{id}`: revokes a notification channel.
    pub async fn revoke_channel(&self, id: &str) {
        self.call(Method::DELETE, &format!("channels/{id}"), None)
            .await;
    }

    /// `GET /_emulator/agents/{user_id}`: presence, routing status, queues and station.
    pub async fn agent(&self, user_id: &str) -> Value {
        self.get(&format!("agents/{user_id}")).await
    }

    /// `POST /_emulator/queues {name, wrapup_codes}`: a queue every agent has joined.
    pub async fn add_queue(&self, name: &str, wrapup_codes: &[&str]) -> Value {
        self.post(
            "queues",
            json!({ "name": name, "wrapup_codes": wrapup_codes }),
        )
        .await
    }

    /// `POST /_emulator/users {email, name}`: a directory user (a transfer target).
    pub async fn add_user(&self, email: &str, name: &str) -> Value {
        self.post("users", json!({ "email": email, "name": name }))
            .await
    }
}
