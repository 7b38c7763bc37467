//! The payment rails: Stripe (Checkout, subscriptions, signed webhooks, prices) and PhonePe (Standard Checkout
//! v2 orders, refunds, callbacks), and the daily reconciliation that asks both what we missed.

pub mod phonepe;
#[cfg(feature = "payments")]
pub mod reconcile;
pub mod stripe;
