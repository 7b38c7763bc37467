//! Unpaid checkouts are capped per user: each one is a provider checkout session (or PhonePe order).

use crate::fixture;
use serde_json::json;
use shared::subscriptions::service::MAX_UNPAID_CHECKOUTS;

#[tokio::test]
async fn a_user_may_hold_only_a_few_unpaid_checkouts() {
    let f = fixture().await;
    let sid = f.solution.solution_id.clone();
    let body = json!({"solution_id": sid, "tier": "pro", "provider": "stripe", "period": "monthly"});
    let create = |key: String| {
        let body = body.clone();
        let b = &f.b;
        let access = f.access.clone();
        async move {
            b.call_with("POST", "/api/subscriptions", Some(body), Some(&access), &[("idempotency-key", &key)]).await
        }
    };
    for i in 0..MAX_UNPAID_CHECKOUTS {
        let r = create(format!("checkout-{i}")).await;
        assert_eq!(r.status, 201, "checkout {i}: {:?}", r.body);
    }
    let refused = create("checkout-next".into()).await;
    assert_eq!((refused.status, refused.body["code"].as_str()), (429, Some("too_many_requests")), "{:?}", refused.body);
    let retry: i64 = refused.headers["retry-after"].to_str().expect("header").parse().expect("seconds");
    assert!((1..=86_400).contains(&retry), "{retry}");
    // A retry of an accepted request still replays its answer.
    assert_eq!(create("checkout-0".into()).await.status, 201);
    // Abandoned checkouts stop counting once they expire (a day).
    f.b.env.clock.advance(chrono::Duration::seconds(retry + 1));
    assert_eq!(create("checkout-later".into()).await.status, 201);
}
