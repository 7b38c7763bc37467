//! Partner API keys on `track-usage` and `validate-token`: only for the partner's own solutions, only those
//! the key names, never after revocation.

use integration_tests::harness::unique_email;
use integration_tests::partners::PartnersEnv;
use lambda_http::Body;
use serde_json::json;

#[tokio::test]
async fn a_key_tracks_only_for_the_solutions_it_covers() {
    let t = PartnersEnv::new().await;
    let a = t.partner("Acme Labs").await;
    let b = t.partner("Bolt Inc").await;
    let x = t.published(&a, "Acme X", None).await;
    let y = t.published(&a, "Acme Y", None).await;
    let z = t.published(&b, "Bolt Z", None).await;
    let x_only = t.api_key(&a, &[&x]).await;
    let all_of_a = t.api_key(&a, &[]).await;
    let user = t.env.register(&unique_email("user")).await;
    let track = |key: String, solution: String| {
        let t = &t;
        let user_id = user.user_id.clone();
        async move {
            t.call_with(
                "POST",
                "/api/track-usage",
                Some(json!({"action": "search", "solution_id": solution, "customer_id": user_id})),
                None,
                &[("x-api-key", key.as_str())],
            )
            .await
        }
    };
    let ok = track(x_only.clone(), x.clone()).await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert_eq!((ok.body["used"].as_u64(), ok.body["limit"].as_u64()), (Some(1), Some(5)), "the solution's free limit");
    let other_solution = track(x_only.clone(), y.clone()).await;
    assert_eq!((other_solution.status, other_solution.body["code"].as_str()), (403, Some("api_key_not_allowed")));
    assert_eq!(track(all_of_a.clone(), y.clone()).await.status, 200);
    let other_partner = track(all_of_a.clone(), z.clone()).await;
    assert_eq!(other_partner.status, 403);
    let forged = track(format!("mk_{}", shared::platform::crypto::random_token::<32>()), x.clone()).await;
    assert_eq!((forged.status, forged.body["code"].as_str()), (401, Some("invalid_api_key")));
    let malformed = track("mk_short".into(), x.clone()).await;
    assert_eq!(malformed.status, 401);
    // Without a key, customer_id is refused (a caller cannot count usage against someone else).
    let no_key = t
        .env
        .call_with(
            "POST",
            "/api/track-usage",
            Body::Text(json!({"action": "search", "solution_id": x, "customer_id": user.user_id}).to_string()),
            None,
            &[("x-anonymous-id", "visitor-0001")],
        )
        .await;
    assert_eq!(no_key.status, 400);
    // Revoked: refused (the usage function caches keys for its cache lifetime; tests run with none).
    let keys =
        t.call("GET", &format!("/api/partners/{}/api-keys", a.partner_id), None, Some(&a.session.access_token)).await;
    let x_key_id = keys.body["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["solution_ids"] == json!([x]))
        .expect("x key")["key_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let revoked = t
        .call(
            "DELETE",
            &format!("/api/partners/{}/api-keys/{x_key_id}", a.partner_id),
            None,
            Some(&a.session.access_token),
        )
        .await;
    assert_eq!(revoked.status, 204);
    t.env.clock.advance(chrono::Duration::seconds(120));
    let after = track(x_only, x.clone()).await;
    assert_eq!(after.status, 401, "{:?}", after.body);
    let listed =
        t.call("GET", &format!("/api/partners/{}/api-keys", a.partner_id), None, Some(&a.session.access_token)).await;
    assert!(
        listed.body["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .any(|k| k["key_id"] == x_key_id.as_str() && k["revoked_at"].is_string())
    );
}

#[tokio::test]
async fn validate_token_with_a_key_checks_the_solution_is_the_partners() {
    let t = PartnersEnv::new().await;
    let a = t.partner("Acme Labs").await;
    let b = t.partner("Bolt Inc").await;
    let x = t.published(&a, "Acme X", None).await;
    let a_key = t.api_key(&a, &[]).await;
    let b_key = t.api_key(&b, &[]).await;
    let user = t.env.register(&unique_email("user")).await;
    let token = t.env.solution_token(&user.access_token, &x).await["token"].as_str().expect("token").to_owned();
    let validate = |key: &str| {
        let body = Body::Text(json!({"token": token}).to_string());
        let key = key.to_owned();
        let t = &t;
        async move { t.env.call_with("POST", "/api/validate-token", body, None, &[("x-api-key", key.as_str())]).await }
    };
    let ok = validate(&a_key).await;
    assert_eq!((ok.status, ok.body["solution_id"].as_str()), (200, Some(x.as_str())), "{:?}", ok.body);
    let foreign = validate(&b_key).await;
    assert_eq!((foreign.status, foreign.body["code"].as_str()), (403, Some("api_key_not_allowed")));
    let bad = validate("mk_nope").await;
    assert_eq!(bad.status, 401);
    // And a key with a user's solution token on track-usage: the token's solution must be covered.
    let tracked = t
        .env
        .call_with(
            "POST",
            "/api/track-usage",
            Body::Text(json!({"action": "search"}).to_string()),
            Some(&token),
            &[("x-api-key", b_key.as_str())],
        )
        .await;
    assert_eq!(tracked.status, 403);
    let tracked = t
        .env
        .call_with(
            "POST",
            "/api/track-usage",
            Body::Text(json!({"action": "search"}).to_string()),
            Some(&token),
            &[("x-api-key", a_key.as_str())],
        )
        .await;
    assert_eq!(tracked.status, 200, "{:?}", tracked.body);
}
