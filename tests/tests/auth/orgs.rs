//! Organizations through the `auth` function: creation and the personal organization, invitations from
//! mail to membership, the last-owner rules under concurrency, and every organization route tried as each
//! role, as an outsider, as a solution token and without credentials.

use integration_tests::harness::{Reply, TestEnv, unique_email};
use serde_json::{Value, json};
use shared::auth::Session;
use shared::model::SolutionStatus;
use shared::store::keys;
use shared::store::outbox::NotificationItem;

fn code(r: &Reply) -> (u16, &str) {
    (r.status, r.body["code"].as_str().unwrap_or(""))
}

/// An organization with an owner, an admin and a member (joined through invitations), and an outsider.
struct Team {
    env: TestEnv,
    org: String,
    owner: Session,
    admin: Session,
    member: Session,
    outsider: Session,
}

async fn post(env: &TestEnv, uri: &str, body: Value, bearer: &str) -> Reply {
    env.call("POST", uri, Some(body), Some(bearer)).await
}

async fn create_org(env: &TestEnv, owner: &Session, name: &str) -> String {
    let r = post(env, "/api/orgs", json!({"name": name}), &owner.access_token).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!((r.body["role"].as_str(), r.body["kind"].as_str()), (Some("owner"), Some("team")));
    assert_eq!(r.body["customer_id"], r.body["org_id"]);
    r.body["org_id"].as_str().expect("org_id").to_owned()
}

/// Invite `who` as `role` and accept as them; the invitation's id.
async fn join(env: &TestEnv, org: &str, inviter: &Session, who: &Session, email: &str, role: &str) -> String {
    let r = post(
        env,
        &format!("/api/orgs/{org}/invitations"),
        json!({"email": email, "role": role}),
        &inviter.access_token,
    )
    .await;
    assert_eq!(r.status, 201, "invite: {:?}", r.body);
    let id = r.body["invitation_id"].as_str().expect("id").to_owned();
    let a = post(env, &format!("/api/invitations/{id}/accept"), json!({}), &who.access_token).await;
    assert_eq!(a.status, 200, "accept: {:?}", a.body);
    assert_eq!(a.body["role"], role);
    id
}

async fn team() -> Team {
    let env = TestEnv::new().await;
    let owner = env.register(&unique_email("owner")).await;
    let (admin_email, member_email) = (unique_email("admin"), unique_email("member"));
    let admin = env.register(&admin_email).await;
    let member = env.register(&member_email).await;
    let outsider = env.register(&unique_email("outsider")).await;
    let org = create_org(&env, &owner, "Acme Analytics").await;
    join(&env, &org, &owner, &admin, &admin_email, "admin").await;
    join(&env, &org, &owner, &member, &member_email, "member").await;
    Team { env, org, owner, admin, member, outsider }
}

impl Team {
    async fn members(&self) -> Vec<(String, String)> {
        self.members_as(&self.owner).await
    }

    async fn members_as(&self, who: &Session) -> Vec<(String, String)> {
        let r = self.env.call("GET", &format!("/api/orgs/{}/members", self.org), None, Some(&who.access_token)).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["members"]
            .as_array()
            .expect("members")
            .iter()
            .map(|m| (m["user_id"].as_str().unwrap_or("").to_owned(), m["role"].as_str().unwrap_or("").to_owned()))
            .collect()
    }

    async fn org(&self) -> Value {
        self.env.call("GET", &format!("/api/orgs/{}", self.org), None, Some(&self.owner.access_token)).await.body
    }
}

