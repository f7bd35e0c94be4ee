//! Notifications: channels, topic subscriptions and the streaming websocket at `connectUri`
//! (`ws://127.0.0.1:{api port}/channels/{id}`), with Genesys's envelope, heartbeat and pong.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use super::auth::require;
use crate::centre::hub::{Channel, Event};

use crate::http::{parse_body, rfc3339, uuid_v4, ApiError};
use crate::state::AppState;
use crate::store::AccessInfo;

type ApiResult = Result<Response, ApiError>;

/// Topic kinds a user may subscribe to about themselves.
const USER_TOPICS: [&str; 3] = ["conversations.calls", "presence", "routingStatus"];

pub fn routes() -> Router<AppState> {
    let subs = "/api/v2/notifications/channels/{channelId}/subscriptions";
    Router::new()
        .route(
            "/api/v2/notifications/channels",
            post(create_channel).get(list_channels),
        )
        .route(
            subs,
            get(get_subscriptions)
                .put(put_subscriptions)
                .post(post_subscriptions)
                .delete(delete_subscriptions),
        )
        .route("/channels/{channelId}", get(websocket))
}

/// The `Host` the client used (the api origin), for `connectUri`.
fn host(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && !h.contains(['/', ' ']))
        .unwrap_or("127.0.0.1")
        .to_owned()
}

fn channel_view(channel: &Channel, host: &str) -> Value {
    json!({
        "id": channel.id,
        "connectUri": format!("ws://{host}/channels/{}", channel.id),
        "expires": rfc3339(channel.expires_wall),
    })
}

fn topics_view(channel: &Channel) -> Value {
    let entities: Vec<Value> = channel.topics.iter().map(|t| json!({ "id": t })).collect();
    json!({ "entities": entities })
}

/// `POST /api/v2/notifications/channels` -> `Channel`.
async fn create_channel(State(app): State<AppState>, headers: HeaderMap) -> ApiResult {
    let host = host(&headers);
    let info = require(&app, &headers, "notifications")?;
    let lifetime = app.centre.settings.channel_lifetime;
    let channel = app.centre.floor().create_channel(&info.user.id, lifetime);
    tracing::info!(channel = %channel.id, "notification channel created");
    Ok(Json(channel_view(&channel, &host)).into_response())
}

/// `GET /api/v2/notifications/channels`: the user's live channels.
async fn list_channels(State(app): State<AppState>, headers: HeaderMap) -> ApiResult {
    let host = host(&headers);
    let info = require(&app, &headers, "notifications")?;
    let mut floor = app.centre.floor();
    let ids: Vec<String> = floor
        .channels
        .values()
        .filter(|c| c.user_id == info.user.id)
        .map(|c| c.id.clone())
        .collect();
    let entities: Vec<Value> = ids
        .iter()
        .filter_map(|id| floor.live_channel(id).map(|c| channel_view(c, &host)))
        .collect();
    Ok(Json(json!({ "entities": entities })).into_response())
}

/// The caller's own live channel, else 404.
fn with_channel<T>(
    app: &AppState,
    info: &AccessInfo,
    id: &str,
    f: impl FnOnce(&mut Channel) -> T,
) -> Result<T, ApiError> {
    let mut floor = app.centre.floor();
    match floor.live_channel(id) {
        Some(channel) if channel.user_id == info.user.id => Ok(f(channel)),
        _ => Err(ApiError::not_found()),
    }
}

#[derive(Deserialize)]
struct TopicRequest {
    id: Option<String>,
}

/// Validates topic ids: only `v2.users.{own id}.{conversations.calls|presence|routingStatus}`.
pub fn validate_topics(user_id: &str, topics: &[Option<String>]) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::new();
    for topic in topics {
        let topic = topic
            .as_deref()
            .ok_or_else(|| ApiError::bad_request("Every topic needs an id."))?;
        let parsed = topic.strip_prefix("v2.users.").and_then(|rest| {
            USER_TOPICS.iter().find_map(|kind| {
                rest.strip_suffix(kind)
                    .and_then(|u| u.strip_suffix('.'))
                    .map(|u| u.to_owned())
            })
        });
        match parsed {
            Some(u) if u == user_id => {}
            Some(u) if !u.is_empty() && !u.contains('.') => {
                let mut error = ApiError::not_authorized();
                error.message =
                    format!("You are not authorized to subscribe to the topic {topic}.");
                return Err(error);
            }
            _ => {
                let mut error = ApiError::bad_request(format!(
                    "The topic {topic} is not a valid notification topic."
                ));
                error.code = "notification.invalid.topic";
                return Err(error);
            }
        }
        if !out.iter().any(|t| t == topic) {
            out.push(topic.to_owned());
        }
    }
    Ok(out)
}

async fn get_subscriptions(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let info = require(&app, &headers, "notifications")?;
    let view = with_channel(&app, &info, &id, |c| topics_view(c))?;
    Ok(Json(view).into_response())
}

