//! Time budgets: a DynamoDB that accepts connections and never answers, a Stripe that hangs, and a handler
//! slower than its invocation's budget all answer `503` problem+json with `Retry-After`, quickly — never a hang
//! into Lambda's timeout (which API Gateway would turn into a bare error). Sub-second limits keep these fast.

use crate::fixture;
use integration_tests::harness::{ISSUER, Reply, decode};
use integration_tests::stripe_local::Mode;
use lambda_http::Body;
use serde_json::json;
use shared::platform::aws::Timeouts;
use shared::store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A TCP endpoint on 127.0.0.1 that accepts every connection and never answers (the connections are held
/// open until the listener's task ends with the runtime).
async fn black_hole() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    format!("http://{addr}")
}

/// A store whose DynamoDB never answers, with the given SDK time limits (the shared SDK configuration).
async fn stalled_store(timeouts: Timeouts) -> Store {
    let sdk = shared::platform::aws::load_with(timeouts).await;
    let conf = aws_sdk_dynamodb::config::Builder::from(&sdk).endpoint_url(black_hole().await).build();
    Store::new(aws_sdk_dynamodb::Client::from_conf(conf), "stalled")
}

fn request(method: &str, uri: &str, body: serde_json::Value, bearer: Option<&str>) -> lambda_http::Request {
    let mut b = lambda_http::http::Request::builder()
        .method(method)
        .uri(format!("https://api.test{uri}"))
        .header("content-type", "application/json");
    if let Some(t) = bearer {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::Text(body.to_string())).expect("request")
}

fn assert_503(r: &Reply, code: &str) {
    assert_eq!((r.status, r.body["code"].as_str()), (503, Some(code)), "{:?}", r.body);
    assert_eq!(r.content_type(), "application/problem+json");
    let retry = r.headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    assert!(retry.is_some_and(|s| s > 0), "Retry-After: {:?}", r.headers.get("retry-after"));
}

fn short() -> Timeouts {
    Timeouts {
        connect: Duration::from_millis(200),
        attempt: Duration::from_millis(150),
        operation: Duration::from_millis(400),
    }
}

#[tokio::test]
async fn a_dynamodb_that_never_answers_is_a_503_within_the_sdk_timeouts() {
    let material = shared::platform::crypto::random_token::<48>();
    let keys = || shared::identity::jwt::KeySet::from_material(ISSUER, &material, None).expect("keys");
    let clock = Arc::new(shared::platform::clock::ManualClock::new(chrono::Utc::now()));
    let store = stalled_store(short()).await;

    // auth: a login (several chained reads and writes) ends at the first operation timeout.
    let auth = auth::AppState::new(store.clone(), keys(), clock.clone());
    let started = Instant::now();
    let login = json!({"email": "slow@example.test", "password": "correct horse battery staple"});
    let login = auth::handle(&auth, request("POST", "/api/auth/login", login, None));
    let r = decode(tokio::time::timeout(Duration::from_secs(10), login).await.expect("no hang"));
    assert_503(&r, "service_unavailable");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());

    // usage: the hot path with a valid solution token.
    let env = integration_tests::harness::TestEnv::new().await;
    let solution = env.solution(shared::model::SolutionStatus::Published).await;
    let session = env.register(&integration_tests::harness::unique_email("slow")).await;
    let token = env.solution_token(&session.access_token, &solution.solution_id).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let usage = usage::AppState::new(store, env.keys(), clock);
    let started = Instant::now();
    let track = usage::handle(&usage, request("POST", "/api/track-usage", json!({"action": "x"}), Some(&token)));
    let r = decode(tokio::time::timeout(Duration::from_secs(10), track).await.expect("no hang"));
    assert_503(&r, "service_unavailable");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_handler_slower_than_its_budget_answers_503_before_the_deadline() {
    // The SDK's own limits (seconds) are longer than this invocation's budget: the budget answers first.
    let store = stalled_store(Timeouts::default()).await;
    let material = shared::platform::crypto::random_token::<48>();
    let keys = shared::identity::jwt::KeySet::from_material(ISSUER, &material, None).expect("keys");
    let auth =
        auth::AppState::new(store, keys, Arc::new(shared::platform::clock::ManualClock::new(chrono::Utc::now())));
    let login = json!({"email": "slow@example.test", "password": "correct horse battery staple"});
    let started = Instant::now();
    let response = shared::platform::http::respond_within(
        Some(Duration::from_millis(300)),
        auth::handle(&auth, request("POST", "/api/auth/login", login, None)),
    )
    .await;
    let r = decode(response);
    assert_503(&r, "service_unavailable");
    assert!(started.elapsed() < Duration::from_millis(1_500), "took {:?}", started.elapsed());
    // The budget of a Lambda invocation ends a margin before its deadline.
    assert_eq!(shared::platform::budget::until_deadline(30_000, 1_000), Duration::from_millis(28_000));
}

#[tokio::test]
async fn a_hanging_stripe_ends_within_the_budget_with_503_and_creates_nothing() {
    let f = fixture().await;
    f.b.stripe.set_mode(Mode::Hang);
    // The Stripe client allows 2 s per attempt and one retry; the invocation has 600 ms.
    let started = Instant::now();
    let body = json!({"solution_id": f.solution.solution_id, "tier": "pro", "provider": "stripe"});
    let r = shared::platform::budget::within(
        Duration::from_millis(600),
        f.b.send(request("POST", "/api/subscriptions", body, Some(&f.access))),
    )
    .await
    .expect("the handler answers within its budget, not cut off by it");
    assert_503(&r, "payment_provider_unavailable");
    assert!(started.elapsed() < Duration::from_millis(1_500), "took {:?}", started.elapsed());
    f.b.stripe.set_mode(Mode::Normal);
    let list = f.b.call("GET", &format!("/api/subscriptions/{}", f.user_id), None, Some(&f.access)).await;
    assert_eq!(list.body["subscriptions"].as_array().map(Vec::len), Some(0), "no half-created subscription");
}

#[tokio::test]
async fn a_hanging_phonepe_order_and_its_status_check_end_within_the_budget_with_503() {
    let f = fixture().await;
    f.b.phonepe.hang_next_pays(3);
    // A lost order answer is followed by a status call before any new order: the chain shares one budget.
    let started = Instant::now();
    let body = json!({"solution_id": f.solution.solution_id, "tier": "pro", "provider": "phonepe"});
    let r = shared::platform::budget::within(
        Duration::from_millis(700),
        f.b.send(request("POST", "/api/subscriptions", body, Some(&f.access))),
    )
    .await
    .expect("the handler answers within its budget, not cut off by it");
    assert_eq!(r.status, 503, "{:?}", r.body);
    let code = r.body["code"].as_str().unwrap_or_default();
    assert!(["payment_provider_unavailable", "service_unavailable"].contains(&code), "{:?}", r.body);
    assert_503(&r, code);
    assert!(started.elapsed() < Duration::from_millis(1_500), "took {:?}", started.elapsed());
}
