//! The `billing` function: invoked by EventBridge Scheduler (no HTTP). `{"job": "daily"}` (hourly) first applies
//! suspended, retired and reinstated solutions' holds to their subscribers (`shared::billing::holds`:
//! Stripe renewals stopped or restored at Stripe, PhonePe renewals stopped or restored, subscribers told), then
//! runs the billing schedule (`shared::billing::run`): renewal notices, renewal invoices and
//! payment requests, reminders, grace-period ends, abandoned pending subscriptions, scheduled downgrades,
//! approved price changes carried to Stripe renewals. `{"job": "reconcile"}` (daily) asks Stripe (its events)
//! and PhonePe (orders and refunds not final) what we missed and applies it through the webhooks' code paths
//! (`shared::payments::reconcile`).
//! `{"job": "index-subscriptions"}` (once, after GSI3 is deployed) indexes subscriptions written before it by
//! their solution. `{"job": "index-usage"}` (after GSI4 is deployed; rerun until it reports `remaining: 0`)
//! moves day counters' analytics entries written before GSI4 out of GSI1 (`shared::usage::index_usage`).
//! `{"job": "migrate-orgs"}` (once, rerun-safe) gives every account older than organizations its
//! personal organization. `{"job": "outbox"}` emails pending notifications through SES (`shared::notifications`;
//! only to verified addresses, except the verification link itself and organization invitations, which go to
//! the address invited). `{"job": "monthly"}` (optionally with
//! `"month": "yyyy-mm"`, default last month in India time) makes each partner's payout statements
//! (`shared::ledger`): rerun-safe, documents to S3. Each stops 30 s before its time limit; the next
//! invocation continues.

use serde::{Deserialize, Serialize};
use shared::billing::holds::{HoldReport, Holds};
use shared::billing::run::{BillingRun, RunReport};
use shared::billing::schedule::Schedule;
use shared::billing::writer::SubscriptionWriter;
use shared::ledger::{PartnerLedger, StatementFiles, StatementReport};
use shared::notifications::{Outbox, OutboxReport};
use shared::payments::phonepe::rail::{PhonePeRail, PhonePeSettings};
use shared::payments::reconcile::{ReconcileReport, Reconciler};
use shared::payments::stripe::rail::StripeRail;
use shared::payments::stripe::webhook::StripeWebhookService;
use shared::platform::clock::{Clock, SystemClock};
use shared::store::Store;
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

#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    pub job: String,
    #[serde(flatten)]
    pub report: RunReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbox: Option<OutboxReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statements: Option<StatementReport>,
    /// `daily`: the solution holds applied first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holds: Option<HoldReport>,
    /// `reconcile`: what the providers knew that we had missed, repaired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconciliation: Option<ReconcileReport>,
    /// `migrate-orgs`: accounts looked at and personal organizations made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orgs: Option<shared::auth::orgs::MigrationReport>,
    /// `index-usage`: day counters' analytics entries moved from GSI1 to GSI4, and how many are left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_index: Option<shared::usage::UsageIndexReport>,
}

/// Stop this long before the invocation's deadline (at most; see `handle`).
pub const MARGIN_MS: i64 = 30_000;

pub struct AppState {
    pub run: BillingRun,
    /// Suspended, retired and reinstated solutions' subscriptions (Stripe from `STRIPE_SECRET_ID`).
    pub holds: Holds,
    /// The email sender (when `SENDER_EMAIL` is set).
    pub outbox: Option<Outbox>,
    /// The partners' ledger (monthly statements).
    pub earnings: PartnerLedger,
    /// Where statement documents go (`STATEMENT_BUCKET`, else `INVOICE_BUCKET`).
    pub statement_files: Option<StatementFiles>,
    /// The daily reconciliation with Stripe and PhonePe (each when configured).
    pub reconcile: Reconciler,
}

