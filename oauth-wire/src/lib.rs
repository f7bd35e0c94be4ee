//! The OAuth 2.0 wire as Agent Shell's servers and client speak it, in one place.
//!
//! The emulator (an authorization server), the token broker (a proxy in front of one) and the
//! desktop core (a client) each used to spell these details themselves: the RFC 6749 error
//! codes, reading HTTP Basic client credentials (form-urlencoded before base64, RFC 6749
//! 2.3.1), form parameters that must not repeat (RFC 6749 3.1), the `no-store` headers of a
//! token response (RFC 6749 5.1), the shape of a PKCE verifier (RFC 7636 4.1) and "https, or
//! plain http to this machine only". Copies
//! drift; a fix made in one was missing from the others. This crate holds the one copy.
//!
//! It is plain data and parsing (serde, url, base64): no HTTP framework and no runtime, so any
//! crate of the workspace can use it. Header values come in as bytes or text; callers convert
//! from their own header types.

mod client_auth;
mod error;
mod form;
mod pkce;
mod transport;

pub use client_auth::{
    basic_authorization, client_credentials, parse_basic, BasicCredentials, ClientAuthError,
    ClientCredentials, MalformedBasic,
};
pub use error::{ErrorCode, UnknownErrorCode};
pub use form::{form_decode, form_encode, is_form_urlencoded, Params, Repeated, FORM_CONTENT_TYPE};
pub use pkce::is_valid_code_verifier;
pub use transport::{check_transport, is_loopback_host, TransportError};

/// What a `Debug` impl prints in place of a secret.
pub const REDACTED: &str = "[redacted]";

/// `Cache-Control` of every token endpoint answer, errors included (RFC 6749 5.1).
pub const CACHE_CONTROL_NO_STORE: &str = "no-store";
/// `Pragma` of every token endpoint answer, for HTTP/1.0 caches (RFC 6749 5.1).
pub const PRAGMA_NO_CACHE: &str = "no-cache";
/// The two headers above as (lower-case name, value) pairs, ready for `HeaderName::from_static`.
pub const NO_STORE_HEADERS: [(&str, &str); 2] = [
    ("cache-control", CACHE_CONTROL_NO_STORE),
    ("pragma", PRAGMA_NO_CACHE),
];
