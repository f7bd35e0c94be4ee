//! The Platform API routes of the contact centre (api origin): presence, routing status,
//! queues, users, stations and calls (those handlers are in `conversations`). Genesys's methods,
//! shapes, status codes and error bodies.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{middleware, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{cors, require};
use super::conversations::{
    create_call, digits, get_call, list_calls, patch_participant, replace, wrapup_codes,
};
use super::notify;
use crate::centre::hub::Floor;
use crate::centre::model::{page, AVAILABLE, IDLE, OFF_QUEUE, ON_QUEUE};
use crate::http::{paging, parse_body, query, ApiError};
use crate::state::{AppState, Shared};
use crate::store::AccessInfo;

pub(super) type ApiResult = Result<Response, ApiError>;

/// The contact-centre routes plus `extra` (users/me, tokens/me), all behind CORS.
pub fn router(app: AppState, extra: Router<AppState>) -> Router<AppState> {
    let users = "/api/v2/users/{userId}";
    let call = "/api/v2/conversations/calls/{conversationId}";
    let participant = "/api/v2/conversations/calls/{conversationId}/participants/{participantId}";
    Router::new()
        .route("/api/v2/users", get(list_users))
        .route("/api/v2/presencedefinitions", get(presence_definitions))
        .route(
            &format!("{users}/presences/purecloud"),
            patch(patch_presence).get(get_presence),
        )
        .route(
            &format!("{users}/routingstatus"),
            get(get_routing_status).put(put_routing_status),
        )
        .route(&format!("{users}/queues"), get(user_queues))
        .route(
            &format!("{users}/queues/{{queueId}}"),
            patch(patch_user_queue),
        )
        .route("/api/v2/routing/queues", get(routing_queues))
        .route("/api/v2/stations/{stationId}", get(station))
        .route(
            "/api/v2/conversations/calls",
            get(list_calls).post(create_call),
        )
        .route(call, get(get_call))
        .route(participant, patch(patch_participant))
        .route(&format!("{participant}/wrapupcodes"), get(wrapup_codes))
        .route(&format!("{participant}/replace"), post(replace))
        .route(
            "/api/v2/conversations/{conversationId}/participants/{participantId}/digits",
            post(digits),
        )
        .merge(notify::routes())
        .merge(extra)
        .layer(middleware::from_fn_with_state(app, cors))
}

/// The path's user must be the token's user: 403 for another directory user, 404 otherwise.
fn own_user(floor: &Floor, info: &AccessInfo, user_id: &str) -> Result<(), ApiError> {
    if user_id == info.user.id {
        Ok(())
    } else if floor.directory.user(user_id).is_some() {
        Err(ApiError::not_authorized())
    } else {
        Err(ApiError::not_found())
    }
}

/// `GET /api/v2/users`: the directory (transfer targets).
async fn list_users(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    require(&app, &headers, "users:readonly")?;
    let (size, number) = paging(&query(raw));
    let users: Vec<Value> = app
        .centre
        .floor()
        .directory
        .users
        .iter()
        .map(|u| u.view())
        .collect();
    Ok(Json(page(users, size, number)).into_response())
}

/// `GET /api/v2/presencedefinitions`.
async fn presence_definitions(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    require(&app, &headers, "presence:readonly")?;
    let (size, number) = paging(&query(raw));
    let defs: Vec<Value> = app
        .centre
        .floor()
        .directory
        .presences
        .iter()
        .map(|p| p.view())
        .collect();
    Ok(Json(page(defs, size, number)).into_response())
}

