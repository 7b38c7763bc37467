//! The catalog: published solutions only, filters, every sort order, cursors; details; reviews by users who
//! paid or whose use the partner attested (not the partner itself), one per user.

use crate::fields;
use integration_tests::harness::unique_email;
use integration_tests::partners::PartnersEnv;
use serde_json::{Value, json};

fn ids(reply: &Value) -> Vec<String> {
    reply["solutions"]
        .as_array()
        .expect("solutions")
        .iter()
        .map(|s| s["solution_id"].as_str().expect("id").to_owned())
        .collect()
}

fn sol(suffix: &str) -> String {
    format!("sol_{suffix:0>26}")
}

async fn seeded() -> PartnersEnv {
    let t = PartnersEnv::new().await;
    let (_, partner) = integration_tests::seed::partner(
        &t.env.state.auth,
        &unique_email("seed"),
        integration_tests::harness::PASSWORD,
        "Demo Partner Ltd",
    )
    .await
    .expect("partner");
    assert_eq!(
        integration_tests::seed::catalog(&t.env.store, &partner.partner_id, "Demo Partner Ltd").await.expect("catalog"),
        8
    );
    t
}

#[tokio::test]
async fn the_catalog_filters_sorts_and_pages_published_solutions_only() {
    let t = seeded().await;
    let get = |uri: String| {
        let t = &t;
        async move {
            let r = t.call("GET", &uri, None, None).await;
            assert_eq!(r.status, 200, "{uri}: {:?}", r.body);
            r.body
        }
    };
    // Popular (the default): paid subscriptions, most first. The draft and the suspended one never appear.
    let popular = ids(&get("/api/solutions?limit=100".into()).await);
    let expected: Vec<String> =
        ["invoice", "sms", "search", "kyc", "mail", "ocr", "translate", "maps"].iter().map(|s| sol(s)).collect();
    assert_eq!(popular, expected);
    assert!(!popular.contains(&sol("draftx")) && !popular.contains(&sol("suspnd")));
    // Rating: the exact average, most first; unrated last.
    let rating = ids(&get("/api/solutions?sort=rating&limit=100".into()).await);
    let expected: Vec<String> =
        ["search", "invoice", "ocr", "translate", "sms", "kyc", "mail", "maps"].iter().map(|s| sol(s)).collect();
    assert_eq!(rating, expected);
    // Newest: published most recently first.
    let newest = ids(&get("/api/solutions?sort=newest&limit=100".into()).await);
    let expected: Vec<String> =
        ["mail", "kyc", "maps", "translate", "sms", "ocr", "invoice", "search"].iter().map(|s| sol(s)).collect();
    assert_eq!(newest, expected);
    // Price: the lowest price, cheapest first.
    let price = get("/api/solutions?sort=price&limit=100".into()).await;
    let expected: Vec<String> =
        ["maps", "sms", "invoice", "mail", "search", "translate", "ocr", "kyc"].iter().map(|s| sol(s)).collect();
    assert_eq!(ids(&price), expected);
    assert_eq!(price["solutions"][0]["prices_from"]["inr"], 9_900);
    // Filters.
    assert_eq!(ids(&get("/api/solutions?category=finance".into()).await), vec![sol("invoice"), sol("kyc")]);
    assert_eq!(
        ids(&get("/api/solutions?tag=india&sort=price".into()).await),
        vec![sol("maps"), sol("sms"), sol("invoice"), sol("kyc")]
    );
    assert_eq!(ids(&get("/api/solutions?q=GST%20invoices".into()).await), vec![sol("invoice")]);
    assert_eq!(
        ids(&get("/api/solutions?q=demo%20partner&category=ai&sort=newest".into()).await),
        vec![sol("translate"), sol("ocr")]
    );
    assert!(ids(&get("/api/solutions?q=nothing-like-this".into()).await).is_empty());
    // Cursors: pages of 3 walk every order exactly, no gaps or repeats.
    for (sort, full) in [("popular", &popular), ("rating", &rating), ("newest", &newest), ("price", &ids(&price))] {
        let mut walked = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let uri = match &cursor {
                Some(c) => format!("/api/solutions?sort={sort}&limit=3&cursor={c}"),
                None => format!("/api/solutions?sort={sort}&limit=3"),
            };
            let page = get(uri).await;
            walked.extend(ids(&page));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(&walked, full, "{sort}");
    }
    // A cursor belongs to its query.
    let first = get("/api/solutions?sort=price&limit=3".into()).await;
    let c = first["next_cursor"].as_str().expect("cursor");
    let other = t.call("GET", &format!("/api/solutions?sort=rating&limit=3&cursor={c}"), None, None).await;
    assert_eq!((other.status, fields(&other)), (400, vec!["cursor".to_owned()]));
    let junk = t.call("GET", "/api/solutions?cursor=not-a-cursor", None, None).await;
    assert_eq!((junk.status, fields(&junk)), (400, vec!["cursor".to_owned()]));
    let bad = t.call("GET", "/api/solutions?sort=cheapest", None, None).await;
    assert_eq!((bad.status, fields(&bad)), (400, vec!["sort".to_owned()]));
    // Details: published only.
    let d = t.call("GET", &format!("/api/solutions/{}", sol("kyc")), None, None).await;
    assert_eq!(d.status, 200);
    assert_eq!((d.body["rating"]["average"].as_f64(), d.body["rating"]["count"].as_u64()), (Some(4.4), Some(8)));
    assert_eq!(d.body["tiers"][1]["prices"][0]["amount"], 149_900);
    for hidden in ["draftx", "suspnd"] {
        let r = t.call("GET", &format!("/api/solutions/{}", sol(hidden)), None, None).await;
        assert_eq!(r.status, 404, "{hidden}");
    }
}

