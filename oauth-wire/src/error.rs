//! The `error` codes of RFC 6749 (4.1.2.1 for the authorization endpoint, 5.2 for the token
//! endpoint), as one enum.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An OAuth 2.0 `error` code. Serialises as its wire spelling (`"invalid_grant"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    AccessDenied,
    ServerError,
    TemporarilyUnavailable,
}

/// A code that is not one of RFC 6749's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an RFC 6749 error code")]
pub struct UnknownErrorCode(pub String);

impl ErrorCode {
    /// Every code, in RFC order.
    pub const ALL: [Self; 10] = [
        Self::InvalidRequest,
        Self::InvalidClient,
        Self::InvalidGrant,
        Self::UnauthorizedClient,
        Self::UnsupportedGrantType,
        Self::UnsupportedResponseType,
        Self::InvalidScope,
        Self::AccessDenied,
        Self::ServerError,
        Self::TemporarilyUnavailable,
    ];

    /// The wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    /// The code spelled `code` exactly (codes are case-sensitive), if it is one.
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == code)
    }

    /// Whether an authorization endpoint may send it back to the client's redirect URI
    /// (RFC 6749 4.1.2.1).
    pub const fn is_authorize_error(self) -> bool {
        matches!(
            self,
            Self::InvalidRequest
                | Self::UnauthorizedClient
                | Self::AccessDenied
                | Self::UnsupportedResponseType
                | Self::InvalidScope
                | Self::ServerError
                | Self::TemporarilyUnavailable
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ErrorCode {
    type Err = UnknownErrorCode;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::parse(code).ok_or_else(|| UnknownErrorCode(code.to_owned()))
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        code.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
            assert_eq!(code.as_str().parse::<ErrorCode>().unwrap(), code);
            assert_eq!(code.to_string(), code.as_str());
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
        }
    }

    #[test]
    fn unknown_codes_are_refused() {
        assert_eq!(ErrorCode::parse("Invalid_Grant"), None);
        assert_eq!(ErrorCode::parse(""), None);
        assert_eq!(
            "nope".parse::<ErrorCode>().unwrap_err(),
            UnknownErrorCode("nope".into())
        );
        assert!(serde_json::from_str::<ErrorCode>("\"invalid_token\"").is_err());
        assert!(serde_json::from_str::<ErrorCode>("3").is_err());
    }

    #[test]
    fn authorize_errors_are_those_of_4_1_2_1() {
        let authorize: Vec<_> = ErrorCode::ALL
            .into_iter()
            .filter(|c| c.is_authorize_error())
            .map(ErrorCode::as_str)
            .collect();
        assert_eq!(
            authorize,
            [
                "invalid_request",
                "unauthorized_client",
                "unsupported_response_type",
                "invalid_scope",
                "access_denied",
                "server_error",
                "temporarily_unavailable"
            ]
        );
    }
}
