//! Stripe, as pure functions (no I/O here): webhook signature verification and tolerant event reading.

#[cfg(feature = "payments")]
pub mod client;
pub mod events;
#[cfg(feature = "payments")]
pub mod prices;
#[cfg(feature = "payments")]
pub mod rail;
pub mod signature;
#[cfg(feature = "payments")]
pub mod webhook;
