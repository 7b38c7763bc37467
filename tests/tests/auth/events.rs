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
