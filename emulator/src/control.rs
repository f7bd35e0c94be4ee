//! `/_emulator/*` on the login origin: the test-control API (faults, revocation, runtime
//! settings, counters, access log, reset) and, from `platform::control`, the contact-centre
//! script routes. JSON in, JSON out; errors are `{"error": "..."}`.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use oauth_wire::ErrorCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;

use crate::config::MAX_LIFETIME;
use crate::state::AppState;
use crate::store::{Counters, Fault, FaultKind, Store};

/// Authorize errors an `authorize_error` fault may inject (RFC 6749 4.1.2.1).
const AUTHORIZE_ERRORS: [ErrorCode; 7] = [
    ErrorCode::AccessDenied,
    ErrorCode::InvalidScope,
    ErrorCode::InvalidRequest,
    ErrorCode::UnauthorizedClient,
    ErrorCode::UnsupportedResponseType,
    ErrorCode::ServerError,
    ErrorCode::TemporarilyUnavailable,
];
const MAX_FAULT_COUNT: u32 = 10_000;
const MAX_FAULT_SECS: u64 = 3_600;

/// The control routes. `app` is the shared state, needed by the cross-site guard.
pub fn routes(app: AppState) -> Router<AppState> {
    Router::new()
        .route("/_emulator/faults", post(add_fault).delete(clear_faults))
        .route("/_emulator/revoke", post(revoke))
        .route(
            "/_emulator/settings",
            post(update_settings).get(get_settings),
        )
        .route("/_emulator/state", get(state))
        .route("/_emulator/access-log", get(access_log))
        .route("/_emulator/issued-tokens", get(issued_tokens))
        .route("/_emulator/secrets", get(secrets))
        .route("/_emulator/reset", post(reset))
        .merge(crate::platform::control::routes())
        .route_layer(middleware::from_fn_with_state(app, refuse_cross_site))
}

/// CSRF guard: any web page the developer visits could otherwise fire `fetch()` or a form post
/// at `http://127.0.0.1:PORT/_emulator/...` and revoke tokens, queue faults or flip settings.
/// Browsers always send `Origin` on such requests (and `Sec-Fetch-Site` on every request);
/// curl and test clients send neither, so they are unaffected. Only the login origin itself
/// may drive the control API from a browser.
async fn refuse_cross_site(State(app): State<AppState>, request: Request, next: Next) -> Response {
    match cross_site_reason(&app.login_origin, request.headers()) {
        None => next.run(request).await,
        Some(reason) => {
            tracing::warn!(%reason, uri = %request.uri(), "control request refused");
            ControlError {
                status: StatusCode::FORBIDDEN,
                message: reason,
            }
            .into_response()
        }
    }
}

