use super::fixture;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use shared::store::keys;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).expect("time")
}

/// The next instant at `hh:mm` UTC that is still ahead of the real time (tokens carry real-time expiry).
fn next_utc(hh: u32, mm: u32) -> DateTime<Utc> {
    let now = Utc::now();
    let today = now.date_naive().and_hms_opt(hh, mm, 0).expect("time").and_utc();
    if today > now { today } else { today + Duration::days(1) }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_day_rolls_over_at_local_midnight_of_the_solution() {
    let f = fixture().await;
    // Kolkata is UTC+5:30: local midnight is 18:30 UTC.
    let mut solution = f.solution.clone();
    solution.time_zone = "Asia/Kolkata".into();
    f.env.store.put_solution(&solution).await.expect("update solution");
    let before_midnight = next_utc(18, 29);
    f.env.clock.set(before_midnight);
    let r = f.track(json!({"action": "a", "quantity": 2})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["used"], 2);
    let local_midnight = before_midnight + Duration::minutes(1);
    assert_eq!(at(r.body["reset_at"].as_str().expect("reset_at")), local_midnight);
    let reset_in: i64 = r.headers["ratelimit-reset"].to_str().expect("header").parse().expect("seconds");
    assert_eq!(reset_in, 60);

    f.env.clock.set(local_midnight + Duration::seconds(30));
    let r = f.track(json!({"action": "a"})).await;
    assert_eq!(r.body["used"], 1, "a new local day: {:?}", r.body);
    assert_eq!(at(r.body["reset_at"].as_str().expect("reset_at")), local_midnight + Duration::days(1));

    // Both days are in the history, each under its local date.
    let history = f
        .env
        .call("GET", &format!("/api/usage/{}?solution_id={}", f.user_id, f.solution.solution_id), None, Some(&f.access))
        .await;
    let days = history.body["days"].as_array().expect("days");
    let dates: Vec<&str> = days.iter().filter_map(|d| d["date"].as_str()).collect();
    let local = |t: DateTime<Utc>| (t + Duration::minutes(330)).date_naive().format("%Y-%m-%d").to_string();
    assert_eq!(dates, vec![local(before_midnight), local(local_midnight)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn quantity_over_remaining_limit_change_and_unlimited_tier() {
    let f = fixture().await;
    f.set_limit("free", Some(10), None).await;
    assert_eq!(f.track(json!({"action": "a", "quantity": 8})).await.body["used"], 8);
    // Quantity over what remains: refused, nothing consumed.
    let r = f.track(json!({"action": "a", "quantity": 3})).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body["used"], 8);
    assert_eq!(f.quota().await["used"], 8);
    let r = f.track(json!({"action": "a", "quantity": 2})).await;
    assert_eq!((r.status, r.body["used"].as_u64(), r.body["remaining"].as_u64()), (200, Some(10), Some(0)));
    assert_eq!(f.track(json!({"action": "a"})).await.status, 429);

    // The admin raises the limit mid-day: it applies within the cache lifetime, the count is kept.
    f.set_limit("free", Some(12), None).await;
    let r = f.track(json!({"action": "a", "quantity": 2})).await;
    assert_eq!((r.status, r.body["used"].as_u64(), r.body["limit"].as_u64()), (200, Some(12), Some(12)));
    assert_eq!(r.headers["ratelimit-limit"], "12");
    // Lowered below today's count: refused at once.
    f.set_limit("free", Some(5), None).await;
    assert_eq!(f.track(json!({"action": "a"})).await.status, 429);

    // Unlimited tier: enterprise.
    let r = f
        .env
        .call(
            "PUT",
            "/api/user-tier",
            Some(json!({"user_id": f.user_id, "solution_id": f.solution.solution_id, "tier": "enterprise"})),
            Some(&f.admin),
        )
        .await;
    assert_eq!(r.status, 200);
    f.expire_caches();
    for _ in 0..3 {
        let r = f.track(json!({"action": "bulk", "quantity": 1000})).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert!(r.body["limit"].is_null());
        assert!(!r.headers.contains_key("ratelimit-limit"));
    }
    let q = f.quota().await;
    assert_eq!((q["tier"].as_str(), q["used"].as_u64()), (Some("enterprise"), Some(3_012)));
    assert!(q["limit"].is_null() && q["remaining"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn monthly_limits_hold_across_days() {
    let f = fixture().await;
    f.set_limit("free", Some(100), Some(5)).await;
    assert_eq!(f.track(json!({"action": "a", "quantity": 3})).await.status, 200);
    assert_eq!(f.track(json!({"action": "a", "quantity": 2})).await.status, 200);
    let r = f.track(json!({"action": "a"})).await;
    assert_eq!(r.status, 429, "{:?}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thresholds_record_one_notification_each_per_day() {
    let f = fixture().await;
    f.set_limit("free", Some(10), None).await;
    let notification = |pct: u32| {
        let id = format!("quota-{pct}:{}:{}:{}", f.user_id, f.solution.solution_id, f.env.clock_day());
        keys::outbox(&id)
    };
    f.track(json!({"action": "a", "quantity": 7})).await;
    let store = &f.env.store;
    let get = |k: keys::Key| async move {
        store.get::<shared::store::outbox::NotificationItem>(&k, true).await.expect("read")
    };
    assert!(get(notification(80)).await.is_none());
    // Concurrent calls crossing 80% and 100% together.
    let replies = f.env.post_concurrently_as("/api/track-usage", vec![json!({"action": "a"}); 6], Some(&f.token)).await;
    assert_eq!(replies.iter().filter(|r| r.status == 200).count(), 3);
    let n80 = get(notification(80)).await.expect("80% notification");
    let n100 = get(notification(100)).await.expect("100% notification");
    assert_eq!((n80.kind.as_str(), n80.status.as_str()), ("quota_80", "pending"));
    assert_eq!(n100.data["limit"], 10);
    assert_eq!(n100.customer_id, f.user_id);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_token_stops_tracking_within_the_cache_lifetime() {
    let f = fixture().await;
    assert_eq!(f.track(json!({"action": "a"})).await.status, 200);
    let r = f.env.call("DELETE", "/api/revoke-token", Some(json!({"token": f.token})), Some(&f.access)).await;
    assert_eq!(r.status, 204);
    // No read per request: within the 60 s the cached state may still admit the token...
    let requests = f.env.dynamo.requests();
    f.track(json!({"action": "a"})).await;
    assert_eq!(f.env.dynamo.requests() - requests, 1);
    // ...and after it, the token is refused.
    f.expire_caches();
    let r = f.track(json!({"action": "a"})).await;
    assert_eq!((r.status, r.body["code"].as_str()), (401, Some("revoked")));
    // Expired tokens are refused outright.
    let mut claims: shared::identity::jwt::Claims =
        jsonwebtoken::dangerous::insecure_decode(&f.token).expect("claims").claims;
    claims.exp = Utc::now().timestamp() - 120;
    let expired = f.env.keys().sign(&claims).expect("sign");
    let r = f.env.call("POST", "/api/track-usage", Some(json!({"action": "a"})), Some(&expired)).await;
    assert_eq!((r.status, r.body["code"].as_str()), (401, Some("expired")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_keyed_retry_after_the_quota_filled_gets_its_first_answer() {
    let f = fixture().await;
    f.set_limit("free", Some(2), None).await;
    let first = f.track(json!({"action": "export", "idempotency_key": "fill-1"})).await;
    assert_eq!((first.status, &first.body["used"]), (200, &json!(1)));
    assert_eq!(f.track(json!({"action": "export"})).await.status, 200);
    assert_eq!(f.track(json!({"action": "export"})).await.status, 429, "full");
    // The first event sent again (its answer was lost): counted once, so it is answered as then, not refused.
    let again = f.track(json!({"action": "export", "idempotency_key": "fill-1"})).await;
    assert_eq!((again.status, &again.body), (200, &first.body));
    // The same key for another event is still a 409, full quota or not.
    let other = f.track(json!({"action": "import", "idempotency_key": "fill-1"})).await;
    assert_eq!((other.status, other.body["code"].as_str()), (409, Some("idempotency_key_reused")));
    assert_eq!(f.quota().await["used"], 2);
}
