//! Authorization codes and token families: issuing, exchanging, refreshing (rotation with
//! reuse detection), authenticating and revoking.

use std::time::{Instant, SystemTime};

use super::{
    ceil_secs, deadline, Store, FAMILY_IDLE_LIFETIME, ISSUED_TOKENS_CAPACITY, USED_CODE_MEMORY,
};
use oauth_wire::{is_valid_code_verifier, ErrorCode};

use crate::config::MAX_LIFETIME;
use crate::pkce;
use crate::users::User;

/// An RFC 6749 error that the token endpoint turns into a 400 JSON body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantError {
    pub error: ErrorCode,
    pub description: String,
}

impl GrantError {
    fn new(error: ErrorCode, description: impl Into<String>) -> Self {
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

pub(super) struct CodeRecord {
    pub(super) seq: u64,
    pub(super) family: u64,
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    pub(super) code_challenge: String,
    pub(super) expires_at: Instant,
    pub(super) used: bool,
}

pub(super) struct Family {
    pub(super) client_id: String,
    pub(super) user: User,
    pub(super) scopes: Vec<String>,
    pub(super) revoked: bool,
    /// After this nothing of the family can be valid or needed: the family is dropped.
    pub(super) expires_at: Instant,
    /// Sequence number of the last code or token issued to the family (LRU eviction order).
    pub(super) last_used: u64,
}

pub(super) struct AccessRecord {
    pub(super) seq: u64,
    pub(super) family: u64,
    pub(super) scopes: Vec<String>,
    pub(super) expires_at: Instant,
    pub(super) expires_at_wall: SystemTime,
}

pub(super) struct RefreshRecord {
    pub(super) seq: u64,
    pub(super) family: u64,
    pub(super) client_id: String,
    /// Set once the token has been exchanged; presenting it again is reuse.
    pub(super) rotated_at: Option<Instant>,
}

impl Store {
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
                ErrorCode::InvalidGrant,
                "the authorization code is unknown",
            ));
        };
        let family = record.family;
        if record.used {
            // RFC 6749 4.1.2: a replayed code means it leaked; kill what it already produced.
            self.revoke_family(family);
            return Err(GrantError::new(
                ErrorCode::InvalidGrant,
                "the authorization code has already been used; every token issued from it has been revoked",
            ));
        }
        if Instant::now() >= record.expires_at {
            return Err(GrantError::new(
                ErrorCode::InvalidGrant,
                "the authorization code has expired",
            ));
        }
        if record.client_id != client_id {
            return Err(GrantError::new(
                ErrorCode::InvalidGrant,
                "the authorization code was issued to another client",
            ));
        }
        if record.redirect_uri != redirect_uri {
            return Err(GrantError::new(
                ErrorCode::InvalidGrant,
                "redirect_uri does not match the one used in the authorization request",
            ));
        }
        let Some(verifier) = code_verifier else {
            return Err(GrantError::new(
                ErrorCode::InvalidRequest,
                "code_verifier is required (PKCE)",
            ));
        };
        if !is_valid_code_verifier(verifier) {
            return Err(GrantError::new(
                ErrorCode::InvalidRequest,
                "code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]",
            ));
        }
        if !pkce::verify_s256(verifier, &record.code_challenge) {
            return Err(GrantError::new(
                ErrorCode::InvalidGrant,
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
                ErrorCode::InvalidGrant,
                "the refresh token is unknown",
            ));
        };
        if record.client_id != client_id {
            return Err(GrantError::new(
                ErrorCode::InvalidGrant,
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
                ErrorCode::InvalidGrant,
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
                        ErrorCode::InvalidScope,
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
            _ => Err(GrantError::new(ErrorCode::InvalidGrant, description)),
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
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::time::Duration;

    use super::*;
    use crate::store::testing::{login, login_as, settings, store};
    use crate::store::Settings;
    use crate::users::user_for;

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
        assert_eq!(err.error, ErrorCode::InvalidGrant);
        assert!(err.description.contains("expired"), "{err:?}");
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
        assert_eq!(err.error, ErrorCode::InvalidGrant);
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
        assert_eq!(err.error, ErrorCode::InvalidScope);
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
}