/// Why a request must be refused as cross-site, or `None` when it may proceed.
fn cross_site_reason(login_origin: &str, headers: &HeaderMap) -> Option<String> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = String::from_utf8_lossy(origin.as_bytes());
        if origin != login_origin {
            return Some(format!(
                "the control API does not accept requests from origin '{origin}'"
            ));
        }
    }
    let fetch_site = headers
        .get("sec-fetch-site")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).to_ascii_lowercase());
    match fetch_site.as_deref() {
        None | Some("same-origin" | "none") => None,
        Some(site) => Some(format!(
            "the control API does not accept {site} requests from a browser"
        )),
    }
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
            "unknown fault kind '{}'; expected server_error, service_unavailable, rate_limited, hang, slow, malformed, invalid_grant, authorize_error, users_me_unauthorized or api_unauthorized",
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
        (FaultKind::AuthorizeError, None) => Some(ErrorCode::AccessDenied),
        (FaultKind::AuthorizeError, Some(e)) => {
            match ErrorCode::parse(&e).filter(|c| AUTHORIZE_ERRORS.contains(c)) {
                Some(code) => Some(code),
                None => {
                    return Err(ControlError::bad_request(format!(
                        "error '{e}' is not an authorization error; expected one of {}",
                        AUTHORIZE_ERRORS.map(ErrorCode::as_str).join(", ")
                    )))
                }
            }
        }
        (_, Some(_)) => {
            return Err(ControlError::bad_request(
                "error only applies to authorize_error faults",
            ))
        }
        (_, None) => None,
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
        (true, None) => {
            app.centre.floor().close_channels_of(None);
            app.store().revoke_where(|_| true)
        }
        (false, Some(user_id)) => {
            app.centre.floor().close_channels_of(Some(&user_id));
            app.store().revoke_where(|user| user.id == user_id)
        }
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
        Some(secs) if secs.is_finite() && secs > 0.0 && secs <= MAX_LIFETIME.as_secs_f64() => {
            Ok(Some(Duration::from_secs_f64(secs)))
        }
        Some(_) => Err(ControlError::bad_request(format!(
            "{name} must be a positive number of seconds, at most {}",
            MAX_LIFETIME.as_secs()
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

/// The body of `GET /_emulator/state`: every counter, plus the computed `faults_pending`.
#[derive(Serialize)]
struct StateBody {
    #[serde(flatten)]
    counters: Counters,
    faults_pending: u64,
}

/// `GET /_emulator/state`: the counters tests assert on.
async fn state(State(app): State<AppState>) -> Response {
    let store = app.store();
    let body = StateBody {
        counters: store.counters.clone(),
        faults_pending: store.faults_pending(),
    };
    drop(store);
    Json(body).into_response()
}

/// `GET /_emulator/access-log`: every request received on any origin, oldest first.
async fn access_log(State(app): State<AppState>) -> Response {
    let log = app.store().access_log();
    Json(log).into_response()
}

/// `GET /_emulator/issued-tokens`: every access and refresh token issued, oldest first, so a
/// test can check that none of them ever appeared in a URL.
async fn issued_tokens(State(app): State<AppState>) -> Response {
    let tokens = app.store().issued_tokens();
    Json(tokens).into_response()
}

/// `GET /_emulator/secrets`: every secret of the sign-ins seen (issued tokens, authorization
/// codes, PKCE verifiers, OAuth states), so a test can scan files, logs and process arguments
/// for any of them.
async fn secrets(State(app): State<AppState>) -> Response {
    Json(app.store().all_secrets()).into_response()
}

/// `POST /_emulator/reset`: forget everything and restore the settings the emulator started with.
async fn reset(State(app): State<AppState>) -> Response {
    *app.store() = Store::new(app.initial_settings.clone());
    app.centre.reset();
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.insert(*name, HeaderValue::from_static(value));
        }
        h
    }

    #[test]
    fn cross_site_requests_are_refused() {
        let login = "http://127.0.0.1:4000";
        for ok in [
            headers(&[]),
            headers(&[("origin", "http://127.0.0.1:4000")]),
            headers(&[
                ("origin", "http://127.0.0.1:4000"),
                ("sec-fetch-site", "same-origin"),
            ]),
            headers(&[("sec-fetch-site", "none")]),
        ] {
            assert_eq!(cross_site_reason(login, &ok), None, "{ok:?}");
        }
        for bad in [
            headers(&[("origin", "https://evil.example")]),
            headers(&[("origin", "null")]),
            headers(&[("origin", "http://127.0.0.1:4001")]),
            headers(&[("origin", "http://localhost:4000")]),
            headers(&[("sec-fetch-site", "cross-site")]),
            headers(&[("sec-fetch-site", "same-site")]),
        ] {
            assert!(cross_site_reason(login, &bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn state_body_flattens_every_counter() {
        let body = serde_json::to_value(StateBody {
            counters: Counters {
                codes_issued: 3,
                ..Counters::default()
            },
            faults_pending: 2,
        })
        .unwrap();
        let counters = serde_json::to_value(Counters::default()).unwrap();
        let object = body.as_object().unwrap();
        assert_eq!(object.len(), counters.as_object().unwrap().len() + 1);
        assert_eq!(body["codes_issued"], 3);
        assert_eq!(body["faults_pending"], 2);
    }
}
