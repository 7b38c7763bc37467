//! The catalog: published solutions only, filters, every sort order checked exactly, keyset cursors bound to
//! their query, details, and the per-instance cache.

use integration_tests::marketplace::{MarketEnv, days_before, fields, ids, price, sol, tiers};
use serde_json::Value;
use shared::model::SolutionStatus;
use shared::platform::clock::Clock;

fn sols(suffixes: &[&str]) -> Vec<String> {
    suffixes.iter().map(|s| sol(s)).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Four published solutions with distinct words, categories, tags and partners, and a draft matching all.
async fn searchable() -> MarketEnv {
    let t = MarketEnv::new().await;
    t.solution("alpha", |s| {
        s.name = "Vector Search API".into();
        s.description = "Semantic retrieval over your documents.".into();
        s.category = "developer-tools".into();
        s.tags = vec!["search".into(), "AI".into()];
        s.partner_name = "Acme Labs".into();
    })
    .await;
    t.solution("beta", |s| {
        s.name = "GST Invoice Generator".into();
        s.description = "Tax invoices, numbered gaplessly.".into();
        s.category = "Finance".into();
        s.tags = vec!["gst".into(), "india".into()];
        s.partner_name = "Ledger Co".into();
    })
    .await;
    t.solution("gamma", |s| {
        s.name = "Document OCR".into();
        s.description = "Text and tables from scans.".into();
        s.category = "ai".into();
        s.tags = vec!["ocr".into(), "documents".into()];
        s.partner_name = "Acme Labs".into();
    })
    .await;
    t.solution("delta", |s| {
        s.name = "SMS Gateway".into();
        s.description = "OTP delivery across operators.".into();
        s.category = "communication".into();
        s.tags = vec!["sms".into(), "India".into()];
        s.partner_name = "Wire Inc".into();
    })
    .await;
    t.solution("zeta", |s| {
        s.name = "Search OCR SMS Invoice Finance India Acme".into();
        s.category = "finance".into();
        s.tags = vec!["india".into(), "ai".into(), "search".into()];
        s.partner_name = "Acme Labs".into();
        s.subscribers = 1_000;
        s.status = SolutionStatus::Draft;
    })
    .await;
    t
}

#[tokio::test]
async fn filters_match_every_term_category_and_tag() {
    let t = searchable().await;
    let hits = |query: &'static str| {
        let t = &t;
        async move { sorted(ids(&t.get(&format!("/api/solutions?limit=100&{query}")).await)) }
    };
    let sols = |suffixes: &[&str]| sorted(sols(suffixes));
    assert_eq!(hits("").await, sols(&["alpha", "beta", "delta", "gamma"]));
    // q: case-insensitive, every term somewhere in name, description, category, tags or partner.
    assert_eq!(hits("q=search").await, sols(&["alpha"]), "name and tag; the draft never");
    assert_eq!(hits("q=SEMANTIC").await, sols(&["alpha"]), "description");
    assert_eq!(hits("q=acme").await, sols(&["alpha", "gamma"]), "partner name");
    assert_eq!(hits("q=india").await, sols(&["beta", "delta"]), "tags");
    assert_eq!(hits("q=finance").await, sols(&["beta"]), "category");
    assert_eq!(hits("q=%20acme%20%20OCR%20").await, sols(&["gamma"]), "two terms, extra spaces");
    assert_eq!(hits("q=acme+invoice").await, Vec::<String>::new(), "both terms must match one solution");
    assert_eq!(hits("q=sear").await, sols(&["alpha"]), "a term occurs inside a word");
    assert_eq!(hits("q=nothing-like-this").await, Vec::<String>::new());
    // category and tag: exact, case-insensitive.
    assert_eq!(hits("category=finance").await, sols(&["beta"]));
    assert_eq!(hits("category=FINANCE").await, sols(&["beta"]));
    assert_eq!(hits("category=fin").await, Vec::<String>::new(), "exact, not a prefix");
    assert_eq!(hits("category=").await, sols(&["alpha", "beta", "delta", "gamma"]), "blank = no filter");
    assert_eq!(hits("tag=ai").await, sols(&["alpha"]), "stored as AI");
    assert_eq!(hits("tag=India").await, sols(&["beta", "delta"]));
    assert_eq!(hits("tag=ind").await, Vec::<String>::new());
    // Combined.
    assert_eq!(hits("q=acme&tag=ocr").await, sols(&["gamma"]));
    assert_eq!(hits("q=search&category=ai").await, Vec::<String>::new());
    assert_eq!(hits("q=india&category=communication&tag=sms").await, sols(&["delta"]));
}

