//! `GET /api/subscriptions`: a customer's subscriptions a page at a time, newest first, optionally of one
//! solution; read by the customer, an organization's owners and admins (members 403, outsiders 404), and
//! platform admins; sessions only; bad parameters are 400s naming the parameter.

use crate::{Fixture, fixture};
use chrono::Duration;
use integration_tests::harness::{Reply, unique_email};
use serde_json::{Value, json};
use shared::model::{BillingPeriod, Price, Provider, Tier};
use shared::platform::clock::{Clock, rfc3339};
use shared::store::subscriptions::SubscriptionItem;

fn code(r: &Reply) -> (u16, &str) {
    (r.status, r.body["code"].as_str().unwrap_or(""))
}

fn field(r: &Reply) -> (u16, &str) {
    (r.status, r.body["errors"][0]["field"].as_str().unwrap_or(""))
}

fn ids(page: &Value) -> Vec<String> {
    page["subscriptions"]
        .as_array()
        .map(|l| l.iter().filter_map(|s| s["subscription_id"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// A subscription of `customer` to `solution_id` written straight to the table, created `days_ago` days ago
/// (a pending one: older than a day, so it holds no checkout slot).
async fn seed(f: &Fixture, customer: &str, solution_id: &str, days_ago: i64) -> String {
    let id = shared::platform::ids::new_id("sub");
    let created = rfc3339(f.b.env.clock.now() - Duration::days(days_ago));
    let price = Price::new(49_900, "inr", BillingPeriod::Monthly);
    let item = SubscriptionItem::new(
        &id,
        customer,
        solution_id,
        Tier::Pro,
        BillingPeriod::Monthly,
        Provider::Stripe,
        price,
        created,
    );
    f.b.env.store.create_subscription(&item, None, vec![]).await.expect("seed subscription");
    id
}

/// Every page of `uri` (which has a query already), followed by `next_cursor`: the pages' subscription ids
/// in order, and how many pages it took.
async fn all_pages(f: &Fixture, uri: &str, bearer: &str) -> (Vec<String>, usize) {
    let (mut out, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let page_uri = match &cursor {
            Some(c) => format!("{uri}&cursor={c}"),
            None => uri.to_owned(),
        };
        let r = f.b.call("GET", &page_uri, None, Some(bearer)).await;
        assert_eq!(r.status, 200, "{page_uri}: {:?}", r.body);
        pages += 1;
        out.extend(ids(&r.body));
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => {
                assert!(r.body["next_cursor"].is_null(), "{:?}", r.body);
                return (out, pages);
            }
        }
        assert!(pages < 20, "the pages never end");
    }
}

#[tokio::test]
async fn a_customers_subscriptions_page_newest_first_by_cursor_and_solution() {
    Box::pin(pages_newest_first()).await;
}

async fn pages_newest_first() {
    let f = fixture().await;
    let sol = f.solution.solution_id.clone();
    let other = f.b.priced_solution(5, 10).await.solution_id;
    // One bought and paid through the API (the newest), four older ones across both solutions.
    let (paid, _) = f.b.subscribe(&f.access, &sol, "pro").await;
    let mut expected = vec![paid.clone()];
    for (days, solution) in [(2, &other), (3, &sol), (4, &other), (5, &sol)] {
        expected.push(seed(&f, &f.user_id, solution, days).await);
    }

    // The whole list on one page by default, each as GET /api/subscriptions/{id} shows it.
    let r = f.b.call("GET", "/api/subscriptions", None, Some(&f.access)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!((ids(&r.body), &r.body["next_cursor"]), (expected.clone(), &Value::Null));
    assert_eq!(r.body["customer_id"], f.user_id.as_str());
    let legacy = f.b.call("GET", &format!("/api/subscriptions/{}", f.user_id), None, Some(&f.access)).await;
    assert_eq!(r.body["subscriptions"], legacy.body["subscriptions"], "the same view of each subscription");
    assert_eq!(
        (r.body["subscriptions"][0]["status"].as_str(), r.body["subscriptions"][1]["status"].as_str()),
        (Some("active"), Some("pending"))
    );

    // Two at a time: three pages, nothing repeated or skipped.
    let (paged, pages) = all_pages(&f, "/api/subscriptions?limit=2", &f.access).await;
    assert_eq!((paged, pages), (expected.clone(), 3));
    // Exactly one page's worth: the last page is empty or the cursor ends it, never an item twice.
    let (paged, _) = all_pages(&f, "/api/subscriptions?limit=5", &f.access).await;
    assert_eq!(paged, expected);

    // One solution's, one at a time, and another solution's that has none.
    let of_other: Vec<String> = vec![expected[1].clone(), expected[3].clone()];
    let (paged, _) = all_pages(&f, &format!("/api/subscriptions?solution_id={other}&limit=1"), &f.access).await;
    assert_eq!(paged, of_other);
    let r = f.b.call("GET", &format!("/api/subscriptions?solution_id={other}"), None, Some(&f.access)).await;
    assert_eq!((ids(&r.body), &r.body["next_cursor"]), (of_other, &Value::Null));
    let unknown = shared::platform::ids::new_id("sol");
    let r = f.b.call("GET", &format!("/api/subscriptions?solution_id={unknown}"), None, Some(&f.access)).await;
    assert_eq!((r.status, ids(&r.body).len(), &r.body["next_cursor"]), (200, 0, &Value::Null));

    // A cursor belongs to its customer's list: presented for another customer's, it is a 400 naming `cursor`.
    let first = f.b.call("GET", "/api/subscriptions?limit=1", None, Some(&f.access)).await;
    let cursor = first.body["next_cursor"].as_str().expect("cursor").to_owned();
    let stranger = f.b.env.register(&unique_email("stranger")).await;
    let r = f.b.call("GET", &format!("/api/subscriptions?cursor={cursor}"), None, Some(&stranger.access_token)).await;
    assert_eq!(field(&r), (400, "cursor"), "{:?}", r.body);
    // The admin pages anyone's with it.
    let uri = format!("/api/subscriptions?customer_id={}&limit=1&cursor={cursor}", f.user_id);
    let r = f.b.call("GET", &uri, None, Some(&f.admin)).await;
    assert_eq!((r.status, ids(&r.body)), (200, vec![expected[1].clone()]), "{:?}", r.body);
}

#[tokio::test]
async fn a_filtered_page_reads_past_other_solutions_in_bounded_requests() {
    Box::pin(filtered_past_others()).await;
}

async fn filtered_past_others() {
    use futures::StreamExt;
    let f = fixture().await;
    let sol = f.solution.solution_id.clone();
    let other = shared::platform::ids::new_id("sol");
    // Two of `sol` (the oldest), then more of another solution than one page reads in all its requests.
    let older = [seed(&f, &f.user_id, &sol, 30).await, seed(&f, &f.user_id, &sol, 29).await];
    let others = shared::store::subscriptions::SUBSCRIPTION_PAGE_READ
        * i32::try_from(shared::store::subscriptions::SUBSCRIPTION_PAGE_ROUNDS).expect("rounds")
        + 20;
    let seeded: Vec<String> =
        futures::stream::iter(0..others).map(|_| seed(&f, &f.user_id, &other, 2)).buffer_unordered(16).collect().await;
    assert_eq!(seeded.len(), usize::try_from(others).expect("count"));

    // The first page gives up after its requests: empty, with where to go on from.
    let uri = format!("/api/subscriptions?solution_id={sol}&limit=1");
    let first = f.b.call("GET", &uri, None, Some(&f.access)).await;
    assert_eq!((first.status, ids(&first.body).len()), (200, 0), "{:?}", first.body);
    let cursor = first.body["next_cursor"].as_str().expect("a cursor to go on from");
    // Then the two, newest first, one a page, and the end.
    let second = f.b.call("GET", &format!("{uri}&cursor={cursor}"), None, Some(&f.access)).await;
    assert_eq!(ids(&second.body), vec![older[1].clone()], "{:?}", second.body);
    let cursor = second.body["next_cursor"].as_str().expect("cursor");
    let third = f.b.call("GET", &format!("{uri}&cursor={cursor}"), None, Some(&f.access)).await;
    assert_eq!((ids(&third.body), &third.body["next_cursor"]), (vec![older[0].clone()], &Value::Null));
    // Without the filter, a full page of the newest.
    let r = f.b.call("GET", "/api/subscriptions?limit=100", None, Some(&f.access)).await;
    assert_eq!(ids(&r.body).len(), 100);
    assert!(r.body["next_cursor"].is_string());
}

#[tokio::test]
async fn who_may_read_a_customers_subscriptions() {
    Box::pin(who_may_read()).await;
}

async fn who_may_read() {
    let f = fixture().await;
    let sol = f.solution.solution_id.clone();
    let mine = seed(&f, &f.user_id, &sol, 2).await;
    let org = f.b.env.call("POST", "/api/orgs", Some(json!({"name": "Readers"})), Some(&f.access)).await.body["org_id"]
        .as_str()
        .expect("org")
        .to_owned();
    let the_orgs = seed(&f, &org, &sol, 3).await;
    let env = &f.b.env;
    let (org_admin, member) =
        (env.join_org(&org, &f.access, "admin").await, env.join_org(&org, &f.access, "member").await);
    let outsider = f.b.env.register(&unique_email("outsider")).await;
    let list = |who: String, query: String| {
        let b = &f.b;
        async move { b.call("GET", &format!("/api/subscriptions{query}"), None, Some(&who)).await }
    };
    let of_org = format!("?customer_id={org}");
    let of_user = format!("?customer_id={}", f.user_id);

    // The customer: their own by default or by id; the organization's as its owner.
    for query in [String::new(), of_user.clone()] {
        let r = list(f.access.clone(), query).await;
        assert_eq!((r.status, ids(&r.body)), (200, vec![mine.clone()]), "{:?}", r.body);
    }
    let r = list(f.access.clone(), of_org.clone()).await;
    assert_eq!(
        (r.status, ids(&r.body), r.body["customer_id"].as_str()),
        (200, vec![the_orgs.clone()], Some(org.as_str()))
    );
    // The organization's admins read it; members do not; an outsider's org id is unknown to them.
    let r = list(org_admin.access_token.clone(), of_org.clone()).await;
    assert_eq!((r.status, ids(&r.body)), (200, vec![the_orgs.clone()]), "{:?}", r.body);
    let r = list(member.access_token.clone(), of_org.clone()).await;
    assert_eq!(code(&r), (403, "org_role_required"), "{:?}", r.body);
    assert_eq!(r.body["required_roles"], json!(["owner", "admin"]));
    assert_eq!(code(&list(outsider.access_token.clone(), of_org.clone()).await), (404, "org_not_found"));
    // Another user's subscriptions: forbidden to everyone but admins (an org admin is no platform admin).
    for who in [&outsider, &org_admin, &member] {
        let r = list(who.access_token.clone(), of_user.clone()).await;
        assert_eq!(code(&r), (403, "forbidden"), "{:?}", r.body);
    }
    // Their own lists are their own (empty).
    let r = list(outsider.access_token.clone(), String::new()).await;
    assert_eq!(
        (r.status, ids(&r.body).len(), r.body["customer_id"].as_str()),
        (200, 0, Some(outsider.user_id.as_str()))
    );
    // A platform admin reads anyone's.
    assert_eq!(ids(&list(f.admin.clone(), of_user.clone()).await.body), vec![mine.clone()]);
    assert_eq!(ids(&list(f.admin.clone(), of_org.clone()).await.body), vec![the_orgs.clone()]);

    // Sessions only: no credential, a solution token, a partner API key (alone or beside a solution token).
    assert_eq!(code(&f.b.call("GET", "/api/subscriptions", None, None).await), (401, "unauthorized"));
    let r = f.b.call("GET", "/api/subscriptions", None, Some(&f.token)).await;
    assert_eq!(code(&r), (401, "wrong_token_kind"), "{:?}", r.body);
    let (partner_id, partner) = f.b.partner(&f.admin).await;
    let key =
        f.b.call(
            "POST",
            &format!("/api/partners/{partner_id}/api-keys"),
            Some(json!({"name": "backend"})),
            Some(&partner.access_token),
        )
        .await;
    assert_eq!(key.status, 201, "{:?}", key.body);
    let key = key.body["key"].as_str().expect("key").to_owned();
    for bearer in [None, Some(f.token.as_str())] {
        let r =
            f.b.call_with("GET", &format!("/api/subscriptions{of_user}"), None, bearer, &[("x-api-key", &key)]).await;
        assert_eq!(r.status, 401, "{:?}", r.body);
    }
    // The partner's own session reads only the partner's own subscriptions.
    let r = list(partner.access_token.clone(), of_user).await;
    assert_eq!(code(&r), (403, "forbidden"));
}

#[tokio::test]
async fn bad_parameters_are_400s_naming_them() {
    let f = fixture().await;
    seed(&f, &f.user_id, &f.solution.solution_id, 2).await;
    for (query, name) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("limit=", "limit"),
        ("cursor=garbage", "cursor"),
        ("cursor=", "cursor"),
        ("customer_id=alice", "customer_id"),
        ("customer_id=", "customer_id"),
        ("customer_id=usr_TOOSHORT", "customer_id"),
        ("customer_id=sol_01jc4x5y6z7a8b9c0d1e2f3g4h", "customer_id"),
        ("solution_id=nope", "solution_id"),
        ("solution_id=usr_01jc4x5y6z7a8b9c0d1e2f3g4h", "solution_id"),
    ] {
        for bearer in [&f.access, &f.admin] {
            let r = f.b.call("GET", &format!("/api/subscriptions?{query}"), None, Some(bearer)).await;
            assert_eq!(field(&r), (400, name), "{query}: {:?}", r.body);
            assert_eq!(r.content_type(), "application/problem+json");
        }
    }
    // Both ids wrong: both named.
    let r = f.b.call("GET", "/api/subscriptions?customer_id=x&solution_id=y", None, Some(&f.access)).await;
    let named: Vec<&str> =
        r.body["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!((r.status, named), (400, vec!["customer_id", "solution_id"]));
}
