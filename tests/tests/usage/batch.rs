//! `POST /api/track-usage/batch`: each event counted as `POST /api/track-usage` counts it, in order, answered on
//! its own; sending a batch again counts nothing twice; one DynamoDB request per warm event; the credentials of
//! the single route, checked once.

use super::fixture;
use integration_tests::harness::Reply;
use lambda_http::Body;
use serde_json::{Value, json};

async fn batch(f: &super::Fixture, events: Value, bearer: Option<&str>, headers: &[(&str, &str)]) -> Reply {
    let body = Body::Text(json!({"events": events}).to_string());
    f.env.call_with("POST", "/api/track-usage/batch", body, bearer, headers).await
}

fn statuses(reply: &Reply) -> Vec<u64> {
    reply.body["results"].as_array().expect("results").iter().map(|r| r["status"].as_u64().expect("status")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn events_are_counted_in_order_each_on_its_own_and_a_resent_batch_counts_nothing_twice() {
    let f = fixture().await;
    f.set_limit("free", Some(4), None).await;
    let events = json!([
        {"action": "export", "quantity": 2, "idempotency_key": "b-1"},
        {"action": "", "idempotency_key": "b-2"},
        {"action": "export", "idempotency_key": "b-3"},
        {"action": "export", "quantity": 2, "idempotency_key": "b-4"},
        {"action": "export", "idempotency_key": "b-5", "color": "red"},
        {"action": "export", "idempotency_key": "b-6"},
    ]);
    let r = batch(&f, events.clone(), Some(&f.token), &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // 2 + 1 fit in 4; 2 more do not (refused, not counted); the last 1 still fits; the bad events are 400s.
    assert_eq!(statuses(&r), [200, 400, 200, 429, 400, 200]);
    assert_eq!(
        (r.body["counted"].as_u64(), r.body["refused"].as_u64(), r.body["failed"].as_u64()),
        (Some(3), Some(1), Some(2))
    );
    let results = r.body["results"].as_array().expect("results");
    assert_eq!(results[0]["answer"]["used"], 2);
    assert_eq!(results[1]["problem"]["code"], "validation_failed");
    assert_eq!(results[1]["problem"]["errors"][0]["field"], "action");
    assert_eq!(
        (results[3]["answer"]["allowed"].as_bool(), results[3]["answer"]["code"].as_str()),
        (Some(false), Some("quota_exceeded"))
    );
    assert_eq!(results[4]["problem"]["errors"][0]["field"], "color", "{:?}", results[4]);
    assert_eq!(results[5]["answer"]["used"], 4);
    assert_eq!(f.quota().await["used"], 4);

    // The same batch again (a flush whose answer was lost): the counted events answer as the first time, nothing
    // is counted twice; the refused one is judged again (still no room).
    let again = batch(&f, events, Some(&f.token), &[]).await;
    assert_eq!(statuses(&again), [200, 400, 200, 429, 400, 200]);
    assert_eq!(again.body["results"][0], r.body["results"][0]);
    assert_eq!(f.quota().await["used"], 4);

    // A key reused for another event is that event's 409.
    let reused = batch(&f, json!([{"action": "import", "idempotency_key": "b-1"}]), Some(&f.token), &[]).await;
    assert_eq!(statuses(&reused), [409]);
    assert_eq!(reused.body["results"][0]["problem"]["code"], "idempotency_key_reused");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_warm_batch_is_one_dynamodb_request_per_event() {
    let f = fixture().await;
    assert_eq!(f.track(json!({"action": "warm"})).await.status, 200);
    let before = f.env.dynamo.requests();
    let events: Vec<Value> = (0..10).map(|i| json!({"action": "search", "metadata": {"i": i}})).collect();
    let r = batch(&f, Value::Array(events), Some(&f.token), &[]).await;
    assert_eq!(r.body["counted"], 10, "{:?}", r.body);
    assert_eq!(f.env.dynamo.requests() - before, 10);
    // Keyed events: a transaction each (the first may guess the count once more).
    let before = f.env.dynamo.requests();
    let events: Vec<Value> =
        (0..10).map(|i| json!({"action": "search", "idempotency_key": format!("k-{i}")})).collect();
    let r = batch(&f, Value::Array(events), Some(&f.token), &[]).await;
    assert_eq!(r.body["counted"], 10, "{:?}", r.body);
    let spent = f.env.dynamo.requests() - before;
    assert!((10..=11).contains(&spent), "{spent} requests for 10 keyed events");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_batch_takes_the_credentials_of_the_single_route_once() {
    let f = fixture().await;
    let one = json!([{"action": "search"}]);
    // No credential; a session token (wrong kind); a token without the track scope.
    let r = batch(&f, one.clone(), None, &[]).await;
    assert_eq!((r.status, r.body["code"].as_str()), (401, Some("unauthorized")));
    let r = batch(&f, one.clone(), Some(&f.access), &[]).await;
    assert_eq!((r.status, r.body["code"].as_str()), (401, Some("wrong_token_kind")));
    let read_only = f
        .env
        .call(
            "POST",
            "/api/generate-token",
            Some(json!({"solution_id": f.solution.solution_id, "scopes": ["usage:read"]})),
            Some(&f.access),
        )
        .await;
    assert_eq!(read_only.status, 201, "{:?}", read_only.body);
    let r = batch(&f, one.clone(), read_only.body["token"].as_str(), &[]).await;
    assert_eq!((r.status, r.body["code"].as_str()), (403, Some("insufficient_scope")));
    // Credentials come first: no credential with a bad batch is a 401, not a 400.
    let body = Body::Text("[]".into());
    let r = f.env.call_with("POST", "/api/track-usage/batch", body, None, &[("idempotency-key", "k")]).await;
    assert_eq!(r.status, 401, "{:?}", r.body);
    // An unknown API key is refused before the body is read.
    let r =
        batch(&f, json!("not even events"), None, &[("x-api-key", "mk_0000000000000000000000000000000000000000000")])
            .await;
    assert_eq!((r.status, r.body["code"].as_str()), (401, Some("invalid_api_key")));
    // Anonymous visitors: each event names the solution.
    let visitor = format!("visitor-{}", ulid::Ulid::new());
    let events = json!([{"action": "search", "solution_id": f.solution.solution_id}, {"action": "search"}]);
    let r = batch(&f, events, None, &[("x-anonymous-id", visitor.as_str())]).await;
    assert_eq!(statuses(&r), [200, 400], "{:?}", r.body);
    assert_eq!(r.body["results"][1]["problem"]["errors"][0]["field"], "solution_id");
    // Another user's id with a user's token is that event's 400 (customer_id is for partner backends).
    let r =
        batch(&f, json!([{"action": "search", "customer_id": "usr_01jc4x5y6z7a8b9c0d1e2f3g4h"}]), Some(&f.token), &[])
            .await;
    assert_eq!(statuses(&r), [400]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_batch_is_a_400_naming_the_field() {
    let f = fixture().await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"events": []}), "events"),
        (json!({"events": vec![json!({"action": "a"}); 101]}), "events"),
        (json!({"events": {"action": "a"}}), "events"),
        (json!({"event": []}), "event"),
    ];
    for (body, field) in cases {
        let r = f.env.call("POST", "/api/track-usage/batch", Some(body.clone()), Some(&f.token)).await;
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
        assert_eq!(r.body["errors"][0]["field"], field, "{body}: {:?}", r.body);
    }
    let body = Body::Text(json!({"events": [{"action": "a"}]}).to_string());
    let r = f.env.call_with("POST", "/api/track-usage/batch", body, Some(&f.token), &[("idempotency-key", "k")]).await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (400, Some("Idempotency-Key")));
    assert_eq!(f.quota().await["used"], 0, "nothing was counted");
}
