//! The billing run: pages through the subscriptions due by now (the sparse GSI2) and does each due step of
//! `billing::pending_steps`, earliest first. A step's effects use deterministic ids and conditional writes
//! (notifications, the renewal invoice), and the step is marked done in the same version-checked write that
//! changes the subscription, so a run that repeats, overlaps another or dies midway does each
//! (subscription, period, step) at most once. A run stops cleanly before its time limit; the next one (the
//! schedule runs hourly) continues where the index says work is left.

use crate::billing::invoicing;
use crate::billing::schedule::{Due, Step, pending_steps, void_invoice};
use crate::billing::writer::{SubscriptionWriter, derived_id};
use crate::model::Tier;
use crate::model::{Fact, Snapshot, SubscriptionStatus};
use crate::model::{OverageCharge, Price, UsagePeriod};
use crate::platform::clock::rfc3339;
use crate::platform::error::ApiError;
use crate::store::invoices::{InvoiceItem, InvoiceReason};
use crate::store::keys;
use crate::store::outbox::NotificationItem;
use crate::store::retention::USAGE_COUNTER_DAYS;
use crate::store::solutions::TierDefinitionItem;
use crate::store::subscriptions::SubscriptionItem;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

#[derive(Clone)]
pub struct BillingRun {
    pub writer: SubscriptionWriter,
    /// Where a user pays an invoice (`?invoice_id=` is appended): the app's payment page, which calls
    /// `POST /api/payments/initiate`.
    pub pay_url: String,
    pub page_size: i32,
    /// Stripe (carries approved price changes to Stripe subscriptions' next renewal).
    pub stripe: Option<std::sync::Arc<dyn crate::billing::rail::HostedRail>>,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// False when the run stopped for its time limit with work left (the next run continues).
    pub complete: bool,
    pub subscriptions: u32,
    /// Steps done, by kind.
    pub steps: BTreeMap<String, u32>,
    pub errors: u32,
}

fn step_kind(step: Step) -> &'static str {
    match step {
        Step::ExpirePending => "expire_pending",
        Step::RenewalNotice => "renewal_notice",
        Step::Renewal => "renewal_invoice",
        Step::Reminder(_) => "payment_reminder",
        Step::GraceEnd => "grace_end",
        Step::End => "end_of_term",
        Step::Downgrade => "downgrade",
        Step::Reprice => "stripe_reprice",
        Step::Overage(_) => "overage",
    }
}

impl BillingRun {
    pub fn new(writer: SubscriptionWriter, app_base_url: &str) -> Self {
        Self {
            writer,
            pay_url: format!("{}/billing/pay", app_base_url.trim_end_matches('/')),
            page_size: 100,
            stripe: None,
        }
    }

    /// Do everything due by now while `has_time()` says there is time left.
    pub async fn run(&self, has_time: impl Fn() -> bool) -> Result<RunReport, ApiError> {
        let now = self.writer.clock.now().timestamp();
        let mut report = RunReport { complete: true, ..Default::default() };
        let mut seen = HashSet::new();
        let mut after = None;
        loop {
            let (page, last) = self.writer.store.due_subscriptions(now, self.page_size, after).await?;
            for item in page {
                if !seen.insert(item.subscription_id.clone()) {
                    continue;
                }
                if !has_time() {
                    report.complete = false;
                    tracing::info!(?report, "billing run stopped for its time limit; the next run continues");
                    return Ok(report);
                }
                report.subscriptions += 1;
                match self.process(&item.subscription_id, now, &mut report).await {
                    Ok(()) => {}
                    Err(e) => {
                        report.errors += 1;
                        tracing::warn!(subscription_id = %item.subscription_id, error = %e.detail, "billing step failed; retried next run");
                    }
                }
            }
            match last {
                Some(k) => after = Some(k),
                None => break,
            }
        }
        tracing::info!(?report, "billing run done");
        Ok(report)
    }

