//! PhonePe: subscriptions paid through checkout orders against the PhonePe stand-in on 127.0.0.1
//! (`integration_tests::fake_phonepe`), verified and called back; GST invoices issued gaplessly with their PDF
//! in S3 (moto); refunds; the OAuth token cache; a lost order response.

use crate::{Fixture, fixture};
use integration_tests::billing::{BillingEnv, test_seller};
use serde_json::{Value, json};
use shared::model::{BillingPeriod, Price, Provider};
use shared::platform::clock::Clock;
use shared::store::invoices::{InvoiceItem, InvoiceReason};
use shared::store::subscriptions::{PaymentItem, SubscriptionItem};
use shared::store::{Issued, keys};

/// A PhonePe subscription to the fixture's pro tier; returns (subscription id, merchant order id, answer).
async fn subscribe(f: &Fixture, extra: Value) -> (String, String, Value) {
    let mut body = json!({"solution_id": f.solution.solution_id, "tier": "pro", "provider": "phonepe"});
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        body[k] = v;
    }
    let r = f.b.call("POST", "/api/subscriptions", Some(body), Some(&f.access)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["subscription_id"].as_str().expect("id").to_owned();
    let mid = r.body["payment"]["merchant_order_id"].as_str().expect("merchant order id").to_owned();
    (id, mid, r.body)
}

