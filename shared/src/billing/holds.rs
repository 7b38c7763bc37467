//! Nobody is billed for a solution they cannot use. A solution's suspension or retirement records a hold
//! (`SolutionHoldItem`, written with the status change) that the billing function's scheduled run applies to
//! each of the solution's live subscriptions (found through GSI3), before it does any due billing step:
//!
//! - Stripe: `cancel_at_period_end=true` at Stripe (Stripe then renews nothing; the subscription ends at the
//!   period end and its events arrive as usual);
//! - PhonePe: the subscription is marked held, so `billing::pending_steps` ends it at the period end instead
//!   of invoicing a renewal (and sends no reminders to pay);
//! - the subscriber is told (`solution_suspended` / `solution_retired`, one notification per subscription
//!   and hold).
//!
//! A reinstatement records a release: subscriptions still in their period renew again (Stripe
//! `cancel_at_period_end=false`; PhonePe renewals are scheduled again) and are told (`solution_reinstated`),
//! except those whose subscriber canceled (before the hold or during it: never undone).
//!
//! Every effect is idempotent (Stripe idempotency keys and a check of the state we read; notifications with
//! deterministic ids; the subscription's hold marked in a version-checked write, keyed by the solution's
//! version), so a run that repeats, overlaps or stops midway converges; a hold leaves the pending index
//! only when every subscription was handled, and only while no newer hold replaced it.

use crate::billing::writer::{SubscriptionWriter, at_version};

use crate::billing::rail::{HostedRail, HostedSubscription};
use crate::model::SolutionStatus;
use crate::model::{Provider, SubscriptionStatus};
use crate::platform::clock::rfc3339;
use crate::platform::error::ApiError;
use crate::store::keys;
use crate::store::outbox::NotificationItem;
use crate::store::solutions::{SolutionHoldItem, SolutionItem};
use crate::store::subscriptions::{SubscriptionHold, SubscriptionItem};
use serde::Serialize;

#[derive(Clone)]
pub struct Holds {
    pub writer: SubscriptionWriter,
    /// Stripe, to stop and restore renewals of Stripe subscriptions (`None`: those fail and are retried).
    pub stripe: Option<std::sync::Arc<dyn HostedRail>>,
    pub page_size: i32,
}

/// What applying holds did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HoldReport {
    /// False when it stopped for its time limit with work left.
    pub complete: bool,
    /// Holds applied to every subscription of their solution.
    pub finished: u32,
    /// Subscriptions whose renewal stopped.
    pub held: u32,
    /// Subscriptions whose renewal was restored, or whose hold was lifted.
    pub released: u32,
    pub errors: u32,
}

/// Whether a subscription is live: a suspension stops its renewal (the count the admin is answered with).
pub fn is_live(item: &SubscriptionItem) -> bool {
    item.reconciled
        .latest
        .as_ref()
        .is_some_and(|l| matches!(l.status, SubscriptionStatus::Active | SubscriptionStatus::PastDue))
}

impl Holds {
    pub fn new(writer: SubscriptionWriter, stripe: Option<std::sync::Arc<dyn HostedRail>>) -> Self {
        Self { writer, stripe, page_size: 100 }
    }

    /// Apply every pending hold while `has_time()` says there is time left.
    pub async fn apply(&self, has_time: &dyn Fn() -> bool) -> Result<HoldReport, ApiError> {
        let mut report = HoldReport { complete: true, ..Default::default() };
        for listed in self.writer.store.pending_holds().await? {
            // The index may lag: act on the hold as it is now.
            let hold: Option<SolutionHoldItem> =
                self.writer.store.get(&keys::solution_hold(&listed.solution_id), true).await?;
            let Some(hold) = hold.filter(|h| h.gsi1pk.is_some()) else { continue };
            let solution: Option<SolutionItem> = self.writer.store.get_solution(&hold.solution_id).await?;
            let name = solution.map(|s| s.name).unwrap_or_default();
            let mut failed = false;
            let mut after = None;
            loop {
                let (page, last) =
                    self.writer.store.solution_subscriptions_page(&hold.solution_id, self.page_size, after).await?;
                for listed in page {
                    if !has_time() {
                        report.complete = false;
                        return Ok(report);
                    }
                    match self.apply_one(&hold, &name, &listed.subscription_id).await {
                        Ok(Some(true)) => report.held += 1,
                        Ok(Some(false)) => report.released += 1,
                        Ok(None) => {}
                        Err(e) => {
                            failed = true;
                            report.errors += 1;
                            tracing::warn!(subscription_id = %listed.subscription_id, solution_id = %hold.solution_id, error = %e.detail, "solution hold not applied; retried next run");
                        }
                    }
                }
                match last {
                    Some(k) => after = Some(k),
                    None => break,
                }
            }
            if !failed && self.writer.store.finish_hold(&hold.solution_id, hold.seq).await? {
                report.finished += 1;
                tracing::info!(solution_id = %hold.solution_id, state = hold.state.as_str(), seq = hold.seq, "solution hold applied");
            }
        }
        Ok(report)
    }

    /// The one-off backfill of GSI3 (`{"job": "index-subscriptions"}`, run once after the index is deployed):
    /// every subscription written before it existed is saved once, which indexes it. Rerun-safe (indexed
    /// ones are skipped); stops when `has_time()` says so, and the next invocation continues. Returns how
    /// many it indexed and whether it finished.
    pub async fn index_subscriptions(&self, has_time: &dyn Fn() -> bool) -> Result<(u32, bool), ApiError> {
        let mut indexed = 0;
        let mut after = None;
        loop {
            let (ids, last) = self.writer.store.unindexed_subscriptions_page(after).await?;
            for id in ids {
                if !has_time() {
                    return Ok((indexed, false));
                }
                self.writer
                    .update(&id, |s, _| {
                        s.index_by_solution();
                        Ok(true)
                    })
                    .await?;
                indexed += 1;
            }
            match last {
                Some(k) => after = Some(k),
                None => return Ok((indexed, true)),
            }
        }
    }

