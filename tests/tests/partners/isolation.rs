//! One partner cannot read or change another's applications, keys, solutions, analytics or revenue; users
//! cannot publish or approve.

use integration_tests::harness::unique_email;
use integration_tests::partners::{PartnersEnv, solution_body};
use serde_json::json;

#[tokio::test]
async fn partners_are_isolated_from_each_other() {
    let t = PartnersEnv::new().await;
    let a = t.partner("Acme Labs").await;
    let b = t.partner("Bolt Inc").await;
    let b_solution = t.draft(&b, "Bolt Search", None).await;
    let b_key = t.api_key(&b, &[]).await;
    assert!(b_key.starts_with("mk_"));
    let a_token = Some(a.session.access_token.as_str());
    let bid = &b.partner_id;
    for (method, uri) in [
        ("GET", format!("/api/partners/{bid}")),
        ("GET", format!("/api/partners/{bid}/solutions")),
        ("GET", format!("/api/partners/{bid}/api-keys")),
        ("POST", format!("/api/partners/{bid}/api-keys")),
        ("GET", format!("/api/partners/solutions/{b_solution}")),
        ("PUT", format!("/api/partners/solutions/{b_solution}")),
        ("POST", format!("/api/partners/solutions/{b_solution}/submit")),
        ("POST", format!("/api/partners/solutions/{b_solution}/retire")),
        ("POST", format!("/api/partners/solutions/{b_solution}/assets")),
        ("GET", format!("/api/partners/{bid}/analytics")),
        ("GET", format!("/api/partners/{bid}/revenue")),
        ("GET", format!("/api/partners/{bid}/payouts")),
    ] {
        let body = match method {
            "POST" if uri.ends_with("api-keys") => Some(json!({"name": "steal"})),
            "POST" if uri.ends_with("assets") => Some(json!({"kind": "logo", "content_type": "image/png", "size": 10})),
            "PUT" => Some(json!({"description": "mine now"})),
            _ => None,
        };
        let reply = t.call(method, &uri, body, a_token).await;
        assert_eq!(reply.status, 403, "{method} {uri}: {:?}", reply.body);
    }
    // B's key list shows no secret; A cannot revoke it.
    let keys = t.call("GET", &format!("/api/partners/{bid}/api-keys"), None, Some(&b.session.access_token)).await;
    let key_id = keys.body["keys"][0]["key_id"].as_str().expect("key id").to_owned();
    assert!(!keys.body.to_string().contains(&b_key), "a key is shown only once");
    let revoke = t.call("DELETE", &format!("/api/partners/{bid}/api-keys/{key_id}"), None, a_token).await;
    assert_eq!(revoke.status, 403);
    // B's solution is unchanged.
    let mine =
        t.call("GET", &format!("/api/partners/solutions/{b_solution}"), None, Some(&b.session.access_token)).await;
    assert_eq!(
        (mine.body["status"].as_str(), mine.body["description"].as_str()),
        (Some("draft"), Some("Bolt Search does useful things"))
    );
    // An admin may read.
    let admin = t.call("GET", &format!("/api/partners/{bid}/solutions"), None, Some(&t.admin.access_token)).await;
    assert_eq!(admin.status, 200);
    assert_eq!(admin.body["solutions"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn users_cannot_publish_or_approve() {
    let t = PartnersEnv::new().await;
    let a = t.partner("Acme Labs").await;
    let id = t.draft(&a, "Acme Search", None).await;
    let user = t.env.register(&unique_email("user")).await;
    let token = Some(user.access_token.as_str());
    let create = t.call("POST", "/api/partners/solutions", Some(solution_body("Mine")), token).await;
    assert_eq!((create.status, create.body["code"].as_str()), (403, Some("not_a_partner")));
    for uri in [
        format!("/api/admin/solutions/{id}/approve"),
        format!("/api/admin/solutions/{id}/suspend"),
        format!("/api/admin/partners/{}/approve", a.partner_id),
    ] {
        let reply = t.call("POST", &uri, Some(json!({"reason": "because"})), token).await;
        assert_eq!(reply.status, 403, "{uri}: {:?}", reply.body);
    }
    let queue = t.call("GET", "/api/admin/solutions?status=submitted", None, token).await;
    assert_eq!(queue.status, 403);
    // Nor can a partner approve its own submission.
    let submitted =
        t.call("POST", &format!("/api/partners/solutions/{id}/submit"), None, Some(&a.session.access_token)).await;
    assert_eq!(submitted.status, 200);
    let own = t.call("POST", &format!("/api/admin/solutions/{id}/approve"), None, Some(&a.session.access_token)).await;
    assert_eq!(own.status, 403);
}
