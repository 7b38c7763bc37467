//! Subscriptions, provider references, payments, refunds and webhook deduplication records in the store: the
//! items in `items.rs` (subscriptions and what points at them) and `payments.rs` (payments, refunds, webhook
//! events), the operations in `operations.rs` (split for size: all three are this one family).

mod items;
mod operations;
mod payments;

pub use items::{CheckoutSlotItem, ProviderCustomerItem, ProviderRefItem, SubscriptionHold, SubscriptionItem};
pub use operations::{
    Claim, HistoryItem, HistoryPage, RefundChange, SUBSCRIPTION_PAGE_READ, SUBSCRIPTION_PAGE_ROUNDS, SubscriptionPage,
};
pub use payments::{PaymentItem, RefundItem, WebhookEventItem};
