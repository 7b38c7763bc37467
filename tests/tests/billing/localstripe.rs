//! The functions against the stand-in as `make dev` uses it: real HTTP calls for customers, prices, the hosted
//! Checkout page, price changes, cancellation and refunds, and the stand-in's own signed webhook deliveries
//! (localstripe's), received on 127.0.0.1 and passed byte for byte to the webhook handler.

use crate::Fixture;
use integration_tests::billing::{BillingEnv, WEBHOOK_SECRET};
use integration_tests::harness::{TestEnv, unique_email};
use integration_tests::http_stub::WebhookSink;
use integration_tests::stripe_local::StripeLocal;
use serde_json::{Value, json};
use shared::platform::clock::Clock;

async fn post(base: &str, path: &str, form: &[(&str, &str)]) -> Value {
    let client = integration_tests::billing::stripe_client(base, std::time::Duration::from_secs(10));
    let form: Vec<(String, String)> = form.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    match client.post(path, &form, &ulid::Ulid::new().to_string()).await {
        Ok(v) => v,
        // localstripe's configuration endpoints answer with an empty body.
        Err(shared::payments::stripe::client::StripeError::Decode(_)) if path.starts_with("/_config/") => Value::Null,
        Err(e) => panic!("{path}: {e}"),
    }
}

