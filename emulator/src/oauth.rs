//! The authorization server: `/oauth/authorize`, the login form, `/oauth/token` (+ its api-origin
//! alias), the token endpoint's CORS preflight and `/logout`.
//!
//! Error handling follows RFC 6749 4.1.2.1: as long as the client or its redirect URI is not
//! established, the user gets an error page and nothing is redirected (an attacker must not be
//! able to bounce users to an arbitrary URI); after that, errors go back to the client.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Serialize;

use crate::config::{is_known_scope, parse_scopes, ClientRegistration, REQUIRED_SCOPES};
use crate::http::{header_value, Params};
use crate::pages::{self, LoginPage};
use crate::pkce;
use crate::state::AppState;
use crate::store::{Fault, FaultKind, FaultTarget, IssuedTokens, PendingAuthorization, SsoHints};
use crate::users::{user_for, DEFAULT_USERNAME};

/// Headers a trusted web origin may send to the token endpoint (no invented client headers:
/// an OAuth client sends these two).
pub const CORS_ALLOWED_HEADERS: &str = "Authorization, Content-Type";
pub const CORS_ALLOWED_METHODS: &str = "POST, GET, OPTIONS";

// ----- authorize -----

/// `GET /oauth/authorize`.
pub async fn authorize(State(app): State<AppState>, RawQuery(query): RawQuery) -> Response {
    app.store().counters.authorize_requests += 1;
    let params = Params::parse(query.as_deref().unwrap_or_default().as_bytes());

    // Steps that must not redirect: who the client is and where it may be sent.
    let client = match params.single("client_id") {
        Ok(Some(id)) => match app.client(id) {
            Some(client) => client,
            None => {
                return bad_request_page(&format!(
                    "The application '{id}' is not registered with this organization (unknown client_id)."
                ))
            }
        },
        Ok(None) => return bad_request_page("The request has no client_id."),
        Err(_) => return bad_request_page("client_id was sent more than once."),
    };
    let redirect_uri = match params.single("redirect_uri") {
        Ok(Some(uri)) if client.redirect_uris.iter().any(|r| r == uri) => uri,
        Ok(Some(uri)) => {
            return bad_request_page(&format!(
                "redirect_uri '{uri}' is not registered for client '{}'. It must match a registered URI exactly.",
                client.client_id
            ))
        }
        Ok(None) => return bad_request_page("The request has no redirect_uri."),
        Err(_) => return bad_request_page("redirect_uri was sent more than once."),
    };

    // From here on the client is known and errors are reported to it.
    let (state, state_repeated) = match params.single("state") {
        Ok(state) => (state, false),
        Err(_) => (None, true),
    };
    let fail = |error: &str, description: &str| {
        redirect(
            redirect_uri,
            &[
                ("error", Some(error)),
                ("error_description", Some(description)),
                ("state", state),
            ],
        )
    };
    if state_repeated {
        return fail("invalid_request", "state was sent more than once");
    }
    if let Some(name) = params.first_repeated(&[
        "response_type",
        "scope",
        "code_challenge",
        "code_challenge_method",
        "org",
        "provider",
        "prompt",
        "target",
    ]) {
        return fail(
            "invalid_request",
            &format!("{name} was sent more than once"),
        );
    }

    match params.get("response_type") {
        None => return fail("invalid_request", "response_type is required"),
        Some("code") => {}
        Some(_) => {
            return fail(
                "unsupported_response_type",
                "only response_type=code is supported",
            )
        }
    }
    let Some(challenge) = params.get("code_challenge") else {
        return fail(
            "invalid_request",
            "code_challenge is required: this server requires PKCE with S256",
        );
    };
    match params.get("code_challenge_method") {
        Some("S256") => {}
        None => {
            return fail(
                "invalid_request",
                "code_challenge_method is required and must be S256",
            )
        }
        Some("plain") => {
            return fail(
                "invalid_request",
                "code_challenge_method=plain is not accepted; use S256",
            )
        }
        Some(_) => {
            return fail(
                "invalid_request",
                "unsupported code_challenge_method; use S256",
            )
        }
    }
    if !pkce::is_valid_s256_challenge(challenge) {
        return fail(
            "invalid_request",
            "code_challenge must be 43 base64url characters: BASE64URL(SHA256(code_verifier))",
        );
    }
    let requested = params.get("scope").map(parse_scopes).unwrap_or_default();
    let unknown: Vec<&str> = requested
        .iter()
        .map(String::as_str)
        .filter(|s| !is_known_scope(s))
        .collect();
    if !unknown.is_empty() {
        return fail(
            "invalid_scope",
            &format!("unknown scope: {}", unknown.join(" ")),
        );
    }

    let hints = SsoHints {
        org: params.get("org").map(str::to_owned),
        provider: params.get("provider").map(str::to_owned),
        prompt: params.get("prompt").map(str::to_owned),
        target: params.get("target").map(str::to_owned),
    };

    let mut store = app.store();
    if let Some(fault) = store.next_fault(FaultTarget::Authorize) {
        drop(store);
        tracing::info!(error = %fault.error, "injecting authorize fault");
        return fail(&fault.error, "injected by the Genesys Cloud emulator");
    }
    // The consent decision fixes the granted scopes; --grant-scopes overrides the request to
    // reproduce "the app asked for X but the org granted less".
    let scopes = match &store.settings.grant_scopes {
        Some(granted) => granted.clone(),
        None if requested.is_empty() => REQUIRED_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        None => requested,
    };
    if store.settings.auto_approve {
        let code = store.issue_code(
            &client.client_id,
            redirect_uri,
            challenge,
            user_for(DEFAULT_USERNAME),
            scopes,
        );
        drop(store);
        tracing::info!(client_id = %client.client_id, "auto-approved authorization");
        return redirect(redirect_uri, &[("code", Some(&code)), ("state", state)]);
    }
    let pending = PendingAuthorization::new(
        client.client_id.clone(),
        redirect_uri.to_owned(),
        state.map(str::to_owned),
        challenge.to_owned(),
        scopes,
        hints,
    );
    let request_id = store.add_pending(pending.clone());
    drop(store);
    pages::login_page(&LoginPage {
        request_id: &request_id,
        client_id: &pending.client_id,
        scopes: &pending.scopes,
        hints: &pending.hints,
        username: DEFAULT_USERNAME,
        error: None,
    })
}

