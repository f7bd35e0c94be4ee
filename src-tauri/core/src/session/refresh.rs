//! The refresh policy: at most three attempts per episode, jittered exponential backoff
//! between them, a timeout per attempt, Retry-After honoured (capped), and only transient
//! failures retried. backon does the looping; this module says when and how long.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

use crate::config::RefreshPolicy;
use crate::oauth::{GenesysApi, TokenError, TokenSet};
use crate::secret::RefreshToken;

/// One refresh episode. `on_retry` hears about every failed attempt that will be retried
/// (for logs and the UI), with the delay before the next one.
pub async fn refresh_with_retries(
    client: &dyn GenesysApi,
    refresh_token: &RefreshToken,
    policy: &RefreshPolicy,
    on_retry: impl FnMut(&TokenError, Duration),
) -> Result<TokenSet, TokenError> {
    run_episode(|| client.refresh(refresh_token), policy, on_retry).await
}

/// The retry loop of an episode around any `attempt` (the token request in the app, a script
/// in the tests). Time is tokio's: each attempt is cut off after the policy's attempt timeout
/// and the waits are tokio sleeps, so tests on a paused clock see exact, instant timings.
pub async fn run_episode<Attempt, Fut>(
    mut attempt: Attempt,
    policy: &RefreshPolicy,
    mut on_retry: impl FnMut(&TokenError, Duration),
) -> Result<TokenSet, TokenError>
where
    Attempt: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<TokenSet, TokenError>>,
{
    let backoff = ExponentialBuilder::default()
        .with_min_delay(policy.first_delay)
        .with_max_delay(policy.max_delay)
        .with_max_times(policy.max_attempts.saturating_sub(1)) // backon counts retries
        .with_jitter();
    let timed = || {
        let request = attempt();
        async move {
            match tokio::time::timeout(policy.attempt_timeout, request).await {
                Ok(result) => result,
                Err(_) => Err(TokenError::Timeout),
            }
        }
    };
    timed
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(TokenError::is_retryable)
        .adjust(|error, delay| next_delay(error, delay, policy))
        .notify(|error, delay| on_retry(error, delay))
        .await
}

