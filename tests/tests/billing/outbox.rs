//! The outbox never lets failing notifications block the others: 60 notifications SES (moto) refuses do not
//! stop a later good one in the same run; each failure is counted and backed off (the manual clock proves
//! the waits); after the last allowed attempt a notification is dead-lettered, listed to admins by
//! `GET /api/admin/notifications/dead`, and `POST /api/admin/notifications/{id}/retry` puts it back, to be
//! sent. Non-admins get 403; credentials of the wrong kind the usual 401s.

use crate::{Fixture, fixture};
use integration_tests::harness::{api_request, unique_email};
use lambda_http::Body;
use serde_json::{Value, json};
use shared::notifications::{MAX_ATTEMPTS, Outbox, OutboxReport, backoff_seconds};
use shared::platform::clock::Clock;
use shared::platform::clock::rfc3339;
use shared::store::keys;
use shared::store::outbox::NotificationItem;
use shared::store::users::UserItem;

const FAILING: usize = 60;

/// The SES sender (moto), from a verified address, on the test clock, checked against billing's IAM.
pub(crate) async fn outbox(f: &Fixture) -> Outbox {
    let ses = aws_sdk_sesv2::Client::new(&shared::platform::aws::load().await);
    let from = "billing@marketplace.test";
    ses.create_email_identity().email_identity(from).send().await.expect("identity (moto)");
    let recorder = integration_tests::iam::IamRecorder::new("billing").bind(from, "SENDER_EMAIL");
    Outbox {
        store: f.b.env.store_for("billing"),
        ses: integration_tests::harness::function_ses(&ses, recorder),
        from: from.into(),
        app_base_url: "https://app.test".into(),
        clock: std::sync::Arc::new(f.b.env.clock.clone()),
    }
}

async fn note(f: &Fixture, id: &str) -> NotificationItem {
    f.b.env.store.get(&keys::outbox(id), true).await.expect("read").unwrap_or_else(|| panic!("no notification {id}"))
}

async fn deliver(outbox: &Outbox) -> OutboxReport {
    outbox.deliver(|| true).await.expect("deliver")
}

/// A verified customer whose address SES refuses (it has no domain: moto answers InvalidParameterValue, as
/// SES refuses an address it cannot send to).
async fn refused_customer(f: &Fixture) -> String {
    let id = shared::platform::ids::new_id("usr");
    let mut user = UserItem::new(
        &id,
        "nobody-at-nowhere",
        "Refused",
        shared::model::Role::User,
        String::new(),
        rfc3339(f.b.env.clock.now()),
    );
    user.email_verified = true;
    f.b.env.store.put(&user, None).await.expect("user");
    id
}

/// `FAILING` notifications for the refused customer, created before `good` (one for the fixture user).
async fn seed(f: &Fixture, refused: &str) -> (Vec<String>, String) {
    let now = f.b.env.clock.now();
    let mut failing = Vec::new();
    for i in 0..FAILING {
        let id = format!("payment-received:pay_refused_{i:03}");
        let at = rfc3339(now - chrono::Duration::seconds(600 - i as i64));
        let item = NotificationItem::new(
            &id,
            "payment_received",
            refused,
            None,
            json!({"amount": 100, "currency": "inr"}),
            at,
        );
        assert!(f.b.env.store.put_notification_once(&item).await.expect("put"));
        failing.push(id);
    }
    let good = "payment-received:pay_good".to_owned();
    let item = NotificationItem::new(
        &good,
        "payment_received",
        &f.user_id,
        None,
        json!({"amount": 100, "currency": "inr"}),
        rfc3339(now),
    );
    assert!(f.b.env.store.put_notification_once(&item).await.expect("put"));
    (failing, good)
}

async fn admin_call(
    f: &Fixture,
    method: &str,
    uri: &str,
    bearer: Option<&str>,
    headers: &[(&str, &str)],
) -> integration_tests::harness::Reply {
    let body = if method == "POST" { Body::Text("{}".into()) } else { Body::Empty };
    f.b.send(api_request(method, uri, body, bearer, headers)).await
}

