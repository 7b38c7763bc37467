//! draft → submitted → published → suspended / retired, refused transitions, and changes of tiers or
//! prices of a published solution waiting for approval.

use crate::fields;
use integration_tests::harness::unique_email;
use integration_tests::partners::{PartnersEnv, solution_body};
use serde_json::json;
use shared::model::SolutionStatus;

#[tokio::test]
async fn a_solution_walks_its_lifecycle_and_refuses_other_steps() {
    let t = PartnersEnv::new().await;
    let a = t.partner("Acme Labs").await;
    let pt = Some(a.session.access_token.as_str());
    let admin = Some(t.admin.access_token.as_str());
    let id = t.draft(&a, "Acme Search", None).await;
    let step = |who: Option<&str>, path: &str, body: Option<serde_json::Value>| {
        let uri = path.replace("{id}", &id);
        let who = who.map(str::to_owned);
        let t = &t;
        async move { t.call("POST", &uri, body, who.as_deref()).await }
    };
    // Refused from draft: approve, reinstate, suspend, withdraw.
    for (who, path) in [
        (admin, "/api/admin/solutions/{id}/approve"),
        (admin, "/api/admin/solutions/{id}/reinstate"),
        (pt, "/api/partners/solutions/{id}/withdraw"),
    ] {
        let r = step(who, path, None).await;
        assert_eq!((r.status, r.body["code"].as_str()), (409, Some("invalid_transition")), "{path}: {:?}", r.body);
    }
    let r = step(admin, "/api/admin/solutions/{id}/suspend", Some(json!({"reason": "x"}))).await;
    assert_eq!(r.status, 409);
    // Not listed, not usable while a draft.
    assert!(t.env.store.solutions_by_status(SolutionStatus::Published).await.expect("list").is_empty());
    assert_eq!(step(pt, "/api/partners/solutions/{id}/submit", None).await.body["status"], "submitted");
    let edit = t.call("PUT", &format!("/api/partners/solutions/{id}"), Some(json!({"name": "Renamed"})), pt).await;
    assert_eq!((edit.status, edit.body["code"].as_str()), (409, Some("invalid_transition")));
    let queue = t.call("GET", "/api/admin/solutions?status=submitted", None, admin).await;
    assert!(queue.body["solutions"].as_array().expect("queue").iter().any(|s| s["solution_id"] == id.as_str()));
    let rejected = step(admin, "/api/admin/solutions/{id}/reject", Some(json!({"reason": "add docs"}))).await;
    assert_eq!(
        (rejected.body["status"].as_str(), rejected.body["review_note"].as_str()),
        (Some("draft"), Some("add docs"))
    );
    assert_eq!(step(pt, "/api/partners/solutions/{id}/submit", None).await.status, 200);
    assert_eq!(step(pt, "/api/partners/solutions/{id}/withdraw", None).await.body["status"], "draft");
    assert_eq!(step(pt, "/api/partners/solutions/{id}/submit", None).await.status, 200);
    let published = step(admin, "/api/admin/solutions/{id}/approve", None).await;
    assert_eq!(published.body["status"], "published", "{:?}", published.body);
    assert!(published.body["published_at"].is_string());
    let listed = t.env.store.solutions_by_status(SolutionStatus::Published).await.expect("list");
    assert_eq!(listed.iter().map(|s| s.solution_id.as_str()).collect::<Vec<_>>(), [id.as_str()]);
    // Published: usage counts under the solution's own limits.
    let user = t.env.register(&unique_email("user")).await;
    let token = t.env.solution_token(&user.access_token, &id).await["token"].as_str().expect("token").to_owned();
    let track = || t.env.call("POST", "/api/track-usage", Some(json!({"action": "q"})), Some(&token));
    let first = track().await;
    assert_eq!((first.status, first.body["limit"].as_u64()), (200, Some(5)), "{:?}", first.body);
    assert_eq!(step(pt, "/api/partners/solutions/{id}/submit", None).await.status, 409);
    let no_reason = step(admin, "/api/admin/solutions/{id}/suspend", None).await;
    assert_eq!((no_reason.status, fields(&no_reason)), (400, vec!["reason".to_owned()]));
    let suspended = step(admin, "/api/admin/solutions/{id}/suspend", Some(json!({"reason": "abuse report"}))).await;
    assert_eq!(suspended.body["status"], "suspended");
    t.env.clock.advance(chrono::Duration::seconds(120));
    let refused = track().await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (403, Some("solution_unavailable")),
        "a suspended solution is not usable"
    );
    assert_eq!(step(admin, "/api/admin/solutions/{id}/reinstate", None).await.body["status"], "published");
    assert_eq!(step(pt, "/api/partners/solutions/{id}/retire", None).await.body["status"], "retired");
    for (who, path) in [
        (admin, "/api/admin/solutions/{id}/reinstate"),
        (pt, "/api/partners/solutions/{id}/submit"),
        (pt, "/api/partners/solutions/{id}/retire"),
    ] {
        assert_eq!(step(who, path, None).await.status, 409, "{path} after retire");
    }
    let trail = t.env.store.audit_trail(&format!("solution#{id}")).await.expect("audit");
    let kinds: Vec<&str> = trail.iter().rev().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds, ["solution.rejected", "solution.approved", "solution.suspended", "solution.reinstated"]);
}