#[tokio::test]
async fn every_user_has_a_personal_organization_listed_first() {
    let env = TestEnv::new().await;
    let user = env.register(&unique_email("solo")).await;
    let list = env.call("GET", "/api/orgs", None, Some(&user.access_token)).await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    let orgs = list.body["orgs"].as_array().expect("orgs");
    assert_eq!(orgs.len(), 1);
    assert_eq!((orgs[0]["kind"].as_str(), orgs[0]["role"].as_str()), (Some("personal"), Some("owner")));
    // The personal organization's customer is the user's own account: everything the user had stays theirs.
    assert_eq!(orgs[0]["customer_id"].as_str(), Some(user.user_id.as_str()));
    let personal = orgs[0]["org_id"].as_str().expect("id").to_owned();
    // It takes no other members, and its owner cannot leave it.
    let invite = post(
        &env,
        &format!("/api/orgs/{personal}/invitations"),
        json!({"email": unique_email("x")}),
        &user.access_token,
    )
    .await;
    assert_eq!(code(&invite), (409, "personal_org"));
    let leave = env
        .call("DELETE", &format!("/api/orgs/{personal}/members/{}", user.user_id), None, Some(&user.access_token))
        .await;
    assert_eq!(code(&leave), (409, "personal_org"));
    // A team organization comes after it; the user context lists both with the role.
    let team = create_org(&env, &user, "Team").await;
    let list = env.call("GET", "/api/orgs", None, Some(&user.access_token)).await;
    let ids: Vec<&str> =
        list.body["orgs"].as_array().expect("orgs").iter().filter_map(|o| o["org_id"].as_str()).collect();
    assert_eq!(ids, [personal.as_str(), team.as_str()]);
    let context = env.call("GET", "/api/user-context", None, Some(&user.access_token)).await;
    assert_eq!(context.body["orgs"].as_array().map(Vec::len), Some(2), "{:?}", context.body);
    assert_eq!(context.body["orgs"][1]["role"], "owner");
}

/// An account as it was stored before organizations (seeded, its personal organization taken away); its id.
async fn legacy_account(env: &TestEnv, email: &str) -> String {
    integration_tests::seed::user(
        &env.state.auth,
        email,
        integration_tests::harness::PASSWORD,
        "Old",
        shared::model::Role::User,
    )
    .await
    .expect("seed");
    let user_id = env.store.user_id_by_email(email).await.expect("read").expect("user");
    let personal = env.store.personal_org_id(&user_id).await.expect("read").expect("made at registration");
    for key in [keys::personal_org(&user_id), keys::org(&personal), keys::org_member(&personal, &user_id)] {
        let delete = env.store.client().delete_item().table_name(env.store.table()).set_key(Some(key.to_map()));
        delete.send().await.expect("delete");
    }
    user_id
}

#[tokio::test]
async fn accounts_older_than_organizations_get_exactly_one_personal_organization() {
    let env = TestEnv::new().await;
    let email = unique_email("legacy");
    legacy_account(&env, &email).await;
    let session = env.login(&email).await;
    assert_eq!(env.store.personal_org_id(&session.user_id).await.expect("read"), None);
    // Ten first listings at once make one.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let state = env.state.clone();
        let token = session.access_token.clone();
        tasks.push(tokio::spawn(async move {
            let req = integration_tests::harness::api_request(
                "GET",
                "/api/orgs",
                lambda_http::Body::Empty,
                Some(&token),
                &[],
            );
            integration_tests::harness::decode(auth::handle(&state, req).await)
        }));
    }
    let mut seen = std::collections::BTreeSet::new();
    for t in tasks {
        let r = t.await.expect("task");
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["orgs"].as_array().map(Vec::len), Some(1));
        seen.insert(r.body["orgs"][0]["org_id"].as_str().unwrap_or("").to_owned());
    }
    assert_eq!(seen.len(), 1, "one personal organization: {seen:?}");
    // The migration job finds nothing more to do for this account.
    assert!(!env.state.auth.ensure_personal_org(&session.user_id).await.expect("ensure"));
}

#[tokio::test]
async fn the_migration_job_gives_older_accounts_a_personal_organization_and_reruns_safely() {
    let env = TestEnv::new().await;
    let mut legacy = Vec::new();
    for i in 0..3 {
        let email = unique_email(&format!("old{i}"));
        let user_id = legacy_account(&env, &email).await;
        legacy.push(user_id);
    }
    let current = env.register(&unique_email("new")).await;
    // As the billing function runs it (its IAM policy checked on every request).
    let store = env.store_for("billing");
    let run = || shared::auth::orgs::migrate_personal_orgs(&store, "2026-12-03T00:00:00Z", &|| true);
    let first = run().await.expect("migration");
    assert_eq!((first.users, first.created, first.complete), (4, 3, true));
    for user in legacy.iter().chain([&current.user_id]) {
        assert!(env.store.personal_org_id(user).await.expect("read").is_some(), "{user}");
    }
    let again = run().await.expect("rerun");
    assert_eq!((again.users, again.created, again.complete), (4, 0, true));
    // Out of time before the first page: nothing done, not complete (the next run does it).
    let stopped =
        shared::auth::orgs::migrate_personal_orgs(&store, "2026-12-03T00:00:00Z", &|| false).await.expect("stopped");
    assert_eq!((stopped.users, stopped.complete), (0, false));
}

