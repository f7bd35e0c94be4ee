//! The Platform API routes of the contact centre (api origin): presence, routing status,
//! queues, users, stations and calls. Genesys's methods, shapes, status codes and error bodies.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{middleware, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{cors, require};
use super::notify;
use crate::centre::calls::{valid_digits, Call, ParticipantChange, Ref, TransferTarget};
use crate::centre::hub::Floor;
use crate::centre::model::{page, AVAILABLE, IDLE, OFF_QUEUE, ON_QUEUE};
use crate::http::{paging, parse_body, query, ApiError};
use crate::state::{AppState, Shared};
use crate::store::AccessInfo;

type ApiResult = Result<Response, ApiError>;

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

/// `GET /api/v2/conversations/calls`: the user's active calls.
async fn list_calls(State(app): State<AppState>, headers: HeaderMap) -> ApiResult {
    let info = require(&app, &headers, "conversations:readonly")?;
    let floor = app.centre.floor();
    let calls: Vec<Value> = floor
        .calls
        .iter()
        .filter(|c| c.agent_user_id == info.user.id && c.is_active())
        .map(|c| c.view(false))
        .collect();
    Ok(Json(json!({ "entities": calls })).into_response())
}

/// `GET /api/v2/conversations/calls/{conversationId}`.
async fn get_call(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let info = require(&app, &headers, "conversations:readonly")?;
    let floor = app.centre.floor();
    let call = floor
        .calls
        .iter()
        .find(|c| c.id == id && c.agent_user_id == info.user.id)
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(call.view(false)).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateCall {
    phone_number: Option<String>,
}

/// `POST /api/v2/conversations/calls` body `{phoneNumber}` -> `{id}`.
async fn create_call(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let info = require(&app, &headers, "conversations")?;
    let request: CreateCall = parse_body(body)?;
    let number = request
        .phone_number
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("phoneNumber is required."))?;
    let mut floor = app.centre.floor();
    let agent = floor.agent(&info.user).user.clone();
    let call = Call::outbound(
        Ref {
            id: agent.id,
            name: agent.name,
        },
        number.trim(),
        std::time::SystemTime::now(),
    );
    let id = floor.add_call(call);
    drop(floor);
    let delay = app.centre.settings.outbound_connect_delay;
    let task_app = app.clone();
    let task_id = id.clone();
    tokio::spawn(async move {
        if !delay.is_zero() {
            task_app.sleep_unless_shutdown(delay).await;
        }
        let _ = task_app
            .centre
            .floor()
            .with_call(&task_id, None, |call, _| {
                Ok(call.far_end_answers(std::time::SystemTime::now()))
            });
    });
    Ok(
        Json(json!({ "id": id, "selfUri": format!("/api/v2/conversations/calls/{id}") }))
            .into_response(),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ParticipantPatch {
    state: Option<String>,
    muted: Option<bool>,
    held: Option<bool>,
    wrapup: Option<WrapupInput>,
}

#[derive(Deserialize)]
struct WrapupInput {
    code: Option<String>,
    notes: Option<String>,
}

/// The call's wrap-up codes as (id, name).
fn codes_of(call: &Call, floor_dir: &crate::centre::model::Directory) -> Vec<(String, String)> {
    call.queue
        .as_ref()
        .and_then(|q| floor_dir.queue(&q.id))
        .map(|q| {
            q.wrapup_codes
                .iter()
                .map(|c| (c.id.clone(), c.name.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// `PATCH .../calls/{conversationId}/participants/{participantId}`: answer, decline, hang up,
/// hold, mute, wrap up. 202, no body.
async fn patch_participant(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((id, participant_id)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let info = require(&app, &headers, "conversations")?;
    let request: ParticipantPatch = parse_body(body)?;
    let change = ParticipantChange {
        state: request.state,
        muted: request.muted,
        held: request.held,
        wrapup: match request.wrapup {
            None => None,
            Some(w) => Some((
                w.code
                    .ok_or_else(|| ApiError::bad_request("wrapup.code is required."))?,
                w.notes.unwrap_or_default(),
            )),
        },
    };
    app.centre
        .floor()
        .with_call(&id, Some(&info.user.id), |call, dir| {
            if participant_id != call.agent_participant {
                return Err(
                    if call.participants.iter().any(|p| p.id == participant_id) {
                        ApiError::not_authorized()
                    } else {
                        ApiError::not_found()
                    },
                );
            }
            let codes = codes_of(call, dir);
            call.change_agent(&change, &codes, std::time::SystemTime::now())
        })?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `GET .../participants/{participantId}/wrapupcodes`: the queue's codes.
async fn wrapup_codes(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((id, participant_id)): Path<(String, String)>,
) -> ApiResult {
    let info = require(&app, &headers, "routing:readonly")?;
    let floor = app.centre.floor();
    let call = floor
        .calls
        .iter()
        .find(|c| {
            c.id == id
                && c.agent_user_id == info.user.id
                && c.participants.iter().any(|p| p.id == participant_id)
        })
        .ok_or_else(ApiError::not_found)?;
    let codes: Vec<Value> = codes_of(call, &floor.directory)
        .into_iter()
        .map(|(id, name)| json!({ "id": id, "name": name }))
        .collect();
    Ok(Json(codes).into_response())
}

#[derive(Deserialize)]
struct DigitsBody {
    digits: Option<String>,
}

/// `POST /api/v2/conversations/{conversationId}/participants/{participantId}/digits`.
async fn digits(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((id, participant_id)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let info = require(&app, &headers, "conversations")?;
    let request: DigitsBody = parse_body(body)?;
    let digits = request.digits.unwrap_or_default();
    if !valid_digits(&digits) {
        return Err(ApiError::bad_request(
            "digits must be 1 to 64 of 0-9, * and #.",
        ));
    }
    app.centre
        .floor()
        .with_call(&id, Some(&info.user.id), |call, _| {
            let p = call
                .participants
                .iter()
                .find(|p| p.id == participant_id)
                .ok_or_else(ApiError::not_found)?;
            if p.state != crate::centre::calls::PState::Connected {
                return Err(ApiError::bad_request(
                    "Digits can only be sent on a connected participant.",
                ));
            }
            call.digits.push((participant_id.clone(), digits.clone()));
            Ok(())
        })?;
    Ok(StatusCode::ACCEPTED.into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TransferBody {
    user_id: Option<String>,
    address: Option<String>,
    queue_id: Option<String>,
}

/// `POST .../calls/{conversationId}/participants/{participantId}/replace`: blind transfer.
async fn replace(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((id, participant_id)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let info = require(&app, &headers, "conversations")?;
    let request: TransferBody = parse_body(body)?;
    app.centre
        .floor()
        .with_call(&id, Some(&info.user.id), |call, dir| {
            if participant_id != call.agent_participant {
                return Err(ApiError::not_found());
            }
            let (target, queue) = match (request.user_id, request.queue_id, request.address) {
                (Some(user_id), None, None) => {
                    let user = dir
                        .user(&user_id)
                        .ok_or_else(|| ApiError::bad_request(format!("No user '{user_id}'.")))?;
                    (
                        TransferTarget {
                            user_id: Some(user_id),
                            queue_id: None,
                            address: None,
                            name: user.name.clone(),
                        },
                        None,
                    )
                }
                (None, Some(queue_id), None) => {
                    let queue = dir
                        .queue(&queue_id)
                        .ok_or_else(|| ApiError::bad_request(format!("No queue '{queue_id}'.")))?;
                    let r = Ref {
                        id: queue.id.clone(),
                        name: queue.name.clone(),
                    };
                    (
                        TransferTarget {
                            user_id: None,
                            queue_id: Some(queue_id),
                            address: None,
                            name: queue.name.clone(),
                        },
                        Some(r),
                    )
                }
                (None, None, Some(address)) if !address.trim().is_empty() => (
                    TransferTarget {
                        user_id: None,
                        queue_id: None,
                        address: Some(address.trim().to_owned()),
                        name: address.trim().to_owned(),
                    },
                    None,
                ),
                _ => {
                    return Err(ApiError::bad_request(
                        "Send exactly one of userId, queueId or address.",
                    ))
                }
            };
            call.blind_transfer(target, queue, std::time::SystemTime::now())
        })?;
    Ok(StatusCode::ACCEPTED.into_response())
}