    /// Every step of one subscription due by `now`, in order.
    pub async fn process(&self, subscription_id: &str, now: i64, report: &mut RunReport) -> Result<(), ApiError> {
        for _ in 0..16 {
            let Some(item) = self.writer.store.get_subscription(subscription_id).await? else { return Ok(()) };
            let steps = pending_steps(&item, &self.writer.schedule, self.writer.grace_seconds);
            let Some(due) = steps.into_iter().find(|d| d.at <= now) else {
                // Nothing due: refresh a stale index entry (written before the schedule changed).
                if item.billing_due_at
                    != crate::billing::schedule::next_due(&item, &self.writer.schedule, self.writer.grace_seconds)
                {
                    self.writer.update(subscription_id, |_, _| Ok(true)).await?;
                }
                return Ok(());
            };
            let kind = step_kind(due.step);
            let done = Box::pin(self.perform(&item, &due, now)).await;
            crate::platform::metrics::billing_step(kind, done.is_ok());
            if done? {
                *report.steps.entry(kind.to_owned()).or_insert(0) += 1;
            }
        }
        Ok(())
    }

    async fn notify(
        &self,
        id: String,
        kind: &str,
        item: &SubscriptionItem,
        data: serde_json::Value,
    ) -> Result<(), ApiError> {
        let now = rfc3339(self.writer.clock.now());
        let note = NotificationItem::new(&id, kind, &item.user_id, Some(&item.solution_id), data, now);
        self.writer.store.put_notification_once(&note).await?;
        Ok(())
    }

    /// The price a renewal of `tier` costs now: the solution's current price in `price`'s currency and period,
    /// else `price` (the subscriber's own) when the solution no longer offers one.
    async fn price_in_force(&self, solution_id: &str, tier: Tier, price: Price) -> Result<Price, ApiError> {
        let def: Option<TierDefinitionItem> =
            self.writer.store.get(&keys::solution_tier(solution_id, tier.as_str()), true).await?;
        Ok(def
            .and_then(|d| d.prices.into_iter().find(|p| p.currency == price.currency && p.period == price.period))
            .unwrap_or(price))
    }

    /// A Stripe subscription a notice period before its renewal: when the price in force for the tier of its
    /// next period differs from what Stripe will charge, Stripe is switched to it (no proration: it applies
    /// from the renewal) and the subscriber told now. Returns the new price (the subscription's next price).
    async fn reprice(
        &self,
        item: &SubscriptionItem,
        next_tier: Tier,
        next_price: &Price,
        period_end: i64,
    ) -> Result<Option<Price>, ApiError> {
        let charged = match (&item.pending_price, item.pending_effective_at) {
            (Some(p), Some(at)) if at <= period_end => p,
            _ => &item.price,
        };
        if next_price == charged {
            return Ok(None);
        }
        let (Some(stripe_sub), Some(stripe_item), Some(price_id)) =
            (&item.provider_subscription_id, &item.provider_item_id, &next_price.stripe_price_id)
        else {
            tracing::warn!(subscription_id = %item.subscription_id, "price changed but not sellable on Stripe; kept");
            return Ok(None);
        };
        let stripe = self.stripe.as_ref().ok_or_else(|| ApiError::internal("Stripe is not configured for billing"))?;
        let idem = format!("reprice-{}-{period_end}-{price_id}", item.subscription_id);
        let sub = crate::billing::rail::HostedSubscription { id: stripe_sub, item_id: Some(stripe_item) };
        stripe.reprice_renewal(sub, price_id, &idem).await?;
        let sub = &item.subscription_id;
        self.notify(
            format!("renewal-notice:{sub}:{period_end}"),
            "renewal_notice",
            item,
            serde_json::json!({"subscription_id": sub, "tier": next_tier, "amount": next_price.amount,
                               "currency": next_price.currency, "renews_at": period_end,
                               "previous_amount": charged.amount}),
        )
        .await?;
        tracing::info!(subscription_id = %sub, from = charged.amount, to = next_price.amount, "stripe renewal repriced");
        Ok(Some(next_price.clone()))
    }

