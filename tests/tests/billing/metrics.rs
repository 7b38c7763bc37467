//! Metrics of the money paths, read back from the EMF lines the functions write (`integration_tests::metrics`):
//! Stripe webhooks by type and outcome (processed, ignored, duplicate, refused), PhonePe callbacks, a PhonePe
//! payment and its refund (requested, then succeeded), the billing run's steps and job, the outbox (sent,
//! dead-lettered).

use crate::fixture;
use integration_tests::metrics::capture;
use serde_json::json;
use shared::platform::clock::{Clock, rfc3339};
use shared::platform::metrics::names;
use shared::store::outbox::NotificationItem;
use shared::store::users::UserItem;

#[tokio::test]
async fn stripe_webhooks_count_by_type_and_outcome() {
    let f = fixture().await;
    let m = capture().await;
    let now = f.b.env.clock.now().timestamp();
    let id = format!("evt_metrics_{}", ulid::Ulid::new());
    // A refund event naming no charge: verified, applied (nothing to record).
    let refund = json!({"id": id, "object": "event", "type": "refund.updated", "created": now,
        "data": {"object": {"id": "re_metrics", "object": "refund", "amount": 100, "currency": "inr", "status": "succeeded"}}});
    assert_eq!(f.b.deliver(&refund).await.status, 200);
    let again = f.b.deliver(&refund).await;
    assert_eq!((again.status, again.body["duplicate"].as_bool()), (200, Some(true)));
    let unsigned = f.b.deliver_raw(refund.to_string().into_bytes(), None).await;
    assert_eq!(unsigned.status, 400);
    let other = json!({"id": format!("{id}_other"), "object": "event", "type": "customer.created", "created": now,
        "data": {"object": {"id": "cus_x", "object": "customer"}}});
    assert_eq!(f.b.deliver(&other).await.status, 200);
    let got = m.take();
    let stripe = ("provider", "stripe");
    got.expect(names::WEBHOOK_EVENTS, &[stripe, ("event_type", "refund.updated"), ("outcome", "processed")], 1);
    got.expect(names::WEBHOOK_EVENTS, &[stripe, ("event_type", "refund.updated"), ("outcome", "duplicate")], 1);
    got.expect(names::WEBHOOK_EVENTS, &[stripe, ("event_type", "other"), ("outcome", "refused")], 1);
    got.expect(names::WEBHOOK_EVENTS, &[stripe, ("event_type", "other"), ("outcome", "ignored")], 1);
    let route = ("route", "/api/webhooks/stripe");
    got.expect(names::REQUESTS, &[route, ("status", "200")], 3);
    got.expect(names::REQUESTS, &[route, ("status", "400"), ("status_class", "4xx")], 1);
}

