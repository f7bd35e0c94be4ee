//! All mutable emulator state: pending logins, authorization codes, token families, counters,
//! queued faults and the access log.
//!
//! Everything here is synchronous and lives behind one `std::sync::Mutex`; handlers lock it for
//! a few map operations and never across an `.await`.
//!
//! Tokens are grouped in *families*: one family per approved login (one authorization code).
//! Every access and refresh token descending from that code belongs to it, so "revoke every
//! token issued from that code" (RFC 6749 4.1.2) and "revoke the family on refresh-token reuse"
//! (OAuth 2.0 Security BCP, RFC 9700 4.14) are a single flag flip.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::pkce;
use crate::users::User;

/// Upper bound of the access log; older entries are dropped first.
pub const ACCESS_LOG_CAPACITY: usize = 10_000;
/// A login page left open longer than this has to be started again.
const PENDING_LIFETIME: Duration = Duration::from_secs(600);
/// Used codes are remembered past their expiry so a late replay is still detected as reuse.
const USED_CODE_MEMORY: Duration = Duration::from_secs(600);
/// Past this many entries, dead records are swept on the next insertion.
const SWEEP_THRESHOLD: usize = 10_000;

/// Settings that the control API may change while the emulator runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Settings {
    #[serde(rename = "token_lifetime_secs", serialize_with = "as_secs")]
    pub token_lifetime: Duration,
    #[serde(rename = "code_lifetime_secs", serialize_with = "as_secs")]
    pub code_lifetime: Duration,
    pub grant_scopes: Option<Vec<String>>,
    pub public_refresh_tokens: bool,
    pub auto_approve: bool,
}

fn as_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Counters reported by `GET /_emulator/state` (plus `faults_pending`, computed).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Counters {
    pub authorize_requests: u64,
    pub codes_issued: u64,
    pub codes_exchanged: u64,
    pub token_requests: u64,
    pub refreshes_served: u64,
    pub refresh_reuse_detected: u64,
    pub families_revoked: u64,
    pub users_me_ok: u64,
    pub users_me_unauthorized: u64,
}

/// What a queued fault does to the request that consumes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    ServerError,
    ServiceUnavailable,
    RateLimited,
    Hang,
    Malformed,
    InvalidGrant,
    /// Applies to authorize requests; every other kind applies to token requests.
    AuthorizeError,
}

impl FaultKind {
    pub fn parse(kind: &str) -> Option<Self> {
        Some(match kind {
            "server_error" => Self::ServerError,
            "service_unavailable" => Self::ServiceUnavailable,
            "rate_limited" => Self::RateLimited,
            "hang" => Self::Hang,
            "malformed" => Self::Malformed,
            "invalid_grant" => Self::InvalidGrant,
            "authorize_error" => Self::AuthorizeError,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ServerError => "server_error",
            Self::ServiceUnavailable => "service_unavailable",
            Self::RateLimited => "rate_limited",
            Self::Hang => "hang",
            Self::Malformed => "malformed",
            Self::InvalidGrant => "invalid_grant",
            Self::AuthorizeError => "authorize_error",
        }
    }
}

/// A queued fault. `remaining` counts the requests it still applies to.
#[derive(Clone, Debug)]
pub struct Fault {
    pub kind: FaultKind,
    pub remaining: u32,
    pub retry_after_secs: u64,
    pub hang_secs: u64,
    /// The OAuth error code of an `authorize_error`.
    pub error: String,
}

/// Which endpoint is asking for a fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultTarget {
    Authorize,
    Token,
}

/// One request as received, for `GET /_emulator/access-log`.
#[derive(Clone, Debug, Serialize)]
pub struct LogEntry {
    pub origin: &'static str,
    pub method: String,
    pub uri: String,
}

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
    expires_at: Instant,
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

/// An RFC 6749 error that the token endpoint turns into a 400 JSON body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantError {
    pub error: &'static str,
    pub description: String,
}

