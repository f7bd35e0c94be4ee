//! Client authentication at a token endpoint (RFC 6749 2.3): HTTP Basic, whose id and secret
//! are form-urlencoded before they are joined and base64'd (2.3.1), or `client_id` and
//! `client_secret` in the form body; never both.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::form::{form_decode, form_encode};
use crate::REDACTED;

/// The id and secret of an `Authorization: Basic` header, decoded.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicCredentials {
    pub client_id: String,
    pub secret: String,
}

impl fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("client_id", &self.client_id)
            .field("secret", &REDACTED)
            .finish()
    }
}

/// An `Authorization: Basic` header that cannot be read: not visible ASCII, not base64, not
/// UTF-8 once decoded, or without the `:` between id and secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed HTTP Basic credentials")]
pub struct MalformedBasic;

/// Reads an `Authorization` header value. `Ok(None)` for another scheme (`Bearer ...`) or a
/// value without credentials; `Err` when Basic credentials are present but unreadable.
pub fn parse_basic(authorization: &[u8]) -> Result<Option<BasicCredentials>, MalformedBasic> {
    // What a header value may hold as text (the `http` crate's `to_str` rule).
    if !authorization
        .iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
    {
        return Err(MalformedBasic);
    }
    let value = std::str::from_utf8(authorization).map_err(|_| MalformedBasic)?;
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| MalformedBasic)?;
    let decoded = String::from_utf8(decoded).map_err(|_| MalformedBasic)?;
    let (id, secret) = decoded.split_once(':').ok_or(MalformedBasic)?;
    Ok(Some(BasicCredentials {
        client_id: form_decode(id),
        secret: form_decode(secret),
    }))
}

/// The `Authorization` value that authenticates `client_id` with `secret` (RFC 6749 2.3.1).
pub fn basic_authorization(client_id: &str, secret: &str) -> String {
    let credentials = format!("{}:{}", form_encode(client_id), form_encode(secret));
    format!("Basic {}", STANDARD.encode(credentials))
}

/// Who the client says it is, and its secret if it sent one.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    pub client_id: String,
    pub secret: Option<String>,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("secret", &self.secret.as_ref().map(|_| REDACTED))
            .finish()
    }
}

/// Why a token request does not say which client it is from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientAuthError {
    /// `invalid_client` (401).
    #[error("malformed HTTP Basic credentials")]
    MalformedBasic,
    /// `invalid_request`: HTTP Basic and `client_secret` in the body.
    #[error("use only one client authentication method (HTTP Basic or client_secret)")]
    MultipleMethods,
    /// `invalid_request`: the body's `client_id` is not the Basic one.
    #[error("client_id does not match the HTTP Basic credentials")]
    ClientIdMismatch,
    /// `invalid_client` (401): neither Basic nor `client_id`.
    #[error("no client_id")]
    Missing,
}

impl From<MalformedBasic> for ClientAuthError {
    fn from(_: MalformedBasic) -> Self {
        Self::MalformedBasic
    }
}

