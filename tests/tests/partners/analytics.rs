//! A partner's analytics for a day: users and usage, an anonymous visitor who signed up, a subscriber and its
//! payment (free → paid), revenue split into GST, commission and the partner's net.

use integration_tests::harness::unique_email;
use integration_tests::partners::PartnersEnv;
use lambda_http::Body;
use serde_json::json;
use shared::ledger::{PaymentFacts, payment_posting};
use shared::model::Provider;
use shared::platform::clock::Clock;
use shared::store::subscriptions::PaymentItem;

#[tokio::test]
async fn a_day_of_a_solution_in_the_partners_analytics() {
    let t = PartnersEnv::new().await;
    let a = t.partner("Acme Labs").await;
    let id = t.published(&a, "Acme Search", None).await;
    // A visitor uses it twice anonymously, then signs up carrying the day's usage.
    for _ in 0..2 {
        let body = Body::Text(json!({"action": "q", "solution_id": id}).to_string());
        let r = t.env.call_with("POST", "/api/track-usage", body, None, &[("x-anonymous-id", "visitor-000001")]).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let body = Body::Text(
        json!({"email": unique_email("convert"), "password": integration_tests::harness::PASSWORD, "name": "Vi"})
            .to_string(),
    );
    let r = t.env.call_with("POST", "/api/auth/register", body, None, &[("x-anonymous-id", "visitor-000001")]).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    // A user uses it three times and subscribes (its payment is posted as the rails post it).
    let user = t.env.register(&unique_email("user")).await;
    let token = t.env.solution_token(&user.access_token, &id).await["token"].as_str().expect("token").to_owned();
    for _ in 0..3 {
        assert_eq!(
            t.env.call("POST", "/api/track-usage", Some(json!({"action": "q"})), Some(&token)).await.status,
            200
        );
    }
    let now = t.env.clock.now();
    let stamp = shared::platform::clock::rfc3339(now);
    let mut payment = PaymentItem::new(
        "pay_analytics_1",
        &user.user_id,
        Provider::Phonepe,
        "T1".into(),
        49_900,
        "inr",
        stamp.clone(),
        stamp,
    );
    payment.solution_id = Some(id.clone());
    payment.subscription_id = Some("sub_analytics_1".into());
    let facts = PaymentFacts {
        tax: Some(7_612),
        tier: Some(shared::model::Tier::Pro),
        period: Some((now.timestamp() - 60, now.timestamp() + 30 * 86_400)),
        first_payment: true,
    };
    let extra = payment_posting(&t.env.store, &payment, facts).await.expect("posting");
    assert!(t.env.store.put_payment_once(&payment, extra).await.expect("record"));
    // Today in the solution's time zone (Asia/Kolkata).
    let today = now.with_timezone(&chrono_tz::Asia::Kolkata).date_naive().to_string();
    let uri = format!("/api/partners/{}/analytics?from={today}&to={today}", a.partner_id);
    let r = t.call("GET", &uri, None, Some(&a.session.access_token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let day = &r.body["solutions"][0]["days"][0];
    assert_eq!(r.body["solutions"][0]["solution_id"], id.as_str());
    assert_eq!((day["active_users"].as_u64(), day["anonymous_visitors"].as_u64()), (Some(2), Some(1)), "{day}");
    assert_eq!(day["usage"], 5, "the carried units count once: {day}");
    assert_eq!(day["subscribers"], json!({"pro": 1}));
    assert_eq!(day["conversions"], json!({"anonymous_to_registered": 1, "free_to_paid": 1}));
    assert_eq!(day["revenue"]["inr"], json!({"gross": 49_900, "tax": 7_612, "commission": 8_458, "net": 33_830}));
    // Revenue view of the same money.
    let r =
        t.call("GET", &format!("/api/partners/{}/revenue", a.partner_id), None, Some(&a.session.access_token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (r.body["totals"]["inr"]["earnings"].as_i64(), r.body["balance"]["inr"].as_i64()),
        (Some(33_830), Some(33_830))
    );
    let bad = t
        .call(
            "GET",
            &format!("/api/partners/{}/analytics?from=2026-01-01&to=2026-12-31", a.partner_id),
            None,
            Some(&a.session.access_token),
        )
        .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn day_counters_written_before_the_keys_only_index_still_count_once() {
    let t = PartnersEnv::new().await;
    let a = t.partner("Legacy Labs").await;
    let id = t.published(&a, "Legacy Search", None).await;
    let user = t.env.register(&unique_email("legacy")).await;
    let token = t.env.solution_token(&user.access_token, &id).await["token"].as_str().expect("token").to_owned();
    let track = || async {
        assert_eq!(
            t.env.call("POST", "/api/track-usage", Some(json!({"action": "q"})), Some(&token)).await.status,
            200
        );
    };
    track().await;
    let today = t.env.clock.now().with_timezone(&chrono_tz::Asia::Kolkata).date_naive().to_string();
    // As stored before GSI4 existed: the analytics entry under GSI1 (same key values), none under GSI4.
    let entry = shared::store::keys::solution_usage(&id, &today, &user.user_id);
    t.env
        .store
        .client()
        .update_item()
        .table_name(t.env.store.table())
        .set_key(Some(shared::store::keys::usage_day(&user.user_id, &today, &id).to_map()))
        .update_expression("SET GSI1PK = :pk, GSI1SK = :sk REMOVE GSI4PK, GSI4SK")
        .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(entry.pk.clone()))
        .expression_attribute_values(":sk", aws_sdk_dynamodb::types::AttributeValue::S(entry.sk.clone()))
        .send()
        .await
        .expect("legacy entry");
    let usage = || async {
        let uri = format!("/api/partners/{}/analytics?from={today}&to={today}", a.partner_id);
        let r = t.call("GET", &uri, None, Some(&a.session.access_token)).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let day = &r.body["solutions"][0]["days"][0];
        (day["active_users"].as_u64(), day["usage"].as_u64())
    };
    assert_eq!(usage().await, (Some(1), Some(1)), "a legacy (GSI1) counter is read");
    // The next event moves it to GSI4 (and out of GSI1): still one user, counted once.
    track().await;
    assert_eq!(usage().await, (Some(1), Some(2)), "a migrated counter is read once");
}
