//! The token endpoint's RFC 6749 5.2 error answer.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use oauth_wire::ErrorCode;

use crate::http::header_value;

/// An RFC 6749 5.2 error response.
#[derive(Debug)]
pub(super) struct OAuthError {
    pub(super) status: StatusCode,
    pub(super) error: ErrorCode,
    pub(super) description: String,
}

impl OAuthError {
    pub(super) fn bad_request(error: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
        }
    }

    pub(super) fn invalid_client(description: &str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: ErrorCode::InvalidClient,
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

/// RFC 6749 5.2 error body.
pub(super) fn oauth_error(status: StatusCode, error: ErrorCode, description: &str) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": error, "error_description": description })),
    )
        .into_response()
}
