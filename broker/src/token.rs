//! `POST /oauth/token`: the one endpoint the shell talks to.
//!
//! The shell sends an RFC 6749 token request as a public client (client_id, no secret). The
//! broker checks it against its allow-lists, replaces the sealed refresh token with the real
//! one, adds the client secret as HTTP Basic and forwards a request it rebuilds from known
//! parameters only (nothing else the desktop sent reaches Genesys). The answer goes back with
//! its status and body, the refresh token sealed, and only content-type, cache-control, pragma
//! and retry-after of Genesys's headers.
//!
//! Errors keep the shapes the shell's classifier knows: 429/5xx (with Retry-After) are retried,
//! `invalid_grant` sends the agent to sign in again, `invalid_client` names IT's configuration.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::config::ClientConfig;
use crate::error::{no_store, OAuthError};
use crate::seal::{self, UnsealError};
use crate::server::{self, AppState, Live};

/// A request body must arrive within this (a client trickling bytes must not hold a task).
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
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

/// What one token request did, logged as a single line when it ends. Holds no secret: no token,
/// code, verifier, envelope or client secret ever goes in here.
#[derive(Default)]
struct Outcome {
    grant_type: Option<&'static str>,
    client_id: Option<String>,
    error: Option<String>,
    upstream_status: Option<u16>,
    upstream_ms: Option<f64>,
    key_id: Option<String>,
    envelope_age_secs: Option<u64>,
    refresh_token_sealed: bool,
}

impl Outcome {
    fn fail(&mut self, e: OAuthError) -> Response {
        // A more precise reason recorded earlier (e.g. why an envelope failed) is kept.
        if self.error.is_none() {
            self.error = Some(e.error.to_owned());
        }
        e.into_response()
    }
}

pub(crate) async fn token(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let live = app.live();
    let header = live
        .limiter
        .as_ref()
        .and_then(|l| l.quota.client_ip_header.clone());
    let ip = server::client_ip(peer.ip(), request.headers(), header.as_ref());
    let mut outcome = Outcome::default();
    let response = handle(&live, ip, request, &mut outcome).await;
    let status = response.status().as_u16();
    let latency_ms = elapsed_ms(started);
    let Outcome {
        grant_type,
        client_id,
        error,
        upstream_status,
        upstream_ms,
        key_id,
        envelope_age_secs,
        refresh_token_sealed,
    } = outcome;
    macro_rules! log_line {
        ($level:ident) => {
            tracing::$level!(
                client_ip = %ip,
                grant_type,
                client_id,
                status,
                error,
                upstream_status,
                upstream_ms,
                latency_ms,
                key_id,
                envelope_age_secs,
                refresh_token_sealed,
                "token request"
            )
        };
    }
    if status >= 500 {
        log_line!(warn);
    } else {
        log_line!(info);
    }
    response
}

async fn handle(live: &Live, ip: IpAddr, request: Request, out: &mut Outcome) -> Response {
    if let Some(limiter) = &live.limiter {
        if let Err(wait) = limiter.check(ip) {
            out.error = Some("rate_limited".into());
            return server::rate_limited(wait);
        }
    }
    let (parts, body) = request.into_parts();
    let body = match read_body(&parts.headers, body, live.body_limit).await {
        Ok(body) => body,
        Err(e) => return out.fail(e),
    };
    if !is_form_urlencoded(&parts.headers) {
        return out.fail(OAuthError::bad_request(
            "invalid_request",
            "the token request must be application/x-www-form-urlencoded",
        ));
    }
    match prepare(live, &parts.headers, &body, out) {
        Ok((client, form, reseal)) => forward(live, client, form, reseal, out).await,
        Err(e) => out.fail(e),
    }
}

