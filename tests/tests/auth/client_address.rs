//! Per-IP limits behind the console's CloudFront distribution. There, API Gateway's `sourceIp` is the edge
//! server's: the functions count the viewer's address (`X-Viewer-Address`, set by the distribution) only on a
//! request carrying the distribution's origin secret (`X-Origin-Verify`), and every other request by its
//! `sourceIp`, whatever it claims. The last test holds the template to the same contract: one secret on both
//! sides, the viewer's address set by the distribution on every API behaviour, and no IAM permission for it.

use integration_tests::harness::{PASSWORD, Reply, TestEnv, api_request, decode, from_source_ip, unique_email};
use lambda_http::{Body, Request};
use serde_json::{Value, json};
use serde_yaml::Value as Yaml;
use shared::identity::throttle::{ANONYMOUS_TRACK_PER_IP, REGISTER_PER_IP, VERIFY_EMAIL_PER_IP};
use shared::model::SolutionStatus;
use shared::platform::client_address::{MIN_SECRET_LEN, ORIGIN_VERIFY_HEADER, OriginVerify, VIEWER_ADDRESS_HEADER};
use std::sync::Arc;

/// The distribution's origin secret in these tests (the template generates 48 letters and digits).
const SECRET: &str = "q7Rz2LwK9vXn4TbY8mHc3JsP6fDg1QaE5uWk0NrV2xZt7BhM";
/// An edge server of the distribution: API Gateway's `sourceIp` of every request that comes through it.
const EDGE: &str = "130.176.212.5";

/// A request as API Gateway delivers it from `source_ip`, with `headers`.
fn request(uri: &str, body: Value, headers: &[(&str, &str)], source_ip: &str) -> Request {
    from_source_ip(api_request("POST", uri, Body::Text(body.to_string()), None, headers), source_ip)
}

/// A request through the distribution, from `viewer`: its origin secret and the viewer's address, from an edge.
fn through_distribution(uri: &str, body: Value, viewer: &str) -> Request {
    request(uri, body, &[(ORIGIN_VERIFY_HEADER, SECRET), (VIEWER_ADDRESS_HEADER, viewer)], EDGE)
}

/// The auth function as deployed behind the distribution (configured with its origin secret).
fn auth_behind_distribution(env: &TestEnv) -> auth::AppState {
    auth::AppState::new(env.store_for("auth"), env.keys(), Arc::new(env.clock.clone()))
        .with_origin_verify(OriginVerify::new(SECRET).expect("secret"))
}

async fn send(state: &auth::AppState, req: Request) -> Reply {
    decode(Box::pin(auth::handle(state, req)).await)
}

fn registration() -> Value {
    json!({"email": unique_email("viewer"), "password": PASSWORD, "name": "Viewer"})
}

/// Start the clock at the beginning of a minute, so a per-minute window cannot roll over mid-test.
fn align_to_minute(env: &TestEnv) {
    let now = chrono::Utc::now().timestamp();
    env.clock.set(chrono::DateTime::from_timestamp(now - now.rem_euclid(60) + 60, 0).expect("time"));
}

#[tokio::test]
async fn behind_the_distribution_two_viewers_of_one_edge_are_counted_apart() {
    let env = TestEnv::new().await;
    let auth = auth_behind_distribution(&env);
    let register = "/api/auth/register";
    for i in 0..REGISTER_PER_IP.max {
        let reply = send(&auth, through_distribution(register, registration(), "198.51.100.20")).await;
        assert_eq!(reply.status, 201, "registration {i}: {:?}", reply.body);
    }
    let refused = send(&auth, through_distribution(register, registration(), "198.51.100.20")).await;
    assert_eq!((refused.status, refused.body["code"].as_str()), (429, Some("too_many_requests")));
    // Another viewer of the same edge (an IPv6 one) has its own allowance.
    for i in 0..3 {
        let reply = send(&auth, through_distribution(register, registration(), "2001:db8:77::9")).await;
        assert_eq!(reply.status, 201, "the other viewer's registration {i}: {:?}", reply.body);
    }
    // And the edge's own address was never counted: a caller at that address still has all of its allowance.
    assert_eq!(send(&auth, request(register, registration(), &[], EDGE)).await.status, 201);
    // The first viewer stays limited whatever edge it comes through next.
    let elsewhere = request(
        register,
        registration(),
        &[(ORIGIN_VERIFY_HEADER, SECRET), (VIEWER_ADDRESS_HEADER, "198.51.100.20")],
        "130.176.99.1",
    );
    assert_eq!(send(&auth, elsewhere).await.status, 429);
}

