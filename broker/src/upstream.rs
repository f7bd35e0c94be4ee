//! Forwarding a checked token request to Genesys Cloud with the client's secret, and the
//! answer back to the shell: status and body, the refresh token sealed, and only content-type,
//! cache-control, pragma and retry-after of Genesys's headers.

use std::borrow::Cow;
use std::time::{Instant, SystemTime};

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use oauth_wire::{basic_authorization, ErrorCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::config::ClientConfig;
use crate::error::{no_store, OAuthError};
use crate::outcome::{elapsed_ms, Outcome};
use crate::seal;
use crate::state::Live;

/// Upstream answers larger than this are refused (a token response is a few KiB at most).
const MAX_UPSTREAM_BODY: usize = 64 * 1024;
/// Headers of Genesys's answer that reach the desktop; anything else (cookies, tracing ids,
/// server banners) stays here.
const FORWARDED_HEADERS: [header::HeaderName; 4] = [
    header::CONTENT_TYPE,
    header::CACHE_CONTROL,
    header::PRAGMA,
    header::RETRY_AFTER,
];

/// RFC 6749 2.3.1: id and secret are form-encoded, joined with ':', then base64'd.
fn basic_auth(client: &ClientConfig) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(&basic_authorization(
        &client.client_id,
        client.secret.expose_secret(),
    ))
    .ok()?;
    value.set_sensitive(true);
    Some(value)
}

pub(crate) async fn forward(
    live: &Live,
    client: &ClientConfig,
    form: SecretString,
    reseal: Option<SecretString>,
    out: &mut Outcome,
) -> Response {
    let Some(auth) = basic_auth(client) else {
        return out.fail(OAuthError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ServerError,
            "the token broker's client credentials cannot be sent",
        ));
    };
    let unavailable = |description: &'static str| {
        OAuthError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::TemporarilyUnavailable,
            description,
        )
        .with_retry_after(live.retry_after)
    };
    let started = Instant::now();
    let sent = live
        .http
        .post(live.upstream.clone())
        .header(header::AUTHORIZATION, auth)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .body(form.expose_secret().to_owned())
        .send()
        .await;
    let response = match sent {
        Ok(r) => r,
        Err(e) => {
            out.upstream_ms = Some(elapsed_ms(started));
            out.error = Some(
                if e.is_timeout() {
                    "upstream_timeout"
                } else {
                    "upstream_unreachable"
                }
                .into(),
            );
            return unavailable(if e.is_timeout() {
                "the sign-in service did not answer the token broker in time"
            } else {
                "the token broker could not reach the sign-in service"
            })
            .into_response();
        }
    };
    let status = response.status();
    out.upstream_status = Some(status.as_u16());
    let headers = response.headers().clone();
    let body = match read_upstream(response).await {
        Ok(body) => body,
        Err(ReadFailure::Timeout) => {
            out.upstream_ms = Some(elapsed_ms(started));
            out.error = Some("upstream_timeout".into());
            return unavailable("the sign-in service did not answer the token broker in time")
                .into_response();
        }
        Err(ReadFailure::Broken) => {
            out.upstream_ms = Some(elapsed_ms(started));
            out.error = Some("upstream_unreachable".into());
            return unavailable("the sign-in service's answer to the token broker broke off")
                .into_response();
        }
        Err(ReadFailure::TooLarge) => {
            out.upstream_ms = Some(elapsed_ms(started));
            return out.fail(bad_gateway("the sign-in service sent an oversized answer"));
        }
    };
    out.upstream_ms = Some(elapsed_ms(started));

    if status.is_success() {
        return success(live, client, status, &headers, &body, reseal, out);
    }
    if status.is_redirection() || status.is_informational() {
        return out.fail(bad_gateway(
            "the sign-in service answered the token broker with an unexpected redirect",
        ));
    }
    // An error: same status, same body, the allowed headers (Retry-After among them).
    out.error = Some(upstream_error_code(&body));
    if status == StatusCode::UNAUTHORIZED {
        tracing::error!(
            client_id = %client.client_id,
            "the upstream token endpoint refused the broker's client credentials: check this client's secret"
        );
    }
    let mut reply = Response::new(Body::from(body));
    *reply.status_mut() = status;
    copy_allowed_headers(&headers, reply.headers_mut());
    // Token endpoint answers are never cached, whatever upstream said (RFC 6749 5.1).
    no_store(reply.headers_mut());
    reply
}

