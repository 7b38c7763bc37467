//! Metrics of the usage function, read back from the EMF lines it writes (`integration_tests::metrics`):
//! requests by route template and status, track-usage decisions (allowed, refused by reason), quota
//! threshold crossings (from the count the one UpdateItem returns: still one DynamoDB request per event),
//! and the process's cold start.

use crate::fixture;
use integration_tests::metrics::{capture, cold_start};
use serde_json::json;
use shared::platform::metrics::names;

#[tokio::test]
async fn track_usage_counts_decisions_thresholds_and_requests_by_route() {
    let f = fixture().await;
    f.set_limit("free", Some(5), None).await;
    let m = capture().await;
    // 1, 2, 3 allowed; the 4th crosses 80 % (4 of 5); the 5th 100 %; the 6th is refused.
    for _ in 0..5 {
        assert_eq!(f.track(json!({"action": "a"})).await.status, 200);
    }
    assert_eq!(f.track(json!({"action": "a"})).await.status, 429);
    let got = m.take();
    got.expect(names::TRACK_EVENTS, &[("decision", "allowed"), ("reason", "ok")], 5);
    got.expect(names::TRACK_EVENTS, &[("decision", "refused"), ("reason", "quota_exceeded")], 1);
    got.expect(names::QUOTA_THRESHOLD_CROSSED, &[("threshold", "80")], 1);
    got.expect(names::QUOTA_THRESHOLD_CROSSED, &[("threshold", "100")], 1);
    let route = [("method", "POST"), ("route", "/api/track-usage")];
    got.expect(names::REQUESTS, &[route[0], route[1], ("status", "200"), ("status_class", "2xx")], 5);
    got.expect(names::REQUESTS, &[route[0], route[1], ("status", "429"), ("status_class", "4xx")], 1);
    got.expect(names::LATENCY, &route, 6);
    let unit = got.matching(names::LATENCY, &route).next().expect("latency")["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        [0]["Unit"]
        .clone();
    assert_eq!(unit, "Milliseconds");
    // The route template, never the raw path (which carries ids).
    let q = f
        .env
        .call("GET", &format!("/api/quotas/{}/{}", f.user_id, f.solution.solution_id), None, Some(&f.access))
        .await;
    assert_eq!(q.status, 200);
    let got = m.take();
    got.expect(
        names::REQUESTS,
        &[("method", "GET"), ("route", "/api/quotas/{customer_id}/{solution_id}"), ("status", "200")],
        1,
    );
    // Past the quota nothing more is crossed: each crossing was counted once.
    assert_eq!(f.track(json!({"action": "a"})).await.status, 429);
    let got = m.take();
    assert_eq!(got.count(names::QUOTA_THRESHOLD_CROSSED, &[]), 0, "{got:#?}");
    got.expect(names::TRACK_EVENTS, &[("decision", "refused"), ("reason", "quota_exceeded")], 1);
}

#[tokio::test]
async fn refusals_by_reason_and_unmatched_routes() {
    let f = fixture().await;
    let m = capture().await;
    let anonymous = f.env.call("POST", "/api/track-usage", Some(json!({"action": "a"})), None).await;
    assert_eq!(anonymous.status, 401);
    let bad = f.track(json!({"action": "", "quantity": 0})).await;
    assert_eq!(bad.status, 400);
    let lost = f.env.call("GET", "/api/no-such-route/usr_123", None, None).await;
    assert_eq!(lost.status, 404);
    let got = m.take();
    got.expect(names::TRACK_EVENTS, &[("decision", "refused"), ("reason", "unauthorized")], 1);
    got.expect(names::TRACK_EVENTS, &[("decision", "refused"), ("reason", "validation_failed")], 1);
    got.expect(names::REQUESTS, &[("method", "other"), ("route", "unmatched"), ("status", "404")], 1);
}

#[tokio::test]
async fn one_cold_start_per_process() {
    let _m = capture().await;
    let first = cold_start();
    assert_eq!(first.count(names::COLD_START, &[("function", "local")]), 1, "{first:#?}");
    let unit = &first.matching(names::COLD_START, &[]).next().expect("cold start")["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(unit["Dimensions"][0], json!(["function"]));
    shared::platform::metrics::init();
    assert_eq!(_m.take().count(names::COLD_START, &[]), 0, "a second init is no second cold start");
}

/// Metrics add no DynamoDB request: a warm tracked event is still one.
#[tokio::test]
async fn metrics_add_no_request_to_the_hot_path() {
    let f = fixture().await;
    let m = capture().await;
    assert_eq!(f.track(json!({"action": "warm"})).await.status, 200);
    let before = f.env.dynamo.requests();
    assert_eq!(f.track(json!({"action": "warm"})).await.status, 200);
    assert_eq!(f.env.dynamo.requests() - before, 1, "exactly one DynamoDB request");
    m.take().expect(names::TRACK_EVENTS, &[("decision", "allowed")], 2);
}
