//! The common crate of every Lambda function: configuration, errors, HTTP helpers, auth primitives, the
//! single-table store and the domain use cases. Handlers in `functions/*` stay thin: parse, call one use case
//! from here, respond.

pub mod auth;
pub mod aws;
pub mod budget;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod earnings;
pub mod error;
pub mod identity;
pub mod ids;
pub mod invoices;
pub mod logging;
pub mod model;
pub mod partners;
pub mod phonepe;
pub mod revenue;
pub mod sealed;

pub mod store;
pub mod stripe;
pub mod subscriptions;
pub mod throttle;
pub mod tokens;
pub mod usage;
pub mod users;
pub mod verification;

#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "email")]
pub mod notifications;
#[cfg(feature = "payments")]
pub mod provider_http;
#[cfg(feature = "secrets")]
pub mod secrets;

pub use error::{ApiError, FieldError};
