//! A solution token (what users hand to partner backends) stays inside its solution and its scopes: it never
//! reads or changes the account, and tokens of solutions that stopped being live stop working.

use integration_tests::harness::{Reply, TestEnv, unique_email};
use serde_json::{Value, json};
use shared::model::SolutionStatus;
use shared::store::keys;
use shared::store::solutions::SolutionItem;

/// A user with a session and a published solution (plus a second one) to hold tokens for.
struct Fixture {
    env: TestEnv,
    user_id: String,
    access: String,
    solution: String,
    other: String,
}

async fn fixture() -> Fixture {
    let env = TestEnv::new().await;
    let session = env.register(&unique_email("confined")).await;
    let solution = env.solution(SolutionStatus::Published).await.solution_id;
    let other = env.solution(SolutionStatus::Published).await.solution_id;
    Fixture { env, user_id: session.user_id, access: session.access_token, solution, other }
}

impl Fixture {
    /// A solution token with the given scopes (`None`: the defaults).
    async fn token(&self, solution: &str, scopes: Option<&[&str]>) -> Value {
        let mut body = json!({"solution_id": solution});
        if let Some(scopes) = scopes {
            body["scopes"] = json!(scopes);
        }
        let reply = self.env.call("POST", "/api/generate-token", Some(body), Some(&self.access)).await;
        assert_eq!(reply.status, 201, "generate-token: {:?}", reply.body);
        reply.body
    }

    async fn get(&self, uri: &str, bearer: &str) -> Reply {
        self.env.call("GET", uri, None, Some(bearer)).await
    }

    async fn track(&self, bearer: &str) -> Reply {
        self.env.call("POST", "/api/track-usage", Some(json!({"action": "search"})), Some(bearer)).await
    }

    async fn set_status(&self, solution: &str, status: SolutionStatus) {
        let mut item: SolutionItem =
            self.env.store.get(&keys::solution(solution), true).await.expect("read").expect("solution");
        item.status = status;
        self.env.store.put(&item, None).await.expect("write");
    }
}

fn code(reply: &Reply) -> (u16, &str) {
    (reply.status, reply.body["code"].as_str().unwrap_or(""))
}

#[tokio::test]
async fn a_solution_token_is_refused_on_account_routes() {
    let f = fixture().await;
    let token = f.token(&f.solution, None).await;
    let token = token["token"].as_str().expect("token");
    for (method, uri, body) in [
        ("GET", "/api/tokens".to_owned(), None),
        ("GET", "/api/user-solutions".to_owned(), None),
        ("POST", "/api/generate-token".to_owned(), Some(json!({"solution_id": f.other}))),
        ("DELETE", "/api/revoke-token".to_owned(), Some(json!({"token": token}))),
        (
            "PUT",
            "/api/user-tier".to_owned(),
            Some(json!({"user_id": f.user_id, "solution_id": f.solution, "tier": "pro"})),
        ),
        (
            "POST",
            "/api/reset-quota".to_owned(),
            Some(json!({"customer_id": f.user_id, "solution_id": f.solution, "reason": "x"})),
        ),
    ] {
        let reply = f.env.call(method, &uri, body, Some(token)).await;
        assert_eq!(code(&reply), (401, "wrong_token_kind"), "{method} {uri}: {:?}", reply.body);
        assert_eq!(reply.content_type(), "application/problem+json");
    }
    // The session itself still works there, and a session is no solution token on the tracking route.
    assert_eq!(f.get("/api/tokens", &f.access).await.status, 200);
    assert_eq!(code(&f.track(&f.access).await), (401, "wrong_token_kind"));
}

#[tokio::test]
async fn scopes_are_enforced() {
    let f = fixture().await;
    let read_only = f.token(&f.solution, Some(&["usage:read"])).await;
    let read_only = read_only["token"].as_str().expect("token");
    let track_only = f.token(&f.solution, Some(&["usage:track"])).await;
    let track_only = track_only["token"].as_str().expect("token");

    let refused = f.track(read_only).await;
    assert_eq!(code(&refused), (403, "insufficient_scope"), "{:?}", refused.body);
    assert_eq!(refused.body["required_scope"], "usage:track");
    assert_eq!(f.track(track_only).await.status, 200);

    let quota = format!("/api/quotas/{}/{}", f.user_id, f.solution);
    let usage = format!("/api/usage/{}", f.user_id);
    for uri in [quota.as_str(), usage.as_str(), "/api/user-context"] {
        assert_eq!(code(&f.get(uri, track_only).await), (403, "insufficient_scope"), "{uri}");
        let ok = f.get(uri, read_only).await;
        assert_eq!(ok.status, 200, "{uri}: {:?}", ok.body);
    }
    // The defaults carry both scopes.
    let default = f.token(&f.solution, None).await;
    assert_eq!(default["scopes"], json!(["usage:read", "usage:track"]));
}

