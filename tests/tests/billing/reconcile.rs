//! The daily reconciliation: events dropped on purpose from the Stripe and PhonePe stand-ins are found by
//! asking the providers and applied through the webhooks' own code paths, so the state of a user whose
//! events were lost equals the state of a user whose events arrived; a second run finds nothing.

use crate::{Fixture, fixture};
use integration_tests::harness::unique_email;
use integration_tests::stripe_local::object_of;
use serde_json::{Value, json};
use shared::auth::Session;
use shared::payments::reconcile::ReconcileReport;
use shared::platform::clock::Clock;
use std::collections::BTreeMap;

/// The billing function's `reconcile` job (its IAM policy checked on every request).
async fn reconcile(f: &Fixture) -> ReconcileReport {
    let job: billing::Job = serde_json::from_value(json!({"job": "reconcile"})).expect("job");
    let deadline = chrono::Utc::now().timestamp_millis() + 600_000;
    let outcome = billing::handle(&f.b.billing(), job, deadline).await.expect("reconciliation");
    let report = outcome.reconciliation.expect("a reconciliation report");
    assert!(report.complete && report.errors == 0 && outcome.report.complete, "{report:?}");
    report
}

fn drift(pairs: &[(&str, u32)]) -> BTreeMap<String, u32> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// Move both clocks (ours and the Stripe stand-in's).
fn advance(f: &Fixture, days: i64) {
    f.b.env.clock.advance(chrono::Duration::days(days));
    f.b.stripe.set_now(f.b.env.clock.now().timestamp());
}

/// What a user's account looks like, without ids and times that differ between two users by construction.
async fn state(f: &Fixture, user: &Session) -> Value {
    let token = &user.access_token;
    let subs = f.b.call("GET", &format!("/api/subscriptions/{}", user.user_id), None, Some(token)).await;
    let subs: Vec<Value> = subs.body["subscriptions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|s| {
            json!([
                s["tier"],
                s["status"],
                s["provider"],
                s["price"],
                s["current_period_start"],
                s["current_period_end"],
                s["cancel_at_period_end"]
            ])
        })
        .collect();
    let history = f.b.call("GET", "/api/payments/history", None, Some(token)).await;
    let mut history: Vec<Value> = history.body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|i| json!([i["kind"], i["provider"], i["amount"], i["currency"], i["status"]]))
        .collect();
    history.sort_by_key(Value::to_string);
    let invoices = f.b.call("GET", "/api/invoices", None, Some(token)).await;
    let mut invoices: Vec<Value> = invoices.body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|i| json!([i["status"], i["reason"], i["amount"], i["tax"]]))
        .collect();
    invoices.sort_by_key(Value::to_string);
    let solution_token = f.b.env.solution_token(token, &f.solution.solution_id).await["token"].clone();
    let ctx = f.b.env.call("POST", "/api/validate-token", Some(json!({"token": solution_token})), None).await;
    json!({"subscriptions": subs, "history": history, "invoices": invoices, "tier": ctx.body["tier"]})
}

