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

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use oauth_wire::{
    client_credentials, is_form_urlencoded, is_valid_code_verifier, parse_basic, ClientAuthError,
    ErrorCode, Params,
};
use secrecy::{ExposeSecret, SecretString};

use crate::config::ClientConfig;
use crate::error::{rate_limited, OAuthError};
use crate::limit::BudgetKind;
use crate::net;
use crate::outcome::{elapsed_ms, truncate, Outcome};
use crate::seal::{self, UnsealError};
use crate::state::{AppState, Live, Shared};
use crate::upstream;

/// A request body must arrive within this (a client trickling bytes must not hold a task).
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest authorization code forwarded (Genesys's are far shorter; junk stays here).
const MAX_CODE_LEN: usize = 1024;

/// A checked request, ready to go upstream.
struct Prepared<'l> {
    client: &'l ClientConfig,
    form: SecretString,
    /// A refresh token opened with the previous key: if Genesys answers without a new one,
    /// the desktop gets it back sealed with the current key, so retiring the previous key
    /// later signs nobody out who has renewed since.
    reseal: Option<SecretString>,
    budget: BudgetKind,
}
pub(crate) async fn token(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let live = app.live();
    let ip = client_ip(&app, &live, peer, request.headers());
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

/// The client's address for the rate limit and the log (see [`net::client_ip`]).
fn client_ip(app: &Shared, live: &Live, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    let quota = live.limiter.as_ref().map(|l| &l.quota);
    let header = quota.and_then(|q| q.client_ip_header.as_ref());
    if header.is_none()
        && (headers.contains_key("x-forwarded-for") || headers.contains_key(header::FORWARDED))
        && !app.warned_unconfigured_proxy.swap(true, Ordering::Relaxed)
    {
        tracing::warn!(
            peer = %peer.ip(),
            "requests arrive through a proxy (they carry X-Forwarded-For or Forwarded) but rate_limit.client_ip_header is not set: every client behind that proxy shares one rate-limit bucket; set client_ip_header and trusted_proxies"
        );
    }
    let trusted = quota.map_or(&[][..], |q| q.trusted_proxies.as_slice());
    net::client_ip(peer.ip(), headers, header, trusted)
}

async fn handle(live: &Live, ip: IpAddr, request: Request, out: &mut Outcome) -> Response {
    if let Some(limiter) = &live.limiter {
        if let Err(wait) = limiter.check(ip) {
            out.error = Some("rate_limited".into());
            return rate_limited(wait, "too many requests from this address; retry later");
        }
    }
    let (parts, body) = request.into_parts();
    let body = match read_body(&parts.headers, body, live.body_limit).await {
        Ok(body) => body,
        Err(e) => return out.fail(e),
    };
    let form_body = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_form_urlencoded);
    if !form_body {
        return out.fail(OAuthError::bad_request(
            ErrorCode::InvalidRequest,
            "the token request must be application/x-www-form-urlencoded",
        ));
    }
    let prepared = match prepare(live, &parts.headers, &body, out) {
        Ok(prepared) => prepared,
        Err(e) => return out.fail(e),
    };
    // Only requests that passed every local check spend the client's upstream budget.
    if let Some(budget) = &live.budget {
        if let Err(wait) = budget.take(&prepared.client.client_id, prepared.budget) {
            out.error = Some("upstream_budget".into());
            return rate_limited(
                wait,
                "the token broker is holding back requests to the sign-in service; retry later",
            );
        }
    }
    upstream::forward(live, prepared.client, prepared.form, prepared.reseal, out).await
}

