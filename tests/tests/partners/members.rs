//! A partner is an organization: its owner invites developers (solutions and API keys), finance (revenue
//! and payouts) and members; each partner route answers by role, outsiders get nothing, and a removed member
//! loses access at once.

use integration_tests::harness::unique_email;
use integration_tests::partners::{Partner, PartnersEnv, solution_body};
use serde_json::json;
use shared::auth::Session;

async fn join(p: &PartnersEnv, owner: &Partner, org: &str, role: &str) -> Session {
    p.env.join_org(org, &owner.session.access_token, role).await
}

#[tokio::test]
async fn a_partners_members_share_it_by_role() {
    Box::pin(partner_roles()).await;
}

async fn partner_roles() {
    let p = PartnersEnv::new().await;
    let owner = p.partner("Acme Partners").await;
    let pid = owner.partner_id.clone();
    // The partner's profile names its organization, of kind partner, owned by the applicant.
    let profile = p.call("GET", &format!("/api/partners/{pid}"), None, Some(&owner.session.access_token)).await;
    let org = profile.body["org_id"].as_str().expect("org_id").to_owned();
    let listed = p.call("GET", "/api/orgs", None, Some(&owner.session.access_token)).await;
    let entry = listed.body["orgs"].as_array().expect("orgs").iter().find(|o| o["org_id"] == org.as_str()).cloned();
    let entry = entry.expect("the partner organization is listed");
    assert_eq!(
        (entry["kind"].as_str(), entry["role"].as_str(), entry["partner_id"].as_str()),
        (Some("partner"), Some("owner"), Some(pid.as_str()))
    );
    let developer = join(&p, &owner, &org, "developer").await;
    let finance = join(&p, &owner, &org, "finance").await;
    let member = join(&p, &owner, &org, "member").await;
    let outsider = p.env.register(&unique_email("outsider")).await;
    let draft = p.draft(&owner, "Shared Search", None).await;

    let tokens = [
        ("owner", owner.session.access_token.as_str()),
        ("developer", developer.access_token.as_str()),
        ("finance", finance.access_token.as_str()),
        ("member", member.access_token.as_str()),
        ("outsider", outsider.access_token.as_str()),
    ];
    // (method, uri, body, statuses for owner, developer, finance, member, outsider)
    let cases: Vec<(&str, String, Option<serde_json::Value>, [u16; 5])> = vec![
        ("GET", format!("/api/partners/{pid}"), None, [200, 200, 200, 200, 403]),
        ("GET", format!("/api/partners/{pid}/solutions"), None, [200, 200, 200, 200, 403]),
        ("GET", format!("/api/partners/solutions/{draft}"), None, [200, 200, 200, 200, 403]),
        ("GET", format!("/api/partners/{pid}/analytics"), None, [200, 200, 200, 200, 403]),
        ("POST", format!("/api/partners/{pid}/api-keys"), Some(json!({"name": "ci"})), [201, 201, 403, 403, 403]),
        ("GET", format!("/api/partners/{pid}/api-keys"), None, [200, 200, 403, 403, 403]),
        ("GET", format!("/api/partners/{pid}/revenue"), None, [200, 403, 200, 403, 403]),
        ("GET", format!("/api/partners/{pid}/payouts"), None, [200, 403, 200, 403, 403]),
        ("POST", "/api/partners/solutions".to_owned(), Some(solution_body("Another One")), [201, 201, 403, 403, 403]),
        (
            "PUT",
            format!("/api/partners/solutions/{draft}"),
            Some(json!({"description": "Better"})),
            [200, 200, 403, 403, 403],
        ),
    ];
    for (method, uri, body, expected) in &cases {
        for ((who, token), want) in tokens.iter().zip(expected) {
            let r = p.call(method, uri, body.clone(), Some(token)).await;
            assert_eq!(r.status, *want, "{method} {uri} as {who}: {:?}", r.body);
            if r.status == 403 && *who != "outsider" {
                assert_eq!(r.body["code"], "org_role_required", "{method} {uri} as {who}");
            }
        }
    }
    // Money in the analytics is for the roles that read revenue.
    let a = p.call("GET", &format!("/api/partners/{pid}/analytics"), None, Some(&developer.access_token)).await;
    assert!(
        a.body["solutions"]
            .as_array()
            .expect("solutions")
            .iter()
            .flat_map(|s| s["days"].as_array().cloned().unwrap_or_default())
            .all(|d| d["revenue"].as_object().is_some_and(serde_json::Map::is_empty)),
        "{:?}",
        a.body
    );
    // Its members cannot review the partner's own solutions.
    let published = p.published(&owner, "Reviewed Elsewhere", None).await;
    let review = p
        .call(
            "POST",
            &format!("/api/solutions/{published}/reviews"),
            Some(json!({"rating": 5, "text": "Ours"})),
            Some(&finance.access_token),
        )
        .await;
    assert_eq!((review.status, review.body["code"].as_str()), (403, Some("review_own_solution")), "{:?}", review.body);
    // A developer revokes a key; a removed developer loses access at once.
    let keys = p.call("GET", &format!("/api/partners/{pid}/api-keys"), None, Some(&developer.access_token)).await;
    let key_id = keys.body["keys"][0]["key_id"].as_str().expect("key").to_owned();
    let by_finance =
        p.call("DELETE", &format!("/api/partners/{pid}/api-keys/{key_id}"), None, Some(&finance.access_token)).await;
    assert_eq!((by_finance.status, by_finance.body["code"].as_str()), (403, Some("org_role_required")));
    let revoked =
        p.call("DELETE", &format!("/api/partners/{pid}/api-keys/{key_id}"), None, Some(&developer.access_token)).await;
    assert_eq!(revoked.status, 204, "{:?}", revoked.body);
    let removed = p
        .call(
            "DELETE",
            &format!("/api/orgs/{org}/members/{}", developer.user_id),
            None,
            Some(&owner.session.access_token),
        )
        .await;
    assert_eq!(removed.status, 204);
    let after = p
        .call(
            "POST",
            &format!("/api/partners/{pid}/api-keys"),
            Some(json!({"name": "late"})),
            Some(&developer.access_token),
        )
        .await;
    assert_eq!(after.status, 403, "{:?}", after.body);
    assert_eq!(p.call("GET", &format!("/api/partners/{pid}"), None, Some(&developer.access_token)).await.status, 403);
}

