//! CORS on the token endpoint: a webview-based client on a trusted domain may call it.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::http::header_value;
use crate::state::AppState;

/// Headers a trusted web origin may send to the token endpoint (no invented client headers:
/// an OAuth client sends these two).
pub const CORS_ALLOWED_HEADERS: &str = "Authorization, Content-Type";
pub const CORS_ALLOWED_METHODS: &str = "POST, GET, OPTIONS";

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
pub(super) fn trusted_origin<'h>(
    trusted_domains: &[String],
    headers: &'h HeaderMap,
) -> Option<&'h str> {
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
}
