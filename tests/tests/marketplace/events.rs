//! Every sample event in `events/marketplace/` runs through the function and yields the status in its file
//! name. Each event gets a fresh user; the published solution is shared.

use integration_tests::harness::{decode, expected_status, sample_events, unique_email};
use integration_tests::marketplace::MarketEnv;

#[tokio::test]
async fn sample_events_produce_their_named_status() {
    let t = MarketEnv::new().await;
    let published = t.solution("events", |s| s.category = "developer-tools".into()).await;
    let files = sample_events(&["marketplace"]);
    assert!(files.len() >= 8, "{files:?}");
    for path in files {
        let name = path.file_name().and_then(|n| n.to_str()).expect("name").to_owned();
        let user = t.env.register(&unique_email("event")).await;
        let text = std::fs::read_to_string(&path)
            .expect("read")
            .replace("{{ACCESS_TOKEN}}", &user.access_token)
            .replace("{{SOLUTION_ID}}", &published.solution_id);
        assert!(!text.contains("{{"), "{name}: unknown placeholder");
        let req = lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_ne!(
            shared::platform::http::match_route(marketplace::ROUTES, req.method().as_str(), req.uri().path()),
            shared::platform::http::RouteMatch::NotFound,
            "{name}: not a marketplace route"
        );
        let reply = decode(marketplace::handle(&t.market, req).await);
        assert_eq!(reply.status, expected_status(&name), "{name}: {:?}", reply.body);
        if reply.status >= 400 {
            assert_eq!(reply.content_type(), "application/problem+json", "{name}");
        }
    }
}
