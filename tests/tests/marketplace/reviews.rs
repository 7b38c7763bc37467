//! Reviews: only verified users who paid for the solution (a payment, or a subscription that was paid or
//! active, even if canceled since) or whose use its partner attested on 3 days; never the partner's own
//! accounts; one per user (a later one edits it), input named when wrong, the rating summary exact under
//! concurrent writes, and pages newest first.

use integration_tests::harness::unique_email;
use integration_tests::marketplace::{MarketEnv, fields, price, tiers};
use serde_json::{Value, json};
use shared::auth::Session;
use shared::model::Tier;
use shared::platform::clock::Clock;
use shared::platform::clock::rfc3339;
use shared::store::keys;
use shared::store::reviews::ReviewItem;
use shared::store::solutions::{EntitlementItem, SolutionItem};
use shared::store::subscriptions::SubscriptionItem;

async fn with_solution() -> (MarketEnv, String) {
    let t = MarketEnv::new().await;
    let s = t.solution("rated", |s| s.tiers = tiers(&[price(49_900, "inr")])).await;
    (t, s.solution_id)
}

fn uri(solution_id: &str) -> String {
    format!("/api/solutions/{solution_id}/reviews")
}

/// A registered (verified) user who paid for the solution: a payment for it in the user's history.
async fn paying(t: &MarketEnv, solution_id: &str) -> Session {
    let user = t.env.register(&unique_email("paying")).await;
    t.payment(&user.user_id, solution_id).await;
    user
}

async fn summary(t: &MarketEnv, solution_id: &str) -> (u64, u64) {
    let s: SolutionItem = t.env.store.get(&keys::solution(solution_id), true).await.expect("read").expect("solution");
    (s.rating_count, s.rating_sum)
}

async fn stored_review(t: &MarketEnv, solution_id: &str, user_id: &str) -> Option<ReviewItem> {
    t.env.store.get(&keys::review(solution_id, user_id), true).await.expect("read")
}

async fn post(
    t: &MarketEnv,
    solution_id: &str,
    body: Value,
    bearer: Option<&str>,
) -> integration_tests::harness::Reply {
    Box::pin(t.call("POST", &uri(solution_id), Some(body), bearer)).await
}

/// A subscription of `user_id` to the solution, pending (no payment, never active) as created.
fn subscription(t: &MarketEnv, user_id: &str, solution_id: &str) -> SubscriptionItem {
    SubscriptionItem::new(
        &shared::platform::ids::new_id("sub"),
        user_id,
        solution_id,
        Tier::Pro,
        shared::model::BillingPeriod::Monthly,
        shared::model::Provider::Stripe,
        price(49_900, "inr"),
        rfc3339(t.env.clock.now()),
    )
}

fn refused(r: &integration_tests::harness::Reply, code: &str) {
    assert_eq!((r.status, r.body["code"].as_str()), (403, Some(code)), "{:?}", r.body);
    assert_eq!(r.content_type(), "application/problem+json");
}

