//! An organization's shared quota: members' solution tokens act for the organization, their events count
//! against one limit atomically (still one DynamoDB request per warm event), each member's share is kept on
//! the same counter, the organization's tier applies to every member at once, and a member who leaves stops
//! counting.

use super::fixture;
use integration_tests::harness::{Reply, unique_email};
use serde_json::{Value, json};
use shared::auth::Session;
use shared::model::Tier;
use shared::store::solutions::EntitlementItem;

struct Org {
    f: super::Fixture,
    org: String,
    owner: Session,
    members: Vec<Session>,
}

async fn post(f: &super::Fixture, uri: &str, body: Value, bearer: &str) -> Reply {
    f.env.call("POST", uri, Some(body), Some(bearer)).await
}

/// The fixture's solution, an organization with an owner and `n` more members.
async fn org(n: usize) -> Org {
    let f = fixture().await;
    let owner = f.env.register(&unique_email("owner")).await;
    let created = post(&f, "/api/orgs", json!({"name": "Shared Co"}), &owner.access_token).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let org = created.body["org_id"].as_str().expect("org").to_owned();
    let mut members = Vec::new();
    for _ in 0..n {
        let email = unique_email("member");
        let invited =
            post(&f, &format!("/api/orgs/{org}/invitations"), json!({"email": email}), &owner.access_token).await;
        let id = invited.body["invitation_id"].as_str().expect("id").to_owned();
        let member = f.env.register(&email).await;
        let accepted = post(&f, &format!("/api/invitations/{id}/accept"), json!({}), &member.access_token).await;
        assert_eq!(accepted.status, 200, "{:?}", accepted.body);
        members.push(member);
    }
    Org { f, org, owner, members }
}

impl Org {
    /// A solution token of `who` acting for the organization.
    async fn token(&self, who: &Session) -> Value {
        let r = post(
            &self.f,
            "/api/generate-token",
            json!({"solution_id": self.f.solution.solution_id, "org_id": self.org}),
            &who.access_token,
        )
        .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body
    }

