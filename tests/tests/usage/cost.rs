//! What one tracked event costs in DynamoDB requests and write units (an SDK interceptor counts them).

use super::fixture;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn a_warm_tracked_event_is_one_request_and_one_write_unit() {
    let f = fixture().await;
    // The first call warms the per-container caches (policy, tier, revocation): one batched read.
    let (before, units) = (f.env.dynamo.requests(), f.env.dynamo.capacity_units());
    assert_eq!(f.track(json!({"action": "warm"})).await.status, 200);
    assert_eq!(f.env.dynamo.requests() - before, 2, "cold: one BatchGetItem + one UpdateItem");
    // The day's first event also writes the counter's analytics entry (GSI4, keys only): table + index.
    let first = f.env.dynamo.capacity_units() - units;
    assert!((first - 2.0).abs() < 1e-9, "the day's first event writes the GSI4 entry, got {first}");

    for i in 0..5 {
        let (requests, units) = (f.env.dynamo.requests(), f.env.dynamo.capacity_units());
        let r = f.track(json!({"action": "search", "metadata": {"i": i}})).await;
        assert_eq!(r.status, 200);
        assert_eq!(f.env.dynamo.requests() - requests, 1, "exactly one DynamoDB request");
        // One write unit on the table and none on an index: the counter's analytics entry (GSI4, keys only) was
        // written by the day's first event, and an increment changes nothing GSI4 holds.
        let consumed = f.env.dynamo.capacity_units() - units;
        assert!((consumed - 1.0).abs() < 1e-9, "one table write unit and no index write, got {consumed}");
    }

    // With an idempotency key: one round trip (a transaction) once this container knows the count.
    let requests = f.env.dynamo.requests();
    let r = f.track(json!({"action": "search", "idempotency_key": "k-1"})).await;
    assert_eq!(r.status, 200);
    let first_keyed = f.env.dynamo.requests() - requests;
    assert!(first_keyed <= 2, "a cold count guess costs at most one retry: {first_keyed}");
    let requests = f.env.dynamo.requests();
    assert_eq!(f.track(json!({"action": "search", "idempotency_key": "k-2"})).await.status, 200);
    assert_eq!(f.env.dynamo.requests() - requests, 1, "one round trip");

    // A refusal is one request too (the count comes back with the failed condition).
    f.set_limit("free", Some(8), None).await;
    f.track(json!({"action": "warm"})).await; // re-warm the policy after the cache expiry
    let requests = f.env.dynamo.requests();
    let r = f.track(json!({"action": "search", "quantity": 5})).await;
    assert_eq!(r.status, 429);
    assert_eq!(f.env.dynamo.requests() - requests, 1);
}
