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
        // ₹99.00 of it paid a period's overage (a PhonePe renewal's second line).
        overage: Some(9_900),
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
    // The overage part: its tax pro rata (7,612 × 9,900 / 49,900 = 1,510), the same 20% commission of the rest.
    assert_eq!(
        day["revenue"]["inr"],
        json!({"gross": 49_900, "tax": 7_612, "commission": 8_458, "net": 33_830, "overage_gross": 9_900,
               "overage_net": 6_712})
    );
    // Revenue view of the same money.
    let r =
        t.call("GET", &format!("/api/partners/{}/revenue", a.partner_id), None, Some(&a.session.access_token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (r.body["totals"]["inr"]["earnings"].as_i64(), r.body["balance"]["inr"].as_i64()),
        (Some(33_830), Some(33_830))
    );
    assert_eq!(
        (r.body["totals"]["inr"]["overage_gross"].as_i64(), r.body["totals"]["inr"]["overage_earnings"].as_i64()),
        (Some(9_900), Some(6_712))
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
    // The next event moves it to GSI4 (and out of GSI1), in the same single request: 3 write units once (the
    // table, the GSI1 delete, the GSI4 put); still one user, counted once.
    let (requests, units) = (t.env.dynamo.requests(), t.env.dynamo.capacity_units());
    track().await;
    assert_eq!(t.env.dynamo.requests() - requests, 1, "one UpdateItem");
    let moved = t.env.dynamo.capacity_units() - units;
    assert!((moved - 3.0).abs() < 1e-9, "table + GSI1 delete + GSI4 put: {moved}");
    assert_eq!(usage().await, (Some(1), Some(2)), "a migrated counter is read once");
}

/// Deployment 1's backfill (`{"job": "index-usage"}`): day counters still indexed the pre-GSI4 way (under GSI1)
/// move to GSI4, across solutions, resumably; analytics answers the same before, between and after; a rerun
/// moves nothing.
#[tokio::test]
async fn the_index_usage_job_moves_legacy_day_counters_to_gsi4_once() {
    use aws_sdk_dynamodb::types::{AttributeValue, Select};
    use shared::store::keys;
    let t = PartnersEnv::new().await;
    let a = t.partner("Backfill Labs").await;
    let first = t.published(&a, "Backfill Search", None).await;
    let second = t.published(&a, "Backfill Maps", None).await;
    let today = t.env.clock.now().with_timezone(&chrono_tz::Asia::Kolkata).date_naive().to_string();
    let mut counters = Vec::new();
    for (name, solutions, events) in
        [("one", vec![&first, &second], 2), ("two", vec![&first], 3), ("three", vec![&first], 1)]
    {
        let user = t.env.register(&unique_email(name)).await;
        for id in solutions {
            let token = t.env.solution_token(&user.access_token, id).await["token"].as_str().expect("token").to_owned();
            for _ in 0..events {
                let r = t.env.call("POST", "/api/track-usage", Some(json!({"action": "q"})), Some(&token)).await;
                assert_eq!(r.status, 200, "{:?}", r.body);
            }
            counters.push((id.clone(), user.user_id.clone()));
        }
    }
    // All but the last counter as stored before GSI4 existed: the entry under GSI1, none under GSI4.
    let legacy = &counters[..counters.len() - 1];
    for (id, customer) in legacy {
        let entry = keys::solution_usage(id, &today, customer);
        t.env
            .store
            .client()
            .update_item()
            .table_name(t.env.store.table())
            .set_key(Some(keys::usage_day(customer, &today, id).to_map()))
            .update_expression("SET GSI1PK = :pk, GSI1SK = :sk REMOVE GSI4PK, GSI4SK")
            .expression_attribute_values(":pk", AttributeValue::S(entry.pk))
            .expression_attribute_values(":sk", AttributeValue::S(entry.sk))
            .send()
            .await
            .expect("legacy entry");
    }
    let in_index = |index: &'static str, id: String| {
        let t = &t;
        async move {
            let out = t
                .env
                .store
                .client()
                .query()
                .table_name(t.env.store.table())
                .index_name(index)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", format!("{index}PK"))
                .expression_attribute_values(":pk", AttributeValue::S(keys::solution_usage_partition(&id)))
                .select(Select::Count)
                .send()
                .await
                .expect("count");
            out.count
        }
    };
    let both = || async {
        let mut n = (0, 0);
        for id in [&first, &second] {
            n.0 += in_index("GSI1", id.clone()).await;
            n.1 += in_index("GSI4", id.clone()).await;
        }
        n
    };
    assert_eq!(both().await, (3, 1), "three legacy counters (GSI1), one new (GSI4)");
    let analytics = || async {
        let uri = format!("/api/partners/{}/analytics?from={today}&to={today}", a.partner_id);
        let r = t.call("GET", &uri, None, Some(&a.session.access_token)).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let mut days: Vec<(String, serde_json::Value)> = r.body["solutions"]
            .as_array()
            .expect("solutions")
            .iter()
            .map(|s| (s["solution_id"].as_str().unwrap_or_default().to_owned(), s["days"].clone()))
            .collect();
        days.sort_by(|x, y| x.0.cmp(&y.0));
        days
    };
    let before = analytics().await;
    let day = |days: &[(String, serde_json::Value)], id: &str| {
        let d = &days.iter().find(|(s, _)| s == id).expect("solution").1[0];
        (d["active_users"].as_u64(), d["usage"].as_u64())
    };
    assert_eq!((day(&before, &first), day(&before, &second)), ((Some(3), Some(6)), (Some(1), Some(2))));

    let billing = billing::AppState::new(
        t.env.store_for("billing"),
        std::sync::Arc::new(t.env.clock.clone()),
        7 * 86_400,
        "https://app.test",
    );
    // Cut short after one move (the invocation's time is up): it says so and counts what is left.
    let calls = std::cell::Cell::new(0);
    let one_move = || {
        calls.set(calls.get() + 1);
        calls.get() == 1
    };
    let units = t.env.dynamo.capacity_units();
    let cut = shared::usage::index_usage(&billing.run.writer.store, &one_move, &|| true).await.expect("cut short");
    assert_eq!((cut.complete, cut.moved, cut.skipped, cut.remaining), (false, 1, 0, Some(2)), "{cut:?}");
    let moved_units = t.env.dynamo.capacity_units() - units;
    assert!((moved_units - 3.0).abs() < 1e-9, "table + GSI1 delete + GSI4 put, once: {moved_units}");
    assert_eq!(both().await, (2, 2));
    assert_eq!(analytics().await, before, "the same answers midway");

    let job = || async {
        let job: billing::Job = serde_json::from_value(json!({"job": "index-usage"})).expect("job");
        let deadline = chrono::Utc::now().timestamp_millis() + 600_000;
        let outcome = billing::handle(&billing, job, deadline).await.expect("index-usage");
        assert_eq!(outcome.report.complete, outcome.usage_index.as_ref().is_some_and(|r| r.complete));
        outcome.usage_index.expect("report")
    };
    let rest = job().await;
    assert_eq!((rest.complete, rest.moved, rest.skipped, rest.remaining), (true, 2, 0, Some(0)), "{rest:?}");
    assert!(rest.solutions >= 2, "{rest:?}");
    assert_eq!(both().await, (0, 4), "every counter in GSI4, none in GSI1");
    assert_eq!(analytics().await, before, "the same answers after");
    let again = job().await;
    assert_eq!((again.complete, again.moved, again.skipped, again.remaining), (true, 0, 0, Some(0)), "{again:?}");

    // An entry listed before its counter moved (by the job or its own next event) is skipped: nothing written.
    let (id, customer) = &legacy[0];
    let stale = shared::store::usage::LegacyUsageEntry {
        key: keys::usage_day(customer, &today, id),
        entry: keys::solution_usage(id, &today, customer),
    };
    assert!(!t.env.store.move_usage_entry_to_gsi4(&stale).await.expect("move"), "skipped");
    assert_eq!(both().await, (0, 4));
}