    async fn quota(&self, who: &Session) -> Value {
        let uri = format!("/api/quotas/{}/{}", self.org, self.f.solution.solution_id);
        let r = self.f.env.call("GET", &uri, None, Some(&who.access_token)).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn members_share_one_quota_exactly_under_concurrency() {
    Box::pin(shared_quota()).await;
}

async fn shared_quota() {
    let o = org(4).await;
    o.f.set_limit("free", Some(50), None).await;
    // Five members (owner included) × 30 events at once against one limit of 50.
    let mut tokens = vec![o.token(&o.owner).await];
    for m in &o.members {
        tokens.push(o.token(m).await);
    }
    assert!(tokens.iter().all(|t| t["org_id"].as_str() == Some(o.org.as_str())));
    let mut tasks = Vec::new();
    for t in &tokens {
        let token = t["token"].as_str().expect("token").to_owned();
        let env_usage = o.f.env.usage.clone();
        for i in 0..30 {
            let token = token.clone();
            let usage = env_usage.clone();
            // Half of them keyed (the transactional path), half not (one conditional update).
            let body = if i % 2 == 0 {
                json!({"action": "search", "idempotency_key": format!("{token:.12}-{i}")})
            } else {
                json!({"action": "search"})
            };
            tasks.push(tokio::spawn(async move {
                let req = integration_tests::harness::api_request(
                    "POST",
                    "/api/track-usage",
                    lambda_http::Body::Text(body.to_string()),
                    Some(&token),
                    &[],
                );
                integration_tests::harness::decode(Box::pin(usage::handle(&usage, req)).await).status
            }));
        }
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("task"));
    }
    let allowed = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((allowed, refused), (50, 100), "{statuses:?}");
    // The organization's quota says 50, and every member's share adds up to it.
    let quota = o.quota(&o.owner).await;
    assert_eq!((quota["used"].as_u64(), quota["limit"].as_u64()), (Some(50), Some(50)), "{quota:?}");
    let history = o.f.env.call("GET", &format!("/api/usage/{}", o.org), None, Some(&o.owner.access_token)).await;
    assert_eq!(history.status, 200, "{:?}", history.body);
    let day = &history.body["days"][0];
    let shares: u64 = day["members"].as_object().expect("members").values().filter_map(Value::as_u64).sum();
    assert_eq!((day["used"].as_u64(), shares), (Some(50), 50), "{day:?}");
    // A member sees the total and only their own share.
    let member = &o.members[0];
    let theirs = o.f.env.call("GET", &format!("/api/usage/{}", o.org), None, Some(&member.access_token)).await;
    let seen = theirs.body["days"][0]["members"].as_object().expect("members").clone();
    assert!(seen.keys().all(|k| k == &member.user_id), "{seen:?}");
    let own = o.quota(member).await;
    assert_eq!(own["member_used"].as_u64(), seen.get(&member.user_id).and_then(Value::as_u64).or(Some(0)));
    // The members' own accounts were not touched.
    let personal =
        o.f.env
            .call(
                "GET",
                &format!("/api/quotas/{}/{}", member.user_id, o.f.solution.solution_id),
                None,
                Some(&member.access_token),
            )
            .await;
    assert_eq!(personal.body["used"], 0);
}

#[tokio::test]
async fn a_warm_organization_event_is_one_dynamodb_request() {
    let o = org(1).await;
    let token = o.token(&o.members[0]).await["token"].as_str().expect("token").to_owned();
    let track = || o.f.env.call("POST", "/api/track-usage", Some(json!({"action": "search"})), Some(&token));
    assert_eq!(track().await.status, 200);
    let before = o.f.env.dynamo.requests();
    for _ in 0..5 {
        assert_eq!(track().await.status, 200);
    }
    assert_eq!(o.f.env.dynamo.requests() - before, 5, "one request per warm event, membership and tier cached");
}

#[tokio::test]
async fn the_organizations_tier_applies_to_every_member_at_once_and_leavers_stop_counting() {
    Box::pin(tier_and_leavers()).await;
}

async fn tier_and_leavers() {
    let o = org(2).await;
    o.f.set_limit("free", Some(3), None).await;
    o.f.set_limit("pro", Some(1_000), None).await;
    let a = o.token(&o.members[0]).await;
    let b = o.token(&o.members[1]).await;
    assert_eq!(a["tier"], "free");
    let env = &o.f.env;
    let track = |t: &Value| {
        let token = t["token"].as_str().unwrap_or("").to_owned();
        async move { env.call("POST", "/api/track-usage", Some(json!({"action": "x"})), Some(&token)).await }
    };
    for _ in 0..3 {
        assert_eq!(track(&a).await.status, 200);
    }
    assert_eq!(track(&b).await.status, 429, "b shares a's quota");
    // The organization's subscription grants pro (as billing writes it): both members are lifted at once.
    let entitlement = EntitlementItem::new(&o.org, &o.f.solution.solution_id, Tier::Pro, "t".into(), "billing");
    o.f.env.store.put(&entitlement, None).await.expect("grant");
    o.f.env.clock.advance(chrono::Duration::seconds(3));
    assert_eq!(track(&b).await.status, 200, "the refusal rechecks the organization's tier");
    assert_eq!(track(&a).await.status, 200);
    let validated = post(&o.f, "/api/validate-token", json!({"token": a["token"]}), &o.owner.access_token).await;
    assert_eq!(
        (validated.body["tier"].as_str(), validated.body["org_id"].as_str(), validated.body["org_role"].as_str()),
        (Some("pro"), Some(o.org.as_str()), Some("member")),
        "{:?}",
        validated.body
    );
    assert_eq!(validated.body["quota"]["used"], 5);
    // A removed member's token stops: at once for validation and refresh, within the cache lifetime for tracking.
    let removed =
        o.f.env
            .call(
                "DELETE",
                &format!("/api/orgs/{}/members/{}", o.org, o.members[1].user_id),
                None,
                Some(&o.owner.access_token),
            )
            .await;
    assert_eq!(removed.status, 204);
    let v = post(&o.f, "/api/validate-token", json!({"token": b["token"]}), &o.owner.access_token).await;
    assert_eq!((v.status, v.body["code"].as_str(), v.body["valid"].as_bool()), (401, Some("revoked"), Some(false)));
    let r = post(&o.f, "/api/refresh-token", json!({"refresh_token": b["refresh_token"]}), &o.owner.access_token).await;
    assert_eq!((r.status, r.body["code"].as_str()), (401, Some("revoked")), "{:?}", r.body);
    o.f.expire_caches();
    let late = track(&b).await;
    assert_eq!((late.status, late.body["code"].as_str()), (401, Some("revoked")), "{:?}", late.body);
    // Nor may the former member mint a new one, or read the organization's usage.
    let again = post(
        &o.f,
        "/api/generate-token",
        json!({"solution_id": o.f.solution.solution_id, "org_id": o.org}),
        &o.members[1].access_token,
    )
    .await;
    assert_eq!((again.status, again.body["code"].as_str()), (404, Some("org_not_found")));
    let read = o.f.env.call("GET", &format!("/api/usage/{}", o.org), None, Some(&o.members[1].access_token)).await;
    assert_eq!((read.status, read.body["code"].as_str()), (404, Some("org_not_found")));
}

#[tokio::test]
async fn tokens_act_only_for_organizations_their_user_belongs_to() {
    let o = org(1).await;
    let outsider = o.f.env.register(&unique_email("outsider")).await;
    let body = json!({"solution_id": o.f.solution.solution_id, "org_id": o.org});
    let refused = post(&o.f, "/api/generate-token", body, &outsider.access_token).await;
    assert_eq!((refused.status, refused.body["code"].as_str()), (404, Some("org_not_found")));
    let bad = post(
        &o.f,
        "/api/generate-token",
        json!({"solution_id": o.f.solution.solution_id, "org_id": "acme"}),
        &outsider.access_token,
    )
    .await;
    assert_eq!((bad.status, bad.body["errors"][0]["field"].as_str()), (400, Some("org_id")));
    // A member's organization token reads the organization's quota, not the user's own account, and the
    // outsider reads neither.
    let token = o.token(&o.members[0]).await["token"].as_str().expect("token").to_owned();
    let own = format!("/api/quotas/{}/{}", o.members[0].user_id, o.f.solution.solution_id);
    assert_eq!(o.f.env.call("GET", &own, None, Some(&token)).await.status, 403);
    let orgs = format!("/api/quotas/{}/{}", o.org, o.f.solution.solution_id);
    assert_eq!(o.f.env.call("GET", &orgs, None, Some(&token)).await.status, 200);
    assert_eq!(o.f.env.call("GET", &orgs, None, Some(&outsider.access_token)).await.status, 404);
    // The user context of an organization token names that organization only.
    let context = o.f.env.call("GET", "/api/user-context", None, Some(&token)).await;
    let orgs_seen = context.body["orgs"].as_array().expect("orgs");
    assert_eq!(orgs_seen.len(), 1, "{:?}", context.body);
    assert_eq!(
        (orgs_seen[0]["org_id"].as_str(), orgs_seen[0]["role"].as_str()),
        (Some(o.org.as_str()), Some("member"))
    );
    // The personal organization acts for the user's own account: no organization claim.
    let personal =
        o.f.env.call("GET", "/api/orgs", None, Some(&o.members[0].access_token)).await.body["orgs"][0]["org_id"]
            .as_str()
            .expect("personal")
            .to_owned();
    let own_token = post(
        &o.f,
        "/api/generate-token",
        json!({"solution_id": o.f.solution.solution_id, "org_id": personal}),
        &o.members[0].access_token,
    )
    .await;
    assert_eq!(own_token.status, 201);
    assert!(own_token.body.get("org_id").is_none(), "{:?}", own_token.body);
}