    /// Close a usage-priced period's counter (its count is final from here: later events go to the next
    /// period) and price its overage with the terms listed for it.
    async fn close_period(
        &self,
        item: &SubscriptionItem,
        period: &UsagePeriod,
    ) -> Result<Option<OverageCharge>, ApiError> {
        let key = keys::usage_period(&item.user_id, &item.solution_id, period.start);
        let now = self.writer.clock.now().timestamp();
        let counter = self.writer.store.close_usage_period(&key, now, now + USAGE_COUNTER_DAYS * 86_400).await?;
        let overage = period.overage(counter.used);
        if let Some(o) = &overage {
            tracing::info!(subscription_id = %item.subscription_id, period_start = o.period_start, used = o.used,
                           included = o.included, units = o.units, amount = o.amount, "usage period closed");
        }
        Ok(overage)
    }

    /// A period's overage on its own invoice: on Stripe a one-off invoice charged now (its id pinned on ours
    /// before it is charged, so a rerun settles the same one); on PhonePe a payment request.
    async fn charge_overage(&self, item: &SubscriptionItem, o: &OverageCharge, end: i64) -> Result<(), ApiError> {
        let sub = &item.subscription_id;
        let invoice_id = derived_id("inv", &format!("{sub}:overage:{end}"));
        let now = rfc3339(self.writer.clock.now());
        let mut invoice = InvoiceItem::open(
            &invoice_id,
            item,
            o.tier,
            InvoiceReason::Overage,
            o.amount,
            &o.currency,
            Some((o.period_start, o.period_end)),
            now.clone(),
        );
        invoice.overage = Some(o.clone());
        invoice.due_at = Some(self.writer.clock.now().timestamp());
        self.writer.store.put_invoice_once(&invoice).await?;
        let data = serde_json::json!({"subscription_id": sub, "invoice_id": invoice_id, "amount": o.amount,
                                      "currency": o.currency, "overage_amount": o.amount, "overage_units": o.units,
                                      "included": o.included, "used": o.used,
                                      "pay_url": format!("{}?invoice_id={invoice_id}", self.pay_url)});
        if item.provider == crate::model::Provider::Phonepe {
            return self.notify(format!("payment-request:{invoice_id}"), "payment_request", item, data).await;
        }
        let stripe = self.stripe.as_ref().ok_or_else(|| ApiError::internal("Stripe is not configured for billing"))?;
        let customer = item
            .provider_customer_id
            .as_deref()
            .ok_or_else(|| ApiError::internal("a Stripe subscription without its customer"))?;
        let description = invoicing::overage_description(o);
        let one_off = crate::billing::rail::OneOffInvoice {
            customer,
            amount: o.amount,
            currency: &o.currency,
            description: &description,
            invoice_id: &invoice_id,
            subscription_id: sub,
            provider_subscription: item.provider_subscription_id.as_deref(),
        };
        let stored = self.writer.store.get_invoice(&invoice_id).await?;
        let provider_invoice = match stored.as_ref().and_then(|i| i.provider_invoice_id.clone()) {
            Some(id) => id,
            None => {
                let id = stripe.open_invoice(one_off).await?;
                let mut pinned = stored.ok_or_else(|| ApiError::internal("overage invoice vanished"))?;
                let expected = pinned.version;
                pinned.provider_invoice_id = Some(id.clone());
                pinned.version += 1;
                pinned.updated_at = now;
                self.writer.store.save_invoice(&pinned, expected).await?;
                id
            }
        };
        let settled = stripe.settle_invoice(&provider_invoice, one_off).await?;
        tracing::info!(subscription_id = %sub, invoice_id = %invoice_id, ?settled, amount = o.amount, "overage invoiced on stripe");
        // A declined charge: Stripe tells the customer (invoice.payment_failed, with its payment page) and
        // retries on its own schedule; the invoice is paid when its invoice.paid arrives.
        if settled == crate::billing::rail::Settled::Paid {
            self.notify(format!("overage-invoiced:{invoice_id}"), "overage_invoiced", item, data).await?;
        }
        Ok(())
    }

