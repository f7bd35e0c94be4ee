//! The authorization server: `/oauth/authorize`, the login form, `/oauth/token` (+ its api-origin
//! alias), the token endpoint's CORS preflight and `/logout`.
//!
//! Error handling follows RFC 6749 4.1.2.1: as long as the client or its redirect URI is not
//! established, the user gets an error page and nothing is redirected (an attacker must not be
//! able to bounce users to an arbitrary URI); after that, errors go back to the client.
//!
//! `authorize` (the authorize endpoint, the login form, logout) and `token` (the token endpoint
//! and its injected faults) are the handlers; `client_auth` authenticates the client of a token
//! request, `error` is the RFC 6749 5.2 error answer and `cors` the token endpoint's CORS.
//! The wire details (error codes, Basic credentials, form parameters) are `oauth_wire`'s.

mod authorize;
mod client_auth;
mod cors;
mod error;
mod token;

pub use authorize::{authorize, login, logout};
pub use cors::token_preflight;
pub use token::token;
