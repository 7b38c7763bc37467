//! PhonePe (India), Standard Checkout v2: callback checks (pure) and the API client (feature `payments`).

pub mod callback;
#[cfg(feature = "payments")]
pub mod client;
#[cfg(feature = "payments")]
pub mod rail;
#[cfg(feature = "payments")]
pub mod webhook;
