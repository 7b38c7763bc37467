//! `GET /api/admin/audit`: security events recorded where they happen (logins, failures of existing accounts,
//! lockouts, revocations) and an admin's tier change, with the right actor, subject and address; the filters,
//! the paging newest first across UTC days (over records seeded at chosen times), the cursor bound to its
//! filters; admins' sessions only; bad input a 400 naming the field; and records of the older shapes (partner
//! and solution decisions, quota resets) still listed by subject.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use integration_tests::harness::{PASSWORD, Reply, TestEnv, api_request, from_source_ip, unique_email};
use integration_tests::partners::PartnersEnv;
use lambda_http::{Body, Request};
use serde_json::{Value, json};
use shared::audit::{AuditKind, Event, SYSTEM, subject};
use shared::model::SolutionStatus;
use std::collections::BTreeSet;

/// `GET /api/admin/audit` with these query parameters.
async fn trail(env: &TestEnv, bearer: &str, query: &[(&str, &str)]) -> Reply {
    let query: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(query).finish();
    env.call("GET", &format!("/api/admin/audit?{query}"), None, Some(bearer)).await
}

/// Every page of a listing (following `next_cursor`), and the number of pages.
async fn all_pages(env: &TestEnv, bearer: &str, query: &[(&str, &str)]) -> (Vec<Value>, usize) {
    let mut events = Vec::new();
    let mut cursor: Option<String> = None;
    for pages in 1..=200 {
        let mut q = query.to_vec();
        if let Some(c) = &cursor {
            q.push(("cursor", c));
        }
        let r = trail(env, bearer, &q).await;
        assert_eq!(r.status, 200, "{query:?}: {:?}", r.body);
        events.extend(r.body["events"].as_array().expect("events").iter().cloned());
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return (events, pages),
        }
    }
    panic!("{query:?}: more than 200 pages");
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap_or("")).collect()
}

fn field(r: &Reply) -> (u16, &str, &str) {
    (r.status, r.body["code"].as_str().unwrap_or(""), r.body["errors"][0]["field"].as_str().unwrap_or(""))
}

/// A request as API Gateway delivers it from `source_ip`.
fn from_ip(method: &str, uri: &str, body: Value, bearer: Option<&str>, source_ip: &str) -> Request {
    from_source_ip(api_request(method, uri, Body::Text(body.to_string()), bearer, &[]), source_ip)
}

async fn login_from(env: &TestEnv, email: &str, password: &str, ip: &str) -> Reply {
    env.send(from_ip("POST", "/api/auth/login", json!({"email": email, "password": password}), None, ip)).await
}

#[tokio::test]
async fn logins_failures_lockouts_and_revocations_are_recorded() {
    Box::pin(security_events()).await;
}

