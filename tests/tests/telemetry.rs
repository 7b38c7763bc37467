//! Tracing (`shared::platform::telemetry`) with the SDK's in-memory exporter installed the way the cold start
//! installs OTLP: one invocation span per request carrying Lambda's request id (its parent the X-Ray header's),
//! the AWS SDK's DynamoDB operation spans as its children, and a client span per PhonePe request with the method,
//! host, route template and status — and no secret, token, id or query string. Whether anything is installed
//! without an exporter configured is a unit test of the module (this binary installs one).

use integration_tests::billing::phonepe_client;
use integration_tests::fake_phonepe::{CLIENT_SECRET, FakePhonePe};
use integration_tests::harness::TestEnv;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use serde_json::json;
use shared::platform::telemetry::{self, Invocation, Trigger};
use std::sync::{Arc, OnceLock};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The exporter every test of this binary reads (installed once, with the global subscriber).
fn exporter() -> &'static InMemorySpanExporter {
    static EXPORTER: OnceLock<InMemorySpanExporter> = OnceLock::new();
    EXPORTER.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let tracer = telemetry::install(exporter.clone()).expect("install");
        tracing_subscriber::registry().with(telemetry::layer(tracer)).try_init().expect("subscriber");
        exporter
    })
}

fn invocation<'a>(request_id: &'a str, xray: Option<&'a str>) -> Invocation<'a> {
    Invocation { request_id, xray_trace_id: xray, function: "auth", trigger: Trigger::Http, cold_start: false }
}

fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.to_string())
}

/// The invocation span of `request_id` (exactly one) and every exported span of its trace.
fn trace_of(request_id: &str) -> (SpanData, Vec<SpanData>) {
    let spans = exporter().get_finished_spans().expect("spans");
    let invocations: Vec<&SpanData> =
        spans.iter().filter(|s| attr(s, "faas.invocation_id").as_deref() == Some(request_id)).collect();
    assert_eq!(invocations.len(), 1, "one invocation span for {request_id}: {invocations:#?}");
    let root = invocations[0].clone();
    let trace: Vec<SpanData> =
        spans.into_iter().filter(|s| s.span_context.trace_id() == root.span_context.trace_id()).collect();
    (root, trace)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invocation_span_carries_the_request_id_and_the_dynamodb_calls_are_its_children() {
    exporter();
    let env = TestEnv::new().await;
    let xray = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let email = integration_tests::harness::unique_email("telemetry");
    let body = json!({"email": email, "password": "correct horse battery staple", "name": "Trace"});
    let reply = telemetry::traced(
        invocation("req-telemetry-register", Some(xray)),
        env.call("POST", "/api/auth/register", Some(body), None),
    )
    .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let reply =
        telemetry::traced(invocation("req-telemetry-health", None), env.call("GET", "/api/health", None, None)).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);

    let (root, trace) = trace_of("req-telemetry-register");
    assert_eq!(root.name, "auth");
    assert_eq!(root.span_kind, opentelemetry::trace::SpanKind::Server);
    assert_eq!(attr(&root, "faas.trigger").as_deref(), Some("http"));
    // The X-Ray header is the parent: the trace joins Lambda's segment.
    assert_eq!(root.span_context.trace_id(), TraceId::from_hex("5759e988bd862e3fe1be46a994272793").expect("id"));
    assert_eq!(root.parent_span_id, SpanId::from_hex("53995c3f42cd8ad8").expect("id"));
    assert!(root.parent_span_is_remote);
    let dynamodb: Vec<&SpanData> =
        trace.iter().filter(|s| attr(s, "rpc.service").as_deref() == Some("DynamoDB")).collect();
    assert!(!dynamodb.is_empty(), "DynamoDB spans in {trace:#?}");
    for span in &dynamodb {
        assert_eq!(span.parent_span_id, root.span_context.span_id(), "{span:#?}");
        let method = attr(span, "rpc.method").expect("rpc.method");
        assert_eq!(span.name, format!("DynamoDB.{method}"));
        assert_eq!(attr(span, "rpc.system").as_deref(), Some("aws-api"));
    }
    // The SDK's internals (attempts, signing, endpoint resolution) are not exported.
    assert!(
        trace
            .iter()
            .all(|s| s.span_context.span_id() == root.span_context.span_id() || attr(s, "rpc.service").is_some()),
        "{trace:#?}"
    );

    // A request without an X-Ray header starts its own trace; the liveness check calls nothing.
    let (health, trace) = trace_of("req-telemetry-health");
    assert_eq!(health.parent_span_id, SpanId::INVALID);
    assert_eq!(trace.len(), 1, "{trace:#?}");

    // X-Ray did not sample this invocation: nothing is recorded.
    let unsampled = "Root=1-5759e988-bd862e3fe1be46a994272794;Parent=53995c3f42cd8ad8;Sampled=0";
    telemetry::traced(
        invocation("req-telemetry-unsampled", Some(unsampled)),
        env.call("GET", "/api/health", None, None),
    )
    .await;
    let spans = exporter().get_finished_spans().expect("spans");
    assert!(!spans.iter().any(|s| attr(s, "faas.invocation_id").as_deref() == Some("req-telemetry-unsampled")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_call_is_a_client_span_with_its_route_template_and_no_secret() {
    exporter();
    let phonepe = FakePhonePe::start().await;
    let client = phonepe_client(&phonepe.base, Arc::new(shared::platform::clock::SystemClock));
    let order = format!("ORDTELEMETRY{}", ulid::Ulid::new());
    let created = telemetry::traced(
        invocation("req-telemetry-pay", None),
        client.pay(&order, 49_900, "https://console.example/return", 600, "udf-telemetry"),
    )
    .await
    .expect("pay");
    let status =
        telemetry::traced(invocation("req-telemetry-status", None), client.order_status(&order)).await.expect("status");

    let (root, trace) = trace_of("req-telemetry-pay");
    let calls: Vec<&SpanData> =
        trace.iter().filter(|s| attr(s, "peer.service").as_deref() == Some("phonepe")).collect();
    let names: Vec<&str> = calls.iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(names, ["POST /v1/oauth/token", "POST /checkout/v2/pay"], "{calls:#?}");
    let host = url::Url::parse(&phonepe.base).expect("base").host_str().expect("host").to_owned();
    for span in &calls {
        assert_eq!(span.span_kind, opentelemetry::trace::SpanKind::Client);
        assert_eq!(span.parent_span_id, root.span_context.span_id());
        assert_eq!(attr(span, "http.request.method").as_deref(), Some("POST"));
        assert_eq!(attr(span, "server.address"), Some(host.clone()));
        assert_eq!(attr(span, "http.response.status_code").as_deref(), Some("200"));
    }

    let (_, trace) = trace_of("req-telemetry-status");
    let read = trace.iter().find(|s| attr(s, "peer.service").is_some()).expect("status span");
    assert_eq!(read.name, "GET /checkout/v2/order/{id}/status");
    assert_eq!(attr(read, "url.template").as_deref(), Some("/checkout/v2/order/{id}/status"));

    // Nothing secret or identifying in any attribute: the client secret, the token, the order, the query.
    for span in exporter().get_finished_spans().expect("spans") {
        for kv in &span.attributes {
            let value = kv.value.to_string();
            for secret in [CLIENT_SECRET, "O-Bearer", &order, &created.order_id, &status.order_id, "details"] {
                assert!(!value.contains(secret), "{} = {value} holds {secret:?}", kv.key);
            }
        }
    }
}
