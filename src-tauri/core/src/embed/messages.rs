//! The embedded client's messages to the host, as typed values. The local page checks origin
//! and source; this is the second gate: anything that does not parse into one of these is
//! dropped with a log line, whatever the page let through.

use serde::{Deserialize, Serialize};

use crate::config::EmbedSettings;
use crate::error::{Code, ErrorCode};

const MAX_ID_LEN: usize = 128;
const MAX_ANI_CHARS: usize = 64;
const MAX_NAME_CHARS: usize = 200;
const MAX_ATTRIBUTES: usize = 50;
const MAX_ATTRIBUTE_CHARS: usize = 1000;

/// Free text from the client: bounded, and no control characters.
fn text_ok(text: &str, max_chars: usize) -> bool {
    text.chars().count() <= max_chars && !text.chars().any(char::is_control)
}
const MAX_QUEUE: u32 = 100_000;
/// A token-expiring message never speaks of more than a day (tokens live hours at most).
const MAX_EXPIRES_IN_SECS: u64 = 86_400;

/// Messages from the client that the shell acts on (the guide's protocol). Fields beyond the
/// known ones are ignored (clients add fields over time); the known ones are checked strictly.
/// Mirrored by `ClientMessage` in ui/src/protocol.ts; both are tested against
/// fixtures/client-messages.json.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "type")]
pub enum ClientEvent {
    #[serde(rename = "agent-shell:ready")]
    Ready {
        #[serde(default)]
        version: Option<String>,
    },
    #[serde(rename = "agent-shell:session-start", rename_all = "camelCase")]
    SessionStart {
        user_id: String,
        #[serde(default)]
        name: Option<String>,
    },
    #[serde(rename = "agent-shell:queue-position")]
    QueuePosition { position: u32, total: u32 },
    /// A call connected: the status bar's timer starts, closing the window asks first, and
    /// the CRM template may use the caller (`ani`), the queue and participant attributes.
    #[serde(rename = "agent-shell:interaction-start", rename_all = "camelCase")]
    InteractionStart {
        interaction_id: String,
        #[serde(default)]
        ani: Option<String>,
        #[serde(default)]
        queue_name: Option<String>,
        #[serde(default)]
        attributes: Option<std::collections::BTreeMap<String, String>>,
    },
    #[serde(rename = "agent-shell:interaction-end", rename_all = "camelCase")]
    InteractionEnd { interaction_id: String },
    #[serde(rename = "agent-shell:token-expiring", rename_all = "camelCase")]
    TokenExpiring {
        #[serde(default)]
        expires_in: Option<u64>,
    },
    #[serde(rename = "agent-shell:auth-error")]
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
    #[error("embedded client message of unknown type ignored")]
    UnknownType,
}

impl ErrorCode for EmbedError {
    fn error_code(&self) -> Code {
        match self {
            Self::Invalid(_) => Code::EmbedMessageInvalid,
            Self::UnknownType => Code::EmbedMessageUnknown,
        }
    }
}

/// The `type` of every message in [`ClientEvent`].
const KNOWN_TYPES: [&str; 7] = [
    "agent-shell:ready",
    "agent-shell:session-start",
    "agent-shell:queue-position",
    "agent-shell:interaction-start",
    "agent-shell:interaction-end",
    "agent-shell:token-expiring",
    "agent-shell:auth-error",
];

/// The two client messages that ask for a renewal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenewalRequest {
    TokenExpiring,
    AuthError,
}

impl ClientEvent {
    /// Parses a message that must be `expected` (a page that sends another kind to a renewal
    /// command is refused, and the message is logged without its content).
    pub fn parse_renewal(
        value: serde_json::Value,
        expected: RenewalRequest,
    ) -> Result<Self, EmbedError> {
        let event = Self::parse(value)?;
        let matches = matches!(
            (&event, expected),
            (
                ClientEvent::TokenExpiring { .. },
                RenewalRequest::TokenExpiring
            ) | (ClientEvent::AuthError { .. }, RenewalRequest::AuthError)
        );
        if !matches {
            return Err(EmbedError::Invalid(format!(
                "expected a {} message",
                match expected {
                    RenewalRequest::TokenExpiring => "token-expiring",
                    RenewalRequest::AuthError => "auth-error",
                }
            )));
        }
        Ok(event)
    }

