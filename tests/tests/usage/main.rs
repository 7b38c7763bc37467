//! Integration tests of the `usage` function (and its effects on `auth`) against DynamoDB Local.

mod access;
mod batch;
mod concurrency;
mod cost;
mod metrics;
mod orgs;
mod overage;
mod quotas;

use integration_tests::harness::{Reply, TestEnv, unique_email};
use serde_json::{Value, json};
use shared::model::SolutionStatus;
use shared::store::solutions::SolutionItem;

/// A published solution, a user with a solution token for it, and an admin.
pub struct Fixture {
    pub env: TestEnv,
    pub solution: SolutionItem,
    pub user_id: String,
    pub access: String,
    pub token: String,
    pub admin: String,
}

pub async fn fixture() -> Fixture {
    let env = TestEnv::new().await;
    let solution = env.solution(SolutionStatus::Published).await;
    let session = env.register(&unique_email("usage")).await;
    let token = env.solution_token(&session.access_token, &solution.solution_id).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let admin = env.admin().await.access_token;
    Fixture { env, solution, user_id: session.user_id, access: session.access_token, token, admin }
}

impl Fixture {
    pub async fn track(&self, body: Value) -> Reply {
        self.env.call("POST", "/api/track-usage", Some(body), Some(&self.token)).await
    }

    /// Set a tier's limits for the fixture's solution (admin route), then let caches expire.
    pub async fn set_limit(&self, tier: &str, daily: Option<u64>, monthly: Option<u64>) {
        let r = self
            .env
            .call(
                "PUT",
                "/api/tier-limits",
                Some(json!({"solution_id": self.solution.solution_id, "tier": tier, "daily_limit": daily, "monthly_limit": monthly})),
                Some(&self.admin),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        self.expire_caches();
    }

    /// Move the clock past the per-container cache lifetime (60 s).
    pub fn expire_caches(&self) {
        self.env.clock.advance(chrono::Duration::seconds(61));
    }

    pub async fn quota(&self) -> Value {
        let r = self
            .env
            .call(
                "GET",
                &format!("/api/quotas/{}/{}", self.user_id, self.solution.solution_id),
                None,
                Some(&self.access),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body
    }
}