impl GrantError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            description: description.into(),
        }
    }
}

/// A successful token response, before serialisation.
#[derive(Clone, Debug)]
pub struct IssuedTokens {
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: Option<String>,
    pub scopes: Vec<String>,
}

/// What a valid access token stands for.
#[derive(Clone, Debug)]
pub struct AccessInfo {
    pub user: User,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub expires_at: Instant,
    pub expires_at_wall: SystemTime,
}

struct CodeRecord {
    family: u64,
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    expires_at: Instant,
    used: bool,
}

struct Family {
    client_id: String,
    user: User,
    scopes: Vec<String>,
    revoked: bool,
}

struct AccessRecord {
    family: u64,
    scopes: Vec<String>,
    expires_at: Instant,
    expires_at_wall: SystemTime,
}

struct RefreshRecord {
    family: u64,
    client_id: String,
    /// Set once the token has been exchanged; presenting it again is reuse.
    rotated: bool,
}

pub struct Store {
    pub settings: Settings,
    pub counters: Counters,
    pending: HashMap<String, PendingAuthorization>,
    codes: HashMap<String, CodeRecord>,
    families: HashMap<u64, Family>,
    next_family: u64,
    access: HashMap<String, AccessRecord>,
    refresh: HashMap<String, RefreshRecord>,
    faults: VecDeque<Fault>,
    log: VecDeque<LogEntry>,
}

