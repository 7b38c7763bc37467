//! No money and no mail without a verified address: paid subscriptions and payments answer 403
//! `email_not_verified`, and the outbox sends an unverified address nothing but its verification link (read
//! back from SES, i.e. moto, and used).

use crate::{Fixture, fixture};
use integration_tests::harness::unique_email;
use serde_json::{Value, json};
use shared::platform::clock::Clock;
use shared::platform::clock::rfc3339;
use shared::store::keys;
use shared::store::outbox::NotificationItem;

fn code(r: &integration_tests::harness::Reply) -> (u16, Option<&str>) {
    (r.status, r.body["code"].as_str())
}

/// Make the user's record look like one written before verification existed (no flag: unverified).
async fn forget_verification(f: &Fixture, user_id: &str) {
    let store = &f.b.env.store;
    let mut raw: Value = store.get(&keys::user(user_id), true).await.expect("read").expect("user");
    let map = raw.as_object_mut().expect("map");
    map.remove("email_verified");
    map.remove("email_verified_at");
    store.put(&raw, None).await.expect("write");
}

#[tokio::test]
async fn an_unverified_address_cannot_subscribe_to_a_paid_tier_or_pay() {
    let f = fixture().await;
    let (user, _) = f.b.env.register_unverified(&unique_email("unverified")).await;
    for provider in ["stripe", "phonepe"] {
        let body = json!({"solution_id": f.solution.solution_id, "tier": "pro", "provider": provider});
        let r = f.b.call("POST", "/api/subscriptions", Some(body), Some(&user.access_token)).await;
        assert_eq!(code(&r), (403, Some("email_not_verified")), "{provider}: {:?}", r.body);
        assert_eq!(r.content_type(), "application/problem+json");
    }
    assert!(f.b.env.store.user_subscriptions(&user.user_id).await.expect("read").is_empty(), "nothing was created");
    // Input errors still come first.
    let bad = json!({"solution_id": f.solution.solution_id, "tier": "free", "provider": "stripe"});
    assert_eq!(f.b.call("POST", "/api/subscriptions", Some(bad), Some(&user.access_token)).await.status, 400);

    // A verified buyer's pending PhonePe subscription has an open invoice; an account whose address is not
    // verified (e.g. created before verification existed) cannot pay it until it is.
    let body = json!({"solution_id": f.solution.solution_id, "tier": "pro", "provider": "phonepe"});
    let created = f.b.call("POST", "/api/subscriptions", Some(body), Some(&f.access)).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let sub = created.body["subscription_id"].as_str().expect("id").to_owned();
    forget_verification(&f, &f.user_id).await;
    let pay = json!({"subscription_id": sub});
    let refused = f.b.call("POST", "/api/payments/initiate", Some(pay.clone()), Some(&f.access)).await;
    assert_eq!(code(&refused), (403, Some("email_not_verified")), "{:?}", refused.body);
    // Verified again through a resent link: paying works.
    f.b.env.clock.advance(chrono::Duration::seconds(61));
    let sent = f.b.env.call("POST", "/api/auth/resend-verification", None, Some(&f.access)).await;
    assert_eq!(sent.status, 202, "{:?}", sent.body);
    let id = format!("email-verification:{}:{}", f.user_id, f.b.env.clock.now().timestamp());
    let link = f.b.env.verification_token(&id).await;
    f.b.env.verify_email(&link).await;
    let paid = f.b.call("POST", "/api/payments/initiate", Some(pay), Some(&f.access)).await;
    assert_eq!(paid.status, 201, "{:?}", paid.body);
}

/// Messages moto's SES received for `address`: (subject, body).
async fn mail_to(address: &str) -> Vec<(String, String)> {
    let base = std::env::var("AWS_ENDPOINT_URL_SESV2")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .expect("AWS_ENDPOINT_URL_SESV2 (moto)");
    let http = shared::platform::provider_http::client(std::time::Duration::from_secs(10)).expect("http client");
    let doc: Value = http
        .get(format!("{}/moto-api/data.json", base.trim_end_matches('/')))
        .send()
        .await
        .expect("moto data")
        .json()
        .await
        .expect("json");
    ["sesv2", "ses"]
        .iter()
        .filter_map(|svc| doc[svc]["Message"].as_array())
        .flatten()
        .filter(|m| m["destinations"].to_string().contains(address))
        .map(|m| (m["subject"].as_str().unwrap_or("").to_owned(), m["body"].to_string()))
        .collect()
}

