//! The audit trail of admin decisions and API keys: each recorded where it happens, with the admin (or the
//! partner's member) as actor and its subject, listed by `GET /api/admin/audit` (auth function) by subject,
//! actor and kind. A refused action records nothing.

use integration_tests::harness::{Reply, api_request, decode, from_source_ip, unique_email};
use integration_tests::partners::{PartnersEnv, application, solution_body};
use lambda_http::Body;
use serde_json::{Value, json};

async fn trail(t: &PartnersEnv, query: &[(&str, &str)]) -> Vec<Value> {
    let query: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(query).finish();
    let r: Reply = t.call("GET", &format!("/api/admin/audit?{query}"), None, Some(&t.admin.access_token)).await;
    assert_eq!(r.status, 200, "{query}: {:?}", r.body);
    assert!(r.body.get("next_cursor").is_none(), "{query}: one page");
    r.body["events"].as_array().expect("events").clone()
}

/// (kind, actor, subject, reason) of each event.
fn summary(events: &[Value]) -> Vec<(String, String, String, Option<String>)> {
    events
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (s("kind"), s("actor"), s("subject"), e["reason"].as_str().map(str::to_owned))
        })
        .collect()
}

/// A POST that must succeed.
async fn step(t: &PartnersEnv, path: String, body: Option<Value>, who: Option<&str>) {
    let r = t.call("POST", &path, body, who).await;
    assert_eq!(r.status, 200, "{path}: {:?}", r.body);
}

#[tokio::test]
async fn admin_decisions_on_partners_and_solutions_are_recorded() {
    Box::pin(decisions()).await;
}

async fn decisions() {
    let t = PartnersEnv::new().await;
    let admin = t.admin.user_id.clone();
    let a = Some(t.admin.access_token.as_str());

    // An application rejected with a reason, another approved with a commission.
    let applicant = t.env.register(&unique_email("applicant")).await;
    let applied =
        t.call("POST", "/api/partners/apply", Some(application("Nope Ltd")), Some(&applicant.access_token)).await;
    let rejected_id = applied.body["partner_id"].as_str().expect("id").to_owned();
    let r = t
        .call("POST", &format!("/api/admin/partners/{rejected_id}/reject"), Some(json!({"reason": "no website"})), a)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let applied =
        t.call("POST", "/api/partners/apply", Some(application("Yes Ltd")), Some(&applicant.access_token)).await;
    let partner_id = applied.body["partner_id"].as_str().expect("id").to_owned();
    let r = t
        .call("POST", &format!("/api/admin/partners/{partner_id}/approve"), Some(json!({"commission_bp": 1500})), a)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // A second decision is refused and records nothing.
    let r = t.call("POST", &format!("/api/admin/partners/{partner_id}/reject"), Some(json!({"reason": "x"})), a).await;
    assert_eq!(r.status, 409);
    let rejected = trail(&t, &[("subject", &format!("partner#{rejected_id}"))]).await;
    assert_eq!(
        summary(&rejected),
        [("partner.rejected".into(), admin.clone(), format!("partner#{rejected_id}"), Some("no website".into()))]
    );
    let approved = trail(&t, &[("subject", &format!("partner#{partner_id}"))]).await;
    assert_eq!(summary(&approved), [("partner.approved".into(), admin.clone(), format!("partner#{partner_id}"), None)]);
    assert_eq!(approved[0]["details"]["commission_bp"], "1500");
    assert!(approved[0].get("source_ip").is_none());

    // A solution rejected, approved, suspended, reinstated, changed (approved, then rejected) and retired.
    let partner = t.partner("Lifecycle Co").await;
    let pt = Some(partner.session.access_token.as_str());
    let id = t.draft(&partner, "Audited Search", None).await;
    step(&t, format!("/api/partners/solutions/{id}/submit"), None, pt).await;
    step(&t, format!("/api/admin/solutions/{id}/reject"), Some(json!({"reason": "describe it"})), a).await;
    step(&t, format!("/api/partners/solutions/{id}/submit"), None, pt).await;
    step(&t, format!("/api/admin/solutions/{id}/approve"), None, a).await;
    step(&t, format!("/api/admin/solutions/{id}/suspend"), Some(json!({"reason": "abuse report"})), a).await;
    step(&t, format!("/api/admin/solutions/{id}/reinstate"), None, a).await;
    let mut body = solution_body("Audited Search");
    for (amount, decision) in [(59_900, "approve"), (99_900, "reject")] {
        body["tiers"][1]["prices"][0]["amount"] = json!(amount);
        let r =
            t.call("PUT", &format!("/api/partners/solutions/{id}"), Some(json!({"tiers": body["tiers"]})), pt).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let reason = (decision == "reject").then(|| json!({"reason": "too steep"}));
        step(&t, format!("/api/admin/solutions/{id}/{decision}"), reason, a).await;
    }
    step(&t, format!("/api/partners/solutions/{id}/retire"), Some(json!({"reason": "end of life"})), a).await;
    let about = format!("solution#{id}");
    let mut events = trail(&t, &[("subject", &about)]).await;
    events.reverse();
    let by_admin =
        |kind: &str, reason: Option<&str>| (kind.to_owned(), admin.clone(), about.clone(), reason.map(str::to_owned));
    assert_eq!(
        summary(&events),
        [
            by_admin("solution.rejected", Some("describe it")),
            by_admin("solution.approved", None),
            by_admin("solution.suspended", Some("abuse report")),
            by_admin("solution.reinstated", None),
            by_admin("solution.change_approved", None),
            by_admin("solution.change_rejected", Some("too steep")),
            by_admin("solution.retired", Some("end of life")),
        ],
        "oldest first here; the partner's own submissions are not admin decisions"
    );
    // The admin's actions by actor, and one kind of them.
    let mine = trail(&t, &[("actor", &admin), ("limit", "100")]).await;
    assert!(mine.len() >= 10 && mine.iter().all(|e| e["actor"] == admin.as_str()), "{mine:?}");
    let suspensions = trail(&t, &[("kind", "solution.suspended")]).await;
    assert_eq!(summary(&suspensions), [by_admin("solution.suspended", Some("abuse report"))]);
}

