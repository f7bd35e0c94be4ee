//! `/_emulator/*` on the login origin: the test-control API (faults, revocation, runtime
//! settings, counters, access log, reset). JSON in, JSON out; errors are `{"error": "..."}`.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::json;

use crate::app::AppState;
use crate::store::{Fault, FaultKind, Store};

/// Authorize errors an `authorize_error` fault may inject (RFC 6749 4.1.2.1).
const AUTHORIZE_ERRORS: [&str; 7] = [
    "access_denied",
    "invalid_scope",
    "invalid_request",
    "unauthorized_client",
    "unsupported_response_type",
    "server_error",
    "temporarily_unavailable",
];
const MAX_FAULT_COUNT: u32 = 10_000;
const MAX_FAULT_SECS: u64 = 3_600;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_emulator/faults", post(add_fault).delete(clear_faults))
        .route("/_emulator/revoke", post(revoke))
        .route(
            "/_emulator/settings",
            post(update_settings).get(get_settings),
        )
        .route("/_emulator/state", get(state))
        .route("/_emulator/access-log", get(access_log))
        .route("/_emulator/reset", post(reset))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultRequest {
    kind: String,
    #[serde(default = "one")]
    count: u32,
    #[serde(default = "two")]
    retry_after_secs: u64,
    #[serde(default = "thirty")]
    hang_secs: u64,
    error: Option<String>,
}

fn one() -> u32 {
    1
}
fn two() -> u64 {
    2
}
fn thirty() -> u64 {
    30
}

