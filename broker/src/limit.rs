//! Token buckets: requests per client address (an IPv6 /64 counts as one address), and the
//! budget of requests each OAuth client may have forwarded upstream.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};

use crate::config::{RateLimit, UpstreamBudget};
use crate::net;

/// A per-address limiter and the quota it was built with (kept across reloads that do not
/// change it).
pub(crate) struct Limiter {
    pub quota: RateLimit,
    pub inner: DefaultKeyedRateLimiter<IpAddr>,
}

impl Limiter {
    pub fn new(quota: &RateLimit) -> Self {
        Self {
            quota: quota.clone(),
            inner: DefaultKeyedRateLimiter::keyed(
                Quota::per_second(quota.per_second).allow_burst(quota.burst),
            ),
        }
    }

    /// `Err(wait)` when `ip`'s bucket (its IPv4 address, or its IPv6 /64) is empty.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        self.inner
            .check_key(&net::rate_key(ip))
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Drops idle buckets, keeping memory bounded however many addresses were seen.
    pub fn sweep(&self) {
        self.inner.retain_recent();
        self.inner.shrink_to_fit();
    }
}

/// The grant types that have budgets of their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum BudgetKind {
    /// `authorization_code`: anyone can send one, so junk lands here.
    Code,
    /// `refresh_token`: only with an envelope this broker sealed.
    Refresh,
}

/// Per client and grant type, how many requests may still go upstream.
pub(crate) struct Budget {
    pub quota: UpstreamBudget,
    buckets: HashMap<(String, BudgetKind), DefaultDirectRateLimiter>,
}

impl Budget {
    pub fn new<'a>(quota: &UpstreamBudget, client_ids: impl IntoIterator<Item = &'a str>) -> Self {
        let rate = Quota::per_minute(quota.per_minute).allow_burst(quota.burst);
        let buckets = client_ids
            .into_iter()
            .flat_map(|id| {
                [BudgetKind::Code, BudgetKind::Refresh].map(|kind| {
                    (
                        (id.to_owned(), kind),
                        DefaultDirectRateLimiter::direct(rate),
                    )
                })
            })
            .collect();
        Self {
            quota: quota.clone(),
            buckets,
        }
    }

    /// Whether it serves exactly these clients with this quota (then a reload keeps it).
    pub fn fits<'a>(
        &self,
        quota: &UpstreamBudget,
        client_ids: impl IntoIterator<Item = &'a str>,
    ) -> bool {
        let ids: Vec<&str> = client_ids.into_iter().collect();
        self.quota == *quota
            && self.buckets.len() == ids.len() * 2
            && ids.iter().all(|id| {
                self.buckets
                    .contains_key(&((*id).to_owned(), BudgetKind::Code))
            })
    }

    /// Takes one request from `client_id`'s `kind` bucket; `Err(wait)` when it is empty.
    /// A client without a bucket (not configured) is never forwarded anyway.
    pub fn take(&self, client_id: &str, kind: BudgetKind) -> Result<(), Duration> {
        match self.buckets.get(&(client_id.to_owned(), kind)) {
            Some(bucket) => bucket
                .check()
                .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now())),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::num::NonZeroU32;

    #[test]
    fn limiter_allows_the_burst_then_refuses() {
        let limiter = Limiter::new(&RateLimit {
            per_second: NonZeroU32::new(1).unwrap(),
            burst: NonZeroU32::new(3).unwrap(),
            ..RateLimit::default()
        });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            limiter.check(a).unwrap();
        }
        let wait = limiter.check(a).unwrap_err();
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        limiter.check(b).unwrap();
        // The IPv4-mapped form is the same client.
        limiter
            .check("::ffff:192.0.2.1".parse().unwrap())
            .unwrap_err();
    }

    #[test]
    fn one_ipv6_64_shares_a_bucket() {
        let limiter = Limiter::new(&RateLimit {
            per_second: NonZeroU32::new(1).unwrap(),
            burst: NonZeroU32::new(3).unwrap(),
            ..RateLimit::default()
        });
        let refused = (1..=200u16)
            .filter(|i| {
                let ip: IpAddr = format!("2001:db8:1:2:{i:x}::{i:x}").parse().unwrap();
                limiter.check(ip).is_err()
            })
            .count();
        assert_eq!(refused, 197);
        limiter.check("2001:db8:1:3::1".parse().unwrap()).unwrap();
    }

    #[test]
    fn budgets_are_per_client_and_grant() {
        let quota = UpstreamBudget {
            per_minute: NonZeroU32::new(1).unwrap(),
            burst: NonZeroU32::new(2).unwrap(),
        };
        let budget = Budget::new(&quota, ["a", "b"]);
        budget.take("a", BudgetKind::Code).unwrap();
        budget.take("a", BudgetKind::Code).unwrap();
        let wait = budget.take("a", BudgetKind::Code).unwrap_err();
        assert!(wait > Duration::from_secs(20), "{wait:?}");
        budget.take("a", BudgetKind::Refresh).unwrap();
        budget.take("b", BudgetKind::Code).unwrap();
        budget.take("unknown", BudgetKind::Code).unwrap();
        assert!(budget.fits(&quota, ["a", "b"]));
        assert!(!budget.fits(&quota, ["a"]));
        assert!(!budget.fits(&UpstreamBudget::default(), ["a", "b"]));
    }
}