fn link_token(body: &str) -> Option<String> {
    let start = body.find("/verify-email?token=")? + "/verify-email?token=".len();
    let token: String =
        body[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect();
    Some(token)
}

#[tokio::test]
async fn the_outbox_mails_an_unverified_address_only_its_verification_link() {
    let f = fixture().await;
    let email = unique_email("mailme");
    let (user, token) = f.b.env.register_unverified(&email).await;
    let store = &f.b.env.store;
    let now = rfc3339(f.b.env.clock.now());
    // A quota warning for each: the unverified user and the (verified) fixture user.
    let data = json!({"date": "2026-12-01", "used": 80, "limit": 100, "percent": 80});
    for (id, customer) in [("quota-80:unverified", &user.user_id), ("quota-80:verified", &f.user_id)] {
        let n =
            NotificationItem::new(id, "quota_80", customer, Some(&f.solution.solution_id), data.clone(), now.clone());
        assert!(store.put_notification_once(&n).await.expect("put"));
    }
    let ses = aws_sdk_sesv2::Client::new(&shared::platform::aws::load().await);
    let from = "billing@marketplace.test";
    ses.create_email_identity().email_identity(from).send().await.expect("identity (moto)");
    let mut state = billing::AppState::new(
        store.clone(),
        std::sync::Arc::new(f.b.env.clock.clone()),
        7 * shared::billing::schedule::DAY,
        "https://app.test",
    );
    state.outbox = Some(shared::notifications::Outbox {
        store: store.clone(),
        ses,
        from: from.into(),
        app_base_url: "https://app.test".into(),
        clock: std::sync::Arc::new(f.b.env.clock.clone()),
    });
    let job = billing::Job { job: "outbox".into(), month: None };
    let deadline = chrono::Utc::now().timestamp_millis() + 120_000;
    let report = billing::handle(&state, job, deadline).await.expect("outbox").outbox.expect("report");
    // Sent: the link and the verified user's warning. Dropped: the unverified user's warning. Skipped: the
    // fixture user's own registration link (verified already).
    assert_eq!((report.sent, report.unverified, report.skipped, report.errors), (2, 1, 1, 0), "{report:?}");

    let note =
        |id: String| async move { store.get::<Value>(&keys::outbox(&id), true).await.expect("read").expect(&id) };
    let dropped = note("quota-80:unverified".into()).await;
    assert_eq!(dropped["status"], "unverified");
    assert!(dropped.get("message_id").is_none() && dropped.get("GSI1PK").is_none(), "{dropped}");
    assert_eq!(note("quota-80:verified".into()).await["status"], "sent");
    let link_mail = note(shared::auth::verification::registration_notification_id(&user.user_id)).await;
    assert_eq!(link_mail["status"], "sent");
    assert!(link_mail["data"].get("token").is_none(), "the token is forgotten once mailed: {link_mail}");
    let own = note(shared::auth::verification::registration_notification_id(&f.user_id)).await;
    assert_eq!(own["status"], "skipped");

    // What SES got for the unverified address: the link, nothing else; the link verifies the address.
    let mails = mail_to(&email).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].0, "Verify your email address");
    assert_eq!(link_token(&mails[0].1).as_deref(), Some(token.as_str()), "{}", mails[0].1);
    assert!(mails[0].1.contains("https://app.test/verify-email?token="));
    let verified = f.b.env.verify_email(&token).await;
    assert_eq!(verified["email"], email.as_str());
    // From now on the address gets its mail.
    let later = NotificationItem::new("quota-100:now-verified", "quota_100", &user.user_id, None, data, now);
    assert!(store.put_notification_once(&later).await.expect("put"));
    let job = billing::Job { job: "outbox".into(), month: None };
    let again = billing::handle(&state, job, deadline).await.expect("outbox").outbox.expect("report");
    assert_eq!((again.sent, again.unverified), (1, 0), "{again:?}");
    assert_eq!(mail_to(&email).await.len(), 2);
}
