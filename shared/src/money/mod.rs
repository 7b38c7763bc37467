//! Amounts of money: integer minor units with an ISO currency, never floats; the revenue split between the
//! platform and a partner and its balanced postings. Pure: no I/O.

pub mod format;
pub mod split;

use serde::{Deserialize, Serialize};

/// An amount in integer minor units (paise, cents) of an ISO 4217 currency (lowercase).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub amount: i64,
    pub currency: String,
}
