//! Stripe, as pure functions (no I/O here): webhook signature verification and tolerant event reading.

pub mod events;
pub mod signature;