#[tokio::test]
async fn phonepe_payment_callbacks_refund_and_billing_run() {
    let f = fixture().await;
    let m = capture().await;
    let body = json!({"solution_id": f.solution.solution_id, "tier": "pro", "provider": "phonepe"});
    let r = f.b.call("POST", "/api/subscriptions", Some(body), Some(&f.access)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let sub = r.body["subscription_id"].as_str().expect("id").to_owned();
    let mid = r.body["payment"]["merchant_order_id"].as_str().expect("order").to_owned();
    f.b.phonepe.complete(&mid);
    let callback = f.b.phonepe.order_callback(&mid, "COMPLETED");
    assert_eq!(f.b.phonepe_callback(&callback).await.status, 200);
    assert_eq!(f.b.phonepe_callback(&callback).await.status, 200);
    assert_eq!(f.b.phonepe_callback_with(&callback, Some("not-the-credentials")).await.status, 401);
    let got = m.take();
    let phonepe = ("provider", "phonepe");
    let completed = ("event_type", "checkout.order.completed");
    got.expect(names::WEBHOOK_EVENTS, &[phonepe, completed, ("outcome", "processed")], 1);
    got.expect(names::WEBHOOK_EVENTS, &[phonepe, completed, ("outcome", "duplicate")], 1);
    got.expect(names::WEBHOOK_EVENTS, &[phonepe, ("event_type", "other"), ("outcome", "refused")], 1);
    got.expect(names::PAYMENTS, &[("rail", "phonepe"), ("outcome", "succeeded")], 1);

    // A refund: asked by an admin, then PhonePe's callback records it succeeded.
    let history = f.history().await;
    let payment_id = history["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["payment_id"].is_string()))
        .and_then(|p| p["payment_id"].as_str())
        .expect("payment")
        .to_owned();
    let r =
        f.b.call(
            "POST",
            &format!("/api/payments/{payment_id}/refund"),
            Some(json!({"amount": 10_000, "reason": "asked"})),
            Some(&f.admin),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let refund_id = r.body["provider_refund_id"].as_str().expect("refund id").to_owned();
    f.b.phonepe.settle_refund(&refund_id, true);
    assert_eq!(f.b.phonepe_callback(&f.b.phonepe.refund_callback(&refund_id)).await.status, 200);
    let got = m.take();
    got.expect(names::REFUNDS, &[("rail", "phonepe"), ("outcome", "requested")], 1);
    got.expect(names::REFUNDS, &[("rail", "phonepe"), ("outcome", "succeeded")], 1);
    got.expect(names::WEBHOOK_EVENTS, &[phonepe, ("outcome", "processed")], 1);

    // The billing run at the period's end: its steps, each counted done, and the job.
    let end = f.b.period_end(&sub).await;
    let outcome = f.b.run_billing(end + 1).await;
    assert!(!outcome.report.steps.is_empty(), "{outcome:?}");
    let got = m.take();
    for (step, done) in &outcome.report.steps {
        got.expect(names::BILLING_STEPS, &[("step", step.as_str()), ("outcome", "done")], u64::from(*done));
    }
    assert_eq!(got.count(names::BILLING_STEPS, &[("outcome", "failed")]), 0, "{got:#?}");
    got.expect(names::BILLING_JOBS, &[("job", "daily"), ("outcome", "done")], 1);
}

#[tokio::test]
async fn the_outbox_counts_sent_and_dead_lettered_notifications() {
    let f = fixture().await;
    let outbox = crate::run::outbox(&f).await;
    let now = f.b.env.clock.now();
    // A verified customer whose address SES refuses, with a notification at its last allowed attempt.
    let refused = shared::platform::ids::new_id("usr");
    let mut user =
        UserItem::new(&refused, "nobody-at-nowhere", "Refused", shared::model::Role::User, String::new(), rfc3339(now));
    user.email_verified = true;
    f.b.env.store.put(&user, None).await.expect("user");
    let mut last = NotificationItem::new(
        "payment-received:pay_metrics_dead",
        "payment_received",
        &refused,
        None,
        json!({"amount": 100, "currency": "inr"}),
        rfc3339(now - chrono::Duration::seconds(60)),
    );
    last.attempts = shared::notifications::MAX_ATTEMPTS - 1;
    assert!(f.b.env.store.put_notification_once(&last).await.expect("put"));
    let good = NotificationItem::new(
        "payment-received:pay_metrics_good",
        "payment_received",
        &f.user_id,
        None,
        json!({"amount": 100, "currency": "inr"}),
        rfc3339(now - chrono::Duration::seconds(30)),
    );
    assert!(f.b.env.store.put_notification_once(&good).await.expect("put"));
    let m = capture().await;
    let report = outbox.deliver(|| true).await.expect("deliver");
    assert!(report.sent >= 1 && report.dead >= 1, "{report:?}");
    let got = m.take();
    got.expect(names::NOTIFICATIONS, &[("outcome", "sent")], 1);
    got.expect(names::NOTIFICATIONS, &[("outcome", "dead_lettered")], 1);

    // The depth of the dead letters, all rounds together: what the alarm watches (it stays in alarm until an
    // admin retries them).
    let depth = outbox.dead_letter_depth().await.expect("counted");
    let gauge = m.take().gauge(names::DEAD_LETTERS, &[]);
    assert_eq!(gauge, Some(depth as f64));
    assert_eq!(depth, f.b.env.store.count_dead_notifications().await.expect("count"));
    assert!(depth >= 1);
}