/// Combines the Basic credentials (from [`parse_basic`]) with the body's `client_id` and
/// `client_secret` (empty values already counted as absent): Basic wins, a body `client_id`
/// may repeat it, a body secret beside it is refused.
pub fn client_credentials(
    basic: Option<BasicCredentials>,
    body_client_id: Option<&str>,
    body_secret: Option<&str>,
) -> Result<ClientCredentials, ClientAuthError> {
    match basic {
        Some(basic) => {
            if body_secret.is_some() {
                return Err(ClientAuthError::MultipleMethods);
            }
            if body_client_id.is_some_and(|id| id != basic.client_id) {
                return Err(ClientAuthError::ClientIdMismatch);
            }
            Ok(ClientCredentials {
                client_id: basic.client_id,
                secret: Some(basic.secret),
            })
        }
        None => match body_client_id {
            Some(id) => Ok(ClientCredentials {
                client_id: id.to_owned(),
                secret: body_secret.map(str::to_owned),
            }),
            None => Err(ClientAuthError::Missing),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn basic(raw: &str) -> Vec<u8> {
        format!("Basic {}", STANDARD.encode(raw)).into_bytes()
    }

    fn creds(id: &str, secret: &str) -> Option<BasicCredentials> {
        Some(BasicCredentials {
            client_id: id.into(),
            secret: secret.into(),
        })
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        assert_eq!(
            parse_basic(&basic("my%20app:p%3Ass+word")).unwrap(),
            creds("my app", "p:ss word")
        );
        assert_eq!(
            parse_basic(&basic("id%3A1:whatever")).unwrap(),
            creds("id:1", "whatever")
        );
        // Only the first colon separates: a raw one in the secret survives.
        assert_eq!(parse_basic(&basic("a:b:c")).unwrap(), creds("a", "b:c"));
        assert_eq!(parse_basic(&basic(":")).unwrap(), creds("", ""));
        assert_eq!(
            parse_basic(format!("  bAsIc   {}  ", STANDARD.encode("a:b")).as_bytes()).unwrap(),
            creds("a", "b")
        );
    }

    #[test]
    fn other_schemes_are_not_basic() {
        for value in ["Bearer abc", "Basic", "", "   ", "Digest x=y"] {
            assert_eq!(parse_basic(value.as_bytes()).unwrap(), None, "{value:?}");
        }
    }

    #[test]
    fn malformed_basic_is_an_error() {
        let not_utf8 = format!("Basic {}", STANDARD.encode([0xff, 0xfe, b':', b'x']));
        for value in [
            b"Basic !!!".to_vec(),
            b"Basic YWJj".to_vec(), // "abc": no colon
            basic("no colon here"),
            not_utf8.into_bytes(),
            b"Basic \xc3\xa9".to_vec(), // not a visible-ASCII header value
            b"Basic YTpi\x01".to_vec(),
        ] {
            assert_eq!(parse_basic(&value), Err(MalformedBasic), "{value:?}");
        }
    }

    #[test]
    fn percent_decoding_of_odd_bytes_does_not_fail() {
        // %FF decodes to an invalid byte: replaced, not an error (the id will be unknown).
        assert_eq!(
            parse_basic(&basic("%FF:x")).unwrap(),
            creds("\u{fffd}", "x")
        );
    }

    #[test]
    fn authorization_round_trips() {
        let value = basic_authorization("id:1", "p+w/=");
        let encoded = value.strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
        assert_eq!(decoded, "id%3A1:p%2Bw%2F%3D");
        assert_eq!(
            parse_basic(value.as_bytes()).unwrap(),
            creds("id:1", "p+w/=")
        );
    }

    #[test]
    fn one_method_only() {
        let c = client_credentials(creds("a", "s"), Some("a"), None).unwrap();
        assert_eq!(
            (c.client_id.as_str(), c.secret.as_deref()),
            ("a", Some("s"))
        );
        assert_eq!(
            client_credentials(creds("a", "s"), None, Some("s")),
            Err(ClientAuthError::MultipleMethods)
        );
        assert_eq!(
            client_credentials(creds("a", "s"), Some("b"), None),
            Err(ClientAuthError::ClientIdMismatch)
        );
        let c = client_credentials(None, Some("b"), Some("t")).unwrap();
        assert_eq!(
            (c.client_id.as_str(), c.secret.as_deref()),
            ("b", Some("t"))
        );
        let c = client_credentials(None, Some("b"), None).unwrap();
        assert_eq!(c.secret, None);
        assert_eq!(
            client_credentials(None, None, Some("t")),
            Err(ClientAuthError::Missing)
        );
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let shown = format!(
            "{:?} {:?}",
            creds("id", "hunter2").unwrap(),
            client_credentials(None, Some("id"), Some("hunter2")).unwrap()
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }
}
