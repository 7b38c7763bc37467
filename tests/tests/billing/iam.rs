//! The IAM check itself (`integration_tests::iam`): a refund settled by the stripe-webhook function is a
//! `TransactWriteItems` with a `ConditionCheck`, which IAM authorizes as `dynamodb:ConditionCheckItem`. With that
//! action removed from the function's policy the recorded requests must fail the check, naming the function,
//! the action and the resource; with the template as it is, they must pass.

use crate::fixture;
use integration_tests::billing::{WEBHOOK_SECRET, stripe_client, test_seller};
use integration_tests::harness::decode;
use integration_tests::iam::{IamRecorder, Policies, template_policies};
use lambda_http::Body;
use shared::platform::clock::Clock;
use shared::store::Store;
use std::sync::Arc;
use std::time::Duration;

/// The template with `dynamodb:ConditionCheckItem` taken out of the stripe-webhook function's policy only.
fn template_without_condition_check_for_stripe_webhook() -> Policies {
    let path = integration_tests::workspace_root().join("infra/template.yaml");
    let text = std::fs::read_to_string(path).expect("template");
    let start = text.find("\n  StripeWebhookFunction:\n").expect("StripeWebhookFunction");
    let end = start + text[start..].find("\n  StripeWebhookFunctionLogGroup:").expect("its log group");
    let section = &text[start..end];
    assert!(section.contains("- dynamodb:ConditionCheckItem"), "the template grants it today");
    let cut = section.replace("                - dynamodb:ConditionCheckItem\n", "");
    let mutated = format!("{}{cut}{}", &text[..start], &text[end..]);
    Policies::parse(&mutated).expect("mutated template")
}