/// The wait before the next attempt: the server's Retry-After (capped by the policy) when it
/// sent one, else the backoff's, jitter included, capped at `max_delay` (backon's jitter can
/// add up to the delay again on top of its own cap). `None` (attempts used up) stays `None`:
/// never extend them.
pub fn next_delay(
    error: &TokenError,
    backoff: Option<Duration>,
    policy: &RefreshPolicy,
) -> Option<Duration> {
    let backoff = backoff?;
    Some(match error.retry_after() {
        Some(after) => after.min(policy.max_retry_after),
        None => backoff.min(policy.max_delay),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::Mutex;
    use tokio::time::Instant;

    use crate::error::ErrorCode;
    use crate::secret::AccessToken;

    /// What the scripted token endpoint does for one attempt.
    #[derive(Clone)]
    enum Answer {
        Tokens,
        Fail(TokenError),
        Hang,
    }

    fn tokens() -> TokenSet {
        TokenSet {
            access_token: AccessToken::new(String::from("a")),
            refresh_token: None,
            lifetime: Duration::from_secs(60),
            expires_at: std::time::SystemTime::now(),
            granted_scopes: Vec::new(),
        }
    }

    fn server_error() -> TokenError {
        TokenError::ServerUnavailable {
            status: 500,
            retry_after: None,
        }
    }

    struct Run {
        result: Result<TokenSet, TokenError>,
        /// Virtual time between the starts of consecutive attempts.
        gaps: Vec<Duration>,
        attempts: usize,
        elapsed: Duration,
    }

    /// Runs one episode against a scripted endpoint (the last answer repeats) on tokio's
    /// clock, which the tests pause: every wait and timeout is exact and instant.
    async fn episode(policy: &RefreshPolicy, script: &[Answer]) -> Run {
        let answers = Mutex::new(script.iter().cloned().collect::<VecDeque<_>>());
        let starts = Mutex::new(Vec::new());
        let began = Instant::now();
        let result = run_episode(
            || {
                starts.lock().unwrap().push(Instant::now());
                let mut queue = answers.lock().unwrap();
                let answer = if queue.len() > 1 {
                    queue.pop_front()
                } else {
                    queue.front().cloned()
                };
                async move {
                    match answer {
                        Some(Answer::Tokens) | None => Ok(tokens()),
                        Some(Answer::Fail(error)) => Err(error),
                        Some(Answer::Hang) => std::future::pending().await,
                    }
                }
            },
            policy,
            |_, _| {},
        )
        .await;
        let starts = starts.into_inner().unwrap();
        Run {
            result,
            gaps: starts.windows(2).map(|w| w[1] - w[0]).collect(),
            attempts: starts.len(),
            elapsed: began.elapsed(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_waits_stay_within_bounds_and_attempts_never_exceed_the_policy() {
        // Many runs, because the jitter is random: every one must hold the bounds.
        for max_attempts in 1..=3 {
            for first_ms in [50u64, 500, 3000] {
                let policy = RefreshPolicy {
                    max_attempts,
                    first_delay: Duration::from_millis(first_ms),
                    ..RefreshPolicy::default()
                };
                for _ in 0..40 {
                    let run = episode(&policy, &[Answer::Fail(server_error())]).await;
                    assert_eq!(run.attempts, max_attempts, "{policy:?}");
                    assert_eq!(run.result.unwrap_err().code(), "token_server_unavailable");
                    for (i, gap) in run.gaps.iter().enumerate() {
                        let base = (policy.first_delay * 2u32.pow(i as u32)).min(policy.max_delay);
                        let ceiling = (base * 2).min(policy.max_delay);
                        assert!(
                            *gap >= base && *gap <= ceiling,
                            "wait {i} was {gap:?}, expected {base:?}..={ceiling:?} ({policy:?})"
                        );
                    }
                    assert!(run.elapsed <= policy.worst_case(), "{:?}", run.elapsed);
                }
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn recovery_on_a_later_attempt_stops_the_episode() {
        let policy = RefreshPolicy::default();
        let run = episode(
            &policy,
            &[
                Answer::Fail(server_error()),
                Answer::Fail(TokenError::Timeout),
                Answer::Tokens,
            ],
        )
        .await;
        assert!(run.result.is_ok());
        assert_eq!(run.attempts, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured_exactly_up_to_the_policy_cap() {
        let policy = RefreshPolicy {
            max_retry_after: Duration::from_secs(60),
            ..RefreshPolicy::default()
        };
        let busy = |secs| {
            Answer::Fail(TokenError::ServerUnavailable {
                status: 503,
                retry_after: Some(Duration::from_secs(secs)),
            })
        };
        let run = episode(&policy, &[busy(45), Answer::Tokens]).await;
        assert_eq!(run.gaps, vec![Duration::from_secs(45)]);
        let run = episode(&policy, &[busy(3600), Answer::Tokens]).await;
        assert_eq!(run.gaps, vec![Duration::from_secs(60)]);
        let no_wait = RefreshPolicy {
            max_retry_after: Duration::ZERO,
            ..policy
        };
        let run = episode(&no_wait, &[busy(30), Answer::Tokens]).await;
        assert_eq!(run.gaps, vec![Duration::ZERO]);
    }

    #[tokio::test(start_paused = true)]
    async fn final_errors_are_never_retried() {
        let policy = RefreshPolicy::default();
        for error in [
            TokenError::InvalidGrant(None),
            TokenError::Malformed("x".into()),
            TokenError::MissingScopes(vec!["users:readonly".into()]),
            TokenError::ClientRejected {
                error: "invalid_client".into(),
                description: None,
            },
        ] {
            let code = error.code();
            let run = episode(&policy, &[Answer::Fail(error)]).await;
            assert_eq!(run.attempts, 1, "{code}");
            assert_eq!(run.result.unwrap_err().code(), code);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_endpoint_is_cut_off_at_each_attempt_timeout() {
        let policy = RefreshPolicy {
            attempt_timeout: Duration::from_secs(7),
            ..RefreshPolicy::default()
        };
        let run = episode(&policy, &[Answer::Hang]).await;
        assert_eq!(run.result.unwrap_err().code(), "token_timeout");
        assert_eq!(run.attempts, 3);
        // Each gap is the timeout plus a backoff wait.
        for gap in &run.gaps {
            assert!(*gap >= Duration::from_secs(7), "{gap:?}");
        }
        assert!(run.elapsed <= policy.worst_case());
        assert!(run.elapsed >= Duration::from_secs(21));
    }

    #[test]
    fn retry_after_is_capped_by_the_configured_policy_alone() {
        let policy = RefreshPolicy {
            max_retry_after: Duration::from_secs(60),
            ..RefreshPolicy::default()
        };
        let busy = |secs| TokenError::ServerUnavailable {
            status: 503,
            retry_after: Some(Duration::from_secs(secs)),
        };
        let backoff = Some(Duration::from_millis(700));
        // The documented range goes to 60 s: 45 s is honoured, not cut to a hidden 30 s.
        assert_eq!(
            next_delay(&busy(45), backoff, &policy),
            Some(Duration::from_secs(45))
        );
        assert_eq!(
            next_delay(&busy(600), backoff, &policy),
            Some(Duration::from_secs(60))
        );
        assert_eq!(next_delay(&TokenError::Timeout, backoff, &policy), backoff);
        assert_eq!(
            next_delay(&busy(5), None, &policy),
            None,
            "no attempt is added"
        );
    }

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
