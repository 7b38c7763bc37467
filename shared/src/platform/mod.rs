//! What every capability stands on and none owns: errors and their problem+json rendering, HTTP plumbing,
//! configuration, AWS SDK clients, the clock, crypto and sealing, ids, logging, invocation time budgets and the
//! payment providers' HTTP client. Imports nothing else of this crate.

pub mod aws;
pub mod budget;
pub mod client_address;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod deferred;
pub mod error;
#[cfg(feature = "http")]
pub mod http;
pub mod https;
pub mod ids;
pub mod logging;
pub mod metrics;
#[cfg(feature = "payments")]
pub mod provider_http;
pub mod sealed;
pub mod telemetry;
