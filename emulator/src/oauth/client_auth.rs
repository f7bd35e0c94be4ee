//! Who is asking for tokens: RFC 6749 2.3 client authentication at the token endpoint.

use axum::http::{header, HeaderMap};
use oauth_wire::{client_credentials, parse_basic, ClientAuthError, ClientCredentials, ErrorCode};

use super::error::OAuthError;
use crate::config::ClientRegistration;
use crate::pkce;
use crate::state::AppState;

/// RFC 6749 2.3: confidential clients authenticate with `client_secret` in the body or HTTP
/// Basic (never both); public clients only identify themselves with `client_id`.
pub(super) fn authenticate_client<'a>(
    app: &'a AppState,
    headers: &HeaderMap,
    body_client_id: Option<&str>,
    body_secret: Option<&str>,
) -> Result<&'a ClientRegistration, OAuthError> {
    let basic = match headers.get(header::AUTHORIZATION) {
        Some(value) => parse_basic(value.as_bytes())
            .map_err(|_| OAuthError::invalid_client("malformed HTTP Basic credentials"))?,
        None => None,
    };
    let ClientCredentials { client_id, secret } =
        client_credentials(basic, body_client_id, body_secret).map_err(|e| match e {
            ClientAuthError::MultipleMethods | ClientAuthError::ClientIdMismatch => {
                OAuthError::bad_request(ErrorCode::InvalidRequest, e.to_string())
            }
            ClientAuthError::Missing => {
                OAuthError::invalid_client("client authentication failed: no client_id")
            }
            ClientAuthError::MalformedBasic => {
                OAuthError::invalid_client("malformed HTTP Basic credentials")
            }
        })?;
    let Some(client) = app.client(&client_id) else {
        return Err(OAuthError::invalid_client(
            "client authentication failed: unknown client",
        ));
    };
    match (&client.secret, secret.as_deref()) {
        (Some(expected), Some(given))
            if pkce::constant_time_eq(expected.as_bytes(), given.as_bytes()) =>
        {
            Ok(client)
        }
        (Some(_), Some(_)) => Err(OAuthError::invalid_client(
            "client authentication failed: wrong client secret",
        )),
        (Some(_), None) => Err(OAuthError::invalid_client(
            "client authentication failed: this confidential client must send its secret",
        )),
        (None, None | Some("")) => Ok(client),
        (None, Some(_)) => Err(OAuthError::invalid_client(
            "client authentication failed: this is a public client and has no secret",
        )),
    }
}
