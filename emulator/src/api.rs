//! The Platform API endpoints the shell and the embedded client call with a bearer token.

use std::time::Instant;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::centre::model::{ORG_ID, ORG_NAME};
use crate::http::{bearer_token, rfc3339, ApiError};
use crate::platform::auth::check_scope;
use crate::state::AppState;
use crate::store::FaultTarget;

/// `GET /api/v2/users/me[?expand=presence,routingStatus,station,organization]` (`UserMe`).
/// Needs `users:readonly`; `expand=organization` also `organization:readonly`.
pub async fn users_me(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let token = bearer_token(&headers);
    let mut store = app.store();
    if store.next_fault(FaultTarget::UsersMe).is_some() {
        store.counters.users_me_unauthorized += 1;
        drop(store);
        tracing::info!("injecting users/me fault");
        return ApiError::unauthorized(token.is_some()).into_response();
    }
    let info = token.and_then(|t| store.authenticate(t));
    match info {
        Some(info) => {
            drop(store);
            let expand = expansions(query.as_deref().unwrap_or_default());
            let mut scopes = vec!["users:readonly"];
            if expand.iter().any(|e| e == "organization") {
                scopes.push("organization:readonly");
            }
            if let Some(error) = scopes.iter().find_map(|s| check_scope(&info, s).err()) {
                return error.into_response();
            }
            app.store().counters.users_me_ok += 1;
            let user = &info.user;
            let mut body = json!({
                "id": user.id,
                "name": user.name,
                "email": user.email,
                "username": user.username,
                "state": "active",
            });
            let mut floor = app.centre.floor();
            let agent = floor.agent(user).clone();
            for e in &expand {
                match e.as_str() {
                    "presence" => {
                        let def = floor.directory.presence(&agent.presence_id);
                        body["presence"] = agent.presence_view(def);
                    }
                    "routingStatus" => body["routingStatus"] = agent.routing_view(),
                    "station" => body["station"] = agent.stations_view(),
                    "organization" => {
                        body["organization"] = json!({ "id": ORG_ID, "name": ORG_NAME });
                    }
                    _ => {}
                }
            }
            drop(floor);
            Json(body).into_response()
        }
        None => {
            store.counters.users_me_unauthorized += 1;
            drop(store);
            ApiError::unauthorized(token.is_some()).into_response()
        }
    }
}

/// `GET /api/v2/tokens/me`: what the token grants and when it expires.
pub async fn tokens_me(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let token = bearer_token(&headers);
    let info = token.and_then(|t| app.store().authenticate(t));
    let Some(info) = info else {
        return ApiError::unauthorized(token.is_some()).into_response();
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
        ApiError::unauthorized(token.is_some()).into_response()
    }
}

/// The `expand` values of a query: `expand=a,b` and/or `expand=a&expand=b`.
fn expansions(query: &str) -> Vec<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "expand")
        .flat_map(|(_, v)| {
            v.split(',')
                .map(|e| e.trim().to_owned())
                .filter(|e| !e.is_empty())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_accepts_lists_and_repeats() {
        assert_eq!(
            expansions("expand=presence,routingStatus&expand=station&x=1"),
            vec!["presence", "routingStatus", "station"]
        );
        assert!(expansions("").is_empty());
    }
}
