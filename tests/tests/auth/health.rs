//! `GET /api/health` (liveness: public, touches nothing, answers with the table gone) and `GET /api/admin/health`
//! (readiness, admins' sessions only: the table and the signing key, each with its latency; 503 naming the failed
//! check, never its error text or the key).

use integration_tests::harness::{Reply, TestEnv, api_request, decode, function_store, unique_email};
use integration_tests::partners::PartnersEnv;
use lambda_http::Body;
use shared::auth::TokenKeys;
use shared::platform::deferred::Deferred;
use shared::store::Store;
use std::sync::Arc;

fn code(r: &Reply) -> (u16, &str) {
    (r.status, r.body["code"].as_str().unwrap_or(""))
}

/// The auth function on `store` with `keys` (the environment's clock).
fn auth_on(env: &TestEnv, store: Store, keys: TokenKeys) -> auth::AppState {
    auth::AppState::with_keys(store, keys, Arc::new(env.clock.clone()))
}

/// The auth function's store pointed at a table that does not exist.
fn missing_table(env: &TestEnv) -> Store {
    let table = format!("missing-{}", ulid::Ulid::new().to_string().to_lowercase());
    function_store(&Store::new(env.store.client().clone(), table), "auth")
}

async fn get(state: &auth::AppState, uri: &str, bearer: Option<&str>) -> Reply {
    decode(Box::pin(auth::handle(state, api_request("GET", uri, Body::Empty, bearer, &[]))).await)
}

/// The check named `name`: (status, ms present).
fn check<'a>(r: &'a Reply, name: &str) -> (&'a str, bool) {
    let checks = r.body["checks"].as_array().expect("checks");
    let c = checks.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no {name} check: {:?}", r.body));
    (c["status"].as_str().unwrap_or(""), c["ms"].is_u64())
}

