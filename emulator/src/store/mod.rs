//! All mutable emulator state: pending logins (`logins`), authorization codes and token
//! families (`tokens`), queued faults (`faults`), counters, the access log and the secrets
//! seen; `sweep` keeps it all bounded.
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

mod faults;
mod logins;
mod sweep;
#[cfg(test)]
mod testing;
mod tokens;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::MAX_LIFETIME;

pub use faults::{Fault, FaultKind, FaultTarget};
pub use logins::{PendingAuthorization, SsoHints};
pub use tokens::{AccessInfo, IssuedTokens};
use tokens::{AccessRecord, CodeRecord, Family, RefreshRecord};

/// Upper bound of the access log; older entries are dropped first.
pub const ACCESS_LOG_CAPACITY: usize = 10_000;
/// Tokens remembered for `/_emulator/issued-tokens` (the most recent ones).
pub const ISSUED_TOKENS_CAPACITY: usize = 10_000;
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

/// One request as received, for `GET /_emulator/access-log`.
#[derive(Clone, Debug, Serialize)]
pub struct LogEntry {
    pub origin: &'static str,
    pub method: String,
    pub uri: String,
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

/// `expires_in` is whole seconds; round up so a sub-second lifetime does not read as 0.
pub fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::testing::store;
    use super::*;

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