/// More counters than one `BatchGetItem` takes (100 keys), read a few calls at a time, with legacy (GSI1) ones
/// among them: each counted once.
#[tokio::test]
async fn analytics_reads_counters_in_batches_each_once() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use shared::store::keys;
    let t = PartnersEnv::new().await;
    let a = t.partner("Batch Labs").await;
    let id = t.published(&a, "Batch Search", None).await;
    let today = t.env.clock.now().with_timezone(&chrono_tz::Asia::Kolkata).date_naive().to_string();
    for i in 0..260u64 {
        let customer = format!("usr_batch_{i:04}");
        let key = keys::usage_day(&customer, &today, &id);
        let entry = keys::solution_usage(&id, &today, &customer);
        let (pk, sk) = if i % 10 == 0 { ("GSI1PK", "GSI1SK") } else { ("GSI4PK", "GSI4SK") };
        t.env
            .store
            .client()
            .put_item()
            .table_name(t.env.store.table())
            .set_item(Some(key.to_map()))
            .item("entity_type", AttributeValue::S("usage_counter".into()))
            .item("customer_id", AttributeValue::S(customer))
            .item("solution_id", AttributeValue::S(id.clone()))
            .item("period", AttributeValue::S(today.clone()))
            .item("used", AttributeValue::N((1 + i % 3).to_string()))
            .item(pk, AttributeValue::S(entry.pk))
            .item(sk, AttributeValue::S(entry.sk))
            .send()
            .await
            .expect("counter");
    }
    let uri = format!("/api/partners/{}/analytics?from={today}&to={today}", a.partner_id);
    let r = t.call("GET", &uri, None, Some(&a.session.access_token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let day = &r.body["solutions"][0]["days"][0];
    let usage: u64 = (0..260u64).map(|i| 1 + i % 3).sum();
    assert_eq!((day["active_users"].as_u64(), day["usage"].as_u64()), (Some(260), Some(usage)), "{day}");
}