/// `POST /oauth/login`: the login form's approve / deny decision.
pub async fn login(State(app): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    let Ok(body) = body else {
        return bad_request_page("The sign-in form could not be read.");
    };
    let params = Params::parse(&body);
    let Some(request_id) = params.get("request_id") else {
        return bad_request_page("The sign-in form has no request_id.");
    };
    let unknown_request = || {
        bad_request_page(
            "This sign-in request is unknown, expired or already used. Start again from the application.",
        )
    };

    match params.get("decision") {
        Some("approve") => {
            let username = params.get("username").map(str::trim).unwrap_or_default();
            let mut store = app.store();
            if username.is_empty() {
                let Some(pending) = store.pending(request_id).cloned() else {
                    return unknown_request();
                };
                drop(store);
                return pages::login_page(&LoginPage {
                    request_id,
                    client_id: &pending.client_id,
                    scopes: &pending.scopes,
                    hints: &pending.hints,
                    username: "",
                    error: Some("Enter your email address to sign in."),
                });
            }
            let Some(pending) = store.take_pending(request_id) else {
                return unknown_request();
            };
            let user = user_for(username);
            tracing::info!(client_id = %pending.client_id, user = %user.username, "login approved");
            let code = store.issue_code(
                &pending.client_id,
                &pending.redirect_uri,
                &pending.code_challenge,
                user,
                pending.scopes.clone(),
            );
            drop(store);
            redirect(
                &pending.redirect_uri,
                &[("code", Some(&code)), ("state", pending.state.as_deref())],
            )
        }
        Some("deny") => {
            let Some(pending) = app.store().take_pending(request_id) else {
                return unknown_request();
            };
            tracing::info!(client_id = %pending.client_id, "login denied");
            redirect(
                &pending.redirect_uri,
                &[
                    ("error", Some("access_denied")),
                    ("error_description", Some("the user denied the request")),
                    ("state", pending.state.as_deref()),
                ],
            )
        }
        _ => bad_request_page("The sign-in form has no valid decision (approve or deny)."),
    }
}

/// `GET /logout`.
pub async fn logout() -> Response {
    pages::signed_out_page()
}

fn bad_request_page(message: &str) -> Response {
    pages::error_page(StatusCode::BAD_REQUEST, "Sign-in error", message)
}

/// 302 to `redirect_uri` with `params` appended to its query. The url crate keeps any existing
/// query and handles custom schemes such as `com.agentshell.desktop:/oauth/callback`.
fn redirect(redirect_uri: &str, params: &[(&str, Option<&str>)]) -> Response {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return pages::error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Sign-in error",
            "The registered redirect URI cannot be parsed.",
        );
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
    }
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, header_value(url.as_str())),
            (header::CACHE_CONTROL, header_value("no-store")),
            (header::REFERRER_POLICY, header_value("no-referrer")),
        ],
    )
        .into_response()
}

