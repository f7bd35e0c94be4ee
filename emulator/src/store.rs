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
//!
//! Memory stays bounded. A family *expires*: when its code expired unexchanged, or once it has
//! been idle (no code exchange or refresh) for [`FAMILY_IDLE_LIFETIME`] and its last access
//! token has expired. Expired and revoked families are dropped together with their codes and
//! tokens; a rotated refresh token is remembered for [`ROTATED_REFRESH_MEMORY`] so that reuse
//! is still detected. On top of that every map has a hard cap: beyond it the least recently
//! used entries go first.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::config::MAX_LIFETIME;
use crate::pkce;
use crate::users::User;

/// Upper bound of the access log; older entries are dropped first.
pub const ACCESS_LOG_CAPACITY: usize = 10_000;
/// Tokens remembered for `/_emulator/issued-tokens` (the most recent ones).
pub const ISSUED_TOKENS_CAPACITY: usize = 10_000;
/// A login page left open longer than this has to be started again.
const PENDING_LIFETIME: Duration = Duration::from_secs(600);
/// Used codes are remembered past their expiry so a late replay is still detected as reuse.
const USED_CODE_MEMORY: Duration = Duration::from_secs(600);
/// A login whose refresh token has not been used for this long (and whose access tokens have
/// all expired) is forgotten: its refresh token becomes unknown.
pub const FAMILY_IDLE_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// How long a rotated refresh token is remembered; presenting it again within this window
/// revokes its family (RFC 9700 4.14.2), later it is merely unknown.
pub const ROTATED_REFRESH_MEMORY: Duration = Duration::from_secs(24 * 3600);

/// When dead records are swept and how many live ones are kept at most.
#[derive(Clone, Copy, Debug)]
struct Limits {
    /// No sweep runs before some map holds more entries than this.
    sweep_threshold: usize,
    /// Hard cap per map (pending logins, codes, families, access and refresh tokens). A sweep
    /// that still finds more evicts the least recently used down to 90 % of it.
    max_records: usize,
}

const DEFAULT_LIMITS: Limits = Limits {
    sweep_threshold: 10_000,
    max_records: 100_000,
};

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
    /// Waits `hang_secs`, then answers the token request normally (a slow but working server).
    Slow,
    Malformed,
    InvalidGrant,
    /// Applies to authorize requests.
    AuthorizeError,
    /// Applies to `users/me`: a 401 whatever the token (what the embedded client checks).
    UsersMeUnauthorized,
    /// Applies to the contact centre's Platform API routes: a 401 whatever the token (Genesys
    /// refusing the agent client's token mid-shift).
    ApiUnauthorized,
}

