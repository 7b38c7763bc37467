//! Amounts of money: integer minor units with an ISO currency, never floats; the revenue split between the
//! platform and a partner and its balanced postings. Pure: no I/O.

pub mod split;
