//! Health: `GET /api/health` (liveness: the function answers, nothing else is touched) and
//! `GET /api/admin/health` (readiness, admins only: what the auth function depends on, each with its latency).

use super::AuthService;
use crate::identity::Principal;
use crate::platform::error::ApiError;
use serde::Serialize;
use std::time::Instant;

/// The liveness answer: no dependency is touched.
#[derive(Debug, Serialize)]
pub struct Liveness {
    pub status: &'static str,
    pub function: &'static str,
    pub version: &'static str,
}

impl Liveness {
    pub fn new(function: &'static str, version: &'static str) -> Self {
        Self { status: "ok", function, version }
    }
}

/// One dependency's check: `ok` or `failed`, never the error's text.
#[derive(Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: &'static str,
    pub ms: u64,
}

/// The readiness answer: `ok` when every check passed (200), else `failing` (503).
#[derive(Debug, Serialize)]
pub struct Readiness {
    pub status: &'static str,
    pub checks: Vec<Check>,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        self.status == "ok"
    }
}

async fn timed<F: Future<Output = bool>>(name: &'static str, check: F) -> Check {
    let started = Instant::now();
    let ok = check.await;
    let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Check { name, status: if ok { "ok" } else { "failed" }, ms }
}

impl AuthService {
    /// `GET /api/admin/health` (admins only): one cheap read of the table, and the signing key as loaded (its
    /// first load forced). A failure is logged here and reported by name only.
    pub async fn readiness(&self, caller: &Principal) -> Result<Readiness, ApiError> {
        if !caller.is_admin() {
            return Err(ApiError::forbidden("only admins may read the readiness check"));
        }
        let table = timed("table", async {
            self.store.probe().await.inspect_err(|e| tracing::error!(error = %e, "readiness: table failed")).is_ok()
        })
        .await;
        let signing_key = timed("signing_key", async {
            self.keys
                .signing()
                .await
                .inspect_err(|e| tracing::error!(error = ?e.code, "readiness: signing key failed"))
                .is_ok()
        })
        .await;
        let checks = vec![table, signing_key];
        let status = if checks.iter().all(|c| c.status == "ok") { "ok" } else { "failing" };
        Ok(Readiness { status, checks })
    }
}
