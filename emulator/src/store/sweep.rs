//! Keeping memory bounded: dead records are swept, and every map has a hard cap beyond which
//! the least recently used entries go first.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

use super::{Store, ROTATED_REFRESH_MEMORY, USED_CODE_MEMORY};

impl Store {
    /// Sweeps once some map has grown past the mark. The mark then doubles the largest map
    /// (within the limits), so sweeping costs O(1) per insertion on average.
    pub(super) fn maybe_sweep(&mut self, now: Instant) {
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
    pub(super) fn sweep(&mut self, now: Instant) {
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
}

/// Whether `now` is before `start + window`, computed without adding to an `Instant`.
fn still_within(now: Instant, start: Instant, window: Duration) -> bool {
    now.saturating_duration_since(start) < window
}

/// Keeps the `keep` entries with the largest `age` key (the most recent) and drops the rest.
pub(super) fn evict_oldest<K: Eq + Hash, V, O: Ord + Copy>(
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::store::testing::{login, login_as, settings, sizes, store, CHALLENGE};
    use crate::store::{Limits, PendingAuthorization, SsoHints, FAMILY_IDLE_LIFETIME};
    use crate::users::user_for;

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
        assert_eq!(err.error, oauth_wire::ErrorCode::InvalidGrant);
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
}
