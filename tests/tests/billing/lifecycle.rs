//! A subscription's life: checkout, activation by webhook, upgrade, downgrade, cancellation, grace period.

use crate::fixture;
use chrono::Duration;
use serde_json::json;
use shared::platform::clock::Clock;

#[tokio::test]
async fn checkout_then_webhooks_activate_the_paid_tier_and_record_the_payment() {
    let f = fixture().await;
    assert_eq!(f.tier().await, "free");
    let r = f
        .b
        .call_with(
            "POST",
            "/api/subscriptions",
            Some(json!({"solution_id": f.solution.solution_id, "tier": "pro", "provider": "stripe", "period": "monthly"})),
            Some(&f.access),
            &[("idempotency-key", "create-1")],
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["status"], "pending");
    let id = r.body["subscription_id"].as_str().expect("id").to_owned();
    let session = f.b.env.store.get_subscription(&id).await.expect("read").expect("sub").checkout_session_id;
    let at_stripe = f.b.stripe.object("checkout.session", session.as_deref().expect("session")).expect("session");
    assert_eq!(r.body["checkout_url"], at_stripe["url"], "the customer pays on Stripe's page");
    // The same Idempotency-Key answers the same, with no second Checkout Session.
    let again = f
        .b
        .call_with(
            "POST",
            "/api/subscriptions",
            Some(json!({"solution_id": f.solution.solution_id, "tier": "pro", "provider": "stripe", "period": "monthly"})),
            Some(&f.access),
            &[("idempotency-key", "create-1")],
        )
        .await;
    assert_eq!((again.status, &again.body), (201, &r.body));
    let sessions: Vec<_> = f.b.stripe.requests().into_iter().filter(|q| q.path == "/v1/checkout/sessions").collect();
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert_eq!(s.stripe_version.as_deref(), Some(shared::payments::stripe::client::API_VERSION));
    assert!(s.idempotency_key.is_some());
    assert_eq!(s.param("mode"), Some("subscription"));
    assert_eq!(s.param("line_items[0][price]"), Some("price_pro_monthly"));
    assert_eq!(s.param("client_reference_id"), Some(id.as_str()));
    assert_eq!(s.param("subscription_data[metadata][subscription_id]"), Some(id.as_str()));
    assert!(f.b.stripe.requests().iter().filter(|q| q.method == "POST").all(|q| q.idempotency_key.is_some()));
    // A different request under the same key is refused.
    let reused =
        f.b.call_with(
            "POST",
            "/api/subscriptions",
            Some(json!({"solution_id": f.solution.solution_id, "tier": "enterprise", "provider": "stripe"})),
            Some(&f.access),
            &[("idempotency-key", "create-1")],
        )
        .await;
    assert_eq!((reused.status, reused.body["code"].as_str()), (409, Some("idempotency_key_reused")));

    let item = f.b.env.store.get_subscription(&id).await.expect("read").expect("stored");
    let events = f.b.stripe.complete_checkout(item.checkout_session_id.as_deref().expect("session"));
    for e in &events {
        assert_eq!(f.b.deliver(e).await.status, 200);
    }
    let sub = f.subscription(&id).await;
    assert_eq!((sub["status"].as_str(), sub["tier"].as_str()), (Some("active"), Some("pro")));
    assert!(sub["current_period_end"].as_str().is_some());
    assert_eq!(f.tier().await, "pro");
    let history = f.history().await;
    let items = history["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!((items[0]["kind"].as_str(), items[0]["amount"].as_i64()), (Some("payment"), Some(49_900)));
    assert_eq!(items[0]["currency"], "inr");
    assert!(items[0]["provider_id"].as_str().is_some_and(|p| p.starts_with("pi_")), "payment intent via expand");
    // The paid Stripe invoice is also our GST tax invoice (seller and buyer both in Karnataka: CGST + SGST).
    let invoices = f.b.call("GET", "/api/invoices", None, Some(&f.access)).await;
    let list = invoices.body["items"].as_array().expect("invoices");
    assert_eq!(list.len(), 1, "{:?}", invoices.body);
    assert_eq!((list[0]["provider"].as_str(), list[0]["status"].as_str()), (Some("stripe"), Some("paid")));
    assert!(list[0]["number"].as_str().is_some_and(|n| shared::gst::parse_invoice_number(n).is_some()));
    let tax = &list[0]["tax"];
    assert_eq!((tax["cgst"].as_i64(), tax["sgst"].as_i64(), tax["igst"].as_i64()), (Some(3_806), Some(3_806), Some(0)));
    assert!(list[0]["download_url"].is_string());
    // A second subscription to the same solution while this one is active is refused.
    let second =
        f.b.call(
            "POST",
            "/api/subscriptions",
            Some(json!({"solution_id": f.solution.solution_id, "tier": "enterprise", "provider": "stripe"})),
            Some(&f.access),
        )
        .await;
    assert_eq!((second.status, second.body["code"].as_str()), (409, Some("subscription_exists")));
}

#[tokio::test]
async fn upgrade_is_prorated_at_once_and_restarts_the_days_quota_under_the_new_limit() {
    let f = fixture().await;
    let (id, _) = f.b.subscribe(&f.access, &f.solution.solution_id, "pro").await;
    // Pro allows 5 a day: use them up (the usage function now caches the pro tier).
    for _ in 0..5 {
        assert_eq!(f.track().await, 200);
    }
    assert_eq!(f.track().await, 429);
    let r = f
        .b
        .call("PUT", &format!("/api/subscriptions/{id}/upgrade"), Some(json!({"tier": "enterprise"})), Some(&f.access))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!((r.body["tier"].as_str(), r.body["pending_tier"].as_str()), (Some("enterprise"), None));
    let update = f.b.stripe.requests().into_iter().rfind(|q| q.path.starts_with("/v1/subscriptions/")).expect("update");
    assert_eq!(update.param("proration_behavior"), Some("always_invoice"));
    assert_eq!(update.param("items[0][price]"), Some("price_enterprise_monthly"));
    assert!(update.idempotency_key.is_some());
    // At once, in the same (warm) usage container: the day restarts at 0 under enterprise's 10 (a refusal
    // under a cached tier re-reads the tier when the cached one is over 2 s old: let 3 s pass).
    f.b.env.clock.advance(Duration::seconds(3));
    let quota =
        f.b.env
            .call("GET", &format!("/api/quotas/{}/{}", f.user_id, f.solution.solution_id), None, Some(&f.access))
            .await;
    assert_eq!((quota.body["used"].as_u64(), quota.body["limit"].as_u64()), (Some(0), Some(10)), "{:?}", quota.body);
    for _ in 0..10 {
        assert_eq!(f.track().await, 200);
    }
    assert_eq!(f.track().await, 429);
    assert_eq!(f.tier().await, "enterprise");
}

#[tokio::test]
async fn downgrade_waits_for_the_period_end() {
    let f = fixture().await;
    let (id, stripe_sub) = f.b.subscribe(&f.access, &f.solution.solution_id, "enterprise").await;
    let r =
        f.b.call("PUT", &format!("/api/subscriptions/{id}/upgrade"), Some(json!({"tier": "pro"})), Some(&f.access))
            .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!((r.body["tier"].as_str(), r.body["pending_tier"].as_str()), (Some("enterprise"), Some("pro")));
    assert_eq!(r.body["pending_effective_at"], r.body["current_period_end"]);
    let update = f.b.stripe.requests().into_iter().rfind(|q| q.path.starts_with("/v1/subscriptions/")).expect("update");
    assert_eq!(update.param("proration_behavior"), Some("none"));
    assert_eq!(f.tier().await, "enterprise", "the paid period keeps its tier");
    // Past the period end the scheduled tier applies, even before Stripe's renewal events arrive.
    f.b.env.clock.advance(Duration::days(27));
    assert_eq!(f.tier().await, "enterprise");
    f.b.set_clocks(f.b.period_end(&id).await + 1);
    assert_eq!(f.tier().await, "pro");
    for e in f.b.stripe.renew(&stripe_sub) {
        assert_eq!(f.b.deliver(&e).await.status, 200);
    }
    let sub = f.subscription(&id).await;
    assert_eq!((sub["tier"].as_str(), sub["pending_tier"].as_str()), (Some("pro"), None));
    assert_eq!(sub["price"]["amount"], 49_900);
    assert_eq!(f.tier().await, "pro");
}

#[tokio::test]
async fn cancel_keeps_access_until_the_period_end() {
    let f = fixture().await;
    let (id, stripe_sub) = f.b.subscribe(&f.access, &f.solution.solution_id, "pro").await;
    let r = f.b.call("DELETE", &format!("/api/subscriptions/{id}"), None, Some(&f.access)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!((r.body["status"].as_str(), r.body["cancel_at_period_end"].as_bool()), (Some("active"), Some(true)));
    assert_eq!(f.tier().await, "pro");
    let end = f.b.period_end(&id).await;
    f.b.set_clocks(end - 1);
    assert_eq!(f.tier().await, "pro");
    f.b.set_clocks(end + 1);
    assert_eq!(f.tier().await, "free", "the period is over");
    assert_eq!(f.b.deliver(&f.b.stripe.deleted_event(&stripe_sub)).await.status, 200);
    assert_eq!(f.subscription(&id).await["status"], "canceled");
    assert_eq!(f.tier().await, "free");
    // Users may not cancel immediately; admins may (on another subscription).
    let g = fixture().await;
    let (id2, _) = g.b.subscribe(&g.access, &g.solution.solution_id, "pro").await;
    let r = g.b.call("DELETE", &format!("/api/subscriptions/{id2}?immediately=true"), None, Some(&g.access)).await;
    assert_eq!(r.status, 403);
    let r = g.b.call("DELETE", &format!("/api/subscriptions/{id2}?immediately=true"), None, Some(&g.admin)).await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("canceled")), "{:?}", r.body);
    assert_eq!(g.tier().await, "free");
}

