//! Subscriptions and what they cost: the subscription writer and use cases (create, list, upgrade, downgrade,
//! cancel, history, refunds), subscriptions we bill ourselves through invoices (PhonePe), Checkout slots,
//! suspension holds, GST invoices, and the billing schedule and its run (renewals, reminders, grace periods).
//! The provider-neutral model (statuses, the reconciliation of provider facts) is in `crate::model`.

#[cfg(feature = "payments")]
pub mod changes;
#[cfg(feature = "payments")]
pub mod checkout;
#[cfg(feature = "payments")]
pub mod customers;
#[cfg(feature = "payments")]
pub mod holds;
#[cfg(feature = "payments")]
pub mod invoiced;
pub mod invoicing;
#[cfg(feature = "payments")]
pub mod rail;
#[cfg(feature = "payments")]
pub mod refunds;
#[cfg(feature = "payments")]
pub mod run;
pub mod schedule;
#[cfg(feature = "payments")]
pub mod service;
#[cfg(feature = "payments")]
pub mod views;
#[cfg(feature = "payments")]
pub mod writer;
