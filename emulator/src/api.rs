//! The Platform API endpoints the shell and the embedded client call with a bearer token.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::app::{header_value, AppState};
use crate::store::FaultTarget;

/// `GET /api/v2/users/me`.
pub async fn users_me(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let token = bearer_token(&headers);
    let mut store = app.store();
    if store.next_fault(FaultTarget::UsersMe).is_some() {
        store.counters.users_me_unauthorized += 1;
        drop(store);
        tracing::info!("injecting users/me fault");
        return unauthorized(token.is_some());
    }
    let info = token.and_then(|t| store.authenticate(t));
    match info {
        Some(info) => {
            store.counters.users_me_ok += 1;
            drop(store);
            let user = info.user;
            Json(json!({
                "id": user.id,
                "name": user.name,
                "email": user.email,
                "username": user.username,
                "state": "active",
            }))
            .into_response()
        }
        None => {
            store.counters.users_me_unauthorized += 1;
            drop(store);
            unauthorized(token.is_some())
        }
    }
}

/// `GET /api/v2/tokens/me`: what the token grants and when it expires.
pub async fn tokens_me(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let token = bearer_token(&headers);
    let info = token.and_then(|t| app.store().authenticate(t));
    let Some(info) = info else {
        return unauthorized(token.is_some());
    };
    let remaining = info.expires_at.saturating_duration_since(Instant::now());
    Json(json!({
        "expires_in": remaining.as_secs(),
        "expirationDate": rfc3339(info.expires_at_wall),
        "authorizedScope": info.scopes,
        "OAuthClient": { "id": info.client_id },
    }))
    .into_response()
}

/// `DELETE /api/v2/tokens/me`: signs the whole login out (its access and refresh tokens).
pub async fn delete_tokens_me(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let token = bearer_token(&headers);
    let revoked = token.is_some_and(|t| app.store().revoke_by_access_token(t));
    if revoked {
        tracing::info!("token family revoked through DELETE /api/v2/tokens/me");
        StatusCode::NO_CONTENT.into_response()
    } else {
        unauthorized(token.is_some())
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The Platform API's 401 body.
fn unauthorized(had_token: bool) -> Response {
    let message = if had_token {
        "Invalid login credentials."
    } else {
        "No authentication bearer token specified in authorization header."
    };
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, header_value("Bearer"))],
        Json(json!({ "status": 401, "code": "bad.credentials", "message": message })),
    )
        .into_response()
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
}
