//! Bad input is always a 4xx problem+json that names the field, never a 5xx.

use integration_tests::harness::{TestEnv, unique_email};
use lambda_http::Body;
use serde_json::json;

const ROUTES_WITH_BODIES: &[(&str, &str, bool)] = &[
    ("POST", "/api/auth/register", false),
    ("POST", "/api/auth/login", false),
    ("POST", "/api/generate-token", true),
    ("POST", "/api/validate-token", false),
    ("POST", "/api/refresh-token", false),
    ("DELETE", "/api/revoke-token", true),
    ("PUT", "/api/user-tier", true),
];

#[tokio::test(flavor = "multi_thread")]
async fn malformed_bodies_are_4xx_naming_the_field() {
    let env = TestEnv::new().await;
    let admin = env.admin().await;
    let cases: Vec<(Body, &str)> = vec![
        (Body::Text("{".into()), "body"),
        (Body::Text("not json".into()), "body"),
        (Body::Empty, "body"),
        (Body::Text("[]".into()), "body"),
        (Body::Text("null".into()), "body"),
        (Body::Text("{\"unexpected\": 1}".into()), "unexpected"),
        (Body::Text("x".repeat(70 * 1024)), "body"),
    ];
    for (method, path, bearer) in ROUTES_WITH_BODIES {
        for (body, field) in &cases {
            let token = bearer.then_some(admin.access_token.as_str());
            let r = env.call_raw(method, path, body.clone(), token).await;
            assert!((400..500).contains(&r.status), "{method} {path}: {} {:?}", r.status, r.body);
            assert_eq!(r.content_type(), "application/problem+json", "{method} {path}");
            assert!(r.body["code"].is_string());
            assert_eq!(r.body["errors"][0]["field"], *field, "{method} {path} {:?}", r.body);
        }
    }
    let big = env.call_raw("POST", "/api/auth/register", Body::Text("x".repeat(70 * 1024)), None).await;
    assert_eq!(big.status, 413);
    assert_eq!(big.body["code"], "payload_too_large");
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_and_mistyped_fields_are_named() {
    let env = TestEnv::new().await;
    let user = env.register(&unique_email("input")).await;
    let t = Some(user.access_token.as_str());
    let cases = [
        ("POST", "/api/auth/register", json!({"password": "long enough pw", "name": "N"}), None, "email"),
        ("POST", "/api/auth/register", json!({"email": "a@b.co", "name": "N"}), None, "password"),
        ("POST", "/api/auth/register", json!({"email": "a@b.co", "password": "long enough pw"}), None, "name"),
        ("POST", "/api/auth/register", json!({"email": 42, "password": "long enough pw", "name": "N"}), None, "email"),
        (
            "POST",
            "/api/auth/register",
            json!({"email": "not-an-email", "password": "long enough pw", "name": "N"}),
            None,
            "email",
        ),
        ("POST", "/api/auth/register", json!({"email": "a@b.co", "password": "short", "name": "N"}), None, "password"),
        (
            "POST",
            "/api/auth/register",
            json!({"email": "a@b.co", "password": "long enough pw", "name": "  "}),
            None,
            "name",
        ),
        (
            "POST",
            "/api/auth/register",
            json!({"email": "a@b.co", "password": "long enough pw", "name": "N", "role": "admin"}),
            None,
            "role",
        ),
        ("POST", "/api/auth/login", json!({"email": "a@b.co", "password": ["x"]}), None, "password"),
        ("POST", "/api/generate-token", json!({}), t, "solution_id"),
        ("POST", "/api/generate-token", json!({"solution_id": "sol_x"}), t, "solution_id"),
        (
            "POST",
            "/api/generate-token",
            json!({"solution_id": shared::platform::ids::solution_id(), "ttl_seconds": 59}),
            t,
            "ttl_seconds",
        ),
        (
            "POST",
            "/api/generate-token",
            json!({"solution_id": shared::platform::ids::solution_id(), "ttl_seconds": "60"}),
            t,
            "ttl_seconds",
        ),
        (
            "POST",
            "/api/generate-token",
            json!({"solution_id": shared::platform::ids::solution_id(), "scopes": ["ok", "NOT OK"]}),
            t,
            "scopes[1]",
        ),
        (
            "POST",
            "/api/generate-token",
            json!({"solution_id": shared::platform::ids::solution_id(), "scopes": "usage"}),
            t,
            "scopes",
        ),
        ("POST", "/api/validate-token", json!({"token": 5}), None, "token"),
        ("POST", "/api/refresh-token", json!({}), None, "refresh_token"),
        ("DELETE", "/api/revoke-token", json!({}), t, "token_id"),
        ("DELETE", "/api/revoke-token", json!({"token_id": "tok_1", "token": "x"}), t, "token_id"),
        ("DELETE", "/api/revoke-token", json!({"token": "not a jwt"}), t, "token"),
        ("GET", "/api/tokens?limit=1000", json!(null), t, "limit"),
        ("GET", "/api/tokens?cursor=garbage", json!(null), t, "cursor"),
    ];
    for (method, path, body, bearer, field) in cases {
        let body = (!body.is_null()).then_some(body);
        let r = env.call(method, path, body.clone(), bearer).await;
        assert_eq!(r.status, 400, "{method} {path} {body:?}: {:?}", r.body);
        assert_eq!(r.content_type(), "application/problem+json");
        let fields: Vec<&str> =
            r.body["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
        assert!(fields.contains(&field), "{method} {path} {body:?}: expected {field} in {fields:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn routes_and_auth_failures_are_problems() {
    let env = TestEnv::new().await;
    let r = env.call("GET", "/api/nope", None, None).await;
    assert_eq!((r.status, r.body["code"].as_str()), (404, Some("route_not_found")));
    let r = env.call("GET", "/api/auth/register", None, None).await;
    assert_eq!((r.status, r.body["code"].as_str()), (405, Some("method_not_allowed")));
    for path in ["/api/tokens", "/api/user-context", "/api/user-solutions"] {
        let r = env.call("GET", path, None, None).await;
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(r.content_type(), "application/problem+json");
        assert_eq!(r.headers.get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer"));
        let r = env.call("GET", path, None, Some("garbage")).await;
        assert_eq!((r.status, r.body["code"].as_str()), (401, Some("malformed")), "{path}");
    }
}