impl AppState {
    /// Cold start: configuration, the store and (when `STRIPE_SECRET_ID` / `PHONEPE_SECRET_ID` are set) the
    /// providers: Stripe for suspended solutions' holds, repricing at renewal and the reconciliation; PhonePe
    /// for the reconciliation. A provider secret that cannot be read does not stop billing: what needs that
    /// provider waits (reported as errors) until it can.
    pub async fn from_env() -> Result<Self, BoxError> {
        let sdk = shared::platform::aws::load().await;
        let store = shared::setup::store_from_env(&sdk)?;
        let mut writer =
            SubscriptionWriter::new(store, Arc::new(SystemClock), shared::platform::config::grace_seconds()?);
        writer.schedule = Schedule::from_env()?;
        let stripe = match std::env::var("STRIPE_SECRET_ID") {
            Ok(id) if !id.is_empty() => match shared::setup::load_stripe(&sdk).await {
                Ok(setup) => Some(setup.client),
                Err(e) => {
                    tracing::error!(error = %e, "the Stripe secret could not be read: Stripe holds wait");
                    None
                }
            },
            _ => None,
        };
        let holds = Holds::new(writer.clone(), stripe.clone().map(StripeRail::shared));
        let app = shared::platform::config::required("APP_BASE_URL")?;
        let seller = match std::env::var("SELLER_GSTIN") {
            Ok(g) if !g.is_empty() => Some(Arc::new(shared::billing::invoicing::Seller::from_env()?)),
            _ => None,
        };
        let mut reconcile = Reconciler::new(writer.clone());
        if let Some(client) = &stripe {
            let mut service = StripeWebhookService::new(writer.clone(), client.clone(), Vec::new());
            if let Some(seller) = &seller {
                service = service.with_seller(seller.clone());
            }
            reconcile.stripe = Some(service);
        }
        let phonepe = match shared::setup::load_phonepe(&sdk, writer.clock.clone()).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "the PhonePe secret could not be read: the PhonePe reconciliation waits");
                None
            }
        };
        if let (Some(p), Some(seller)) = (phonepe, &seller) {
            reconcile.phonepe = Some(PhonePeRail {
                writer: writer.clone(),
                client: p.client,
                seller: seller.clone(),
                settings: PhonePeSettings::new(&app),
            });
        }
        let outbox = std::env::var("SENDER_EMAIL").ok().filter(|s| !s.is_empty()).map(|from| Outbox {
            store: writer.store.clone(),
            ses: aws_sdk_sesv2::Client::new(&sdk),
            from,
            app_base_url: app.clone(),
            clock: writer.clock.clone(),
        });
        let bucket = ["STATEMENT_BUCKET", "INVOICE_BUCKET"]
            .into_iter()
            .find_map(|v| std::env::var(v).ok().filter(|b| !b.is_empty()));
        let statement_files = bucket.map(|bucket| StatementFiles { s3: shared::platform::aws::s3(&sdk), bucket });
        let earnings = PartnerLedger::new(writer.store.clone(), writer.clock.clone());
        let mut run = BillingRun::new(writer, &app);
        run.stripe = stripe.map(StripeRail::shared);
        Ok(Self { run, holds, outbox, earnings, statement_files, reconcile })
    }

    pub fn new(store: Store, clock: Arc<dyn Clock>, grace_seconds: i64, app_base_url: &str) -> Self {
        let earnings = PartnerLedger::new(store.clone(), clock.clone());
        let writer = SubscriptionWriter::new(store, clock, grace_seconds);
        Self {
            holds: Holds::new(writer.clone(), None),
            reconcile: Reconciler::new(writer.clone()),
            run: BillingRun::new(writer, app_base_url),
            outbox: None,
            earnings,
            statement_files: None,
        }
    }
}

/// The jobs the metrics name (`BillingJobs`); any other is counted as `other`.
const JOBS: &[&str] =
    &["daily", "index-subscriptions", "index-usage", "migrate-orgs", "monthly", "outbox", "reconcile"];