    /// Parses and checks a message (already a JSON value from the page).
    pub fn parse(value: serde_json::Value) -> Result<Self, EmbedError> {
        match value.get("type").and_then(|t| t.as_str()) {
            Some(kind) if !KNOWN_TYPES.contains(&kind) => return Err(EmbedError::UnknownType),
            _ => {}
        }
        let event: ClientEvent =
            serde_json::from_value(value).map_err(|e| EmbedError::Invalid(e.to_string()))?;
        // Starts with a letter or digit, so "." and ".." (path segments in a CRM URL) never pass.
        let id_ok = |id: &str| {
            id.len() <= MAX_ID_LEN
                && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.:@".contains(c))
        };
        let ok = match &event {
            ClientEvent::Ready { version } => {
                version.as_ref().is_none_or(|v| v.chars().count() <= 64)
            }
            ClientEvent::SessionStart { user_id, name } => {
                id_ok(user_id) && name.as_ref().is_none_or(|n| n.chars().count() <= 200)
            }
            ClientEvent::QueuePosition { position, total } => {
                *total <= MAX_QUEUE && *position <= *total
            }
            ClientEvent::InteractionStart {
                interaction_id,
                ani,
                queue_name,
                attributes,
            } => {
                id_ok(interaction_id)
                    && ani.as_deref().is_none_or(|a| text_ok(a, MAX_ANI_CHARS))
                    && queue_name
                        .as_deref()
                        .is_none_or(|q| text_ok(q, MAX_NAME_CHARS))
                    && attributes.as_ref().is_none_or(|map| {
                        map.len() <= MAX_ATTRIBUTES
                            && map.iter().all(|(k, v)| {
                                crate::config::values::is_attribute_name(k)
                                    && text_ok(v, MAX_ATTRIBUTE_CHARS)
                            })
                    })
            }
            ClientEvent::InteractionEnd { interaction_id } => id_ok(interaction_id),
            ClientEvent::TokenExpiring { expires_in } => {
                expires_in.is_none_or(|secs| secs <= MAX_EXPIRES_IN_SECS)
            }
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

/// What the host posts to the client in `agent-shell:init` (minus the access token,
/// which the page adds from the credentials command). Never a refresh token.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmbedInit {
    pub environment: String,
    /// `https://api.{env}` (or the emulator's): where the agent client sends REST calls.
    pub api_base: String,
    pub client_id: String,
    pub embedded_client_settings: EmbedSettings,
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_renewal_command_takes_only_its_own_message() {
        use serde_json::json;
        let expiring = json!({"type": "agent-shell:token-expiring", "expiresIn": 30});
        let refused = json!({"type": "agent-shell:auth-error", "status": 401});
        assert!(
            ClientEvent::parse_renewal(expiring.clone(), RenewalRequest::TokenExpiring).is_ok()
        );
        assert!(ClientEvent::parse_renewal(refused.clone(), RenewalRequest::AuthError).is_ok());
        let wrong = ClientEvent::parse_renewal(refused, RenewalRequest::TokenExpiring).unwrap_err();
        assert_eq!(
            wrong,
            EmbedError::Invalid("expected a token-expiring message".into())
        );
        assert!(ClientEvent::parse_renewal(expiring, RenewalRequest::AuthError).is_err());
        assert_eq!(
            ClientEvent::parse_renewal(json!({"type": "x"}), RenewalRequest::AuthError)
                .unwrap_err(),
            EmbedError::UnknownType
        );
    }

    use super::*;
    use serde_json::{json, Value};

    /// Shared with ui/test/protocol.test.ts: the page and Rust must agree on every message.
    const FIXTURES: &str = include_str!("../../fixtures/client-messages.json");

    fn fixtures(group: &str) -> Vec<Value> {
        let all: Value = serde_json::from_str(FIXTURES).unwrap_or_default();
        all[group].as_array().cloned().unwrap_or_default()
    }

    #[test]
    fn accepts_every_valid_fixture() {
        let valid = fixtures("valid");
        assert!(valid.len() >= 10, "fixtures not loaded");
        for message in valid {
            assert!(
                ClientEvent::parse(message.clone()).is_ok(),
                "{message} rejected: {:?}",
                ClientEvent::parse(message.clone())
            );
        }
    }

    #[test]
    fn rejects_every_invalid_fixture_and_names_unknown_types() {
        let invalid = fixtures("invalid");
        assert!(invalid.len() >= 10, "fixtures not loaded");
        for message in invalid {
            assert!(
                matches!(
                    ClientEvent::parse(message.clone()),
                    Err(EmbedError::Invalid(_))
                ),
                "{message} not rejected as invalid"
            );
        }
        let unknown = fixtures("unknown");
        assert!(unknown.len() >= 3, "fixtures not loaded");
        for message in unknown {
            assert_eq!(
                ClientEvent::parse(message.clone()),
                Err(EmbedError::UnknownType),
                "{message}"
            );
        }
    }

    #[test]
    fn every_variant_is_a_known_type() {
        let samples = [
            ClientEvent::Ready { version: None },
            ClientEvent::SessionStart {
                user_id: "u".into(),
                name: None,
            },
            ClientEvent::QueuePosition {
                position: 0,
                total: 0,
            },
            ClientEvent::InteractionStart {
                interaction_id: "i".into(),
                ani: Some("+15550100".into()),
                queue_name: Some("Support".into()),
                attributes: Some([("account".to_string(), "42".to_string())].into()),
            },
            ClientEvent::InteractionEnd {
                interaction_id: "i".into(),
            },
            ClientEvent::TokenExpiring { expires_in: None },
            ClientEvent::AuthError {
                status: None,
                message: None,
            },
        ];
        assert_eq!(samples.len(), KNOWN_TYPES.len());
        for sample in samples {
            let value = serde_json::to_value(&sample).unwrap_or_default();
            let kind = value["type"].as_str().unwrap_or_default();
            assert!(
                KNOWN_TYPES.contains(&kind),
                "{kind} missing from KNOWN_TYPES"
            );
            // Every variant, with its optional fields left out, parses back (the match in
            // ClientEvent::parse covers it).
            assert_eq!(ClientEvent::parse(value), Ok(sample));
        }
    }

    #[test]
    fn parses_the_guides_messages_into_typed_events() {
        assert_eq!(
            ClientEvent::parse(
                json!({"type": "agent-shell:queue-position", "position": 3, "total": 12})
            ),
            Ok(ClientEvent::QueuePosition {
                position: 3,
                total: 12
            })
        );
        assert_eq!(
            ClientEvent::parse(
                json!({"type": "agent-shell:interaction-end", "interactionId": "int-42", "extra": 1})
            ),
            Ok(ClientEvent::InteractionEnd {
                interaction_id: "int-42".into()
            })
        );
    }
}
