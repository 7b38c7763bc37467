//! The PhonePe rail. PhonePe has no subscription engine: we bill. Every payment is an open invoice (the first
//! period, a renewal made by the billing run, or an upgrade's prorated difference) paid through a PhonePe
//! checkout order. What an order did is always read from PhonePe's status API, never from a callback body;
//! applying it is idempotent (the payment id derives from our order id, the invoice is issued in the same
//! transaction, subscription facts fold), so `verify`, callbacks and reruns in any order end in one state.

use crate::billing::invoicing::Seller;
use crate::billing::rail::{InvoiceRail, RailFuture};
use crate::billing::views::{Initiated, RefundAnswer, Verified};
use crate::billing::writer::{SubscriptionWriter, derived_id};
use crate::model::OrderState;
use crate::payments::phonepe::client::PhonePeClient;
use crate::store::invoices::InvoiceItem;
use crate::store::subscriptions::PaymentItem;
use chrono::{DateTime, Utc};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct PhonePeSettings {
    /// Where PhonePe sends the user back after paying (`?merchant_order_id=` is appended).
    pub return_url: String,
    /// How long an order can be paid.
    pub order_ttl_seconds: i64,
}

impl PhonePeSettings {
    pub fn new(public_base: &str) -> Self {
        Self {
            return_url: format!("{}/billing/phonepe/return", public_base.trim_end_matches('/')),
            order_ttl_seconds: 20 * 60,
        }
    }
}

#[derive(Clone)]
pub struct PhonePeRail {
    pub writer: SubscriptionWriter,
    pub client: PhonePeClient,
    pub seller: Arc<Seller>,
    pub settings: PhonePeSettings,
}

/// The order that pays a PhonePe subscription's first invoice.
pub fn first_order_id(subscription_id: &str) -> String {
    derived_id("po", &format!("{subscription_id}:first"))
}

/// The payment id of a PhonePe order (one order, one payment).
pub fn payment_id_of(merchant_order_id: &str) -> String {
    derived_id("pay", &format!("phonepe:{merchant_order_id}"))
}

/// The merchant refund id of an unapplied payment's refund: one per payment, so it is asked for once.
pub fn unapplied_refund_id(payment_id: &str) -> String {
    derived_id("prf", &format!("{payment_id}:unapplied"))
}

mod orders;
mod refunds;

impl PhonePeRail {
    pub(super) fn now(&self) -> DateTime<Utc> {
        self.writer.clock.now()
    }
}

impl PhonePeRail {
    /// The rail as billing holds it.
    pub fn shared(
        writer: SubscriptionWriter,
        client: PhonePeClient,
        seller: Arc<Seller>,
        settings: PhonePeSettings,
    ) -> Arc<dyn InvoiceRail> {
        Arc::new(Self { writer, client, seller, settings })
    }
}

impl InvoiceRail for PhonePeRail {
    fn valid_order_id(&self, order_id: &str) -> bool {
        crate::payments::phonepe::client::valid_merchant_id(order_id)
    }

    fn first_order_id(&self, subscription_id: &str) -> String {
        first_order_id(subscription_id)
    }

    fn initiate<'a>(&'a self, invoice: &'a InvoiceItem, order_id: &'a str) -> RailFuture<'a, Initiated> {
        Box::pin(PhonePeRail::initiate(self, invoice, order_id))
    }

    fn apply_order<'a>(&'a self, order_id: &'a str) -> RailFuture<'a, Verified> {
        Box::pin(PhonePeRail::apply_order(self, order_id))
    }

    fn order_paid<'a>(&'a self, order_id: &'a str) -> RailFuture<'a, Option<bool>> {
        Box::pin(async move {
            match self.client.order_status(order_id).await {
                Ok(status) => Ok(Some(status.state == OrderState::Completed)),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn refund<'a>(&'a self, payment: &'a PaymentItem, amount: i64, key: &'a str) -> RailFuture<'a, RefundAnswer> {
        Box::pin(PhonePeRail::refund(self, payment, amount, key))
    }
}