impl FaultKind {
    pub fn parse(kind: &str) -> Option<Self> {
        Some(match kind {
            "server_error" => Self::ServerError,
            "service_unavailable" => Self::ServiceUnavailable,
            "rate_limited" => Self::RateLimited,
            "hang" => Self::Hang,
            "slow" => Self::Slow,
            "malformed" => Self::Malformed,
            "invalid_grant" => Self::InvalidGrant,
            "authorize_error" => Self::AuthorizeError,
            "users_me_unauthorized" => Self::UsersMeUnauthorized,
            "api_unauthorized" => Self::ApiUnauthorized,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ServerError => "server_error",
            Self::ServiceUnavailable => "service_unavailable",
            Self::RateLimited => "rate_limited",
            Self::Hang => "hang",
            Self::Slow => "slow",
            Self::Malformed => "malformed",
            Self::InvalidGrant => "invalid_grant",
            Self::AuthorizeError => "authorize_error",
            Self::UsersMeUnauthorized => "users_me_unauthorized",
            Self::ApiUnauthorized => "api_unauthorized",
        }
    }

    /// The endpoint this kind of fault applies to.
    pub fn target(self) -> FaultTarget {
        match self {
            Self::AuthorizeError => FaultTarget::Authorize,
            Self::UsersMeUnauthorized => FaultTarget::UsersMe,
            Self::ApiUnauthorized => FaultTarget::Api,
            _ => FaultTarget::Token,
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
    UsersMe,
    /// The contact centre's Platform API routes.
    Api,
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
    seq: u64,
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
    /// After this nothing of the family can be valid or needed: the family is dropped.
    expires_at: Instant,
    /// Sequence number of the last code or token issued to the family (LRU eviction order).
    last_used: u64,
}

struct AccessRecord {
    seq: u64,
    family: u64,
    scopes: Vec<String>,
    expires_at: Instant,
    expires_at_wall: SystemTime,
}

struct RefreshRecord {
    seq: u64,
    family: u64,
    client_id: String,
    /// Set once the token has been exchanged; presenting it again is reuse.
    rotated_at: Option<Instant>,
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
    /// Issue order of codes and tokens, for eviction.
    next_seq: u64,
    limits: Limits,
    /// The next sweep runs once some map holds more entries than this.
    sweep_mark: usize,
    faults: VecDeque<Fault>,
    log: VecDeque<LogEntry>,
    /// Every access and refresh token issued (most recent last), so a test can prove none of
    /// them ever appeared in a URL.
    issued: VecDeque<String>,
    /// The other secrets of a sign-in (authorization codes, PKCE verifiers, OAuth states), for
    /// the same kind of check on files, logs and process arguments.
    secrets: VecDeque<String>,
}

impl Store {
    pub fn new(settings: Settings) -> Self {
        Self::with_limits(settings, DEFAULT_LIMITS)
    }

    fn with_limits(settings: Settings, limits: Limits) -> Self {
        Self {
            settings,
            counters: Counters::default(),
            pending: HashMap::new(),
            codes: HashMap::new(),
            families: HashMap::new(),
            next_family: 1,
            access: HashMap::new(),
            refresh: HashMap::new(),
            next_seq: 0,
            limits,
            sweep_mark: limits.sweep_threshold,
            faults: VecDeque::new(),
            log: VecDeque::new(),
            issued: VecDeque::new(),
            secrets: VecDeque::new(),
        }
    }

    /// Remembers a sign-in secret for `/_emulator/secrets` (bounded like the issued tokens).
    pub fn remember_secret(&mut self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        if self.secrets.len() >= ISSUED_TOKENS_CAPACITY {
            self.secrets.pop_front();
        }
        self.secrets.push_back(secret.to_owned());
    }

    /// Every secret of the sign-ins seen: issued tokens, codes, verifiers and states.
    pub fn all_secrets(&self) -> Vec<String> {
        self.issued
            .iter()
            .chain(self.secrets.iter())
            .cloned()
            .collect()
    }

    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    // ----- login page -----

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
        self.maybe_sweep(now);
        let seq = self.seq();
        let expires_at = deadline(now, self.settings.code_lifetime);
        let family = self.next_family;
        self.next_family += 1;
        self.families.insert(
            family,
            Family {
                client_id: client_id.to_owned(),
                user,
                scopes,
                revoked: false,
                // Unless the code is exchanged, the family dies with it (once a replay of the
                // code no longer needs to be recognised).
                expires_at: deadline(expires_at, USED_CODE_MEMORY),
                last_used: seq,
            },
        );
        let code = pkce::random_token();
        self.codes.insert(
            code.clone(),
            CodeRecord {
                seq,
                family,
                client_id: client_id.to_owned(),
                redirect_uri: redirect_uri.to_owned(),
                code_challenge: code_challenge.to_owned(),
                expires_at,
                used: false,
            },
        );
        self.counters.codes_issued += 1;
        self.remember_secret(&code);
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
        if let Some(verifier) = code_verifier {
            self.remember_secret(verifier);
        }
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
        let scopes = self.live_scopes(family, "the authorization has been revoked")?;
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
        if record.rotated_at.is_some() {
            // Either the legitimate client or an attacker holds a stale copy; we cannot tell
            // which, so the whole login dies (RFC 9700 4.14.2).
            self.counters.refresh_reuse_detected += 1;
            self.revoke_family(family);
            return Err(GrantError::new(
                "invalid_grant",
                "the refresh token has already been used; every token of this login has been revoked",
            ));
        }
        let granted =
            self.live_scopes(family, "the refresh token has been revoked or has expired")?;
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
            record.rotated_at = Some(Instant::now());
        }
        self.counters.refreshes_served += 1;
        Ok(self.issue_tokens(family, scopes, confidential))
    }

    /// The granted scopes of a family that may still issue tokens; `invalid_grant` with
    /// `description` when it is revoked, expired or already forgotten.
    fn live_scopes(&self, family: u64, description: &str) -> Result<Vec<String>, GrantError> {
        match self.families.get(&family) {
            Some(f) if !f.revoked && f.expires_at > Instant::now() => Ok(f.scopes.clone()),
            _ => Err(GrantError::new("invalid_grant", description)),
        }
    }

    fn issue_tokens(
        &mut self,
        family: u64,
        scopes: Vec<String>,
        confidential: bool,
    ) -> IssuedTokens {
        let now = Instant::now();
        self.maybe_sweep(now);
        let seq = self.seq();
        // Settings are validated; the cap only keeps `now + lifetime` from ever panicking.
        let lifetime = self.settings.token_lifetime.min(MAX_LIFETIME);
        let expires_at = deadline(now, lifetime);
        let wall_now = SystemTime::now();
        let access_token = pkce::random_token();
        self.access.insert(
            access_token.clone(),
            AccessRecord {
                seq,
                family,
                scopes: scopes.clone(),
                expires_at,
                expires_at_wall: wall_now.checked_add(lifetime).unwrap_or(wall_now),
            },
        );
        let with_refresh = confidential || self.settings.public_refresh_tokens;
        let mut client_id = String::new();
        if let Some(f) = self.families.get_mut(&family) {
            let idle_until = if with_refresh {
                deadline(now, FAMILY_IDLE_LIFETIME)
            } else {
                now
            };
            f.expires_at = f.expires_at.max(expires_at).max(idle_until);
            f.last_used = seq;
            client_id.clone_from(&f.client_id);
        }
        let refresh_token = with_refresh.then(|| {
            let token = pkce::random_token();
            self.refresh.insert(
                token.clone(),
                RefreshRecord {
                    seq,
                    family,
                    client_id,
                    rotated_at: None,
                },
            );
            token
        });
        for token in std::iter::once(&access_token).chain(refresh_token.as_ref()) {
            if self.issued.len() >= ISSUED_TOKENS_CAPACITY {
                self.issued.pop_front();
            }
            self.issued.push_back(token.clone());
        }
        IssuedTokens {
            access_token,
            expires_in: ceil_secs(lifetime),
            refresh_token,
            scopes,
        }
    }

    /// Sweeps once some map has grown past the mark. The mark then doubles the largest map
    /// (within the limits), so sweeping costs O(1) per insertion on average.
    fn maybe_sweep(&mut self, now: Instant) {
        if self.largest_map() > self.sweep_mark {
            self.sweep(now);
        }
    }

    fn largest_map(&self) -> usize {
        [
            self.pending.len(),
            self.codes.len(),
            self.families.len(),
            self.access.len(),
            self.refresh.len(),
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
    }

    /// Drops every record that can never be valid or needed again, then enforces the caps.
    fn sweep(&mut self, now: Instant) {
        let cap = self.limits.max_records;
        let keep = cap / 10 * 9;
        self.pending.retain(|_, p| p.expires_at > now);
        self.families
            .retain(|_, f| !f.revoked && f.expires_at > now);
        if self.families.len() > cap {
            evict_oldest(&mut self.families, keep, |f| f.last_used);
        }
        // A missing family reads as revoked, which is what these are.
        let families = &self.families;
        self.codes.retain(|_, c| {
            families.contains_key(&c.family) && still_within(now, c.expires_at, USED_CODE_MEMORY)
        });
        self.access
            .retain(|_, a| a.expires_at > now && families.contains_key(&a.family));
        self.refresh.retain(|_, r| {
            families.contains_key(&r.family)
                && r.rotated_at
                    .is_none_or(|at| still_within(now, at, ROTATED_REFRESH_MEMORY))
        });
        if self.codes.len() > cap {
            evict_oldest(&mut self.codes, keep, |c| c.seq);
        }
        if self.access.len() > cap {
            evict_oldest(&mut self.access, keep, |a| a.seq);
        }
        if self.refresh.len() > cap {
            evict_oldest(&mut self.refresh, keep, |r| r.seq);
        }
        self.sweep_mark = self
            .largest_map()
            .saturating_mul(2)
            .max(self.limits.sweep_threshold)
            .min(cap);
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

    /// Revokes every live login whose user matches; returns how many.
    pub fn revoke_where(&mut self, mut matches: impl FnMut(&User) -> bool) -> usize {
        let now = Instant::now();
        let mut revoked = 0;
        for f in self.families.values_mut() {
            if !f.revoked && f.expires_at > now && matches(&f.user) {
                f.revoked = true;
                revoked += 1;
            }
        }
        self.counters.families_revoked += u64::try_from(revoked).unwrap_or(u64::MAX);
        revoked
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
        let index = self.faults.iter().position(|f| f.kind.target() == target)?;
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

    /// Access and refresh tokens issued so far, oldest first (bounded).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.issued.iter().cloned().collect()
    }
}

/// `now + d` without the panic of `+` on overflow (it cannot overflow for lifetimes up to
/// [`MAX_LIFETIME`]; past that the deadline is capped).
fn deadline(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(MAX_LIFETIME))
        .unwrap_or(now)
}

/// Whether `now` is before `start + window`, computed without adding to an `Instant`.
fn still_within(now: Instant, start: Instant, window: Duration) -> bool {
    now.saturating_duration_since(start) < window
}

/// Keeps the `keep` entries with the largest `age` key (the most recent) and drops the rest.
fn evict_oldest<K: Eq + Hash, V, O: Ord + Copy>(
    map: &mut HashMap<K, V>,
    keep: usize,
    age: impl Fn(&V) -> O,
) {
    if map.len() <= keep {
        return;
    }
    if keep == 0 {
        map.clear();
        return;
    }
    let mut ages: Vec<O> = map.values().map(&age).collect();
    let dropped = ages.len() - keep;
    let (_, threshold, _) = ages.select_nth_unstable(dropped);
    let threshold = *threshold;
    map.retain(|_, v| age(v) >= threshold);
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

    fn settings(token_lifetime: Duration) -> Settings {
        Settings {
            token_lifetime,
            code_lifetime: Duration::from_secs(60),
            grant_scopes: None,
            public_refresh_tokens: true,
            auto_approve: false,
        }
    }

    fn store() -> Store {
        Store::new(settings(Duration::from_secs(60)))
    }

    fn login_as(s: &mut Store, username: &str) -> IssuedTokens {
        let code = s.issue_code(
            "c",
            "http://x/cb",
            CHALLENGE,
            user_for(username),
            vec!["users:readonly".into()],
        );
        s.exchange_code("c", false, &code, "http://x/cb", Some(VERIFIER))
            .unwrap()
    }

    fn login(s: &mut Store) -> IssuedTokens {
        login_as(s, "agent@example.com")
    }

    /// Sizes of the codes, families, access and refresh maps.
    fn sizes(s: &Store) -> [usize; 4] {
        [
            s.codes.len(),
            s.families.len(),
            s.access.len(),
            s.refresh.len(),
        ]
    }

    #[test]
    fn expired_families_are_dropped_with_everything_they_own() {
        let mut s = store();
        let t0 = Instant::now();
        let first = login(&mut s);
        let r1 = first.refresh_token.clone().unwrap();
        let second = s.refresh("c", false, &r1, None).unwrap();
        // A second login whose code is never exchanged.
        s.issue_code(
            "c",
            "http://x/cb",
            CHALLENGE,
            user_for("jane@example.com"),
            vec![],
        );
        assert_eq!(sizes(&s), [2, 2, 2, 2]);

        // An hour later: the access tokens and the unexchanged code's family are gone (the
        // code expired after 60 s and is not remembered past 10 more minutes); the refreshing
        // login and its rotated refresh token are kept.
        s.sweep(t0 + Duration::from_secs(3600));
        assert_eq!(sizes(&s), [0, 1, 0, 2]);
        // So reusing the rotated token is still detected and revokes the login.
        let err = s.refresh("c", false, &r1, None).unwrap_err();
        assert_eq!(err.error, "invalid_grant");
        assert_eq!(s.counters.refresh_reuse_detected, 1);
        assert!(s
            .refresh("c", false, &second.refresh_token.unwrap(), None)
            .is_err());
        // The revoked family goes at the next sweep, with its refresh tokens.
        s.sweep(t0 + Duration::from_secs(3601));
        assert_eq!(sizes(&s), [0, 0, 0, 0]);
    }

    #[test]
    fn idle_families_expire_and_rotated_tokens_are_forgotten() {
        let mut s = store();
        let t0 = Instant::now();
        let first = login(&mut s);
        s.refresh("c", false, &first.refresh_token.unwrap(), None)
            .unwrap();
        s.sweep(t0 + FAMILY_IDLE_LIFETIME - Duration::from_secs(60));
        assert_eq!(sizes(&s), [0, 1, 0, 2]);
        s.sweep(t0 + FAMILY_IDLE_LIFETIME + Duration::from_secs(60));
        assert_eq!(sizes(&s), [0, 0, 0, 0]);

        // A family kept alive by a long access token still forgets old rotated tokens.
        let mut s = Store::new(settings(FAMILY_IDLE_LIFETIME * 3));
        let t0 = Instant::now();
        let first = login(&mut s);
        let second = s
            .refresh("c", false, &first.refresh_token.unwrap(), None)
            .unwrap();
        s.sweep(t0 + ROTATED_REFRESH_MEMORY + Duration::from_secs(60));
        assert_eq!(sizes(&s), [0, 1, 2, 1]);
        assert!(s.refresh.contains_key(&second.refresh_token.unwrap()));
    }

    #[test]
    fn expired_family_cannot_refresh_before_it_is_swept() {
        let mut s = store();
        let t = login(&mut s);
        for f in s.families.values_mut() {
            f.expires_at = Instant::now();
        }
        let err = s
            .refresh("c", false, &t.refresh_token.unwrap(), None)
            .unwrap_err();
        assert_eq!(err.error, "invalid_grant");
        assert!(err.description.contains("expired"), "{err:?}");
    }

    #[test]
    fn maps_never_outgrow_the_hard_cap() {
        let limits = Limits {
            sweep_threshold: 4,
            max_records: 20,
        };
        let mut s = Store::with_limits(settings(Duration::from_secs(3600)), limits);
        let first = login(&mut s);
        let mut last = None;
        for i in 0..200 {
            let t = login_as(&mut s, &format!("user{i}@example.com"));
            for size in sizes(&s) {
                assert!(size <= limits.max_records + 1, "{:?}", sizes(&s));
            }
            last = Some(t);
        }
        for i in 0..200 {
            s.add_pending(PendingAuthorization::new(
                "c".into(),
                "http://x/cb".into(),
                None,
                CHALLENGE.into(),
                vec![],
                SsoHints::default(),
            ));
            assert!(s.pending.len() <= limits.max_records, "{i}");
        }
        // The least recently used went first; the newest login still works.
        assert!(s.authenticate(&first.access_token).is_none());
        let last = last.unwrap();
        assert!(s.authenticate(&last.access_token).is_some());
        s.refresh("c", false, &last.refresh_token.unwrap(), None)
            .unwrap();
    }

    #[test]
    fn huge_lifetimes_are_capped_instead_of_panicking() {
        let mut s = Store::new(Settings {
            code_lifetime: Duration::MAX,
            ..settings(Duration::MAX)
        });
        let t = login(&mut s);
        assert_eq!(t.expires_in, MAX_LIFETIME.as_secs());
        assert!(s.authenticate(&t.access_token).is_some());
        s.sweep(Instant::now());
        assert!(s.authenticate(&t.access_token).is_some());
    }

    #[test]
    fn revoke_where_counts_live_logins() {
        let mut s = store();
        let a = login_as(&mut s, "agent@example.com");
        let b = login_as(&mut s, "jane@example.com");
        let a_id = user_for("agent@example.com").id;
        assert_eq!(s.revoke_where(|u| u.id == a_id), 1);
        assert_eq!(s.revoke_where(|u| u.id == a_id), 0);
        assert!(s.authenticate(&a.access_token).is_none());
        assert!(s.authenticate(&b.access_token).is_some());
        assert_eq!(s.revoke_where(|_| true), 1);
        assert!(s.authenticate(&b.access_token).is_none());
        assert_eq!(s.counters.families_revoked, 2);
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
        s.push_fault(Fault {
            kind: FaultKind::UsersMeUnauthorized,
            remaining: 1,
            retry_after_secs: 2,
            hang_secs: 1,
            error: String::new(),
        });
        assert!(s.next_fault(FaultTarget::Token).is_none());
        assert!(s.next_fault(FaultTarget::Authorize).is_some());
        assert_eq!(
            s.next_fault(FaultTarget::UsersMe).unwrap().kind,
            FaultKind::UsersMeUnauthorized
        );
        assert!(s.next_fault(FaultTarget::UsersMe).is_none());
    }

    #[test]
    fn issued_tokens_are_remembered_through_rotation_and_sweeps() {
        let mut s = store();
        let first = login(&mut s);
        let r1 = first.refresh_token.clone().unwrap();
        let second = s.refresh("c", false, &r1, None).unwrap();
        s.sweep(Instant::now() + Duration::from_secs(3600));
        assert_eq!(
            s.issued_tokens(),
            vec![
                first.access_token,
                r1,
                second.access_token,
                second.refresh_token.unwrap()
            ]
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
