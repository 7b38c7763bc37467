//! Every item a full flow writes keeps to the retention its kind has in `shared::store::retention`: a kind
//! that expires carries `expires_at` no later than its row allows (a kind that expires once done carries it
//! when done), a kept kind carries none, and no item is of a kind the table does not list. The flow: sign-up
//! with the verification mail (sent by the outbox), a failed login, a solution token, usage with an
//! Idempotency-Key, a Stripe Checkout paid through webhooks, a PhonePe payment, an invitation, a review.

use crate::fixture;
use crate::outbox::outbox;
use integration_tests::harness::{PASSWORD, api_request, unique_email};
use lambda_http::Body;
use serde_json::json;
use shared::platform::clock::Clock;
use shared::store::retention::{self, Retention};
use std::collections::{BTreeMap, BTreeSet};

/// The kinds done with (and so expiring) when `item` carries these values.
fn done(entity_type: &str, item: &serde_json::Value) -> bool {
    match entity_type {
        "notification" => matches!(item["status"].as_str(), Some("sent" | "skipped" | "unverified")),
        // A slot is written once, already knowing when it goes.
        _ => true,
    }
}

#[tokio::test]
async fn every_item_of_a_full_flow_keeps_to_its_kinds_retention() {
    let f = fixture().await;
    let env = &f.b.env;
    let started = env.clock.now().timestamp();

    // A failed login (login throttle), then usage with an Idempotency-Key (day counter and idempotency record).
    let email = unique_email("retention");
    let user = env.register(&email).await;
    let wrong = env.call("POST", "/api/auth/login", Some(json!({"email": email, "password": "not it"})), None).await;
    assert_eq!(wrong.status, 401, "{:?}", wrong.body);
    let token = env.solution_token(&user.access_token, &f.solution.solution_id).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let tracked = env
        .send(api_request(
            "POST",
            "/api/track-usage",
            Body::from(json!({"action": "run"}).to_string()),
            Some(&token),
            &[("Idempotency-Key", "retention-1")],
        ))
        .await;
    assert_eq!(tracked.status, 200, "{:?}", tracked.body);
    let refreshed =
        env.call("POST", "/api/refresh-token", Some(json!({"refresh_token": user.refresh_token})), None).await;
    assert_eq!(refreshed.status, 200, "{:?}", refreshed.body);
    let _ = PASSWORD;

    // Money: Stripe Checkout paid (checkout slot, subscription, payment, invoice, webhook events, postings) and
    // a PhonePe payment (order, callback-free verify).
    f.b.subscribe(&f.access, &f.solution.solution_id, "pro").await;
    f.b.paid_phonepe(&user.access_token, &f.solution.solution_id, "pro").await;

    // An invitation (and its mail), then the outbox sends every mail due.
    let org = env.call("POST", "/api/orgs", Some(json!({"name": "Retention Org"})), Some(&user.access_token)).await;
    assert_eq!(org.status, 201, "{:?}", org.body);
    let org_id = org.body["org_id"].as_str().expect("org id").to_owned();
    let invited = env
        .call(
            "POST",
            &format!("/api/orgs/{org_id}/invitations"),
            Some(json!({"email": unique_email("invitee"), "role": "member"})),
            Some(&user.access_token),
        )
        .await;
    assert_eq!(invited.status, 201, "{:?}", invited.body);
    outbox(&f).await.deliver(|| true).await.expect("deliver");

    // Every item of the table.
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page =
            env.store.client().scan().table_name(&env.table).set_exclusive_start_key(start).send().await.expect("scan");
        for item in page.items() {
            items.push(serde_dynamo::from_item::<_, serde_json::Value>(item.clone()).expect("item"));
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }

    let now = env.clock.now().timestamp();
    let mut kinds = BTreeMap::<String, usize>::new();
    for item in &items {
        let kind = item["entity_type"].as_str().unwrap_or_else(|| panic!("an item without entity_type: {item}"));
        *kinds.entry(kind.to_owned()).or_default() += 1;
        let row = retention::of(kind).unwrap_or_else(|| panic!("`{kind}` has no row in store::retention: {item}"));
        let expires_at = item.get("expires_at").and_then(serde_json::Value::as_i64);
        let max_days = match row.retention {
            Retention::Kept { .. } => {
                assert_eq!(expires_at, None, "`{kind}` is kept, yet expires: {item}");
                continue;
            }
            Retention::ExpiresOnceDone { .. } if !done(kind, item) => {
                assert_eq!(expires_at, None, "`{kind}` in progress, yet expires: {item}");
                continue;
            }
            Retention::Expires { max_days, .. } | Retention::ExpiresOnceDone { max_days, .. } => max_days,
        };
        let at = expires_at.unwrap_or_else(|| panic!("`{kind}` must expire but has no expires_at: {item}"));
        assert!(
            at > started && at <= now + i64::from(max_days) * 86_400,
            "`{kind}` expires at {at}, outside ({started}, now + {max_days} days]: {item}"
        );
    }

    // The flow reached the kinds whose retention matters most.
    let reached: BTreeSet<&str> = kinds.keys().map(String::as_str).collect();
    for kind in [
        "user",
        "email_verification",
        "token",
        "token_family",
        "refresh_token",
        "login_throttle",
        "usage_counter",
        "idempotency",
        "notification",
        "checkout_slot",
        "subscription",
        "payment",
        "invoice",
        "webhook_event",
        "phonepe_order",
        "org_invitation",
        "posting",
        "audit",
    ] {
        assert!(reached.contains(kind), "the flow wrote no `{kind}` (kinds: {kinds:?})");
    }
    assert!(
        items.iter().any(|i| i["entity_type"] == "notification" && i["status"] == "sent"),
        "the outbox sent nothing: {kinds:?}"
    );
}