// ----- token -----

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
    h.insert(header::CACHE_CONTROL, header_value("no-store"));
    h.insert(header::PRAGMA, header_value("no-cache"));
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
            tracing::info!(error = e.error, description = %e.description, "token request refused");
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
        error: "invalid_request",
        description: rejection.body_text(),
    })?;
    if !is_form_urlencoded(headers) {
        return Err(OAuthError::bad_request(
            "invalid_request",
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
            "invalid_request",
            format!("{name} was sent more than once"),
        ));
    }
    let required = |name: &str| {
        params.get(name).ok_or_else(|| {
            OAuthError::bad_request("invalid_request", format!("{name} is required"))
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
                "unsupported_grant_type",
                format!("grant_type '{other}' is not supported"),
            ))
        }
    }
    .map_err(|e| OAuthError::bad_request(e.error, e.description))?;
    tracing::info!(client_id = %client.client_id, "tokens issued");
    Ok(TokenResponse::from(issued))
}

/// An RFC 6749 5.2 error response.
#[derive(Debug)]
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OAuthError {
    fn bad_request(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
        }
    }

    fn invalid_client(description: &str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: description.to_owned(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = oauth_error(self.status, self.error, &self.description);
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6749 5.2: a failed client authentication answers with WWW-Authenticate.
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header_value("Basic realm=\"genesys-emulator\", charset=\"UTF-8\""),
            );
        }
        response
    }
}

/// RFC 6749 2.3: confidential clients authenticate with `client_secret` in the body or HTTP
/// Basic (never both); public clients only identify themselves with `client_id`.
fn authenticate_client<'a>(
    app: &'a AppState,
    headers: &HeaderMap,
    body_client_id: Option<&str>,
    body_secret: Option<&str>,
) -> Result<&'a ClientRegistration, OAuthError> {
    let basic = basic_credentials(headers)
        .map_err(|()| OAuthError::invalid_client("malformed HTTP Basic credentials"))?;
    let (client_id, secret) = match basic {
        Some((id, secret)) => {
            if body_secret.is_some() {
                return Err(OAuthError::bad_request(
                    "invalid_request",
                    "use only one client authentication method (HTTP Basic or client_secret)",
                ));
            }
            if body_client_id.is_some_and(|b| b != id) {
                return Err(OAuthError::bad_request(
                    "invalid_request",
                    "client_id does not match the HTTP Basic credentials",
                ));
            }
            (id, Some(secret))
        }
        None => match body_client_id {
            Some(id) => (id.to_owned(), body_secret.map(str::to_owned)),
            None => {
                return Err(OAuthError::invalid_client(
                    "client authentication failed: no client_id",
                ))
            }
        },
    };
    let Some(client) = app.client(&client_id) else {
        return Err(OAuthError::invalid_client(
            "client authentication failed: unknown client",
        ));
    };
    match (&client.secret, secret.as_deref()) {
        (Some(expected), Some(given))
            if pkce::constant_time_eq(expected.as_bytes(), given.as_bytes()) =>
        {
            Ok(client)
        }
        (Some(_), Some(_)) => Err(OAuthError::invalid_client(
            "client authentication failed: wrong client secret",
        )),
        (Some(_), None) => Err(OAuthError::invalid_client(
            "client authentication failed: this confidential client must send its secret",
        )),
        (None, None | Some("")) => Ok(client),
        (None, Some(_)) => Err(OAuthError::invalid_client(
            "client authentication failed: this is a public client and has no secret",
        )),
    }
}

/// `Ok(None)` without Basic credentials, `Err` when they are present but unreadable.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, ()> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ())?;
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| ())?;
    let decoded = String::from_utf8(decoded).map_err(|_| ())?;
    let (id, secret) = decoded.split_once(':').ok_or(())?;
    // RFC 6749 2.3.1: both parts are form-urlencoded before being joined.
    Ok(Some((form_decode(id), form_decode(secret))))
}