#[tokio::test]
async fn a_direct_caller_forging_the_viewer_address_is_counted_by_its_source_address() {
    let env = TestEnv::new().await;
    align_to_minute(&env);
    let auth = auth_behind_distribution(&env);
    let caller = "203.0.113.77";
    let verify = "/api/auth/verify-email";
    let mut statuses = Vec::new();
    for i in 0..=VERIFY_EMAIL_PER_IP.max {
        // A new address claimed every time: in our header, in CloudFront's, with no secret or a guessed one.
        let claimed = format!("198.51.100.{}", i + 1);
        let cloudfront = format!("{claimed}:443");
        let guessed = format!("{}{i:02}", &SECRET[..SECRET.len() - 2]);
        let headers: Vec<(&str, &str)> = match i % 3 {
            0 => vec![(VIEWER_ADDRESS_HEADER, &claimed)],
            1 => vec![(VIEWER_ADDRESS_HEADER, &claimed), ("cloudfront-viewer-address", &cloudfront)],
            _ => vec![(VIEWER_ADDRESS_HEADER, &claimed), (ORIGIN_VERIFY_HEADER, &guessed)],
        };
        let req = request(verify, json!({"token": "ev_not_a_real_link"}), &headers, caller);
        statuses.push(send(&auth, req).await.status);
    }
    assert!(statuses[..statuses.len() - 1].iter().all(|s| *s == 400), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&429), "counted by its own address: {statuses:?}");
    // The addresses it claimed were never charged: a viewer at one of them, through the distribution, is not
    // limited.
    let viewer = through_distribution(verify, json!({"token": "ev_not_a_real_link"}), "198.51.100.1");
    assert_eq!(send(&auth, viewer).await.status, 400);
}

#[tokio::test]
async fn without_a_configured_secret_no_request_is_taken_for_the_distributions() {
    // The local stack and a function without ORIGIN_VERIFY_SECRET: even the right-looking headers are ignored.
    let env = TestEnv::new().await;
    align_to_minute(&env);
    assert!(!env.state.origin.is_configured());
    let verify = "/api/auth/verify-email";
    let mut statuses = Vec::new();
    for i in 0..=VERIFY_EMAIL_PER_IP.max {
        let viewer = format!("198.51.100.{}", i + 1);
        statuses.push(env.send(through_distribution(verify, json!({"token": "ev_nothing"}), &viewer)).await.status);
    }
    assert_eq!(statuses.last(), Some(&429), "all counted by the edge's address: {statuses:?}");
}

#[tokio::test]
async fn anonymous_tracking_counts_the_viewer_through_the_distribution_and_the_source_otherwise() {
    let env = TestEnv::new().await;
    align_to_minute(&env);
    let solution = env.solution(SolutionStatus::Published).await.solution_id;
    let usage = usage::AppState::new(env.store_for("usage"), env.keys(), Arc::new(env.clock.clone()))
        .with_origin_verify(OriginVerify::new(SECRET).expect("secret"));
    let track = |headers: &[(&str, &str)], source: &str| {
        let body = json!({"action": "view", "solution_id": solution});
        let mut all = vec![("x-anonymous-id", "visitor-0001-abcdefgh")];
        all.extend_from_slice(headers);
        let req = request("/api/track-usage", body, &all, source);
        let usage = &usage;
        async move { decode(Box::pin(usage::handle(usage, req)).await) }
    };
    let through = track(&[(ORIGIN_VERIFY_HEADER, SECRET), (VIEWER_ADDRESS_HEADER, "198.51.100.30")], EDGE).await;
    assert_eq!(through.status, 200, "{:?}", through.body);
    let forged = track(&[(VIEWER_ADDRESS_HEADER, "198.51.100.31")], "203.0.113.31").await;
    assert_eq!(forged.status, 200, "{:?}", forged.body);

    use shared::platform::clock::Clock;
    let window = ANONYMOUS_TRACK_PER_IP.window_start(env.clock.now().timestamp());
    let hits = |client: &str| {
        let key = shared::store::keys::rate_window(ANONYMOUS_TRACK_PER_IP.scope, client, window);
        let store = env.store.clone();
        async move {
            let item: Option<Value> = store.get(&key, true).await.expect("read counter");
            item.and_then(|i| i["hits"].as_u64()).unwrap_or(0)
        }
    };
    assert_eq!(hits("198.51.100.30").await, 1, "the viewer behind the distribution");
    assert_eq!(hits(EDGE).await, 0, "not the edge");
    assert_eq!(hits("203.0.113.31").await, 1, "the direct caller, by its source address");
    assert_eq!(hits("198.51.100.31").await, 0, "not the address it claimed");
}

