//! The router, the health endpoints and the log line of requests other than the token one.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::outcome::{elapsed_ms, truncate};
use crate::state::AppState;
use crate::token;

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
    if app.draining() {
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
    let latency_ms = elapsed_ms(started);
    let path = truncate(&path, 128);
    if matches!(path, "/healthz" | "/readyz") {
        tracing::debug!(%method, path, status, latency_ms, client_ip = ?peer, "request");
    } else {
        tracing::info!(%method, path, status, latency_ms, client_ip = ?peer, "request");
    }
    response
}