/// Checks the request against the allow-lists and builds the form for Genesys: only known
/// parameters, the sealed refresh token replaced by the real one. Synchronous on purpose: the
/// form serializer is not `Send`, so it must not live across an `.await`.
fn prepare<'l>(
    live: &'l Live,
    headers: &HeaderMap,
    body: &[u8],
    out: &mut Outcome,
) -> Result<(&'l ClientConfig, SecretString, Option<SecretString>), OAuthError> {
    // A refresh token opened with the previous key: if Genesys answers without a new one, the
    // desktop gets it back sealed with the current key, so retiring the previous key later
    // signs nobody out who has renewed since.
    let mut reseal = None;
    let params = Params::parse(body);
    if params.repeated().is_some() {
        return Err(OAuthError::bad_request(
            "invalid_request",
            "a parameter was sent more than once",
        ));
    }
    let grant_type = match params.get("grant_type") {
        None => {
            return Err(OAuthError::bad_request(
                "invalid_request",
                "grant_type is required",
            ))
        }
        Some("authorization_code") => Grant::AuthorizationCode,
        Some("refresh_token") => Grant::RefreshToken,
        Some(_) => Grant::Unsupported,
    };
    out.grant_type = Some(grant_type.as_str());

    let client = identify_client(live, headers, params.get("client_id"), out)?;
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    match grant_type {
        Grant::Unsupported => {
            return Err(OAuthError::bad_request(
                "unsupported_grant_type",
                "the token broker supports authorization_code and refresh_token",
            ))
        }
        Grant::AuthorizationCode => {
            let (Some(code), Some(redirect_uri)) = (params.get("code"), params.get("redirect_uri"))
            else {
                return Err(OAuthError::bad_request(
                    "invalid_request",
                    "code and redirect_uri are required",
                ));
            };
            // PKCE stays on end to end: the verifier is forwarded as sent, and required.
            let Some(verifier) = params.get("code_verifier") else {
                return Err(OAuthError::bad_request(
                    "invalid_request",
                    "code_verifier is required (PKCE)",
                ));
            };
            if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
                return Err(OAuthError::bad_request(
                    "invalid_grant",
                    "redirect_uri is not allowed for this client at the token broker",
                ));
            }
            form.append_pair("grant_type", "authorization_code")
                .append_pair("code", code)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("code_verifier", verifier);
        }
        Grant::RefreshToken => {
            let Some(envelope) = params.get("refresh_token") else {
                return Err(OAuthError::bad_request(
                    "invalid_request",
                    "refresh_token is required",
                ));
            };
            let opened = match seal::unseal(&live.keys, envelope, &client.client_id) {
                Ok(opened) => opened,
                Err(e) => {
                    let error = unseal_error(&e);
                    out.error = Some(format!("invalid_grant:{}", e.as_str()));
                    return Err(error);
                }
            };
            out.key_id = Some(opened.key_id.clone());
            out.envelope_age_secs = SystemTime::now()
                .duration_since(opened.issued_at)
                .ok()
                .map(|d| d.as_secs());
            form.append_pair("grant_type", "refresh_token")
                .append_pair("refresh_token", opened.refresh_token.expose_secret());
            if opened.key_id != live.keys.current.id() {
                reseal = Some(opened.refresh_token.clone());
            }
            if let Some(scope) = params.get("scope") {
                form.append_pair("scope", scope);
            }
        }
    }
    Ok((client, SecretString::from(form.finish()), reseal))
}

#[derive(Clone, Copy)]
enum Grant {
    AuthorizationCode,
    RefreshToken,
    Unsupported,
}

impl Grant {
    fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::Unsupported => "unsupported",
        }
    }
}

fn unseal_error(e: &UnsealError) -> OAuthError {
    let description = match e {
        UnsealError::UnknownKey => {
            "the token broker's sealing key was rotated since this sign-in; the agent must sign in again"
        }
        UnsealError::NotAnEnvelope => "the refresh token was not issued by this token broker",
        UnsealError::Tampered => "the refresh token is not valid at this token broker",
        UnsealError::WrongClient => "the refresh token was issued to another client",
    };
    OAuthError::bad_request("invalid_grant", description)
}

