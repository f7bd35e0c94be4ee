//! Small HTTP helpers shared by every handler: query parameters, HTML escaping, header
//! values, bearer tokens, Genesys dates, ids and the Platform API error body. A leaf module:
//! it depends on nothing else in the crate (the OAuth wire details are `oauth_wire`'s).

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use oauth_wire::Params;
use serde::de::DeserializeOwned;
use serde_json::json;

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Header value from a string that is known to be ASCII; falls back to an empty value rather
/// than panicking if it ever is not.
pub fn header_value(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// `2024-05-01T12:00:00.000Z`, the format Genesys uses for dates.
pub fn rfc3339(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs();
    let millis = since_epoch.subsec_millis();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// A random v4 UUID, the shape of every Genesys id.
pub fn uuid_v4() -> String {
    uuid_v4_shaped(rand::random())
}

/// 16 bytes written as a v4 UUID (version and variant bits set).
pub fn uuid_v4_shaped(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A Platform API error: Genesys's `ErrorBody`
/// (`{message, code, status, messageWithParams, messageParams, contextId, details, errors}`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub params: BTreeMap<String, String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            params: BTreeMap::new(),
        }
    }

    /// 400 `bad.request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad.request", message)
    }

    /// 404 `not.found`.
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not.found",
            "The requested resource was not found.",
        )
    }

    /// 403 `not.authorized`.
    pub fn not_authorized() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "not.authorized",
            "You are not authorized to perform the requested action.",
        )
    }

    /// 409 `conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 401 `bad.credentials`: no, an unknown, an expired or a revoked bearer token.
    pub fn unauthorized(had_token: bool) -> Self {
        let message = if had_token {
            "Invalid login credentials."
        } else {
            "No authentication bearer token specified in authorization header."
        };
        Self::new(StatusCode::UNAUTHORIZED, "bad.credentials", message)
    }

    /// 403 `missing.any.scopes`: the token carries none of `scopes`.
    pub fn missing_scope(scopes: &[String]) -> Self {
        let list = scopes.join(", ");
        let mut error = Self::new(
            StatusCode::FORBIDDEN,
            "missing.any.scopes",
            format!(
                "Unable to perform the requested action. You must have at least one of the following scopes: [{list}]"
            ),
        );
        error.params.insert("scopes".to_owned(), list);
        error
    }

    /// The JSON body, without the status line.
    pub fn body(&self) -> serde_json::Value {
        json!({
            "message": self.message,
            "code": self.code,
            "status": self.status.as_u16(),
            "messageWithParams": self.message,
            "messageParams": self.params,
            "contextId": uuid_v4(),
            "details": [],
            "errors": [],
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(self.body());
        if self.status == StatusCode::UNAUTHORIZED {
            (
                self.status,
                [(header::WWW_AUTHENTICATE, header_value("Bearer"))],
                body,
            )
                .into_response()
        } else {
            (self.status, body).into_response()
        }
    }
}

/// Parses a JSON body (whatever the content type), 400 `bad.request` otherwise.
pub fn parse_body<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let body = body.map_err(|r| ApiError::new(r.status(), "bad.request", r.body_text()))?;
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("The request body could not be read: {e}")))
}

/// `pageSize` (default 25) and `pageNumber` (default 1).
pub fn paging(params: &Params) -> (usize, usize) {
    let number = |name: &str, default: usize| {
        params
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    (number("pageSize", 25), number("pageNumber", 1))
}

pub fn query(raw: Option<String>) -> Params {
    Params::parse(raw.unwrap_or_default().as_bytes())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::time::Duration;

    #[test]
    fn escapes_html() {
        assert_eq!(
            escape_html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_millis(951_782_400_123)),
            "2000-02-29T00:00:00.123Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_735_689_599)),
            "2024-12-31T23:59:59.000Z"
        );
    }

    #[test]
    fn parses_bearer() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer_token(&h), None);
        h.insert(header::AUTHORIZATION, header_value("bearer  abc "));
        assert_eq!(bearer_token(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, header_value("Basic abc"));
        assert_eq!(bearer_token(&h), None);
    }

    #[test]
    fn uuids_are_v4_shaped() {
        let id = uuid_v4();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, uuid_v4());
    }

    #[test]
    fn error_body_has_every_genesys_field() {
        let body = ApiError::missing_scope(&["presence".to_owned()]).body();
        for field in [
            "message",
            "code",
            "status",
            "messageWithParams",
            "messageParams",
            "contextId",
            "details",
            "errors",
        ] {
            assert!(body.get(field).is_some(), "{field}: {body}");
        }
        assert_eq!(body["status"], 403);
        assert!(body["message"].as_str().unwrap().contains("presence"));
    }
}