#[tokio::test]
async fn liveness_answers_without_the_table_and_touches_nothing() {
    let env = TestEnv::new().await;
    let state = auth_on(&env, missing_table(&env), TokenKeys::new(None, Deferred::new("signing", failing_secret)));
    let before = env.dynamo.requests();
    for _ in 0..50 {
        let r = get(&state, "/api/health", None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["status"], "ok");
        assert_eq!(r.body["function"], "auth");
        assert!(r.body["version"].as_str().is_some_and(|v| !v.is_empty()), "{:?}", r.body);
        assert_eq!(r.body.as_object().expect("object").len(), 3, "{:?}", r.body);
        assert_eq!(r.content_type(), "application/json");
        assert_eq!(r.headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    }
    // No DynamoDB request (no table read, no per-IP throttle), and no secret loaded.
    assert_eq!(env.dynamo.requests(), before);
    // Any credential, even a bad one, is ignored.
    assert_eq!(get(&state, "/api/health", Some("not-a-token")).await.status, 200);
}

async fn failing_secret() -> Result<shared::identity::jwt::KeySet, shared::platform::deferred::BoxError> {
    Err("AccessDeniedException: secret arn:aws:secretsmanager:signing".into())
}

#[tokio::test]
async fn readiness_reports_the_table_and_the_signing_key_with_their_latency() {
    let env = TestEnv::new().await;
    let admin = env.admin().await;
    let r = env.call("GET", "/api/admin/health", None, Some(&admin.access_token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "ok");
    assert_eq!(r.body["checks"].as_array().map(Vec::len), Some(2), "{:?}", r.body);
    assert_eq!(check(&r, "table"), ("ok", true));
    assert_eq!(check(&r, "signing_key"), ("ok", true));
    assert_eq!(r.headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    assert!(!r.body.to_string().contains(&env.key_material), "the key in the answer");
}

#[tokio::test]
async fn readiness_is_503_naming_the_signing_key_when_its_secret_fails_to_load() {
    let env = TestEnv::new().await;
    let admin = env.admin().await;
    // Tokens verified with the configured public keys; the signing secret cannot be read.
    let keys = TokenKeys::new(Some(env.keys()), Deferred::new("signing", failing_secret));
    let state = auth_on(&env, function_store(&env.store, "auth"), keys);
    let r = get(&state, "/api/admin/health", Some(&admin.access_token)).await;
    assert_eq!(r.status, 503, "{:?}", r.body);
    assert_eq!(r.content_type(), "application/json");
    assert_eq!(r.body["status"], "failing");
    assert_eq!(check(&r, "table"), ("ok", true));
    assert_eq!(check(&r, "signing_key"), ("failed", true));
    let text = r.body.to_string();
    for leaked in ["AccessDenied", "arn:", "secret", env.key_material.as_str()] {
        assert!(!text.contains(leaked), "{leaked} in {text}");
    }
}

#[tokio::test]
async fn readiness_is_503_naming_the_table_when_it_is_missing() {
    let env = TestEnv::new().await;
    let admin = env.admin().await;
    let principal = shared::identity::Principal {
        user_id: admin.user_id.clone(),
        email: unique_email("admin"),
        role: shared::model::Role::Admin,
        token_id: "tok_01j0000000000000000000000x".to_owned(),
        family_id: "fam_01j0000000000000000000000x".to_owned(),
        kind: shared::model::TokenKind::Access,
        solution_id: None,
        org_id: None,
        scopes: Vec::new(),
        issued_at: 0,
        exp: i64::MAX,
    };
    // The use case itself (the session check also reads the table, see below): the table check fails.
    let state = auth_on(&env, missing_table(&env), TokenKeys::ready(env.keys()));
    let readiness = state.auth.readiness(&principal).await.expect("readiness");
    assert!(!readiness.ready());
    let body = serde_json::to_value(&readiness).expect("json");
    assert_eq!(body["status"], "failing");
    assert_eq!(body["checks"][0]["name"], "table");
    assert_eq!(body["checks"][0]["status"], "failed");
    assert_eq!(body["checks"][1]["name"], "signing_key");
    assert_eq!(body["checks"][1]["status"], "ok");
    assert!(!body.to_string().contains("missing-"), "the table name in {body}");
    // Through the handler: the session cannot be verified without the table either, so the answer is 503
    // (a problem document), never another 5xx, with no internal text.
    let r = get(&state, "/api/admin/health", Some(&admin.access_token)).await;
    assert_eq!(code(&r), (503, "service_unavailable"), "{:?}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    let text = r.body.to_string();
    assert!(!text.contains("missing-") && !text.contains("ResourceNotFound"), "{text}");
}

#[tokio::test]
async fn only_an_admins_session_may_read_readiness() {
    Box::pin(only_admins()).await;
}

async fn only_admins() {
    let p = PartnersEnv::new().await;
    let uri = "/api/admin/health";
    let user = p.env.register(&unique_email("user")).await;
    let partner = p.partner("Healthy Co").await;
    for bearer in [&user.access_token, &partner.session.access_token] {
        let r = p.env.call("GET", uri, None, Some(bearer)).await;
        assert_eq!(code(&r), (403, "forbidden"), "{:?}", r.body);
        assert!(r.body.get("checks").is_none());
    }
    // Solution tokens, the admin's own included: 401 wrong_token_kind.
    let solution = p.published(&partner, "Health", None).await;
    for session in [&user.access_token, &p.admin.access_token] {
        let token = p.env.solution_token(session, &solution).await["token"].as_str().expect("token").to_owned();
        let r = p.env.call("GET", uri, None, Some(&token)).await;
        assert_eq!(code(&r), (401, "wrong_token_kind"), "{:?}", r.body);
    }
    // A partner API key is no credential here; no credential at all.
    let key = p.api_key(&partner, &[]).await;
    let r = p.call_with("GET", uri, None, None, &[("x-api-key", &key)]).await;
    assert_eq!(code(&r), (401, "unauthorized"), "{:?}", r.body);
    assert_eq!(code(&p.env.call("GET", uri, None, None).await), (401, "unauthorized"));
    // The admin's session: 200.
    let r = p.env.call("GET", uri, None, Some(&p.admin.access_token)).await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("ok")), "{:?}", r.body);
}