async fn verify(f: &Fixture, mid: &str) -> Value {
    let r = f.b.call("POST", "/api/payments/verify", Some(json!({"merchant_order_id": mid})), Some(&f.access)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

async fn invoices(f: &Fixture) -> Vec<Value> {
    let r = f.b.call("GET", "/api/invoices", None, Some(&f.access)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["items"].as_array().cloned().unwrap_or_default()
}

async fn payments(f: &Fixture) -> Vec<Value> {
    f.history().await["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_phonepe_subscription_is_paid_verified_and_invoiced_with_gst() {
    let f = fixture().await;
    // A Maharashtra buyer (27) of a Karnataka seller (29): IGST.
    let (id, mid, created) = subscribe(&f, json!({"gstin": "27AAPFU0939F1ZV"})).await;
    assert_eq!(created["status"], "pending");
    let order = f.b.phonepe.order(&mid).expect("order at PhonePe");
    assert_eq!(order.amount, 49_900);
    assert_eq!(created["checkout_url"].as_str(), Some(format!("{}/pay/{}", f.b.phonepe.base, order.order_id).as_str()));
    assert!(order.redirect_url.ends_with(&format!("merchant_order_id={mid}")));
    assert_eq!(f.tier().await, "free", "nothing before payment");
    // Not paid yet: verify says pending, grants nothing.
    assert_eq!(verify(&f, &mid).await["state"], "pending");
    assert_eq!(f.tier().await, "free");

    f.b.phonepe.complete(&mid);
    let v = verify(&f, &mid).await;
    assert_eq!((v["state"].as_str(), v["subscription"]["status"].as_str()), (Some("completed"), Some("active")));
    assert_eq!(v["invoice_number"], "INV/26-27/000001".replace("26-27", &fy_short(&f)));
    assert_eq!(f.tier().await, "pro");
    // Verifying again (and PhonePe's callback) changes nothing.
    let again = verify(&f, &mid).await;
    assert_eq!(again["invoice_number"], v["invoice_number"]);
    let callback = f.b.phonepe.order_callback(&mid, "COMPLETED");
    assert_eq!(f.b.phonepe_callback(&callback).await.status, 200);
    assert_eq!(f.b.phonepe_callback(&callback).await.body["duplicate"], true);
    let paid = payments(&f).await;
    assert_eq!(paid.len(), 1, "{paid:?}");
    assert_eq!((paid[0]["provider"].as_str(), paid[0]["amount"].as_i64()), (Some("phonepe"), Some(49_900)));

    let list = invoices(&f).await;
    assert_eq!(list.len(), 1);
    let inv = &list[0];
    assert_eq!((inv["status"].as_str(), inv["reason"].as_str()), (Some("paid"), Some("subscription")));
    let tax = &inv["tax"];
    // 49,900 inclusive of 18%: taxable round(49,900 × 100 / 118) = 42,288; IGST 7,612; totals equal the payment.
    assert_eq!(
        (tax["taxable"].as_i64(), tax["igst"].as_i64(), tax["cgst"].as_i64()),
        (Some(42_288), Some(7_612), Some(0))
    );
    assert_eq!(tax["total"].as_i64(), Some(49_900));
    assert!(inv["period_start"].is_string() && inv["period_end"].is_string());
    let url = inv["download_url"].as_str().expect("download url");
    assert!(url.contains(&f.b.bucket) && url.contains("X-Amz-Signature") && url.contains("X-Amz-Expires=300"), "{url}");
    let item =
        f.b.env.store.get_invoice(inv["invoice_id"].as_str().expect("id")).await.expect("read").expect("invoice");
    let pdf = f.b.s3.get_object().bucket(&f.b.bucket).key(item.pdf_key.expect("pdf key")).send().await.expect("pdf");
    assert_eq!(pdf.content_type(), Some("application/pdf"));
    let bytes = pdf.body.collect().await.expect("bytes").into_bytes();
    assert!(bytes.starts_with(b"%PDF-1.4"));
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains(item.number.as_deref().expect("number")) && text.contains("27AAPFU0939F1ZV"));

    // Another user sees none of it.
    let other = f.b.env.register(&integration_tests::harness::unique_email("pp-other")).await;
    let r = f.b.call("GET", &format!("/api/invoices?customer_id={}", f.user_id), None, Some(&other.access_token)).await;
    assert_eq!(r.status, 403);
    let r =
        f.b.call("POST", "/api/payments/verify", Some(json!({"merchant_order_id": mid})), Some(&other.access_token))
            .await;
    assert_eq!(r.status, 403);
    let _ = id;
}

/// The financial year of the injected clock, short form (`26-27`).
fn fy_short(f: &Fixture) -> String {
    let fy = shared::gst::financial_year(shared::billing::invoicing::india_date(f.b.env.clock.now()));
    fy[2..].to_owned()
}

#[tokio::test]
async fn a_callback_body_grants_nothing_the_status_api_does_not_confirm() {
    let f = fixture().await;
    let (id, mid, _) = subscribe(&f, json!({})).await;
    f.b.phonepe.fail(&mid);
    // The body says COMPLETED (it is not signed); PhonePe's status API says FAILED.
    let forged = f.b.phonepe.order_callback(&mid, "COMPLETED");
    let r = f.b.phonepe_callback(&forged).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(f.tier().await, "free");
    assert!(payments(&f).await.is_empty());
    assert_eq!(f.subscription(&id).await["status"], "pending");
    assert!(invoices(&f).await.iter().all(|i| i["status"] == "open" && i["number"].is_null()));
    // Wrong or missing credentials: refused before the body is read.
    let wrong = shared::payments::phonepe::callback::expected_authorization("test_hooks", "wrong-password");
    for auth in [Some(wrong.as_str()), None, Some("Basic dGVzdF9ob29rczpIb29rN3Bhc3M5d29yZA==")] {
        let r = f.b.phonepe_callback_with(&forged, auth).await;
        assert_eq!(r.status, 401, "{auth:?}");
    }
    // Not JSON (authorized): 400 naming the body.
    let r = f.b.phonepe_callback("not json").await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (400, Some("body")));
    // The user is told once that the payment failed.
    let note = f.b.env.store.get::<Value>(&keys::outbox(&format!("payment-failed:{mid}")), true).await.expect("read");
    assert!(note.is_some());
}

#[tokio::test]
async fn the_token_is_cached_and_renewed_after_a_401() {
    let f = fixture().await;
    let (_, mid, _) = subscribe(&f, json!({})).await;
    verify(&f, &mid).await;
    verify(&f, &mid).await;
    let tokens = |b: &BillingEnv| b.phonepe.requests().iter().filter(|(_, p)| p == "/v1/oauth/token").count();
    assert_eq!(tokens(&f.b), 1, "one token for every call");
    f.b.phonepe.revoke_tokens();
    assert_eq!(verify(&f, &mid).await["state"], "pending", "the 401 renews the token and the call goes through");
    assert_eq!(tokens(&f.b), 2);
}

#[tokio::test]
async fn a_lost_order_response_asks_the_status_api_before_a_new_order() {
    let f = fixture().await;
    f.b.phonepe.hang_next_pays(1);
    let (_, mid, created) = subscribe(&f, json!({})).await;
    let calls: Vec<String> = f.b.phonepe.requests().into_iter().map(|(m, p)| format!("{m} {p}")).collect();
    let pay = calls.iter().filter(|c| c.as_str() == "POST /checkout/v2/pay").count();
    let status_before_second_pay = calls
        .iter()
        .position(|c| c.contains("/status"))
        .zip(calls.iter().rposition(|c| c.as_str() == "POST /checkout/v2/pay"))
        .is_some_and(|(s, p)| s < p);
    assert_eq!(pay, 2, "{calls:?}");
    assert!(status_before_second_pay, "{calls:?}");
    // The answer is the second order's page; paying it activates the subscription.
    assert!(created["checkout_url"].as_str().is_some());
    f.b.phonepe.complete(&mid);
    assert_eq!(verify(&f, &mid).await["state"], "completed");
    assert_eq!(f.tier().await, "pro");
    // PhonePe down: 502 with Retry-After, and the new subscription is not active.
    f.b.phonepe.set_failing(true);
    let other = f.b.env.register(&integration_tests::harness::unique_email("pp-down")).await;
    let r =
        f.b.call(
            "POST",
            "/api/subscriptions",
            Some(json!({"solution_id": f.solution.solution_id, "tier": "pro", "provider": "phonepe"})),
            Some(&other.access_token),
        )
        .await;
    assert_eq!((r.status, r.body["code"].as_str()), (502, Some("payment_provider_error")), "{:?}", r.body);
    assert!(r.headers.get("retry-after").is_some());
    let listed =
        f.b.call("GET", &format!("/api/subscriptions/{}", other.user_id), None, Some(&other.access_token)).await;
    assert!(listed.body["subscriptions"].as_array().expect("list").iter().all(|s| s["status"] != "active"));
}

#[tokio::test]
async fn phonepe_payments_refund_through_phonepe() {
    let f = fixture().await;
    let (_, mid, _) = subscribe(&f, json!({})).await;
    f.b.phonepe.complete(&mid);
    verify(&f, &mid).await;
    let payment_id = payments(&f).await[0]["payment_id"].as_str().expect("payment").to_owned();
    let r =
        f.b.call(
            "POST",
            &format!("/api/payments/{payment_id}/refund"),
            Some(json!({"amount": 10_000, "reason": "asked"})),
            Some(&f.admin),
        )
        .await;
    assert_eq!((r.status, r.body["status"].as_str()), (202, Some("pending")), "{:?}", r.body);
    let refund_id = r.body["provider_refund_id"].as_str().expect("refund id").to_owned();
    // More than what is left: refused before PhonePe is asked.
    let r =
        f.b.call(
            "POST",
            &format!("/api/payments/{payment_id}/refund"),
            Some(json!({"amount": 45_000, "reason": "x"})),
            Some(&f.admin),
        )
        .await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some("amount")));
    f.b.phonepe.settle_refund(&refund_id, true);
    assert_eq!(f.b.phonepe_callback(&f.b.phonepe.refund_callback(&refund_id)).await.status, 200);
    let items = payments(&f).await;
    let refund = items.iter().find(|i| i["kind"] == "refund").expect("refund in history");
    assert_eq!((refund["status"].as_str(), refund["amount"].as_i64()), (Some("succeeded"), Some(10_000)));
}

