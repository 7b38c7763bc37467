//! Value types shared by capabilities: tiers and solution statuses, roles and token kinds, prices, providers,
//! subscription and refund statuses, and the pure reconciliation of provider facts. A leaf: it imports only
//! `crate::platform` (errors), never a capability or the store.

mod account;
mod billing;
mod reconciled;
mod tier;
mod usage_pricing;

pub use account::{OrgKind, OrgRole, Role, TokenKind, partner_status};
pub use billing::{BillingPeriod, OrderState, Price, Provider, RefundStatus, SubscriptionStatus};
pub use reconciled::{Fact, Grant, Movement, Reconciled, Snapshot, grant};
pub use tier::{LimitsOverride, SolutionStatus, Tier, TierSpec, with_overrides};
pub use usage_pricing::{
    LATE_EVENT_SECONDS, Metering, OverageBlock, OverageCharge, UsageLimit, UsagePeriod, UsagePricing,
};