/// Checks the request against the allow-lists and builds the form for Genesys: only known
/// parameters, the sealed refresh token replaced by the real one. Synchronous on purpose: the
/// form serializer is not `Send`, so it must not live across an `.await`.
fn prepare<'l>(
    live: &'l Live,
    headers: &HeaderMap,
    body: &[u8],
    out: &mut Outcome,
) -> Result<Prepared<'l>, OAuthError> {
    let mut reseal = None;
    let params = Params::parse(body);
    if params.repeated().is_some() {
        return Err(OAuthError::bad_request(
            ErrorCode::InvalidRequest,
            "a parameter was sent more than once",
        ));
    }
    let grant_type = match params.get("grant_type") {
        None => {
            return Err(OAuthError::bad_request(
                ErrorCode::InvalidRequest,
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
                ErrorCode::UnsupportedGrantType,
                "the token broker supports authorization_code and refresh_token",
            ))
        }
        Grant::AuthorizationCode => {
            let (Some(code), Some(redirect_uri)) = (params.get("code"), params.get("redirect_uri"))
            else {
                return Err(OAuthError::bad_request(
                    ErrorCode::InvalidRequest,
                    "code and redirect_uri are required",
                ));
            };
            // PKCE stays on end to end: the verifier is forwarded as sent, and required.
            let Some(verifier) = params.get("code_verifier") else {
                return Err(OAuthError::bad_request(
                    ErrorCode::InvalidRequest,
                    "code_verifier is required (PKCE)",
                ));
            };
            // RFC 7636 4.1: a verifier of any other shape cannot be right; an oversized code
            // cannot be Genesys's. Neither goes upstream.
            if !is_valid_code_verifier(verifier) || code.len() > MAX_CODE_LEN {
                return Err(OAuthError::bad_request(
                    ErrorCode::InvalidRequest,
                    "code or code_verifier is malformed",
                ));
            }
            if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
                return Err(OAuthError::bad_request(
                    ErrorCode::InvalidGrant,
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
                    ErrorCode::InvalidRequest,
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
    let budget = match grant_type {
        Grant::RefreshToken => BudgetKind::Refresh,
        _ => BudgetKind::Code,
    };
    Ok(Prepared {
        client,
        form: SecretString::from(form.finish()),
        reseal,
        budget,
    })
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
    OAuthError::bad_request(ErrorCode::InvalidGrant, description)
}

async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Vec<u8>, OAuthError> {
    let too_large = || {
        OAuthError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::InvalidRequest,
            format!("the request body is larger than {limit} bytes"),
        )
    };
    if declared_too_large(headers, limit) {
        return Err(too_large());
    }
    let read = tokio::time::timeout(BODY_READ_TIMEOUT, Limited::new(body, limit).collect());
    match read.await {
        Ok(Ok(collected)) => Ok(collected.to_bytes().to_vec()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Ok(Err(_)) => Err(OAuthError::bad_request(
            ErrorCode::InvalidRequest,
            "the request body could not be read",
        )),
        Err(_) => Err(OAuthError::new(
            StatusCode::REQUEST_TIMEOUT,
            ErrorCode::InvalidRequest,
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
    let basic = headers
        .get(header::AUTHORIZATION)
        .map_or(Ok(None), |v| parse_basic(v.as_bytes()))
        .map_err(|_| OAuthError::invalid_client("malformed HTTP Basic credentials"))?
        // A Basic header without a user name names no client.
        .filter(|b| !b.client_id.is_empty());
    // Any secret is ignored (the broker holds the real one), so none is passed on.
    let credentials = client_credentials(basic, body_id, None).map_err(|e| match e {
        ClientAuthError::Missing => OAuthError::invalid_client("client_id is required"),
        ClientAuthError::MalformedBasic => {
            OAuthError::invalid_client("malformed HTTP Basic credentials")
        }
        ClientAuthError::ClientIdMismatch | ClientAuthError::MultipleMethods => {
            OAuthError::bad_request(
                ErrorCode::InvalidRequest,
                "client_id does not match the HTTP Basic credentials",
            )
        }
    })?;
    let client_id = credentials.client_id.as_str();
    out.client_id = Some(truncate(client_id, 64).to_owned());
    live.clients
        .get(client_id)
        .ok_or_else(|| OAuthError::invalid_client("this client is not served by the token broker"))
}

/// Whether `headers` declare a body longer than `limit` (checked before reading it).
fn declared_too_large(headers: &HeaderMap, limit: usize) -> bool {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|len| len > limit as u64)
}
