//! `GET /api/admin/users?email=`: an admin finds an account by its address, matched as login matches it
//! (trimmed, any case); everyone else is refused (non-admins 403, solution tokens and partner API keys 401),
//! and a missing or malformed address is a 400 naming `email`, an unknown one a 404 `user_not_found`.

use integration_tests::harness::{Reply, unique_email};
use integration_tests::partners::PartnersEnv;
use serde_json::json;

fn code(r: &Reply) -> (u16, &str) {
    (r.status, r.body["code"].as_str().unwrap_or(""))
}

fn field(r: &Reply) -> (u16, &str) {
    (r.status, r.body["errors"][0]["field"].as_str().unwrap_or(""))
}

fn find_uri(email: &str) -> String {
    format!("/api/admin/users?email={}", url::form_urlencoded::byte_serialize(email.as_bytes()).collect::<String>())
}

#[tokio::test]
async fn an_admin_finds_a_user_by_email_as_login_matches_it() {
    Box::pin(admin_finds()).await;
}

async fn admin_finds() {
    let p = PartnersEnv::new().await;
    let admin = p.admin.access_token.clone();
    let email = unique_email("ada");
    let user = p.env.register(&email).await;
    let context = p.env.call("GET", "/api/user-context", None, Some(&user.access_token)).await;
    assert_eq!(context.status, 200, "{:?}", context.body);
    // The address as registered, in capitals, with surrounding spaces: the same account, shown as the user
    // context shows its profile.
    for asked in [email.clone(), email.to_uppercase(), format!("  {}  ", email.to_uppercase())] {
        let r = p.env.call("GET", &find_uri(&asked), None, Some(&admin)).await;
        assert_eq!(r.status, 200, "{asked}: {:?}", r.body);
        assert_eq!(r.body, context.body["user"], "{asked}");
    }
    let r = p.env.call("GET", &find_uri(&email), None, Some(&admin)).await;
    let keys: Vec<&str> = r.body.as_object().expect("object").keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 6, "{keys:?}");
    assert_eq!(
        (r.body["user_id"].as_str(), r.body["email"].as_str(), r.body["role"].as_str()),
        (Some(user.user_id.as_str()), Some(email.as_str()), Some("user"))
    );
    assert!(r.body.get("password_hash").is_none());
    // A partner and an admin are found with their roles.
    let partner = p.partner("Found Co").await;
    let r = p.env.call("GET", &find_uri(&partner.email), None, Some(&admin)).await;
    assert_eq!((r.status, r.body["role"].as_str()), (200, Some("partner")), "{:?}", r.body);

    // Nobody registered with this address.
    let r = p.env.call("GET", &find_uri(&unique_email("nobody")), None, Some(&admin)).await;
    assert_eq!(code(&r), (404, "user_not_found"), "{:?}", r.body);
    assert_eq!(field(&r), (404, "email"));
    assert_eq!(r.content_type(), "application/problem+json");
}

#[tokio::test]
async fn only_an_admins_session_may_look_users_up() {
    Box::pin(only_admins()).await;
}

async fn only_admins() {
    let p = PartnersEnv::new().await;
    let email = unique_email("target");
    let user = p.env.register(&email).await;
    let uri = find_uri(&email);
    // Users and partners (even for their own address, even without an address): 403.
    let partner = p.partner("Curious Co").await;
    for bearer in [&user.access_token, &partner.session.access_token] {
        for uri in [uri.clone(), find_uri(&partner.email), "/api/admin/users".to_owned()] {
            let r = p.env.call("GET", &uri, None, Some(bearer)).await;
            assert_eq!(code(&r), (403, "forbidden"), "{uri}: {:?}", r.body);
        }
    }
    // Solution tokens, the admin's own included: 401 wrong_token_kind.
    let solution = p.published(&partner, "Lookup", None).await;
    for session in [&user.access_token, &p.admin.access_token] {
        let token = p.env.solution_token(session, &solution).await["token"].as_str().expect("token").to_owned();
        let r = p.env.call("GET", &uri, None, Some(&token)).await;
        assert_eq!(code(&r), (401, "wrong_token_kind"), "{:?}", r.body);
    }
    // A partner API key is no credential here: alone 401; beside a user's session, the session decides (403).
    let key = p.api_key(&partner, &[]).await;
    let r = p.call_with("GET", &uri, None, None, &[("x-api-key", &key)]).await;
    assert_eq!(code(&r), (401, "unauthorized"), "{:?}", r.body);
    let r = p.call_with("GET", &uri, None, Some(&user.access_token), &[("x-api-key", &key)]).await;
    assert_eq!(code(&r), (403, "forbidden"), "{:?}", r.body);
    // No credential; a revoked admin session.
    assert_eq!(code(&p.env.call("GET", &uri, None, None).await), (401, "unauthorized"));
    let admin = p.env.admin().await;
    let revoked = p
        .env
        .call("DELETE", "/api/revoke-token", Some(json!({"token": admin.access_token})), Some(&admin.access_token))
        .await;
    assert_eq!(revoked.status, 204, "{:?}", revoked.body);
    assert_eq!(code(&p.env.call("GET", &uri, None, Some(&admin.access_token)).await), (401, "revoked"));
    // The admin's live session finds the user.
    let r = p.env.call("GET", &uri, None, Some(&p.admin.access_token)).await;
    assert_eq!((r.status, r.body["user_id"].as_str()), (200, Some(user.user_id.as_str())));
}

#[tokio::test]
async fn a_missing_or_malformed_address_is_a_400_naming_email() {
    let p = PartnersEnv::new().await;
    let admin = p.admin.access_token.clone();
    let mut uris = vec![
        "/api/admin/users".to_owned(),
        "/api/admin/users?email=".to_owned(),
        "/api/admin/users?mail=a@b.co".to_owned(),
    ];
    for bad in ["not-an-email", "a@b", "@example.com", "a b@example.com", "a@@example.com", "a@example..com", "   "] {
        uris.push(find_uri(bad));
    }
    uris.push(find_uri(&format!("{}@example.com", "a".repeat(250))));
    for uri in uris {
        let r = p.env.call("GET", &uri, None, Some(&admin)).await;
        assert_eq!(field(&r), (400, "email"), "{uri}: {:?}", r.body);
        assert_eq!(code(&r), (400, "validation_failed"));
        assert_eq!(r.content_type(), "application/problem+json");
    }
}
