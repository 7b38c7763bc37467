//! The daily reconciliation with the providers: webhooks get lost, so once a day the billing function asks
//! each provider what happened and applies anything we missed through the very code paths the webhooks use.
//!
//! - **Stripe**: the events of the last days (`GET /v1/events?created[gte]=…`, Stripe keeps them 30 days),
//!   oldest first, each through `StripeWebhookService::process` (claim, apply, mark done). An event we had
//!   applied is a duplicate and changes nothing; one we had not is a drift, applied now. Since every effect is
//!   order-independent, applying a missed event late ends in the state of the run that got it in time.
//! - **PhonePe**: every order and refund whose outcome we do not know (the sparse `PHONEPE#OPEN` list) is
//!   read from PhonePe's status API and applied as `verify` and the callbacks do (`PhonePeRail::apply_order`
//!   and `apply_refund`); one that moved on at PhonePe without us hearing of it is a drift.
//!
//! Rerun-safe: a second run finds nothing new. Each drift is one structured log line (`reconciliation
//! drift`) and a count by kind in the report.

use crate::billing::writer::SubscriptionWriter;
use crate::model::OrderState;
use crate::payments::phonepe::rail::PhonePeRail;
use crate::payments::stripe::client::{Form, field};
use crate::payments::stripe::events::{Event, HANDLED};
use crate::payments::stripe::webhook::StripeWebhookService;
use crate::platform::clock::rfc3339;
use crate::platform::error::ApiError;
use crate::store::OpenAtPhonePe;
use crate::store::invoices::PhonePeOrderItem;
use crate::store::subscriptions::RefundItem;
use chrono::DateTime;
use serde::Serialize;
use std::collections::BTreeMap;

/// How far back the Stripe events are read (Stripe retries a delivery for up to 3 days; a daily run with
/// this overlap catches every event even after a missed run).
pub const STRIPE_LOOKBACK_SECONDS: i64 = 4 * 86_400;
/// At most this many pages of 100 events per run (the next run continues from what is left).
const MAX_EVENT_PAGES: usize = 100;
/// A PhonePe order never created at PhonePe (its creation went unanswered) is closed after this long.
const UNANSWERED_ORDER_SECONDS: i64 = 3_600;

#[derive(Clone)]
pub struct Reconciler {
    pub writer: SubscriptionWriter,
    pub stripe: Option<StripeWebhookService>,
    pub phonepe: Option<PhonePeRail>,
    pub lookback_seconds: i64,
}

/// What a run found and repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileReport {
    /// False when the run stopped for its time limit (the next run continues).
    pub complete: bool,
    /// Stripe events read.
    pub stripe_events: u32,
    /// PhonePe orders and refunds asked about.
    pub phonepe_checked: u32,
    /// Repairs, by kind (`stripe:<event type>`, `phonepe:order_completed`, `phonepe:refund_succeeded`, …).
    pub drift: BTreeMap<String, u32>,
    /// Items that could not be checked this time (retried by the next run).
    pub errors: u32,
}

impl ReconcileReport {
    fn drifted(&mut self, kind: String) {
        *self.drift.entry(kind).or_insert(0) += 1;
    }
}

impl Reconciler {
    pub fn new(writer: SubscriptionWriter) -> Self {
        Self { writer, stripe: None, phonepe: None, lookback_seconds: STRIPE_LOOKBACK_SECONDS }
    }

    /// Reconcile both providers while `has_time()` says there is time left.
    pub async fn run(&self, has_time: impl Fn() -> bool) -> Result<ReconcileReport, ApiError> {
        let mut report = ReconcileReport { complete: true, ..Default::default() };
        if let Some(stripe) = &self.stripe {
            self.stripe_events(stripe, &has_time, &mut report).await?;
        }
        if let Some(rail) = &self.phonepe {
            self.phonepe_open(rail, &has_time, &mut report).await?;
        }
        tracing::info!(?report, "reconciliation done");
        Ok(report)
    }

