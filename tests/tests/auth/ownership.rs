//! One user cannot see or touch another's tokens; admins can revoke any; listing pages with a cursor.

use integration_tests::harness::{TestEnv, unique_email};
use serde_json::json;
use shared::model::SolutionStatus;

#[tokio::test(flavor = "multi_thread")]
async fn users_cannot_list_or_revoke_each_others_tokens() {
    let env = TestEnv::new().await;
    let solution = env.solution(SolutionStatus::Published).await;
    let a = env.register(&unique_email("a")).await;
    let b = env.register(&unique_email("b")).await;
    let b_token = env.solution_token(&b.access_token, &solution.solution_id).await;
    let b_token_id = b_token["token_id"].as_str().expect("id").to_owned();

    // A's listing holds only A's tokens, and never a secret.
    let list = env.call("GET", "/api/tokens", None, Some(&a.access_token)).await;
    assert_eq!(list.status, 200);
    let tokens = list.body["tokens"].as_array().expect("tokens");
    assert_eq!(tokens.len(), 1, "A's session only: {tokens:?}");
    assert_ne!(tokens[0]["token_id"], b_token_id.as_str());
    let text = list.body.to_string();
    assert!(!text.contains(&a.access_token) && !text.contains(&a.refresh_token));

    // A cannot revoke B's token, by id or by value.
    let by_id =
        env.call("DELETE", "/api/revoke-token", Some(json!({"token_id": b_token_id})), Some(&a.access_token)).await;
    assert_eq!(by_id.status, 403);
    assert_eq!(by_id.body["code"], "forbidden");
    let by_value =
        env.call("DELETE", "/api/revoke-token", Some(json!({"token": b_token["token"]})), Some(&a.access_token)).await;
    assert_eq!(by_value.status, 403);
    let still = env.call("POST", "/api/validate-token", Some(json!({"token": b_token["token"]})), None).await;
    assert_eq!(still.status, 200);

    // Unknown ids are 404; an admin may revoke B's token.
    let unknown = env
        .call(
            "DELETE",
            "/api/revoke-token",
            Some(json!({"token_id": shared::platform::ids::token_id()})),
            Some(&a.access_token),
        )
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.body["code"], "token_not_found");
    let admin = env.admin().await;
    let by_admin =
        env.call("DELETE", "/api/revoke-token", Some(json!({"token_id": b_token_id})), Some(&admin.access_token)).await;
    assert_eq!(by_admin.status, 204);
    let gone = env.call("POST", "/api/validate-token", Some(json!({"token": b_token["token"]})), None).await;
    assert_eq!(gone.body["code"], "revoked");

    // B's listing no longer shows the revoked token, but still shows B's session.
    let list_b = env.call("GET", "/api/tokens", None, Some(&b.access_token)).await;
    let ids: Vec<&str> =
        list_b.body["tokens"].as_array().expect("tokens").iter().filter_map(|t| t["token_id"].as_str()).collect();
    assert_eq!(ids.len(), 1);
    assert!(!ids.contains(&b_token_id.as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn token_listing_pages_with_a_cursor_bound_to_its_owner() {
    let env = TestEnv::new().await;
    let solution = env.solution(SolutionStatus::Published).await;
    let a = env.register(&unique_email("pager")).await;
    let other = env.register(&unique_email("other")).await;
    for _ in 0..4 {
        env.solution_token(&a.access_token, &solution.solution_id).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let uri = match &cursor {
            Some(c) => format!("/api/tokens?limit=2&cursor={c}"),
            None => "/api/tokens?limit=2".to_owned(),
        };
        let page = env.call("GET", &uri, None, Some(&a.access_token)).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        for t in page.body["tokens"].as_array().expect("tokens") {
            seen.push(t["token_id"].as_str().expect("id").to_owned());
        }
        pages += 1;
        cursor = page.body["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() || pages > 5 {
            break;
        }
        // Another user cannot use this cursor.
        let stolen = env
            .call(
                "GET",
                &format!("/api/tokens?cursor={}", cursor.as_deref().unwrap_or_default()),
                None,
                Some(&other.access_token),
            )
            .await;
        assert_eq!(stolen.status, 400);
        assert_eq!(stolen.body["errors"][0]["field"], "cursor");
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(seen.len(), 5, "session + 4 solution tokens: {seen:?}");
    assert_eq!(unique.len(), 5);
    assert!(pages >= 3);
}