#[tokio::test]
async fn only_paying_users_or_use_the_partner_attests_on_three_days_may_review() {
    let (t, id) = with_solution().await;
    let other = t.solution("other", |_| {}).await;
    let body = json!({"rating": 5, "text": "Great"});

    // Never used: 403 with a stable code.
    let stranger = t.env.register(&unique_email("stranger")).await;
    refused(&post(&t, &id, body.clone(), Some(&stranger.access_token)).await, "review_not_allowed");
    // No session: 401. A solution-scoped token is not a session.
    assert_eq!(post(&t, &id, body.clone(), None).await.status, 401);
    assert_eq!(post(&t, &id, body.clone(), Some("not-a-token")).await.status, 401);
    let solution_token =
        t.env.solution_token(&stranger.access_token, &id).await["token"].as_str().expect("token").to_owned();
    assert_eq!(post(&t, &id, body.clone(), Some(&solution_token)).await.status, 401);

    // A tier granted for it (no payment) and usage of another solution, even paid for: 403.
    let grant = EntitlementItem::new(&stranger.user_id, &id, Tier::Pro, rfc3339(t.env.clock.now()), "test");
    t.env.store.set_entitlement(&grant).await.expect("grant");
    t.payment(&stranger.user_id, &other.solution_id).await;
    refused(&post(&t, &id, body.clone(), Some(&stranger.access_token)).await, "review_not_allowed");

    // A pending, unpaid subscription to it: 403.
    let pending = t.env.register(&unique_email("pending")).await;
    t.env.store.put(&subscription(&t, &pending.user_id, &id), None).await.expect("subscription");
    refused(&post(&t, &id, body.clone(), Some(&pending.access_token)).await, "review_not_allowed");

    // Usage the user's own solution token tracked, on five different days: 403 (self-reported).
    let key = t.api_key().await;
    let (selfish, attested, owner) = (unique_email("selfish"), unique_email("attested"), unique_email("owner"));
    let mut ids = Vec::new();
    for email in [&selfish, &attested, &owner] {
        ids.push(Box::pin(t.env.register(email)).await.user_id);
    }
    // The partner's own account: its user belongs to the partner that owns the solution.
    let mut owner_user = t.env.store.get_user(&ids[2]).await.expect("read").expect("owner");
    owner_user.partner_id = Some(t.partner_id.clone());
    t.env.store.put(&owner_user, None).await.expect("owner is the partner's");
    for day in 0..5 {
        let session = Box::pin(t.env.login(&selfish)).await;
        let token = Box::pin(t.env.solution_token(&session.access_token, &id)).await["token"]
            .as_str()
            .expect("token")
            .to_owned();
        let tracked =
            Box::pin(t.call("POST", "/api/track-usage", Some(json!({"action": "query"})), Some(&token))).await;
        assert_eq!(tracked.status, 200, "{:?}", tracked.body);
        // The partner attests the other user's use on the first three days, and the owner's on all.
        if day < 3 {
            t.attest(&key, &ids[1], &id).await;
        }
        t.attest(&key, &ids[2], &id).await;
        if day == 1 {
            // Two attested days: not yet.
            let session = Box::pin(t.env.login(&attested)).await;
            refused(&post(&t, &id, body.clone(), Some(&session.access_token)).await, "review_not_allowed");
        }
        t.env.clock.advance(chrono::Duration::days(1));
    }
    let session = Box::pin(t.env.login(&selfish)).await;
    refused(&post(&t, &id, body.clone(), Some(&session.access_token)).await, "review_not_allowed");
    let days = t.env.store.usage_days(&ids[0], &t.date_before(10), &t.date_before(0)).await.expect("days");
    assert_eq!(days.len(), 5, "five days of use were counted");

    // Attested on three days: 201.
    let session = Box::pin(t.env.login(&attested)).await;
    let r = post(&t, &id, body.clone(), Some(&session.access_token)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);

    // The partner's own account: 403 whatever it did (it paid, and its use was attested on five days).
    t.payment(&ids[2], &id).await;
    let session = Box::pin(t.env.login(&owner)).await;
    refused(&post(&t, &id, body.clone(), Some(&session.access_token)).await, "review_own_solution");

    // Paid, then canceled: 201.
    let former = t.env.register(&unique_email("former")).await;
    let mut sub = subscription(&t, &former.user_id, &id);
    let at = t.env.clock.now().timestamp();
    sub.reconciled.apply(shared::model::Fact::Payment(shared::model::Movement {
        provider_id: "in_paid".into(),
        amount: 49_900,
        currency: "inr".into(),
        at: at - 40 * 86_400,
    }));
    sub.reconciled.apply(shared::model::Fact::Snapshot(shared::model::Snapshot {
        event_id: "evt_canceled".into(),
        created: at - 86_400,
        status: shared::model::SubscriptionStatus::Canceled,
        period_start: at - 40 * 86_400,
        period_end: at - 10 * 86_400,
        cancel_at_period_end: false,
        price_id: None,
    }));
    t.env.store.put(&sub, None).await.expect("subscription");
    let r = post(&t, &id, json!({"rating": 3}), Some(&former.access_token)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["review"]["text"], "", "text is optional");

    // A payment for it in the history (a PhonePe period paid, say): 201.
    let payer = paying(&t, &id).await;
    assert_eq!(post(&t, &id, body.clone(), Some(&payer.access_token)).await.status, 201);

    // An unverified address that paid: 403 email_not_verified.
    let (unverified, _) = t.env.register_unverified(&unique_email("unverified")).await;
    t.payment(&unverified.user_id, &id).await;
    refused(&post(&t, &id, body.clone(), Some(&unverified.access_token)).await, "email_not_verified");

    assert_eq!(summary(&t, &id).await, (3, 5 + 3 + 5));
    let d = t.get(&format!("/api/solutions/{id}")).await;
    assert_eq!(d["rating"]["count"].as_u64(), Some(3));
}

