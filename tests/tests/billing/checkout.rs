//! One pending subscription per user and solution, one checkout at a time: the same request again answers
//! with the pending one, a different tier, period or provider replaces it (its Checkout Session expired at
//! Stripe, its PhonePe invoice withdrawn), a checkout paid meanwhile is never replaced, and a payment that
//! still arrives for a replaced checkout never grants.

use crate::{Fixture, fixture};
use serde_json::{Value, json};

fn body(f: &Fixture, tier: &str, provider: &str) -> Value {
    json!({"solution_id": f.solution.solution_id, "tier": tier, "provider": provider, "period": "monthly"})
}

async fn create(f: &Fixture, tier: &str, provider: &str) -> Value {
    let r = f.b.call("POST", "/api/subscriptions", Some(body(f, tier, provider)), Some(&f.access)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body
}

/// The fixture user's subscriptions as the API lists them.
async fn listed(f: &Fixture) -> Vec<Value> {
    let r = f.b.call("GET", &format!("/api/subscriptions/{}", f.user_id), None, Some(&f.access)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["subscriptions"].as_array().cloned().unwrap_or_default()
}

fn sessions_created(f: &Fixture) -> usize {
    f.b.stripe.requests().iter().filter(|r| r.method == "POST" && r.path == "/v1/checkout/sessions").count()
}

fn id(v: &Value) -> String {
    v["subscription_id"].as_str().expect("subscription id").to_owned()
}

#[tokio::test]
async fn the_same_checkout_asked_for_eight_times_is_one_subscription_and_one_session() {
    let f = fixture().await;
    let first = create(&f, "pro", "stripe").await;
    for _ in 0..7 {
        let again = create(&f, "pro", "stripe").await;
        assert_eq!((id(&again), &again["checkout_url"]), (id(&first), &first["checkout_url"]));
    }
    assert_eq!(sessions_created(&f), 1);
    let subs = listed(&f).await;
    assert_eq!(subs.len(), 1, "{subs:?}");
    assert_eq!(subs[0]["status"], "pending");
}

#[tokio::test]
async fn concurrent_identical_checkouts_leave_one_open_session() {
    let f = fixture().await;
    let calls =
        (0..8).map(|_| f.b.call("POST", "/api/subscriptions", Some(body(&f, "pro", "stripe")), Some(&f.access)));
    let replies = futures::future::join_all(calls).await;
    let ids: std::collections::BTreeSet<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 201, "{:?}", r.body);
            id(&r.body)
        })
        .collect();
    assert_eq!(ids.len(), 1, "every answer names the one pending subscription: {ids:?}");
    let pending: Vec<Value> = listed(&f).await.into_iter().filter(|s| s["status"] == "pending").collect();
    assert_eq!(pending.len(), 1, "{pending:?}");
    // Any session made by a request that lost the race was expired at Stripe.
    let sessions = sessions_created(&f);
    let expired = f.b.stripe.requests().iter().filter(|r| r.path.ends_with("/expire")).count();
    assert_eq!(sessions - expired, 1, "{sessions} sessions, {expired} expired");
}

#[tokio::test]
async fn a_different_tier_replaces_the_pending_checkout_which_can_no_longer_be_paid() {
    let f = fixture().await;
    let pro = create(&f, "pro", "stripe").await;
    let old = f.b.env.store.get_subscription(&id(&pro)).await.expect("read").expect("subscription");
    let enterprise = create(&f, "enterprise", "stripe").await;
    assert_ne!(id(&enterprise), id(&pro));
    let session = old.checkout_session_id.expect("session");
    assert!(f.b.stripe.requests().iter().any(|r| r.path == format!("/v1/checkout/sessions/{session}/expire")));
    assert!(f.b.stripe.complete_checkout(&session).is_empty(), "an expired session cannot be paid");
    let subs = listed(&f).await;
    let status = |sid: &str| subs.iter().find(|s| s["subscription_id"] == sid).map(|s| s["status"].clone());
    assert_eq!(status(&id(&pro)), Some(json!("expired")));
    assert_eq!(status(&id(&enterprise)), Some(json!("pending")));
    let replaced = f.b.env.store.get_subscription(&id(&pro)).await.expect("read").expect("subscription");
    assert_eq!(replaced.replaced_by, Some(id(&enterprise)));
    // Going back to pro replaces enterprise in turn; the pro checkout is a new one.
    let pro_again = create(&f, "pro", "stripe").await;
    assert!(id(&pro_again) != id(&pro) && id(&pro_again) != id(&enterprise));
    assert_eq!(listed(&f).await.iter().filter(|s| s["status"] == "pending").count(), 1);
}

