//! Every sample event in `events/subscriptions/`, `events/stripe-webhook/` and `events/phonepe-webhook/` runs
//! through its handler and yields the status in its file name. `{{STRIPE_SIGNATURE}}` is a valid signature of
//! the event's body, made at run time with the test webhook secret; `{{PHONEPE_AUTHORIZATION}}` the test
//! PhonePe callback credentials' digest.

use integration_tests::billing::{PHONEPE_PASSWORD, PHONEPE_USERNAME, WEBHOOK_SECRET};
use integration_tests::harness::{expected_status, sample_events, unique_email};
use shared::platform::clock::Clock;

#[tokio::test]
async fn sample_events_produce_their_named_status() {
    let f = crate::fixture().await;
    let files = sample_events(&["subscriptions", "stripe-webhook", "phonepe-webhook"]);
    assert!(files.len() >= 10);
    for path in files {
        let name = path.file_name().and_then(|n| n.to_str()).expect("name").to_owned();
        let session = f.b.env.register(&unique_email("event")).await;
        let text = std::fs::read_to_string(&path)
            .expect("read")
            .replace("{{ACCESS_TOKEN}}", &session.access_token)
            .replace("{{ADMIN_ACCESS_TOKEN}}", &f.admin)
            .replace("{{USER_ID}}", &session.user_id)
            .replace("{{SOLUTION_ID}}", &f.solution.solution_id)
            .replace(
                "{{PHONEPE_AUTHORIZATION}}",
                &shared::payments::phonepe::callback::expected_authorization(PHONEPE_USERNAME, PHONEPE_PASSWORD),
            );
        let text = if text.contains("{{STRIPE_SIGNATURE}}") {
            let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
            let body = doc["body"].as_str().expect("body");
            let t = f.b.env.clock.now().timestamp();
            let sig = shared::payments::stripe::signature::sign(WEBHOOK_SECRET, t, body.as_bytes());
            text.replace("{{STRIPE_SIGNATURE}}", &format!("t={t},v1={sig}"))
        } else {
            text
        };
        assert!(!text.contains("{{"), "{name}: unknown placeholder");
        let req = lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let reply = f.b.send(req).await;
        assert_eq!(reply.status, expected_status(&name), "{name}: {:?}", reply.body);
        if reply.status >= 400 {
            assert_eq!(reply.content_type(), "application/problem+json", "{name}");
        }
    }
}
