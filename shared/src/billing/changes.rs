//! Tier changes (upgrade now with proration, downgrade at the period end) and cancellation, on either rail.

use crate::billing::rail::HostedSubscription;
use crate::billing::service::{SubscriptionService, not_found};
use crate::billing::views::{SpendingCapRequest, SubscriptionView, UpgradeRequest};
use crate::billing::writer::{QuotaRestartBy, at_version};
use crate::identity::Principal;
use crate::model::Tier;
use crate::model::{Fact, Price, Provider, Snapshot, SubscriptionStatus};
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, codes};
use crate::store::outbox::NotificationItem;
use crate::store::subscriptions::SubscriptionItem;

/// The highest spending cap accepted (minor units).
const MAX_SPENDING_CAP: i64 = 10_000_000_000;

impl SubscriptionService {
    /// `PUT /api/subscriptions/{id}/upgrade`: a higher tier now (prorated by Stripe, charged at once, the
    /// day's quota restarts under the new tier); a lower tier at the end of the period; the current tier
    /// again cancels a scheduled downgrade.
    pub async fn change_tier(
        &self,
        caller: &Principal,
        subscription_id: &str,
        req: UpgradeRequest,
    ) -> Result<crate::billing::views::TierChange, ApiError> {
        let item = self.owned(caller, subscription_id).await?;
        let now = self.now();
        let status = item.reconciled.status_at(now.timestamp(), self.writer.grace_seconds);
        // A PhonePe renewal invoice is open: it is the one to pay (a tier change would not replace it).
        if item.provider == Provider::Phonepe
            && status == Some(SubscriptionStatus::PastDue)
            && item.open_invoice_id.is_some()
        {
            return Err(ApiError::conflict(
                codes::RENEWAL_UNPAID,
                "the renewal invoice is unpaid: pay it first, then change the tier",
            ));
        }
        if status != Some(SubscriptionStatus::Active) {
            return Err(ApiError::conflict(
                codes::SUBSCRIPTION_NOT_ACTIVE,
                "only an active subscription can change tier",
            ));
        }
        if !matches!(req.tier, Tier::Pro | Tier::Enterprise) {
            return Err(ApiError::field("tier", "must be a paid tier; cancel the subscription to go back to free"));
        }
        if req.tier == item.tier && item.pending_tier.is_none() {
            return Err(ApiError::field("tier", "is already the subscription's tier"));
        }
        if item.provider == Provider::Phonepe {
            let currency = item.price.currency.clone();
            let (_, price) =
                self.price_of(&item.solution_id, req.tier, item.period, Some(&currency), item.provider).await?;
            let change = self.change_tier_on_phonepe(item, &req, price).await?;
            tracing::info!(subscription_id = %subscription_id, tier = req.tier.as_str(), by = %caller.user_id, "tier change (phonepe)");
            return Ok(change);
        }
        let (Some(stripe_sub), Some(stripe_item)) = (&item.provider_subscription_id, &item.provider_item_id) else {
            return Err(ApiError::conflict(codes::SUBSCRIPTION_NOT_ACTIVE, "the subscription is not set up yet"));
        };
        let (_, price) =
            self.price_of(&item.solution_id, req.tier, item.period, Some(&item.price.currency), item.provider).await?;
        let upgrade = req.tier > item.tier;
        let idem = format!("tier-{}-{}-{}", item.subscription_id, item.version, req.tier.as_str());
        let price_id = price.stripe_price_id.clone().unwrap_or_default();
        let sub = HostedSubscription { id: stripe_sub, item_id: Some(stripe_item) };
        let snapshot =
            self.stripe.change_price(sub, &price_id, upgrade, &item.subscription_id, &idem, now.timestamp()).await?;
        let restart = if upgrade {
            self.writer.quota_restart(&item, req.tier, QuotaRestartBy::User(&caller.user_id)).await?
        } else {
            Vec::new()
        };
        let tier = req.tier;
        let saved = self
            .writer
            .update(subscription_id, |s, extra| {
                if let Some(f) = &snapshot {
                    s.reconciled.apply(at_version(f, s.version));
                }
                if upgrade || tier == s.tier {
                    s.tier = tier;
                    s.price = price.clone();
                }
                schedule_tier(s, tier, &price);
                extra.clone_from(&restart);
                Ok(true)
            })
            .await?
            .ok_or_else(not_found)?;
        if upgrade {
            let note = NotificationItem::new(
                &format!("upgrade:{}:{}", saved.subscription_id, saved.version),
                "upgrade_confirmation",
                &saved.user_id,
                Some(&saved.solution_id),
                serde_json::json!({"subscription_id": saved.subscription_id, "tier": tier, "price": saved.price}),
                rfc3339(now),
            );
            self.store().put_notification_once(&note).await?;
        }
        tracing::info!(subscription_id = %subscription_id, tier = tier.as_str(), upgrade, by = %caller.user_id, "tier change");
        Ok(crate::billing::views::TierChange { subscription: self.view(&saved), payment: None })
    }

