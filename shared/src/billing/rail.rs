//! The payment rails as billing sees them. Billing owns these traits and never imports a provider:
//! `crate::payments` implements them (Stripe: [`HostedRail`]; PhonePe: [`InvoiceRail`]) and the functions'
//! cold start plugs the implementations in. A third rail is a new implementation in `payments/` (and its
//! secrets and routes in the template), nothing here.
//!
//! Two kinds of rail, because providers differ in who runs the subscription:
//! - [`HostedRail`]: the provider runs it (Stripe Billing): a hosted Checkout starts it, the provider renews,
//!   prorates and retries; billing changes its price, cancels it, refunds its payments, and folds the
//!   provider's answers (snapshots of the subscription) into its own state.
//! - [`InvoiceRail`]: we run it (PhonePe): billing issues an invoice per period or upgrade, the rail takes a
//!   one-off payment of it (an order), and tells billing what the order did.

use crate::billing::views::{Initiated, RefundAnswer, Verified};
use crate::model::Fact;
use crate::platform::error::ApiError;
use crate::store::invoices::InvoiceItem;
use crate::store::subscriptions::PaymentItem;
use std::future::Future;
use std::pin::Pin;

/// What every rail call returns: a boxed future (the traits are used as `dyn`).
pub type RailFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ApiError>> + Send + 'a>>;

/// A hosted checkout for a subscription's first payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest<'a> {
    pub subscription_id: &'a str,
    pub user_id: &'a str,
    pub solution_id: &'a str,
    /// The provider's customer (from [`HostedRail::create_customer`]).
    pub customer: &'a str,
    /// The provider's price of the tier and period.
    pub price_id: &'a str,
    pub success_url: &'a str,
    pub cancel_url: &'a str,
}

/// A checkout the provider opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutOpened {
    pub session_id: String,
    pub url: String,
}

/// Where a hosted checkout stands, as the provider reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutState {
    Open,
    /// Paid: the subscription it started stands.
    Complete,
    Expired,
}

/// The provider's handle on a subscription: its id and the id of its (single) item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostedSubscription<'a> {
    pub id: &'a str,
    pub item_id: Option<&'a str>,
}

/// A refund asked of the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundOrder<'a> {
    /// The provider's id of the captured payment.
    pub provider_payment_id: &'a str,
    /// Minor units.
    pub amount: i64,
    /// Ours, for the provider's records.
    pub payment_id: &'a str,
    pub requested_by: &'a str,
    pub reason: &'a str,
}

/// A refund the provider accepted: recorded when its webhook arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundAccepted {
    pub provider_refund_id: String,
    /// The provider's status (`pending`, `succeeded`, …).
    pub status: String,
    pub amount: Option<i64>,
}

/// A one-off invoice at the provider (a billing period's overage), for one of our invoices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OneOffInvoice<'a> {
    /// The provider's customer.
    pub customer: &'a str,
    /// Minor units, tax-inclusive (as every price).
    pub amount: i64,
    pub currency: &'a str,
    pub description: &'a str,
    /// Ours (the provider keeps it as metadata; the paid webhook names it).
    pub invoice_id: &'a str,
    pub subscription_id: &'a str,
    /// The provider's subscription, whose payment method pays it (Checkout saves the card on the
    /// subscription, not as the customer's default).
    pub provider_subscription: Option<&'a str>,
}

/// Where a one-off invoice stands after [`HostedRail::settle_invoice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Paid,
    /// The charge was declined: the invoice stays open at the provider for the customer to pay.
    Declined,
}

