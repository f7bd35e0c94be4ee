//! OAuth 2.0 authorization code + PKCE for a native app (RFC 6749, 7636, 8252).

pub mod api;
pub mod callback;
pub mod login;
pub mod token;

pub use api::{ApiFuture, Clock, GenesysApi, SystemClock};
pub use callback::{parse_redirect, Callback, CallbackError};
pub use login::{AuthorizationRequest, LoginSlot, SignInError};
pub use token::{TokenClient, TokenError, TokenSet, UserInfo, UserLookupError};
