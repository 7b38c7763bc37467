//! The `billing` function: invoked by EventBridge Scheduler (no HTTP). `{"job": "daily"}` runs the billing
//! schedule (`shared::subscriptions::billing_run`): renewal notices, renewal invoices and payment requests,
//! reminders, grace-period ends, abandoned pending subscriptions, scheduled downgrades. It stops 30 s before
//! its time limit; the next invocation continues.

use serde::{Deserialize, Serialize};
use shared::clock::{Clock, SystemClock};
use shared::store::Store;
use shared::subscriptions::billing::Schedule;
use shared::subscriptions::billing_run::{BillingRun, RunReport};
use shared::subscriptions::service::Ledger;
use std::sync::Arc;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The scheduled event's input.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    pub job: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub job: String,
    #[serde(flatten)]
    pub report: RunReport,
}

/// Stop this long before the invocation's deadline.
pub const MARGIN_MS: i64 = 30_000;

pub struct AppState {
    pub run: BillingRun,
}

impl AppState {
    /// Cold start: configuration and the store (no secrets: the run calls no provider).
    pub async fn from_env() -> Result<Self, BoxError> {
        let sdk = shared::aws::load().await;
        let store = shared::secrets::store_from_env(&sdk)?;
        let mut ledger = Ledger::new(store, Arc::new(SystemClock), shared::config::grace_seconds()?);
        ledger.schedule = Schedule::from_env()?;
        Ok(Self { run: BillingRun::new(ledger, &shared::config::required("APP_BASE_URL")?) })
    }

    pub fn new(store: Store, clock: Arc<dyn Clock>, grace_seconds: i64, app_base_url: &str) -> Self {
        Self { run: BillingRun::new(Ledger::new(store, clock, grace_seconds), app_base_url) }
    }
}

/// Run one job until `deadline_ms` (epoch milliseconds) minus the margin.
pub async fn handle(state: &AppState, job: Job, deadline_ms: i64) -> Result<Outcome, BoxError> {
    let has_time = || chrono::Utc::now().timestamp_millis() + MARGIN_MS < deadline_ms;
    match job.job.as_str() {
        "daily" => Ok(Outcome { job: job.job.clone(), report: state.run.run(has_time).await? }),
        other => Err(format!("unknown job {other:?} (expected \"daily\")").into()),
    }
}