/// A rail whose provider runs the subscription. Every call takes an idempotency key: a retry of the same
/// change is the same change at the provider. Calls that change the subscription answer with the provider's
/// snapshot of it (as a [`Fact`] read at `now`), when the answer carries one.
pub trait HostedRail: Send + Sync {
    /// A new customer at the provider for one of our users (the caller keeps its id).
    fn create_customer<'a>(&'a self, user_id: &'a str, email: &'a str) -> RailFuture<'a, String>;

    /// Open a hosted checkout that starts the subscription.
    fn open_checkout<'a>(&'a self, req: CheckoutRequest<'a>) -> RailFuture<'a, CheckoutOpened>;

    /// Close an open checkout (an already paid or expired one answers an error).
    fn expire_checkout<'a>(&'a self, session_id: &'a str) -> RailFuture<'a, ()>;

    /// Read a checkout's state.
    fn checkout_state<'a>(&'a self, session_id: &'a str) -> RailFuture<'a, CheckoutState>;

    /// Move the subscription to another price: an upgrade is prorated and charged now (refused when the
    /// payment fails); anything else takes effect at the next renewal, without proration.
    fn change_price<'a>(
        &'a self,
        sub: HostedSubscription<'a>,
        price_id: &'a str,
        upgrade: bool,
        subscription_id: &'a str,
        idempotency_key: &'a str,
        now: i64,
    ) -> RailFuture<'a, Option<Fact>>;

    /// The next renewal bills `price_id` (no proration, nothing charged now).
    fn reprice_renewal<'a>(
        &'a self,
        sub: HostedSubscription<'a>,
        price_id: &'a str,
        idempotency_key: &'a str,
    ) -> RailFuture<'a, ()>;

    /// End the subscription now, or at the end of its period.
    fn cancel<'a>(
        &'a self,
        sub: HostedSubscription<'a>,
        immediately: bool,
        idempotency_key: &'a str,
        now: i64,
    ) -> RailFuture<'a, Option<Fact>>;

    /// Stop (or restore) renewals: the subscription ends at its period end unless restored.
    fn set_cancel_at_period_end<'a>(
        &'a self,
        sub: HostedSubscription<'a>,
        cancel: bool,
        idempotency_key: &'a str,
        now: i64,
    ) -> RailFuture<'a, Option<Fact>>;

    /// Refund (part of) a captured payment.
    fn refund<'a>(&'a self, order: RefundOrder<'a>, idempotency_key: &'a str) -> RailFuture<'a, RefundAccepted>;

    /// Open an empty one-off invoice for `invoice` (answers the provider's invoice id). The caller pins the id
    /// on its own invoice before [`HostedRail::settle_invoice`], so a retry never opens a second one.
    fn open_invoice<'a>(&'a self, invoice: OneOffInvoice<'a>) -> RailFuture<'a, String>;

    /// Bring a one-off invoice opened by [`HostedRail::open_invoice`] to paid, from wherever it stands: its
    /// one line added while it is an empty draft, finalized, charged. Safe to repeat.
    fn settle_invoice<'a>(&'a self, provider_invoice: &'a str, invoice: OneOffInvoice<'a>) -> RailFuture<'a, Settled>;
}

/// A rail where we run the subscription and the provider takes one-off payments of our invoices.
pub trait InvoiceRail: Send + Sync {
    /// Whether `order_id` has the shape of an order id of this rail (checked before any call).
    fn valid_order_id(&self, order_id: &str) -> bool;

    /// The order id of a subscription's first payment (stable: a retry asks about the same order).
    fn first_order_id(&self, subscription_id: &str) -> String;

    /// Start (or resume) paying an open invoice through order `order_id`.
    fn initiate<'a>(&'a self, invoice: &'a InvoiceItem, order_id: &'a str) -> RailFuture<'a, Initiated>;

    /// Read what order `order_id` did from the provider and apply it (idempotent).
    fn apply_order<'a>(&'a self, order_id: &'a str) -> RailFuture<'a, Verified>;

    /// Whether order `order_id` was paid (`None`: the provider never saw it).
    fn order_paid<'a>(&'a self, order_id: &'a str) -> RailFuture<'a, Option<bool>>;

    /// Refund (part of) a payment; `key` makes a retry the same refund.
    fn refund<'a>(&'a self, payment: &'a PaymentItem, amount: i64, key: &'a str) -> RailFuture<'a, RefundAnswer>;
}