#[tokio::test]
async fn sixty_refused_notifications_do_not_block_a_later_good_one_and_are_backed_off() {
    let f = fixture().await;
    let refused = refused_customer(&f).await;
    let (failing, good) = seed(&f, &refused).await;
    let outbox = outbox(&f).await;
    let start = f.b.env.clock.now();

    // One run: every refused one tried once, and the good one (later than all of them) sent.
    let first = deliver(&outbox).await;
    assert!(first.complete, "{first:?}");
    assert_eq!(note(&f, &good).await.status, "sent", "{first:?}");
    assert!(first.errors >= FAILING as u32 && first.sent >= 1 && first.dead == 0, "{first:?}");
    let due = rfc3339(start + chrono::Duration::seconds(backoff_seconds(1)));
    for id in &failing {
        let n = note(&f, id).await;
        assert_eq!((n.status.as_str(), n.attempts), ("pending", 1), "{id}");
        assert_eq!(n.next_attempt_at.as_deref(), Some(due.as_str()), "{id}");
        assert!(n.last_error.as_deref().is_some_and(|e| !e.is_empty()), "{id}: {:?}", n.last_error);
        assert_eq!((n.gsi1pk.as_str(), n.gsi1sk), (keys::OUTBOX_PENDING, keys::outbox_pending(&due, id).sk));
    }

    // Backing off: a run now, or a second before the wait ends, tries none of them again.
    for wait in [0, backoff_seconds(1) - 1] {
        f.b.env.clock.set(start + chrono::Duration::seconds(wait));
        let again = deliver(&outbox).await;
        assert_eq!((again.errors, again.sent), (0, 0), "after {wait} s: {again:?}");
        assert_eq!(note(&f, &failing[0]).await.attempts, 1);
    }

    // A good notification written while they back off goes out in the next run, untouched by them.
    let later = NotificationItem::new(
        "payment-received:pay_later",
        "payment_received",
        &f.user_id,
        None,
        json!({"amount": 100, "currency": "inr"}),
        rfc3339(f.b.env.clock.now()),
    );
    f.b.env.store.put_notification_once(&later).await.expect("put");
    assert_eq!(deliver(&outbox).await.sent, 1);
    assert_eq!(note(&f, "payment-received:pay_later").await.status, "sent");

    // Each wait doubles; each run after a wait tries them once more; the last allowed attempt dead-letters.
    let mut at = start;
    for attempts in 1..MAX_ATTEMPTS {
        at += chrono::Duration::seconds(backoff_seconds(attempts));
        f.b.env.clock.set(at);
        let r = deliver(&outbox).await;
        let n = note(&f, &failing[FAILING - 1]).await;
        if attempts + 1 < MAX_ATTEMPTS {
            assert_eq!((r.errors, r.dead), (FAILING as u32, 0), "attempt {}: {r:?}", attempts + 1);
            assert_eq!((n.status.as_str(), n.attempts), ("pending", attempts + 1));
            let next = rfc3339(at + chrono::Duration::seconds(backoff_seconds(attempts + 1)));
            assert_eq!(n.next_attempt_at.as_deref(), Some(next.as_str()));
        } else {
            assert_eq!((r.errors, r.dead), (FAILING as u32, FAILING as u32), "{r:?}");
        }
    }
    for id in &failing {
        let n = note(&f, id).await;
        assert_eq!(
            (n.status.as_str(), n.attempts, n.gsi1pk.as_str()),
            ("dead", MAX_ATTEMPTS, keys::OUTBOX_DEAD),
            "{id}"
        );
        assert!(n.dead_at.is_some() && n.next_attempt_at.is_none(), "{id}");
    }
    // Dead ones are never tried again, however late.
    f.b.env.clock.set(at + chrono::Duration::days(30));
    assert_eq!(deliver(&outbox).await.errors, 0);
}