/// GET a plain-http URL on 127.0.0.1 (the hosted checkout page, HTML); its status.
async fn open_page(url: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest.split_once('/').expect("path");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let request = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    String::from_utf8_lossy(&answer).split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// The object of the first event of `kind` among the deliveries.
fn object_of(received: &[integration_tests::http_stub::Delivery], kind: &str) -> Value {
    received
        .iter()
        .filter_map(|(body, _)| serde_json::from_slice::<Value>(body).ok())
        .find(|e| e["type"] == kind)
        .map(|e| e["data"]["object"].clone())
        .unwrap_or_else(|| panic!("no {kind} delivered"))
}

/// Deliver what the sink received, in arrival order, each exactly as localstripe sent it.
async fn deliver_all(f: &Fixture, received: Vec<integration_tests::http_stub::Delivery>) {
    for (body, signature) in received {
        let r = f.b.deliver_raw(body, signature.as_deref()).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
}

#[tokio::test]
async fn a_subscription_lives_through_localstripe_and_its_signed_webhooks() {
    let env = TestEnv::new().await;
    let stand_in = StripeLocal::start(env.clock.now().timestamp()).await;
    let base = stand_in.base.clone();
    let sink = WebhookSink::start().await;
    let hook_id = format!("it{}", ulid::Ulid::new().to_string().to_lowercase());
    post(&base, &format!("/_config/webhooks/{hook_id}"), &[("url", &sink.url), ("secret", WEBHOOK_SECRET)]).await;
    let mut prices = Vec::new();
    for (tier, amount) in [("pro", "49900"), ("enterprise", "199900")] {
        let price = post(
            &base,
            "/v1/prices",
            &[
                ("product_data[name]", tier),
                ("unit_amount", amount),
                ("currency", "inr"),
                ("recurring[interval]", "month"),
            ],
        )
        .await;
        prices.push(price["id"].as_str().expect("price id").to_owned());
    }
    let b = BillingEnv::with_stripe(env, stand_in, None).await;
    let solution = b.priced_solution_with(5, 10, &prices[0], &prices[1]).await;
    let session = b.env.register(&unique_email("localstripe")).await;
    let token = b.env.solution_token(&session.access_token, &solution.solution_id).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let admin = b.env.admin().await.access_token;
    let f = Fixture { b, solution, user_id: session.user_id, access: session.access_token, token, admin };

    // Subscribe and pay at the (stand-in's) hosted checkout page.
    let created = f.b.create_subscription(&f.access, &f.solution.solution_id, "pro", "stripe").await;
    let id = created["subscription_id"].as_str().expect("id").to_owned();
    assert_eq!(open_page(created["checkout_url"].as_str().expect("url")).await, 200);
    let received = sink.wait_for(&["checkout.session.completed", "invoice.paid"], 15).await;
    // As Stripe: the first invoice says it started the subscription (the partner's first-payment count).
    assert_eq!(object_of(&received, "invoice.paid")["billing_reason"], "subscription_create");
    deliver_all(&f, received).await;
    let sub = f.subscription(&id).await;
    assert_eq!((sub["status"].as_str(), sub["tier"].as_str()), (Some("active"), Some("pro")), "{sub}");
    assert_eq!(f.tier().await, "pro");

    // Upgrade: localstripe (with the stand-in's shims) invoices the difference at once.
    let r = f
        .b
        .call("PUT", &format!("/api/subscriptions/{id}/upgrade"), Some(json!({"tier": "enterprise"})), Some(&f.access))
        .await;
    assert_eq!((r.status, r.body["tier"].as_str()), (200, Some("enterprise")), "{:?}", r.body);
    let received = sink.wait_for(&["invoice.paid"], 15).await;
    assert_eq!(object_of(&received, "invoice.paid")["billing_reason"], "subscription_update");
    deliver_all(&f, received).await;
    assert_eq!(f.tier().await, "enterprise");

    // Two payments (first period, prorated difference); refund part of the first.
    let history = f.history().await;
    let payments: Vec<&Value> =
        history["items"].as_array().expect("items").iter().filter(|i| i["kind"] == "payment").collect();
    assert_eq!(payments.len(), 2, "{history}");
    let first = payments.iter().find(|p| p["amount"] == 49_900).expect("first payment");
    let r =
        f.b.call(
            "POST",
            &format!("/api/payments/{}/refund", first["payment_id"].as_str().expect("id")),
            Some(json!({"amount": 10_000, "reason": "goodwill"})),
            Some(&f.admin),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    deliver_all(&f, sink.wait_for(&["charge.refunded"], 15).await).await;
    let history = f.history().await;
    assert!(
        history["items"].as_array().expect("items").iter().any(|i| i["kind"] == "refund" && i["amount"] == 10_000),
        "{history}"
    );

    // Cancel at period end: access continues.
    let r = f.b.call("DELETE", &format!("/api/subscriptions/{id}"), None, Some(&f.access)).await;
    assert_eq!((r.status, r.body["cancel_at_period_end"].as_bool()), (200, Some(true)), "{:?}", r.body);
    deliver_all(&f, sink.wait_for(&["customer.subscription.updated"], 15).await).await;
    assert_eq!(f.tier().await, "enterprise");

    // The events list is newest first, as Stripe's (the reconciliation pages it that way).
    let client = integration_tests::billing::stripe_client(&base, std::time::Duration::from_secs(10));
    let listed = client.get("/v1/events", &vec![("limit".to_owned(), "100".to_owned())]).await.expect("events");
    let events = listed["data"].as_array().expect("data");
    let created: Vec<i64> = events.iter().map(|e| e["created"].as_i64().unwrap_or(0)).collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "{created:?}");
    let position = |kind: &str| events.iter().position(|e| e["type"] == kind).expect(kind);
    assert!(position("customer.subscription.updated") < position("checkout.session.completed"));
}

#[tokio::test]
async fn a_taken_product_id_is_resource_already_exists_as_at_stripe() {
    // The price book relies on it when two approvals of one solution race.
    let stand_in = StripeLocal::start(chrono::Utc::now().timestamp()).await;
    let client = integration_tests::billing::stripe_client(&stand_in.base, std::time::Duration::from_secs(10));
    let id = format!("prod_it{}", ulid::Ulid::new().to_string().to_lowercase());
    let form = vec![("id".to_owned(), id.clone()), ("name".to_owned(), "a solution".to_owned())];
    client.post("/v1/products", &form, &format!("{id}-1")).await.expect("first create");
    match client.post("/v1/products", &form, &format!("{id}-2")).await {
        Err(shared::payments::stripe::client::StripeError::Refused { status, code, .. }) => {
            assert_eq!((status, code.as_deref()), (400, Some("resource_already_exists")));
        }
        other => panic!("a second product with id {id}: {other:?}"),
    }
    match client.get(&format!("/v1/products/{id}_missing"), &Vec::new()).await {
        Err(shared::payments::stripe::client::StripeError::Refused { status, code, .. }) => {
            assert_eq!((status, code.as_deref()), (404, Some("resource_missing")));
        }
        other => panic!("a missing product: {other:?}"),
    }
}