    async fn stripe_events(
        &self,
        stripe: &StripeWebhookService,
        has_time: &impl Fn() -> bool,
        report: &mut ReconcileReport,
    ) -> Result<(), ApiError> {
        let since = self.writer.clock.now().timestamp() - self.lookback_seconds;
        // Stripe lists newest first: read the window, then apply oldest first.
        let mut events: Vec<Event> = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_EVENT_PAGES {
            // Only the types the webhook handles: the others would be read (and paged through) for nothing.
            let mut query: Form = vec![field("created[gte]", since), field("limit", 100)];
            query.extend(HANDLED.iter().map(|kind| field("types[]", kind)));
            if let Some(id) = &after {
                query.push(field("starting_after", id));
            }
            let page = stripe.stripe().get("/v1/events", &query).await?;
            let data = page.get("data").and_then(serde_json::Value::as_array).cloned().unwrap_or_default();
            for raw in data {
                match serde_json::from_value::<Event>(raw) {
                    Ok(e) => events.push(e),
                    Err(e) => tracing::warn!(error = %e, "unreadable event listed by Stripe"),
                }
            }
            after = events.last().map(|e| e.id.clone());
            if page.get("has_more").and_then(serde_json::Value::as_bool) != Some(true) || after.is_none() {
                break;
            }
        }
        for event in events.iter().rev() {
            if !has_time() {
                report.complete = false;
                return Ok(());
            }
            report.stripe_events += 1;
            match stripe.process(event).await {
                Ok(ack) if !ack.duplicate => {
                    tracing::warn!(provider = "stripe", event_id = %event.id, event_type = %event.kind, "reconciliation drift: a missed event applied");
                    report.drifted(format!("stripe:{}", event.kind));
                }
                Ok(_) => {}
                Err(e) => {
                    report.errors += 1;
                    tracing::warn!(event_id = %event.id, error = %e.detail, "reconciliation: event not applied; retried next run");
                }
            }
        }
        Ok(())
    }

    async fn phonepe_open(
        &self,
        rail: &PhonePeRail,
        has_time: &impl Fn() -> bool,
        report: &mut ReconcileReport,
    ) -> Result<(), ApiError> {
        let mut after = None;
        loop {
            let (page, last) = self.writer.store.phonepe_open(100, after).await?;
            for open in page {
                if !has_time() {
                    report.complete = false;
                    return Ok(());
                }
                report.phonepe_checked += 1;
                let outcome = match &open {
                    OpenAtPhonePe::Order(order) => self.order(rail, order).await,
                    OpenAtPhonePe::Refund(refund) => self.refund(rail, refund).await,
                };
                match outcome {
                    Ok(Some(kind)) => report.drifted(kind),
                    Ok(None) => {}
                    Err(e) => {
                        report.errors += 1;
                        tracing::warn!(error = %e.detail, "reconciliation: phonepe item not checked; retried next run");
                    }
                }
            }
            match last {
                Some(k) => after = Some(k),
                None => return Ok(()),
            }
        }
    }

    /// One open order: PhonePe's state applied. The drift's kind when it had moved on without us.
    async fn order(&self, rail: &PhonePeRail, order: &PhonePeOrderItem) -> Result<Option<String>, ApiError> {
        let mid = &order.merchant_order_id;
        let now = self.writer.clock.now();
        let state = match rail.client.order_status(mid).await {
            Ok(status) => status.state,
            Err(e) if e.is_not_found() => {
                // Never created at PhonePe (its creation went unanswered): close it once nobody can pay it.
                let created = DateTime::parse_from_rfc3339(&order.created_at).map_or(0, |t| t.timestamp());
                if now.timestamp() - created < UNANSWERED_ORDER_SECONDS {
                    return Ok(None);
                }
                self.writer.store.advance_phonepe_order(mid, "failed", None, None, &rfc3339(now)).await?;
                tracing::warn!(provider = "phonepe", merchant_order_id = %mid, "reconciliation drift: an order PhonePe never made, closed");
                return Ok(Some("phonepe:order_never_created".into()));
            }
            Err(e) => return Err(e.into()),
        };
        if state == OrderState::Pending {
            return Ok(None);
        }
        let verified = Box::pin(rail.apply_order(mid)).await?;
        let kind = match verified.state {
            OrderState::Completed => "phonepe:order_completed",
            OrderState::Failed => "phonepe:order_failed",
            OrderState::Pending => return Ok(None),
        };
        tracing::warn!(provider = "phonepe", merchant_order_id = %mid, subscription_id = %verified.subscription_id, kind, "reconciliation drift: an order's outcome applied");
        Ok(Some(kind.into()))
    }

    /// One pending refund: PhonePe's state recorded. The drift's kind when it had moved on without us.
    async fn refund(&self, rail: &PhonePeRail, refund: &RefundItem) -> Result<Option<String>, ApiError> {
        let store = &self.writer.store;
        let (payment, _) = store.payment_with_refunds(&refund.payment_id).await?;
        let Some(order) = payment.and_then(|p| p.provider_invoice_id) else {
            return Ok(None);
        };
        Box::pin(rail.apply_refund(&refund.provider_refund_id, Some(&order), Some(refund.amount))).await?;
        let (_, refunds) = store.payment_with_refunds(&refund.payment_id).await?;
        let now = refunds.iter().find(|r| r.refund_id == refund.refund_id).map(|r| r.status);
        match now {
            Some(status) if status != refund.status => {
                let kind = format!("phonepe:refund_{}", status.as_str());
                tracing::warn!(provider = "phonepe", refund_id = %refund.refund_id, kind = %kind, "reconciliation drift: a refund's outcome recorded");
                Ok(Some(kind))
            }
            _ => Ok(None),
        }
    }
}
