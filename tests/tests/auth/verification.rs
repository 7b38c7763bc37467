//! Verified email addresses: registration emails a single-use link valid for 24 hours (through the outbox),
//! `verify-email` uses it, `resend-verification` is throttled per account, and free tiers need none of it.

use integration_tests::harness::{Reply, TestEnv, unique_email};
use serde_json::{Value, json};
use shared::model::SolutionStatus;
use shared::platform::clock::Clock;
use shared::store::keys;
use shared::store::outbox::NotificationItem;
use shared::store::users::UserItem;
use shared::store::verification::EmailVerificationItem;

async fn verify(env: &TestEnv, token: &str) -> Reply {
    env.call("POST", "/api/auth/verify-email", Some(json!({"token": token})), None).await
}

async fn resend(env: &TestEnv, access: &str) -> Reply {
    env.call("POST", "/api/auth/resend-verification", None, Some(access)).await
}

async fn email_verified(env: &TestEnv, access: &str) -> Value {
    let r = env.call("GET", "/api/user-context", None, Some(access)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["user"]["email_verified"].clone()
}

fn code(r: &Reply) -> (u16, Option<&str>) {
    (r.status, r.body["code"].as_str())
}

fn retry_after(r: &Reply) -> i64 {
    r.headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After: {:?}", r.headers))
}

#[tokio::test]
async fn registration_mails_a_single_use_link_that_verifies_the_address() {
    let env = TestEnv::new().await;
    let email = unique_email("verify");
    let (session, token) = env.register_unverified(&email).await;
    assert_eq!(email_verified(&env, &session.access_token).await, Value::Bool(false));

    // The mail waits in the outbox for the address itself; only the token's hash is stored with the link.
    let mail: NotificationItem = env
        .store
        .get(&keys::outbox(&shared::auth::verification::registration_notification_id(&session.user_id)), true)
        .await
        .expect("read")
        .expect("mail");
    assert_eq!(
        (mail.kind.as_str(), mail.customer_id.as_str(), mail.status.as_str()),
        ("email_verification", session.user_id.as_str(), "pending")
    );
    assert_eq!(mail.data["email"], email.as_str());
    let hash = shared::platform::crypto::sha256_hex(token.as_bytes());
    let link: EmailVerificationItem =
        env.store.get(&keys::email_verification(&hash), true).await.expect("read").expect("link by hash");
    assert_eq!((link.user_id.as_str(), link.email.as_str()), (session.user_id.as_str(), email.as_str()));
    assert!(!serde_json::to_string(&link).expect("json").contains(&token), "the token itself is not stored");
    assert!((link.valid_until - env.clock.now().timestamp() - 86_400).abs() <= 1 && link.expires_at > link.valid_until);

    let ok = verify(&env, &token).await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert_eq!(ok.body, json!({"user_id": session.user_id, "email": email, "email_verified": true}));
    assert_eq!(email_verified(&env, &session.access_token).await, Value::Bool(true));
    let user: UserItem = env.store.get_user(&session.user_id).await.expect("read").expect("user");
    assert!(user.email_verified && user.email_verified_at.is_some());

    // Single use: the same link again is refused (and says why); garbage and unknown links are 400.
    let again = verify(&env, &token).await;
    assert_eq!(code(&again), (410, Some("verification_used")), "{:?}", again.body);
    assert_eq!(again.content_type(), "application/problem+json");
    for bad in ["nonsense", "ev_short", &format!("ev_{}", "A".repeat(43)), &format!("{token}x")] {
        let r = verify(&env, bad).await;
        assert_eq!(code(&r), (400, Some("verification_invalid")), "{bad}: {:?}", r.body);
        assert_eq!(r.body["errors"][0]["field"], "token");
    }
    // Verified: nothing to resend.
    assert_eq!(code(&resend(&env, &session.access_token).await), (409, Some("email_already_verified")));
}

#[tokio::test]
async fn a_link_expires_after_24_hours() {
    let env = TestEnv::new().await;
    let (late, late_token) = env.register_unverified(&unique_email("late")).await;
    let (timely, timely_token) = env.register_unverified(&unique_email("timely")).await;
    env.clock.advance(chrono::Duration::hours(24) - chrono::Duration::seconds(2));
    assert_eq!(verify(&env, &timely_token).await.status, 200, "valid until the 24th hour");
    env.clock.advance(chrono::Duration::seconds(2));
    let r = verify(&env, &late_token).await;
    assert_eq!(code(&r), (410, Some("verification_expired")), "{:?}", r.body);
    assert_eq!(email_verified(&env, &late.access_token).await, Value::Bool(false));
    assert_eq!(email_verified(&env, &timely.access_token).await, Value::Bool(true));
    // A new link works where the expired one did not.
    let sent = resend(&env, &late.access_token).await;
    assert_eq!(sent.status, 202, "{:?}", sent.body);
    let id = format!("email-verification:{}:{}", late.user_id, env.clock.now().timestamp());
    let fresh = env.verification_token(&id).await;
    assert_ne!(fresh, late_token);
    env.verify_email(&fresh).await;
    assert_eq!(email_verified(&env, &late.access_token).await, Value::Bool(true));
}

#[tokio::test]
async fn resends_are_throttled_to_one_a_minute_and_five_a_day() {
    let env = TestEnv::new().await;
    let (user, _) = env.register_unverified(&unique_email("resend")).await;
    // The registration mail counts: a resend right away waits out the minute.
    let soon = resend(&env, &user.access_token).await;
    assert_eq!(code(&soon), (429, Some("too_many_requests")), "{:?}", soon.body);
    assert_eq!(soon.content_type(), "application/problem+json");
    assert!((1..=60).contains(&retry_after(&soon)), "{:?}", soon.headers);
    let start = env.clock.now().timestamp();
    // Four more, a minute apart (five in the day with the registration's).
    for i in 1..=4 {
        env.clock.advance(chrono::Duration::seconds(61));
        let r = resend(&env, &user.access_token).await;
        assert_eq!(r.status, 202, "resend {i}: {:?}", r.body);
        assert_eq!(r.body["email"], env.store.get_user(&user.user_id).await.expect("read").expect("user").email);
        assert_eq!((r.body["expires_in"].as_i64(), r.body["retry_after"].as_i64()), (Some(86_400), Some(60)));
    }
    // The sixth in the day: refused until the day's window (from the registration) is over.
    env.clock.advance(chrono::Duration::seconds(61));
    let sixth = resend(&env, &user.access_token).await;
    assert_eq!(code(&sixth), (429, Some("too_many_requests")), "{:?}", sixth.body);
    let elapsed = env.clock.now().timestamp() - start;
    assert!((retry_after(&sixth) - (86_400 - elapsed)).abs() <= 2, "{} vs {}", retry_after(&sixth), 86_400 - elapsed);
    env.clock.advance(chrono::Duration::seconds(retry_after(&sixth)));
    assert_eq!(resend(&env, &user.access_token).await.status, 202, "a new day's window");

    // Concurrent resends a minute later: exactly one goes.
    env.clock.advance(chrono::Duration::seconds(61));
    let replies =
        env.post_concurrently_as("/api/auth/resend-verification", vec![json!({}); 6], Some(&user.access_token)).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 202).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 202 || *s == 429), "{statuses:?}");

    // Without a session: 401.
    assert_eq!(env.call("POST", "/api/auth/resend-verification", None, None).await.status, 401);
}

