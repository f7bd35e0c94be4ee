//! The Platform API's call routes (api origin): list, read and place calls, and act on a
//! participant (answer, hold, mute, wrap up, digits, blind transfer).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::require;
use super::routes::ApiResult;
use crate::centre::calls::{valid_digits, Call, ParticipantChange, Ref, TransferTarget};
use crate::http::{parse_body, ApiError};
use crate::state::AppState;

/// `GET /api/v2/conversations/calls`: the user's active calls.
pub(super) async fn list_calls(State(app): State<AppState>, headers: HeaderMap) -> ApiResult {
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
pub(super) async fn get_call(
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
pub(super) async fn create_call(
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
pub(super) async fn patch_participant(
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
pub(super) async fn wrapup_codes(
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
pub(super) async fn digits(
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
pub(super) async fn replace(
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