fn form_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("v={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn is_form_urlencoded(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// RFC 6749 5.2 error body.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

async fn fault_response(app: &AppState, fault: &Fault) -> Response {
    let with_retry_after = |status: StatusCode, error: &str, description: &str| {
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
            "server_error",
            "injected fault: internal server error",
        ),
        FaultKind::ServiceUnavailable => with_retry_after(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "injected fault: service unavailable",
        ),
        FaultKind::RateLimited => with_retry_after(
            StatusCode::TOO_MANY_REQUESTS,
            "temporarily_unavailable",
            "injected fault: too many requests",
        ),
        FaultKind::Hang => {
            app.sleep_unless_shutdown(Duration::from_secs(fault.hang_secs))
                .await;
            oauth_error(
                StatusCode::GATEWAY_TIMEOUT,
                "temporarily_unavailable",
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
            "invalid_grant",
            "injected fault: the grant is invalid",
        ),
        // Unreachable: next_fault(Token) only hands out token faults, and a slow one is served.
        FaultKind::AuthorizeError
        | FaultKind::UsersMeUnauthorized
        | FaultKind::ApiUnauthorized
        | FaultKind::Slow => oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "a fault for another endpoint reached the token endpoint",
        ),
    }
}

// ----- CORS -----

/// `OPTIONS` on both token paths: the preflight a webview-based client triggers.
pub async fn token_preflight(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let method_ok = headers
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|m| matches!(m.trim(), "POST" | "GET" | "OPTIONS"));
    match trusted_origin(&app.trusted_domains, &headers) {
        Some(origin) if method_ok => (
            StatusCode::OK,
            [
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, header_value(origin)),
                (
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    header_value(CORS_ALLOWED_METHODS),
                ),
                (
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    header_value(CORS_ALLOWED_HEADERS),
                ),
                (header::ACCESS_CONTROL_MAX_AGE, header_value("600")),
                (header::VARY, header_value("Origin")),
            ],
        )
            .into_response(),
        _ => {
            let origin = headers
                .get(header::ORIGIN)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("(none)");
            tracing::info!(%origin, "CORS preflight refused");
            (
                StatusCode::FORBIDDEN,
                [
                    (header::VARY, header_value("Origin")),
                    (
                        header::CONTENT_TYPE,
                        header_value("text/plain; charset=utf-8"),
                    ),
                ],
                "origin not allowed\n",
            )
                .into_response()
        }
    }
}

/// The request's `Origin` if its host is exactly one of the trusted domains.
fn trusted_origin<'h>(trusted_domains: &[String], headers: &'h HeaderMap) -> Option<&'h str> {
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    is_trusted_origin(trusted_domains, origin).then_some(origin)
}

/// Compares the origin's host with each trusted domain exactly (no suffix or wildcard match:
/// `localhost.evil.example` is not `localhost`).
pub fn is_trusted_origin(trusted_domains: &[String], origin: &str) -> bool {
    let Ok(url) = url::Url::parse(origin) else {
        return false;
    };
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return false;
    }
    url.host_str()
        .is_some_and(|host| trusted_domains.iter().any(|d| d.eq_ignore_ascii_case(host)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn origin_host_must_match_exactly() {
        let trusted = vec!["localhost".to_owned(), "tauri.localhost".to_owned()];
        for ok in [
            "tauri://localhost",
            "http://tauri.localhost",
            "http://localhost:1420",
        ] {
            assert!(is_trusted_origin(&trusted, ok), "{ok}");
        }
        for bad in [
            "null",
            "",
            "http://localhost.evil.example",
            "http://evil.localhost",
            "https://example.com",
            "http://127.0.0.1:1420",
        ] {
            assert!(!is_trusted_origin(&trusted, bad), "{bad}");
        }
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut headers = HeaderMap::new();
        let value = format!("Basic {}", STANDARD.encode("my%20app:p%3Ass+word"));
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        assert_eq!(
            basic_credentials(&headers).unwrap(),
            Some(("my app".to_owned(), "p:ss word".to_owned()))
        );
        headers.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert!(basic_credentials(&headers).is_err());
        headers.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(basic_credentials(&headers).unwrap(), None);
    }

    #[test]
    fn redirect_appends_to_custom_scheme() {
        let r = redirect(
            "com.agentshell.desktop:/oauth/callback",
            &[("code", Some("a b")), ("state", Some("s&1")), ("x", None)],
        );
        assert_eq!(r.status(), StatusCode::FOUND);
        assert_eq!(
            r.headers()[header::LOCATION],
            "com.agentshell.desktop:/oauth/callback?code=a+b&state=s%261"
        );
        let r = redirect("http://127.0.0.1:1/cb?keep=1", &[("code", Some("c"))]);
        assert_eq!(
            r.headers()[header::LOCATION],
            "http://127.0.0.1:1/cb?keep=1&code=c"
        );
    }
}