impl Store {
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            counters: Counters::default(),
            pending: HashMap::new(),
            codes: HashMap::new(),
            families: HashMap::new(),
            next_family: 1,
            access: HashMap::new(),
            refresh: HashMap::new(),
            faults: VecDeque::new(),
            log: VecDeque::new(),
        }
    }

    // ----- login page -----

    /// Parks a validated authorize request and returns the id the login form posts back.
    pub fn add_pending(&mut self, pending: PendingAuthorization) -> String {
        let now = Instant::now();
        self.pending.retain(|_, p| p.expires_at > now);
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

    // ----- codes and tokens -----

    /// Issues a code for an approved login, opening a new token family.
    pub fn issue_code(
        &mut self,
        client_id: &str,
        redirect_uri: &str,
        code_challenge: &str,
        user: User,
        scopes: Vec<String>,
    ) -> String {
        let now = Instant::now();
        if self.codes.len() > SWEEP_THRESHOLD {
            self.codes
                .retain(|_, c| c.expires_at + USED_CODE_MEMORY > now);
        }
        let family = self.next_family;
        self.next_family += 1;
        self.families.insert(
            family,
            Family {
                client_id: client_id.to_owned(),
                user,
                scopes,
                revoked: false,
            },
        );
        let code = pkce::random_token();
        self.codes.insert(
            code.clone(),
            CodeRecord {
                family,
                client_id: client_id.to_owned(),
                redirect_uri: redirect_uri.to_owned(),
                code_challenge: code_challenge.to_owned(),
                expires_at: now + self.settings.code_lifetime,
                used: false,
            },
        );
        self.counters.codes_issued += 1;
        code
    }

    /// `grant_type=authorization_code` for an already authenticated client.
    pub fn exchange_code(
        &mut self,
        client_id: &str,
        confidential: bool,
        code: &str,
        redirect_uri: &str,
        code_verifier: Option<&str>,
    ) -> Result<IssuedTokens, GrantError> {
        let Some(record) = self.codes.get(code) else {
            return Err(GrantError::new(
                "invalid_grant",
                "the authorization code is unknown",
            ));
        };
        let family = record.family;
        if record.used {
            // RFC 6749 4.1.2: a replayed code means it leaked; kill what it already produced.
            self.revoke_family(family);
            return Err(GrantError::new(
                "invalid_grant",
                "the authorization code has already been used; every token issued from it has been revoked",
            ));
        }
        if Instant::now() >= record.expires_at {
            return Err(GrantError::new(
                "invalid_grant",
                "the authorization code has expired",
            ));
        }
        if record.client_id != client_id {
            return Err(GrantError::new(
                "invalid_grant",
                "the authorization code was issued to another client",
            ));
        }
        if record.redirect_uri != redirect_uri {
            return Err(GrantError::new(
                "invalid_grant",
                "redirect_uri does not match the one used in the authorization request",
            ));
        }
        let Some(verifier) = code_verifier else {
            return Err(GrantError::new(
                "invalid_request",
                "code_verifier is required (PKCE)",
            ));
        };
        if !pkce::is_valid_verifier(verifier) {
            return Err(GrantError::new(
                "invalid_request",
                "code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]",
            ));
        }
        if !pkce::verify_s256(verifier, &record.code_challenge) {
            return Err(GrantError::new(
                "invalid_grant",
                "code_verifier does not match the code_challenge (S256)",
            ));
        }
        let scopes = match self.families.get(&family) {
            Some(f) if !f.revoked => f.scopes.clone(),
            _ => {
                return Err(GrantError::new(
                    "invalid_grant",
                    "the authorization has been revoked",
                ))
            }
        };
        if let Some(record) = self.codes.get_mut(code) {
            record.used = true;
        }
        self.counters.codes_exchanged += 1;
        Ok(self.issue_tokens(family, scopes, confidential))
    }

    /// `grant_type=refresh_token` with rotation and reuse detection.
    pub fn refresh(
        &mut self,
        client_id: &str,
        confidential: bool,
        refresh_token: &str,
        requested_scopes: Option<Vec<String>>,
    ) -> Result<IssuedTokens, GrantError> {
        let Some(record) = self.refresh.get(refresh_token) else {
            return Err(GrantError::new(
                "invalid_grant",
                "the refresh token is unknown",
            ));
        };
        if record.client_id != client_id {
            return Err(GrantError::new(
                "invalid_grant",
                "the refresh token was issued to another client",
            ));
        }
        let family = record.family;
        if record.rotated {
            // Either the legitimate client or an attacker holds a stale copy; we cannot tell
            // which, so the whole login dies (RFC 9700 4.14.2).
            self.counters.refresh_reuse_detected += 1;
            self.revoke_family(family);
            return Err(GrantError::new(
                "invalid_grant",
                "the refresh token has already been used; every token of this login has been revoked",
            ));
        }
        let granted = match self.families.get(&family) {
            Some(f) if !f.revoked => f.scopes.clone(),
            _ => {
                return Err(GrantError::new(
                    "invalid_grant",
                    "the refresh token has been revoked",
                ))
            }
        };
        // RFC 6749 6: a refresh may narrow the scope, never widen it.
        let scopes = match requested_scopes {
            Some(requested) => {
                if let Some(extra) = requested.iter().find(|s| !granted.contains(s)) {
                    return Err(GrantError::new(
                        "invalid_scope",
                        format!("scope '{extra}' was not granted to this login"),
                    ));
                }
                requested
            }
            None => granted,
        };
        if let Some(record) = self.refresh.get_mut(refresh_token) {
            record.rotated = true;
        }
        self.counters.refreshes_served += 1;
        Ok(self.issue_tokens(family, scopes, confidential))
    }

    fn issue_tokens(
        &mut self,
        family: u64,
        scopes: Vec<String>,
        confidential: bool,
    ) -> IssuedTokens {
        self.sweep();
        let lifetime = self.settings.token_lifetime;
        let access_token = pkce::random_token();
        self.access.insert(
            access_token.clone(),
            AccessRecord {
                family,
                scopes: scopes.clone(),
                expires_at: Instant::now() + lifetime,
                expires_at_wall: SystemTime::now() + lifetime,
            },
        );
        let refresh_token = if confidential || self.settings.public_refresh_tokens {
            let token = pkce::random_token();
            let client_id = self
                .families
                .get(&family)
                .map(|f| f.client_id.clone())
                .unwrap_or_default();
            self.refresh.insert(
                token.clone(),
                RefreshRecord {
                    family,
                    client_id,
                    rotated: false,
                },
            );
            Some(token)
        } else {
            None
        };
        IssuedTokens {
            access_token,
            expires_in: ceil_secs(lifetime),
            refresh_token,
            scopes,
        }
    }

    /// Drops records that can never be valid again once the maps grow large.
    fn sweep(&mut self) {
        let now = Instant::now();
        if self.access.len() > SWEEP_THRESHOLD {
            let families = &self.families;
            self.access.retain(|_, a| {
                a.expires_at > now && families.get(&a.family).is_some_and(|f| !f.revoked)
            });
        }
        if self.refresh.len() > SWEEP_THRESHOLD {
            let families = &self.families;
            self.refresh
                .retain(|_, r| families.get(&r.family).is_some_and(|f| !f.revoked));
        }
        if self.families.len() > SWEEP_THRESHOLD {
            // A missing family reads as revoked, which is what these are.
            self.families.retain(|_, f| !f.revoked);
        }
    }

    /// The user, client and scopes behind a live access token.
    pub fn authenticate(&self, access_token: &str) -> Option<AccessInfo> {
        let record = self.access.get(access_token)?;
        if Instant::now() >= record.expires_at {
            return None;
        }
        let family = self.families.get(&record.family)?;
        if family.revoked {
            return None;
        }
        Some(AccessInfo {
            user: family.user.clone(),
            client_id: family.client_id.clone(),
            scopes: record.scopes.clone(),
            expires_at: record.expires_at,
            expires_at_wall: record.expires_at_wall,
        })
    }

    // ----- revocation -----

    /// Marks a family revoked; returns whether it was live.
    fn revoke_family(&mut self, family: u64) -> bool {
        match self.families.get_mut(&family) {
            Some(f) if !f.revoked => {
                f.revoked = true;
                self.counters.families_revoked += 1;
                true
            }
            _ => false,
        }
    }

    /// `DELETE /api/v2/tokens/me`: revokes the login a live access token belongs to.
    pub fn revoke_by_access_token(&mut self, access_token: &str) -> bool {
        if self.authenticate(access_token).is_none() {
            return false;
        }
        match self.access.get(access_token).map(|a| a.family) {
            Some(family) => self.revoke_family(family),
            None => false,
        }
    }

    /// Revokes every live login of a user; returns how many.
    pub fn revoke_user(&mut self, user_id: &str) -> usize {
        let ids: Vec<u64> = self
            .families
            .iter()
            .filter(|(_, f)| !f.revoked && f.user.id == user_id)
            .map(|(id, _)| *id)
            .collect();
        ids.into_iter().filter(|id| self.revoke_family(*id)).count()
    }

    /// Revokes every live login; returns how many.
    pub fn revoke_all(&mut self) -> usize {
        let ids: Vec<u64> = self
            .families
            .iter()
            .filter(|(_, f)| !f.revoked)
            .map(|(id, _)| *id)
            .collect();
        ids.into_iter().filter(|id| self.revoke_family(*id)).count()
    }

    // ----- faults -----

    pub fn push_fault(&mut self, fault: Fault) {
        self.faults.push_back(fault);
    }

    pub fn clear_faults(&mut self) {
        self.faults.clear();
    }

    /// Requests the queued faults still apply to.
    pub fn faults_pending(&self) -> u64 {
        self.faults.iter().map(|f| u64::from(f.remaining)).sum()
    }

    /// Consumes one application of the oldest fault queued for `target`.
    pub fn next_fault(&mut self, target: FaultTarget) -> Option<Fault> {
        let index = self.faults.iter().position(|f| {
            (f.kind == FaultKind::AuthorizeError) == (target == FaultTarget::Authorize)
        })?;
        let fault = self.faults.get_mut(index)?;
        let applied = fault.clone();
        fault.remaining = fault.remaining.saturating_sub(1);
        if fault.remaining == 0 {
            self.faults.remove(index);
        }
        Some(applied)
    }

    // ----- access log -----

    pub fn log_request(&mut self, entry: LogEntry) {
        if self.log.len() >= ACCESS_LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(entry);
    }

    pub fn access_log(&self) -> Vec<LogEntry> {
        self.log.iter().cloned().collect()
    }
}