/// Run one job until `deadline_ms` (epoch milliseconds) minus the margin, and count its end (`BillingJobs`:
/// done, errors when some of its items failed and wait for the next run, failed).
pub async fn handle(state: &AppState, job: Job, deadline_ms: i64) -> Result<Outcome, BoxError> {
    let name = shared::platform::metrics::bounded(&job.job, JOBS);
    let outcome = run_job(state, job, deadline_ms).await;
    let end = match &outcome {
        Ok(o) if o.report.errors > 0 || o.outbox.as_ref().is_some_and(|b| b.errors > 0) => "errors",
        Ok(_) => "done",
        Err(_) => "failed",
    };
    shared::platform::metrics::billing_job(name, end);
    outcome
}

async fn run_job(state: &AppState, job: Job, deadline_ms: i64) -> Result<Outcome, BoxError> {
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
            // Holds first: a suspended solution's subscription due for renewal in this run is not renewed.
            let holds = state.holds.apply(&has_time).await?;
            let mut report = state.run.run(has_time).await?;
            report.complete &= holds.complete;
            Ok(Outcome { job: job.job.clone(), report, holds: Some(holds), ..Default::default() })
        }
        // One-off, after GSI3 is deployed: index the subscriptions written before it (rerun until complete).
        "index-subscriptions" => {
            let (indexed, complete) = state.holds.index_subscriptions(&has_time).await?;
            tracing::info!(indexed, complete, "subscriptions indexed by solution");
            Ok(Outcome {
                job: job.job.clone(),
                report: RunReport { complete, subscriptions: indexed, ..Default::default() },
                ..Default::default()
            })
        }
        // One-off, after GSI4 is deployed: move the day counters' analytics entries written before it from GSI1
        // to GSI4 (rerun until it reports `remaining: 0`; then deployment 2 drops the legacy reads).
        "index-usage" => {
            // Moves stop at the margin; counting what is left may use two thirds of it.
            let may_count = || chrono::Utc::now().timestamp_millis() + margin / 3 < deadline_ms;
            let report = shared::usage::index_usage(&state.run.writer.store, &has_time, &may_count).await?;
            Ok(Outcome {
                job: job.job.clone(),
                report: RunReport { complete: report.complete, ..Default::default() },
                usage_index: Some(report),
                ..Default::default()
            })
        }
        // Rerun-safe: every account older than organizations gets its personal organization.
        "migrate-orgs" => {
            let now = shared::platform::clock::rfc3339(state.run.writer.clock.now());
            let store = &state.run.writer.store;
            let mut report = shared::auth::orgs::migrate_personal_orgs(store, &now, &has_time).await?;
            if report.complete {
                let (seen, made, complete) =
                    shared::partners::members::migrate_partner_orgs(store, &now, &has_time).await?;
                (report.partners, report.partner_orgs_created, report.complete) = (seen, made, complete);
            }
            Ok(Outcome {
                job: job.job.clone(),
                report: RunReport { complete: report.complete, ..Default::default() },
                orgs: Some(report),
                ..Default::default()
            })
        }
        "monthly" => {
            let report = state.earnings.monthly(job.month.as_deref(), state.statement_files.as_ref(), has_time).await?;
            Ok(Outcome {
                job: job.job.clone(),
                report: RunReport { complete: report.complete, ..Default::default() },
                statements: Some(report),
                ..Default::default()
            })
        }
        "outbox" => {
            let outbox = state.outbox.as_ref().ok_or("SENDER_EMAIL is not set: no email is sent")?;
            let mut report = outbox.deliver(has_time).await?;
            report.dead_letters = outbox.dead_letter_depth().await;
            Ok(Outcome {
                job: job.job.clone(),
                report: RunReport { complete: report.complete, ..Default::default() },
                outbox: Some(report),
                ..Default::default()
            })
        }
        "reconcile" => {
            let report = state.reconcile.run(has_time).await?;
            Ok(Outcome {
                job: job.job.clone(),
                report: RunReport { complete: report.complete, errors: report.errors, ..Default::default() },
                reconciliation: Some(report),
                ..Default::default()
            })
        }
        other => Err(format!(
            "unknown job {other:?} (expected \"daily\", \"reconcile\", \"outbox\", \"monthly\", \"index-subscriptions\", \"index-usage\" or \"migrate-orgs\")"
        )
        .into()),
    }
}
