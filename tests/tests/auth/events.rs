//! Every sample event in `events/auth/` and `events/usage/` runs through the handler and yields the status in its file name.

use integration_tests::harness::{PASSWORD, TestEnv, expected_status, sample_events, unique_email};
use shared::model::SolutionStatus;

#[tokio::test(flavor = "multi_thread")]
async fn sample_events_produce_their_named_status() {
    let env = TestEnv::new().await;
    let solution = env.solution(SolutionStatus::Published).await;
    let admin = env.admin().await;
    let files = sample_events(&["auth", "usage"]);
    assert!(files.len() >= 20, "expected a sample event per route and case");
    for path in files {
        let name = path.file_name().and_then(|n| n.to_str()).expect("name").to_owned();
        // A fresh user, session and solution token per event.
        let email = unique_email("event");
        let session = env.register(&email).await;
        let token = env.solution_token(&session.access_token, &solution.solution_id).await;
        let text = std::fs::read_to_string(&path).expect("read");
        // Verification cases: an unverified account (its link unused), and a link used already.
        let text = if text.contains("{{VERIFICATION_TOKEN}}") || text.contains("{{UNVERIFIED_ACCESS_TOKEN}}") {
            let (unverified, link) = env.register_unverified(&unique_email("unverified")).await;
            text.replace("{{VERIFICATION_TOKEN}}", &link)
                .replace("{{UNVERIFIED_ACCESS_TOKEN}}", &unverified.access_token)
        } else if text.contains("{{USED_VERIFICATION_TOKEN}}") {
            let (_, link) = env.register_unverified(&unique_email("verified")).await;
            env.verify_email(&link).await;
            text.replace("{{USED_VERIFICATION_TOKEN}}", &link)
        } else {
            text
        };
        // Organization cases: a team the fresh user owns, with a member and a pending invitation; and an
        // invitation to the fresh user's address from another user's team.
        let text = if text.contains("{{ORG_ID}}") { Box::pin(with_org(&env, &session, text)).await } else { text };
        let text = if text.contains("{{INVITED_ID}}") {
            let host = env.register(&unique_email("host")).await;
            let org = create_org(&env, &host).await;
            let id = invite(&env, &host, &org, &email).await;
            text.replace("{{INVITED_ID}}", &id)
        } else {
            text
        };
        let text = text
            .replace("{{EMAIL}}", &email)
            .replace("{{NEW_EMAIL}}", &unique_email("new"))
            .replace("{{PASSWORD}}", PASSWORD)
            .replace("{{ACCESS_TOKEN}}", &session.access_token)
            .replace("{{ADMIN_ACCESS_TOKEN}}", &admin.access_token)
            .replace("{{USER_ID}}", &session.user_id)
            .replace("{{SOLUTION_ID}}", &solution.solution_id)
            .replace("{{SOLUTION_TOKEN}}", token["token"].as_str().expect("token"))
            .replace("{{TOKEN_ID}}", token["token_id"].as_str().expect("token_id"))
            .replace("{{REFRESH_TOKEN}}", &session.refresh_token)
            .replace("{{ANONYMOUS_ID}}", &format!("visitor-{}", ulid::Ulid::new()));
        assert!(!text.contains("{{"), "{name}: unknown placeholder");
        let req = lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let reply = env.send(req).await;
        assert_eq!(reply.status, expected_status(&name), "{name}: {:?}", reply.body);
        if reply.status >= 400 {
            assert_eq!(reply.content_type(), "application/problem+json", "{name}");
        }
    }
}

async fn create_org(env: &TestEnv, owner: &shared::auth::Session) -> String {
    let r = env.call("POST", "/api/orgs", Some(serde_json::json!({"name": "Events"})), Some(&owner.access_token)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["org_id"].as_str().expect("org").to_owned()
}

async fn invite(env: &TestEnv, owner: &shared::auth::Session, org: &str, email: &str) -> String {
    let uri = format!("/api/orgs/{org}/invitations");
    let r = env.call("POST", &uri, Some(serde_json::json!({"email": email})), Some(&owner.access_token)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["invitation_id"].as_str().expect("invitation").to_owned()
}

/// `{{ORG_ID}}` (a team `owner` owns), `{{MEMBER_USER_ID}}` (a member of it) and `{{INVITATION_ID}}` (a
/// pending invitation of it) filled in.
async fn with_org(env: &TestEnv, owner: &shared::auth::Session, text: String) -> String {
    let org = create_org(env, owner).await;
    let member_email = unique_email("member");
    let id = invite(env, owner, &org, &member_email).await;
    let member = env.register(&member_email).await;
    let accepted = env
        .call("POST", &format!("/api/invitations/{id}/accept"), Some(serde_json::json!({})), Some(&member.access_token))
        .await;
    assert_eq!(accepted.status, 200, "{:?}", accepted.body);
    let pending = invite(env, owner, &org, &unique_email("pending")).await;
    text.replace("{{ORG_ID}}", &org)
        .replace("{{MEMBER_USER_ID}}", &member.user_id)
        .replace("{{INVITATION_ID}}", &pending)
}