/// `expires_in` is whole seconds; round up so a sub-second lifetime does not read as 0.
pub fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::users::user_for;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn store() -> Store {
        Store::new(Settings {
            token_lifetime: Duration::from_secs(60),
            code_lifetime: Duration::from_secs(60),
            grant_scopes: None,
            public_refresh_tokens: true,
            auto_approve: false,
        })
    }

    fn login(s: &mut Store) -> IssuedTokens {
        let code = s.issue_code(
            "c",
            "http://x/cb",
            CHALLENGE,
            user_for("agent@example.com"),
            vec!["user:read".into()],
        );
        s.exchange_code("c", false, &code, "http://x/cb", Some(VERIFIER))
            .unwrap()
    }

    #[test]
    fn refresh_reuse_revokes_family() {
        let mut s = store();
        let first = login(&mut s);
        let r1 = first.refresh_token.clone().unwrap();
        let second = s.refresh("c", false, &r1, None).unwrap();
        assert!(s.authenticate(&second.access_token).is_some());
        let err = s.refresh("c", false, &r1, None).unwrap_err();
        assert_eq!(err.error, "invalid_grant");
        assert!(s.authenticate(&second.access_token).is_none());
        assert!(s.authenticate(&first.access_token).is_none());
        assert_eq!(s.counters.refresh_reuse_detected, 1);
        assert_eq!(s.counters.families_revoked, 1);
    }

    #[test]
    fn refresh_cannot_widen_scope() {
        let mut s = store();
        let t = login(&mut s);
        let err = s
            .refresh(
                "c",
                false,
                &t.refresh_token.unwrap(),
                Some(vec!["user:write".into()]),
            )
            .unwrap_err();
        assert_eq!(err.error, "invalid_scope");
    }

    #[test]
    fn faults_are_consumed_per_target() {
        let mut s = store();
        for kind in [FaultKind::AuthorizeError, FaultKind::ServerError] {
            s.push_fault(Fault {
                kind,
                remaining: 2,
                retry_after_secs: 2,
                hang_secs: 1,
                error: "access_denied".into(),
            });
        }
        assert_eq!(s.faults_pending(), 4);
        assert_eq!(
            s.next_fault(FaultTarget::Token).unwrap().kind,
            FaultKind::ServerError
        );
        assert_eq!(
            s.next_fault(FaultTarget::Token).unwrap().kind,
            FaultKind::ServerError
        );
        assert!(s.next_fault(FaultTarget::Token).is_none());
        assert_eq!(s.faults_pending(), 2);
        assert_eq!(
            s.next_fault(FaultTarget::Authorize).unwrap().kind,
            FaultKind::AuthorizeError
        );
    }

    #[test]
    fn access_log_is_bounded() {
        let mut s = store();
        for i in 0..ACCESS_LOG_CAPACITY + 5 {
            s.log_request(LogEntry {
                origin: "api",
                method: "GET".into(),
                uri: format!("/{i}"),
            });
        }
        let log = s.access_log();
        assert_eq!(log.len(), ACCESS_LOG_CAPACITY);
        assert_eq!(log[0].uri, "/5");
    }

    #[test]
    fn ceil_secs_rounds_up() {
        assert_eq!(ceil_secs(Duration::from_millis(1500)), 2);
        assert_eq!(ceil_secs(Duration::from_secs(7200)), 7200);
    }
}
