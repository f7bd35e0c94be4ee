//! Authorize requests parked on the login page until the user approves or denies them.

use std::time::{Duration, Instant};

use super::sweep::evict_oldest;
use super::Store;
use crate::pkce;

/// A login page left open longer than this has to be started again.
const PENDING_LIFETIME: Duration = Duration::from_secs(600);

/// Genesys SSO hints passed through authorize, shown on the login page.
#[derive(Clone, Debug, Default)]
pub struct SsoHints {
    pub org: Option<String>,
    pub provider: Option<String>,
    pub prompt: Option<String>,
    pub target: Option<String>,
}

/// A validated authorize request waiting for the user on the login page.
#[derive(Clone, Debug)]
pub struct PendingAuthorization {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub code_challenge: String,
    pub scopes: Vec<String>,
    pub hints: SsoHints,
    pub(super) expires_at: Instant,
}

impl PendingAuthorization {
    pub fn new(
        client_id: String,
        redirect_uri: String,
        state: Option<String>,
        code_challenge: String,
        scopes: Vec<String>,
        hints: SsoHints,
    ) -> Self {
        Self {
            client_id,
            redirect_uri,
            state,
            code_challenge,
            scopes,
            hints,
            expires_at: Instant::now() + PENDING_LIFETIME,
        }
    }
}

impl Store {
    /// Parks a validated authorize request and returns the id the login form posts back.
    pub fn add_pending(&mut self, pending: PendingAuthorization) -> String {
        if let Some(state) = &pending.state {
            self.remember_secret(state);
        }
        let now = Instant::now();
        self.pending.retain(|_, p| p.expires_at > now);
        if self.pending.len() >= self.limits.max_records {
            // Every entry has the same lifetime: the soonest to expire is the oldest.
            evict_oldest(&mut self.pending, self.limits.max_records / 10 * 9, |p| {
                p.expires_at
            });
        }
        let id = pkce::random_id();
        self.pending.insert(id.clone(), pending);
        id
    }

    pub fn pending(&self, request_id: &str) -> Option<&PendingAuthorization> {
        self.pending
            .get(request_id)
            .filter(|p| p.expires_at > Instant::now())
    }

    /// Removes the request so the same form cannot be submitted twice.
    pub fn take_pending(&mut self, request_id: &str) -> Option<PendingAuthorization> {
        self.pending
            .remove(request_id)
            .filter(|p| p.expires_at > Instant::now())
    }
}
