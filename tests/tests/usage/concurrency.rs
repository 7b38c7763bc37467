use super::fixture;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn two_hundred_concurrent_calls_against_fifty_grant_exactly_fifty() {
    let f = fixture().await;
    f.set_limit("free", Some(50), None).await;
    let replies =
        f.env.post_concurrently_as("/api/track-usage", vec![json!({"action": "search"}); 200], Some(&f.token)).await;
    let allowed = replies.iter().filter(|r| r.status == 200).count();
    let refused = replies.iter().filter(|r| r.status == 429).count();
    assert_eq!((allowed, refused), (50, 150), "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    for r in replies.iter().filter(|r| r.status == 429) {
        assert_eq!(r.body["code"], "quota_exceeded");
        assert_eq!(r.body["allowed"], false);
        assert_eq!(r.body["limit"], 50);
        assert!(r.headers.contains_key("retry-after"));
        assert_eq!(r.headers["ratelimit-remaining"], "0");
    }
    let mut used: Vec<u64> =
        replies.iter().filter(|r| r.status == 200).filter_map(|r| r.body["used"].as_u64()).collect();
    used.sort_unstable();
    assert_eq!(used, (1..=50).collect::<Vec<_>>(), "each grant saw a distinct count");
    assert_eq!(f.quota().await["used"], 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn one_idempotency_key_sent_twenty_times_concurrently_counts_once() {
    let f = fixture().await;
    let body = json!({"action": "export", "quantity": 3, "idempotency_key": "order-42", "metadata": {"order": 42}});
    let replies = f.env.post_concurrently_as("/api/track-usage", vec![body.clone(); 20], Some(&f.token)).await;
    assert!(
        replies.iter().all(|r| r.status == 200),
        "{:?}",
        replies.iter().map(|r| (r.status, &r.body)).collect::<Vec<_>>()
    );
    assert!(replies.iter().all(|r| r.body == replies[0].body), "identical answers");
    assert_eq!(replies[0].body["used"], 3);
    assert_eq!(f.quota().await["used"], 3);
    // Later repeats too, and a different key counts again.
    assert_eq!(f.track(body).await.body, replies[0].body);
    let other = f.track(json!({"action": "export", "quantity": 3, "idempotency_key": "order-43"})).await;
    assert_eq!(other.body["used"], 6);
    // The same key for a different request is refused.
    let misuse = f.track(json!({"action": "export", "quantity": 5, "idempotency_key": "order-42"})).await;
    assert_eq!(misuse.status, 409);
    assert_eq!(misuse.body["errors"][0]["field"], "idempotency_key");
    assert_eq!(f.quota().await["used"], 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn keyed_and_unkeyed_calls_racing_still_respect_the_limit() {
    let f = fixture().await;
    f.set_limit("free", Some(30), None).await;
    let bodies: Vec<_> = (0..60)
        .map(|i| {
            if i % 2 == 0 {
                json!({"action": "a", "idempotency_key": format!("k-{i}")})
            } else {
                json!({"action": "b"})
            }
        })
        .collect();
    let replies = f.env.post_concurrently_as("/api/track-usage", bodies, Some(&f.token)).await;
    let allowed = replies.iter().filter(|r| r.status == 200).count();
    assert_eq!(allowed, 30, "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    assert!(replies.iter().all(|r| r.status == 200 || r.status == 429));
    assert_eq!(f.quota().await["used"], 30);
}
