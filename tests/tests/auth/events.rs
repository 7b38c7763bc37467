//! Every sample event in `events/auth/` and `events/usage/` runs through the handler and yields the status in its file name.

use integration_tests::harness::{PASSWORD, TestEnv, unique_email};
use integration_tests::workspace_root;
use shared::solutions::SolutionStatus;

/// The expected status: the first three-digit number in the file name (`register-409-taken.json` → 409).
fn expected_status(name: &str) -> u16 {
    name.trim_end_matches(".json")
        .split('-')
        .find_map(|part| (part.len() == 3).then(|| part.parse::<u16>().ok()).flatten())
        .unwrap_or_else(|| panic!("{name} has no status in its name"))
}

#[tokio::test(flavor = "multi_thread")]
async fn sample_events_produce_their_named_status() {
    let env = TestEnv::new().await;
    let solution = env.solution(SolutionStatus::Published).await;
    let admin = env.admin().await;
    let mut files = Vec::new();
    for function in ["auth", "usage"] {
        let dir = workspace_root().join("events").join(function);
        files.extend(
            std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json")),
        );
    }
    files.sort();
    assert!(files.len() >= 20, "expected a sample event per route and case");
    for path in files {
        let name = path.file_name().and_then(|n| n.to_str()).expect("name").to_owned();
        // A fresh user, session and solution token per event.
        let email = unique_email("event");
        let session = env.register(&email).await;
        let token = env.solution_token(&session.access_token, &solution.solution_id).await;
        let text = std::fs::read_to_string(&path).expect("read");
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