#[tokio::test]
async fn a_refund_settlement_needs_condition_check_item_and_the_check_names_what_is_missing() {
    let f = fixture().await;
    // A paid subscription, through the real functions.
    let created = f.b.create_subscription(&f.access, &f.solution.solution_id, "pro", "stripe").await;
    let id = created["subscription_id"].as_str().expect("id").to_owned();
    let item = f.b.env.store.get_subscription(&id).await.expect("read").expect("sub");
    let s = &f.b.stripe;
    s.set_now(f.b.env.clock.now().timestamp());
    let checkout = s.complete_checkout(item.checkout_session_id.as_deref().expect("session"));
    for e in &checkout {
        assert_eq!(f.b.deliver(e).await.status, 200);
    }
    let invoice = integration_tests::stripe_local::object_of(&checkout, "invoice.paid")["id"]
        .as_str()
        .expect("invoice")
        .to_owned();
    let pi = s.payment_intent_of(&invoice).expect("payment intent");

    // The refund's events, delivered to a stripe-webhook function whose requests are checked against the
    // template without ConditionCheckItem (violations collected rather than panicking).
    let (recorder, violations) =
        IamRecorder::collecting("stripe-webhook", template_without_condition_check_for_stripe_webhook());
    let recorder = recorder.bind(f.b.env.store.table(), "TABLE_NAME");
    let conf = f.b.env.store.client().config().to_builder().interceptor(recorder.clone()).build();
    let store = Store::new(aws_sdk_dynamodb::Client::from_conf(conf), f.b.env.store.table());
    let mut hook = stripe_webhook::AppState::new(
        store,
        Arc::new(f.b.env.clock.clone()),
        stripe_client(&s.base, Duration::from_secs(2)),
        vec![WEBHOOK_SECRET.to_owned()],
        7 * 86_400,
    );
    hook.webhook = hook.webhook.with_seller(Arc::new(test_seller()));
    let refund = format!("re_{}", ulid::Ulid::new());
    for event in [
        s.refund_event("refund.created", &refund, &pi, 9_900, "pending"),
        s.refund_event("refund.updated", &refund, &pi, 9_900, "succeeded"),
        s.refunded_event(&pi, &[(refund.clone(), 9_900)]),
    ] {
        let body = event.to_string();
        let t = f.b.env.clock.now().timestamp();
        let header =
            format!("t={t},v1={}", shared::payments::stripe::signature::sign(WEBHOOK_SECRET, t, body.as_bytes()));
        let req = lambda_http::http::Request::builder()
            .method("POST")
            .uri("https://api.test/api/webhooks/stripe")
            .header("content-type", "application/json")
            .header("stripe-signature", header)
            .body(Body::Binary(body.into_bytes()))
            .expect("request");
        let reply = decode(stripe_webhook::handle(&hook, req).await);
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }

    let seen = recorder.seen();
    assert!(
        seen.iter().any(|a| a.action == "dynamodb:ConditionCheckItem" && a.origin.starts_with("TransactWriteItems")),
        "the settlement's transaction carries a ConditionCheck: {seen:#?}"
    );
    let violations: Vec<String> = violations.lock().expect("violations").clone();
    assert!(!violations.is_empty(), "removing ConditionCheckItem must fail the check");
    for v in &violations {
        assert!(
            v.contains("`stripe-webhook`")
                && v.contains("dynamodb:ConditionCheckItem")
                && v.contains("arn:aws:dynamodb:us-east-1:123456789012:table/Table"),
            "{v}"
        );
    }
    // The template as it is allows every request recorded.
    for access in &seen {
        template_policies().check("stripe-webhook", access).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn every_function_has_a_policy_the_check_understands_and_a_query_needs_the_index() {
    let policies = template_policies();
    for function in
        ["auth", "usage", "subscriptions", "stripe-webhook", "phonepe-webhook", "billing", "partners", "marketplace"]
    {
        assert!(policies.function(function).is_some_and(|p| !p.statements.is_empty()), "{function}");
    }
    let table = "arn:aws:dynamodb:us-east-1:123456789012:table/Table";
    let access = |action: &str, resource: String| integration_tests::iam::Access {
        action: action.into(),
        resource,
        context: Default::default(),
        origin: "test".into(),
    };
    // The billing run queries the sparse index GSI2 (and auth, for the invitations to an address); the usage
    // function may not.
    for function in ["billing", "auth"] {
        assert!(policies.check(function, &access("dynamodb:Query", format!("{table}/index/GSI2"))).is_ok());
    }
    let err = policies.check("usage", &access("dynamodb:Query", format!("{table}/index/GSI2"))).expect_err("GSI2");
    assert!(err.contains("`usage`") && err.contains("dynamodb:Query") && err.contains("/index/GSI2"), "{err}");
    // Nobody scans or deletes the table wholesale (billing's one-off `index-subscriptions` and `migrate-orgs`
    // jobs excepted).
    for function in ["auth", "usage", "stripe-webhook", "partners", "subscriptions"] {
        assert!(policies.check(function, &access("dynamodb:Scan", table.into())).is_err(), "{function}");
    }
    // A solution's subscriptions (GSI3): the partners function counts them, the billing run holds them.
    for function in ["partners", "billing"] {
        assert!(policies.check(function, &access("dynamodb:Query", format!("{table}/index/GSI3"))).is_ok());
    }
    assert!(policies.check("usage", &access("dynamodb:Query", format!("{table}/index/GSI3"))).is_err());
    // S3 statements are bound to their prefixes.
    let invoices = "arn:aws:s3:::InvoiceBucket";
    assert!(policies.check("subscriptions", &access("s3:PutObject", format!("{invoices}/invoices/x.pdf"))).is_ok());
    assert!(policies.check("subscriptions", &access("s3:PutObject", format!("{invoices}/statements/x"))).is_err());
    // SES only from the configured sender.
    let mut mail = access("ses:SendEmail", "arn:aws:ses:us-east-1:123456789012:identity/{param:SenderEmail}".into());
    mail.context.insert("ses:FromAddress".into(), "{param:SenderEmail}".into());
    assert!(policies.check("billing", &mail).is_ok());
    mail.context.insert("ses:FromAddress".into(), "someone@else.example".into());
    assert!(policies.check("billing", &mail).is_err());
}