async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Vec<u8>, OAuthError> {
    let too_large = || {
        OAuthError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            format!("the request body is larger than {limit} bytes"),
        )
    };
    if server::declared_too_large(headers, limit) {
        return Err(too_large());
    }
    let read = tokio::time::timeout(BODY_READ_TIMEOUT, Limited::new(body, limit).collect());
    match read.await {
        Ok(Ok(collected)) => Ok(collected.to_bytes().to_vec()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Ok(Err(_)) => Err(OAuthError::bad_request(
            "invalid_request",
            "the request body could not be read",
        )),
        Err(_) => Err(OAuthError::new(
            StatusCode::REQUEST_TIMEOUT,
            "invalid_request",
            "the request body did not arrive in time",
        )),
    }
}

/// The client from `client_id` in the body or the user name of HTTP Basic (a public client
/// may use either; a password there is ignored: the broker holds the real secret).
fn identify_client<'l>(
    live: &'l Live,
    headers: &HeaderMap,
    body_id: Option<&str>,
    out: &mut Outcome,
) -> Result<&'l ClientConfig, OAuthError> {
    let basic_id = basic_user(headers)
        .map_err(|()| OAuthError::invalid_client("malformed HTTP Basic credentials"))?;
    let client_id = match (basic_id.as_deref(), body_id) {
        (Some(a), Some(b)) if a != b => {
            return Err(OAuthError::bad_request(
                "invalid_request",
                "client_id does not match the HTTP Basic credentials",
            ))
        }
        (Some(id), _) | (None, Some(id)) => id,
        (None, None) => return Err(OAuthError::invalid_client("client_id is required")),
    };
    out.client_id = Some(server::truncate(client_id, 64).to_owned());
    live.clients
        .get(client_id)
        .ok_or_else(|| OAuthError::invalid_client("this client is not served by the token broker"))
}

/// The user name of `Authorization: Basic`; `Ok(None)` without one (or for another scheme).
fn basic_user(headers: &HeaderMap) -> Result<Option<String>, ()> {
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
    let (user, _password) = decoded.split_once(':').ok_or(())?;
    Ok(Some(form_decode(user)).filter(|u| !u.is_empty()))
}

fn form_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("v={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn form_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
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

/// RFC 6749 2.3.1: id and secret are form-encoded, joined with ':', then base64'd.
fn basic_auth(client: &ClientConfig) -> Option<HeaderValue> {
    let credentials = format!(
        "{}:{}",
        form_encode(&client.client_id),
        form_encode(client.secret.expose_secret())
    );
    let mut value =
        HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(credentials))).ok()?;
    value.set_sensitive(true);
    Some(value)
}

async fn forward(
    live: &Live,
    client: &ClientConfig,
    form: SecretString,
    reseal: Option<SecretString>,
    out: &mut Outcome,
) -> Response {
    let Some(auth) = basic_auth(client) else {
        return out.fail(OAuthError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the token broker's client credentials cannot be sent",
        ));
    };
    let unavailable = |description: &'static str| {
        OAuthError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
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
        "server_error",
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

/// Milliseconds, rounded to the microsecond (enough for a log line, short to read).
fn elapsed_ms(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// Form parameters with RFC 6749 3.1 semantics: an empty value counts as absent.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(input: &[u8]) -> Self {
        Self(
            url::form_urlencoded::parse(input)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .filter(|(_, v)| !v.is_empty())
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The name of a parameter sent twice (RFC 6749 3.1: parameters must not repeat).
    fn repeated(&self) -> Option<&str> {
        self.0
            .iter()
            .enumerate()
            .find(|(i, (k, _))| self.0[..*i].iter().any(|(earlier, _)| earlier == k))
            .map(|(_, (k, _))| k.as_str())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn params_drop_empty_values_and_spot_repeats() {
        let p = Params::parse(b"a=1&b=&c=x%20y&a=2");
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
        assert_eq!(p.repeated(), Some("a"));
        assert_eq!(Params::parse(b"a=1&b=2").repeated(), None);
    }

    #[test]
    fn basic_auth_is_form_encoded() {
        let c = ClientConfig::new("id:1", "p+w/=", ["com.x:/cb"]);
        let v = basic_auth(&c).unwrap();
        assert!(v.is_sensitive());
        let encoded = v.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
        assert_eq!(decoded, "id%3A1:p%2Bw%2F%3D");
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, v);
        assert_eq!(basic_user(&h).unwrap().as_deref(), Some("id:1"));
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