#[tokio::test]
async fn admins_list_dead_letters_and_retry_them_others_may_not() {
    let f = fixture().await;
    let refused = refused_customer(&f).await;
    let (failing, _) = seed(&f, &refused).await;
    let outbox = outbox(&f).await;
    let mut at = f.b.env.clock.now();
    deliver(&outbox).await;
    for attempts in 1..MAX_ATTEMPTS {
        at += chrono::Duration::seconds(backoff_seconds(attempts));
        f.b.env.clock.set(at);
        deliver(&outbox).await;
    }
    // Sessions made now (the clock moved hours on).
    let admin = f.b.env.admin().await.access_token;
    let user = f.b.env.register(&unique_email("curious")).await;

    // Listed newest first, in pages, without the notification's data.
    let list = admin_call(&f, "GET", "/api/admin/notifications/dead?limit=100", Some(&admin), &[]).await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    let listed = list.body["notifications"].as_array().expect("list");
    assert_eq!(listed.len(), FAILING);
    assert!(list.body["next_cursor"].is_null());
    let first = &listed[0];
    assert_eq!((first["status"].as_str(), first["attempts"].as_u64()), (Some("dead"), Some(u64::from(MAX_ATTEMPTS))));
    assert!(first["last_error"].as_str().is_some_and(|e| !e.is_empty()) && first.get("data").is_none(), "{first}");
    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let uri = match &cursor {
            Some(c) => format!("/api/admin/notifications/dead?limit=25&cursor={c}"),
            None => "/api/admin/notifications/dead?limit=25".to_owned(),
        };
        let page = admin_call(&f, "GET", &uri, Some(&admin), &[]).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        walked
            .extend(page.body["notifications"].as_array().expect("page").iter().map(|n| n["notification_id"].clone()));
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(walked.len(), FAILING);

    // Not for others: a user's session 403; no credential, a solution token or an API key 401.
    let target = format!("/api/admin/notifications/{}/retry", failing[0]);
    for (method, uri) in [("GET", "/api/admin/notifications/dead"), ("POST", target.as_str())] {
        let r = admin_call(&f, method, uri, Some(&user.access_token), &[]).await;
        assert_eq!((r.status, r.body["code"].as_str()), (403, Some("forbidden")), "{method} {uri}: {:?}", r.body);
        let r = admin_call(&f, method, uri, None, &[]).await;
        assert_eq!(r.status, 401, "{method} {uri}");
        let r = admin_call(&f, method, uri, Some(&f.token), &[]).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (401, Some("wrong_token_kind")),
            "{method} {uri}: {:?}",
            r.body
        );
        let key = [("x-api-key", "mk_0000000000000000000000000000000000000000000")];
        assert_eq!(admin_call(&f, method, uri, None, &key).await.status, 401, "{method} {uri}");
    }
    assert_eq!(note(&f, &failing[0]).await.status, "dead", "nothing changed");

    // The customer's address is fixed; an admin retries one: pending again, due now, attempts from zero.
    let mut customer = f.b.env.store.get_user(&refused).await.expect("read").expect("user");
    customer.email = unique_email("fixed");
    f.b.env.store.put(&customer, None).await.expect("fix address");
    let r = admin_call(&f, "POST", &target, Some(&admin), &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!((r.body["status"].as_str(), r.body["attempts"].as_u64()), (Some("pending"), Some(0)), "{:?}", r.body);
    // The retry is in the audit trail, by the admin, about the notification.
    let audit = admin_call(&f, "GET", "/api/admin/audit?kind=notification.retried", Some(&admin), &[]).await;
    let retried = &audit.body["events"][0];
    assert_eq!(retried["subject"], format!("notification#{}", failing[0]).as_str(), "{:?}", audit.body);
    assert_eq!(retried["details"]["customer_id"], refused.as_str());
    assert!(retried["actor"].as_str().is_some_and(|a| a.starts_with("usr_")), "{retried}");
    let r = admin_call(&f, "POST", &target, Some(&admin), &[]).await;
    assert_eq!((r.status, r.body["code"].as_str()), (409, Some("notification_not_dead")), "{:?}", r.body);
    for unknown in ["payment-received:pay_nope", "bad%20id"] {
        let r = admin_call(&f, "POST", &format!("/api/admin/notifications/{unknown}/retry"), Some(&admin), &[]).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (404, Some("notification_not_found")),
            "{unknown}: {:?}",
            r.body
        );
    }
    // Bad input is a 4xx problem naming the field, never a 5xx.
    for (query, field) in [("limit=0", "limit"), ("limit=abc", "limit"), ("cursor=not-a-cursor", "cursor")] {
        let r = admin_call(&f, "GET", &format!("/api/admin/notifications/dead?{query}"), Some(&admin), &[]).await;
        assert_eq!((r.status, r.content_type()), (400, "application/problem+json"), "{query}: {:?}", r.body);
        assert_eq!(r.body["errors"][0]["field"], field, "{query}: {:?}", r.body);
    }
    let long = "x".repeat(600);
    let r = admin_call(&f, "POST", &format!("/api/admin/notifications/{long}/retry"), Some(&admin), &[]).await;
    assert!((400..500).contains(&r.status), "{:?}", r.body);
    let report = deliver(&outbox).await;
    assert_eq!((report.sent, report.errors), (1, 0), "{report:?}");
    let sent = note(&f, &failing[0]).await;
    assert_eq!(sent.status, "sent");
    let list = admin_call(&f, "GET", "/api/admin/notifications/dead?limit=100", Some(&admin), &[]).await;
    assert_eq!(list.body["notifications"].as_array().map(Vec::len), Some(FAILING - 1));
    let _: Value = list.body;
}
