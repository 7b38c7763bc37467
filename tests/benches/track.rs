//! track-usage, measured locally in one run against the same DynamoDB Local: the real handler (token
//! verification, caches, one conditional `UpdateItem`) next to a bare `UpdateItem` of the same counter item
//! with the same condition. Prints p50/p99 of both, their ratio, and the client-side CPU time per request;
//! then the same for a member's token acting for an organization (the shared counter, the member's share
//! added by the same request) next to the bare `UpdateItem` an organization's event sends; then a usage-priced
//! tier's event (the day and the billing period in one transaction) next to the bare `UpdateItem` and the bare
//! `TransactWriteItems` of the same writes; then the handler with
//! metrics off and on (`shared::platform::metrics`: recorded and flushed per request), and with tracing off and on
//! (`shared::platform::telemetry`: spans made and exported per request). Run with `make bench`.

use integration_tests::harness::{TestEnv, unique_email};
use integration_tests::stats::{cpu_seconds, report};
use serde_json::json;
use shared::model::{BillingPeriod, Metering, OverageBlock, SolutionStatus, Tier, UsageLimit, UsagePricing};
use shared::platform::telemetry;
use shared::store::solutions::{EntitlementItem, TierDefinitionItem};
use shared::store::{CounterSpec, TxCounted, keys};
use std::time::Instant;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

const WARMUP: usize = 500;
const RUNS: usize = 3_000;

/// Whether the OpenTelemetry layer of the bench's subscriber is on (only for the "on" runs of the tracing section).
static TRACING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `WARMUP` then `RUNS` interleaved pairs of the handler (`request()`) and the bare write (`bare()`): the
/// handler's and the bare write's latencies (µs) and the DynamoDB requests the runs sent.
macro_rules! interleaved {
    ($env:expr, $request:expr, $bare:expr) => {{
        for _ in 0..WARMUP {
            assert_eq!(usage::handle(&$env.usage, $request()).await.status().as_u16(), 200);
            $bare().await.expect("bare");
        }
        let requests_before = $env.dynamo.requests();
        let (mut handler, mut baseline) = (Vec::with_capacity(RUNS), Vec::with_capacity(RUNS));
        for _ in 0..RUNS {
            let t = Instant::now();
            let resp = usage::handle(&$env.usage, $request()).await;
            handler.push(t.elapsed().as_micros());
            assert_eq!(resp.status().as_u16(), 200);
            let t = Instant::now();
            $bare().await.expect("bare");
            baseline.push(t.elapsed().as_micros());
        }
        (handler, baseline, $env.dynamo.requests() - requests_before)
    }};
}

