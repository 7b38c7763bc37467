//! Owner checks: a user reads and manages only their own subscriptions and payments; only admins refund.

use crate::fixture;
use integration_tests::harness::unique_email;
use serde_json::json;

#[tokio::test]
async fn users_cannot_touch_each_others_subscriptions_and_only_admins_refund() {
    let f = fixture().await;
    let (id, stripe_sub) = f.b.subscribe(&f.access, &f.solution.solution_id, "pro").await;
    let other = f.b.env.register(&unique_email("other")).await;
    let b = &other.access_token;
    let r = f.b.call("GET", &format!("/api/subscriptions/{}", f.user_id), None, Some(b)).await;
    assert_eq!(r.status, 403);
    let r =
        f.b.call("PUT", &format!("/api/subscriptions/{id}/upgrade"), Some(json!({"tier": "enterprise"})), Some(b))
            .await;
    assert_eq!(r.status, 403);
    let r = f.b.call("DELETE", &format!("/api/subscriptions/{id}"), None, Some(b)).await;
    assert_eq!(r.status, 403);
    let r = f.b.call("GET", &format!("/api/payments/history?customer_id={}", f.user_id), None, Some(b)).await;
    assert_eq!(r.status, 403);
    // B's own history is empty; A's subscription is untouched.
    let r = f.b.call("GET", "/api/payments/history", None, Some(b)).await;
    assert_eq!((r.status, r.body["items"].as_array().map(Vec::len)), (200, Some(0)));
    assert_eq!(f.subscription(&id).await["cancel_at_period_end"], false);
    assert_eq!(f.tier().await, "pro");
    // No session, no access.
    assert_eq!(f.b.call("GET", &format!("/api/subscriptions/{}", f.user_id), None, None).await.status, 401);

    let history = f.history().await;
    let payment_id = history["items"][0]["payment_id"].as_str().expect("payment").to_owned();
    let refund = json!({"amount": 10_000, "reason": "customer asked"});
    let r =
        f.b.call("POST", &format!("/api/payments/{payment_id}/refund"), Some(refund.clone()), Some(&f.access)).await;
    assert_eq!(r.status, 403, "the payer is not an admin");
    let r = f.b.call("POST", &format!("/api/payments/{payment_id}/refund"), Some(refund.clone()), Some(b)).await;
    assert_eq!(r.status, 403);
    let too_much = json!({"amount": 50_000, "reason": "x"});
    let r = f.b.call("POST", &format!("/api/payments/{payment_id}/refund"), Some(too_much), Some(&f.admin)).await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some("amount")));
    let r = f.b.call("POST", &format!("/api/payments/{payment_id}/refund"), Some(refund), Some(&f.admin)).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let refund_request = f.b.stripe.requests().into_iter().rfind(|q| q.path == "/v1/refunds").expect("refund call");
    assert_eq!(refund_request.param("amount"), Some("10000"));
    let pi = refund_request.param("payment_intent").expect("payment intent").to_owned();
    // The refund is recorded when Stripe's charge.refunded arrives (twice: once).
    let event =
        f.b.stripe.refunded_event(&pi, &[(r.body["provider_refund_id"].as_str().expect("re").to_owned(), 10_000)]);
    assert_eq!(f.b.deliver(&event).await.status, 200);
    assert_eq!(f.b.deliver(&event).await.body["duplicate"], true);
    let history = f.history().await;
    let kinds: Vec<_> = history["items"].as_array().expect("items").iter().map(|i| i["kind"].clone()).collect();
    assert_eq!(kinds, vec![json!("refund"), json!("payment")], "newest first");
    assert_eq!(history["items"][0]["payment_id"].as_str(), Some(payment_id.as_str()));
    let _ = stripe_sub;
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field() {
    let f = fixture().await;
    let sid = f.solution.solution_id.clone();
    for (body, field) in [
        (json!({"solution_id": sid, "tier": "free", "provider": "stripe"}), "tier"),
        (json!({"solution_id": sid, "tier": "gold", "provider": "stripe"}), "tier"),
        (json!({"solution_id": "nope", "tier": "pro", "provider": "stripe"}), "solution_id"),
        (json!({"solution_id": sid, "tier": "pro", "provider": "paypal"}), "provider"),
        (json!({"solution_id": sid, "tier": "pro", "provider": "stripe", "period": "weekly"}), "period"),
        (json!({"solution_id": sid, "tier": "pro", "provider": "stripe", "period": "yearly"}), "tier"),
        (json!({"solution_id": sid, "tier": "pro", "provider": "stripe", "status": "active"}), "status"),
        (json!({"tier": "pro", "provider": "stripe"}), "solution_id"),
    ] {
        let r = f.b.call("POST", "/api/subscriptions", Some(body.clone()), Some(&f.access)).await;
        assert!((400..500).contains(&r.status), "{body}: {:?}", r.body);
        assert_eq!(r.body["errors"][0]["field"].as_str(), Some(field), "{body}: {:?}", r.body);
        assert_eq!(r.content_type(), "application/problem+json");
    }
    let r = f.b.call("GET", "/api/payments/history?limit=0", None, Some(&f.access)).await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (400, Some("limit")));
    let r = f.b.call("GET", "/api/payments/history?cursor=garbage", None, Some(&f.access)).await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (400, Some("cursor")));
    let r =
        f.b.call(
            "PUT",
            "/api/subscriptions/sub_00000000000000000000000000/upgrade",
            Some(json!({"tier": "pro"})),
            Some(&f.access),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(f.b.stripe.requests().iter().filter(|q| q.path == "/v1/checkout/sessions").count(), 0);
}
