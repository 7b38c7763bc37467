//! Throttles: failed logins per account (exponential back-off, uniform for unknown addresses, atomic under
//! concurrency) and per-source-IP limits on register, login, refresh and anonymous tracking.

use integration_tests::harness::{PASSWORD, Reply, TestEnv, api_request, from_source_ip, unique_email};
use lambda_http::{Body, Request};
use serde_json::{Value, json};
use shared::model::SolutionStatus;

async fn login(env: &TestEnv, email: &str, password: &str) -> Reply {
    env.call("POST", "/api/auth/login", Some(json!({"email": email, "password": password})), None).await
}

fn retry_after(reply: &Reply) -> u64 {
    reply
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After on {} {:?}", reply.status, reply.body))
}

/// The (status, code, Retry-After) of a reply, comparable between accounts.
fn shape(reply: &Reply) -> (u16, String, Option<String>) {
    (
        reply.status,
        reply.body["code"].as_str().unwrap_or("").to_owned(),
        reply.headers.get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned),
    )
}

#[tokio::test]
async fn five_failures_lock_logins_with_exponential_back_off_and_a_success_resets() {
    let env = TestEnv::new().await;
    let email = unique_email("guessed");
    env.register(&email).await;

    for i in 1..=5 {
        let r = login(&env, &email, "wrong password!").await;
        assert_eq!((r.status, r.body["code"].as_str()), (401, Some("invalid_credentials")), "failure {i}");
    }
    // Locked: even the right password waits, with a problem+json 429 and Retry-After.
    let locked = login(&env, &email, PASSWORD).await;
    assert_eq!((locked.status, locked.body["code"].as_str()), (429, Some("too_many_requests")), "{:?}", locked.body);
    assert_eq!(locked.content_type(), "application/problem+json");
    assert_eq!(retry_after(&locked), 30);

    // After the lock, one more failure doubles it.
    env.clock.advance(chrono::Duration::seconds(31));
    assert_eq!(login(&env, &email, "wrong again!!").await.status, 401);
    assert_eq!(retry_after(&login(&env, &email, PASSWORD).await), 60);
    env.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(login(&env, &email, "wrong again!!").await.status, 401);
    assert_eq!(retry_after(&login(&env, &email, PASSWORD).await), 120);

    // A success once the lock has passed resets the counter: five more failures before the next lock.
    env.clock.advance(chrono::Duration::seconds(121));
    assert_eq!(login(&env, &email, PASSWORD).await.status, 200);
    for _ in 0..4 {
        assert_eq!(login(&env, &email, "wrong password!").await.status, 401);
    }
    assert_eq!(login(&env, &email, PASSWORD).await.status, 200);
}

#[tokio::test]
async fn the_throttle_answers_the_same_for_unknown_addresses() {
    let env = TestEnv::new().await;
    let known = unique_email("known");
    env.register(&known).await;
    let unknown = unique_email("nobody");
    for i in 1..=7 {
        let a = login(&env, &known, "wrong password!").await;
        let b = login(&env, &unknown, "wrong password!").await;
        assert_eq!(shape(&a), shape(&b), "attempt {i}: {:?} vs {:?}", a.body, b.body);
    }
    // Addresses are one account whatever their case.
    let shouted = login(&env, &known.to_uppercase(), PASSWORD).await;
    assert_eq!(shouted.status, 429);
}

