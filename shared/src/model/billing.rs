//! Billing value types: subscription and refund statuses, payment providers, billing periods, prices.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// Created, not paid yet (checkout open, first invoice unpaid).
    Pending,
    Active,
    /// A renewal failed; the paid tier is kept for the grace period.
    PastDue,
    Canceled,
    /// Never became active (abandoned checkout) or ended after the grace period.
    Expired,
}

impl SubscriptionStatus {
    /// From a Stripe subscription status.
    pub fn from_stripe(status: &str) -> Option<Self> {
        Some(match status {
            "incomplete" => Self::Pending,
            "trialing" | "active" => Self::Active,
            "past_due" | "unpaid" => Self::PastDue,
            "canceled" | "paused" => Self::Canceled,
            "incomplete_expired" => Self::Expired,
            _ => return None,
        })
    }

    /// Tie-break between snapshots of the same second: later lifecycle stages win.
    pub(super) fn rank(self) -> u8 {
        match self {
            Self::Pending => 0,
            Self::Active => 1,
            Self::PastDue => 2,
            Self::Canceled => 3,
            Self::Expired => 4,
        }
    }
}

/// Where a refund stands. Statuses only move forward (pending → succeeded → failed; a refund can fail after
/// it succeeded), so applying provider events in any order ends in the same status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefundStatus {
    Pending,
    /// Items recorded before statuses existed were succeeded refunds.
    #[default]
    Succeeded,
    Failed,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// Stripe's refund statuses (`None`: older event shapes listed only succeeded refunds).
    pub fn from_stripe(status: Option<&str>) -> Option<Self> {
        match status {
            None | Some("succeeded") => Some(Self::Succeeded),
            Some("pending" | "requires_action") => Some(Self::Pending),
            Some("failed" | "canceled") => Some(Self::Failed),
            Some(_) => None,
        }
    }

    /// Whether the refund holds (or may still take) money from its payment.
    pub fn counts(self) -> bool {
        self != Self::Failed
    }
}

/// Who collects the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Stripe,
    Phonepe,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stripe => "stripe",
            Self::Phonepe => "phonepe",
        }
    }
}

/// How often a price is charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BillingPeriod {
    Monthly,
    Yearly,
}

impl BillingPeriod {
    /// Months in one period.
    pub fn months(self) -> u32 {
        match self {
            Self::Monthly => 1,
            Self::Yearly => 12,
        }
    }

    /// The end of a period starting at `start` (epoch seconds): the same day of the month `months()` later,
    /// the month's last day when it has no such day.
    pub fn end_from(self, start: i64) -> i64 {
        let months = self.months();
        chrono::DateTime::from_timestamp(start, 0)
            .and_then(|d| d.checked_add_months(chrono::Months::new(months)))
            .map_or(start + i64::from(months) * 30 * 86_400, |d| d.timestamp())
    }
}

/// One price of a tier: an amount in minor units of `currency` per `period`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Price {
    /// Minor units (paise, cents).
    pub amount: i64,
    /// ISO 4217, lowercase (`inr`, `usd`), as Stripe writes it.
    pub currency: String,
    pub period: BillingPeriod,
    /// The Stripe Price (`price_…`) to use in Checkout; without one the tier cannot be sold on Stripe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stripe_price_id: Option<String>,
    /// Usage-based terms: an allowance per month and what overage costs (paid tiers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<super::UsagePricing>,
}

impl Price {
    /// A price without provider ids or usage terms.
    pub fn new(amount: i64, currency: &str, period: BillingPeriod) -> Self {
        Self { amount, currency: currency.to_owned(), period, stripe_price_id: None, usage: None }
    }

    /// Input check: positive amount, a 3-letter currency, a plausible Stripe price id.
    pub fn validate(&self, field: &str) -> Vec<crate::FieldError> {
        let mut errors = Vec::new();
        if self.amount <= 0 || self.amount > 10_000_000_000 {
            errors.push(crate::FieldError::new(format!("{field}.amount"), "must be a positive amount in minor units"));
        }
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_lowercase()) {
            errors.push(crate::FieldError::new(format!("{field}.currency"), "must be a lowercase ISO 4217 code"));
        }
        if let Some(id) = &self.stripe_price_id
            && (!id.starts_with("price_") && !id.starts_with("plan_")
                || id.len() > 255
                || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        {
            errors.push(crate::FieldError::new(format!("{field}.stripe_price_id"), "must be a Stripe price id"));
        }
        if let Some(usage) = &self.usage {
            errors.extend(usage.validate(&format!("{field}.usage")));
        }
        errors
    }
}

/// Where a one-off payment order stands (an invoice paid through an invoice rail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    Pending,
    Completed,
    Failed,
}
