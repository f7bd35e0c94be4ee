//! What the session engine needs from the outside world, as traits it is handed: Genesys
//! Cloud's API (token, users/me, revocation) and the wall clock. The app hands it the real
//! ones ([`super::TokenClient`], [`SystemClock`]); tests hand it scripted ones and run the
//! engine on tokio's paused clock, so timing tests are exact and instant.

use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

use oauth2::PkceCodeVerifier;

use super::token::{TokenClient, TokenError, TokenSet, UserInfo, UserLookupError};
use crate::secret::{AccessToken, AuthCode, RefreshToken};

pub type ApiFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Genesys Cloud's API as the session engine uses it.
pub trait GenesysApi: Send + Sync {
    /// The authorization-code + PKCE exchange.
    fn exchange_code<'a>(
        &'a self,
        code: AuthCode,
        verifier: PkceCodeVerifier,
        redirect_uri: &'a str,
    ) -> ApiFuture<'a, Result<TokenSet, TokenError>>;

    /// One refresh-token request (the engine retries).
    fn refresh<'a>(
        &'a self,
        token: &'a RefreshToken,
    ) -> ApiFuture<'a, Result<TokenSet, TokenError>>;

    /// Who signed in.
    fn users_me<'a>(
        &'a self,
        token: &'a AccessToken,
    ) -> ApiFuture<'a, Result<UserInfo, UserLookupError>>;

    /// Ends the login the token belongs to; true when confirmed.
    fn revoke<'a>(&'a self, token: &'a AccessToken) -> ApiFuture<'a, bool>;
}

impl GenesysApi for TokenClient {
    fn exchange_code<'a>(
        &'a self,
        code: AuthCode,
        verifier: PkceCodeVerifier,
        redirect_uri: &'a str,
    ) -> ApiFuture<'a, Result<TokenSet, TokenError>> {
        Box::pin(TokenClient::exchange_code(
            self,
            code,
            verifier,
            redirect_uri,
        ))
    }

    fn refresh<'a>(
        &'a self,
        token: &'a RefreshToken,
    ) -> ApiFuture<'a, Result<TokenSet, TokenError>> {
        Box::pin(TokenClient::refresh(self, token))
    }

    fn users_me<'a>(
        &'a self,
        token: &'a AccessToken,
    ) -> ApiFuture<'a, Result<UserInfo, UserLookupError>> {
        Box::pin(TokenClient::users_me(self, token))
    }

    fn revoke<'a>(&'a self, token: &'a AccessToken) -> ApiFuture<'a, bool> {
        Box::pin(TokenClient::revoke(self, token))
    }
}

/// The wall clock: what token expiry is measured on (it keeps running while the machine
/// sleeps, unlike tokio's monotonic clock).
pub trait Clock: Send + Sync {
    fn now(&self) -> SystemTime;
}

/// The real wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}