    /// `PUT /api/subscriptions/{id}/spending-cap`: set (or remove) the most overage may cost per billing
    /// period. Only for a price with a soft limit (overage to cap). Takes effect on the hot path within the
    /// usage cache's lifetime (60 s); when lowered below what the period already counted, further usage is
    /// refused and what was counted is still charged.
    pub async fn set_spending_cap(
        &self,
        caller: &Principal,
        subscription_id: &str,
        req: Result<SpendingCapRequest, ApiError>,
    ) -> Result<SubscriptionView, ApiError> {
        let item = self.owned(caller, subscription_id).await?;
        let req = req?;
        let Some(amount) = req.amount else {
            return Err(ApiError::field("amount", "is required (null removes the cap)"));
        };
        if amount.is_some_and(|a| !(0..=MAX_SPENDING_CAP).contains(&a)) {
            return Err(ApiError::field("amount", format!("must be 0 to {MAX_SPENDING_CAP} minor units, or null")));
        }
        if req.currency.as_ref().is_some_and(|c| *c != item.price.currency) {
            return Err(ApiError::field(
                "currency",
                format!("must be the subscription's currency ({})", item.price.currency),
            ));
        }
        let soft = item.price.usage.as_ref().is_some_and(|u| u.limit == crate::model::UsageLimit::Soft);
        if !soft {
            return Err(ApiError::conflict(
                codes::NOT_USAGE_PRICED,
                "this subscription's price charges no overage: there is nothing to cap",
            ));
        }
        let saved = self
            .writer
            .update(subscription_id, |s, _| {
                let changed = s.spending_cap != amount;
                s.spending_cap = amount;
                Ok(changed)
            })
            .await?
            .ok_or_else(not_found)?;
        tracing::info!(subscription_id = %subscription_id, by = %caller.user_id, cap = ?amount, "spending cap set");
        Ok(self.view(&saved))
    }

    /// `DELETE /api/subscriptions/{id}`: cancel at period end (access continues until then);
    /// `immediately` (admins only) ends it now. A pending subscription is abandoned.
    pub async fn cancel(
        &self,
        caller: &Principal,
        subscription_id: &str,
        immediately: bool,
    ) -> Result<SubscriptionView, ApiError> {
        if immediately && !caller.is_admin() {
            return Err(ApiError::forbidden("only admins may cancel immediately"));
        }
        let item = self.owned(caller, subscription_id).await?;
        if item.provider == Provider::Phonepe {
            let saved = self.cancel_on_phonepe(&item, immediately).await?;
            tracing::info!(subscription_id = %subscription_id, immediately, by = %caller.user_id, "subscription canceled (phonepe)");
            return Ok(self.view(&saved));
        }
        let now = self.now().timestamp();
        let status = item.reconciled.status_at(now, self.writer.grace_seconds).unwrap_or(SubscriptionStatus::Pending);
        let fact = match (status, &item.provider_subscription_id) {
            (SubscriptionStatus::Canceled | SubscriptionStatus::Expired, _) => return Ok(self.view(&item)),
            (_, Some(stripe_sub)) => {
                let idem = format!("cancel-{}-{}-{immediately}", item.subscription_id, item.version);
                let sub = HostedSubscription { id: stripe_sub, item_id: item.provider_item_id.as_deref() };
                self.stripe.cancel(sub, immediately, &idem, now).await?
            }
            (_, None) => {
                // Not paid yet: close the checkout (best effort: it may have completed meanwhile, and then the
                // subscription's events win by their later time).
                if let Some(session) = &item.checkout_session_id
                    && let Err(e) = self.stripe.expire_checkout(session).await
                {
                    tracing::warn!(error = %e, "checkout session not expired");
                }
                Some(Fact::Snapshot(Snapshot::never_paid(format!("~read:abandon-{}", item.subscription_id), now)))
            }
        };
        let saved = self
            .writer
            .update(subscription_id, |s, _| {
                if let Some(f) = &fact {
                    s.reconciled.apply(at_version(f, s.version));
                }
                // Canceled by the subscriber while its solution is suspended: a reinstatement leaves it canceled.
                if let Some(hold) = s.solution_hold.as_mut() {
                    hold.subscriber_canceled = true;
                }
                Ok(true)
            })
            .await?
            .ok_or_else(not_found)?;
        tracing::info!(subscription_id = %subscription_id, immediately, by = %caller.user_id, "subscription canceled");
        Ok(self.view(&saved))
    }
}

/// `tier` at the end of the subscription's current period (a downgrade), or, `tier` being its tier already,
/// no change scheduled any more. Both rails.
pub(crate) fn schedule_tier(s: &mut SubscriptionItem, tier: Tier, price: &Price) {
    if tier == s.tier {
        s.pending_tier = None;
        s.pending_price = None;
        s.pending_effective_at = None;
    } else {
        s.pending_tier = Some(tier);
        s.pending_price = Some(price.clone());
        s.pending_effective_at = s.reconciled.latest.as_ref().map(|l| l.period_end);
    }
}