/// `GET /api/v2/users/{userId}/presences/purecloud`.
async fn get_presence(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> ApiResult {
    let info = require(&app, &headers, "presence:readonly")?;
    let mut floor = app.centre.floor();
    own_user(&floor, &info, &user_id)?;
    let agent = floor.agent(&info.user).clone();
    let def = floor.directory.presence(&agent.presence_id).cloned();
    Ok(Json(agent.presence_view(def.as_ref())).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PresencePatch {
    presence_definition: Option<IdOnly>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: Option<String>,
}

/// `PATCH /api/v2/users/{userId}/presences/purecloud` body `{presenceDefinition: {id}}`.
async fn patch_presence(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let info = require(&app, &headers, "presence")?;
    let request: PresencePatch = parse_body(body)?;
    let presence_id = request
        .presence_definition
        .and_then(|p| p.id)
        .ok_or_else(|| ApiError::bad_request("presenceDefinition.id is required."))?;
    let mut floor = app.centre.floor();
    own_user(&floor, &info, &user_id)?;
    floor.agent(&info.user);
    let demo = app.centre.settings.ring_after_on_queue.is_some();
    let schedule = floor.set_presence(&user_id, &presence_id, demo)?;
    let agent = floor.agent(&info.user).clone();
    let def = floor.directory.presence(&agent.presence_id).cloned();
    drop(floor);
    if schedule {
        schedule_demo_call(&app, user_id);
    }
    Ok(Json(agent.presence_view(def.as_ref())).into_response())
}

/// Rings the demo call `ring_after_on_queue` after going On Queue for the first time.
fn schedule_demo_call(app: &AppState, user_id: String) {
    let Some(delay) = app.centre.settings.ring_after_on_queue else {
        return;
    };
    let app: Arc<Shared> = app.clone();
    tokio::spawn(async move {
        app.sleep_unless_shutdown(delay).await;
        let mut attributes = BTreeMap::new();
        attributes.insert("demo".to_owned(), "true".to_owned());
        let result = app.centre.floor().ring(
            &user_id,
            None,
            "+15550100",
            Some("Demo Caller"),
            attributes,
            false,
        );
        match result {
            Ok(id) => tracing::info!(conversation = %id, "demo call ringing"),
            Err(e) => tracing::info!(error = %e, "demo call skipped"),
        }
    });
}

/// `GET /api/v2/users/{userId}/routingstatus`.
async fn get_routing_status(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> ApiResult {
    let info = require(&app, &headers, "routing:readonly")?;
    let mut floor = app.centre.floor();
    own_user(&floor, &info, &user_id)?;
    Ok(Json(floor.agent(&info.user).routing_view()).into_response())
}

#[derive(Deserialize)]
struct RoutingPut {
    status: Option<String>,
}

/// `PUT /api/v2/users/{userId}/routingstatus` body `{status: IDLE | OFF_QUEUE}`: IDLE puts the
/// agent On Queue, OFF_QUEUE back to Available.
async fn put_routing_status(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let info = require(&app, &headers, "routing")?;
    let request: RoutingPut = parse_body(body)?;
    let mut floor = app.centre.floor();
    own_user(&floor, &info, &user_id)?;
    floor.agent(&info.user);
    let target = match request.status.as_deref() {
        Some(IDLE) => ON_QUEUE,
        Some(OFF_QUEUE) => AVAILABLE,
        other => {
            return Err(ApiError::bad_request(format!(
                "The routing status {} cannot be set; use IDLE or OFF_QUEUE.",
                other.unwrap_or("(none)")
            )))
        }
    };
    let presence_id = floor
        .directory
        .presence_named(target)
        .map(|p| p.id.clone())
        .ok_or_else(|| ApiError::bad_request(format!("The org has no '{target}' presence.")))?;
    let demo = app.centre.settings.ring_after_on_queue.is_some();
    let schedule = floor.set_presence(&user_id, &presence_id, demo)?;
    let view = floor.agent(&info.user).routing_view();
    drop(floor);
    if schedule {
        schedule_demo_call(&app, user_id);
    }
    Ok(Json(view).into_response())
}

fn user_queue_view(floor: &Floor, queue_id: &str, joined: bool) -> Option<Value> {
    let queue = floor.directory.queue(queue_id)?;
    let members = floor
        .agents
        .values()
        .filter(|a| a.queues.iter().any(|(q, _)| q == queue_id))
        .count();
    let mut v = queue.view(members);
    v["joined"] = json!(joined);
    Some(v)
}

/// `GET /api/v2/users/{userId}/queues`.
async fn user_queues(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let info = require(&app, &headers, "routing:readonly")?;
    let (size, number) = paging(&query(raw));
    let mut floor = app.centre.floor();
    own_user(&floor, &info, &user_id)?;
    let queues = floor.agent(&info.user).queues.clone();
    let views = queues
        .iter()
        .filter_map(|(q, joined)| user_queue_view(&floor, q, *joined))
        .collect();
    Ok(Json(page(views, size, number)).into_response())
}

#[derive(Deserialize)]
struct JoinedPatch {
    joined: Option<bool>,
}

/// `PATCH /api/v2/users/{userId}/queues/{queueId}` body `{joined}`.
async fn patch_user_queue(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((user_id, queue_id)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let info = require(&app, &headers, "routing")?;
    let request: JoinedPatch = parse_body(body)?;
    let joined = request
        .joined
        .ok_or_else(|| ApiError::bad_request("joined is required."))?;
    let mut floor = app.centre.floor();
    own_user(&floor, &info, &user_id)?;
    let agent = floor.agent(&info.user);
    let entry = agent
        .queues
        .iter_mut()
        .find(|(q, _)| *q == queue_id)
        .ok_or_else(ApiError::not_found)?;
    entry.1 = joined;
    let view = user_queue_view(&floor, &queue_id, joined).ok_or_else(ApiError::not_found)?;
    Ok(Json(view).into_response())
}

/// `GET /api/v2/routing/queues?name=prefix` (transfer targets).
async fn routing_queues(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    require(&app, &headers, "routing:readonly")?;
    let params = query(raw);
    let (size, number) = paging(&params);
    let prefix = params
        .get("name")
        .unwrap_or_default()
        .trim_end_matches('*')
        .to_lowercase();
    let floor = app.centre.floor();
    let views = floor
        .directory
        .queues
        .iter()
        .filter(|q| q.name.to_lowercase().starts_with(&prefix))
        .map(|q| {
            q.view(
                floor
                    .agents
                    .values()
                    .filter(|a| a.queues.iter().any(|(id, _)| *id == q.id))
                    .count(),
            )
        })
        .collect();
    Ok(Json(page(views, size, number)).into_response())
}

/// `GET /api/v2/stations/{stationId}`.
async fn station(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(station_id): Path<String>,
) -> ApiResult {
    let info = require(&app, &headers, "stations:readonly")?;
    let mut floor = app.centre.floor();
    floor.agent(&info.user);
    let view = floor
        .agents
        .values()
        .find(|a| a.station_id == station_id)
        .map(|a| a.station_view())
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(view).into_response())
}
