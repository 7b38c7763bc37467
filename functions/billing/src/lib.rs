//! The `billing` function: invoked by EventBridge Scheduler (no HTTP). `{"job": "daily"}` runs the billing
//! schedule (`shared::subscriptions::billing_run`): renewal notices, renewal invoices and payment requests,
//! reminders, grace-period ends, abandoned pending subscriptions, scheduled downgrades. `{"job": "outbox"}`
//! emails pending notifications through SES (`shared::notifications`; only to verified addresses, except the
//! verification link itself). `{"job": "monthly"}` (optionally with
//! `"month": "yyyy-mm"`, default last month in India time) makes each partner's payout statements
//! (`shared::earnings`): rerun-safe, documents to S3. Each stops 30 s before its time limit; the next
//! invocation continues.

use serde::{Deserialize, Serialize};
use shared::clock::{Clock, SystemClock};
use shared::earnings::{PartnerLedger, StatementFiles, StatementReport};
use shared::notifications::{Outbox, OutboxReport};
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
    /// `monthly` only: the statement month (`yyyy-mm`).
    #[serde(default)]
    pub month: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub job: String,
    #[serde(flatten)]
    pub report: RunReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbox: Option<OutboxReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statements: Option<StatementReport>,
}

/// Stop this long before the invocation's deadline (at most; see `handle`).
pub const MARGIN_MS: i64 = 30_000;

pub struct AppState {
    pub run: BillingRun,
    /// The email sender (when `SENDER_EMAIL` is set).
    pub outbox: Option<Outbox>,
    /// The partners' ledger (monthly statements).
    pub earnings: PartnerLedger,
    /// Where statement documents go (`STATEMENT_BUCKET`, else `INVOICE_BUCKET`).
    pub statement_files: Option<StatementFiles>,
}

impl AppState {
    /// Cold start: configuration and the store (no secrets: the run calls no provider).
    pub async fn from_env() -> Result<Self, BoxError> {
        let sdk = shared::aws::load().await;
        let store = shared::secrets::store_from_env(&sdk)?;
        let mut ledger = Ledger::new(store, Arc::new(SystemClock), shared::config::grace_seconds()?);
        ledger.schedule = Schedule::from_env()?;
        let app = shared::config::required("APP_BASE_URL")?;
        let outbox = std::env::var("SENDER_EMAIL").ok().filter(|s| !s.is_empty()).map(|from| Outbox {
            store: ledger.store.clone(),
            ses: aws_sdk_sesv2::Client::new(&sdk),
            from,
            app_base_url: app.clone(),
            clock: ledger.clock.clone(),
        });
        let bucket = ["STATEMENT_BUCKET", "INVOICE_BUCKET"]
            .into_iter()
            .find_map(|v| std::env::var(v).ok().filter(|b| !b.is_empty()));
        let statement_files = bucket.map(|bucket| StatementFiles { s3: shared::aws::s3(&sdk), bucket });
        let earnings = PartnerLedger::new(ledger.store.clone(), ledger.clock.clone());
        Ok(Self { run: BillingRun::new(ledger, &app), outbox, earnings, statement_files })
    }

    pub fn new(store: Store, clock: Arc<dyn Clock>, grace_seconds: i64, app_base_url: &str) -> Self {
        let earnings = PartnerLedger::new(store.clone(), clock.clone());
        Self {
            run: BillingRun::new(Ledger::new(store, clock, grace_seconds), app_base_url),
            outbox: None,
            earnings,
            statement_files: None,
        }
    }
}

/// Run one job until `deadline_ms` (epoch milliseconds) minus the margin.
pub async fn handle(state: &AppState, job: Job, deadline_ms: i64) -> Result<Outcome, BoxError> {
    // A deadline that is no epoch time (local emulators such as `cargo lambda watch` send a small number):
    // a minute from now.
    let now = chrono::Utc::now().timestamp_millis();
    let deadline_ms = if deadline_ms > now - 86_400_000 { deadline_ms } else { now + 60_000 };
    // Short invocations keep a quarter of their time as the margin.
    let margin = MARGIN_MS.min((deadline_ms - chrono::Utc::now().timestamp_millis()) / 4);
    let has_time = || chrono::Utc::now().timestamp_millis() + margin < deadline_ms;
    tracing::info!(job = %job.job, remaining_ms = deadline_ms - now, "billing job");
    match job.job.as_str() {
        "daily" => {
            Ok(Outcome { job: job.job.clone(), report: state.run.run(has_time).await?, outbox: None, statements: None })
        }
        "monthly" => {
            let report = state.earnings.monthly(job.month.as_deref(), state.statement_files.as_ref(), has_time).await?;
            Ok(Outcome {
                job: job.job.clone(),
                report: RunReport { complete: report.complete, ..Default::default() },
                outbox: None,
                statements: Some(report),
            })
        }
        "outbox" => {
            let outbox = state.outbox.as_ref().ok_or("SENDER_EMAIL is not set: no email is sent")?;
            let report = outbox.deliver(has_time).await?;
            Ok(Outcome {
                job: job.job.clone(),
                report: RunReport { complete: report.complete, ..Default::default() },
                outbox: Some(report),
                statements: None,
            })
        }
        other => Err(format!("unknown job {other:?} (expected \"daily\", \"outbox\" or \"monthly\")").into()),
    }
}
