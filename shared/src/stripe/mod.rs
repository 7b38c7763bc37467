//! Stripe, as pure functions (no I/O here): webhook signature verification and tolerant event reading.

#[cfg(feature = "stripe-api")]
pub mod client;
pub mod events;
pub mod signature;
