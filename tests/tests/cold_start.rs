//! Cold start of the auth function exactly as in Lambda: configuration from the environment, the signing key
//! from Secrets Manager (moto), the table in DynamoDB Local; then the Stripe functions (their Stripe secret). One
//! test per binary: it sets process environment. The PhonePe webhook and the billing function follow.

use integration_tests::harness::dynamo_client;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn auth_function_cold_starts_from_env_and_secrets_manager() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL_SECRETS_MANAGER").is_ok(),
        "AWS_ENDPOINT_URL_SECRETS_MANAGER is not set: run with `make test`"
    );
    let table = format!("cold-{}", ulid::Ulid::new().to_string().to_lowercase());
    integration_tests::template::create_table(&dynamo_client().await, &table).await.expect("table");
    let sdk = shared::aws::load().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let material = shared::crypto::random_token::<48>();
    let secret_id = format!("cold-start/{table}");
    secrets
        .create_secret()
        .name(&secret_id)
        .secret_string(json!({"current": material}).to_string())
        .send()
        .await
        .expect("create secret");

    // SAFETY: this binary runs this single test, before any other thread reads the environment.
    unsafe {
        std::env::set_var("TABLE_NAME", &table);
        std::env::set_var("JWT_ISSUER", "https://cold.test");
        std::env::set_var("SIGNING_KEY_SECRET_ID", "cold-start/does-not-exist");
    }
    // A missing secret fails the cold start with an error naming the secret, not a panic.
    let err = auth::AppState::from_env().await.err().expect("missing secret must fail");
    assert!(err.to_string().contains("cold-start/does-not-exist"), "{err}");

    unsafe { std::env::set_var("SIGNING_KEY_SECRET_ID", &secret_id) };
    let state = auth::AppState::from_env().await.expect("cold start");
    let jwks = state.auth.jwks();
    let expected = shared::auth::jwt::KeySet::from_material("https://cold.test", &material, None).expect("keys");
    assert_eq!(jwks.keys[0].kid, expected.current_kid());

    // And it serves: register through the handler built at cold start.
    let req = lambda_http::http::Request::builder()
        .method("POST")
        .uri("https://api.test/api/auth/register")
        .body(lambda_http::Body::Text(
            json!({"email": "cold@example.test", "password": "long enough pw", "name": "Cold"}).to_string(),
        ))
        .expect("request");
    let resp = auth::handle(&state, req).await;
    assert_eq!(resp.status().as_u16(), 201);

    // A malformed secret value fails the cold start without echoing the value.
    let bad_id = format!("cold-start/bad-{table}");
    secrets
        .create_secret()
        .name(&bad_id)
        .secret_string("{\"current\": \"too-short-secret-value\"}")
        .send()
        .await
        .expect("create secret");
    unsafe { std::env::set_var("SIGNING_KEY_SECRET_ID", &bad_id) };
    let err = auth::AppState::from_env().await.err().expect("bad secret must fail");
    assert!(!err.to_string().contains("too-short-secret-value"), "{err}");

    // The Stripe functions: the Stripe secret from Secrets Manager; the webhook needs no token keys.
    unsafe { std::env::set_var("SIGNING_KEY_SECRET_ID", &secret_id) };
    let stripe_id = format!("cold-start/stripe-{table}");
    let stripe_secret = json!({"secret_key": "sk_test_cold_value", "webhook_secrets": ["whsec_cold_value"]});
    secrets.create_secret().name(&stripe_id).secret_string(stripe_secret.to_string()).send().await.expect("secret");
    unsafe {
        std::env::set_var("STRIPE_SECRET_ID", &stripe_id);
        std::env::set_var("APP_BASE_URL", "https://app.cold.test");
    }
    subscriptions::AppState::from_env().await.expect("subscriptions cold start");
    unsafe { std::env::remove_var("SIGNING_KEY_SECRET_ID") };
    let hook = stripe_webhook::AppState::from_env().await.expect("stripe-webhook cold start without token keys");
    // It serves: an unsigned delivery is refused.
    let req = lambda_http::http::Request::builder()
        .method("POST")
        .uri("https://api.test/api/webhooks/stripe")
        .body(lambda_http::Body::Text("{}".into()))
        .expect("request");
    assert_eq!(stripe_webhook::handle(&hook, req).await.status().as_u16(), 400);
    // A Stripe secret without a webhook secret fails the cold start, naming no secret value.
    let empty_id = format!("cold-start/stripe-empty-{table}");
    let empty = json!({"secret_key": "sk_test_cold_value", "webhook_secrets": []});
    secrets.create_secret().name(&empty_id).secret_string(empty.to_string()).send().await.expect("secret");
    unsafe { std::env::set_var("STRIPE_SECRET_ID", &empty_id) };
    let err = stripe_webhook::AppState::from_env().await.err().expect("no webhook secret must fail");
    assert!(!err.to_string().contains("sk_test_cold_value"), "{err}");

    // The PhonePe webhook: the PhonePe secret and the seller; no token keys.
    let phonepe_id = format!("cold-start/phonepe-{table}");
    let phonepe = json!({"client_id": "M1", "client_secret": "cold-client-secret", "webhook_username": "hooks",
                         "webhook_password": "cold-hook-password"});
    secrets.create_secret().name(&phonepe_id).secret_string(phonepe.to_string()).send().await.expect("secret");
    unsafe {
        std::env::set_var("PHONEPE_SECRET_ID", &phonepe_id);
        std::env::set_var("PHONEPE_API_BASE", "http://127.0.0.1:9");
        std::env::set_var("SELLER_NAME", "Cold Seller");
        std::env::set_var("SELLER_ADDRESS", "1 Road|City");
        std::env::set_var("SELLER_GSTIN", "29AAGCB7383J1Z4");
    }
    let hook = phonepe_webhook::AppState::from_env().await.expect("phonepe-webhook cold start");
    let req = lambda_http::http::Request::builder()
        .method("POST")
        .uri("https://api.test/api/payments/webhook")
        .header("authorization", "0000")
        .body(lambda_http::Body::Text("{}".into()))
        .expect("request");
    assert_eq!(phonepe_webhook::handle(&hook, req).await.status().as_u16(), 401, "wrong credentials");
    // A seller GSTIN with a wrong check digit fails the cold start, naming the variable.
    unsafe { std::env::set_var("SELLER_GSTIN", "29AAGCB7383J1Z5") };
    let err = phonepe_webhook::AppState::from_env().await.err().expect("bad GSTIN must fail");
    assert!(err.to_string().contains("SELLER_GSTIN") && !err.to_string().contains("cold-hook-password"), "{err}");
    unsafe { std::env::set_var("SELLER_GSTIN", "29AAGCB7383J1Z4") };

    // The billing function: the store, the schedule, the sender; it runs (nothing due in this table).
    unsafe {
        std::env::set_var("SENDER_EMAIL", "billing@cold.test");
        std::env::set_var("BILLING_REMINDER_DAYS", "2,4");
    }
    let billing = billing::AppState::from_env().await.expect("billing cold start");
    assert_eq!(billing.run.ledger.schedule.reminder_days, vec![2, 4]);
    let deadline = chrono::Utc::now().timestamp_millis() + 60_000;
    let outcome =
        billing::handle(&billing, billing::Job { job: "daily".into(), month: None }, deadline).await.expect("run");
    assert!(outcome.report.complete && outcome.report.subscriptions == 0);
    unsafe { std::env::set_var("BILLING_REMINDER_DAYS", "1,0") };
    assert!(billing::AppState::from_env().await.is_err(), "reminder days are checked");
}