#[tokio::test]
async fn an_upgrade_on_phonepe_is_prorated_and_applies_when_paid() {
    let f = fixture().await;
    let (id, mid, _) = subscribe(&f, json!({})).await;
    f.b.phonepe.complete(&mid);
    verify(&f, &mid).await;
    for _ in 0..5 {
        assert_eq!(f.track().await, 200);
    }
    assert_eq!(f.track().await, 429, "pro: 5 a day");
    // A third of the way into the period.
    let sub = f.b.env.store.get_subscription(&id).await.expect("read").expect("sub");
    let latest = sub.reconciled.latest.clone().expect("period");
    let third = (latest.period_end - latest.period_start) / 3;
    f.b.env.clock.set(chrono::DateTime::from_timestamp(latest.period_start + third, 0).expect("time"));
    f.b.phonepe.set_now_ms((latest.period_start + third) * 1000);
    let r = f
        .b
        .call("PUT", &format!("/api/subscriptions/{id}/upgrade"), Some(json!({"tier": "enterprise"})), Some(&f.access))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let expected = shared::billing::invoiced::prorated(
        49_900,
        199_900,
        latest.period_start,
        latest.period_end,
        latest.period_start + third,
    );
    assert_eq!(r.body["payment"]["amount"].as_i64(), Some(expected));
    assert!((99_900..=100_100).contains(&expected), "two thirds of 1,50,000: {expected}");
    assert_eq!(r.body["tier"], "pro", "until paid");
    let upgrade_order = r.body["payment"]["merchant_order_id"].as_str().expect("order").to_owned();
    f.b.phonepe.complete(&upgrade_order);
    let v = verify(&f, &upgrade_order).await;
    assert_eq!(v["subscription"]["tier"], "enterprise");
    assert_eq!(f.tier().await, "enterprise");
    assert_eq!(f.track().await, 200, "the day's quota restarted under the new tier");
    let list = invoices(&f).await;
    assert_eq!(list.len(), 2);
    assert_eq!((list[0]["reason"].as_str(), list[0]["amount"].as_i64()), (Some("upgrade"), Some(expected)));
    // Numbers are consecutive.
    let numbers: Vec<u64> =
        list.iter().filter_map(|i| shared::gst::parse_invoice_number(i["number"].as_str()?).map(|(_, n)| n)).collect();
    assert_eq!(numbers, vec![2, 1]);
}