#[tokio::test]
async fn a_solution_token_reads_its_own_solution_only() {
    let f = fixture().await;
    let mine = f.token(&f.solution, None).await;
    let mine = mine["token"].as_str().expect("token");
    let theirs = f.token(&f.other, None).await;
    let theirs = theirs["token"].as_str().expect("token");
    assert_eq!(f.track(mine).await.status, 200);
    assert_eq!(f.track(theirs).await.status, 200);

    // Quota of another solution: 403.
    let other_quota = f.get(&format!("/api/quotas/{}/{}", f.user_id, f.other), mine).await;
    assert_eq!(code(&other_quota), (403, "solution_mismatch"), "{:?}", other_quota.body);
    assert_eq!(f.get(&format!("/api/quotas/{}/{}", f.user_id, f.solution), mine).await.status, 200);

    // Usage history: asked for another solution, 403; unfiltered, only its own solution's days.
    let asked = f.get(&format!("/api/usage/{}?solution_id={}", f.user_id, f.other), mine).await;
    assert_eq!(code(&asked), (403, "solution_mismatch"));
    let history = f.get(&format!("/api/usage/{}", f.user_id), mine).await;
    assert_eq!(history.status, 200, "{:?}", history.body);
    let days = history.body["days"].as_array().expect("days");
    assert_eq!(days.len(), 1, "{days:?}");
    assert!(days.iter().all(|d| d["solution_id"] == f.solution.as_str()));
    // The session sees both.
    let all = f.get(&format!("/api/usage/{}", f.user_id), &f.access).await;
    assert_eq!(all.body["days"].as_array().map(Vec::len), Some(2));

    // User context: the token's solution only, never the account's other solutions.
    let ctx = f.get("/api/user-context", mine).await;
    assert_eq!(ctx.status, 200, "{:?}", ctx.body);
    let solutions: Vec<&str> =
        ctx.body["solutions"].as_array().expect("solutions").iter().filter_map(|s| s["solution_id"].as_str()).collect();
    assert!(solutions.iter().all(|s| *s == f.solution), "{solutions:?}");
    assert_eq!(ctx.body["token"]["solution_id"], f.solution.as_str());
    assert_eq!(ctx.body["quota"]["used"], 1, "the quota is the token's solution's");

    // Another user's data stays out of reach as before.
    let stranger = f.env.register(&unique_email("stranger")).await;
    let theirs = f.get(&format!("/api/quotas/{}/{}", stranger.user_id, f.solution), mine).await;
    assert_eq!(theirs.status, 403);
}

#[tokio::test]
async fn tokens_of_suspended_or_retired_solutions_stop_working() {
    let f = fixture().await;
    let issued = f.token(&f.solution, None).await;
    let token = issued["token"].as_str().expect("token").to_owned();
    let refresh = issued["refresh_token"].as_str().expect("refresh").to_owned();
    let validate = |t: String| {
        let env = &f.env;
        async move { env.call("POST", "/api/validate-token", Some(json!({"token": t})), None).await }
    };
    assert_eq!(validate(token.clone()).await.status, 200);

    f.set_status(&f.solution, SolutionStatus::Suspended).await;
    let refused = validate(token.clone()).await;
    assert_eq!(code(&refused), (403, "solution_unavailable"), "{:?}", refused.body);
    assert_eq!(refused.body["valid"], false);
    let refreshed = f.env.call("POST", "/api/refresh-token", Some(json!({"refresh_token": refresh})), None).await;
    assert_eq!(code(&refreshed), (403, "solution_unavailable"), "{:?}", refreshed.body);
    // Tracking refuses it too (a fresh usage function: nothing cached from before the suspension).
    let fresh = usage::AppState::new(f.env.store_for("usage"), f.env.keys(), std::sync::Arc::new(f.env.clock.clone()));
    let req = lambda_http::http::Request::builder()
        .method("POST")
        .uri("https://api.test/api/track-usage")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(lambda_http::Body::Text(json!({"action": "search"}).to_string()))
        .expect("request");
    let tracked = integration_tests::harness::decode(usage::handle(&fresh, req).await);
    assert_eq!(code(&tracked), (403, "solution_unavailable"), "{:?}", tracked.body);

    // Reinstated: the same (unexpired) token works again, and the refresh token was not burnt.
    f.set_status(&f.solution, SolutionStatus::Published).await;
    assert_eq!(validate(token.clone()).await.status, 200);
    let refreshed = f.env.call("POST", "/api/refresh-token", Some(json!({"refresh_token": refresh})), None).await;
    assert_eq!(refreshed.status, 200, "{:?}", refreshed.body);

    // Retired is final.
    f.set_status(&f.solution, SolutionStatus::Retired).await;
    assert_eq!(code(&validate(token).await), (403, "solution_unavailable"));
}