#[tokio::test]
async fn a_checkout_paid_meanwhile_is_never_replaced() {
    let f = fixture().await;
    let pro = create(&f, "pro", "stripe").await;
    let old = f.b.env.store.get_subscription(&id(&pro)).await.expect("read").expect("subscription");
    // Paid at Stripe; its events are still on their way.
    let events = f.b.stripe.complete_checkout(&old.checkout_session_id.expect("session"));
    let r = f.b.call("POST", "/api/subscriptions", Some(body(&f, "enterprise", "stripe")), Some(&f.access)).await;
    assert_eq!((r.status, r.body["code"].as_str()), (409, Some("subscription_exists")), "{:?}", r.body);
    assert_eq!(r.body["subscription_id"], pro["subscription_id"]);
    for e in &events {
        assert_eq!(f.b.deliver(e).await.status, 200);
    }
    assert_eq!(f.tier().await, "pro");
    assert_eq!(listed(&f).await.len(), 1, "nothing else was created");
}

#[tokio::test]
async fn a_phonepe_checkout_replaced_by_stripe_never_grants_when_paid_late() {
    let f = fixture().await;
    let phonepe = create(&f, "pro", "phonepe").await;
    let mid = phonepe["payment"]["merchant_order_id"].as_str().expect("order").to_owned();
    let invoice_id = phonepe["payment"]["invoice_id"].as_str().expect("invoice").to_owned();
    let stripe = create(&f, "pro", "stripe").await;
    assert_ne!(id(&stripe), id(&phonepe));
    let invoice = f.b.env.store.get_invoice(&invoice_id).await.expect("read").expect("invoice");
    assert_eq!(invoice.status, shared::store::invoices::InvoiceStatus::Void, "the PhonePe invoice is withdrawn");
    // The user still pays the PhonePe page they had open: it grants nothing.
    f.b.phonepe.complete(&mid);
    let callback = f.b.phonepe.order_callback(&mid, "COMPLETED");
    assert_eq!(f.b.phonepe_callback(&callback).await.status, 200);
    assert_eq!(f.tier().await, "free");
    // The money is kept on record as unapplied and refunded in full, once (a second callback changes nothing).
    assert_eq!(f.b.phonepe_callback(&callback).await.status, 200);
    let items = f.history().await["items"].as_array().cloned().unwrap_or_default();
    let payment = items.iter().find(|i| i["kind"] == "payment").expect("payment recorded");
    assert_eq!((payment["amount"].as_i64(), payment["unapplied"].as_bool()), (Some(49_900), Some(true)), "{items:?}");
    let refunds: Vec<&Value> = items.iter().filter(|i| i["kind"] == "refund").collect();
    assert_eq!(refunds.len(), 1, "{items:?}");
    assert_eq!(refunds[0]["amount"].as_i64(), Some(49_900));
    let subs = listed(&f).await;
    let status = |sid: &str| subs.iter().find(|s| s["subscription_id"] == sid).map(|s| s["status"].clone());
    assert_eq!(status(&id(&phonepe)), Some(json!("expired")));
    assert_eq!(status(&id(&stripe)), Some(json!("pending")));
    // Paying the Stripe checkout is what grants.
    let session = f.b.env.store.get_subscription(&id(&stripe)).await.expect("read").expect("sub").checkout_session_id;
    for e in &f.b.stripe.complete_checkout(&session.expect("session")) {
        assert_eq!(f.b.deliver(e).await.status, 200);
    }
    assert_eq!(f.tier().await, "pro");
}

#[tokio::test]
async fn a_phonepe_order_paid_but_not_yet_verified_stands_and_blocks_the_replacement() {
    let f = fixture().await;
    let phonepe = create(&f, "pro", "phonepe").await;
    let mid = phonepe["payment"]["merchant_order_id"].as_str().expect("order").to_owned();
    f.b.phonepe.complete(&mid);
    let r = f.b.call("POST", "/api/subscriptions", Some(body(&f, "enterprise", "stripe")), Some(&f.access)).await;
    assert_eq!((r.status, r.body["code"].as_str()), (409, Some("subscription_exists")), "{:?}", r.body);
    assert_eq!(r.body["subscription_id"], phonepe["subscription_id"]);
    assert_eq!(f.tier().await, "pro", "the payment found on the way was applied");
    assert_eq!(sessions_created(&f), 0, "no Stripe checkout was opened");
}
