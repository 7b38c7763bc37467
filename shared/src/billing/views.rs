//! What the subscription use cases take and answer: requests, the subscription as callers see it, lists,
//! history entries, refund answers.

use crate::model::Tier;
use crate::model::{BillingPeriod, OrderState, Provider, RefundStatus, SubscriptionStatus};
use crate::money::Money;
use crate::platform::clock::rfc3339;
use crate::store::subscriptions::SubscriptionItem;
use chrono::DateTime;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    pub solution_id: String,
    pub tier: Tier,
    pub provider: Provider,
    #[serde(default)]
    pub period: Option<BillingPeriod>,
    /// The buyer's GSTIN, for a B2B tax invoice (format and check digit validated).
    #[serde(default)]
    pub gstin: Option<String>,
    /// The buyer's GST state code (place of supply) when there is no GSTIN, e.g. `29`.
    #[serde(default)]
    pub state: Option<String>,
    /// Buy for this organization (its owners only): the subscription, its invoices and its tier are the
    /// organization's, shared by every member.
    #[serde(default)]
    pub org_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpgradeRequest {
    pub tier: Tier,
}

/// `PUT /api/subscriptions/{id}/spending-cap`: the most overage may cost per billing period (`null`: no cap).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpendingCapRequest {
    /// Minor units of the subscription's currency; `null` removes the cap (required: `{}` is refused).
    #[serde(default, deserialize_with = "present")]
    pub amount: Option<Option<i64>>,
    /// When given, must be the subscription's currency.
    #[serde(default)]
    pub currency: Option<String>,
}

/// A field that must be present and may be `null`: `Some(None)` for null, `None` (the default) when absent.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Minor units; the whole remaining amount when absent.
    #[serde(default)]
    pub amount: Option<i64>,
    pub reason: String,
}

/// A subscription as callers see it (the status with the grace period applied).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionView {
    pub subscription_id: String,
    pub customer_id: String,
    pub solution_id: String,
    pub tier: Tier,
    pub status: SubscriptionStatus,
    pub provider: Provider,
    pub period: BillingPeriod,
    pub price: Money,
    pub current_period_start: Option<String>,
    pub current_period_end: Option<String>,
    pub cancel_at_period_end: bool,
    pub pending_tier: Option<Tier>,
    pub pending_effective_at: Option<String>,
    /// While past due: when the paid tier stops.
    pub grace_until: Option<String>,
    /// While pending: where to pay.
    pub checkout_url: Option<String>,
    /// Usage-based terms of the price: the allowance and what overage costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<crate::model::UsagePricing>,
    /// The subscriber's spending cap on overage per billing period (in `price.currency`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spending_cap: Option<Money>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Created {
    pub subscription_id: String,
    pub status: SubscriptionStatus,
    pub checkout_url: Option<String>,
    pub tier: Tier,
    pub period: BillingPeriod,
    pub price: Money,
    /// PhonePe: the first period's payment (its page is `checkout_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<crate::billing::views::Initiated>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionList {
    pub customer_id: String,
    pub subscriptions: Vec<SubscriptionView>,
}

/// `GET /api/subscriptions`: one page of a customer's subscriptions, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionListPage {
    pub customer_id: String,
    pub subscriptions: Vec<SubscriptionView>,
    /// Where the next page starts; `null` on the last one.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    /// `payment` or `refund`.
    pub kind: &'static str,
    /// The payment id (for a refund: of the refunded payment).
    pub payment_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    /// A refund's status (`pending`, `succeeded`, `failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<RefundStatus>,
    pub provider: Provider,
    pub provider_id: String,
    pub amount: i64,
    pub currency: String,
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solution_id: Option<String>,
    /// A payment that arrived for an invoice that could no longer apply: it granted nothing and is refunded.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unapplied: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct History {
    pub customer_id: String,
    pub items: Vec<HistoryEntry>,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RefundAnswer {
    pub payment_id: String,
    pub provider_refund_id: String,
    /// The provider's status (`pending`, `succeeded`, …); the refund is recorded when its webhook arrives.
    pub status: String,
    pub amount: i64,
    pub currency: String,
}

fn epoch(at: i64) -> Option<String> {
    DateTime::from_timestamp(at, 0).map(rfc3339)
}

impl SubscriptionView {
    pub fn of(item: &SubscriptionItem, now: i64, grace_seconds: i64) -> Self {
        let r = &item.reconciled;
        let status = r.status_at(now, grace_seconds).unwrap_or(SubscriptionStatus::Pending);
        let latest = r.latest.as_ref();
        let grace_until = match status {
            SubscriptionStatus::PastDue => r.past_due_start().and_then(|since| epoch(since + grace_seconds)),
            _ => None,
        };
        Self {
            subscription_id: item.subscription_id.clone(),
            customer_id: item.user_id.clone(),
            solution_id: item.solution_id.clone(),
            tier: item.tier,
            status,
            provider: item.provider,
            period: item.period,
            price: Money { amount: item.price.amount, currency: item.price.currency.clone() },
            current_period_start: latest.and_then(|l| epoch(l.period_start)),
            current_period_end: latest.and_then(|l| epoch(l.period_end)),
            // A suspended or retired solution's subscription ends at the period end on either rail.
            cancel_at_period_end: latest.is_some_and(|l| l.cancel_at_period_end) || item.solution_hold.is_some(),
            pending_tier: item.pending_tier,
            pending_effective_at: item.pending_effective_at.and_then(epoch),
            grace_until,
            checkout_url: (status == SubscriptionStatus::Pending).then(|| item.checkout_url.clone()).flatten(),
            usage: item.price.usage.clone(),
            spending_cap: item.spending_cap.map(|amount| Money { amount, currency: item.price.currency.clone() }),
            created_at: item.created_at.clone(),
            updated_at: item.updated_at.clone(),
        }
    }
}

/// `POST /api/payments/initiate`: where to pay.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Initiated {
    pub payment_id: String,
    pub merchant_order_id: String,
    pub redirect_url: String,
    pub invoice_id: String,
    pub amount: i64,
    pub currency: String,
}

/// A tier change's answer: the subscription, and for a PhonePe upgrade the payment that applies it.
#[derive(Debug, Clone, Serialize)]
pub struct TierChange {
    #[serde(flatten)]
    pub subscription: SubscriptionView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<Initiated>,
}

/// `POST /api/payments/verify`: what PhonePe says of an order, applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verified {
    pub merchant_order_id: String,
    pub state: OrderState,
    pub invoice_id: String,
    pub subscription_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice_number: Option<String>,
    /// The money arrived for an invoice that could no longer apply (withdrawn meanwhile): nothing was
    /// granted and the whole amount is being refunded.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unapplied: bool,
}