#[tokio::test]
async fn fifty_concurrent_invoice_allocations_are_gapless_and_unique() {
    let b = BillingEnv::new().await;
    let seller = test_seller();
    let price = Price::new(1_999, "inr", BillingPeriod::Monthly);
    let sub = SubscriptionItem::new(
        "sub_0000000000000000000000conc",
        "usr_0000000000000000000000conc",
        "sol_0000000000000000000000conc",
        shared::model::Tier::Pro,
        BillingPeriod::Monthly,
        Provider::Phonepe,
        price,
        "2026-11-22T00:00:00Z".into(),
    );
    let now = b.env.clock.now();
    let tasks = (0..50).map(|i| {
        let (store, seller, sub) = (b.env.store.clone(), seller.clone(), sub.clone());
        async move {
            let invoice_id = format!("inv_conc{i:022}");
            let invoice = InvoiceItem::open(
                &invoice_id,
                &sub,
                sub.tier,
                InvoiceReason::Renewal,
                1_999 + i,
                "inr",
                None,
                "t".into(),
            );
            let payment = PaymentItem::new(
                &format!("pay_conc{i:022}"),
                &sub.user_id,
                Provider::Phonepe,
                format!("T{i}"),
                1_999 + i,
                "inr",
                "t".into(),
                "t".into(),
            );
            shared::billing::invoicing::issue(&store, &seller, invoice, &sub, &payment, now, Vec::new()).await
        }
    });
    let results = futures::future::join_all(tasks).await;
    let mut numbers: Vec<u64> = results
        .into_iter()
        .map(|r| match r.expect("issued") {
            Issued::Numbered(n) => shared::gst::parse_invoice_number(&n).expect("number").1,
            other => panic!("{other:?}"),
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=50).collect::<Vec<u64>>());
    // Each invoice's totals are its payment, to the paisa.
    for i in 0..50 {
        let inv = b.env.store.get_invoice(&format!("inv_conc{i:022}")).await.expect("read").expect("invoice");
        let tax = inv.document.expect("document").tax;
        assert_eq!(tax.taxable + tax.cgst + tax.sgst + tax.igst, 1_999 + i);
        assert_eq!(tax.total, inv.amount);
    }
}

#[tokio::test]
async fn callbacks_in_any_order_and_repeated_converge_on_phonepes_state() {
    let f = fixture().await;
    let (id, mid, _) = subscribe(&f, json!({})).await;
    f.b.phonepe.complete(&mid);
    // A stale "failed" claim and the completion, each twice, interleaved; then verify.
    let failed = f.b.phonepe.order_callback(&mid, "FAILED");
    let completed = f.b.phonepe.order_callback(&mid, "COMPLETED");
    for body in [&failed, &completed, &failed, &completed] {
        let r = f.b.phonepe_callback(body).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    verify(&f, &mid).await;
    assert_eq!(f.subscription(&id).await["status"], "active");
    assert_eq!(payments(&f).await.len(), 1);
    let list = invoices(&f).await;
    assert_eq!((list.len(), list[0]["status"].as_str()), (1, Some("paid")));
}

#[tokio::test]
async fn legacy_v1_callbacks_are_checked_with_the_salt() {
    use base64::Engine;
    let f = fixture().await;
    let (id, mid, _) = subscribe(&f, json!({})).await;
    f.b.phonepe.complete(&mid);
    let response = base64::engine::general_purpose::STANDARD.encode(
        json!({"success": true, "code": "PAYMENT_SUCCESS", "data": {"merchantId": "TESTMERCHANTUAT",
               "merchantTransactionId": mid, "transactionId": "T1", "amount": 49_900, "state": "COMPLETED"}})
        .to_string(),
    );
    let body = json!({"response": response}).to_string();
    let send = |salt: &str| {
        let x_verify = format!("{}###1", shared::platform::crypto::sha256_hex(format!("{response}{salt}").as_bytes()));
        lambda_http::http::Request::builder()
            .method("POST")
            .uri("https://api.test/api/payments/webhook")
            .header("content-type", "application/json")
            .header("x-verify", x_verify)
            .body(lambda_http::Body::Binary(body.clone().into_bytes()))
            .expect("request")
    };
    assert_eq!(f.b.send(send("another-salt")).await.status, 401);
    assert_eq!(f.tier().await, "free");
    let r = f.b.send(send("test-salt-key")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(f.subscription(&id).await["status"], "active", "applied from PhonePe's status, as for v2");
    assert_eq!(f.tier().await, "pro");
}
