//! Stripe failing or not answering: a clear 502/503 with Retry-After, and nothing half-created.

use crate::fixture;
use integration_tests::billing::BillingEnv;
use integration_tests::stripe_local::Mode;
use serde_json::json;

async fn create(f: &crate::Fixture) -> integration_tests::harness::Reply {
    f.b.call(
        "POST",
        "/api/subscriptions",
        Some(json!({"solution_id": f.solution.solution_id, "tier": "pro", "provider": "stripe"})),
        Some(&f.access),
    )
    .await
}

#[tokio::test]
async fn stripe_5xx_and_timeouts_answer_502_and_503_with_retry_after_and_leave_nothing_behind() {
    let f = fixture().await;
    f.b.stripe.set_mode(Mode::Fail);
    let r = create(&f).await;
    assert_eq!((r.status, r.body["code"].as_str()), (502, Some("payment_provider_error")), "{:?}", r.body);
    assert!(r.headers.get("retry-after").is_some());
    assert_eq!(r.content_type(), "application/problem+json");
    let attempts = f.b.stripe.requests().len();
    assert_eq!(attempts, 2, "one retry of a 5xx, with the same idempotency key");

    f.b.stripe.set_mode(Mode::Hang);
    let r = create(&f).await;
    assert_eq!((r.status, r.body["code"].as_str()), (503, Some("payment_provider_unavailable")), "{:?}", r.body);
    assert!(r.headers.get("retry-after").is_some());

    let list = f.b.call("GET", &format!("/api/subscriptions/{}", f.user_id), None, Some(&f.access)).await;
    assert_eq!(list.body["subscriptions"].as_array().map(Vec::len), Some(0), "no half-created subscription");
    assert_eq!(f.tier().await, "free");

    // Stripe back: the same request succeeds.
    f.b.stripe.set_mode(Mode::Normal);
    assert_eq!(create(&f).await.status, 201);
}

#[tokio::test]
async fn an_unreachable_stripe_is_a_503() {
    let env = integration_tests::harness::TestEnv::new().await;
    let stripe = integration_tests::stripe_local::StripeLocal::start(0).await;
    // A port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let b = BillingEnv::with_stripe(env, stripe, Some(&closed)).await;
    let solution = b.priced_solution(5, 10).await;
    let session = b.env.register(&integration_tests::harness::unique_email("down")).await;
    let r = b
        .call(
            "POST",
            "/api/subscriptions",
            Some(json!({"solution_id": solution.solution_id, "tier": "pro", "provider": "stripe"})),
            Some(&session.access_token),
        )
        .await;
    assert_eq!(r.status, 503, "{:?}", r.body);
    assert!(r.headers.get("retry-after").is_some());
}
