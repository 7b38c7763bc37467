//! Subscriptions: use cases over the provider-neutral model of `crate::model`.

pub mod billing;
#[cfg(feature = "payments")]
pub mod billing_run;
#[cfg(feature = "payments")]
pub mod checkout;
#[cfg(feature = "payments")]
pub mod holds;
pub mod invoicing;
#[cfg(feature = "payments")]
pub mod payments;
#[cfg(feature = "payments")]
pub mod phonepe;
#[cfg(feature = "payments")]
pub mod phonepe_webhook;
#[cfg(feature = "payments")]
pub mod reconcile;
#[cfg(feature = "payments")]
pub mod service;
#[cfg(feature = "payments")]
pub mod webhook;
