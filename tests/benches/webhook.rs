//! stripe-webhook latency, measured locally against DynamoDB Local in one run: a signed
//! `customer.subscription.updated` for a live subscription (verify, claim the event id, read the subscription,
//! one version-checked transaction with its entitlement, the provider reference, mark done), the same event
//! delivered again (verify + the failed claim), and a bare conditional `PutItem` for scale. Also the DynamoDB
//! requests per event and the client CPU per delivery. Run with `make bench`.

use integration_tests::billing::BillingEnv;
use integration_tests::harness::unique_email;
use integration_tests::stats::{cpu_seconds, report};
use serde::Serialize;
use std::time::Instant;

const WARMUP: usize = 200;
const RUNS: usize = 1_500;

#[derive(Serialize)]
struct Marker {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity_type: &'static str,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let b = BillingEnv::new().await;
    let solution = b.priced_solution(1_000, 2_000).await;
    let session = b.env.register(&unique_email("bench-hook")).await;
    let (_, stripe_sub) = b.subscribe(&session.access_token, &solution.solution_id, "pro").await;
    let bare = |n: usize| {
        let marker =
            Marker { pk: format!("BENCH#{}#{n}", ulid::Ulid::new()), sk: "BENCH".into(), entity_type: "bench" };
        let store = b.env.store.clone();
        async move { store.put(&marker, Some("attribute_not_exists(PK)")).await.expect("bare put") }
    };
    for n in 0..WARMUP {
        let event = b.stripe.updated_event(&stripe_sub, "active");
        assert_eq!(b.deliver(&event).await.status, 200);
        bare(n).await;
    }
    let (mut fresh, mut duplicate, mut baseline) = (Vec::new(), Vec::new(), Vec::new());
    let (mut fresh_requests, mut duplicate_requests) = (0, 0);
    for n in 0..RUNS {
        let event = b.stripe.updated_event(&stripe_sub, "active");
        let before = b.env.dynamo.requests();
        let t = Instant::now();
        let r = b.deliver(&event).await;
        fresh.push(t.elapsed().as_micros());
        assert_eq!((r.status, &r.body["duplicate"]), (200, &serde_json::json!(false)));
        let middle = b.env.dynamo.requests();
        let t = Instant::now();
        let r = b.deliver(&event).await;
        duplicate.push(t.elapsed().as_micros());
        assert_eq!((r.status, &r.body["duplicate"]), (200, &serde_json::json!(true)));
        fresh_requests += middle - before;
        duplicate_requests += b.env.dynamo.requests() - middle;
        let t = Instant::now();
        bare(WARMUP + n).await;
        baseline.push(t.elapsed().as_micros());
    }
    let events: Vec<_> = (0..RUNS).map(|_| b.stripe.updated_event(&stripe_sub, "active")).collect();
    let c0 = cpu_seconds();
    for e in &events {
        b.deliver(e).await;
    }
    let cpu = (cpu_seconds() - c0) / RUNS as f64 * 1e6;

    println!("stripe-webhook, same DynamoDB Local, {RUNS} interleaved runs after {WARMUP} warm-up:");
    let (f50, _) = report("subscription.updated, first delivery", fresh);
    let (d50, _) = report("same event again (duplicate)", duplicate);
    let (b50, _) = report("bare conditional PutItem", baseline);
    println!(
        "DynamoDB requests per event: first {:.2}, duplicate {:.2}; p50 in bare PutItems: first {:.1}, duplicate {:.1}",
        fresh_requests as f64 / RUNS as f64,
        duplicate_requests as f64 / RUNS as f64,
        f50 as f64 / b50.max(1) as f64,
        d50 as f64 / b50.max(1) as f64
    );
    println!("client CPU per first delivery (signing in the test included): {cpu:.0} us");
}