/// (suffix, subscribers, rating sum, rating count, published days ago (None: never set), prices)
type Row = (&'static str, u64, u64, u64, Option<i64>, Vec<shared::model::Price>);

/// Eight published solutions whose sort keys tie in every way a sort order has to break.
async fn sortable() -> MarketEnv {
    let t = MarketEnv::new().await;
    let now = t.env.clock.now();
    let rows: Vec<Row> = vec![
        ("p1", 50, 9, 2, Some(10), vec![price(49_900, "inr")]),
        ("p2", 50, 40, 10, Some(20), vec![price(19_900, "inr"), price(500, "usd")]),
        ("p3", 50, 8, 2, Some(5), vec![]),
        ("p4", 50, 12, 3, Some(5), vec![price(1_000, "usd")]),
        ("p5", 7, 0, 0, Some(1), vec![price(19_900, "inr")]),
        ("p6", 7, 0, 0, Some(1), vec![]),
        ("p7", 0, 2, 3, None, vec![price(29_900, "inr"), price(300, "usd")]),
        ("p8", 0, 666_667, 1_000_000, Some(40), vec![price(9_900, "inr")]),
    ];
    for (suffix, subscribers, sum, count, published, prices) in rows {
        t.solution(suffix, |s| {
            s.subscribers = subscribers;
            s.rating_sum = sum;
            s.rating_count = count;
            match published {
                Some(days) => s.published_at = Some(days_before(now, days)),
                None => {
                    // Published before publication times were recorded: its creation time counts.
                    s.published_at = None;
                    s.created_at = days_before(now, 3);
                }
            }
            s.tiers = tiers(&prices);
        })
        .await;
    }
    t
}

#[tokio::test]
async fn every_sort_order_is_exact_with_ties_broken_by_id() {
    let t = sortable().await;
    let order = |query: &'static str| {
        let t = &t;
        async move { ids(&t.get(&format!("/api/solutions?limit=100{query}")).await) }
    };
    // popular: subscribers, then reviews, then newest, then id.
    let popular = sols(&["p2", "p4", "p3", "p1", "p5", "p6", "p8", "p7"]);
    assert_eq!(order("&sort=popular").await, popular);
    assert_eq!(order("").await, popular, "the default");
    // rating: the exact average (666667/1000000 > 2/3), then reviews; unrated last.
    assert_eq!(order("&sort=rating").await, sols(&["p1", "p2", "p4", "p3", "p8", "p7", "p5", "p6"]));
    // newest: published (else created), then id.
    assert_eq!(order("&sort=newest").await, sols(&["p5", "p6", "p7", "p3", "p4", "p1", "p2", "p8"]));
    // price: lowest in the currency (inr by default), free-only as 0, not sold in it last.
    let by_inr = sols(&["p3", "p6", "p8", "p2", "p5", "p7", "p1", "p4"]);
    assert_eq!(order("&sort=price").await, by_inr);
    assert_eq!(order("&sort=price&currency=inr").await, by_inr);
    assert_eq!(order("&sort=price&currency=INR").await, by_inr, "currency codes are case-insensitive");
    assert_eq!(order("&sort=price&currency=usd").await, sols(&["p3", "p6", "p7", "p2", "p4", "p1", "p5", "p8"]));
    assert_eq!(order("&sort=price&currency=eur").await, sols(&["p3", "p6", "p1", "p2", "p4", "p5", "p7", "p8"]));

    // What a listing shows.
    let page = t.get("/api/solutions?sort=rating&limit=100").await;
    let item = |id: &str| -> Value {
        page["solutions"].as_array().expect("list").iter().find(|s| s["solution_id"] == sol(id)).expect(id).clone()
    };
    let p1 = item("p1");
    assert_eq!((p1["rating"]["average"].as_f64(), p1["rating"]["count"].as_u64()), (Some(4.5), Some(2)));
    assert_eq!(item("p7")["rating"]["average"].as_f64(), Some(0.7), "one decimal");
    assert_eq!(item("p5")["rating"], serde_json::json!({"average": null, "count": 0}));
    assert_eq!(item("p2")["prices_from"], serde_json::json!({"inr": 19_900, "usd": 500}));
    assert_eq!(item("p3")["prices_from"], serde_json::json!({}));
    assert!(item("p7")["published_at"].is_null());
    for key in ["solution_id", "name", "description", "partner_name", "category", "tags", "rating", "prices_from"] {
        assert!(p1.get(key).is_some(), "{key} missing: {p1}");
    }
}

