//! Integration tests of the `subscriptions` and `stripe-webhook` functions against DynamoDB Local, with the
//! Stripe API played by `infra/local/stripe_local.py` (localstripe plus what it lacks; one process per test
//! environment, through `integration_tests::stripe_local`).

mod access;
mod audit;
mod checkout;
mod events;
mod failures;
mod iam;
mod ledger;
mod lifecycle;
mod limits;
mod listing;
mod localstripe;
mod metrics;
mod orgs;
mod outbox;
mod overage;
mod phonepe;
mod phonepe_integrity;
mod prices;
mod reconcile;
mod retention;
mod run;
mod suspension;
mod timeouts;
mod verification;
mod webhook;

use integration_tests::billing::BillingEnv;
use integration_tests::harness::unique_email;
use serde_json::Value;
use shared::store::solutions::SolutionItem;

/// A priced solution (pro: 5/day, enterprise: 10/day, free: 3/day), a user with a session and a solution
/// token for it, and an admin.
pub struct Fixture {
    pub b: BillingEnv,
    pub solution: SolutionItem,
    pub user_id: String,
    pub access: String,
    pub token: String,
    pub admin: String,
}

pub async fn fixture() -> Fixture {
    let b = BillingEnv::new().await;
    let solution = b.priced_solution(5, 10).await;
    let session = b.env.register(&unique_email("billing")).await;
    let token = b.env.solution_token(&session.access_token, &solution.solution_id).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let admin = b.env.admin().await.access_token;
    Fixture { b, solution, user_id: session.user_id, access: session.access_token, token, admin }
}

impl Fixture {
    /// The tier validate-token reports for the fixture's solution token.
    pub async fn tier(&self) -> String {
        let r =
            self.b.env.call("POST", "/api/validate-token", Some(serde_json::json!({"token": self.token})), None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["tier"].as_str().unwrap_or_default().to_owned()
    }

    /// The fixture user's subscription as listed by the API.
    pub async fn subscription(&self, id: &str) -> Value {
        let r = self.b.call("GET", &format!("/api/subscriptions/{}", self.user_id), None, Some(&self.access)).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["subscriptions"]
            .as_array()
            .and_then(|l| l.iter().find(|s| s["subscription_id"] == id))
            .cloned()
            .unwrap_or(Value::Null)
    }

    pub async fn track(&self) -> u16 {
        self.b
            .env
            .call("POST", "/api/track-usage", Some(serde_json::json!({"action": "run"})), Some(&self.token))
            .await
            .status
    }

    pub async fn history(&self) -> Value {
        let r = self.b.call("GET", "/api/payments/history", None, Some(&self.access)).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body
    }
}
