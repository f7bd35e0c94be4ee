//! The three routers (login, api, media): which handler answers which path on which origin.

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;
use crate::store::LogEntry;
use crate::{api, client_page, control, oauth, platform};

/// Request bodies larger than this are refused (413) before any handler runs.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Which of the three origins a router serves; recorded in the access log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginKind {
    Login,
    Api,
    Media,
}

impl OriginKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Api => "api",
            Self::Media => "media",
        }
    }
}

/// The router for one origin, with the access log and body limit applied.
pub fn router(state: AppState, origin: OriginKind) -> Router {
    let routes = match origin {
        OriginKind::Login => Router::new()
            .route("/oauth/authorize", get(oauth::authorize))
            .route("/oauth/login", post(oauth::login))
            .route(
                "/oauth/token",
                post(oauth::token).options(oauth::token_preflight),
            )
            .route("/logout", get(oauth::logout))
            .merge(control::routes(state.clone())),
        OriginKind::Api => Router::new()
            .route(
                "/api/v2/oauth/token",
                post(oauth::token).options(oauth::token_preflight),
            )
            .merge(platform::routes::router(
                state.clone(),
                Router::new()
                    .route("/api/v2/users/me", get(api::users_me))
                    .route(
                        "/api/v2/tokens/me",
                        get(api::tokens_me).delete(api::delete_tokens_me),
                    ),
            ))
            .merge(client_page::routes()),
        // The media origin hosts the embedded client too; it gets the read-only endpoints the
        // page calls so that "same origin" holds wherever the page is loaded from.
        OriginKind::Media => Router::new()
            .route("/api/v2/users/me", get(api::users_me))
            .route("/api/v2/tokens/me", get(api::tokens_me))
            .merge(client_page::routes()),
    };
    routes
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            (state.clone(), origin),
            access_log,
        ))
        .with_state(state)
}

/// Records every request exactly as received (path and query), before routing.
async fn access_log(
    State((state, origin)): State<(AppState, OriginKind)>,
    request: Request,
    next: Next,
) -> Response {
    let entry = LogEntry {
        origin: origin.as_str(),
        method: request.method().as_str().to_owned(),
        uri: request.uri().path_and_query().map_or_else(
            || request.uri().path().to_owned(),
            |pq| pq.as_str().to_owned(),
        ),
    };
    tracing::debug!(origin = entry.origin, method = %entry.method, uri = %entry.uri, "request");
    state.store().log_request(entry);
    next.run(request).await
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "404 Not Found\n",
    )
        .into_response()
}