#[tokio::test]
async fn concurrent_guesses_are_each_counted() {
    let env = std::sync::Arc::new(TestEnv::new().await);
    let email = unique_email("burst");
    env.register(&email).await;
    let bodies: Vec<Value> = (0..30).map(|_| json!({"email": email, "password": "wrong password!"})).collect();
    let replies = env.post_concurrently_as("/api/auth/login", bodies, None).await;
    let checked = replies.iter().filter(|r| r.status == 401).count();
    let throttled = replies.iter().filter(|r| r.status == 429).count();
    assert_eq!(checked + throttled, 30, "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    // At most five passwords were ever checked, however the burst interleaved.
    assert!(checked <= 5, "{checked} guesses were checked");
    assert!(throttled >= 25);
    assert!(replies.iter().filter(|r| r.status == 429).all(|r| r.headers.contains_key("retry-after")));
}

/// A request as API Gateway delivers it, from `ip`.
fn from_ip(method: &str, uri: &str, body: Option<Value>, headers: &[(&str, &str)], ip: &str) -> Request {
    let body = body.map_or(Body::Empty, |b| Body::Text(b.to_string()));
    from_source_ip(api_request(method, uri, body, None, headers), ip)
}

#[tokio::test]
async fn registrations_are_limited_per_source_address() {
    let env = TestEnv::new().await;
    let register = |ip: &str| {
        let body = json!({"email": unique_email("mass"), "password": PASSWORD, "name": "Mass"});
        env.send(from_ip("POST", "/api/auth/register", Some(body), &[], ip))
    };
    for i in 0..shared::identity::throttle::REGISTER_PER_IP.max {
        assert_eq!(register("203.0.113.7").await.status, 201, "registration {i}");
    }
    let refused = register("203.0.113.7").await;
    assert_eq!((refused.status, refused.body["code"].as_str()), (429, Some("too_many_requests")));
    assert!(retry_after(&refused) <= 3_600);
    // Another address, and the next window, are not affected.
    assert_eq!(register("203.0.113.8").await.status, 201);
    // An IPv6 host cannot dodge the limit by rotating addresses inside its /64.
    for i in 0..shared::identity::throttle::REGISTER_PER_IP.max {
        let ip = format!("2001:db8:5:6::{:x}", i + 1);
        assert_eq!(register(&ip).await.status, 201);
    }
    assert_eq!(register("2001:db8:5:6:ffff::1").await.status, 429);
    env.clock.advance(chrono::Duration::seconds(3_600));
    assert_eq!(register("203.0.113.7").await.status, 201);
}

#[tokio::test]
async fn logins_and_refreshes_are_limited_per_source_address() {
    let env = TestEnv::new().await;
    // Align to the start of a minute so the window cannot roll over mid-test.
    let now = chrono::Utc::now().timestamp();
    env.clock.set(chrono::DateTime::from_timestamp(now - now.rem_euclid(60) + 60, 0).expect("time"));
    let email = unique_email("stuffed");
    env.register(&email).await;
    let mut last = None;
    for _ in 0..=shared::identity::throttle::LOGIN_PER_IP.max {
        // Different accounts each time: the per-account throttle is not what stops this.
        let body = json!({"email": unique_email("victim"), "password": "wrong password!"});
        last = Some(env.send(from_ip("POST", "/api/auth/login", Some(body), &[], "198.51.100.1")).await);
    }
    let last = last.expect("reply");
    assert_eq!((last.status, last.body["code"].as_str()), (429, Some("too_many_requests")), "{:?}", last.body);
    let body = json!({"email": email, "password": PASSWORD});
    assert_eq!(env.send(from_ip("POST", "/api/auth/login", Some(body), &[], "198.51.100.2")).await.status, 200);

    let mut statuses = Vec::new();
    for _ in 0..=shared::identity::throttle::REFRESH_PER_IP.max {
        let body = json!({"refresh_token": "rt_not_a_real_token"});
        statuses.push(env.send(from_ip("POST", "/api/refresh-token", Some(body), &[], "198.51.100.3")).await.status);
    }
    assert!(statuses[..statuses.len() - 1].iter().all(|s| *s == 401), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&429));

    let mut statuses = Vec::new();
    for _ in 0..=shared::identity::throttle::VERIFY_EMAIL_PER_IP.max {
        let body = json!({"token": "ev_not_a_real_link"});
        statuses
            .push(env.send(from_ip("POST", "/api/auth/verify-email", Some(body), &[], "198.51.100.4")).await.status);
    }
    assert!(statuses[..statuses.len() - 1].iter().all(|s| *s == 400), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&429));
}

#[tokio::test]
async fn anonymous_tracking_is_limited_per_address_and_authenticated_tracking_is_not() {
    let env = TestEnv::new().await;
    let now = chrono::Utc::now().timestamp();
    env.clock.set(chrono::DateTime::from_timestamp(now - now.rem_euclid(60) + 60, 0).expect("time"));
    let solution = env.solution(SolutionStatus::Published).await.solution_id;
    let session = env.register(&unique_email("tracker")).await;
    let token = env.solution_token(&session.access_token, &solution).await;
    let bearer = format!("Bearer {}", token["token"].as_str().expect("token"));
    let limit = shared::identity::throttle::ANONYMOUS_TRACK_PER_IP.max;

    // Many visitors behind one address: limited (each visitor's own quota would allow far less, so use
    // distinct visitor ids; the per-visitor quota is not what refuses here).
    let mut refused = None;
    for i in 0..=limit {
        let visitor = format!("visitor-{i:04}-abcdefgh");
        let body = json!({"action": "view", "solution_id": solution});
        let reply = env
            .send(from_ip("POST", "/api/track-usage", Some(body), &[("x-anonymous-id", &visitor)], "192.0.2.44"))
            .await;
        if reply.status == 429 && reply.body["code"] == "too_many_requests" {
            refused = Some(i);
            break;
        }
        assert_eq!(reply.status, 200, "visitor {i}: {:?}", reply.body);
    }
    assert_eq!(refused, Some(limit), "the limit applies at exactly {limit}");

    // A signed-in user's tracking from the same address goes on, with one DynamoDB request per event
    // (the first call warms the function's caches).
    let track = || {
        let body = json!({"action": "search"});
        env.send(from_ip("POST", "/api/track-usage", Some(body), &[("authorization", &bearer)], "192.0.2.44"))
    };
    assert_eq!(track().await.status, 200);
    let warm = env.dynamo.requests();
    let ok = track().await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert_eq!(env.dynamo.requests() - warm, 1);
}