#[tokio::test]
async fn an_invitation_is_mailed_single_use_revocable_and_expires() {
    Box::pin(invitation_lifecycle()).await;
}

async fn invitation_lifecycle() {
    let env = TestEnv::new().await;
    let owner = env.register(&unique_email("owner")).await;
    let org = create_org(&env, &owner, "Acme").await;
    let email = unique_email("invitee");
    let invite = post(
        &env,
        &format!("/api/orgs/{org}/invitations"),
        json!({"email": email.to_uppercase()}),
        &owner.access_token,
    )
    .await;
    assert_eq!(invite.status, 201, "{:?}", invite.body);
    assert_eq!((invite.body["email"].as_str(), invite.body["role"].as_str()), (Some(email.as_str()), Some("member")));
    assert_eq!(invite.body["status"], "pending");
    let id = invite.body["invitation_id"].as_str().expect("id").to_owned();
    // The mail is in the outbox, for the address, carrying no secret.
    let mail: NotificationItem = env
        .store
        .get(&keys::outbox(&shared::auth::invitations::notification_id(&id)), true)
        .await
        .expect("read")
        .expect("the invitation mail");
    assert_eq!((mail.kind.as_str(), mail.data["email"].as_str()), ("org_invitation", Some(email.as_str())));
    // Inviting the address again gives the pending invitation back.
    let again = post(&env, &format!("/api/orgs/{org}/invitations"), json!({"email": email}), &owner.access_token).await;
    assert_eq!((again.status, again.body["invitation_id"].as_str()), (200, Some(id.as_str())));
    // The invitee signs up; before verifying the address nothing is shown or accepted.
    let (invitee, link) = env.register_unverified(&email).await;
    let early = post(&env, &format!("/api/invitations/{id}/accept"), json!({}), &invitee.access_token).await;
    assert_eq!(code(&early), (403, "email_not_verified"));
    env.verify_email(&link).await;
    let mine = env.call("GET", "/api/invitations", None, Some(&invitee.access_token)).await;
    assert_eq!(mine.body["invitations"][0]["invitation_id"].as_str(), Some(id.as_str()), "{:?}", mine.body);
    // Someone else, verified, cannot take it.
    let other = env.register(&unique_email("other")).await;
    let stolen = post(&env, &format!("/api/invitations/{id}/accept"), json!({}), &other.access_token).await;
    assert_eq!(code(&stolen), (403, "invitation_email_mismatch"));
    // Accepted once, concurrently: one membership.
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let state = env.state.clone();
        let token = invitee.access_token.clone();
        let uri = format!("/api/invitations/{id}/accept");
        tasks.push(tokio::spawn(async move {
            let req = integration_tests::harness::api_request(
                "POST",
                &uri,
                lambda_http::Body::Text("{}".into()),
                Some(&token),
                &[],
            );
            integration_tests::harness::decode(auth::handle(&state, req).await).status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("task"));
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409, 409, 409, 409]);
    let org_now = env.call("GET", &format!("/api/orgs/{org}"), None, Some(&invitee.access_token)).await;
    assert_eq!((org_now.status, org_now.body["member_count"].as_u64()), (200, Some(2)));
    assert!(
        env.call("GET", "/api/invitations", None, Some(&invitee.access_token)).await.body["invitations"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
    // A member's address cannot be invited again; a revoked invitation cannot be accepted.
    let member_again =
        post(&env, &format!("/api/orgs/{org}/invitations"), json!({"email": email}), &owner.access_token).await;
    assert_eq!(code(&member_again), (409, "already_member"));
    let late_email = unique_email("late");
    let revoked =
        post(&env, &format!("/api/orgs/{org}/invitations"), json!({"email": late_email}), &owner.access_token).await;
    let revoked_id = revoked.body["invitation_id"].as_str().expect("id").to_owned();
    let del =
        env.call("DELETE", &format!("/api/orgs/{org}/invitations/{revoked_id}"), None, Some(&owner.access_token)).await;
    assert_eq!(del.status, 204, "{:?}", del.body);
    let del_again =
        env.call("DELETE", &format!("/api/orgs/{org}/invitations/{revoked_id}"), None, Some(&owner.access_token)).await;
    assert_eq!(code(&del_again), (409, "invitation_closed"));
    let late = env.register(&late_email).await;
    let refused = post(&env, &format!("/api/invitations/{revoked_id}/accept"), json!({}), &late.access_token).await;
    assert_eq!(code(&refused), (409, "invitation_closed"));
    // An invitation expires after seven days.
    let slow_email = unique_email("slow");
    let slow =
        post(&env, &format!("/api/orgs/{org}/invitations"), json!({"email": slow_email}), &owner.access_token).await;
    let slow_id = slow.body["invitation_id"].as_str().expect("id").to_owned();
    let slow_user = env.register(&slow_email).await;
    env.clock.advance(chrono::Duration::days(7) + chrono::Duration::seconds(1));
    let expired = post(&env, &format!("/api/invitations/{slow_id}/accept"), json!({}), &slow_user.access_token).await;
    assert_eq!(code(&expired), (409, "invitation_closed"));
    // The organization's list shows what became of each.
    let list = env.call("GET", &format!("/api/orgs/{org}/invitations"), None, Some(&owner.access_token)).await;
    let states: Vec<(&str, &str)> = list.body["invitations"]
        .as_array()
        .expect("list")
        .iter()
        .map(|i| (i["invitation_id"].as_str().unwrap_or(""), i["status"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(states, [(slow_id.as_str(), "expired"), (revoked_id.as_str(), "revoked"), (id.as_str(), "accepted")]);
}

#[tokio::test]
async fn the_last_owner_cannot_leave_be_removed_or_demoted_and_ownership_transfers() {
    Box::pin(last_owner_rules()).await;
}

async fn last_owner_rules() {
    let t = team().await;
    let env = &t.env;
    let org = &t.org;
    let uri = |u: &str| format!("/api/orgs/{org}/members/{u}");
    // Alone as owner: no leaving, no demotion.
    let leave = env.call("DELETE", &uri(&t.owner.user_id), None, Some(&t.owner.access_token)).await;
    assert_eq!(code(&leave), (409, "last_owner"));
    let demote =
        env.call("PUT", &uri(&t.owner.user_id), Some(json!({"role": "admin"})), Some(&t.owner.access_token)).await;
    assert_eq!(code(&demote), (409, "last_owner"));
    // An admin can neither remove nor demote the owner.
    let by_admin = env.call("DELETE", &uri(&t.owner.user_id), None, Some(&t.admin.access_token)).await;
    assert_eq!(code(&by_admin), (403, "org_role_required"));
    // Ownership transferred: the admin is the owner, the old owner an admin, at once.
    let transfer = post(
        env,
        &format!("/api/orgs/{org}/transfer-ownership"),
        json!({"user_id": t.admin.user_id}),
        &t.owner.access_token,
    )
    .await;
    assert_eq!((transfer.status, transfer.body["role"].as_str()), (200, Some("admin")), "{:?}", transfer.body);
    let roles = t.members().await;
    assert!(
        roles.contains(&(t.admin.user_id.clone(), "owner".into()))
            && roles.contains(&(t.owner.user_id.clone(), "admin".into()))
    );
    assert_eq!(t.org().await["role"], "admin");
    // Two owners leaving at the same instant: one stays.
    let promote =
        env.call("PUT", &uri(&t.owner.user_id), Some(json!({"role": "owner"})), Some(&t.admin.access_token)).await;
    assert_eq!(promote.status, 200, "{:?}", promote.body);
    let (owner_uri, admin_uri) = (uri(&t.owner.user_id), uri(&t.admin.user_id));
    let (a, b) = tokio::join!(
        env.call("DELETE", &owner_uri, None, Some(&t.owner.access_token)),
        env.call("DELETE", &admin_uri, None, Some(&t.admin.access_token)),
    );
    let mut outcomes = vec![code(&a), code(&b)];
    outcomes.sort_unstable();
    assert_eq!(outcomes, [(204, ""), (409, "last_owner")]);
    let remaining_owner = if a.status == 204 { &t.admin } else { &t.owner };
    let owners = t.members_as(remaining_owner).await;
    let owners_left: Vec<_> = owners.iter().filter(|(_, r)| r == "owner").collect();
    assert_eq!(owners_left.len(), 1);
    assert_eq!(owners_left[0].0, remaining_owner.user_id);
    // The member leaves on their own.
    let gone = env.call("DELETE", &uri(&t.member.user_id), None, Some(&t.member.access_token)).await;
    assert_eq!(gone.status, 204);
    let after = env.call("GET", &format!("/api/orgs/{org}"), None, Some(&t.member.access_token)).await;
    assert_eq!(code(&after), (404, "org_not_found"));
}

/// Each organization route, as each caller: the status expected for owner, admin, member, outsider (the
/// outsider learns nothing: 404), a solution token (401 wrong kind) and no credentials (401).
#[tokio::test]
async fn every_organization_route_as_every_role_and_credential() {
    // Boxed: the handlers' futures are large in debug builds.
    Box::pin(route_matrix()).await;
}

async fn route_matrix() {
    let t = team().await;
    let env = &t.env;
    let org = t.org.clone();
    let solution = env.solution(SolutionStatus::Published).await.solution_id;
    let solution_token =
        env.solution_token(&t.member.access_token, &solution).await["token"].as_str().expect("token").to_owned();
    // A throwaway member per destructive call, so each call has something to act on.
    let extra = env.register(&unique_email("extra")).await;
    let extra_email = env.call("GET", "/api/user-context", None, Some(&extra.access_token)).await.body["user"]["email"]
        .as_str()
        .expect("email")
        .to_owned();
    join(env, &org, &t.owner, &extra, &extra_email, "member").await;
    let pending =
        post(env, &format!("/api/orgs/{org}/invitations"), json!({"email": unique_email("p")}), &t.owner.access_token)
            .await;
    let pending_id = pending.body["invitation_id"].as_str().expect("id").to_owned();

    // (method, uri, body, [owner, admin, member, outsider]) — read-only or repeatable calls.
    let cases: Vec<(&str, String, Option<Value>, [u16; 4])> = vec![
        ("GET", format!("/api/orgs/{org}"), None, [200, 200, 200, 404]),
        ("GET", format!("/api/orgs/{org}/members"), None, [200, 200, 200, 404]),
        ("PATCH", format!("/api/orgs/{org}"), Some(json!({"name": "Acme Data"})), [200, 403, 403, 404]),
        ("GET", format!("/api/orgs/{org}/invitations"), None, [200, 200, 403, 404]),
        (
            "PUT",
            format!("/api/orgs/{org}/members/{}", extra.user_id),
            Some(json!({"role": "member"})),
            [200, 200, 403, 404],
        ),
        (
            "POST",
            format!("/api/orgs/{org}/invitations"),
            Some(json!({"email": "again@example.test"})),
            [201, 200, 403, 404],
        ),
        (
            "POST",
            format!("/api/orgs/{org}/invitations"),
            Some(json!({"email": "boss@example.test", "role": "owner"})),
            [201, 403, 403, 404],
        ),
        (
            "POST",
            format!("/api/orgs/{org}/transfer-ownership"),
            Some(json!({"user_id": "usr_00000000000000000000000000"})),
            [404, 403, 403, 404],
        ),
        ("DELETE", format!("/api/orgs/{org}/members/{}", t.owner.user_id), None, [409, 403, 403, 404]),
        ("DELETE", format!("/api/orgs/{org}/invitations/ivt_00000000000000000000000000"), None, [404, 404, 403, 404]),
    ];
    let callers = [&t.owner, &t.admin, &t.member, &t.outsider];
    for (method, uri, body, expected) in &cases {
        for (who, want) in callers.iter().zip(expected) {
            let r = env.call(method, uri, body.clone(), Some(&who.access_token)).await;
            assert_eq!(r.status, *want, "{method} {uri} as {}: {:?}", who.user_id, r.body);
            if r.status == 403 {
                assert_eq!(r.body["code"], "org_role_required", "{method} {uri}");
            }
            if r.status == 404 && who.user_id == t.outsider.user_id {
                assert_eq!(r.body["code"], "org_not_found", "{method} {uri}");
            }
        }
        // No session: 401; a solution token: 401, wrong kind.
        let none = env.call(method, uri, body.clone(), None).await;
        assert_eq!(none.status, 401, "{method} {uri} without credentials");
        let wrong = env.call(method, uri, body.clone(), Some(&solution_token)).await;
        assert_eq!(code(&wrong), (401, "wrong_token_kind"), "{method} {uri} with a solution token");
    }
    // The account-wide routes: the solution token and no credentials are refused there too.
    for (method, uri) in [
        ("GET", "/api/orgs".to_owned()),
        ("POST", "/api/orgs".to_owned()),
        ("GET", "/api/invitations".to_owned()),
        ("POST", format!("/api/invitations/{pending_id}/accept")),
    ] {
        let body = (method == "POST").then(|| json!({"name": "X"}));
        assert_eq!(env.call(method, &uri, body.clone(), None).await.status, 401, "{method} {uri}");
        let wrong = env.call(method, &uri, body, Some(&solution_token)).await;
        assert_eq!(code(&wrong), (401, "wrong_token_kind"), "{method} {uri}");
    }
    // Only an owner makes an owner (and unmakes one).
    let member_uri = format!("/api/orgs/{org}/members/{}", extra.user_id);
    let by_admin = env.call("PUT", &member_uri, Some(json!({"role": "owner"})), Some(&t.admin.access_token)).await;
    assert_eq!(code(&by_admin), (403, "org_role_required"));
    let by_owner = env.call("PUT", &member_uri, Some(json!({"role": "owner"})), Some(&t.owner.access_token)).await;
    assert_eq!((by_owner.status, by_owner.body["role"].as_str()), (200, Some("owner")));
    let demote = env.call("PUT", &member_uri, Some(json!({"role": "admin"})), Some(&t.admin.access_token)).await;
    assert_eq!(code(&demote), (403, "org_role_required"));
    let back = env.call("PUT", &member_uri, Some(json!({"role": "member"})), Some(&t.owner.access_token)).await;
    assert_eq!(back.status, 200);
    // The member removal rules: an admin removes a member; a member removes nobody else.
    let by_member = env
        .call("DELETE", &format!("/api/orgs/{org}/members/{}", extra.user_id), None, Some(&t.member.access_token))
        .await;
    assert_eq!(code(&by_member), (403, "org_role_required"));
    let by_admin = env
        .call("DELETE", &format!("/api/orgs/{org}/members/{}", extra.user_id), None, Some(&t.admin.access_token))
        .await;
    assert_eq!(by_admin.status, 204);
    // The outsider owns an organization of its own: its ids do not reach into this one, nor this one's into it.
    let theirs = create_org(env, &t.outsider, "Elsewhere").await;
    let their_invite = post(
        env,
        &format!("/api/orgs/{theirs}/invitations"),
        json!({"email": unique_email("x")}),
        &t.outsider.access_token,
    )
    .await;
    let their_invitation = their_invite.body["invitation_id"].as_str().expect("id").to_owned();
    let cross = env
        .call("DELETE", &format!("/api/orgs/{org}/invitations/{their_invitation}"), None, Some(&t.owner.access_token))
        .await;
    assert_eq!(code(&cross), (404, "invitation_not_found"));
    let cross = env
        .call(
            "DELETE",
            &format!("/api/orgs/{theirs}/invitations/{their_invitation}"),
            None,
            Some(&t.owner.access_token),
        )
        .await;
    assert_eq!(code(&cross), (404, "org_not_found"));
    let cross = env
        .call(
            "PUT",
            &format!("/api/orgs/{org}/members/{}", t.outsider.user_id),
            Some(json!({"role": "admin"})),
            Some(&t.owner.access_token),
        )
        .await;
    assert_eq!(code(&cross), (404, "member_not_found"));
    let cross = env.call("GET", &format!("/api/orgs/{theirs}/members"), None, Some(&t.admin.access_token)).await;
    assert_eq!(code(&cross), (404, "org_not_found"));
    let cross = post(
        env,
        &format!("/api/orgs/{org}/transfer-ownership"),
        json!({"user_id": t.outsider.user_id}),
        &t.owner.access_token,
    )
    .await;
    assert_eq!(code(&cross), (404, "member_not_found"));
    // An outsider's id in the path of a real organization is still 404; bad ids are 400 naming the field.
    let bad = env.call("GET", "/api/orgs/not-an-org", None, Some(&t.owner.access_token)).await;
    assert_eq!((bad.status, bad.body["errors"][0]["field"].as_str()), (400, Some("org_id")));
    let bad_role = env
        .call(
            "PUT",
            &format!("/api/orgs/{org}/members/{}", t.member.user_id),
            Some(json!({"role": "finance"})),
            Some(&t.owner.access_token),
        )
        .await;
    assert_eq!((bad_role.status, bad_role.body["errors"][0]["field"].as_str()), (400, Some("role")));
    let bad_name = post(env, "/api/orgs", json!({"name": "  "}), &t.owner.access_token).await;
    assert_eq!((bad_name.status, bad_name.body["errors"][0]["field"].as_str()), (400, Some("name")));
    let bad_email =
        post(env, &format!("/api/orgs/{org}/invitations"), json!({"email": "nope"}), &t.owner.access_token).await;
    assert_eq!((bad_email.status, bad_email.body["errors"][0]["field"].as_str()), (400, Some("email")));
}

#[tokio::test]
async fn an_organization_sends_at_most_fifty_invitations_a_day() {
    let env = TestEnv::new().await;
    let owner = env.register(&unique_email("owner")).await;
    let org = create_org(&env, &owner, "Busy").await;
    let uri = format!("/api/orgs/{org}/invitations");
    for i in 0..50 {
        let r = post(&env, &uri, json!({"email": unique_email(&format!("i{i}"))}), &owner.access_token).await;
        assert_eq!(r.status, 201, "{i}: {:?}", r.body);
    }
    let refused = post(&env, &uri, json!({"email": unique_email("one-more")}), &owner.access_token).await;
    assert_eq!(code(&refused), (429, "too_many_requests"));
    assert!(refused.headers.contains_key("retry-after"));
    // Another organization is not held up, and the next day this one may invite again.
    let other = create_org(&env, &owner, "Calm").await;
    let r =
        post(&env, &format!("/api/orgs/{other}/invitations"), json!({"email": unique_email("o")}), &owner.access_token)
            .await;
    assert_eq!(r.status, 201);
    env.clock.advance(chrono::Duration::days(1));
    let next_day = post(&env, &uri, json!({"email": unique_email("tomorrow")}), &owner.access_token).await;
    assert_eq!(next_day.status, 201, "{:?}", next_day.body);
}

#[tokio::test]
async fn inviting_again_for_another_role_replaces_the_pending_invitation() {
    let env = TestEnv::new().await;
    let owner = env.register(&unique_email("owner")).await;
    let org = create_org(&env, &owner, "Roles").await;
    let uri = format!("/api/orgs/{org}/invitations");
    let email = unique_email("twice");
    let first = post(&env, &uri, json!({"email": email}), &owner.access_token).await;
    let same = post(&env, &uri, json!({"email": email, "role": "member"}), &owner.access_token).await;
    assert_eq!((same.status, &same.body["invitation_id"]), (200, &first.body["invitation_id"]));
    let admin = post(&env, &uri, json!({"email": email, "role": "admin"}), &owner.access_token).await;
    assert_eq!((admin.status, admin.body["role"].as_str()), (201, Some("admin")), "{:?}", admin.body);
    assert_ne!(admin.body["invitation_id"], first.body["invitation_id"]);
    let list = env.call("GET", &uri, None, Some(&owner.access_token)).await;
    let states: Vec<(&str, &str)> = list.body["invitations"]
        .as_array()
        .expect("list")
        .iter()
        .map(|i| (i["role"].as_str().unwrap_or(""), i["status"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(states, [("admin", "pending"), ("member", "revoked")]);
    // The invitee joins with the role of the invitation that stands.
    let invitee = env.register(&email).await;
    let id = admin.body["invitation_id"].as_str().expect("id");
    let joined = post(&env, &format!("/api/invitations/{id}/accept"), json!({}), &invitee.access_token).await;
    assert_eq!(joined.body["role"], "admin");
}