#[tokio::test]
async fn a_price_change_of_a_published_solution_waits_for_approval() {
    let t = PartnersEnv::new().await;
    let a = t.partner("Acme Labs").await;
    let pt = Some(a.session.access_token.as_str());
    let admin = Some(t.admin.access_token.as_str());
    let id = t.published(&a, "Acme Search", None).await;
    let mut body = solution_body("Acme Search");
    body["tiers"][1]["prices"][0]["amount"] = json!(59_900);
    let changed = t
        .call(
            "PUT",
            &format!("/api/partners/solutions/{id}"),
            Some(json!({"tiers": body["tiers"], "description": "Faster"})),
            pt,
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    assert_eq!(changed.body["status"], "published");
    assert_eq!(changed.body["description"], "Faster", "listing text changes at once");
    assert_eq!(changed.body["tiers"][1]["prices"][0]["amount"], 49_900, "prices wait");
    assert_eq!(changed.body["pending_tiers"][1]["prices"][0]["amount"], 59_900);
    // New subscriptions still see the approved price.
    let def: Option<shared::store::solutions::TierDefinitionItem> =
        t.env.store.get(&shared::store::keys::solution_tier(&id, "pro"), true).await.expect("read");
    assert_eq!(def.expect("pro").prices[0].amount, 49_900);
    let queue = t.call("GET", "/api/admin/solutions?status=changes", None, admin).await;
    assert_eq!(queue.body["solutions"][0]["solution_id"], id.as_str());
    let approved = t.call("POST", &format!("/api/admin/solutions/{id}/approve"), None, admin).await;
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    assert_eq!(approved.body["tiers"][1]["prices"][0]["amount"], 59_900);
    assert!(approved.body["pending_tiers"].is_null());
    let def: Option<shared::store::solutions::TierDefinitionItem> =
        t.env.store.get(&shared::store::keys::solution_tier(&id, "pro"), true).await.expect("read");
    assert_eq!(def.expect("pro").prices[0].amount, 59_900);
    let nothing = t.call("POST", &format!("/api/admin/solutions/{id}/approve"), None, admin).await;
    assert_eq!((nothing.status, nothing.body["code"].as_str()), (409, Some("no_pending_change")));
    // A further change rejected: the approved prices stay.
    body["tiers"][1]["prices"][0]["amount"] = json!(99_900);
    t.call("PUT", &format!("/api/partners/solutions/{id}"), Some(json!({"tiers": body["tiers"]})), pt).await;
    let rejected =
        t.call("POST", &format!("/api/admin/solutions/{id}/reject"), Some(json!({"reason": "too steep"})), admin).await;
    assert_eq!(
        (rejected.body["status"].as_str(), rejected.body["tiers"][1]["prices"][0]["amount"].as_i64()),
        (Some("published"), Some(59_900))
    );
    assert!(rejected.body["pending_tiers"].is_null());
}

#[tokio::test]
async fn drafts_are_validated_field_by_field() {
    let t = PartnersEnv::new().await;
    let a = t.partner("Acme Labs").await;
    let bad = json!({
        "name": "A", "description": "", "category": "Dev Tools!", "tags": ["ok", "NOT OK"], "website": "ftp://x",
        "time_zone": "Mars/Olympus",
        "tiers": [{"tier": "pro", "daily_limit": 10, "prices": [{"currency": "INR", "amount": 0, "period": "monthly"}]},
                  {"tier": "free", "prices": [{"currency": "inr", "amount": 100, "period": "monthly"}]}]
    });
    let r = t.call("POST", "/api/partners/solutions", Some(bad), Some(&a.session.access_token)).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(
        fields(&r),
        [
            "name",
            "description",
            "category",
            "tags[1]",
            "website",
            "time_zone",
            "tiers[0].prices[0].amount",
            "tiers[0].prices[0].currency",
            "tiers[1].prices"
        ]
    );
}
