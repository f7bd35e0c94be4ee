//! `GET /oauth/authorize`, the login form's decision (`POST /oauth/login`) and `/logout`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use oauth_wire::{ErrorCode, Params, CACHE_CONTROL_NO_STORE};

use crate::config::{is_known_scope, parse_scopes, REQUIRED_SCOPES};
use crate::http::header_value;
use crate::pages::{self, LoginPage};
use crate::pkce;
use crate::state::AppState;
use crate::store::{FaultTarget, PendingAuthorization, SsoHints};
use crate::users::{user_for, DEFAULT_USERNAME};

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
    let fail = |error: ErrorCode, description: &str| {
        redirect(
            redirect_uri,
            &[
                ("error", Some(error.as_str())),
                ("error_description", Some(description)),
                ("state", state),
            ],
        )
    };
    if state_repeated {
        return fail(ErrorCode::InvalidRequest, "state was sent more than once");
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
            ErrorCode::InvalidRequest,
            &format!("{name} was sent more than once"),
        );
    }

    match params.get("response_type") {
        None => return fail(ErrorCode::InvalidRequest, "response_type is required"),
        Some("code") => {}
        Some(_) => {
            return fail(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            )
        }
    }
    let Some(challenge) = params.get("code_challenge") else {
        return fail(
            ErrorCode::InvalidRequest,
            "code_challenge is required: this server requires PKCE with S256",
        );
    };
    match params.get("code_challenge_method") {
        Some("S256") => {}
        None => {
            return fail(
                ErrorCode::InvalidRequest,
                "code_challenge_method is required and must be S256",
            )
        }
        Some("plain") => {
            return fail(
                ErrorCode::InvalidRequest,
                "code_challenge_method=plain is not accepted; use S256",
            )
        }
        Some(_) => {
            return fail(
                ErrorCode::InvalidRequest,
                "unsupported code_challenge_method; use S256",
            )
        }
    }
    if !pkce::is_valid_s256_challenge(challenge) {
        return fail(
            ErrorCode::InvalidRequest,
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
            ErrorCode::InvalidScope,
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
        let error = fault.error.unwrap_or(ErrorCode::AccessDenied);
        tracing::info!(%error, "injecting authorize fault");
        return fail(error, "injected by the Genesys Cloud emulator");
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
                    ("error", Some(ErrorCode::AccessDenied.as_str())),
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
            (header::CACHE_CONTROL, header_value(CACHE_CONTROL_NO_STORE)),
            (header::REFERRER_POLICY, header_value("no-referrer")),
        ],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

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