async fn stripe_checkout(f: &Fixture, user: &Session) -> (String, Vec<Value>) {
    let body = json!({"solution_id": f.solution.solution_id, "tier": "pro", "provider": "stripe"});
    let r = f.b.call("POST", "/api/subscriptions", Some(body), Some(&user.access_token)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["subscription_id"].as_str().expect("id").to_owned();
    let item = f.b.env.store.get_subscription(&id).await.expect("read").expect("subscription");
    let events = f.b.stripe.complete_checkout(&item.checkout_session_id.expect("session"));
    let stripe_sub = object_of(&events, "checkout.session.completed")["subscription"].as_str().expect("sub").to_owned();
    (stripe_sub, events)
}

async fn deliver_all(f: &Fixture, events: &[Value]) {
    for e in events {
        let r = f.b.deliver(e).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
}

#[tokio::test]
async fn lost_stripe_events_are_applied_by_the_reconciliation_and_end_in_the_same_state() {
    let f = fixture().await;
    let heard = f.b.env.register(&unique_email("heard")).await;
    let lost = f.b.env.register(&unique_email("lost")).await;
    let (heard_sub, events) = stripe_checkout(&f, &heard).await;
    deliver_all(&f, &events).await;
    let (lost_sub, dropped) = stripe_checkout(&f, &lost).await;
    let first_invoice =
        |events: &[Value]| object_of(events, "invoice.paid")["id"].as_str().expect("invoice").to_owned();
    let invoices = [first_invoice(&events), first_invoice(&dropped)];
    assert_ne!(state(&f, &heard).await, state(&f, &lost).await, "the lost events make a difference");
    // The daily run that day.
    let report = reconcile(&f).await;
    assert_eq!(
        report.drift,
        drift(&[
            ("stripe:checkout.session.completed", 1),
            ("stripe:customer.subscription.created", 1),
            ("stripe:invoice.paid", 1),
        ]),
        "{report:?}"
    );
    assert_eq!(state(&f, &lost).await, state(&f, &heard).await);

    // A month on (the events of a month ago are past the window now), both renew; only one renewal is
    // heard of.
    advance(&f, 30);
    deliver_all(&f, &f.b.stripe.renew(&heard_sub)).await;
    let _dropped = f.b.stripe.renew(&lost_sub);
    // A refund of each first payment, one of them never heard of.
    for (sub, invoice, deliver) in [(&heard_sub, &invoices[0], true), (&lost_sub, &invoices[1], false)] {
        let pi = f.b.stripe.payment_intent_of(invoice).expect("payment intent");
        let e = f.b.stripe.refund_event("refund.created", &format!("re_{sub}"), &pi, 10_000, "succeeded");
        if deliver {
            deliver_all(&f, &[e]).await;
        }
    }
    let report = reconcile(&f).await;
    assert_eq!(
        report.drift,
        drift(
            &[("stripe:customer.subscription.updated", 1), ("stripe:invoice.paid", 1), ("stripe:refund.created", 1),]
        ),
        "{report:?}"
    );
    assert_eq!(state(&f, &lost).await, state(&f, &heard).await);
    // Rerun-safe: nothing more to repair.
    let again = reconcile(&f).await;
    assert!(again.drift.is_empty() && again.stripe_events == report.stripe_events, "{again:?}");
}

#[tokio::test]
async fn lost_phonepe_callbacks_are_applied_by_the_reconciliation_and_end_in_the_same_state() {
    let f = fixture().await;
    let heard = f.b.env.register(&unique_email("heard")).await;
    let lost = f.b.env.register(&unique_email("lost")).await;
    let mut orders = Vec::new();
    for user in [&heard, &lost] {
        let body = json!({"solution_id": f.solution.solution_id, "tier": "pro", "provider": "phonepe"});
        let r = f.b.call("POST", "/api/subscriptions", Some(body), Some(&user.access_token)).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        orders.push(r.body["payment"]["merchant_order_id"].as_str().expect("order").to_owned());
    }
    // Both pay; only one callback arrives (the other user closed the page before returning).
    for mid in &orders {
        f.b.phonepe.complete(mid);
    }
    let callback = f.b.phonepe.order_callback(&orders[0], "COMPLETED");
    assert_eq!(f.b.phonepe_callback(&callback).await.status, 200);
    assert_eq!(state(&f, &lost).await["tier"], "free");
    let report = reconcile(&f).await;
    assert_eq!(report.drift, drift(&[("phonepe:order_completed", 1)]), "{report:?}");
    assert_eq!(state(&f, &lost).await, state(&f, &heard).await);
    assert_eq!(state(&f, &lost).await["tier"], "pro");

    // A refund of each; PhonePe settles both, one callback is lost.
    let mut refunds = Vec::new();
    for user in [&heard, &lost] {
        let history = f.b.call("GET", "/api/payments/history", None, Some(&user.access_token)).await;
        let payment_id = history.body["items"][0]["payment_id"].as_str().expect("payment").to_owned();
        let r =
            f.b.call(
                "POST",
                &format!("/api/payments/{payment_id}/refund"),
                Some(json!({"amount": 10_000, "reason": "goodwill"})),
                Some(&f.admin),
            )
            .await;
        assert_eq!(r.status, 202, "{:?}", r.body);
        refunds.push(r.body["provider_refund_id"].as_str().expect("refund id").to_owned());
    }
    for id in &refunds {
        f.b.phonepe.settle_refund(id, true);
    }
    assert_eq!(f.b.phonepe_callback(&f.b.phonepe.refund_callback(&refunds[0])).await.status, 200);
    let report = reconcile(&f).await;
    assert_eq!(report.drift, drift(&[("phonepe:refund_succeeded", 1)]), "{report:?}");
    assert_eq!(state(&f, &lost).await, state(&f, &heard).await);
    let again = reconcile(&f).await;
    assert!(again.drift.is_empty() && again.phonepe_checked == 0, "nothing open is left: {again:?}");
}

#[tokio::test]
async fn an_order_nobody_paid_stays_open_and_a_failed_one_is_closed() {
    let f = fixture().await;
    let user = f.b.env.register(&unique_email("unpaid")).await;
    let body = json!({"solution_id": f.solution.solution_id, "tier": "pro", "provider": "phonepe"});
    let r = f.b.call("POST", "/api/subscriptions", Some(body), Some(&user.access_token)).await;
    let mid = r.body["payment"]["merchant_order_id"].as_str().expect("order").to_owned();
    let report = reconcile(&f).await;
    assert_eq!((report.phonepe_checked, report.drift.len()), (1, 0), "still pending at PhonePe: {report:?}");
    f.b.phonepe.fail(&mid);
    let report = reconcile(&f).await;
    assert_eq!(report.drift, drift(&[("phonepe:order_failed", 1)]), "{report:?}");
    assert_eq!(reconcile(&f).await.phonepe_checked, 0);
    assert_eq!(state(&f, &user).await["tier"], "free");
}
