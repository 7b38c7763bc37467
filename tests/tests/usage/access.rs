use super::fixture;
use integration_tests::harness::{PASSWORD, unique_email};
use lambda_http::Body;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_usage_carries_into_the_new_account() {
    let f = fixture().await;
    let visitor = format!("visitor-{}", ulid::Ulid::new());
    let sid = f.solution.solution_id.clone();
    for _ in 0..3 {
        let r = f
            .env
            .call_with(
                "POST",
                "/api/track-usage",
                Body::Text(json!({"action": "try", "solution_id": sid}).to_string()),
                None,
                &[("x-anonymous-id", &visitor)],
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["limit"], 10, "anonymous tier");
    }
    let email = unique_email("convert");
    let r = f
        .env
        .call_with(
            "POST",
            "/api/auth/register",
            Body::Text(json!({"email": email, "password": PASSWORD, "name": "Convert"}).to_string()),
            None,
            &[("x-anonymous-id", &visitor)],
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let user_id = r.body["user_id"].as_str().expect("user").to_owned();
    let access = r.body["access_token"].as_str().expect("access").to_owned();
    let q = f.env.call("GET", &format!("/api/quotas/{user_id}/{sid}"), None, Some(&access)).await;
    assert_eq!(
        (q.body["used"].as_u64(), q.body["tier"].as_str(), q.body["limit"].as_u64()),
        (Some(3), Some("free"), Some(100))
    );
    // The new account's token sees the same quota in validate-token and user-context.
    let token = f.env.solution_token(&access, &sid).await["token"].as_str().expect("token").to_owned();
    let v = f.env.call("POST", "/api/validate-token", Some(json!({"token": token})), None).await;
    assert_eq!(v.body["quota"]["used"], 3);
    assert_eq!(v.body["quota"]["limit"], 100);
    let ctx = f.env.call("GET", "/api/user-context", None, Some(&token)).await;
    assert_eq!(ctx.body["quota"]["used"], 3);
    let r = f.env.call("POST", "/api/track-usage", Some(json!({"action": "try"})), Some(&token)).await;
    assert_eq!(r.body["used"], 4);
    // An invalid anonymous id on registration is named.
    let bad = f
        .env
        .call_with(
            "POST",
            "/api/auth/register",
            Body::Text(json!({"email": unique_email("bad"), "password": PASSWORD, "name": "B"}).to_string()),
            None,
            &[("x-anonymous-id", "no")],
        )
        .await;
    assert_eq!((bad.status, bad.body["errors"][0]["field"].as_str()), (400, Some("X-Anonymous-Id")));
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_reset_is_audited_and_others_are_refused() {
    let f = fixture().await;
    f.track(json!({"action": "a", "quantity": 5})).await;
    let body = json!({"customer_id": f.user_id, "solution_id": f.solution.solution_id, "reason": "support ticket 7"});
    let denied = f.env.call("POST", "/api/reset-quota", Some(body.clone()), Some(&f.access)).await;
    assert_eq!((denied.status, denied.body["code"].as_str()), (403, Some("forbidden")));
    assert_eq!(f.quota().await["used"], 5);

    let r = f.env.call("POST", "/api/reset-quota", Some(body), Some(&f.admin)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!((r.body["previous_used"].as_u64(), r.body["used"].as_u64()), (Some(5), Some(0)));
    assert_eq!(f.quota().await["used"], 0);
    let subject = format!("customer#{}/solution#{}", f.user_id, f.solution.solution_id);
    let audit = f.env.store.audit_trail(&subject).await.expect("audit");
    assert_eq!(audit.len(), 1);
    assert_eq!((audit[0].kind.as_str(), audit[0].subject.as_str()), ("quota.reset", subject.as_str()));
    assert_eq!(audit[0].details["previous_used"], "5");
    assert_eq!(audit[0].reason.as_deref(), Some("support ticket 7"));
    assert_ne!(audit[0].actor, f.user_id);
    assert_eq!(r.body["reset_by"], audit[0].actor.as_str());
    assert_eq!(r.body["audit_id"], audit[0].audit_id.as_str());
    // Counting resumes from zero; the per-action history keeps every unit.
    assert_eq!(f.track(json!({"action": "a"})).await.body["used"], 1);
    let h = f.env.call("GET", &format!("/api/usage/{}", f.user_id), None, Some(&f.access)).await;
    assert_eq!(h.body["days"][0]["used"], 1);
    assert_eq!(h.body["days"][0]["actions"]["a"], 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn customers_read_only_their_own_usage() {
    let f = fixture().await;
    f.track(json!({"action": "search", "quantity": 2})).await;
    f.track(json!({"action": "export"})).await;
    let other = f.env.register(&unique_email("other")).await;
    for path in [format!("/api/usage/{}", f.user_id), format!("/api/quotas/{}/{}", f.user_id, f.solution.solution_id)] {
        let r = f.env.call("GET", &path, None, Some(&other.access_token)).await;
        assert_eq!(r.status, 403, "{path}");
        let own = f.env.call("GET", &path, None, Some(&f.access)).await;
        assert_eq!(own.status, 200, "{path}");
        let admin = f.env.call("GET", &path, None, Some(&f.admin)).await;
        assert_eq!(admin.status, 200, "{path}");
        assert_eq!(f.env.call("GET", &path, None, None).await.status, 401);
    }
    let h = f
        .env
        .call("GET", &format!("/api/usage/{}?solution_id={}", f.user_id, f.solution.solution_id), None, Some(&f.access))
        .await;
    let day = &h.body["days"][0];
    assert_eq!((day["used"].as_u64(), day["limit"].as_u64()), (Some(3), Some(100)));
    assert_eq!(day["actions"], json!({"search": 2, "export": 1}));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_a_4xx_naming_the_field() {
    let f = fixture().await;
    let visitor = format!("visitor-{}", ulid::Ulid::new());
    let cases = [
        (json!({"action": "a", "quantity": 0}), "quantity", 400),
        (json!({"action": "a", "quantity": 10_001}), "quantity", 400),
        (json!({"action": "a", "quantity": "1"}), "quantity", 400),
        (json!({"quantity": 1}), "action", 400),
        (json!({"action": ""}), "action", 400),
        (json!({"action": "a", "metadata": [1]}), "metadata", 400),
        (json!({"action": "a", "idempotency_key": ""}), "idempotency_key", 400),
        (json!({"action": "a", "tier": "pro"}), "tier", 400),
    ];
    for (body, field, status) in cases {
        let r = f.track(body.clone()).await;
        assert_eq!(r.status, status, "{body}: {:?}", r.body);
        assert_eq!(r.content_type(), "application/problem+json");
        assert_eq!(r.body["errors"][0]["field"], field, "{body}");
    }
    // Unknown solution (anonymous), missing solution_id, and no caller at all.
    let anon = |body: serde_json::Value| {
        let env = &f.env;
        let visitor = visitor.clone();
        async move {
            env.call_with(
                "POST",
                "/api/track-usage",
                Body::Text(body.to_string()),
                None,
                &[("x-anonymous-id", &visitor)],
            )
            .await
        }
    };
    let r = anon(json!({"action": "a", "solution_id": shared::platform::ids::solution_id()})).await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (404, Some("solution_id")));
    let r = anon(json!({"action": "a"})).await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (400, Some("solution_id")));
    let r = f.env.call("POST", "/api/track-usage", Some(json!({"action": "a"})), None).await;
    assert_eq!(r.status, 401);
    // A token for this solution cannot count against another one.
    let r = f.track(json!({"action": "a", "solution_id": shared::platform::ids::solution_id()})).await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (400, Some("solution_id")));
    // The idempotency key may come as a header; it must not contradict the body.
    let header = |key: &'static str, body: serde_json::Value| {
        let env = &f.env;
        let token = f.token.clone();
        async move {
            env.call_with(
                "POST",
                "/api/track-usage",
                Body::Text(body.to_string()),
                Some(&token),
                &[("idempotency-key", key)],
            )
            .await
        }
    };
    let first = header("h-1", json!({"action": "a"})).await;
    assert_eq!(first.status, 200);
    assert_eq!(header("h-1", json!({"action": "a"})).await.body, first.body);
    let r = header("h-1", json!({"action": "a", "idempotency_key": "other"})).await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (400, Some("idempotency_key")));
    // Limits: daily_limit must be given (null means unlimited), only by admins.
    let r = f
        .env
        .call(
            "PUT",
            "/api/tier-limits",
            Some(json!({"solution_id": f.solution.solution_id, "tier": "pro"})),
            Some(&f.admin),
        )
        .await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (400, Some("daily_limit")));
    let r =
        f.env.call("PUT", "/api/tier-limits", Some(json!({"tier": "pro", "daily_limit": 5})), Some(&f.access)).await;
    assert_eq!(r.status, 403);
    // Bad dates in the history.
    let r = f.env.call("GET", &format!("/api/usage/{}?from=yesterday", f.user_id), None, Some(&f.access)).await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (400, Some("from")));
}
