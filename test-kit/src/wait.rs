//! Polling with a deadline.

use std::time::{Duration, Instant};

/// Polls `probe` every 100 ms until it returns `Ok`, and returns that value. After `limit` the
/// test fails, naming what it waited for and what `probe` last saw (its `Err`).
///
/// # Panics
///
/// When `probe` has not succeeded within `limit`.
pub async fn wait_until<T>(
    limit: Duration,
    what: &str,
    mut probe: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(seen) if Instant::now() >= deadline => {
                panic!("waited {limit:?} for {what}; last seen: {seen}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