/// `POST /_emulator/faults`.
async fn add_fault(
    State(app): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ControlError> {
    let request: FaultRequest = parse_json(body)?;
    let kind = FaultKind::parse(&request.kind).ok_or_else(|| {
        ControlError::bad_request(format!(
            "unknown fault kind '{}'; expected server_error, service_unavailable, rate_limited, hang, malformed, invalid_grant or authorize_error",
            request.kind
        ))
    })?;
    if request.count == 0 || request.count > MAX_FAULT_COUNT {
        return Err(ControlError::bad_request(format!(
            "count must be between 1 and {MAX_FAULT_COUNT}"
        )));
    }
    if request.hang_secs > MAX_FAULT_SECS || request.retry_after_secs > MAX_FAULT_SECS {
        return Err(ControlError::bad_request(format!(
            "hang_secs and retry_after_secs must be at most {MAX_FAULT_SECS}"
        )));
    }
    let error = match (kind, request.error) {
        (FaultKind::AuthorizeError, None) => "access_denied".to_owned(),
        (FaultKind::AuthorizeError, Some(e)) if AUTHORIZE_ERRORS.contains(&e.as_str()) => e,
        (FaultKind::AuthorizeError, Some(e)) => {
            return Err(ControlError::bad_request(format!(
                "error '{e}' is not an authorization error; expected one of {}",
                AUTHORIZE_ERRORS.join(", ")
            )))
        }
        (_, Some(_)) => {
            return Err(ControlError::bad_request(
                "error only applies to authorize_error faults",
            ))
        }
        (_, None) => String::new(),
    };
    let mut store = app.store();
    store.push_fault(Fault {
        kind,
        remaining: request.count,
        retry_after_secs: request.retry_after_secs,
        hang_secs: request.hang_secs,
        error,
    });
    let pending = store.faults_pending();
    drop(store);
    tracing::info!(kind = kind.as_str(), count = request.count, "fault queued");
    Ok(Json(json!({
        "queued": kind.as_str(),
        "count": request.count,
        "faults_pending": pending,
    }))
    .into_response())
}

/// `DELETE /_emulator/faults`.
async fn clear_faults(State(app): State<AppState>) -> Response {
    app.store().clear_faults();
    Json(json!({ "faults_pending": 0 })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeRequest {
    user_id: Option<String>,
    #[serde(default)]
    all: bool,
}

/// `POST /_emulator/revoke`: `{"user_id": "..."}` or `{"all": true}`.
async fn revoke(
    State(app): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ControlError> {
    let request: RevokeRequest = parse_json(body)?;
    let revoked = match (request.all, request.user_id) {
        (true, None) => app.store().revoke_all(),
        (false, Some(user_id)) => app.store().revoke_user(&user_id),
        _ => {
            return Err(ControlError::bad_request(
                "send exactly one of {\"user_id\": \"...\"} or {\"all\": true}",
            ))
        }
    };
    tracing::info!(revoked, "families revoked through the control API");
    Ok(Json(json!({ "revoked_families": revoked })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsRequest {
    token_lifetime_secs: Option<f64>,
    code_lifetime_secs: Option<f64>,
    /// Absent: unchanged; `null`: back to "grant what was requested"; list: grant exactly that.
    #[serde(default, deserialize_with = "present")]
    grant_scopes: Option<Option<Vec<String>>>,
    public_refresh_tokens: Option<bool>,
    auto_approve: Option<bool>,
}

/// Distinguishes a field set to `null` (`Some(None)`) from an absent one (`None`, via default).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

fn positive_secs(name: &str, secs: Option<f64>) -> Result<Option<Duration>, ControlError> {
    match secs {
        None => Ok(None),
        Some(secs) if secs.is_finite() && secs > 0.0 && secs <= 1.0e9 => {
            Ok(Some(Duration::from_secs_f64(secs)))
        }
        Some(_) => Err(ControlError::bad_request(format!(
            "{name} must be a positive number of seconds"
        ))),
    }
}

/// `POST /_emulator/settings`: changes apply to requests received afterwards.
async fn update_settings(
    State(app): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ControlError> {
    let request: SettingsRequest = parse_json(body)?;
    let token_lifetime = positive_secs("token_lifetime_secs", request.token_lifetime_secs)?;
    let code_lifetime = positive_secs("code_lifetime_secs", request.code_lifetime_secs)?;
    let mut store = app.store();
    let settings = &mut store.settings;
    if let Some(v) = token_lifetime {
        settings.token_lifetime = v;
    }
    if let Some(v) = code_lifetime {
        settings.code_lifetime = v;
    }
    if let Some(v) = request.grant_scopes {
        settings.grant_scopes = v;
    }
    if let Some(v) = request.public_refresh_tokens {
        settings.public_refresh_tokens = v;
    }
    if let Some(v) = request.auto_approve {
        settings.auto_approve = v;
    }
    let current = settings.clone();
    drop(store);
    tracing::info!(?current, "settings changed");
    Ok(Json(current).into_response())
}

/// `GET /_emulator/settings`.
async fn get_settings(State(app): State<AppState>) -> Response {
    let current = app.store().settings.clone();
    Json(current).into_response()
}

/// `GET /_emulator/state`: the counters tests assert on.
async fn state(State(app): State<AppState>) -> Response {
    let store = app.store();
    let c = &store.counters;
    let body = json!({
        "authorize_requests": c.authorize_requests,
        "codes_issued": c.codes_issued,
        "codes_exchanged": c.codes_exchanged,
        "token_requests": c.token_requests,
        "refreshes_served": c.refreshes_served,
        "refresh_reuse_detected": c.refresh_reuse_detected,
        "families_revoked": c.families_revoked,
        "users_me_ok": c.users_me_ok,
        "users_me_unauthorized": c.users_me_unauthorized,
        "faults_pending": store.faults_pending(),
    });
    drop(store);
    Json(body).into_response()
}

/// `GET /_emulator/access-log`: every request received on any origin, oldest first.
async fn access_log(State(app): State<AppState>) -> Response {
    let log = app.store().access_log();
    Json(log).into_response()
}

/// `POST /_emulator/reset`: forget everything and restore the settings the emulator started with.
async fn reset(State(app): State<AppState>) -> Response {
    *app.store() = Store::new(app.initial_settings.clone());
    tracing::info!("emulator state reset");
    Json(json!({ "reset": true })).into_response()
}

fn parse_json<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ControlError> {
    let body = body.map_err(|rejection| ControlError {
        status: rejection.status(),
        message: rejection.body_text(),
    })?;
    serde_json::from_slice(&body)
        .map_err(|e| ControlError::bad_request(format!("invalid JSON body: {e}")))
}

/// A control API error: `{"error": "..."}` with a 4xx status.
#[derive(Debug)]
struct ControlError {
    status: StatusCode,
    message: String,
}

impl ControlError {
    fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}