#[tokio::test]
async fn a_second_review_edits_the_first() {
    let (t, id) = with_solution().await;
    let user = paying(&t, &id).await;
    let r = post(&t, &id, json!({"rating": 4, "text": "  Fast and accurate.\n"}), Some(&user.access_token)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["review"]["text"], "Fast and accurate.", "trimmed");
    assert_eq!(r.body["review"]["rating"], 4);
    assert_eq!(r.body["review"]["author"], "Test User");
    assert_eq!(r.body["rating"], json!({"average": 4.0, "count": 1}));
    let created_at = r.body["review"]["created_at"].clone();

    t.env.clock.advance(chrono::Duration::minutes(5));
    let r = post(&t, &id, json!({"rating": 2, "text": "Slower lately."}), Some(&user.access_token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["rating"], json!({"average": 2.0, "count": 1}), "still one review, the average moved");
    assert_eq!(r.body["review"]["created_at"], created_at);
    assert_ne!(r.body["review"]["updated_at"], created_at);
    assert_eq!(summary(&t, &id).await, (1, 2));

    // The same rating again is an edit too (nothing moves).
    let r = post(&t, &id, json!({"rating": 2, "text": "Still slow."}), Some(&user.access_token)).await;
    assert_eq!((r.status, r.body["rating"]["count"].as_u64()), (200, Some(1)));
    assert_eq!(summary(&t, &id).await, (1, 2));

    // A second reviewer moves the average; the list holds one review per user.
    let other = paying(&t, &id).await;
    let r = post(&t, &id, json!({"rating": 5}), Some(&other.access_token)).await;
    assert_eq!((r.status, r.body["rating"].clone()), (201, json!({"average": 3.5, "count": 2})));
    let page = t.get(&format!("{}?limit=100", uri(&id))).await;
    let reviews = page["reviews"].as_array().expect("reviews");
    assert_eq!(reviews.len(), 2);
    let mine = reviews.iter().find(|r| r["user_id"] == user.user_id.as_str()).expect("mine");
    assert_eq!((mine["rating"].as_u64(), mine["text"].as_str()), (Some(2), Some("Still slow.")));
    let stored = stored_review(&t, &id, &user.user_id).await.expect("stored");
    assert_eq!(stored.version, 2);
}

#[tokio::test]
async fn review_input_is_checked_and_the_field_named() {
    let (t, id) = with_solution().await;
    let user = paying(&t, &id).await;
    let token = Some(user.access_token.as_str());
    for (body, field) in [
        (json!({"rating": 0}), "rating"),
        (json!({"rating": 6}), "rating"),
        (json!({"rating": -1}), "rating"),
        (json!({"rating": 4.5}), "rating"),
        (json!({"rating": "5"}), "rating"),
        (json!({"rating": null}), "rating"),
        (json!({"text": "no rating"}), "rating"),
        (json!({"rating": 99_999_999_999_999_999u64}), "rating"),
        (json!({"rating": 5, "text": 7}), "text"),
        (json!({"rating": 5, "text": "x".repeat(2_001)}), "text"),
        (json!({"rating": 5, "user_id": "usr_someone_else"}), "user_id"),
        (json!({"rating": 5, "solution_id": "sol_x"}), "solution_id"),
    ] {
        let r = post(&t, &id, body.clone(), token).await;
        assert_eq!((r.status, fields(&r)), (400, vec![field.to_owned()]), "{body}: {:?}", r.body);
        assert_eq!(r.content_type(), "application/problem+json");
    }
    for raw in ["", "{", "[1]", "\"text\""] {
        let r = t.call_raw("POST", &uri(&id), lambda_http::Body::Text(raw.to_owned()), token).await;
        assert_eq!((r.status, fields(&r)), (400, vec!["body".to_owned()]), "{raw:?}: {:?}", r.body);
    }
    assert_eq!(summary(&t, &id).await, (0, 0), "nothing was written");
    // 2,000 characters (after trimming; not bytes) are fine.
    let text = format!("  {}  ", "é".repeat(2_000));
    let r = post(&t, &id, json!({"rating": 1, "text": text}), token).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["review"]["text"].as_str().map(|s| s.chars().count()), Some(2_000));
}

