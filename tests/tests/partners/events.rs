//! Every sample event in `events/partners/` and `events/marketplace/` runs through its function and yields the
//! status in its file name. Each event gets a fresh user and a fresh draft; the partner and its published solution are
//! shared.

use integration_tests::harness::{decode, expected_status, sample_events, unique_email};
use integration_tests::partners::PartnersEnv;

#[tokio::test]
async fn sample_events_produce_their_named_status() {
    let t = PartnersEnv::new().await;
    let partner = t.partner("Acme Labs").await;
    let published = t.published(&partner, "Acme Search", None).await;
    let files = sample_events(&["partners", "marketplace"]);
    assert!(files.len() >= 30);
    for path in files {
        let name = path.file_name().and_then(|n| n.to_str()).expect("name").to_owned();
        let user = t.env.register(&unique_email("event")).await;
        let draft = t.draft(&partner, "Acme Draft", None).await;
        let text = std::fs::read_to_string(&path)
            .expect("read")
            .replace("{{ACCESS_TOKEN}}", &user.access_token)
            .replace("{{PARTNER_ACCESS_TOKEN}}", &partner.session.access_token)
            .replace("{{ADMIN_ACCESS_TOKEN}}", &t.admin.access_token)
            .replace("{{PARTNER_ID}}", &partner.partner_id)
            .replace("{{SOLUTION_ID}}", &published)
            .replace("{{DRAFT_SOLUTION_ID}}", &draft);
        assert!(!text.contains("{{"), "{name}: unknown placeholder");
        let req = lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let market = shared::platform::http::match_route(marketplace::ROUTES, req.method().as_str(), req.uri().path())
            != shared::platform::http::RouteMatch::NotFound;
        let reply = if market {
            decode(marketplace::handle(&t.market, req).await)
        } else {
            decode(partners::handle(&t.partners, req).await)
        };
        assert_eq!(reply.status, expected_status(&name), "{name}: {:?}", reply.body);
        if reply.status >= 400 {
            assert_eq!(reply.content_type(), "application/problem+json", "{name}");
        }
    }
}
