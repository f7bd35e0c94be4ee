//! `/_emulator/*` routes that script the contact centre: queues, presence definitions, users,
//! inbound calls, caller hang-up, call records and channel revocation. Mounted under the
//! control API's cross-site guard; errors are `{"error": "..."}` like the rest of it.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::centre::model::{DirUser, PresenceDef, Queue, WrapupCode, DEFAULT_STATION_ID};
use crate::http::{uuid_v4, ApiError};
use crate::state::AppState;
use crate::users::{user_for, DEFAULT_USERNAME};

type ControlResult = Result<Response, ControlError>;

/// A control error: `{"error": "..."}`.
pub struct ControlError(StatusCode, String);

impl From<ApiError> for ControlError {
    fn from(e: ApiError) -> Self {
        Self(e.status, e.message)
    }
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn bad(message: impl Into<String>) -> ControlError {
    ControlError(StatusCode::BAD_REQUEST, message.into())
}

fn parse<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ControlError> {
    let body = body.map_err(|r| ControlError(r.status(), r.body_text()))?;
    serde_json::from_slice(&body).map_err(|e| bad(format!("invalid JSON body: {e}")))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_emulator/queues", get(list_queues).post(add_queue))
        .route("/_emulator/presences", post(add_presence))
        .route("/_emulator/users", get(list_users).post(add_user))
        .route("/_emulator/calls", get(list_calls).post(ring))
        .route("/_emulator/calls/{id}", get(call_record))
        .route("/_emulator/calls/{id}/hangup", post(hangup))
        .route("/_emulator/channels/{id}", delete(revoke_channel))
        .route("/_emulator/agents/{userId}", get(agent_state))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueRequest {
    name: String,
    id: Option<String>,
    #[serde(default)]
    wrapup_codes: Vec<String>,
}

async fn list_queues(State(app): State<AppState>) -> Response {
    let floor = app.centre.floor();
    let queues: Vec<Value> = floor
        .directory
        .queues
        .iter()
        .map(|q| {
            let codes: Vec<Value> = q.wrapup_codes.iter().map(WrapupCode::view).collect();
            json!({ "id": q.id, "name": q.name, "wrapupCodes": codes })
        })
        .collect();
    Json(queues).into_response()
}

/// `POST /_emulator/queues {name, id?, wrapup_codes: [names]}`: a new queue every agent is a
/// member of (joined).
async fn add_queue(
    State(app): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> ControlResult {
    let request: QueueRequest = parse(body)?;
    if request.name.trim().is_empty() {
        return Err(bad("name must not be empty"));
    }
    let mut floor = app.centre.floor();
    let id = request.id.unwrap_or_else(uuid_v4);
    if floor.directory.queue(&id).is_some() {
        return Err(bad(format!("queue '{id}' exists already")));
    }
    let codes: Vec<WrapupCode> = request
        .wrapup_codes
        .iter()
        .map(|name| WrapupCode {
            id: uuid_v4(),
            name: name.clone(),
        })
        .collect();
    let views: Vec<Value> = codes.iter().map(WrapupCode::view).collect();
    floor.directory.queues.push(Queue {
        id: id.clone(),
        name: request.name.clone(),
        wrapup_codes: codes,
    });
    for agent in floor.agents.values_mut() {
        agent.queues.push((id.clone(), true));
    }
    Ok(Json(json!({ "id": id, "name": request.name, "wrapupCodes": views })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PresenceRequest {
    label: String,
    system_presence: String,
    id: Option<String>,
}

/// `POST /_emulator/presences {label, system_presence, id?}`: a secondary presence definition.
async fn add_presence(
    State(app): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> ControlResult {
    let request: PresenceRequest = parse(body)?;
    let mut floor = app.centre.floor();
    if floor
        .directory
        .presence_named(&request.system_presence)
        .is_none()
    {
        return Err(bad(format!(
            "'{}' is not a system presence of this org",
            request.system_presence
        )));
    }
    let def = PresenceDef {
        id: request.id.unwrap_or_else(uuid_v4),
        label: request.label,
        system_presence: request.system_presence,
        primary: false,
    };
    if floor.directory.presence(&def.id).is_some() {
        return Err(bad(format!("presence '{}' exists already", def.id)));
    }
    let view = def.view();
    floor.directory.presences.push(def);
    Ok(Json(view).into_response())
}

async fn list_users(State(app): State<AppState>) -> Response {
    let users: Vec<Value> = app
        .centre
        .floor()
        .directory
        .users
        .iter()
        .map(DirUser::view)
        .collect();
    Json(users).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserRequest {
    email: String,
    name: Option<String>,
}

/// `POST /_emulator/users {email, name?}`: a directory user (transfer target); the id is the
/// one that email signs in with.
async fn add_user(
    State(app): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> ControlResult {
    let request: UserRequest = parse(body)?;
    if !request.email.contains('@') {
        return Err(bad("email must be an email address"));
    }
    let mut user = DirUser::from_user(&user_for(&request.email));
    if let Some(name) = request.name.filter(|n| !n.trim().is_empty()) {
        user.name = name;
    }
    let mut floor = app.centre.floor();
    floor.directory.users.retain(|u| u.id != user.id);
    floor.directory.users.push(user.clone());
    Ok(Json(user.view()).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RingRequest {
    queue_id: Option<String>,
    ani: String,
    caller_name: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    user_id: Option<String>,
    #[serde(default)]
    force: bool,
}

/// `POST /_emulator/calls {queueId?, ani, callerName?, attributes?, userId?, force?}`.
async fn ring(State(app): State<AppState>, body: Result<Bytes, BytesRejection>) -> ControlResult {
    let request: RingRequest = parse(body)?;
    if request.ani.trim().is_empty() {
        return Err(bad("ani must not be empty"));
    }
    let user_id = request
        .user_id
        .unwrap_or_else(|| user_for(DEFAULT_USERNAME).id);
    let id = app.centre.floor().ring(
        &user_id,
        request.queue_id.as_deref(),
        request.ani.trim(),
        request.caller_name.as_deref(),
        request.attributes,
        request.force,
    )?;
    tracing::info!(conversation = %id, "inbound call ringing");
    Ok(Json(json!({ "conversationId": id })).into_response())
}

fn record(call: &crate::centre::calls::Call) -> Value {
    let digits: Vec<Value> = call
        .digits
        .iter()
        .map(|(p, d)| json!({ "participantId": p, "digits": d }))
        .collect();
    let agent = call.agent();
    json!({
        "conversationId": call.id,
        "userId": call.agent_user_id,
        "queueId": call.queue.as_ref().map(|q| q.id.clone()),
        "phase": call.phase(),
        "agentState": agent.map(|a| a.state.as_str()),
        "declined": call.declined,
        "digits": digits,
        "allDigits": call.digits.iter().map(|(_, d)| d.as_str()).collect::<String>(),
        "transfer": call.transfer,
        "wrapup": agent.and_then(|a| a.wrapup.as_ref()).map(|w| json!({ "code": w.code, "name": w.name, "notes": w.notes })),
        "conversation": call.view(false),
    })
}

async fn list_calls(State(app): State<AppState>) -> Response {
    let records: Vec<Value> = app.centre.floor().calls.iter().map(record).collect();
    Json(records).into_response()
}

/// `GET /_emulator/calls/{id}`: the call's state, digits, transfer target and wrap-up.
async fn call_record(State(app): State<AppState>, Path(id): Path<String>) -> ControlResult {
    let floor = app.centre.floor();
    let call = floor
        .calls
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| ControlError(StatusCode::NOT_FOUND, format!("no call '{id}'")))?;
    Ok(Json(record(call)).into_response())
}

/// `POST /_emulator/calls/{id}/hangup`: the caller hangs up (409 when the call already ended).
async fn hangup(State(app): State<AppState>, Path(id): Path<String>) -> ControlResult {
    let mut floor = app.centre.floor();
    let hung_up = floor
        .with_call(&id, None, |call, _| {
            Ok(call.caller_hangs_up(std::time::SystemTime::now()))
        })
        .map_err(|_| ControlError(StatusCode::NOT_FOUND, format!("no call '{id}'")))?;
    if !hung_up {
        return Err(ControlError(
            StatusCode::CONFLICT,
            "the call has already ended".to_owned(),
        ));
    }
    let call = floor.calls.iter().find(|c| c.id == id).map(record);
    Ok(Json(call).into_response())
}

/// `DELETE /_emulator/channels/{id}`: revokes a notification channel (its websocket closes).
async fn revoke_channel(State(app): State<AppState>, Path(id): Path<String>) -> ControlResult {
    if app.centre.floor().close_channel(&id) {
        Ok(Json(json!({ "revoked": id })).into_response())
    } else {
        Err(ControlError(
            StatusCode::NOT_FOUND,
            format!("no channel '{id}'"),
        ))
    }
}

/// `GET /_emulator/agents/{userId}`: presence, routing status, queues and station of an agent.
async fn agent_state(State(app): State<AppState>, Path(user_id): Path<String>) -> ControlResult {
    let mut floor = app.centre.floor();
    let agent = floor
        .agent_by_id(&user_id)
        .cloned()
        .or_else(|| floor.agents.get(&user_id).cloned())
        .ok_or_else(|| ControlError(StatusCode::NOT_FOUND, format!("no agent '{user_id}'")))?;
    let presence = floor
        .directory
        .presence(&agent.presence_id)
        .map(|p| p.system_presence.clone());
    let queues: Vec<Value> = agent
        .queues
        .iter()
        .map(|(q, j)| json!({ "id": q, "joined": j }))
        .collect();
    Ok(Json(json!({
        "userId": agent.user.id,
        "presence": presence,
        "routingStatus": agent.routing_status,
        "queues": queues,
        "stationId": agent.station_id,
        "defaultStation": agent.station_id == DEFAULT_STATION_ID,
    }))
    .into_response())
}