async fn security_events() {
    let env = TestEnv::new().await;
    let admin = env.admin().await;
    let email = unique_email("audited");
    let registered = env.register(&email).await;
    let user_id = registered.user_id.clone();
    let about_user = subject::user(&user_id);

    // A login from an address: recorded with the user as actor and the address.
    let ok = login_from(&env, &email, PASSWORD, "203.0.113.7").await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    let r = trail(&env, &admin.access_token, &[("subject", &about_user)]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let login = &r.body["events"][0];
    assert_eq!(
        (login["kind"].as_str(), login["actor"].as_str(), login["subject"].as_str()),
        (Some("auth.login"), Some(user_id.as_str()), Some(about_user.as_str()))
    );
    assert_eq!(login["source_ip"], "203.0.113.7");
    assert!(login["details"]["family_id"].as_str().is_some_and(|f| f.starts_with("fam_")), "{login}");
    assert!(login["audit_id"].as_str().is_some_and(|a| a.starts_with("aud_")));

    // Five wrong passwords: five failures, the fifth locks the account (recorded once more, as the lock); an
    // attempt while locked is refused and not recorded again. An unknown address leaves no record at all.
    for n in 1..=5 {
        let r = login_from(&env, &email, "wrong password!", "198.51.100.4").await;
        assert_eq!(r.status, 401, "attempt {n}: {:?}", r.body);
    }
    let locked = login_from(&env, &email, PASSWORD, "198.51.100.4").await;
    assert_eq!(locked.status, 429, "{:?}", locked.body);
    let nobody = unique_email("nobody");
    for _ in 0..3 {
        assert_eq!(login_from(&env, &nobody, "wrong password!", "198.51.100.4").await.status, 401);
    }
    let (events, _) = all_pages(&env, &admin.access_token, &[("subject", &about_user)]).await;
    // The clock stands still: one second, newest first by id (the failure that locks and its lock are written
    // together, in either order).
    let mut seen = kinds(&events);
    assert_eq!(seen.pop(), Some("auth.login"), "the oldest");
    seen.sort_unstable();
    assert_eq!(
        seen,
        [
            "auth.locked",
            "auth.login_failed",
            "auth.login_failed",
            "auth.login_failed",
            "auth.login_failed",
            "auth.login_failed"
        ]
    );
    let failed: Vec<&Value> = events.iter().filter(|e| e["kind"] == "auth.login_failed").collect();
    for e in &failed {
        assert_eq!((e["actor"].as_str(), e["source_ip"].as_str()), (Some(SYSTEM), Some("198.51.100.4")), "{e}");
    }
    let counts: BTreeSet<&str> = failed.iter().filter_map(|e| e["details"]["failures"].as_str()).collect();
    assert_eq!(counts, BTreeSet::from(["1", "2", "3", "4", "5"]));
    let lock = events.iter().find(|e| e["kind"] == "auth.locked").expect("the lock");
    assert_eq!(
        (lock["details"]["locked_seconds"].as_str(), lock["details"]["failures"].as_str()),
        (Some("30"), Some("5"))
    );
    assert_eq!((lock["actor"].as_str(), lock["source_ip"].as_str()), (Some(SYSTEM), Some("198.51.100.4")));
    // Failed logins of the whole platform: only the existing account's five (no record tells an address).
    let (all_failed, _) = all_pages(&env, &admin.access_token, &[("kind", "auth.login_failed")]).await;
    assert_eq!(all_failed.len(), 5);
    let text = serde_json::to_string(&all_failed).expect("json");
    assert!(!text.contains(&nobody) && !text.contains("wrong password"), "{text}");

    // The owner revokes a token (recorded with its id), a reused refresh token revokes its session (by the
    // platform).
    env.clock.advance(Duration::seconds(31));
    let mut session = env.login(&email).await;
    let revoked = env
        .send(from_ip(
            "DELETE",
            "/api/revoke-token",
            json!({"token": session.access_token}),
            Some(&session.access_token),
            "192.0.2.44",
        ))
        .await;
    assert_eq!(revoked.status, 204, "{:?}", revoked.body);
    session = env.login(&email).await;
    let body = json!({"refresh_token": session.refresh_token});
    assert_eq!(env.call("POST", "/api/refresh-token", Some(body.clone()), None).await.status, 200);
    let reused = env.call("POST", "/api/refresh-token", Some(body), None).await;
    assert_eq!(reused.body["code"], "refresh_token_reused", "{:?}", reused.body);
    let r = trail(&env, &admin.access_token, &[("kind", "token.revoked")]).await;
    let revocations = r.body["events"].as_array().expect("events");
    assert_eq!(revocations.len(), 2, "{revocations:?}");
    let (by_system, by_owner) = (&revocations[0], &revocations[1]);
    assert_eq!(
        (by_system["actor"].as_str(), by_system["subject"].as_str(), by_system["reason"].as_str()),
        (Some(SYSTEM), Some(about_user.as_str()), Some("refresh_token_reused"))
    );
    assert_eq!(
        (by_owner["actor"].as_str(), by_owner["reason"].as_str(), by_owner["source_ip"].as_str()),
        (Some(user_id.as_str()), Some("revoked_by_owner"), Some("192.0.2.44"))
    );
    assert!(by_owner["subject"].as_str().is_some_and(|s| s.starts_with("token#tok_")), "{by_owner}");
    assert_eq!(by_owner["details"]["user_id"], user_id.as_str());

    // An admin's tier change of the user: the admin as actor, no address (an admin action, not a security
    // event).
    let solution = env.solution(SolutionStatus::Published).await;
    let set = json!({"user_id": user_id, "solution_id": solution.solution_id, "tier": "pro"});
    let r = env.call("PUT", "/api/user-tier", Some(set), Some(&admin.access_token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = trail(&env, &admin.access_token, &[("actor", &admin.user_id), ("kind", "user_tier.set")]).await;
    let tier = &r.body["events"][0];
    assert_eq!((tier["subject"].as_str(), tier["details"]["tier"].as_str()), (Some(about_user.as_str()), Some("pro")));
    assert_eq!(tier["details"]["solution_id"], solution.solution_id.as_str());
    assert!(tier.get("source_ip").is_none(), "{tier}");
    // A refused change (unknown user) records nothing.
    let set = json!({"user_id": "usr_00000000000000000000000000", "solution_id": solution.solution_id, "tier": "pro"});
    assert_eq!(env.call("PUT", "/api/user-tier", Some(set), Some(&admin.access_token)).await.status, 404);
    let (tiers, _) = all_pages(&env, &admin.access_token, &[("kind", "user_tier.set")]).await;
    assert_eq!(tiers.len(), 1);
}

/// Seed `event` at `at` through the audit capability, as the use cases record them.
async fn seed(env: &TestEnv, event: Event, at: DateTime<Utc>) -> String {
    let item = event.at(at);
    env.store.put_audit(std::slice::from_ref(&item)).await.expect("seed audit record");
    item.audit_id
}

fn day(d: NaiveDate, h: u32, m: u32, s: u32) -> DateTime<Utc> {
    d.and_hms_opt(h, m, s).expect("time").and_utc()
}

#[tokio::test]
async fn the_trail_pages_newest_first_across_utc_days_and_filters() {
    Box::pin(paging()).await;
}

async fn paging() {
    let env = TestEnv::new().await;
    let admin = env.admin().await;
    let a = &admin.access_token;
    let today = Utc::now().date_naive();
    let d = |n: i64| today - Duration::days(n);
    // Three records on each of 5 days (the day's first and last second, and noon), by two actors, of two kinds.
    let mut seeded = Vec::new();
    for n in (1..=5).rev() {
        for (h, m, s) in [(0, 0, 0), (12, 0, 0), (23, 59, 59)] {
            let (kind, actor) = if h == 12 {
                (AuditKind::TierLimitsSet, "usr_01jaaaaaaaaaaaaaaaaaaaaaaa")
            } else {
                (AuditKind::PartnerApproved, "usr_01jbbbbbbbbbbbbbbbbbbbbbbb")
            };
            let subject = if n % 2 == 0 { subject::partner("prt_even") } else { subject::partner("prt_odd") };
            let at = day(d(n), h, m, s);
            seeded.push((at, seed(&env, Event::new(kind, actor, subject), at).await));
        }
    }
    seeded.reverse();
    let newest_first: Vec<&str> = seeded.iter().map(|(_, id)| id.as_str()).collect();
    let ids = |events: &[Value]| -> Vec<String> {
        events.iter().map(|e| e["audit_id"].as_str().unwrap_or("").to_owned()).collect()
    };
    let (from, to) = (d(5).to_string(), d(1).to_string());

    // Every record once, newest first, 4 a page.
    let (events, pages) = all_pages(&env, a, &[("from", &from), ("to", &to), ("limit", "4")]).await;
    assert_eq!(ids(&events), newest_first);
    assert_eq!(pages, 4);
    let r = trail(&env, a, &[("from", &from), ("to", &to), ("limit", "4")]).await;
    assert_eq!(
        (r.body["from"].as_str(), r.body["to"].as_str()),
        (Some(&*format!("{from}T00:00:00Z")), Some(&*format!("{}T00:00:00Z", d(0))))
    );
    // One page holds them all, with no cursor.
    let r = trail(&env, a, &[("from", &from), ("to", &to), ("limit", "15")]).await;
    assert_eq!(r.body["events"].as_array().map(Vec::len), Some(15));
    assert!(r.body.get("next_cursor").is_none(), "{:?}", r.body["next_cursor"]);

    // Day boundaries: [from, to) by the second; a date `to` includes its day's last second.
    let d3 = d(3);
    let (events, _) =
        all_pages(&env, a, &[("from", &format!("{d3}T00:00:00Z")), ("to", &format!("{}T00:00:00Z", d(2)))]).await;
    let at: Vec<&str> = events.iter().filter_map(|e| e["at"].as_str()).collect();
    assert_eq!(at, [format!("{d3}T23:59:59Z"), format!("{d3}T12:00:00Z"), format!("{d3}T00:00:00Z")]);
    let (events, _) = all_pages(&env, a, &[("from", &d3.to_string()), ("to", &d3.to_string())]).await;
    assert_eq!(events.len(), 3);
    let (events, _) =
        all_pages(&env, a, &[("from", &format!("{d3}T23:59:59Z")), ("to", &format!("{d3}T23:59:59.001Z"))]).await;
    assert_eq!(events.len(), 1, "a fraction of a second widens the range to the whole second");
    // Offsets are read as the instant they name (+05:30: the previous UTC day's 18:30).
    let (events, _) = all_pages(
        &env,
        a,
        &[("from", &format!("{}T05:29:59+05:30", d(2))), ("to", &format!("{}T05:30:00+05:30", d(2)))],
    )
    .await;
    assert_eq!(events.iter().filter_map(|e| e["at"].as_str()).collect::<Vec<_>>(), [format!("{d3}T23:59:59Z")]);

    // By kind (filtered after reading), by actor (its index), by subject (its partition), combined.
    let (events, _) =
        all_pages(&env, a, &[("from", &from), ("to", &to), ("kind", "tier_limits.set"), ("limit", "2")]).await;
    assert_eq!(events.len(), 5);
    assert!(
        events.iter().all(|e| e["kind"] == "tier_limits.set" && e["at"].as_str().is_some_and(|t| t.contains("T12:")))
    );
    let (events, _) = all_pages(
        &env,
        a,
        &[("from", &from), ("to", &to), ("actor", "usr_01jbbbbbbbbbbbbbbbbbbbbbbb"), ("limit", "3")],
    )
    .await;
    assert_eq!(events.len(), 10);
    assert!(events.iter().all(|e| e["actor"] == "usr_01jbbbbbbbbbbbbbbbbbbbbbbb"));
    let even = subject::partner("prt_even");
    let (events, _) = all_pages(&env, a, &[("from", &from), ("to", &to), ("subject", &even)]).await;
    assert_eq!(events.len(), 6);
    let expected: Vec<&str> = seeded
        .iter()
        .filter(|(at, _)| at.date_naive() == d(2) || at.date_naive() == d(4))
        .map(|(_, id)| id.as_str())
        .collect();
    assert_eq!(ids(&events), expected);
    let (events, _) = all_pages(
        &env,
        a,
        &[
            ("from", &from),
            ("to", &to),
            ("subject", &even),
            ("actor", "usr_01jaaaaaaaaaaaaaaaaaaaaaaa"),
            ("limit", "1"),
        ],
    )
    .await;
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e["kind"] == "tier_limits.set"));
    let (events, _) =
        all_pages(&env, a, &[("from", &from), ("to", &to), ("actor", SYSTEM), ("kind", "partner.approved")]).await;
    assert!(events.is_empty());

    // A cursor goes on only with its own filters.
    let first = trail(&env, a, &[("from", &from), ("to", &to), ("limit", "2")]).await;
    let cursor = first.body["next_cursor"].as_str().expect("cursor").to_owned();
    let d4 = d(4).to_string();
    let others: [Vec<(&str, &str)>; 4] = [
        vec![("from", &from), ("to", &to), ("limit", "2"), ("kind", "partner.approved")],
        vec![("from", &d4), ("to", &to)],
        vec![("to", &to)],
        vec![("from", &from), ("to", &to), ("subject", &even)],
    ];
    for other in others {
        let mut q = other.clone();
        q.push(("cursor", &cursor));
        assert_eq!(field(&trail(&env, a, &q).await), (400, "validation_failed", "cursor"), "{other:?}");
    }
    // The page size may change between pages.
    let r = trail(&env, a, &[("from", &from), ("to", &to), ("limit", "50"), ("cursor", &cursor)]).await;
    assert_eq!(ids(r.body["events"].as_array().expect("events")), newest_first[2..]);
    for garbage in ["x", "%%%", "eyJmIjoiMCJ9", &"A".repeat(3000)] {
        let r = trail(&env, a, &[("from", &from), ("to", &to), ("cursor", garbage)]).await;
        assert_eq!(field(&r), (400, "validation_failed", "cursor"), "{garbage}");
    }
}

#[tokio::test]
async fn long_empty_stretches_give_short_pages_that_go_on() {
    let env = TestEnv::new().await;
    let admin = env.admin().await;
    let today = Utc::now().date_naive();
    let old = today - Duration::days(60);
    let recent = today - Duration::days(1);
    let older = seed(
        &env,
        Event::new(
            AuditKind::QuotaReset,
            "usr_01jaaaaaaaaaaaaaaaaaaaaaaa",
            subject::customer_solution("usr_01jaaaaaaaaaaaaaaaaaaaaaaa", "sol_01jaaaaaaaaaaaaaaaaaaaaaaa"),
        ),
        day(old, 8, 0, 0),
    )
    .await;
    let newer = seed(
        &env,
        Event::new(AuditKind::RefundRequested, "usr_01jaaaaaaaaaaaaaaaaaaaaaaa", subject::payment("pay_1")),
        day(recent, 8, 0, 0),
    )
    .await;
    let from = (today - Duration::days(90)).to_string();
    let first = trail(&env, &admin.access_token, &[("from", &from), ("kind", "quota.reset")]).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.body["events"].as_array().map(Vec::len), Some(0), "a bounded read of empty days");
    assert!(first.body["next_cursor"].is_string());
    let (events, pages) = all_pages(&env, &admin.access_token, &[("from", &from)]).await;
    let ids: Vec<&str> = events.iter().filter_map(|e| e["audit_id"].as_str()).collect();
    // Today's admin login comes first.
    assert_eq!(ids[ids.len() - 2..], [newer.as_str(), older.as_str()]);
    assert!(pages > 2, "{pages} pages over 91 days");
}

