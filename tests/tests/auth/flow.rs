use integration_tests::harness::{PASSWORD, TestEnv, unique_email};
use serde_json::json;
use shared::model::SolutionStatus;

#[tokio::test(flavor = "multi_thread")]
async fn register_login_generate_validate_refresh_revoke() {
    let env = TestEnv::new().await;
    let solution = env.solution(SolutionStatus::Published).await;
    let email = unique_email("flow");

    // Register (email normalised) and log in with a differently-cased address.
    let session = env.register(&email.to_uppercase()).await;
    assert_eq!(session.token_type, "Bearer");
    assert_eq!(session.expires_in, 900);
    let login = env.login(&email).await;
    assert_eq!(login.user_id, session.user_id);

    // Generate a solution token.
    let generated = env.solution_token(&login.access_token, &solution.solution_id).await;
    let token = generated["token"].as_str().expect("token").to_owned();
    let token_id = generated["token_id"].as_str().expect("token_id").to_owned();
    assert_eq!(generated["tier"], "free");
    assert_eq!(generated["scopes"], json!(["usage:read", "usage:track"]));

    // Validate.
    let v = env.call("POST", "/api/validate-token", Some(json!({"token": token})), None).await;
    assert_eq!(v.status, 200, "{:?}", v.body);
    assert_eq!(v.body["valid"], true);
    assert_eq!(v.body["user_id"], session.user_id.as_str());
    assert_eq!(v.body["email"], email.as_str());
    assert_eq!(v.body["solution_id"], solution.solution_id.as_str());
    assert_eq!(v.body["token_id"], token_id.as_str());
    assert_eq!(v.body["tier"], "free");

    // Refresh the solution token: a new token and a new refresh token, the old refresh token is spent.
    let refresh = generated["refresh_token"].as_str().expect("refresh").to_owned();
    let r = env.call("POST", "/api/refresh-token", Some(json!({"refresh_token": refresh})), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let new_token = r.body["token"].as_str().expect("token").to_owned();
    assert_ne!(new_token, token);
    assert_ne!(r.body["refresh_token"], refresh.as_str());
    assert_eq!(r.body["solution_id"], solution.solution_id.as_str());

    // The session's refresh token works too and yields a session.
    let s = env.call("POST", "/api/refresh-token", Some(json!({"refresh_token": login.refresh_token})), None).await;
    assert_eq!(s.status, 200, "{:?}", s.body);
    assert!(s.body["access_token"].is_string());

    // Revoke the first token: it and its refreshed successor are revoked.
    let del =
        env.call("DELETE", "/api/revoke-token", Some(json!({"token_id": token_id})), Some(&login.access_token)).await;
    assert_eq!(del.status, 204, "{:?}", del.body);
    for t in [&token, &new_token] {
        let v = env.call("POST", "/api/validate-token", Some(json!({"token": t})), None).await;
        assert_eq!(v.status, 401);
        assert_eq!(v.body["valid"], false);
        assert_eq!(v.body["code"], "revoked");
    }
    // And its refresh token is dead.
    let r2 =
        env.call("POST", "/api/refresh-token", Some(json!({"refresh_token": r.body["refresh_token"]})), None).await;
    assert_eq!(r2.status, 401);
    assert_eq!(r2.body["code"], "revoked");

    // The password is not stored in clear anywhere in the user's items.
    let (user, _) = env.store.user_with_entitlements(&session.user_id).await.expect("read");
    let user = user.expect("user");
    assert!(!user.password_hash.contains(PASSWORD));
    assert!(user.password_hash.starts_with("$argon2id$"));
}

#[tokio::test(flavor = "multi_thread")]
async fn revoke_by_token_and_session_revocation_stops_api_access() {
    let env = TestEnv::new().await;
    let session = env.register(&unique_email("rev")).await;
    let del = env
        .call("DELETE", "/api/revoke-token", Some(json!({"token": session.access_token})), Some(&session.access_token))
        .await;
    assert_eq!(del.status, 204, "{:?}", del.body);
    let ctx = env.call("GET", "/api/user-context", None, Some(&session.access_token)).await;
    assert_eq!(ctx.status, 401);
    assert_eq!(ctx.body["code"], "revoked");
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_reuse_revokes_the_whole_family() {
    let env = TestEnv::new().await;
    let session = env.register(&unique_email("reuse")).await;
    let first =
        env.call("POST", "/api/refresh-token", Some(json!({"refresh_token": session.refresh_token})), None).await;
    assert_eq!(first.status, 200);
    let second =
        env.call("POST", "/api/refresh-token", Some(json!({"refresh_token": first.body["refresh_token"]})), None).await;
    assert_eq!(second.status, 200);

    // Replaying the original (stolen) refresh token is detected...
    let replay =
        env.call("POST", "/api/refresh-token", Some(json!({"refresh_token": session.refresh_token})), None).await;
    assert_eq!(replay.status, 401);
    assert_eq!(replay.body["code"], "refresh_token_reused");
    assert_eq!(replay.content_type(), "application/problem+json");

    // ...and every descendant is revoked: the latest refresh token and the access tokens.
    let latest = env
        .call("POST", "/api/refresh-token", Some(json!({"refresh_token": second.body["refresh_token"]})), None)
        .await;
    assert_eq!(latest.status, 401);
    assert_eq!(latest.body["code"], "revoked");
    for access in [&session.access_token, second.body["access_token"].as_str().expect("access")] {
        let ctx = env.call("GET", "/api/user-context", None, Some(access)).await;
        assert_eq!(ctx.status, 401);
        assert_eq!(ctx.body["code"], "revoked");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_refresh_of_one_token_lets_exactly_one_through() {
    let env = TestEnv::new().await;
    let session = env.register(&unique_email("race")).await;
    let bodies = vec![json!({"refresh_token": session.refresh_token}); 8];
    let statuses = env.post_concurrently("/api/refresh-token", bodies).await;
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 401), "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_concurrent_registrations_of_one_email_make_one_account() {
    let env = TestEnv::new().await;
    let email = unique_email("dup");
    // Differently-cased spellings of the same address.
    let bodies = (0..20)
        .map(|i| {
            let spelled = if i % 2 == 0 { email.clone() } else { email.to_uppercase() };
            json!({"email": spelled, "password": PASSWORD, "name": "Racer"})
        })
        .collect();
    let statuses = env.post_concurrently("/api/auth/register", bodies).await;
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 19, "{statuses:?}");
    let again = env
        .call("POST", "/api/auth/register", Some(json!({"email": email, "password": PASSWORD, "name": "Late"})), None)
        .await;
    assert_eq!(again.status, 409);
    assert_eq!(again.body["code"], "email_taken");
}

#[tokio::test(flavor = "multi_thread")]
async fn login_refuses_unknown_email_and_wrong_password_alike() {
    let env = TestEnv::new().await;
    let email = unique_email("login");
    env.register(&email).await;
    let wrong =
        env.call("POST", "/api/auth/login", Some(json!({"email": email, "password": "wrong password!"})), None).await;
    let unknown = env
        .call("POST", "/api/auth/login", Some(json!({"email": unique_email("nobody"), "password": PASSWORD})), None)
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.body["code"], "invalid_credentials");
}

#[tokio::test(flavor = "multi_thread")]
async fn tiers_user_solutions_context_and_jwks() {
    let env = TestEnv::new().await;
    let published = env.solution(SolutionStatus::Published).await;
    let draft = env.solution(SolutionStatus::Draft).await;
    let admin = env.admin().await;
    let user = env.register(&unique_email("tier")).await;

    // Draft solutions can't be used.
    let r = env
        .call("POST", "/api/generate-token", Some(json!({"solution_id": draft.solution_id})), Some(&user.access_token))
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["code"], "solution_not_found");

    let set = |who: String| {
        let body = json!({"user_id": user.user_id, "solution_id": published.solution_id, "tier": "pro"});
        let env = &env;
        async move { env.call("PUT", "/api/user-tier", Some(body), Some(&who)).await }
    };
    let denied = set(user.access_token.clone()).await;
    assert_eq!(denied.status, 403);
    assert_eq!(denied.body["code"], "forbidden");
    let ok = set(admin.access_token.clone()).await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert_eq!(ok.body["tier"], "pro");
    assert_eq!(ok.body["updated_by"], admin.user_id.as_str());

    let unknown_user = env
        .call(
            "PUT",
            "/api/user-tier",
            Some(json!({"user_id": shared::platform::ids::user_id(), "solution_id": published.solution_id, "tier": "pro"})),
            Some(&admin.access_token),
        )
        .await;
    assert_eq!(unknown_user.status, 404);
    assert_eq!(unknown_user.body["code"], "user_not_found");

    // The tier shows in new tokens, validation, user-solutions and user-context.
    let generated = env.solution_token(&user.access_token, &published.solution_id).await;
    assert_eq!(generated["tier"], "pro");
    let sols = env.call("GET", "/api/user-solutions", None, Some(&user.access_token)).await;
    assert_eq!(sols.status, 200);
    let listed = sols.body["solutions"].as_array().expect("array");
    assert_eq!(listed.len(), 1, "only published solutions: {listed:?}");
    assert_eq!(listed[0]["tier"], "pro");
    let ctx = env.call("GET", "/api/user-context", None, Some(generated["token"].as_str().expect("token"))).await;
    assert_eq!(ctx.status, 200, "{:?}", ctx.body);
    assert_eq!(ctx.body["user"]["user_id"], user.user_id.as_str());
    assert_eq!(ctx.body["user"]["role"], "user");
    assert_eq!(ctx.body["solutions"][0]["tier"], "pro");
    assert_eq!(ctx.body["token"]["kind"], "solution");
    assert_eq!(ctx.body["subscriptions"], json!([]));
    assert!(ctx.body["user"].get("password_hash").is_none());

    // A downgrade by the admin is seen by validation of an existing token at once.
    let body = json!({"user_id": user.user_id, "solution_id": published.solution_id, "tier": "free"});
    assert_eq!(env.call("PUT", "/api/user-tier", Some(body), Some(&admin.access_token)).await.status, 200);
    let v = env.call("POST", "/api/validate-token", Some(json!({"token": generated["token"]})), None).await;
    assert_eq!(v.body["tier"], "free");

    let jwks = env.call("GET", "/.well-known/jwks.json", None, None).await;
    assert_eq!(jwks.status, 200);
    assert_eq!(jwks.body["keys"][0]["kty"], "OKP");
    assert_eq!(jwks.body["keys"][0]["alg"], "EdDSA");
    assert_eq!(jwks.body["keys"][0]["kid"], env.keys().current_kid());
    assert!(jwks.headers.get("cache-control").and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("max-age")));
}