/// `POST /api/track-usage` with `body` as the bearer of `token`.
fn track_request(token: &str, body: &str) -> lambda_http::Request {
    lambda_http::http::Request::builder()
        .method("POST")
        .uri("https://api.test/api/track-usage")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(lambda_http::Body::Text(body.to_owned()))
        .expect("request")
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // Installed first, as at a cold start (callsites first hit before a subscriber exists keep no interest in
    // it), switched off until the tracing section.
    let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let tracer = telemetry::install(exporter.clone()).expect("install");
    // Dynamic: asked at every span, never cached per callsite.
    let switch =
        tracing_subscriber::filter::dynamic_filter_fn(|_, _| TRACING.load(std::sync::atomic::Ordering::Relaxed));
    tracing_subscriber::registry().with(telemetry::layer(tracer).with_filter(switch)).try_init().expect("subscriber");
    let env = TestEnv::new().await;
    let solution = env.solution(SolutionStatus::Published).await;
    // A limit high enough never to refuse during the run; the condition is still evaluated.
    let limit: u64 = 1_000_000_000;
    let def = TierDefinitionItem::new(Some(&solution.solution_id), Tier::Free, Some(limit), None, "bench".into());
    env.store.put_tier_definition(&def).await.expect("limit");
    let session = env.register(&unique_email("bench")).await;
    let token = env.solution_token(&session.access_token, &solution.solution_id).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    // An organization with the user as a member (its owner invites them), and a token acting for it.
    let owner = env.register(&unique_email("bench-owner")).await;
    let created = env.call("POST", "/api/orgs", Some(json!({"name": "Bench"})), Some(&owner.access_token)).await;
    let org = created.body["org_id"].as_str().expect("org").to_owned();
    let member_email = unique_email("bench-member");
    let invited = env
        .call(
            "POST",
            &format!("/api/orgs/{org}/invitations"),
            Some(json!({"email": member_email})),
            Some(&owner.access_token),
        )
        .await;
    let member = env.register(&member_email).await;
    let invitation = invited.body["invitation_id"].as_str().expect("invitation");
    let accepted = env
        .call("POST", &format!("/api/invitations/{invitation}/accept"), Some(json!({})), Some(&member.access_token))
        .await;
    assert_eq!(accepted.status, 200, "{:?}", accepted.body);
    let issued = env
        .call(
            "POST",
            "/api/generate-token",
            Some(json!({"solution_id": solution.solution_id, "org_id": org})),
            Some(&member.access_token),
        )
        .await;
    let org_token = issued.body["token"].as_str().expect("org token").to_owned();
    let body = json!({"action": "search"}).to_string();
    let org_request = || track_request(&org_token, &body);
    let request = || track_request(&token, &body);
    // The baseline is the very UpdateItem the handler sends (same expression and condition), on another
    // counter item of the same shape, sent straight through the store: the difference is the handler.
    let date = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let spec = CounterSpec {
        key: keys::usage_day("bench-bare", &date, &solution.solution_id),
        customer_id: "bench-bare".into(),
        solution_id: solution.solution_id.clone(),
        period: date.clone(),
        tier: Tier::Free,
        limit: Some(limit),
        expires_at: chrono::Utc::now().timestamp() + 86_400,
        index: Some(keys::solution_usage(&solution.solution_id, &date, "bench-bare")),
        attested: false,
        member: None,
        closable: false,
    };
    let bare = || env.store.count_usage(&spec, "search", 1);
    let org_spec = CounterSpec {
        key: keys::usage_day("org-bench-bare", &date, &solution.solution_id),
        customer_id: "org-bench-bare".into(),
        index: Some(keys::solution_usage(&solution.solution_id, &date, "org-bench-bare")),
        member: Some(member.user_id.clone()),
        ..spec.clone()
    };
    let org_bare = || env.store.count_usage(&org_spec, "search", 1);

    let (handler, baseline, requests) = interleaved!(env, request, bare);

    // Client-side CPU per request, each measured alone.
    let c0 = cpu_seconds();
    for _ in 0..RUNS {
        usage::handle(&env.usage, request()).await;
    }
    let c1 = cpu_seconds();
    for _ in 0..RUNS {
        bare().await.expect("bare");
    }
    let c2 = cpu_seconds();
    let handler_cpu = (c1 - c0) / RUNS as f64 * 1e6;
    let bare_cpu = (c2 - c1) / RUNS as f64 * 1e6;

    println!("track-usage vs bare UpdateItem, same DynamoDB Local, {RUNS} interleaved runs after {WARMUP} warm-up:");
    let (h50, h99) = report("handler POST /api/track-usage", handler);
    let (b50, b99) = report("bare UpdateItem (same request)", baseline);
    println!(
        "ratio handler/bare: p50 {:.3}  p99 {:.3}",
        h50 as f64 / b50.max(1) as f64,
        h99 as f64 / b99.max(1) as f64
    );
    println!("DynamoDB requests per tracked event: {:.3}", requests as f64 / (2 * RUNS) as f64 * 2.0 - 1.0);
    println!(
        "client CPU per request: handler {handler_cpu:.1} us, bare UpdateItem {bare_cpu:.1} us, handler's own work {:.1} us",
        handler_cpu - bare_cpu
    );

    // The same for a member acting for an organization.
    let (org_handler, org_baseline, requests) = interleaved!(env, org_request, org_bare);
    println!("organization token (shared counter + member share) vs its bare UpdateItem, {RUNS} interleaved runs:");
    let (h50, h99) = report("handler POST /api/track-usage (org)", org_handler);
    let (b50, b99) = report("bare UpdateItem (same request)", org_baseline);
    println!(
        "ratio handler/bare (org): p50 {:.3}  p99 {:.3}",
        h50 as f64 / b50.max(1) as f64,
        h99 as f64 / b99.max(1) as f64
    );
    println!("DynamoDB requests per tracked event (org): {:.3}", requests as f64 / RUNS as f64 - 1.0);

    // A usage-priced subscription: the billing period's counter counted in the same request as the day's (one
    // TransactWriteItems: the day and the period, each under its expected count; an idempotency record too only
    // when the event has a key), next to the bare UpdateItem of the first section and to the bare
    // TransactWriteItems of the same two writes.
    let metered = env.register(&unique_email("bench-metered")).await;
    let metered_token = env.solution_token(&metered.access_token, &solution.solution_id).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let pro = TierDefinitionItem::new(Some(&solution.solution_id), Tier::Pro, Some(limit), None, "bench".into());
    env.store.put_tier_definition(&pro).await.expect("pro limit");
    let now = chrono::Utc::now().timestamp();
    let metering = Metering {
        subscription_id: "sub_bench".into(),
        tier: Tier::Pro,
        period: BillingPeriod::Monthly,
        start: now - 86_400,
        end: now + 29 * 86_400,
        previous_start: None,
        usage: UsagePricing {
            included_monthly: 1_000,
            limit: UsageLimit::Soft,
            block_size: 1_000,
            blocks: vec![OverageBlock { up_to: None, amount: 1_000 }],
        },
        currency: "inr".into(),
        spending_cap: Some(1_000_000_000),
    };
    let mut entitlement =
        EntitlementItem::new(&metered.user_id, &solution.solution_id, Tier::Pro, "bench".into(), "bench");
    entitlement.metering = Some(metering.clone());
    env.store.put(&entitlement, None).await.expect("entitlement");
    let metered_request = || track_request(&metered_token, &body);
    let (m_handler, m_baseline, requests) = interleaved!(env, metered_request, bare);
    println!("usage-priced tier (day + billing period, one transaction) vs bare UpdateItem:");
    let (h50, h99) = report("handler POST /api/track-usage (usage-priced)", m_handler);
    let (b50, b99) = report("bare UpdateItem (first section's request)", m_baseline);
    println!(
        "ratio handler/bare UpdateItem (usage-priced): p50 {:.3}  p99 {:.3}",
        h50 as f64 / b50.max(1) as f64,
        h99 as f64 / b99.max(1) as f64
    );
    println!("DynamoDB requests per tracked event (usage-priced): {:.3}", requests as f64 / RUNS as f64 - 1.0);
    // The same two writes, bare: both counters at their known counts.
    let bare_day = CounterSpec {
        key: keys::usage_day("bench-bare-tx", &date, &solution.solution_id),
        customer_id: "bench-bare-tx".into(),
        index: Some(keys::solution_usage(&solution.solution_id, &date, "bench-bare-tx")),
        ..spec.clone()
    };
    let bare_period = CounterSpec {
        key: keys::usage_period("bench-bare-tx", &solution.solution_id, metering.start),
        index: None,
        closable: true,
        ..bare_day.clone()
    };
    let count = std::cell::Cell::new(0u64);
    let bare_tx = || {
        let n = count.get();
        count.set(n + 1);
        let counters = vec![(bare_day.clone(), n), (bare_period.clone(), n)];
        let store = env.store.clone();
        async move {
            match store.count_usage_tx(None, &counters, "search", 1).await {
                Ok(TxCounted::Applied) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        }
    };
    let (m_handler, tx_baseline, _) = interleaved!(env, metered_request, bare_tx);
    let (h50, h99) = report("handler POST /api/track-usage (usage-priced)", m_handler);
    let (b50, b99) = report("bare TransactWriteItems (day + period)", tx_baseline);
    println!(
        "ratio handler/bare TransactWriteItems (usage-priced): p50 {:.3}  p99 {:.3}",
        h50 as f64 / b50.max(1) as f64,
        h99 as f64 / b99.max(1) as f64
    );

    // Metrics off (no recording) vs on (recording, plus the flush the HTTP wrapper does after each invocation,
    // serialised into a buffer here instead of written to stdout), interleaved pairs of the same handler.
    shared::platform::metrics::init();
    let mut lines = Vec::with_capacity(4096);
    let (mut off, mut on) = (Vec::with_capacity(RUNS), Vec::with_capacity(RUNS));
    for _ in 0..RUNS {
        shared::platform::metrics::set_enabled(false);
        let t = Instant::now();
        let resp = usage::handle(&env.usage, request()).await;
        off.push(t.elapsed().as_micros());
        assert_eq!(resp.status().as_u16(), 200);
        shared::platform::metrics::set_enabled(true);
        lines.clear();
        let t = Instant::now();
        let resp = usage::handle(&env.usage, request()).await;
        shared::platform::metrics::flush_to(&mut lines, Some("bench-request-id"));
        on.push(t.elapsed().as_micros());
        assert_eq!(resp.status().as_u16(), 200);
    }
    let emf_bytes = lines.len();
    let c0 = cpu_seconds();
    shared::platform::metrics::set_enabled(false);
    for _ in 0..RUNS {
        usage::handle(&env.usage, request()).await;
    }
    let c1 = cpu_seconds();
    shared::platform::metrics::set_enabled(true);
    for _ in 0..RUNS {
        usage::handle(&env.usage, request()).await;
        lines.clear();
        shared::platform::metrics::flush_to(&mut lines, Some("bench-request-id"));
    }
    let c2 = cpu_seconds();
    println!("track-usage with metrics off vs on (EMF recorded and flushed per request), {RUNS} interleaved runs:");
    let (o50, o99) = report("handler, metrics off", off);
    let (n50, n99) = report("handler, metrics on + flush", on);
    println!(
        "ratio on/off: p50 {:.3}  p99 {:.3}; EMF per request {emf_bytes} bytes",
        n50 as f64 / o50.max(1) as f64,
        n99 as f64 / o99.max(1) as f64
    );
    let (cpu_off, cpu_on) = ((c1 - c0) / RUNS as f64 * 1e6, (c2 - c1) / RUNS as f64 * 1e6);
    println!(
        "client CPU per request: metrics off {cpu_off:.1} us, on {cpu_on:.1} us, metrics' own {:.1} us",
        cpu_on - cpu_off
    );

    // Tracing off (no exporter configured: no layer, `traced` runs the handler bare) vs on (the invocation span,
    // the SDK's UpdateItem span, exported after each request to the SDK's in-memory exporter), interleaved. The
    // subscriber (registry + the OpenTelemetry layer, as the cold start installs it) is the global one, its layer
    // switched off for the "off" runs.
    shared::platform::metrics::set_enabled(false);
    let invocation = |cold_start| telemetry::Invocation {
        request_id: "bench-request-id",
        xray_trace_id: Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"),
        function: "usage",
        trigger: telemetry::Trigger::Http,
        cold_start,
    };
    let (mut off, mut on) = (Vec::with_capacity(RUNS), Vec::with_capacity(RUNS));
    let mut spans = 0;
    for _ in 0..RUNS {
        TRACING.store(false, std::sync::atomic::Ordering::Relaxed);
        let t = Instant::now();
        let resp = usage::handle(&env.usage, request()).await;
        off.push(t.elapsed().as_micros());
        assert_eq!(resp.status().as_u16(), 200);
        TRACING.store(true, std::sync::atomic::Ordering::Relaxed);
        let t = Instant::now();
        let resp = telemetry::traced(invocation(false), usage::handle(&env.usage, request())).await;
        on.push(t.elapsed().as_micros());
        assert_eq!(resp.status().as_u16(), 200);
        spans += exporter.get_finished_spans().map_or(0, |s| s.len());
        exporter.reset();
    }
    println!("track-usage with tracing off vs on (spans exported per request to memory), {RUNS} interleaved runs:");
    let (o50, o99) = report("handler, tracing off", off);
    let (n50, n99) = report("handler, tracing on + export", on);
    println!(
        "ratio on/off: p50 {:.3}  p99 {:.3}; spans per request {:.2}",
        n50 as f64 / o50.max(1) as f64,
        n99 as f64 / o99.max(1) as f64,
        spans as f64 / RUNS as f64
    );
}