    /// One step: its effects (idempotent), then the subscription's change with the step marked done. True when
    /// this run marked it (false: another run got there first).
    async fn perform(&self, item: &SubscriptionItem, due: &Due, now: i64) -> Result<bool, ApiError> {
        let sub = &item.subscription_id;
        let latest = item.reconciled.latest.clone();
        let period_end = latest.as_ref().map_or(0, |l| l.period_end);
        // The tier and price of the next period: a downgrade scheduled for this period end takes over.
        let (next_tier, next_price) = match (item.pending_tier, &item.pending_price, item.pending_effective_at) {
            (Some(t), Some(p), Some(at)) if at <= period_end => (t, p.clone()),
            _ => (item.tier, item.price.clone()),
        };
        // A subscriber keeps its price until its next renewal after a price change: the renewal is invoiced at
        // the tier's price in force now (same currency and period), when the solution still offers one.
        let next_price = if matches!(due.step, Step::Renewal | Step::RenewalNotice | Step::Reprice) {
            self.price_in_force(&item.solution_id, next_tier, next_price).await?
        } else {
            next_price
        };
        let renewal_price = (due.step == Step::Renewal).then(|| next_price.clone());
        // A usage-priced period this step bills (its own step, or the PhonePe renewal that carries it): its
        // counter closed (final) and its overage priced exactly.
        let billed = match due.step {
            Step::Overage(end) => item.usage_periods.iter().find(|p| p.end == end),
            Step::Renewal => item.usage_periods.iter().find(|p| p.end == period_end),
            _ => None,
        };
        let overage = match billed {
            Some(p) => Box::pin(self.close_period(item, p)).await?,
            None => None,
        };
        let charged = overage.clone().filter(|o| o.amount > 0);
        let billed_start = billed.map(|p| p.start);
        let snapshot = |status: SubscriptionStatus, created: i64| {
            latest
                .clone()
                .map(|l| Fact::Snapshot(Snapshot { event_id: format!("billing:{}", due.key), created, status, ..l }))
        };
        let mut fact = None;
        let mut open_invoice: Option<Option<String>> = None;
        let mut take_pending = false;
        let mut reprice: Option<Price> = None;
        match due.step {
            Step::ExpirePending => {
                if let Some(id) = &item.open_invoice_id {
                    void_invoice(&self.writer.store, id, rfc3339(self.writer.clock.now())).await?;
                }
                fact = Some(Fact::Snapshot(Snapshot::never_paid(format!("billing:{}", due.key), due.at)));
                open_invoice = Some(None);
            }
            Step::RenewalNotice => {
                self.notify(
                    format!("renewal-notice:{sub}:{period_end}"),
                    "renewal_notice",
                    item,
                    serde_json::json!({"subscription_id": sub, "tier": next_tier, "amount": next_price.amount,
                                       "currency": next_price.currency, "renews_at": period_end}),
                )
                .await?;
            }
            Step::Renewal => {
                let invoice_id = derived_id("inv", &format!("{sub}:renewal:{period_end}"));
                let end = invoicing::period_end(period_end, item.period);
                // The overage of the period that ended is a line of its own on the renewal invoice.
                let overage_amount = charged.as_ref().map_or(0, |o| o.amount);
                let amount = next_price.amount + overage_amount;
                let mut invoice = InvoiceItem::open(
                    &invoice_id,
                    item,
                    next_tier,
                    InvoiceReason::Renewal,
                    amount,
                    &next_price.currency,
                    Some((period_end, end)),
                    rfc3339(self.writer.clock.now()),
                );
                invoice.price = Some(next_price.clone());
                invoice.due_at = Some(period_end);
                invoice.overage.clone_from(&charged);
                self.writer.store.put_invoice_once(&invoice).await?;
                self.notify(
                    format!("payment-request:{invoice_id}"),
                    "payment_request",
                    item,
                    serde_json::json!({"subscription_id": sub, "invoice_id": invoice_id, "amount": amount,
                                       "currency": next_price.currency, "overage_amount": overage_amount,
                                       "overage_units": charged.as_ref().map_or(0, |o| o.units),
                                       "pay_url": format!("{}?invoice_id={invoice_id}", self.pay_url)}),
                )
                .await?;
                fact = snapshot(SubscriptionStatus::PastDue, period_end);
                open_invoice = Some(Some(invoice_id));
                take_pending = true;
            }
            Step::Reminder(day) => {
                let invoice_id = item.open_invoice_id.clone().unwrap_or_default();
                self.notify(
                    format!("payment-reminder:{sub}:{period_end}:{day}"),
                    "payment_reminder",
                    item,
                    serde_json::json!({"subscription_id": sub, "invoice_id": invoice_id, "day": day,
                                       "amount": item.price.amount, "currency": item.price.currency,
                                       "pay_url": format!("{}?invoice_id={invoice_id}", self.pay_url)}),
                )
                .await?;
            }
            Step::GraceEnd => {
                if let Some(id) = &item.open_invoice_id {
                    void_invoice(&self.writer.store, id, rfc3339(self.writer.clock.now())).await?;
                }
                self.notify(
                    format!("grace-ended:{sub}:{period_end}"),
                    "grace_period_ended",
                    item,
                    serde_json::json!({"subscription_id": sub, "tier": "free"}),
                )
                .await?;
                fact = snapshot(SubscriptionStatus::Expired, due.at);
                open_invoice = Some(None);
            }
            Step::End => {
                fact = snapshot(SubscriptionStatus::Canceled, period_end);
                // An upgrade invoice still open dies with the term.
                open_invoice = Some(None);
            }
            Step::Downgrade => take_pending = true,
            Step::Overage(end) => {
                if let Some(o) = &charged {
                    Box::pin(self.charge_overage(item, o, end)).await?;
                }
            }
            Step::Reprice => reprice = self.reprice(item, next_tier, &next_price, period_end).await?,
        }
        let key = due.key.clone();
        let at = now.max(due.at);
        let mut marked = false;
        // The open invoice this step replaces (at the renewal: an upgrade invoice of the period that ended),
        // withdrawn once the step is saved: nothing may pay it into the next period.
        let mut replaced: Option<String> = None;
        self.writer
            .update(sub, |s, _| {
                marked = false;
                replaced = None;
                if s.billing_done.contains(&key) {
                    return Ok(false);
                }
                if let Some(f) = &fact {
                    s.reconciled.apply(f.clone());
                }
                if let Some(open) = &open_invoice {
                    if s.open_invoice_id != *open {
                        replaced.clone_from(&s.open_invoice_id);
                    }
                    s.open_invoice_id.clone_from(open);
                }
                if let Some(p) = &reprice {
                    s.pending_tier = Some(next_tier);
                    s.pending_price = Some(p.clone());
                    s.pending_effective_at = Some(period_end);
                }
                if take_pending
                    && let (Some(t), Some(p), Some(eff)) =
                        (s.pending_tier, s.pending_price.clone(), s.pending_effective_at)
                    && eff <= at
                {
                    s.tier = t;
                    s.price = p;
                    s.pending_tier = None;
                    s.pending_price = None;
                    s.pending_effective_at = None;
                }
                if let Some(p) = &renewal_price
                    && s.tier == next_tier
                {
                    s.price = p.clone();
                }
                if let Some(start) = billed_start {
                    s.usage_periods.retain(|p| p.start != start);
                }
                s.billing_done.insert(key.clone());
                marked = true;
                Ok(true)
            })
            .await?;
        if let Some(id) = replaced.filter(|_| marked) {
            void_invoice(&self.writer.store, &id, rfc3339(self.writer.clock.now())).await?;
            tracing::info!(subscription_id = %sub, invoice_id = %id, step = %due.key, "replaced invoice withdrawn");
        }
        if marked {
            tracing::info!(subscription_id = %sub, step = %due.key, "billing step done");
        }
        Ok(marked)
    }
}
