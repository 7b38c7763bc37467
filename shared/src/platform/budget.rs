//! Time budgets of one invocation. Lambda kills a function at its `Timeout` and API Gateway then answers a bare
//! 503 (or 504) without our problem document; so every HTTP function runs its handler within a budget that
//! ends [`MARGIN`] before the invocation's deadline and answers `503 service_unavailable` with `Retry-After`
//! itself when the budget runs out (`crate::platform::http::respond_within`, wired in `crate::platform::http::run`).
//!
//! The budget is also visible to what the handler calls ([`remaining`]): the payment providers' clients cap
//! each attempt (and skip a retry) by it, so a chain of provider calls ends within the budget with
//! `503 payment_provider_unavailable` rather than being cut off half-way. The AWS SDK calls are bounded on
//! their own (operation and attempt timeouts, `crate::platform::aws`).

use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// What a handler keeps back of its invocation's time: enough to answer 503 before Lambda stops it.
pub const MARGIN: Duration = Duration::from_millis(1_000);

/// The time left of the current budget; `None` outside any budget (no limit but the callee's own timeouts).
pub fn remaining() -> Option<Duration> {
    DEADLINE.try_with(|d| d.saturating_duration_since(Instant::now())).ok()
}

/// Runs `fut` within `budget` (visible to callees through [`remaining`]); `None` when the budget ran out
/// first (the future is dropped).
pub async fn within<F: Future>(budget: Duration, fut: F) -> Option<F::Output> {
    let deadline = Instant::now() + budget;
    DEADLINE.scope(deadline, async move { tokio::time::timeout_at(deadline, fut).await.ok() }).await
}

/// The budget of an invocation whose deadline is `deadline_ms` (Unix epoch milliseconds, as Lambda gives
/// it): until [`MARGIN`] before the deadline, and at least a tenth of a second.
pub fn until_deadline(deadline_ms: u64, now_ms: u64) -> Duration {
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    left.saturating_sub(MARGIN).max(Duration::from_millis(100))
}

/// Is `deadline_ms` a real deadline (epoch milliseconds no more than a day in the past)?
pub fn is_epoch_deadline(deadline_ms: u64, now_ms: u64) -> bool {
    deadline_ms > now_ms.saturating_sub(86_400_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_ends_a_margin_before_the_deadline() {
        assert_eq!(until_deadline(20_000, 10_000), Duration::from_millis(9_000));
        assert_eq!(until_deadline(10_000, 10_000), Duration::from_millis(100));
        assert_eq!(until_deadline(5_000, 10_000), Duration::from_millis(100));
    }

    #[test]
    fn emulator_deadlines_are_no_deadlines() {
        let now = 1_800_000_000_000;
        assert!(is_epoch_deadline(now + 3_000, now));
        assert!(is_epoch_deadline(now - 5_000, now), "a passed deadline is still a deadline");
        assert!(!is_epoch_deadline(3_000, now), "cargo lambda watch's small number");
        assert!(!is_epoch_deadline(0, now));
    }

    #[tokio::test]
    async fn remaining_is_seen_inside_and_the_budget_cuts_off() {
        assert_eq!(remaining(), None);
        let inside = within(Duration::from_secs(5), async { remaining() }).await.expect("in time");
        assert!(inside.is_some_and(|d| d <= Duration::from_secs(5) && d > Duration::from_secs(4)));
        let late = within(Duration::from_millis(50), tokio::time::sleep(Duration::from_secs(60))).await;
        assert!(late.is_none());
    }
}