fn success(
    live: &Live,
    client: &ClientConfig,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    reseal: Option<SecretString>,
    out: &mut Outcome,
) -> Response {
    let Ok(Value::Object(mut tokens)) = serde_json::from_slice::<Value>(body) else {
        return out.fail(bad_gateway(
            "the sign-in service sent an unreadable token response",
        ));
    };
    if tokens
        .get("access_token")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return out.fail(bad_gateway(
            "the sign-in service sent a token response without an access token",
        ));
    }
    // Seal a refresh token if there is one; with none (or an unusable one) the shell gets none,
    // exactly as if it had talked to Genesys itself, except that a token presented under the
    // previous key comes back under the current one.
    let upstream_token = match tokens.remove("refresh_token") {
        Some(Value::String(rt)) if !rt.is_empty() => Some(SecretString::from(rt)),
        _ => reseal,
    };
    if let Some(rt) = upstream_token {
        match seal::seal(&live.keys, &client.client_id, &rt, SystemTime::now()) {
            Ok(envelope) => {
                out.key_id = Some(live.keys.current.id().to_owned());
                out.refresh_token_sealed = true;
                tokens.insert("refresh_token".into(), Value::String(envelope));
            }
            Err(_) => {
                return out.fail(bad_gateway(
                    "the sign-in service sent a refresh token the broker cannot seal",
                ))
            }
        }
    }
    let Ok(json) = serde_json::to_vec(&Value::Object(tokens)) else {
        return out.fail(bad_gateway("the token response could not be re-encoded"));
    };
    let mut reply = Response::new(Body::from(json));
    *reply.status_mut() = status;
    copy_allowed_headers(headers, reply.headers_mut());
    let h = reply.headers_mut();
    // The body is JSON we wrote, whatever the upstream label said.
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    no_store(h);
    reply
}

fn copy_allowed_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for name in FORWARDED_HEADERS {
        for value in from.get_all(&name) {
            to.append(name.clone(), value.clone());
        }
    }
}

fn bad_gateway(description: &'static str) -> OAuthError {
    OAuthError::new(
        StatusCode::BAD_GATEWAY,
        ErrorCode::ServerError,
        Cow::Borrowed(description),
    )
}

/// The `error` code of an upstream error body, for the log (short, no free text).
fn upstream_error_code(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
        .filter(|e| e.len() <= 40 && e.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| "upstream_error".to_owned(), |e| format!("upstream:{e}"))
}

enum ReadFailure {
    Timeout,
    Broken,
    TooLarge,
}

async fn read_upstream(mut response: reqwest::Response) -> Result<Vec<u8>, ReadFailure> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_UPSTREAM_BODY {
                    return Err(ReadFailure::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) if e.is_timeout() => return Err(ReadFailure::Timeout),
            Err(_) => return Err(ReadFailure::Broken),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;

    #[test]
    fn basic_auth_is_form_encoded() {
        let c = ClientConfig::new("id:1", "p+w/=", ["com.x:/cb"]);
        let v = basic_auth(&c).unwrap();
        assert!(v.is_sensitive());
        let encoded = v.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
        assert_eq!(decoded, "id%3A1:p%2Bw%2F%3D");
    }

    #[test]
    fn upstream_error_codes_are_short_tokens() {
        assert_eq!(
            upstream_error_code(br#"{"error":"invalid_grant","error_description":"x"}"#),
            "upstream:invalid_grant"
        );
        assert_eq!(upstream_error_code(b"<html>"), "upstream_error");
        assert_eq!(
            upstream_error_code(br#"{"error":"has space"}"#),
            "upstream_error"
        );
    }
}