async fn set_subscriptions(
    app: AppState,
    headers: HeaderMap,
    id: String,
    body: Result<Bytes, BytesRejection>,
    replace: bool,
) -> ApiResult {
    let info = require(&app, &headers, "notifications")?;
    let request: Vec<TopicRequest> = parse_body(body)?;
    let ids: Vec<Option<String>> = request.into_iter().map(|t| t.id).collect();
    let topics = validate_topics(&info.user.id, &ids)?;
    let view = with_channel(&app, &info, &id, |c| {
        if replace {
            c.topics = topics;
        } else {
            for t in topics {
                if !c.topics.contains(&t) {
                    c.topics.push(t);
                }
            }
        }
        topics_view(c)
    })?;
    Ok(Json(view).into_response())
}

/// `PUT .../subscriptions`: replaces the topics.
async fn put_subscriptions(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    set_subscriptions(app, headers, id, body, true).await
}

/// `POST .../subscriptions`: adds topics.
async fn post_subscriptions(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    set_subscriptions(app, headers, id, body, false).await
}

/// `DELETE .../subscriptions`: removes every topic.
async fn delete_subscriptions(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let info = require(&app, &headers, "notifications")?;
    with_channel(&app, &info, &id, |c| c.topics.clear())?;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

/// `GET /channels/{id}` (websocket). Like Genesys, the channel id is the credential.
async fn websocket(
    State(app): State<AppState>,
    Path(id): Path<String>,
    upgrade: WebSocketUpgrade,
) -> Response {
    // Subscribe before answering so nothing published after the upgrade is missed.
    let events = app.centre.subscribe();
    if app.centre.floor().live_channel(&id).is_none() {
        return ApiError::not_found().into_response();
    }
    upgrade.on_upgrade(move |socket| serve_socket(app, id, socket, events))
}

/// `{topicName, version, eventBody, metadata}`.
pub fn envelope(topic: &str, body: &Value) -> Value {
    json!({
        "topicName": topic,
        "version": "2",
        "eventBody": body,
        "metadata": { "CorrelationId": uuid_v4() },
    })
}

fn metadata(message: &str) -> Message {
    Message::Text(
        json!({ "topicName": "channel.metadata", "eventBody": { "message": message } })
            .to_string()
            .into(),
    )
}

async fn serve_socket(
    app: AppState,
    id: String,
    mut socket: WebSocket,
    mut events: tokio::sync::broadcast::Receiver<Event>,
) {
    let period = app.centre.settings.heartbeat;
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let expires = app.centre.floor().live_channel(&id).map(|c| c.expires);
    let Some(expires) = expires else {
        return;
    };
    let expiry = tokio::time::sleep_until(tokio::time::Instant::from_std(expires));
    tokio::pin!(expiry);
    tracing::info!(channel = %id, "notification websocket connected");
    loop {
        tokio::select! {
            () = &mut expiry => {
                app.centre.floor().close_channel(&id);
                break;
            }
            _ = heartbeat.tick() => {
                if socket.send(metadata("WebSocket Heartbeat")).await.is_err() {
                    break;
                }
            }
            event = events.recv() => match event {
                Ok(Event::Topic { topic, body }) => {
                    let subscribed = app.centre.floor().channels.get(&id).is_some_and(|c| c.topics.contains(&topic));
                    if subscribed && socket.send(Message::Text(envelope(&topic, &body).to_string().into())).await.is_err() {
                        break;
                    }
                }
                Ok(Event::Close { channel }) if channel == id => break,
                Ok(Event::Close { .. }) => {}
                Err(RecvError::Lagged(n)) => tracing::warn!(channel = %id, missed = n, "websocket fell behind"),
                Err(RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let ping = serde_json::from_str::<Value>(text.as_str()).ok().is_some_and(|v| v["message"] == "ping");
                    if ping && socket.send(metadata("pong")).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    let _ = socket.send(Message::Close(None)).await;
    tracing::info!(channel = %id, "notification websocket closed");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn t(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn topics_are_the_users_own() {
        let ok = validate_topics(
            "u1",
            &[
                t("v2.users.u1.presence"),
                t("v2.users.u1.conversations.calls"),
                t("v2.users.u1.presence"),
            ],
        )
        .unwrap();
        assert_eq!(
            ok,
            vec!["v2.users.u1.presence", "v2.users.u1.conversations.calls"]
        );
        assert_eq!(
            validate_topics("u1", &[t("v2.users.u2.presence")])
                .unwrap_err()
                .status
                .as_u16(),
            403
        );
        for bad in [
            "v2.users.u1.calendar",
            "v2.routing.queues.q.users",
            "presence",
            "v2.users..presence",
        ] {
            assert_eq!(
                validate_topics("u1", &[t(bad)])
                    .unwrap_err()
                    .status
                    .as_u16(),
                400,
                "{bad}"
            );
        }
        assert!(validate_topics("u1", &[None]).is_err());
        let e = envelope("v2.users.u1.presence", &json!({}));
        assert_eq!(e["version"], "2");
        assert!(e["metadata"]["CorrelationId"].is_string());
    }
}