/// `!Sub "…"` (or a plain string) as text.
fn text(value: &Yaml) -> String {
    match value {
        Yaml::Tagged(t) => t.value.as_str().unwrap_or_default().to_owned(),
        other => other.as_str().unwrap_or_default().to_owned(),
    }
}

#[test]
fn the_template_gives_the_distribution_and_the_functions_one_secret_and_no_permission() {
    let template = integration_tests::template::load_template().expect("template");
    let resources = &template["Resources"];

    // The secret: generated, long enough, only letters and digits (a header value as it is).
    let secret = &resources["OriginVerifySecret"];
    assert_eq!(secret["Type"].as_str(), Some("AWS::SecretsManager::Secret"));
    let generate = &secret["Properties"]["GenerateSecretString"];
    assert_eq!(generate["GenerateStringKey"].as_str(), Some("value"));
    assert!(generate["PasswordLength"].as_u64().is_some_and(|n| n >= MIN_SECRET_LEN as u64 + 16));
    assert_eq!(generate["ExcludePunctuation"].as_bool(), Some(true));

    // One dynamic reference, the same text in the functions' configuration and in the distribution's header.
    let reference = "{{resolve:secretsmanager:${OriginVerifySecret}:SecretString:value}}";
    let env = &template["Globals"]["Function"]["Environment"]["Variables"]["ORIGIN_VERIFY_SECRET"];
    assert_eq!(text(env), reference);
    let config = &resources["ConsoleDistribution"]["Properties"]["DistributionConfig"];
    let origins = config["Origins"].as_sequence().expect("origins");
    let api = origins.iter().find(|o| o["Id"].as_str() == Some("api")).expect("the api origin");
    let headers = api["OriginCustomHeaders"].as_sequence().expect("origin custom headers");
    let verify = headers
        .iter()
        .find(|h| h["HeaderName"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(ORIGIN_VERIFY_HEADER)))
        .expect("X-Origin-Verify on the api origin");
    assert_eq!(text(&verify["HeaderValue"]), reference);

    // Every behaviour to the API sets the viewer's address with the function, which overwrites the header.
    let function = &resources["ConsoleApiViewerFunction"];
    let code = function["Properties"]["FunctionCode"].as_str().expect("function code");
    assert!(
        code.contains(&format!("request.headers['{VIEWER_ADDRESS_HEADER}'] = {{ value: event.viewer.ip }};")),
        "{code}"
    );
    let behaviours = config["CacheBehaviors"].as_sequence().expect("cache behaviours");
    let to_api: Vec<&Yaml> = behaviours.iter().filter(|b| b["TargetOriginId"].as_str() == Some("api")).collect();
    assert_eq!(to_api.len(), 2, "/api/* and /.well-known/*");
    for behaviour in to_api {
        let associations = behaviour["FunctionAssociations"].as_sequence().expect("function associations");
        assert!(
            associations.iter().any(|a| a["EventType"].as_str() == Some("viewer-request")
                && text(&a["FunctionARN"]).starts_with("ConsoleApiViewerFunction.")),
            "{:?}: {associations:?}",
            behaviour["PathPattern"]
        );
    }

    // The functions get it with their configuration: no function may read the secret itself.
    let read = integration_tests::iam::Access {
        action: "secretsmanager:GetSecretValue".into(),
        resource: "arn:aws:secretsmanager:us-east-1:123456789012:secret:OriginVerifySecret".into(),
        context: Default::default(),
        origin: "test".into(),
    };
    let policies = integration_tests::iam::template_policies();
    assert!(!policies.functions.is_empty());
    for function in policies.functions.keys() {
        assert!(policies.check(function, &read).is_err(), "{function} may read OriginVerifySecret");
        assert!(policies.functions[function].env.contains_key("ORIGIN_VERIFY_SECRET"), "{function}");
    }
}
