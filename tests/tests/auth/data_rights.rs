//! Data rights: `GET /api/me/export` and `DELETE /api/me` through the real handlers, against DynamoDB Local.
//! The round trip (everything exported, then erased: what goes, what stays), the refusals, the credential kinds
//! and bad input.

use integration_tests::billing::BillingEnv;
use integration_tests::harness::{PASSWORD, TestEnv, unique_email};
use serde_json::{Value, json};
use shared::auth::Session;
use shared::model::SolutionStatus;
use shared::platform::clock::Clock;
use shared::store::keys;
use shared::store::reviews::ReviewItem;

fn erase_body() -> Value {
    json!({"password": PASSWORD, "confirm": true})
}

async fn export(env: &TestEnv, token: &str) -> Value {
    let r = env.call("GET", "/api/me/export", None, Some(token)).await;
    assert_eq!(r.status, 200, "export: {:?}", r.body);
    assert_eq!(r.headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    r.body
}

fn count(export: &Value, section: &str) -> usize {
    export[section]["items"].as_array().map_or(0, Vec::len)
}

/// A team `owner` creates: its id.
async fn team(env: &TestEnv, owner: &Session, name: &str) -> String {
    let r = env.call("POST", "/api/orgs", Some(json!({"name": name})), Some(&owner.access_token)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["org_id"].as_str().expect("org").to_owned()
}

/// `who` (with address `email`) invited to `org` by `owner` and joined.
async fn join(env: &TestEnv, owner: &Session, org: &str, who: &Session, email: &str) {
    let uri = format!("/api/orgs/{org}/invitations");
    let r = env.call("POST", &uri, Some(json!({"email": email})), Some(&owner.access_token)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["invitation_id"].as_str().expect("invitation");
    let r = env.call("POST", &format!("/api/invitations/{id}/accept"), Some(json!({})), Some(&who.access_token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn export_lists_everything_and_erasure_keeps_only_the_records_the_law_requires() {
    let billing = BillingEnv::new().await;
    let env = &billing.env;
    let solution = billing.priced_solution(100, 1000).await;
    let email = unique_email("rights");
    let first = env.register(&email).await;
    // Signed in again: an `auth.login` audit record about the user.
    let user = env.login(&email).await;
    let token = env.solution_token(&user.access_token, &solution.solution_id).await;
    let solution_token = token["token"].as_str().expect("token").to_owned();
    let tracked = env.call("POST", "/api/track-usage", Some(json!({"action": "run"})), Some(&solution_token)).await;
    assert_eq!(tracked.status, 200, "{:?}", tracked.body);
    let (subscription_id, _) = billing.paid_phonepe(&user.access_token, &solution.solution_id, "pro").await;
    // A member of another user's team, and the only member of a team of their own.
    let host = env.register(&unique_email("host")).await;
    let hosts_team = team(env, &host, "Host team").await;
    join(env, &host, &hosts_team, &user, &email).await;
    let own_team = team(env, &user, "Own team").await;
    // A review (rating 4) of the solution they pay for.
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let review = ReviewItem::new(&solution.solution_id, &user.user_id, "Test User", 4, "works for me", at);
    env.store.write_review(&review, None, 1, 4).await.expect("review");

    let before = export(env, &user.access_token).await;
    assert_eq!(before["format_version"], 1);
    assert_eq!(before["account"]["email"], email.as_str());
    for section in
        ["sessions", "organizations", "tiers", "subscriptions", "payments", "invoices", "usage", "reviews", "audit"]
    {
        assert!(count(&before, section) > 0, "{section} is empty: {}", before[section]);
        assert_eq!(before[section]["truncated"], false, "{section}");
    }
    assert!(count(&before, "ledger_postings") > 0, "postings: {}", before["ledger_postings"]);
    // Their personal organization, the host's team and their own.
    assert_eq!(count(&before, "organizations"), 3, "{}", before["organizations"]);
    let invoice = before["invoices"]["items"][0].clone();
    let invoice_id = invoice["invoice_id"].as_str().expect("invoice id").to_owned();
    assert!(invoice["number"].as_str().is_some_and(|n| n.starts_with("INV/")), "{invoice}");
    assert_eq!(before["reviews"]["items"][0]["rating"], 4);
    // Never a secret: no password hash, no token, no refresh token.
    let text = before.to_string();
    for secret in ["password", "argon2", &user.refresh_token, &user.access_token, &solution_token] {
        assert!(!text.contains(secret), "the export holds {secret}");
    }

    // A renewing subscription refuses the erasure; cancelled (at its period end, no refund) it does not. (A
    // minute later: the payment's facts carry the payment provider's time.)
    billing.set_clocks(env.clock.now().timestamp() + 60);
    let refused = env.call("DELETE", "/api/me", Some(erase_body()), Some(&user.access_token)).await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (409, Some("subscription_active")),
        "{:?}",
        refused.body
    );
    let cancel =
        billing.call("DELETE", &format!("/api/subscriptions/{subscription_id}"), None, Some(&user.access_token)).await;
    assert_eq!((cancel.status, &cancel.body["cancel_at_period_end"]), (200, &json!(true)), "{:?}", cancel.body);

    let erased = env.call("DELETE", "/api/me", Some(erase_body()), Some(&user.access_token)).await;
    assert_eq!(erased.status, 200, "{:?}", erased.body);
    assert_eq!(erased.body["kept"]["invoices"], 1, "{:?}", erased.body);
    assert_eq!(erased.body["kept"]["retention_months"], 72);
    assert!(erased.body["kept"]["kept_until"].as_str().is_some(), "{:?}", erased.body);
    assert_eq!(erased.body["removed"]["reviews_anonymised"], 1);
    assert_eq!(erased.body["removed"]["organizations_deleted"], 2, "personal and own team: {:?}", erased.body);

    // Gone: sign-in, every token, the retry's session.
    let login = env.call("POST", "/api/auth/login", Some(json!({"email": email, "password": PASSWORD})), None).await;
    assert_eq!(login.status, 401, "{:?}", login.body);
    let ctx = env.call("GET", "/api/user-context", None, Some(&user.access_token)).await;
    assert_eq!(ctx.status, 401);
    let ctx = env.call("GET", "/api/user-context", None, Some(&solution_token)).await;
    assert_eq!(ctx.status, 401);
    let ctx = env.call("GET", "/api/user-context", None, Some(&first.access_token)).await;
    assert_eq!(ctx.status, 401, "the first session too");
    let refresh =
        env.call("POST", "/api/refresh-token", Some(json!({"refresh_token": user.refresh_token})), None).await;
    assert_eq!(refresh.status, 401, "{:?}", refresh.body);
    let again = env.call("DELETE", "/api/me", Some(erase_body()), Some(&user.access_token)).await;
    assert_eq!((again.status, again.body["code"].as_str()), (401, Some("revoked")), "{:?}", again.body);
    assert!(env.store.get_user(&user.user_id).await.expect("read").is_none());
    assert!(env.store.get_org(&own_team).await.expect("read").is_none());
    assert!(env.store.get_membership(&hosts_team, &user.user_id).await.expect("read").is_none());
    assert!(env.store.usage_counters(&user.user_id, 10).await.expect("read").items.is_empty());

    // Kept, by the user id only: the tombstone, the invoice (buyer's personal fields out of the record), the
    // payment's posting, the audit trail with the erasure in it; the review keeps its rating.
    let tombstone = env.store.get_erased_account(&user.user_id).await.expect("read").expect("tombstone");
    assert_eq!(tombstone.records_kept_until.as_deref(), erased.body["kept"]["kept_until"].as_str());
    let kept = env.store.get_invoice(&invoice_id).await.expect("read").expect("invoice kept");
    assert_eq!(kept.user_id, user.user_id);
    assert_eq!(kept.number.as_deref(), invoice["number"].as_str());
    let buyer = &kept.document.as_ref().expect("document").buyer;
    assert!(buyer.name.is_empty() && buyer.email.is_none() && buyer.address.is_empty(), "{buyer:?}");
    let payment_id = before["payments"]["items"][0]["payment_id"].as_str().expect("payment").to_owned();
    assert!(env.store.get_posting(&payment_id).await.expect("read").is_some(), "the posting stays");
    let trail = env.store.audit_about(&format!("user#{}", user.user_id), 100).await.expect("audit").items;
    assert!(trail.iter().any(|a| a.kind == "account.erased"), "{trail:?}");
    assert!(trail.iter().any(|a| a.kind == "account.exported"), "{trail:?}");
    let anonymised: ReviewItem = env
        .store
        .get(&keys::review(&solution.solution_id, &user.user_id), true)
        .await
        .expect("read")
        .expect("review kept");
    assert_eq!((anonymised.author.as_str(), anonymised.rating, anonymised.text.as_str()), ("Deleted user", 4, ""));
    let stored = serde_json::to_string(&tombstone).expect("json");
    assert!(!stored.contains(&email), "the tombstone holds the address");

    // The address registers anew, as a new user with nothing.
    let again = env.register(&email).await;
    assert_ne!(again.user_id, user.user_id);
    let fresh = export(env, &again.access_token).await;
    for section in ["subscriptions", "payments", "invoices", "ledger_postings", "usage", "reviews", "tiers"] {
        assert_eq!(count(&fresh, section), 0, "{section}: {}", fresh[section]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn erasure_is_refused_while_it_would_break_others_or_money_is_in_flight() {
    let billing = BillingEnv::new().await;
    let env = &billing.env;

    // The only owner of a team with another member.
    let owner = env.register(&unique_email("owner")).await;
    let org = team(env, &owner, "Shared").await;
    env.join_org(&org, &owner.access_token, "member").await;
    let r = env.call("DELETE", "/api/me", Some(erase_body()), Some(&owner.access_token)).await;
    assert_eq!((r.status, r.body["code"].as_str()), (409, Some("org_has_other_members")), "{:?}", r.body);
    assert!(r.body["detail"].as_str().is_some_and(|d| d.contains(&org)), "{:?}", r.body);

    // An approved partner with a published solution; then with it retired but a payout not made.
    let email = unique_email("partner");
    let (account, partner) =
        integration_tests::seed::partner(&env.state.auth, &email, PASSWORD, "Partner Co").await.expect("partner");
    let sol = integration_tests::seed::solution(&env.store, &partner.partner_id, "Live", SolutionStatus::Published)
        .await
        .expect("solution");
    let session = env.login(&email).await;
    let r = env.call("DELETE", "/api/me", Some(erase_body()), Some(&session.access_token)).await;
    assert_eq!((r.status, r.body["code"].as_str()), (409, Some("partner_solutions_live")), "{:?}", r.body);
    let mut retired = sol.clone();
    retired.status = SolutionStatus::Retired;
    env.store.put(&retired, None).await.expect("retire");
    let figures = shared::store::ledger::StatementFigures {
        opening: 0,
        earned: 10_000,
        reversed: 0,
        closing: 10_000,
        payout: 10_000,
        payments: 1,
        refunds: 0,
    };
    let statement = shared::store::ledger::StatementItem::new(
        &partner.partner_id,
        "2026-11",
        "inr",
        figures,
        "2026-12-01T00:00:00Z",
    );
    env.store.put(&statement, None).await.expect("statement");
    let r = env.call("DELETE", "/api/me", Some(erase_body()), Some(&session.access_token)).await;
    assert_eq!((r.status, r.body["code"].as_str()), (409, Some("partner_payout_pending")), "{:?}", r.body);
    assert!(env.store.get_user(&account.user_id).await.expect("read").is_some(), "nothing was erased");

    // A payment in flight: a PhonePe subscription whose first invoice is unpaid.
    let priced = billing.priced_solution(100, 1000).await;
    let buyer = env.register(&unique_email("buyer")).await;
    let body = json!({"solution_id": priced.solution_id, "tier": "pro", "provider": "phonepe", "period": "monthly"});
    let created = billing.call("POST", "/api/subscriptions", Some(body), Some(&buyer.access_token)).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let r = env.call("DELETE", "/api/me", Some(erase_body()), Some(&buyer.access_token)).await;
    assert_eq!((r.status, r.body["code"].as_str()), (409, Some("payment_pending")), "{:?}", r.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_a_session_with_the_password_and_a_confirmation_erases() {
    let env = TestEnv::new().await;
    let solution = env.solution(SolutionStatus::Published).await;
    let email = unique_email("careful");
    let user = env.register(&email).await;
    let token = env.solution_token(&user.access_token, &solution.solution_id).await;
    let solution_token = token["token"].as_str().expect("token");

    for (method, uri, body) in [("GET", "/api/me/export", None), ("DELETE", "/api/me", Some(erase_body()))] {
        let r = env.call(method, uri, body.clone(), Some(solution_token)).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (401, Some("wrong_token_kind")),
            "{method} {uri}: {:?}",
            r.body
        );
        let r = env
            .call_with(
                method,
                uri,
                lambda_http::Body::Text(body.clone().unwrap_or(json!({})).to_string()),
                None,
                &[("x-api-key", "pk_live_not_a_session_key_0000000000")],
            )
            .await;
        assert_eq!(r.status, 401, "{method} {uri} with an API key: {:?}", r.body);
        let r = env.call(method, uri, body, None).await;
        assert_eq!(r.status, 401, "{method} {uri} without a bearer");
    }

    let fields = |r: &integration_tests::harness::Reply| -> Vec<String> {
        r.body["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["field"].as_str().map(str::to_owned))
            .collect()
    };
    let r = env.call("DELETE", "/api/me", Some(json!({"password": PASSWORD})), Some(&user.access_token)).await;
    assert_eq!((r.status, fields(&r)), (400, vec!["confirm".to_owned()]), "{:?}", r.body);
    let r = env
        .call("DELETE", "/api/me", Some(json!({"password": PASSWORD, "confirm": false})), Some(&user.access_token))
        .await;
    assert_eq!((r.status, fields(&r)), (400, vec!["confirm".to_owned()]), "{:?}", r.body);
    let r = env.call("DELETE", "/api/me", Some(json!({"confirm": true})), Some(&user.access_token)).await;
    assert_eq!((r.status, fields(&r)), (400, vec!["password".to_owned()]), "{:?}", r.body);
    let r = env
        .call(
            "DELETE",
            "/api/me",
            Some(json!({"password": "wrong password 123", "confirm": true})),
            Some(&user.access_token),
        )
        .await;
    assert_eq!((r.status, r.body["code"].as_str()), (403, Some("reauthentication_failed")), "{:?}", r.body);
    // Nothing happened: the session and the account work.
    assert_eq!(env.call("GET", "/api/user-context", None, Some(&user.access_token)).await.status, 200);
    env.login(&email).await;

    // Erased; a retry with the same session is told the session is revoked, each time.
    let r = env.call("DELETE", "/api/me", Some(erase_body()), Some(&user.access_token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    for _ in 0..2 {
        let r = env.call("DELETE", "/api/me", Some(erase_body()), Some(&user.access_token)).await;
        assert_eq!((r.status, r.body["code"].as_str()), (401, Some("revoked")), "{:?}", r.body);
    }
    let r = env.call("GET", "/api/me/export", None, Some(&user.access_token)).await;
    assert_eq!(r.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_erasure_stopped_midway_is_finished_by_the_next_one() {
    let env = TestEnv::new().await;
    let solution = env.solution(SolutionStatus::Published).await;
    let email = unique_email("midway");
    let user = env.register(&email).await;
    let token = env.solution_token(&user.access_token, &solution.solution_id).await;
    let tracked = env
        .call("POST", "/api/track-usage", Some(json!({"action": "run"})), Some(token["token"].as_str().expect("token")))
        .await;
    assert_eq!(tracked.status, 200, "{:?}", tracked.body);
    // The steps before the last one ran (counters and the account's extras gone, every session revoked), then
    // the function stopped: no tombstone, the profile and the password still there.
    env.store.delete_usage(&user.user_id).await.expect("usage");
    env.store.delete_user_extras(&user.user_id).await.expect("extras");
    let records = env.store.user_token_records(&user.user_id, 100).await.expect("tokens").items;
    for t in &records {
        env.store
            .revoke_family(&t.family_id, &user.user_id, "account erased", "2026-12-03T00:00:00Z")
            .await
            .expect("revoke");
    }
    assert!(env.store.get_erased_account(&user.user_id).await.expect("read").is_none());
    assert_eq!(env.call("GET", "/api/user-context", None, Some(&user.access_token)).await.status, 401);

    // Signing in again and repeating the request finishes it.
    let again = env.login(&email).await;
    let r = env.call("DELETE", "/api/me", Some(erase_body()), Some(&again.access_token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(env.store.get_erased_account(&user.user_id).await.expect("read").is_some());
    assert!(env.store.get_user(&user.user_id).await.expect("read").is_none());
    assert_eq!(env.store.user_id_by_email(&email).await.expect("read"), None, "the address is free");
    let login = env.call("POST", "/api/auth/login", Some(json!({"email": email, "password": PASSWORD})), None).await;
    assert_eq!(login.status, 401);
}