#[tokio::test]
async fn partners_older_than_organizations_get_theirs_from_the_migration_or_on_first_use() {
    let p = PartnersEnv::new().await;
    let (user, old) = integration_tests::seed::partner(
        &p.env.state.auth,
        &unique_email("old"),
        integration_tests::harness::PASSWORD,
        "Old Co",
    )
    .await
    .expect("seed");
    let (_, other) = integration_tests::seed::partner(
        &p.env.state.auth,
        &unique_email("other"),
        integration_tests::harness::PASSWORD,
        "Other Co",
    )
    .await
    .expect("seed");
    assert_eq!(p.env.store.partner_org_id(&old.partner_id).await.expect("read"), None);
    // On first use: the applicant signs in and the partner's organization is made, the applicant its owner.
    let session = p.env.login(&user.email).await;
    let profile = p.call("GET", &format!("/api/partners/{}", old.partner_id), None, Some(&session.access_token)).await;
    assert_eq!(profile.status, 200, "{:?}", profile.body);
    let org = profile.body["org_id"].as_str().expect("org").to_owned();
    let members = p.call("GET", &format!("/api/orgs/{org}/members"), None, Some(&session.access_token)).await;
    assert_eq!(members.body["members"][0]["role"], "owner");
    // The migration (as the billing function runs it) makes the rest, once.
    let store = p.env.store_for("billing");
    let run = || shared::partners::members::migrate_partner_orgs(&store, "2026-12-03T00:00:00Z", &|| true);
    let (seen, made, complete) = run().await.expect("migration");
    assert!(seen >= 2 && made >= 1 && complete, "{seen} {made} {complete}");
    assert!(p.env.store.partner_org_id(&other.partner_id).await.expect("read").is_some());
    assert_eq!(p.env.store.partner_org_id(&old.partner_id).await.expect("read").as_deref(), Some(org.as_str()));
    let (_, again, _) = run().await.expect("rerun");
    assert_eq!(again, 0);
}
