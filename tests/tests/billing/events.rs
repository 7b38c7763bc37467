//! Every sample event in `events/subscriptions/` and `events/stripe-webhook/` runs through its handler and
//! yields the status in its file name. `{{STRIPE_SIGNATURE}}` is a valid signature of the event's body, made
//! at run time with the test webhook secret.

use integration_tests::billing::WEBHOOK_SECRET;
use integration_tests::harness::unique_email;
use integration_tests::workspace_root;
use shared::clock::Clock;

fn expected_status(name: &str) -> u16 {
    name.trim_end_matches(".json")
        .split('-')
        .find_map(|part| (part.len() == 3).then(|| part.parse::<u16>().ok()).flatten())
        .unwrap_or_else(|| panic!("{name} has no status in its name"))
}

#[tokio::test]
async fn sample_events_produce_their_named_status() {
    let f = crate::fixture().await;
    let mut files = Vec::new();
    for function in ["subscriptions", "stripe-webhook"] {
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
    assert!(files.len() >= 10);
    for path in files {
        let name = path.file_name().and_then(|n| n.to_str()).expect("name").to_owned();
        let session = f.b.env.register(&unique_email("event")).await;
        let text = std::fs::read_to_string(&path)
            .expect("read")
            .replace("{{ACCESS_TOKEN}}", &session.access_token)
            .replace("{{ADMIN_ACCESS_TOKEN}}", &f.admin)
            .replace("{{USER_ID}}", &session.user_id)
            .replace("{{SOLUTION_ID}}", &f.solution.solution_id);
        let text = if text.contains("{{STRIPE_SIGNATURE}}") {
            let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
            let body = doc["body"].as_str().expect("body");
            let t = f.b.env.clock.now().timestamp();
            let sig = shared::stripe::signature::sign(WEBHOOK_SECRET, t, body.as_bytes());
            text.replace("{{STRIPE_SIGNATURE}}", &format!("t={t},v1={sig}"))
        } else {
            text
        };
        assert!(!text.contains("{{"), "{name}: unknown placeholder");
        let req = lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let path = req.uri().path().to_owned();
        let method = req.method().as_str().to_owned();
        let reply = if shared::http::match_route(stripe_webhook::ROUTES, &method, &path)
            != shared::http::RouteMatch::NotFound
        {
            integration_tests::harness::decode(stripe_webhook::handle(&f.b.hook, req).await)
        } else {
            integration_tests::harness::decode(subscriptions::handle(&f.b.subs, req).await)
        };
        assert_eq!(reply.status, expected_status(&name), "{name}: {:?}", reply.body);
        if reply.status >= 400 {
            assert_eq!(reply.content_type(), "application/problem+json", "{name}");
        }
    }
}
