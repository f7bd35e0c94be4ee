//! Errors from starting or reloading the broker, and the RFC 6749 5.2 error responses it sends.

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::Duration;

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use oauth_wire::{ErrorCode, NO_STORE_HEADERS};

use crate::config::ConfigError;

/// Why the broker could not start or reload. Never carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot load the TLS certificate {cert} or key {key}: {reason}")]
    Tls {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
    #[error("cannot build the HTTP client for the upstream token endpoint: {0}")]
    Http(String),
}

/// An OAuth error answer. Descriptions are fixed text: nothing from the request is echoed.
#[derive(Debug)]
pub(crate) struct OAuthError {
    pub status: StatusCode,
    pub error: ErrorCode,
    pub description: Cow<'static, str>,
    pub retry_after: Option<Duration>,
}

impl OAuthError {
    pub fn new(
        status: StatusCode,
        error: ErrorCode,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(error: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, description)
    }

    pub fn invalid_client(description: &'static str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidClient,
            description,
        )
    }

    pub fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = Some(retry_after);
        self
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": self.error,
            "error_description": self.description,
        });
        let mut response = (self.status, Json(body)).into_response();
        let h = response.headers_mut();
        no_store(h);
        if let Some(after) = self.retry_after {
            // Whole seconds, at least 1: a Retry-After of 0 invites a tight loop.
            let secs = after.as_secs().max(1);
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                h.insert(header::RETRY_AFTER, v);
            }
        }
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6749 5.2: a 401 for a failed client authentication names the scheme.
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"agent-shell-broker\""),
            );
        }
        response
    }
}

/// RFC 6749 5.1: token responses (and their errors) must not be cached.
pub(crate) fn no_store(h: &mut axum::http::HeaderMap) {
    for (name, value) in NO_STORE_HEADERS {
        h.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
}

/// 429 with Retry-After, in the OAuth error shape the shell already retries on.
pub(crate) fn rate_limited(wait: Duration, description: &'static str) -> Response {
    OAuthError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::TemporarilyUnavailable,
        description,
    )
    .with_retry_after(wait.max(Duration::from_secs(1)))
    .into_response()
}
