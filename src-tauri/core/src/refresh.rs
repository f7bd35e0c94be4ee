//! The refresh policy: at most three attempts per episode, jittered exponential backoff
//! between them, a timeout per attempt, Retry-After honoured (capped), and only transient
//! failures retried. backon does the looping; this module says when and how long.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

use crate::oauth::{TokenClient, TokenError, TokenSet};
use crate::secret::RefreshToken;

/// How the session engine refreshes. All of it is configuration, none of it is hidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// Attempts per refresh episode, the first included (the guide: three at most).
    pub max_attempts: usize,
    /// Delay before the second attempt; doubles after that, with jitter up to the same again.
    pub first_delay: Duration,
    /// Ceiling of any single delay.
    pub max_delay: Duration,
    /// A hung token endpoint is abandoned after this long.
    pub attempt_timeout: Duration,
    /// The longest Retry-After that is honoured.
    pub max_retry_after: Duration,
    /// Refresh this long before the access token expires.
    pub margin: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(4),
            attempt_timeout: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(10),
            // Three timed-out attempts plus backoff take about 40 s; leave room to spare.
            margin: Duration::from_secs(120),
        }
    }
}

impl RefreshPolicy {
    /// The margin actually used for a token of `lifetime`: never more than a third of it, so
    /// very short-lived tokens (tests, aggressive org settings) do not refresh constantly.
    pub fn margin_for(&self, lifetime: Duration) -> Duration {
        self.margin.min(lifetime / 3)
    }

    /// Upper bound of one whole episode: what the margin must leave room for.
    pub fn worst_case(&self) -> Duration {
        let attempts = u32::try_from(self.max_attempts).unwrap_or(u32::MAX);
        let waits = attempts.saturating_sub(1);
        self.attempt_timeout * attempts + self.max_delay.max(self.max_retry_after) * waits
    }
}

/// One refresh episode. `on_retry` hears about every failed attempt that will be retried
/// (for logs and the UI), with the delay before the next one.
pub async fn refresh_with_retries(
    client: &TokenClient,
    refresh_token: &RefreshToken,
    policy: &RefreshPolicy,
    mut on_retry: impl FnMut(&TokenError, Duration),
) -> Result<TokenSet, TokenError> {
    let backoff = ExponentialBuilder::default()
        .with_min_delay(policy.first_delay)
        .with_max_delay(policy.max_delay)
        .with_max_times(policy.max_attempts.saturating_sub(1)) // backon counts retries
        .with_jitter();
    let attempt = || async {
        match tokio::time::timeout(policy.attempt_timeout, client.refresh(refresh_token)).await {
            Ok(result) => result,
            Err(_) => Err(TokenError::Timeout),
        }
    };
    attempt
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(TokenError::is_retryable)
        .adjust(|error, delay| {
            // None means the attempts are used up: never extend them.
            let delay = delay?;
            Some(match error.retry_after() {
                Some(after) => after.min(policy.max_retry_after),
                None => delay,
            })
        })
        .notify(|error, delay| on_retry(error, delay))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_leaves_room_for_three_attempts_by_default() {
        let policy = RefreshPolicy::default();
        assert!(
            policy.worst_case() < policy.margin,
            "{:?}",
            policy.worst_case()
        );
        assert_eq!(
            policy.margin_for(Duration::from_secs(7200)),
            Duration::from_secs(120)
        );
        assert_eq!(
            policy.margin_for(Duration::from_secs(6)),
            Duration::from_secs(2)
        );
    }
}
