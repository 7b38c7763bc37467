//! The common crate of every Lambda function. The module tree is the architecture; `shared/README.md` maps
//! functions to modules to store entities. Dependencies point one way:
//! `platform → model, gst, money → store → identity → audit → auth, usage`, `store → ledger → billing → payments`,
//! with `partners`, `marketplace` and `notifications` on top and `setup` (cold-start wiring) above them all.

pub mod audit;
pub mod auth;
pub mod billing;
pub mod gst;
pub mod identity;
pub mod ledger;
pub mod marketplace;
pub mod model;
pub mod money;
pub mod partners;
pub mod payments;
pub mod platform;
pub mod privacy;
pub mod store;
pub mod usage;

#[cfg(feature = "email")]
pub mod notifications;
#[cfg(feature = "secrets")]
pub mod setup;

pub use platform::error::{ApiError, FieldError};
