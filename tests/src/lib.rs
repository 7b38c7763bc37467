//! Integration-test support, shared by the test suites and the `devstack` binary: the table definition read
//! from `infra/template.yaml` (so local and test tables equal the deployed one), seeding, and a harness that
//! runs the real handlers against DynamoDB Local.

pub mod billing;
pub mod fake_phonepe;
pub mod harness;
pub mod http_stub;
pub mod iam;
pub mod marketplace;
pub mod metrics;
pub mod partners;
pub mod rng;
pub mod seed;
pub mod stats;
pub mod stripe_local;
pub mod template;

use std::path::PathBuf;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}
