//! The one-off move of day counters' analytics entries from GSI1 to GSI4 (deployment 1 of the move described
//! in `store::keys`, "GSI4"): the billing job `{"job": "index-usage"}`.
//!
//! A counter that sees another event moves itself (its update sets the GSI4 keys and removes the GSI1 ones);
//! this job moves the rest: for each solution (every status), the day counters still in its legacy GSI1
//! partition `SOLUTION#<solution_id>#USAGE`, a page at a time, each by one conditional `UpdateItem` that
//! only applies while the counter still carries that GSI1 entry (one traffic already moved, or that expired,
//! is skipped). A moved counter leaves the GSI1 partition, so a rerun starts over and finds only what is
//! left: idempotent and resumable, with no cursor to keep. It stops when `has_time()` says so (the billing
//! function's deadline), counts what is left and reports it; then it is invoked again.
//!
//! Deployment 2 (after a run reports `complete: true` and `remaining: 0` with deployment 1 fully live)
//! removes this job with the legacy reads and the `REMOVE` of GSI1 keys from the writers.

use crate::model::SolutionStatus;
use crate::platform::error::ApiError;
use crate::store::Store;
use serde::Serialize;

/// Legacy entries read per query page.
const PAGE: i32 = 100;

/// What a run of `index-usage` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UsageIndexReport {
    /// False when it stopped for its time limit with solutions left to look at.
    pub complete: bool,
    /// Solutions whose legacy entries were all looked at.
    pub solutions: u32,
    /// Day counters moved from GSI1 to GSI4 (3 write units each, once).
    pub moved: u32,
    /// Legacy entries listed but no longer carried by their counter (moved by its own next event, or
    /// expired): nothing written.
    pub skipped: u32,
    /// Day counters still in GSI1 when the run ended: a `COUNT` query per solution after the moves, in the
    /// time the invocation has left after them (`None`: too little time to count every solution). GSIs are
    /// eventually consistent, so an entry just moved may still be counted: run again. `complete` with
    /// `Some(0)`: deployment 2 may go.
    pub remaining: Option<u64>,
}

/// Move every legacy analytics entry (see the module doc) while `has_time()`; then count what is left while
/// `may_count()` (the time kept back from the moves: the billing job counts in the last part of its margin).
pub async fn index_usage(
    store: &Store,
    has_time: &dyn Fn() -> bool,
    may_count: &dyn Fn() -> bool,
) -> Result<UsageIndexReport, ApiError> {
    let mut report = UsageIndexReport { complete: true, ..Default::default() };
    let mut solutions = Vec::new();
    for status in [
        SolutionStatus::Draft,
        SolutionStatus::Submitted,
        SolutionStatus::Published,
        SolutionStatus::Suspended,
        SolutionStatus::Retired,
    ] {
        solutions.extend(store.solutions_by_status(status).await?.into_iter().map(|s| s.solution_id));
    }
    'solutions: for solution_id in &solutions {
        let mut after = None;
        loop {
            let (page, last) = store.legacy_usage_entries_page(solution_id, PAGE, after).await?;
            for legacy in page {
                if !has_time() {
                    report.complete = false;
                    break 'solutions;
                }
                if store.move_usage_entry_to_gsi4(&legacy).await? {
                    report.moved += 1;
                } else {
                    report.skipped += 1;
                }
            }
            match last {
                Some(k) => after = Some(k),
                None => break,
            }
        }
        report.solutions += 1;
    }
    let mut remaining = Some(0);
    for solution_id in &solutions {
        if !may_count() {
            remaining = None;
            break;
        }
        let left = store.count_legacy_usage_entries(solution_id).await?;
        remaining = remaining.map(|n| n + left);
    }
    report.remaining = remaining;
    tracing::info!(
        moved = report.moved,
        skipped = report.skipped,
        remaining = ?report.remaining,
        complete = report.complete,
        "day counters' analytics entries moved to GSI4"
    );
    Ok(report)
}
