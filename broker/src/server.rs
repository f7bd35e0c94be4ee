//! Shared state, the router, health endpoints, the per-IP rate limit and the request log.
//!
//! The configuration in force is one immutable [`Live`] behind an `Arc`; a reload builds a new
//! one and swaps it in, so a request sees one consistent configuration from start to end.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use serde_json::json;
use url::Url;

use crate::config::{BrokerConfig, ClientConfig, RateLimit};
use crate::error::{BrokerError, OAuthError};
use crate::seal::SealingKeys;
use crate::token;

/// The upstream connection attempt gets at most this much of the whole timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A per-IP limiter and the quota it was built with (kept across reloads that do not change it).
pub(crate) struct Limiter {
    pub quota: RateLimit,
    pub inner: DefaultKeyedRateLimiter<IpAddr>,
}

impl Limiter {
    fn new(quota: &RateLimit) -> Self {
        Self {
            quota: quota.clone(),
            inner: DefaultKeyedRateLimiter::keyed(
                Quota::per_second(quota.per_second).allow_burst(quota.burst),
            ),
        }
    }

    /// `Err(wait)` when `ip` is over its quota.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        self.inner
            .check_key(&ip)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// The configuration in force, ready to serve.
pub(crate) struct Live {
    pub clients: HashMap<String, ClientConfig>,
    pub keys: SealingKeys,
    pub upstream: Url,
    pub http: reqwest::Client,
    pub body_limit: usize,
    pub retry_after: Duration,
    pub limiter: Option<Arc<Limiter>>,
    pub generation: u64,
}

impl Live {
    /// Builds the state for `config`, reusing `previous`'s limiter when the quota is unchanged
    /// (so a reload does not hand every IP a fresh burst).
    pub fn build(config: &BrokerConfig, previous: Option<&Live>) -> Result<Self, BrokerError> {
        let http = reqwest::Client::builder()
            // A token endpoint that redirects is misconfigured; following it could send the
            // client secret somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.upstream_timeout)
            .connect_timeout(config.upstream_timeout.min(CONNECT_TIMEOUT))
            .user_agent(concat!("agent-shell-broker/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| BrokerError::Http(e.to_string()))?;
        let limiter = config.rate_limit.as_ref().map(|quota| {
            previous
                .and_then(|p| p.limiter.as_ref())
                .filter(|l| l.quota == *quota)
                .cloned()
                .unwrap_or_else(|| Arc::new(Limiter::new(quota)))
        });
        Ok(Self {
            clients: config
                .clients
                .iter()
                .map(|c| (c.client_id.clone(), c.clone()))
                .collect(),
            keys: config.keys.clone(),
            upstream: config.upstream_token_url.clone(),
            http,
            body_limit: config.body_limit,
            retry_after: config.upstream_retry_after,
            limiter,
            generation: previous.map_or(1, |p| p.generation + 1),
        })
    }
}

pub(crate) struct Shared {
    live: RwLock<Arc<Live>>,
    /// Set when shutting down: readiness fails so load balancers stop sending traffic.
    draining: AtomicBool,
}

pub(crate) type AppState = Arc<Shared>;

impl Shared {
    pub fn new(live: Live) -> Self {
        Self {
            live: RwLock::new(Arc::new(live)),
            draining: AtomicBool::new(false),
        }
    }

    /// The configuration in force. The lock is held only to clone the `Arc`; a poisoned lock
    /// still holds a complete `Arc`, so it is taken over.
    pub fn live(&self) -> Arc<Live> {
        self.live
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn replace(&self, live: Live) {
        *self.live.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(live);
    }

    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }
}

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/oauth/token", post(token::token))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .layer(middleware::from_fn(request_log))
        .with_state(state)
}

/// Liveness: the process answers.
async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// Readiness: a configuration with keys is loaded and the broker is not shutting down. Cheap on
/// purpose (no upstream call): a Genesys outage must not take every replica out of the load
/// balancer, since the broker's own 503 tells the shell to retry.
async fn readyz(State(app): State<AppState>) -> Response {
    if app.draining.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "shutting_down" })),
        )
            .into_response();
    }
    let live = app.live();
    Json(json!({
        "status": "ready",
        "config_generation": live.generation,
        "clients": live.clients.len(),
        "current_key_id": live.keys.current.id(),
        "previous_key_id": live.keys.previous.as_ref().map(|k| k.id()),
    }))
    .into_response()
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({ "error": "not_found" }))).into_response()
}

/// Logs requests other than `/oauth/token` (which logs its own, richer line): probes at debug,
/// anything else at info. Only the path is logged, never the query string.
async fn request_log(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    if path == "/oauth/token" {
        return next.run(request).await;
    }
    let method = request.method().clone();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let latency_ms = (started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0;
    let path = truncate(&path, 128);
    if matches!(path, "/healthz" | "/readyz") {
        tracing::debug!(%method, path, status, latency_ms, client_ip = ?peer, "request");
    } else {
        tracing::info!(%method, path, status, latency_ms, client_ip = ?peer, "request");
    }
    response
}

/// The client IP for rate limiting: the TCP peer, or the address a trusted proxy put in
/// `header`. For `X-Forwarded-For` the right-most entry is taken: entries to its left come from
/// the client and can be forged. A missing or unreadable header falls back to the peer.
pub(crate) fn client_ip(peer: IpAddr, headers: &HeaderMap, header: Option<&HeaderName>) -> IpAddr {
    let Some(name) = header else {
        return peer;
    };
    headers
        .get_all(name)
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse::<IpAddr>().ok())
        .unwrap_or(peer)
}

/// 429 with Retry-After, in the OAuth error shape the shell already retries on.
pub(crate) fn rate_limited(wait: Duration) -> Response {
    OAuthError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "temporarily_unavailable",
        "too many requests from this address; retry later",
    )
    .with_retry_after(wait.max(Duration::from_secs(1)))
    .into_response()
}

/// At most `max` bytes of `text`, cut on a character boundary (for logging request data).
pub(crate) fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Whether `headers` declare a body longer than `limit` (checked before reading it).
pub(crate) fn declared_too_large(headers: &HeaderMap, limit: usize) -> bool {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|len| len > limit as u64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use axum::http::HeaderValue;
    use std::num::NonZeroU32;

    #[test]
    fn client_ip_uses_the_rightmost_forwarded_entry() {
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.1.1.1, 203.0.113.7"),
        );
        let xff = HeaderName::from_static("x-forwarded-for");
        assert_eq!(client_ip(peer, &h, None), peer);
        assert_eq!(
            client_ip(peer, &h, Some(&xff)),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        h.insert("x-forwarded-for", HeaderValue::from_static("garbage"));
        assert_eq!(client_ip(peer, &h, Some(&xff)), peer);
        let real = HeaderName::from_static("x-real-ip");
        h.insert("x-real-ip", HeaderValue::from_static("2001:db8::1"));
        assert_eq!(
            client_ip(peer, &h, Some(&real)),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn limiter_allows_the_burst_then_refuses() {
        let limiter = Limiter::new(&RateLimit {
            per_second: NonZeroU32::new(1).unwrap(),
            burst: NonZeroU32::new(3).unwrap(),
            client_ip_header: None,
        });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            limiter.check(a).unwrap();
        }
        let wait = limiter.check(a).unwrap_err();
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        limiter.check(b).unwrap();
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