#[tokio::test]
async fn api_keys_limits_and_quota_resets_are_recorded() {
    Box::pin(keys_limits_resets()).await;
}

async fn keys_limits_resets() {
    let t = PartnersEnv::new().await;
    let admin = t.admin.user_id.clone();
    let a = Some(t.admin.access_token.as_str());
    let partner = t.partner("Keys Co").await;
    let owner = partner.session.user_id.clone();
    let solution = t.published(&partner, "Keyed", None).await;

    // A key created (from a known address) and revoked by the partner's owner; a second revocation records
    // nothing.
    let create = api_request(
        "POST",
        &format!("/api/partners/{}/api-keys", partner.partner_id),
        Body::Text(json!({"name": "ci", "solution_ids": [solution]}).to_string()),
        Some(&partner.session.access_token),
        &[],
    );
    let created = decode(partners::handle(&t.partners, from_source_ip(create, "198.51.100.23")).await);
    assert_eq!(created.status, 201, "{:?}", created.body);
    let key_id = created.body["key_id"].as_str().expect("key_id").to_owned();
    let key = created.body["key"].as_str().expect("key").to_owned();
    let revoke = format!("/api/partners/{}/api-keys/{key_id}", partner.partner_id);
    for _ in 0..2 {
        assert_eq!(t.call("DELETE", &revoke, None, Some(&partner.session.access_token)).await.status, 204);
    }
    let events = trail(&t, &[("subject", &format!("api_key#{key_id}"))]).await;
    assert_eq!(
        summary(&events),
        [
            ("api_key.revoked".into(), owner.clone(), format!("api_key#{key_id}"), None),
            ("api_key.created".into(), owner.clone(), format!("api_key#{key_id}"), None),
        ]
    );
    assert_eq!(events[1]["details"]["partner_id"], partner.partner_id.as_str());
    assert_eq!(events[1]["details"]["solutions"], "1");
    assert_eq!(events[1]["source_ip"], "198.51.100.23", "a security event keeps the client's address: {events:?}");
    let text = serde_json::to_string(&events).expect("json");
    assert!(!text.contains(&key) && !text.contains(&key[..11]), "never the key: {text}");

    // Limits of a solution's tier and the platform's default.
    let r = t
        .call("PUT", "/api/tier-limits", Some(json!({"solution_id": solution, "tier": "pro", "daily_limit": 50})), a)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = t
        .call("PUT", "/api/tier-limits", Some(json!({"tier": "free", "daily_limit": null, "monthly_limit": 1000})), a)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let limits = trail(&t, &[("kind", "tier_limits.set")]).await;
    assert_eq!(
        summary(&limits),
        [
            ("tier_limits.set".into(), admin.clone(), "tiers#default".into(), None),
            ("tier_limits.set".into(), admin.clone(), format!("solution#{solution}"), None),
        ]
    );
    assert_eq!(
        (limits[0]["details"]["tier"].as_str(), limits[0]["details"]["daily_limit"].as_str()),
        (Some("free"), Some("unlimited"))
    );
    assert_eq!(limits[0]["details"]["monthly_limit"], "1000");
    assert_eq!(limits[1]["details"]["daily_limit"], "50");

    // A customer's quota reset (the count before it kept), and a refused one (not an admin).
    let user = t.env.register(&unique_email("reset")).await;
    let token = t.env.solution_token(&user.access_token, &solution).await["token"].as_str().expect("token").to_owned();
    for _ in 0..3 {
        let r = t.call("POST", "/api/track-usage", Some(json!({"action": "search"})), Some(&token)).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let reset = json!({"customer_id": user.user_id, "solution_id": solution, "reason": "ticket 42"});
    assert_eq!(t.call("POST", "/api/reset-quota", Some(reset.clone()), Some(&user.access_token)).await.status, 403);
    let r = t.call("POST", "/api/reset-quota", Some(reset), a).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let about = format!("customer#{}/solution#{solution}", user.user_id);
    let resets = trail(&t, &[("subject", &about)]).await;
    assert_eq!(summary(&resets), [("quota.reset".into(), admin.clone(), about.clone(), Some("ticket 42".into()))]);
    assert_eq!(resets[0]["details"]["previous_used"], "3");
    assert_eq!(resets[0]["audit_id"], r.body["audit_id"]);
    assert_eq!(resets[0]["at"], r.body["at"]);
}
