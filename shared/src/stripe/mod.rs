//! Stripe, as pure functions (no I/O here): webhook signature verification.

pub mod signature;