#[tokio::test]
async fn concurrent_reviews_keep_the_summary_exact() {
    let (t, id) = with_solution().await;
    let mut users = Vec::new();
    for _ in 0..8 {
        users.push(paying(&t, &id).await);
    }
    // Eight first reviews at once: all created, all counted.
    let first = futures::future::join_all(users.iter().enumerate().map(|(i, u)| {
        let rating = i % 5 + 1;
        let (t, id) = (&t, &id);
        async move { post(t, id, json!({"rating": rating}), Some(&u.access_token)).await.status }
    }))
    .await;
    assert!(first.iter().all(|s| *s == 201), "{first:?}");
    let expected_sum: u64 = (0..8u64).map(|i| i % 5 + 1).sum();
    assert_eq!(summary(&t, &id).await, (8, expected_sum));

    // One user edits ten times at once: every edit applies on top of the previous one.
    let editor = &users[0];
    let edits = futures::future::join_all((0..10u64).map(|i| {
        let (t, id) = (&t, &id);
        async move { post(t, id, json!({"rating": i % 5 + 1}), Some(&editor.access_token)).await.status }
    }))
    .await;
    assert!(edits.iter().all(|s| *s == 200), "{edits:?}");
    let mine = stored_review(&t, &id, &editor.user_id).await.expect("review");
    assert_eq!(mine.version, 10, "every edit applied once");
    assert_eq!(summary(&t, &id).await, (8, expected_sum - 1 + u64::from(mine.rating)));

    // Everyone edits at once, three times each.
    let (env, sid) = (&t, id.as_str());
    let all = futures::future::join_all(users.iter().flat_map(|u| {
        (1..=3u64)
            .map(move |r| async move { post(env, sid, json!({"rating": r + 2}), Some(&u.access_token)).await.status })
    }))
    .await;
    assert!(all.iter().all(|s| *s == 200), "{all:?}");
    let mut sum = 0;
    for u in &users {
        sum += u64::from(stored_review(&t, &id, &u.user_id).await.expect("review").rating);
    }
    assert_eq!(summary(&t, &id).await, (8, sum), "the summary equals the reviews");
}

