//! `POST /oauth/token` and its api-origin alias: the authorization_code and refresh_token
//! grants, and the faults the control API queues for them.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use oauth_wire::{is_form_urlencoded, ErrorCode, Params, NO_STORE_HEADERS};
use serde::Serialize;

use super::client_auth::authenticate_client;
use super::cors::trusted_origin;
use super::error::{oauth_error, OAuthError};
use crate::config::parse_scopes;
use crate::http::header_value;
use crate::state::AppState;
use crate::store::{Fault, FaultKind, FaultTarget, IssuedTokens};

/// The RFC 6749 5.1 success body.
#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    scope: String,
}

impl From<IssuedTokens> for TokenResponse {
    fn from(t: IssuedTokens) -> Self {
        Self {
            access_token: t.access_token,
            token_type: "Bearer",
            expires_in: t.expires_in,
            refresh_token: t.refresh_token,
            scope: t.scopes.join(" "),
        }
    }
}

/// `POST /oauth/token` and `POST /api/v2/oauth/token`.
pub async fn token(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut response = token_response(&app, &headers, body).await;
    let h = response.headers_mut();
    // RFC 6749 5.1: token responses must not be cached.
    for (name, value) in NO_STORE_HEADERS {
        h.insert(HeaderName::from_static(name), header_value(value));
    }
    h.insert(header::VARY, header_value("Origin"));
    if let Some(origin) = trusted_origin(&app.trusted_domains, &headers) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, header_value(origin));
    }
    response
}

async fn token_response(
    app: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let fault = {
        let mut store = app.store();
        store.counters.token_requests += 1;
        store.next_fault(FaultTarget::Token)
    };
    match fault {
        Some(fault) if fault.kind == FaultKind::Slow => {
            tracing::info!(secs = fault.hang_secs, "injecting token fault: slow answer");
            app.sleep_unless_shutdown(Duration::from_secs(fault.hang_secs))
                .await;
        }
        Some(fault) => {
            tracing::info!(kind = fault.kind.as_str(), "injecting token fault");
            return fault_response(app, &fault).await;
        }
        None => {}
    }
    match grant(app, headers, body) {
        Ok(tokens) => (StatusCode::OK, Json(tokens)).into_response(),
        Err(e) => {
            tracing::info!(error = e.error.as_str(), description = %e.description, "token request refused");
            e.into_response()
        }
    }
}

/// Validates the request, authenticates the client and runs the grant.
fn grant(
    app: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<TokenResponse, OAuthError> {
    let body = body.map_err(|rejection| OAuthError {
        status: rejection.status(),
        error: ErrorCode::InvalidRequest,
        description: rejection.body_text(),
    })?;
    let form_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_form_urlencoded);
    if !form_body {
        return Err(OAuthError::bad_request(
            ErrorCode::InvalidRequest,
            "the token request must be application/x-www-form-urlencoded",
        ));
    }
    let params = Params::parse(&body);
    if let Some(name) = params.first_repeated(&[
        "grant_type",
        "client_id",
        "client_secret",
        "code",
        "redirect_uri",
        "code_verifier",
        "refresh_token",
        "scope",
    ]) {
        return Err(OAuthError::bad_request(
            ErrorCode::InvalidRequest,
            format!("{name} was sent more than once"),
        ));
    }
    let required = |name: &str| {
        params.get(name).ok_or_else(|| {
            OAuthError::bad_request(ErrorCode::InvalidRequest, format!("{name} is required"))
        })
    };

    // A request without grant_type is malformed whoever sends it (RFC 6749 5.2 invalid_request),
    // so this is checked before the client is authenticated.
    let grant_type = required("grant_type")?;
    let client = authenticate_client(
        app,
        headers,
        params.get("client_id"),
        params.get("client_secret"),
    )?;
    let confidential = client.is_confidential();
    let issued = match grant_type {
        "authorization_code" => {
            let code = required("code")?;
            let redirect_uri = required("redirect_uri")?;
            let verifier = params.get("code_verifier");
            let issued = app.store().exchange_code(
                &client.client_id,
                confidential,
                code,
                redirect_uri,
                verifier,
            );
            issued
        }
        "refresh_token" => {
            let refresh_token = required("refresh_token")?;
            // `scope` of only spaces names no scope: treat it as absent (keep what was granted).
            let scopes = params
                .get("scope")
                .map(parse_scopes)
                .filter(|scopes| !scopes.is_empty());
            let issued =
                app.store()
                    .refresh(&client.client_id, confidential, refresh_token, scopes);
            issued
        }
        other => {
            return Err(OAuthError::bad_request(
                ErrorCode::UnsupportedGrantType,
                format!("grant_type '{other}' is not supported"),
            ))
        }
    }
    .map_err(|e| OAuthError::bad_request(e.error, e.description))?;
    tracing::info!(client_id = %client.client_id, "tokens issued");
    Ok(TokenResponse::from(issued))
}

async fn fault_response(app: &AppState, fault: &Fault) -> Response {
    let with_retry_after = |status: StatusCode, error: ErrorCode, description: &str| {
        let mut response = oauth_error(status, error, description);
        response.headers_mut().insert(
            header::RETRY_AFTER,
            header_value(&fault.retry_after_secs.to_string()),
        );
        response
    };
    match fault.kind {
        FaultKind::ServerError => oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ServerError,
            "injected fault: internal server error",
        ),
        FaultKind::ServiceUnavailable => with_retry_after(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::TemporarilyUnavailable,
            "injected fault: service unavailable",
        ),
        FaultKind::RateLimited => with_retry_after(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::TemporarilyUnavailable,
            "injected fault: too many requests",
        ),
        FaultKind::Hang => {
            app.sleep_unless_shutdown(Duration::from_secs(fault.hang_secs))
                .await;
            oauth_error(
                StatusCode::GATEWAY_TIMEOUT,
                ErrorCode::TemporarilyUnavailable,
                "injected fault: upstream timed out",
            )
        }
        // A 200 whose JSON stops mid-string: what a proxy cutting the connection looks like.
        FaultKind::Malformed => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"access_token\":\"eyJ0eXAiOiJKV1QiLCJhbGciOi",
        )
            .into_response(),
        FaultKind::InvalidGrant => oauth_error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidGrant,
            "injected fault: the grant is invalid",
        ),
        // Unreachable: next_fault(Token) only hands out token faults, and a slow one is served.
        FaultKind::AuthorizeError
        | FaultKind::UsersMeUnauthorized
        | FaultKind::ApiUnauthorized
        | FaultKind::Slow => oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ServerError,
            "a fault for another endpoint reached the token endpoint",
        ),
    }
}
