//! Cold start of the auth function exactly as in Lambda: configuration from the environment, the signing key
//! from Secrets Manager (moto), the table in DynamoDB Local; then the Stripe functions (their Stripe secret). One
//! test per binary: it sets process environment. The PhonePe webhook and the billing function follow.
//!
//! Every Secrets Manager read of a cold start goes through `integration_tests::iam::SecretsProxy`, which checks
//! it against the function's IAM policy in `infra/template.yaml` (the secret named by the variable it read).

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
    let sdk = shared::platform::aws::load().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let upstream = std::env::var("AWS_ENDPOINT_URL_SECRETS_MANAGER").expect("endpoint");
    let proxy = integration_tests::iam::SecretsProxy::start(&upstream).await;
    let allowed = |function: &str| {
        let violations = proxy.take_violations();
        assert!(violations.is_empty(), "{function}: {violations:#?}");
    };
    let material = shared::platform::crypto::random_token::<48>();
    let secret_id = format!("cold-start/{table}");
    secrets
        .create_secret()
        .name(&secret_id)
        .secret_string(json!({"current": material}).to_string())
        .send()
        .await
        .expect("create secret");
    // The public keys as the template's default configures them (none) until the deployment sets them.
    // SAFETY: this binary runs this single test, before any other thread reads the environment.
    unsafe {
        std::env::set_var("AWS_ENDPOINT_URL_SECRETS_MANAGER", proxy.url());
        std::env::set_var("TOKEN_PUBLIC_KEYS", r#"{"keys": []}"#);
        std::env::set_var("TABLE_NAME", &table);
        std::env::set_var("JWT_ISSUER", "https://cold.test");
        std::env::set_var("SIGNING_KEY_SECRET_ID", "cold-start/does-not-exist");
    }
    // The cold start reads no secret: the signing key is read by the first request that signs or serves the
    // JWKS. A missing secret makes those requests 503 (retry later), not a failed cold start or a panic.
    proxy.as_function("auth");
    let broken = auth::AppState::from_env().await.expect("cold start without reading the secret");
    assert!(proxy.seen().is_empty(), "the cold start read a secret");
    let jwks_request = || {
        lambda_http::http::Request::builder()
            .method("GET")
            .uri("https://api.test/.well-known/jwks.json")
            .body(lambda_http::Body::Empty)
            .expect("request")
    };
    let resp = integration_tests::harness::decode(auth::handle(&broken, jwks_request()).await);
    assert_eq!((resp.status, resp.body["code"].as_str()), (503, Some("service_unavailable")), "{:?}", resp.body);

    unsafe { std::env::set_var("SIGNING_KEY_SECRET_ID", &secret_id) };
    let state = auth::AppState::from_env().await.expect("cold start");
    assert!(proxy.seen().iter().all(|(f, a)| f == "auth" && a.resource.ends_with("SigningKeySecret")));
    let before = proxy.seen().len();
    let jwks: shared::identity::jwt::Jwks =
        serde_json::from_value(integration_tests::harness::decode(auth::handle(&state, jwks_request()).await).body)
            .expect("jwks");
    assert_eq!(proxy.seen().len(), before + 1, "the first JWKS request reads the secret once");
    allowed("auth");
    let expected = shared::identity::jwt::KeySet::from_material("https://cold.test", &material, None).expect("keys");
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
    let session = integration_tests::harness::decode(resp).body;

    // It started although the configured public keys lack its key (so that the JWKS route tells what to
    // configure), and says so; the JWKS it serves, configured, verifies its tokens and cannot sign.
    assert_eq!(
        shared::setup::unconfigured_signing_key(&expected, r#"{"keys": []}"#).as_deref(),
        Some(expected.current_kid())
    );
    let published = serde_json::to_string(&jwks).expect("jwks");
    assert!(!published.contains(&material));
    assert_eq!(shared::setup::unconfigured_signing_key(&expected, &published), None);
    unsafe { std::env::set_var("TOKEN_PUBLIC_KEYS", &published) };
    let public = shared::setup::public_keys_from_env().expect("verify-only keys");
    assert!(!public.can_sign() && expected.can_sign());
    let access = session["access_token"].as_str().expect("access token");
    let expect = shared::identity::jwt::Expect {
        kinds: &[shared::model::TokenKind::Access],
        audience: None,
        allow_expired: false,
    };
    assert_eq!(public.verify(access, expect).expect("verifies").email, "cold@example.test");

    // The secret is kept: more requests read nothing more.
    let resp = auth::handle(&state, jwks_request()).await;
    assert_eq!((resp.status().as_u16(), proxy.seen().len()), (200, before + 1));

    // A malformed secret value fails the requests that need it (503) without echoing the value.
    let bad_id = format!("cold-start/bad-{table}");
    secrets
        .create_secret()
        .name(&bad_id)
        .secret_string("{\"current\": \"too-short-secret-value\"}")
        .send()
        .await
        .expect("create secret");
    unsafe { std::env::set_var("SIGNING_KEY_SECRET_ID", &bad_id) };
    let bad = auth::AppState::from_env().await.expect("cold start");
    let resp = integration_tests::harness::decode(auth::handle(&bad, jwks_request()).await);
    assert_eq!(resp.status, 503);
    assert!(!resp.body.to_string().contains("too-short-secret-value"), "{:?}", resp.body);

    // The Stripe functions: the Stripe secret from Secrets Manager; the webhook needs no token keys, and
    // subscriptions only the public ones (from here on, no function has the signing key's id).
    unsafe { std::env::remove_var("SIGNING_KEY_SECRET_ID") };
    let stripe_id = format!("cold-start/stripe-{table}");
    let stripe_secret = json!({"secret_key": "sk_test_cold_value", "webhook_secrets": ["whsec_cold_value"]});
    secrets.create_secret().name(&stripe_id).secret_string(stripe_secret.to_string()).send().await.expect("secret");
    unsafe {
        std::env::set_var("STRIPE_SECRET_ID", &stripe_id);
        std::env::set_var("APP_BASE_URL", "https://app.cold.test");
    }
    proxy.as_function("subscriptions");
    subscriptions::AppState::from_env().await.expect("subscriptions cold start");
    assert!(read_by(&proxy, "subscriptions").is_empty(), "subscriptions read its Stripe secret at cold start");
    // Its Stripe key is read by the first call to Stripe (here one that cannot connect), once.
    unsafe { std::env::set_var("STRIPE_API_BASE", "http://127.0.0.1:9") };
    let stripe = shared::setup::deferred_stripe(&shared::platform::aws::load().await).expect("client");
    for _ in 0..2 {
        let err = stripe.get("/v1/customers", &Vec::new()).await.expect_err("nothing listens");
        assert!(matches!(err, shared::payments::stripe::client::StripeError::Timeout(_)), "{err:?}");
    }
    assert_eq!(read_by(&proxy, "subscriptions"), ["StripeSecret"]);
    assert_eq!(proxy.seen().iter().filter(|(f, _)| f == "subscriptions").count(), 1, "read once");
    allowed("subscriptions");
    unsafe { std::env::remove_var("SIGNING_KEY_SECRET_ID") };
    proxy.as_function("stripe-webhook");
    let hook = stripe_webhook::AppState::from_env().await.expect("stripe-webhook cold start without token keys");
    allowed("stripe-webhook");
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
    proxy.as_function("phonepe-webhook");
    let hook = phonepe_webhook::AppState::from_env().await.expect("phonepe-webhook cold start");
    allowed("phonepe-webhook");
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
    proxy.as_function("billing");
    let billing = billing::AppState::from_env().await.expect("billing cold start");
    allowed("billing");
    assert_eq!(billing.run.writer.schedule.reminder_days, vec![2, 4]);
    let deadline = chrono::Utc::now().timestamp_millis() + 60_000;
    let outcome =
        billing::handle(&billing, billing::Job { job: "daily".into(), month: None }, deadline).await.expect("run");
    assert!(outcome.report.complete && outcome.report.subscriptions == 0);
    unsafe { std::env::set_var("BILLING_REMINDER_DAYS", "1,0") };
    assert!(billing::AppState::from_env().await.is_err(), "reminder days are checked");

    // The verify-only functions: usage, marketplace, partners (with the payout-sealing key); without public keys
    // configured, their cold start fails naming the setting.
    proxy.as_function("usage");
    unsafe { std::env::set_var("TOKEN_PUBLIC_KEYS", r#"{"keys": []}"#) };
    let err = usage::AppState::from_env().await.err().expect("no public keys must fail");
    assert!(err.to_string().contains("TOKEN_PUBLIC_KEYS") && err.to_string().contains("jwks.json"), "{err}");
    unsafe { std::env::set_var("TOKEN_PUBLIC_KEYS", &published) };
    usage::AppState::from_env().await.expect("usage cold start");
    allowed("usage");

    // Behind the console's distribution: the origin secret comes with the configuration (ORIGIN_VERIFY_SECRET,
    // the template's dynamic reference), so auth and usage read it at cold start with no call; a bad value fails
    // the cold start naming the variable, never the value. Unset (above), no request is taken for one through the
    // distribution.
    let seen = proxy.seen().len();
    unsafe { std::env::set_var("ORIGIN_VERIFY_SECRET", "too-short-origin-secret") };
    for err in [
        usage::AppState::from_env().await.err().expect("a weak origin secret fails usage").to_string(),
        auth::AppState::from_env().await.err().expect("a weak origin secret fails auth").to_string(),
    ] {
        assert!(err.contains("ORIGIN_VERIFY_SECRET") && !err.contains("too-short-origin-secret"), "{err}");
    }
    let origin_secret = shared::platform::crypto::random_token::<36>();
    unsafe {
        std::env::set_var("ORIGIN_VERIFY_SECRET", &origin_secret);
        std::env::set_var("SIGNING_KEY_SECRET_ID", &secret_id);
    }
    assert!(usage::AppState::from_env().await.expect("usage cold start").origin.is_configured());
    proxy.as_function("auth");
    let behind = auth::AppState::from_env().await.expect("auth cold start behind the distribution");
    assert!(behind.origin.is_configured() && !format!("{:?}", behind.origin).contains(&origin_secret));
    assert_eq!(proxy.seen().len(), seen, "the origin secret is configuration: no Secrets Manager call");
    let mut through = lambda_http::http::Request::builder()
        .method("POST")
        .uri("https://api.test/api/auth/register")
        .header("x-origin-verify", &origin_secret)
        .header("x-viewer-address", "198.51.100.200")
        .body(lambda_http::Body::Text(
            json!({"email": "viewer@cold.test", "password": "long enough pw", "name": "Viewer"}).to_string(),
        ))
        .expect("request");
    let mut context = lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
    context.http.source_ip = Some("130.176.0.10".into());
    through.extensions_mut().insert(lambda_http::request::RequestContext::ApiGatewayV2(context));
    assert_eq!(auth::handle(&behind, through).await.status().as_u16(), 201);
    let counters = shared::store::Store::new(dynamo_client().await, table.clone());
    let window = shared::identity::throttle::REGISTER_PER_IP.window_start(chrono::Utc::now().timestamp());
    let counted = |client: &str| {
        let key = shared::store::keys::rate_window("register", client, window);
        let counters = counters.clone();
        async move { counters.get::<serde_json::Value>(&key, true).await.expect("counter").is_some() }
    };
    assert!(counted("198.51.100.200").await && !counted("130.176.0.10").await, "counted by the viewer");
    // The registration signed its tokens (the signing key, read on first use); nothing else was read.
    assert!(proxy.seen()[seen..].iter().all(|(f, a)| f == "auth" && a.resource.ends_with("SigningKeySecret")));
    allowed("auth");
    unsafe {
        std::env::remove_var("ORIGIN_VERIFY_SECRET");
        std::env::remove_var("SIGNING_KEY_SECRET_ID");
    }
    proxy.as_function("marketplace");
    marketplace::AppState::from_env().await.expect("marketplace cold start");
    allowed("marketplace");
    let partners_id = format!("cold-start/partners-{table}");
    let partners_secret = json!({"payout_key": shared::platform::crypto::random_token::<48>()});
    secrets.create_secret().name(&partners_id).secret_string(partners_secret.to_string()).send().await.expect("secret");
    unsafe { std::env::set_var("PARTNERS_SECRET_ID", &partners_id) };
    proxy.as_function("partners");
    let partners = partners::AppState::from_env().await.expect("partners cold start");
    assert!(read_by(&proxy, "partners").is_empty(), "partners read a secret at cold start");
    // The payout-sealing key is read by the first request that seals payout details (an application, by a
    // user whose address is verified: the link of the mail in the outbox).
    let store = shared::store::Store::new(dynamo_client().await, table.clone());
    let user_id = session["user_id"].as_str().expect("user id");
    let mail: shared::store::outbox::NotificationItem = store
        .get(&shared::store::keys::outbox(&shared::auth::verification::registration_notification_id(user_id)), true)
        .await
        .expect("outbox")
        .expect("verification mail");
    let verify = lambda_http::http::Request::builder()
        .method("POST")
        .uri("https://api.test/api/auth/verify-email")
        .body(lambda_http::Body::Text(json!({"token": mail.data["token"]}).to_string()))
        .expect("request");
    assert_eq!(auth::handle(&state, verify).await.status().as_u16(), 200);
    let apply = lambda_http::http::Request::builder()
        .method("POST")
        .uri("https://api.test/api/partners/apply")
        .header("authorization", format!("Bearer {access}"))
        .body(lambda_http::Body::Text(
            json!({"company": "Cold Co", "contact_email": "cold@example.test", "website": "https://cold.test",
                   "payout": {"method": "upi", "details": {"vpa": "cold@upi"}}})
            .to_string(),
        ))
        .expect("request");
    let resp = integration_tests::harness::decode(partners::handle(&partners, apply).await);
    assert_eq!(resp.status, 201, "{:?}", resp.body);
    allowed("partners");

    // What each function read: its own secrets, nothing else (the webhooks never see the signing key).
    let read = |function: &str| read_by(&proxy, function);
    assert_eq!(read("auth"), ["SigningKeySecret"]);
    assert_eq!(read("subscriptions"), ["StripeSecret"]);
    assert_eq!(read("stripe-webhook"), ["StripeSecret"]);
    assert_eq!(read("phonepe-webhook"), ["PhonePeSecret"]);
    // Billing reads the provider secrets for solution holds, repricing at renewal and the reconciliation.
    assert_eq!(read("billing"), ["PhonePeSecret", "StripeSecret"]);
    // The public keys come with the configuration: usage and the marketplace read no secret at all.
    assert!(read("usage").is_empty() && read("marketplace").is_empty());
    // Partners seal payout details (and make the platform's Stripe prices when tiers are approved, on first use).
    assert_eq!(read("partners"), ["PartnersSecret"]);
    // And their roles could not read the private key if they tried: only auth's policy allows it.
    let private = integration_tests::iam::Access {
        action: "secretsmanager:GetSecretValue".into(),
        resource: "arn:aws:secretsmanager:us-east-1:123456789012:secret:SigningKeySecret".into(),
        context: Default::default(),
        origin: "test".into(),
    };
    let policies = integration_tests::iam::template_policies();
    assert!(policies.check("auth", &private).is_ok());
    for function in
        ["usage", "subscriptions", "partners", "marketplace", "stripe-webhook", "phonepe-webhook", "billing"]
    {
        let err = policies.check(function, &private).expect_err(function);
        assert!(err.contains("SigningKeySecret"), "{err}");
    }
}

/// The secrets (template names) `function` read through the proxy, sorted, once each.
fn read_by(proxy: &integration_tests::iam::SecretsProxy, function: &str) -> Vec<String> {
    let mut ids: Vec<String> = proxy
        .seen()
        .into_iter()
        .filter(|(f, _)| f == function)
        .map(|(_, a)| a.resource.rsplit(':').next().unwrap_or_default().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}