#[tokio::test]
async fn solutions_leave_and_enter_the_catalog_with_their_lifecycle() {
    let t = PartnersEnv::new().await;
    let a = t.partner("Acme Labs").await;
    let draft = t.draft(&a, "Acme Draft", None).await;
    let live = t.published(&a, "Acme Live", None).await;
    let listed = || async { ids(&t.call("GET", "/api/solutions?limit=100", None, None).await.body) };
    assert_eq!(listed().await, vec![live.clone()]);
    let submitted =
        t.call("POST", &format!("/api/partners/solutions/{draft}/submit"), None, Some(&a.session.access_token)).await;
    assert_eq!(submitted.status, 200);
    assert_eq!(listed().await, vec![live.clone()], "submitted is not published");
    let admin = Some(t.admin.access_token.as_str());
    t.call("POST", &format!("/api/admin/solutions/{live}/suspend"), Some(json!({"reason": "check"})), admin).await;
    assert!(listed().await.is_empty());
    assert_eq!(t.call("GET", &format!("/api/solutions/{live}"), None, None).await.status, 404);
    t.call("POST", &format!("/api/admin/solutions/{live}/reinstate"), None, admin).await;
    t.call("POST", &format!("/api/partners/solutions/{live}/retire"), None, Some(&a.session.access_token)).await;
    assert!(listed().await.is_empty());
}

/// A captured payment of `user_id` for `solution_id`, as a paid subscription records it.
async fn paid(t: &PartnersEnv, user_id: &str, solution_id: &str) {
    let id = shared::platform::ids::new_id("pay");
    let now = shared::platform::clock::rfc3339(chrono::Utc::now());
    let mut item = shared::store::subscriptions::PaymentItem::new(
        &id,
        user_id,
        shared::model::Provider::Phonepe,
        format!("T{id}"),
        49_900,
        "inr",
        now.clone(),
        now,
    );
    item.solution_id = Some(solution_id.to_owned());
    t.env.store.put(&item, None).await.expect("payment");
}