#[tokio::test]
async fn only_an_admins_session_reads_the_trail() {
    Box::pin(only_admins()).await;
}

async fn only_admins() {
    let p = PartnersEnv::new().await;
    let user = p.env.register(&unique_email("curious")).await;
    let partner = p.partner("Audit Co").await;
    for bearer in [&user.access_token, &partner.session.access_token] {
        for q in [vec![], vec![("kind", "auth.login")], vec![("actor", user.user_id.as_str())]] {
            let r = trail(&p.env, bearer, &q).await;
            assert_eq!((r.status, r.body["code"].as_str()), (403, Some("forbidden")), "{q:?}: {:?}", r.body);
        }
    }
    let solution = p.published(&partner, "Audited", None).await;
    for session in [&user.access_token, &p.admin.access_token] {
        let token = p.env.solution_token(session, &solution).await["token"].as_str().expect("token").to_owned();
        let r = trail(&p.env, &token, &[]).await;
        assert_eq!((r.status, r.body["code"].as_str()), (401, Some("wrong_token_kind")), "{:?}", r.body);
    }
    let key = p.api_key(&partner, &[]).await;
    let r = p.call_with("GET", "/api/admin/audit", None, None, &[("x-api-key", &key)]).await;
    assert_eq!((r.status, r.body["code"].as_str()), (401, Some("unauthorized")), "{:?}", r.body);
    let r = p.call_with("GET", "/api/admin/audit", None, Some(&user.access_token), &[("x-api-key", &key)]).await;
    assert_eq!(r.status, 403);
    assert_eq!(p.env.call("GET", "/api/admin/audit", None, None).await.status, 401);
    let r = trail(&p.env, &p.admin.access_token, &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.content_type(), "application/json");
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_field() {
    let env = TestEnv::new().await;
    let admin = env.admin().await;
    let long = "a".repeat(200);
    let user = format!("user#{long}");
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("kind", "")], "kind"),
        (vec![("kind", "partner.approve")], "kind"),
        (vec![("kind", "AUTH.LOGIN")], "kind"),
        (vec![("actor", "")], "actor"),
        (vec![("actor", "usr_1")], "actor"),
        (vec![("actor", "admin")], "actor"),
        (vec![("actor", "SYSTEM")], "actor"),
        (vec![("subject", "")], "subject"),
        (vec![("subject", "partner")], "subject"),
        (vec![("subject", "thing#1")], "subject"),
        (vec![("subject", "user#a#b")], "subject"),
        (vec![("subject", "user#a b")], "subject"),
        (vec![("subject", "user#\u{e9}")], "subject"),
        (vec![("subject", "customer#usr_1")], "subject"),
        (vec![("subject", &user)], "subject"),
        (vec![("from", "")], "from"),
        (vec![("from", "yesterday")], "from"),
        (vec![("from", "2026-02-30")], "from"),
        (vec![("from", "1999-12-31")], "from"),
        (vec![("from", "10000-01-01")], "from"),
        (vec![("from", "2026-01-01T10:00:00")], "from"),
        (vec![("to", "2026-01-01T10:00Z")], "to"),
        (vec![("to", "9999-12-31")], "to"),
        (vec![("from", "2026-01-10"), ("to", "2026-01-09")], "from"),
        (vec![("from", "2026-01-10T00:00:00Z"), ("to", "2026-01-10T00:00:00Z")], "from"),
        (vec![("from", "2026-01-01"), ("to", "2026-04-03")], "to"),
        (vec![("from", "2000-01-01")], "to"),
        (vec![("limit", "0")], "limit"),
        (vec![("limit", "101")], "limit"),
        (vec![("limit", "-1")], "limit"),
        (vec![("limit", "ten")], "limit"),
        (vec![("limit", "")], "limit"),
        (vec![("cursor", "")], "cursor"),
    ];
    for (query, named) in cases {
        let r = trail(&env, &admin.access_token, &query).await;
        assert_eq!(field(&r), (400, "validation_failed", named), "{query:?}: {:?}", r.body);
        assert_eq!(r.content_type(), "application/problem+json");
    }
    // Several at once are named together.
    let r = trail(&env, &admin.access_token, &[("kind", "x"), ("actor", "y"), ("limit", "0")]).await;
    let fields: BTreeSet<&str> =
        r.body["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, BTreeSet::from(["kind", "actor", "limit"]));
    // The widest range is accepted (92 days), and unknown parameters are ignored.
    let r = trail(&env, &admin.access_token, &[("from", "2026-01-01"), ("to", "2026-04-02"), ("sort", "up")]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test]
async fn records_of_the_older_shapes_are_listed_by_subject() {
    let env = TestEnv::new().await;
    let admin = env.admin().await;
    let s = |v: &str| AttributeValue::S(v.to_owned());
    // As `store::partners::AuditItem` and `store::usage::QuotaResetAuditItem` wrote them.
    let decision = [
        ("PK", s("AUDIT#partner#prt_01jolderpartner0000000000a")),
        ("SK", s("2026-03-01T10:00:00Z#aud_01jold0000000000000000000a")),
        ("entity_type", s("audit")),
        ("audit_id", s("aud_01jold0000000000000000000a")),
        ("subject", s("partner#prt_01jolderpartner0000000000a")),
        ("action", s("rejected")),
        ("actor", s("usr_01jadmin00000000000000000")),
        ("reason", s("no website")),
        ("at", s("2026-03-01T10:00:00Z")),
    ];
    let reset = [
        ("PK", s("AUDIT#quota#usr_01jcustomer000000000000000#sol_01jsolution000000000000000")),
        ("SK", s("2026-03-02T10:00:00Z#aud_01jold0000000000000000000b")),
        ("entity_type", s("quota_reset_audit")),
        ("audit_id", s("aud_01jold0000000000000000000b")),
        ("customer_id", s("usr_01jcustomer000000000000000")),
        ("solution_id", s("sol_01jsolution000000000000000")),
        ("date", s("2026-03-02")),
        ("previous_used", AttributeValue::N("42".into())),
        ("reset_by", s("usr_01jadmin00000000000000000")),
        ("reason", s("support ticket")),
        ("at", s("2026-03-02T10:00:00Z")),
    ];
    for item in [decision.to_vec(), reset.to_vec()] {
        let item = item.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        env.store.client().put_item().table_name(&env.table).set_item(Some(item)).send().await.expect("put");
    }
    // A newer reset of the same customer and solution joins the older one in its partition.
    let about = subject::customer_solution("usr_01jcustomer000000000000000", "sol_01jsolution000000000000000");
    let at = day(NaiveDate::from_ymd_opt(2026, 3, 20).expect("date"), 9, 0, 0);
    seed(&env, Event::new(AuditKind::QuotaReset, &admin.user_id, about.clone()).detail("previous_used", 7), at).await;

    let range = [("from", "2026-02-15"), ("to", "2026-03-31")];
    let q = [range.as_slice(), &[("subject", "partner#prt_01jolderpartner0000000000a")]].concat();
    let r = trail(&env, &admin.access_token, &q).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let e = &r.body["events"][0];
    assert_eq!(
        (e["kind"].as_str(), e["actor"].as_str(), e["reason"].as_str(), e["at"].as_str()),
        (
            Some("partner.rejected"),
            Some("usr_01jadmin00000000000000000"),
            Some("no website"),
            Some("2026-03-01T10:00:00Z")
        )
    );
    let q = [range.as_slice(), &[("subject", about.as_str())]].concat();
    let (events, _) = all_pages(&env, &admin.access_token, &q).await;
    assert_eq!(kinds(&events), ["quota.reset", "quota.reset"]);
    assert_eq!(events[0]["details"]["previous_used"], "7");
    assert_eq!(
        (events[1]["actor"].as_str(), events[1]["details"]["previous_used"].as_str(), events[1]["reason"].as_str()),
        (Some("usr_01jadmin00000000000000000"), Some("42"), Some("support ticket"))
    );
    // The kind filter reads them by their kind too.
    let q = [range.as_slice(), &[("subject", about.as_str()), ("kind", "partner.rejected")]].concat();
    assert_eq!(all_pages(&env, &admin.access_token, &q).await.0.len(), 0);
}