/// 23 published solutions with many equal sort keys.
async fn crowded() -> MarketEnv {
    let t = MarketEnv::new().await;
    let now = t.env.clock.now();
    for i in 0..23u64 {
        t.solution(&format!("c{i:02}"), |s| {
            s.subscribers = i % 3;
            s.rating_count = i % 4;
            s.rating_sum = (i % 4) * (1 + i % 5).min(5);
            s.published_at = Some(days_before(now, i64::try_from(i % 4).unwrap_or(0)));
            s.tags = if i % 2 == 0 { vec!["even".into()] } else { vec!["odd".into()] };
            s.tiers = match i % 5 {
                0 => tiers(&[]),
                1 => tiers(&[price(9_900, "inr")]),
                2 => tiers(&[price(9_900, "inr"), price(100, "usd")]),
                3 => tiers(&[price(100, "usd")]),
                _ => tiers(&[price(4_900, "inr")]),
            };
        })
        .await;
    }
    t
}

#[tokio::test]
async fn cursors_walk_every_order_without_gaps_or_repeats() {
    let t = crowded().await;
    for query in
        ["sort=popular", "sort=rating", "sort=newest", "sort=price", "sort=price&currency=usd", "tag=even&sort=rating"]
    {
        let full = ids(&t.get(&format!("/api/solutions?{query}&limit=100")).await);
        let expected = if query.starts_with("tag=") { 12 } else { 23 };
        assert_eq!(full.len(), expected, "{query}");
        for limit in [1, 2, 3, 7, 22, 23, 100] {
            let walked = t.walk(&format!("/api/solutions?{query}&limit={limit}")).await;
            assert_eq!(walked, full, "{query} in pages of {limit}");
        }
    }
    // The default page size is 20.
    let first = t.get("/api/solutions").await;
    assert_eq!((ids(&first).len(), first["next_cursor"].is_string()), (20, true));
    let last = t.get("/api/solutions?limit=23").await;
    assert!(last["next_cursor"].is_null(), "no cursor after the last page");
}

#[tokio::test]
async fn a_cursor_survives_new_solutions_without_repeating_any() {
    let t = crowded().await;
    let page = t.get("/api/solutions?sort=newest&limit=5").await;
    let mut seen = ids(&page);
    let cursor = page["next_cursor"].as_str().expect("cursor").to_owned();
    // Published after the first page was read: it sorts before the cursor, so the walk goes on past it.
    t.solution("late", |s| s.published_at = Some(days_before(t.env.clock.now(), -1))).await;
    t.solution("late2", |s| s.published_at = Some(days_before(t.env.clock.now(), 100))).await;
    let rest = t.walk_from("/api/solutions?sort=newest&limit=5", Some(cursor)).await;
    seen.extend(rest);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no repeats");
    assert!(!seen.contains(&sol("late")) && seen.contains(&sol("late2")));
    assert_eq!(seen.len(), 24);
}

