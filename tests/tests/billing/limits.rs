//! Unpaid checkouts are capped per user: each one is a provider checkout session (or PhonePe order). One
//! pending checkout per solution (see `checkout.rs`), so the cap is across solutions.

use crate::fixture;
use serde_json::json;
use shared::billing::service::MAX_UNPAID_CHECKOUTS;

#[tokio::test]
async fn a_user_may_hold_only_a_few_unpaid_checkouts() {
    let f = fixture().await;
    let mut solutions = vec![f.solution.solution_id.clone()];
    for _ in 0..MAX_UNPAID_CHECKOUTS {
        solutions.push(f.b.priced_solution(5, 10).await.solution_id);
    }
    let create = |sid: String, key: String| {
        let body = json!({"solution_id": sid, "tier": "pro", "provider": "stripe", "period": "monthly"});
        let b = &f.b;
        let access = f.access.clone();
        async move {
            b.call_with("POST", "/api/subscriptions", Some(body), Some(&access), &[("idempotency-key", &key)]).await
        }
    };
    for (i, sid) in solutions.iter().take(MAX_UNPAID_CHECKOUTS).enumerate() {
        let r = create(sid.clone(), format!("checkout-{i}")).await;
        assert_eq!(r.status, 201, "checkout {i}: {:?}", r.body);
    }
    let last = solutions[MAX_UNPAID_CHECKOUTS].clone();
    let refused = create(last.clone(), "checkout-next".into()).await;
    assert_eq!((refused.status, refused.body["code"].as_str()), (429, Some("too_many_requests")), "{:?}", refused.body);
    let retry: i64 = refused.headers["retry-after"].to_str().expect("header").parse().expect("seconds");
    assert!((1..=86_400).contains(&retry), "{retry}");
    // A retry of an accepted request still replays its answer, and asking for a pending checkout again (or
    // replacing it) opens nothing new, so neither is capped.
    assert_eq!(create(solutions[0].clone(), "checkout-0".into()).await.status, 201);
    assert_eq!(create(solutions[1].clone(), "checkout-again".into()).await.status, 201);
    let other = json!({"solution_id": solutions[2], "tier": "enterprise", "provider": "stripe", "period": "monthly"});
    assert_eq!(f.b.call("POST", "/api/subscriptions", Some(other), Some(&f.access)).await.status, 201);
    // Abandoned checkouts stop counting once they expire (a day).
    f.b.env.clock.advance(chrono::Duration::seconds(retry + 1));
    assert_eq!(create(last, "checkout-later".into()).await.status, 201);
}