#[tokio::test]
async fn past_due_keeps_the_tier_for_the_grace_period_then_falls_back_to_free_and_payment_recovers() {
    let f = fixture().await;
    let (id, stripe_sub) = f.b.subscribe(&f.access, &f.solution.solution_id, "pro").await;
    f.b.env.clock.advance(Duration::days(30));
    f.b.stripe.set_now(f.b.env.clock.now().timestamp());
    for e in f.b.stripe.fail_renewal(&stripe_sub) {
        assert_eq!(f.b.deliver(&e).await.status, 200);
    }
    let sub = f.subscription(&id).await;
    assert_eq!(sub["status"], "past_due");
    assert!(sub["grace_until"].as_str().is_some());
    f.b.env.clock.advance(Duration::days(7) - Duration::seconds(1));
    assert_eq!(f.tier().await, "pro");
    f.b.env.clock.advance(Duration::seconds(1));
    assert_eq!(f.tier().await, "free");
    assert_eq!(f.subscription(&id).await["status"], "expired");
    // The customer pays: Stripe reports it active again.
    f.b.stripe.set_now(f.b.env.clock.now().timestamp());
    assert_eq!(f.b.deliver(&f.b.stripe.updated_event(&stripe_sub, "active")).await.status, 200);
    assert_eq!(f.tier().await, "pro");
    assert_eq!(f.subscription(&id).await["status"], "active");
}