#[tokio::test]
async fn reviews_are_listed_newest_first_in_pages() {
    let (t, id) = with_solution().await;
    let mut authors = Vec::new();
    for i in 0..7u64 {
        let user = paying(&t, &id).await;
        let r =
            post(&t, &id, json!({"rating": i % 5 + 1, "text": format!("review {i}")}), Some(&user.access_token)).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        authors.push(user.user_id);
        t.env.clock.advance(chrono::Duration::minutes(1));
    }
    authors.reverse();
    let one_page = t.get(&format!("{}?limit=100", uri(&id))).await;
    assert!(one_page["next_cursor"].is_null());
    let listed: Vec<String> = one_page["reviews"]
        .as_array()
        .expect("reviews")
        .iter()
        .map(|r| r["user_id"].as_str().expect("user").to_owned())
        .collect();
    assert_eq!(listed, authors, "newest first");
    assert_eq!(one_page["reviews"][0]["text"], "review 6");
    for limit in [1, 2, 3, 7] {
        let mut walked: Vec<String> = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..20 {
            let page_uri = match &cursor {
                Some(c) => format!("{}?limit={limit}&cursor={c}", uri(&id)),
                None => format!("{}?limit={limit}", uri(&id)),
            };
            let page = t.get(&page_uri).await;
            let reviews = page["reviews"].as_array().expect("reviews");
            assert!(reviews.len() <= limit);
            walked.extend(reviews.iter().map(|r| r["user_id"].as_str().expect("user").to_owned()));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(walked, authors, "pages of {limit}");
    }
    // The default page; cursors and limits checked.
    assert_eq!(t.get(&uri(&id)).await["reviews"].as_array().map(Vec::len), Some(7));
    let first = t.get(&format!("{}?limit=2", uri(&id))).await;
    let c = first["next_cursor"].as_str().expect("cursor").to_owned();
    let other = t.solution("other", |_| {}).await;
    for bad in [
        format!("{}?cursor={c}", uri(&other.solution_id)),
        format!("{}?cursor=not-a-cursor", uri(&id)),
        format!("{}?cursor=e30", uri(&id)),
    ] {
        let r = t.call("GET", &bad, None, None).await;
        assert_eq!((r.status, fields(&r)), (400, vec!["cursor".to_owned()]), "{bad}");
    }
    for limit in ["0", "101", "x"] {
        let r = t.call("GET", &format!("{}?limit={limit}", uri(&id)), None, None).await;
        assert_eq!((r.status, fields(&r)), (400, vec!["limit".to_owned()]), "{limit}");
    }
    let none = t.get(&uri(&other.solution_id)).await;
    assert_eq!(none, json!({"reviews": [], "next_cursor": null}));
}

#[tokio::test]
async fn an_unverified_address_cannot_review_until_verified() {
    let (t, id) = with_solution().await;
    let (user, link) = t.env.register_unverified(&unique_email("unverified")).await;
    t.payment(&user.user_id, &id).await;
    let body = json!({"rating": 5, "text": "Great"});
    let refused = post(&t, &id, body.clone(), Some(&user.access_token)).await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (403, Some("email_not_verified")),
        "{:?}",
        refused.body
    );
    assert!(stored_review(&t, &id, &user.user_id).await.is_none());
    assert_eq!(summary(&t, &id).await, (0, 0));
    t.env.verify_email(&link).await;
    let r = post(&t, &id, body, Some(&user.access_token)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(summary(&t, &id).await, (1, 5));
}

/// Tracking by the partner's backend (`X-Api-Key`) marks the day counter attested in the very request that
/// counts the event (still one DynamoDB request once warm); the user's own token never does.
#[tokio::test]
async fn partner_tracked_usage_is_attested_by_the_single_counting_request() {
    let (t, id) = with_solution().await;
    let key = t.api_key().await;
    let user = Box::pin(t.env.register(&unique_email("attested"))).await;
    t.attest(&key, &user.user_id, &id).await; // warms the key, policy and tier caches
    let before = t.env.dynamo.requests();
    t.attest(&key, &user.user_id, &id).await;
    assert_eq!(t.env.dynamo.requests() - before, 1, "exactly one DynamoDB request");
    let today = t.env.store.usage_days(&user.user_id, &t.date_before(1), &t.date_before(-1)).await.expect("days");
    assert_eq!(today.len(), 1);
    assert_eq!((today[0].used, today[0].other.get("attested")), (2, Some(&Value::Bool(true))), "{:?}", today[0]);

    let own = Box::pin(t.env.register(&unique_email("own"))).await;
    let token =
        Box::pin(t.env.solution_token(&own.access_token, &id)).await["token"].as_str().expect("token").to_owned();
    let tracked = Box::pin(t.call("POST", "/api/track-usage", Some(json!({"action": "query"})), Some(&token))).await;
    assert_eq!(tracked.status, 200, "{:?}", tracked.body);
    let days = t.env.store.usage_days(&own.user_id, &t.date_before(1), &t.date_before(-1)).await.expect("days");
    assert_eq!((days.len(), days[0].other.get("attested")), (1, None), "{:?}", days);
}