#[tokio::test]
async fn free_tiers_need_no_verified_address() {
    let env = TestEnv::new().await;
    let solution = env.solution(SolutionStatus::Published).await;
    let (user, _) = env.register_unverified(&unique_email("free")).await;
    let token = env.solution_token(&user.access_token, &solution.solution_id).await;
    assert_eq!(token["tier"], "free");
    let bearer = token["token"].as_str().expect("token");
    let tracked = env.call("POST", "/api/track-usage", Some(json!({"action": "search"})), Some(bearer)).await;
    assert_eq!((tracked.status, &tracked.body["allowed"]), (200, &Value::Bool(true)), "{:?}", tracked.body);
    let valid = env.call("POST", "/api/validate-token", Some(json!({"token": bearer})), None).await;
    assert_eq!(valid.status, 200, "{:?}", valid.body);
    assert_eq!(email_verified(&env, &user.access_token).await, Value::Bool(false));
    // Resending is the account's business: a solution token is refused.
    assert_eq!(resend(&env, bearer).await.status, 401);
}

#[tokio::test]
async fn seeded_admins_and_partners_are_verified_and_old_accounts_are_not() {
    let env = TestEnv::new().await;
    let admin = env.admin().await;
    assert_eq!(email_verified(&env, &admin.access_token).await, Value::Bool(true));
    let solution = env.solution(SolutionStatus::Published).await;
    let partner = env.store.get_solution(&solution.solution_id).await.expect("read").expect("solution").partner_id;
    let owner = env.store.get_partner(&partner).await.expect("read").expect("partner").user_id;
    assert!(env.store.get_user(&owner).await.expect("read").expect("user").email_verified);
    // A user item written before verification existed (no flag) reads as unverified.
    let user = env.register(&unique_email("old")).await;
    let mut raw: Value = env.store.get(&keys::user(&user.user_id), true).await.expect("read").expect("item");
    raw.as_object_mut().expect("map").remove("email_verified");
    env.store.put(&raw, None).await.expect("write");
    assert_eq!(email_verified(&env, &user.access_token).await, Value::Bool(false));
}
