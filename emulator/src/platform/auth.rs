//! Bearer tokens and scopes for the Platform API routes, and their CORS.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::http::{bearer_token, header_value, ApiError};
use crate::state::AppState;
use crate::store::{AccessInfo, FaultTarget};

/// Methods and headers the agent client may use cross-origin.
const ALLOW_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
const ALLOW_HEADERS: &str = "Authorization, Content-Type";

/// Whether `granted` satisfies `needed`: the scope itself, or for `X:readonly` also `X`.
pub fn has_scope(granted: &[String], needed: &str) -> bool {
    granted.iter().any(|g| g == needed)
        || needed
            .strip_suffix(":readonly")
            .is_some_and(|base| granted.iter().any(|g| g == base))
}

/// The scopes that would satisfy `needed`, for the error message.
fn satisfying(needed: &str) -> Vec<String> {
    match needed.strip_suffix(":readonly") {
        Some(base) => vec![base.to_owned(), needed.to_owned()],
        None => vec![needed.to_owned()],
    }
}

/// The live token of the request, which must carry `needed` (401 / 403 otherwise).
pub fn require(app: &AppState, headers: &HeaderMap, needed: &str) -> Result<AccessInfo, ApiError> {
    let token = bearer_token(headers);
    if token.is_some() && app.store().next_fault(FaultTarget::Api).is_some() {
        return Err(ApiError::unauthorized(true));
    }
    let info = token
        .and_then(|t| app.store().authenticate(t))
        .ok_or_else(|| ApiError::unauthorized(token.is_some()))?;
    check_scope(&info, needed)?;
    Ok(info)
}

/// 403 naming the missing scope unless `info` carries `needed`.
pub fn check_scope(info: &AccessInfo, needed: &str) -> Result<(), ApiError> {
    if has_scope(&info.scopes, needed) {
        Ok(())
    } else {
        Err(ApiError::missing_scope(&satisfying(needed)))
    }
}

/// CORS for the Platform API routes: preflights are answered here; other responses get
/// `Access-Control-Allow-Origin` with the exact origin when it is allowed. Never `*`.
pub async fn cors(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_owned);
    let allowed = origin
        .as_deref()
        .filter(|o| app.centre.settings.cors_origins.iter().any(|a| a == o))
        .map(str::to_owned);
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let method_ok = request
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|m| m.to_str().ok())
            .is_some_and(|m| ALLOW_METHODS.split(", ").any(|a| a == m));
        let headers_ok = request
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .and_then(|h| h.to_str().ok())
            .is_none_or(|h| {
                h.split(',')
                    .map(str::trim)
                    .filter(|h| !h.is_empty())
                    .all(|h| ALLOW_HEADERS.split(", ").any(|a| a.eq_ignore_ascii_case(h)))
            });
        return match allowed {
            Some(origin) if method_ok && headers_ok => (
                StatusCode::NO_CONTENT,
                [
                    (header::ACCESS_CONTROL_ALLOW_ORIGIN, header_value(&origin)),
                    (
                        header::ACCESS_CONTROL_ALLOW_METHODS,
                        header_value(ALLOW_METHODS),
                    ),
                    (
                        header::ACCESS_CONTROL_ALLOW_HEADERS,
                        header_value(ALLOW_HEADERS),
                    ),
                    (header::ACCESS_CONTROL_MAX_AGE, header_value("600")),
                    (header::VARY, header_value("Origin")),
                ],
            )
                .into_response(),
            _ => (
                StatusCode::FORBIDDEN,
                [(header::VARY, header_value("Origin"))],
            )
                .into_response(),
        };
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.append(header::VARY, header_value("Origin"));
    if let Some(origin) = allowed {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, header_value(&origin));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_scope_implies_its_readonly_form() {
        assert!(has_scope(&s(&["presence"]), "presence:readonly"));
        assert!(has_scope(&s(&["presence"]), "presence"));
        assert!(has_scope(&s(&["presence:readonly"]), "presence:readonly"));
        assert!(!has_scope(&s(&["presence:readonly"]), "presence"));
        assert!(!has_scope(&s(&["routing"]), "presence:readonly"));
        assert_eq!(
            satisfying("users:readonly"),
            s(&["users", "users:readonly"])
        );
    }
}