    /// One subscription under `hold`: `Some(true)` held now, `Some(false)` released now, `None` nothing to do.
    async fn apply_one(
        &self,
        hold: &SolutionHoldItem,
        name: &str,
        subscription_id: &str,
    ) -> Result<Option<bool>, ApiError> {
        let Some(item) = self.writer.store.get_subscription(subscription_id).await? else { return Ok(None) };
        if hold.state == SolutionStatus::Published {
            self.release(hold, name, &item).await
        } else {
            self.stop(hold, name, &item).await
        }
    }

    async fn stop(
        &self,
        hold: &SolutionHoldItem,
        name: &str,
        item: &SubscriptionItem,
    ) -> Result<Option<bool>, ApiError> {
        let current = item.solution_hold.as_ref();
        if current.is_some_and(|h| h.seq >= hold.seq) || !is_live(item) {
            return Ok(None);
        }
        let Some(latest) = item.reconciled.latest.clone() else { return Ok(None) };
        // Whether the subscriber had canceled: known from an earlier hold (whose own cancellation at Stripe
        // shows in `latest`), else what `latest` says.
        let subscriber_canceled = current.map_or(latest.cancel_at_period_end, |h| h.subscriber_canceled);
        let now = self.writer.clock.now();
        let mut fact = None;
        if item.provider == Provider::Stripe && !latest.cancel_at_period_end {
            let key = format!("hold-{}-{}", item.subscription_id, hold.seq);
            fact = self.set_cancel_at_period_end(item, true, &key, now.timestamp()).await?;
        }
        let kind = if hold.state == SolutionStatus::Retired { "solution_retired" } else { "solution_suspended" };
        let note = NotificationItem::new(
            &format!("{kind}:{}:{}", item.subscription_id, hold.seq),
            kind,
            &item.user_id,
            Some(&item.solution_id),
            serde_json::json!({"subscription_id": item.subscription_id, "solution_name": name,
                               "ends_at": latest.period_end, "reason": hold.reason}),
            rfc3339(now),
        );
        self.writer.store.put_notification_once(&note).await?;
        let since = rfc3339(now);
        let (state, seq) = (hold.state, hold.seq);
        self.writer
            .update(&item.subscription_id, |s, _| {
                if s.solution_hold.as_ref().is_some_and(|h| h.seq >= seq) {
                    return Ok(false);
                }
                if let Some(f) = &fact {
                    s.reconciled.apply(at_version(f, s.version));
                }
                s.solution_hold = Some(SubscriptionHold { state, seq, since: since.clone(), subscriber_canceled });
                Ok(true)
            })
            .await?;
        Ok(Some(true))
    }

    async fn release(
        &self,
        hold: &SolutionHoldItem,
        name: &str,
        item: &SubscriptionItem,
    ) -> Result<Option<bool>, ApiError> {
        let Some(current) = item.solution_hold.clone().filter(|h| h.seq < hold.seq) else { return Ok(None) };
        let now = self.writer.clock.now();
        let latest = item.reconciled.latest.clone();
        // On PhonePe `cancel_at_period_end` is only ever the subscriber's own (a hold does not set it).
        let canceled_on_phonepe =
            item.provider == Provider::Phonepe && latest.as_ref().is_some_and(|l| l.cancel_at_period_end);
        let restore = is_live(item) && !current.subscriber_canceled && !canceled_on_phonepe;
        let mut fact = None;
        if restore {
            if item.provider == Provider::Stripe && latest.as_ref().is_some_and(|l| l.cancel_at_period_end) {
                let key = format!("release-{}-{}", item.subscription_id, hold.seq);
                fact = self.set_cancel_at_period_end(item, false, &key, now.timestamp()).await?;
            }
            let note = NotificationItem::new(
                &format!("solution_reinstated:{}:{}", item.subscription_id, hold.seq),
                "solution_reinstated",
                &item.user_id,
                Some(&item.solution_id),
                serde_json::json!({"subscription_id": item.subscription_id, "solution_name": name,
                                   "renews_at": latest.map_or(0, |l| l.period_end)}),
                rfc3339(now),
            );
            self.writer.store.put_notification_once(&note).await?;
        }
        let seq = hold.seq;
        self.writer
            .update(&item.subscription_id, |s, _| {
                if s.solution_hold.as_ref().is_none_or(|h| h.seq >= seq) {
                    return Ok(false);
                }
                if let Some(f) = &fact {
                    s.reconciled.apply(at_version(f, s.version));
                }
                s.solution_hold = None;
                Ok(true)
            })
            .await?;
        Ok(Some(false))
    }

    /// Set `cancel_at_period_end` of a Stripe subscription; the snapshot Stripe answers with.
    async fn set_cancel_at_period_end(
        &self,
        item: &SubscriptionItem,
        cancel: bool,
        idempotency_key: &str,
        now: i64,
    ) -> Result<Option<crate::model::Fact>, ApiError> {
        let Some(stripe_sub) = &item.provider_subscription_id else { return Ok(None) };
        let stripe = self
            .stripe
            .as_ref()
            .ok_or_else(|| ApiError::internal("Stripe is not configured (STRIPE_SECRET_ID): a solution hold waits"))?;
        let sub = HostedSubscription { id: stripe_sub, item_id: item.provider_item_id.as_deref() };
        stripe.set_cancel_at_period_end(sub, cancel, idempotency_key, now).await
    }
}