#[tokio::test]
async fn a_cursor_belongs_to_its_query_and_bad_parameters_are_named() {
    let t = crowded().await;
    let base = "/api/solutions?q=solution&sort=price&currency=inr&limit=3";
    let page = t.get(base).await;
    let c = page["next_cursor"].as_str().expect("cursor").to_owned();
    // Same query (spelled differently, or another page size): fine.
    for same in [
        format!("{base}&cursor={c}"),
        format!("/api/solutions?q=%20SOLUTION%20&sort=price&limit=5&cursor={c}"),
        format!("/api/solutions?currency=INR&q=solution&sort=price&cursor={c}"),
    ] {
        let r = t.call("GET", &same, None, None).await;
        assert_eq!(r.status, 200, "{same}: {:?}", r.body);
    }
    // Any other query: 400 naming the cursor.
    for other in [
        "q=other&sort=price&currency=inr",
        "q=solution&sort=rating&currency=inr",
        "q=solution&currency=inr",
        "q=solution&sort=price&currency=usd",
        "q=solution&sort=price&currency=inr&category=ai",
        "q=solution&sort=price&currency=inr&tag=even",
        "sort=price&currency=inr",
    ] {
        let r = t.call("GET", &format!("/api/solutions?{other}&limit=3&cursor={c}"), None, None).await;
        assert_eq!((r.status, fields(&r)), (400, vec!["cursor".to_owned()]), "{other}");
        assert_eq!(r.content_type(), "application/problem+json");
    }
    // Not a cursor at all.
    for junk in ["not-a-cursor", "bm90IGpzb24", "eyJhIjoxfQ", "%00%01", "eyJoIjoiIiwiYWZ0ZXIiOm51bGx9"] {
        let r = t.call("GET", &format!("/api/solutions?cursor={junk}"), None, None).await;
        assert_eq!((r.status, fields(&r)), (400, vec!["cursor".to_owned()]), "{junk}");
    }
    // Other parameters.
    for (query, field) in [
        ("sort=cheapest", "sort"),
        ("sort=", "sort"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("limit=-1", "limit"),
        ("currency=rupees", "currency"),
        ("currency=1nr", "currency"),
    ] {
        let r = t.call("GET", &format!("/api/solutions?{query}"), None, None).await;
        assert_eq!((r.status, fields(&r)), (400, vec![field.to_owned()]), "{query}: {:?}", r.body);
    }
    let long = "x".repeat(201);
    let r = t.call("GET", &format!("/api/solutions?q={long}"), None, None).await;
    assert_eq!((r.status, fields(&r)), (400, vec!["q".to_owned()]));
}

#[tokio::test]
async fn unpublished_solutions_are_never_listed_nor_shown() {
    let t = MarketEnv::new().await;
    let live = t
        .solution("live", |s| {
            s.name = "Live Search".into();
            s.website = Some("https://live.example".into());
            s.rating_sum = 14;
            s.rating_count = 3;
            let mut paid = price(49_900, "inr");
            paid.stripe_price_id = Some("price_internal123".into());
            s.tiers = tiers(&[paid, price(600, "usd")]);
        })
        .await;
    let hidden = [
        ("draft", SolutionStatus::Draft),
        ("submitted", SolutionStatus::Submitted),
        ("suspended", SolutionStatus::Suspended),
        ("retired", SolutionStatus::Retired),
    ];
    for (suffix, status) in hidden {
        t.solution(suffix, |s| {
            s.name = "Live Search".into();
            s.status = status;
            s.subscribers = 10_000;
            s.rating_sum = 50;
            s.rating_count = 10;
        })
        .await;
    }
    for query in ["", "sort=rating", "sort=newest", "sort=price", "q=live+search", "q=solution"] {
        assert_eq!(ids(&t.get(&format!("/api/solutions?{query}")).await), vec![live.solution_id.clone()], "{query}");
    }
    // Details: published only.
    let d = t.get(&format!("/api/solutions/{}", live.solution_id)).await;
    assert_eq!(d["solution_id"], live.solution_id.as_str());
    assert_eq!((d["website"].as_str(), d["time_zone"].as_str()), (Some("https://live.example"), Some("Asia/Kolkata")));
    assert_eq!((d["rating"]["average"].as_f64(), d["rating"]["count"].as_u64()), (Some(4.7), Some(3)));
    assert_eq!(d["prices_from"], serde_json::json!({"inr": 49_900, "usd": 600}));
    assert_eq!(
        d["tiers"],
        serde_json::json!([
            {"tier": "free", "daily_limit": 100, "monthly_limit": null, "prices": []},
            {"tier": "pro", "daily_limit": 10_000, "monthly_limit": 200_000, "prices": [
                {"amount": 49_900, "currency": "inr", "period": "monthly"},
                {"amount": 600, "currency": "usd", "period": "monthly"}
            ]}
        ]),
        "limits and prices, not the provider's price ids"
    );
    let user = t.env.register(&integration_tests::harness::unique_email("viewer")).await;
    for id in hidden.iter().map(|(s, _)| sol(s)).chain(["sol_00000000000000000000000000".into(), "nope".into()]) {
        let r = t.call("GET", &format!("/api/solutions/{id}"), None, None).await;
        assert_eq!((r.status, r.body["code"].as_str()), (404, Some("solution_not_found")), "{id}");
        let r = t.call("GET", &format!("/api/solutions/{id}/reviews"), None, None).await;
        assert_eq!(r.status, 404, "{id} reviews");
        let body = Some(serde_json::json!({"rating": 5}));
        let r = t.call("POST", &format!("/api/solutions/{id}/reviews"), body, Some(&user.access_token)).await;
        assert_eq!(r.status, 404, "{id} review");
    }
    // Leaving the catalog: suspended now, gone at once (the cache is off here).
    let mut gone = live.clone();
    gone.set_status(SolutionStatus::Suspended);
    t.env.store.put(&gone, None).await.expect("suspend");
    assert!(ids(&t.get("/api/solutions").await).is_empty());
    assert_eq!(t.call("GET", &format!("/api/solutions/{}", live.solution_id), None, None).await.status, 404);
}

#[tokio::test]
async fn the_catalog_list_is_cached_per_instance_for_its_ttl() {
    let t = MarketEnv::with_cache(30).await;
    t.solution("first", |_| {}).await;
    assert_eq!(ids(&t.get("/api/solutions").await), sols(&["first"]));
    let second = t.solution("second", |s| s.subscribers = 5).await;
    assert_eq!(ids(&t.get("/api/solutions?sort=newest").await), sols(&["first"]), "cached");
    // Details read the table: the new solution is there already.
    assert_eq!(t.get(&format!("/api/solutions/{}", second.solution_id)).await["solution_id"], sol("second"));
    t.env.clock.advance(chrono::Duration::seconds(29));
    assert_eq!(ids(&t.get("/api/solutions").await), sols(&["first"]), "still cached");
    t.env.clock.advance(chrono::Duration::seconds(2));
    assert_eq!(ids(&t.get("/api/solutions").await), sols(&["second", "first"]), "reloaded after 30 s");
}
