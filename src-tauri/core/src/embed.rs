//! The embedded client's messages to the host, as typed values. The local page checks origin
//! and source; this is the second gate: anything that does not parse into one of these is
//! dropped with a log line, whatever the page let through.

use serde::{Deserialize, Serialize};

use crate::config::EmbedSettings;
use crate::error::ErrorCode;

const MAX_ID_LEN: usize = 128;
const MAX_QUEUE: u32 = 100_000;

/// Messages from the client that the shell acts on (the guide's protocol).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum ClientEvent {
    #[serde(rename = "genesys-cloud-embed:session-start", rename_all = "camelCase")]
    SessionStart {
        user_id: String,
        #[serde(default)]
        name: Option<String>,
    },
    #[serde(rename = "genesys-cloud-embed:queue-position")]
    QueuePosition { position: u32, total: u32 },
    #[serde(
        rename = "genesys-cloud-embed:interaction-end",
        rename_all = "camelCase"
    )]
    InteractionEnd { interaction_id: String },
    #[serde(
        rename = "genesys-cloud-embed:token-expiring",
        rename_all = "camelCase"
    )]
    TokenExpiring {
        #[serde(default)]
        expires_in: Option<u64>,
    },
    #[serde(rename = "genesys-cloud-embed:auth-error")]
    AuthError {
        #[serde(default)]
        status: Option<u16>,
        #[serde(default)]
        message: Option<String>,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EmbedError {
    #[error("embedded client message rejected: {0}")]
    Invalid(String),
}

impl ErrorCode for EmbedError {
    fn code(&self) -> &'static str {
        "embed_message_invalid"
    }
}

impl ClientEvent {
    /// Parses and checks a message (already a JSON value from the page).
    pub fn parse(value: serde_json::Value) -> Result<Self, EmbedError> {
        let event: ClientEvent =
            serde_json::from_value(value).map_err(|e| EmbedError::Invalid(e.to_string()))?;
        let id_ok = |id: &str| {
            !id.is_empty()
                && id.len() <= MAX_ID_LEN
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.:@".contains(c))
        };
        let ok = match &event {
            ClientEvent::SessionStart { user_id, name } => {
                id_ok(user_id) && name.as_ref().is_none_or(|n| n.chars().count() <= 200)
            }
            ClientEvent::QueuePosition { position, total } => {
                *total <= MAX_QUEUE && *position <= *total
            }
            ClientEvent::InteractionEnd { interaction_id } => id_ok(interaction_id),
            ClientEvent::TokenExpiring { .. } => true,
            ClientEvent::AuthError { message, .. } => {
                message.as_ref().is_none_or(|m| m.chars().count() <= 500)
            }
        };
        if ok {
            Ok(event)
        } else {
            Err(EmbedError::Invalid("a field is out of range".into()))
        }
    }
}

/// What the host posts to the client in `genesys-cloud-embed:init` (minus the access token,
/// which the page adds from the credentials command). Never a refresh token.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmbedInit {
    pub environment: String,
    pub client_id: String,
    pub embedded_client_settings: EmbedSettings,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_guides_messages() {
        assert_eq!(
            ClientEvent::parse(
                json!({"type": "genesys-cloud-embed:queue-position", "position": 3, "total": 12})
            ),
            Ok(ClientEvent::QueuePosition {
                position: 3,
                total: 12
            })
        );
        assert!(matches!(
            ClientEvent::parse(
                json!({"type": "genesys-cloud-embed:session-start", "userId": "a1b2-c3", "name": "Alex"})
            ),
            Ok(ClientEvent::SessionStart { .. })
        ));
        assert!(ClientEvent::parse(
            json!({"type": "genesys-cloud-embed:interaction-end", "interactionId": "int-42"})
        )
        .is_ok());
        assert!(ClientEvent::parse(
            json!({"type": "genesys-cloud-embed:token-expiring", "expiresIn": 30})
        )
        .is_ok());
    }

    #[test]
    fn rejects_unknown_malformed_and_out_of_range_messages() {
        for bad in [
            json!({"type": "genesys-cloud-embed:unknown"}),
            json!({"type": "genesys-cloud-embed:queue-position", "position": 13, "total": 12}),
            json!({"type": "genesys-cloud-embed:queue-position", "position": -1, "total": 12}),
            json!({"type": "genesys-cloud-embed:queue-position", "position": "3", "total": 12}),
            json!({"type": "genesys-cloud-embed:session-start", "userId": ""}),
            json!({"type": "genesys-cloud-embed:session-start", "userId": "<script>"}),
            json!({"type": "genesys-cloud-embed:interaction-end", "interactionId": "x".repeat(500)}),
            json!({"type": "genesys-cloud-embed:queue-position", "position": 1, "total": 2, "extra": true}),
            json!("genesys-cloud-embed:ready"),
            json!(null),
        ] {
            assert!(ClientEvent::parse(bad.clone()).is_err(), "{bad} accepted");
        }
    }
}