#[tokio::test]
async fn only_paying_or_attested_users_review_once_each() {
    let t = PartnersEnv::new().await;
    let a = t.partner("Acme Labs").await;
    let id = t.published(&a, "Acme Search", None).await;
    let uri = format!("/api/solutions/{id}/reviews");
    let stranger = t.env.register(&unique_email("stranger")).await;
    let r = t.call("POST", &uri, Some(json!({"rating": 5, "text": "great"})), Some(&stranger.access_token)).await;
    assert_eq!((r.status, r.body["code"].as_str()), (403, Some("review_not_allowed")));
    assert_eq!(t.call("POST", &uri, Some(json!({"rating": 5})), None).await.status, 401);
    // The partner's own account, even after paying: 403 review_own_solution.
    paid(&t, &a.session.user_id, &id).await;
    let r = t.call("POST", &uri, Some(json!({"rating": 5})), Some(&a.session.access_token)).await;
    assert_eq!((r.status, r.body["code"].as_str()), (403, Some("review_own_solution")), "{:?}", r.body);
    // A user who used it with the solution token (self-reported): not enough; once paid, 201.
    let user = t.env.register(&unique_email("user")).await;
    let token = t.env.solution_token(&user.access_token, &id).await["token"].as_str().expect("token").to_owned();
    assert_eq!(t.env.call("POST", "/api/track-usage", Some(json!({"action": "q"})), Some(&token)).await.status, 200);
    let r = t.call("POST", &uri, Some(json!({"rating": 4})), Some(&user.access_token)).await;
    assert_eq!((r.status, r.body["code"].as_str()), (403, Some("review_not_allowed")));
    paid(&t, &user.user_id, &id).await;
    for (rating, field) in [(0, "rating"), (6, "rating")] {
        let r = t.call("POST", &uri, Some(json!({"rating": rating})), Some(&user.access_token)).await;
        assert_eq!((r.status, fields(&r)), (400, vec![field.to_owned()]));
    }
    let r = t
        .call("POST", &uri, Some(json!({"rating": 4, "text": " Fast and accurate. "})), Some(&user.access_token))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        (r.body["review"]["text"].as_str(), r.body["rating"]["count"].as_u64()),
        (Some("Fast and accurate."), Some(1))
    );
    // Editing replaces it: still one review, the average moves.
    let r = t.call("POST", &uri, Some(json!({"rating": 2, "text": "Slower lately."})), Some(&user.access_token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!((r.body["rating"]["count"].as_u64(), r.body["rating"]["average"].as_f64()), (Some(1), Some(2.0)));
    // A subscriber who paid (no usage yet) may review too.
    let subscriber = t.env.register(&unique_email("subscriber")).await;
    paid(&t, &subscriber.user_id, &id).await;
    let r = t.call("POST", &uri, Some(json!({"rating": 5, "text": "Worth it."})), Some(&subscriber.access_token)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!((r.body["rating"]["count"].as_u64(), r.body["rating"]["average"].as_f64()), (Some(2), Some(3.5)));
    // Newest first, paged.
    let page = t.call("GET", &format!("{uri}?limit=1"), None, None).await;
    assert_eq!(page.body["reviews"][0]["user_id"], subscriber.user_id.as_str());
    let next = page.body["next_cursor"].as_str().expect("cursor");
    let page = t.call("GET", &format!("{uri}?limit=1&cursor={next}"), None, None).await;
    assert_eq!(page.body["reviews"][0]["user_id"], user.user_id.as_str());
    // Concurrent edits keep the summary exact.
    let tasks: Vec<_> = (1..=5)
        .map(|r| {
            let body = json!({"rating": r});
            let token = user.access_token.clone();
            let (t, uri) = (&t, uri.clone());
            async move { t.call("POST", &uri, Some(body), Some(&token)).await.status }
        })
        .collect();
    let statuses = futures::future::join_all(tasks).await;
    assert!(statuses.iter().all(|s| *s == 200 || *s == 409), "{statuses:?}");
    let mine: shared::store::reviews::ReviewItem =
        t.env.store.get(&shared::store::keys::review(&id, &user.user_id), true).await.expect("read").expect("review");
    let s = t.env.store.get_solution(&id).await.expect("read").expect("solution");
    assert_eq!((s.rating_count, s.rating_sum), (2, 5 + u64::from(mine.rating)), "the summary matches the reviews");
}

/// The seeded demo partner (what `make dev` prints) is a partner caller: it signs in and makes an API key for its
/// solution (its account was seeded without the link a partner is found by, so every partner route said 403).
#[tokio::test]
async fn the_seeded_partner_acts_as_a_partner() {
    let t = PartnersEnv::new().await;
    let email = unique_email("seeded");
    let (_, partner) =
        integration_tests::seed::partner(&t.env.state.auth, &email, integration_tests::harness::PASSWORD, "Demo")
            .await
            .expect("partner");
    let solution = integration_tests::seed::solution(
        &t.env.store,
        &partner.partner_id,
        "Seeded",
        shared::model::SolutionStatus::Published,
    )
    .await
    .expect("solution");
    let session = t.env.login(&email).await;
    let key = t
        .call(
            "POST",
            &format!("/api/partners/{}/api-keys", partner.partner_id),
            Some(serde_json::json!({"name": "backend", "solution_ids": [solution.solution_id]})),
            Some(&session.access_token),
        )
        .await;
    assert_eq!(key.status, 201, "{:?}", key.body);
}
