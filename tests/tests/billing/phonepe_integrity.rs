//! PhonePe money integrity (issue 13, points 1 and 8): an upgrade invoice never outlives its period (voided at
//! renewal, grace end, cancellation and the end of term, superseded by a newer request, its prorated amount
//! computed when it is paid); money that arrives for an invoice that can no longer apply is recorded as
//! unapplied and refunded through PhonePe exactly once; refund callbacks are matched to PhonePe's own record
//! of the refund (our refund, the payment's order, an amount that fits) before anything is recorded.

use crate::{Fixture, fixture};
use chrono::DateTime;
use integration_tests::fake_phonepe::Refund;
use integration_tests::harness::{Reply, unique_email};
use serde_json::{Value, json};
use shared::billing::invoiced::prorated;
use shared::billing::run::RunReport;
use shared::billing::schedule::DAY;
use shared::billing::writer::derived_id;
use shared::payments::phonepe::rail::payment_id_of;
use shared::store::invoices::{InvoiceItem, InvoiceStatus};
use shared::store::keys;

const PRO: i64 = 49_900;
const ENTERPRISE: i64 = 199_900;

/// A paid PhonePe pro subscription.
struct Paid {
    id: String,
    order: String,
    start: i64,
    end: i64,
}

async fn paid(f: &Fixture, access: &str) -> Paid {
    let body = json!({"solution_id": f.solution.solution_id, "tier": "pro", "provider": "phonepe"});
    let r = f.b.call("POST", "/api/subscriptions", Some(body), Some(access)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["subscription_id"].as_str().expect("id").to_owned();
    let order = r.body["payment"]["merchant_order_id"].as_str().expect("order").to_owned();
    f.b.phonepe.complete(&order);
    let v = f.b.call("POST", "/api/payments/verify", Some(json!({"merchant_order_id": order})), Some(access)).await;
    assert_eq!(v.body["state"], "completed", "{:?}", v.body);
    let latest =
        f.b.env.store.get_subscription(&id).await.expect("read").expect("sub").reconciled.latest.expect("period");
    Paid { id, order, start: latest.period_start, end: latest.period_end }
}

/// Move our clock and PhonePe's to `t`.
fn at(f: &Fixture, t: i64) {
    f.b.env.clock.set(DateTime::from_timestamp(t, 0).expect("time"));
    f.b.phonepe.set_now_ms(t * 1000);
}

async fn upgrade(f: &Fixture, access: &str, id: &str) -> Reply {
    f.b.call("PUT", &format!("/api/subscriptions/{id}/upgrade"), Some(json!({"tier": "enterprise"})), Some(access))
        .await
}

async fn initiate(f: &Fixture, access: &str, body: Value) -> Reply {
    f.b.call("POST", "/api/payments/initiate", Some(body), Some(access)).await
}

async fn verify(f: &Fixture, access: &str, order: &str) -> Reply {
    f.b.call("POST", "/api/payments/verify", Some(json!({"merchant_order_id": order})), Some(access)).await
}

fn billing(f: &Fixture) -> billing::AppState {
    billing::AppState::new(
        f.b.env.store_for("billing"),
        std::sync::Arc::new(f.b.env.clock.clone()),
        7 * DAY,
        "https://app.test",
    )
}

async fn run(f: &Fixture, t: i64) -> RunReport {
    at(f, t);
    let report = billing(f).run.run(|| true).await.expect("run");
    assert_eq!(report.errors, 0, "{report:?}");
    report
}

async fn invoice(f: &Fixture, id: &str) -> InvoiceItem {
    f.b.env.store.get_invoice(id).await.expect("read").expect("invoice")
}

async fn open_invoice_id(f: &Fixture, sub: &str) -> Option<String> {
    f.b.env.store.get_subscription(sub).await.expect("read").expect("sub").open_invoice_id
}

/// How many orders PhonePe was asked to create.
fn orders_created(f: &Fixture) -> usize {
    f.b.phonepe.requests().iter().filter(|(m, p)| m == "POST" && p == "/checkout/v2/pay").count()
}

fn field<'a>(r: &'a Reply, key: &str) -> &'a str {
    r.body[key].as_str().unwrap_or_default()
}

#[tokio::test]
async fn an_upgrade_an_hour_before_the_period_end_dies_with_its_period() {
    let f = fixture().await;
    let p = paid(&f, &f.access).await;
    let asked = p.end - 3_600;
    at(&f, asked);
    let r = upgrade(&f, &f.access, &p.id).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let amount = prorated(PRO, ENTERPRISE, p.start, p.end, asked);
    assert_eq!(r.body["payment"]["amount"].as_i64(), Some(amount));
    // An hour of ₹1,500 a month: about ₹2.
    assert!((200..=210).contains(&amount), "{amount}");
    let upgrade_invoice = r.body["payment"]["invoice_id"].as_str().expect("invoice").to_owned();
    assert_eq!(open_invoice_id(&f, &p.id).await.as_deref(), Some(upgrade_invoice.as_str()));

    // The period ends; the renewal replaces the upgrade invoice and withdraws it.
    run(&f, p.end + 60).await;
    assert_eq!(invoice(&f, &upgrade_invoice).await.status, InvoiceStatus::Void);
    let renewal = open_invoice_id(&f, &p.id).await.expect("renewal invoice");
    assert_ne!(renewal, upgrade_invoice);
    let renewal_item = invoice(&f, &renewal).await;
    assert_eq!((renewal_item.amount, renewal_item.status), (PRO, InvoiceStatus::Open));

    // Paying the old upgrade invoice is refused before PhonePe is asked for an order.
    let before = orders_created(&f);
    let r = initiate(&f, &f.access, json!({"invoice_id": upgrade_invoice})).await;
    assert_eq!((r.status, field(&r, "code")), (409, "invoice_not_open"), "{:?}", r.body);
    assert_eq!(orders_created(&f), before, "no order at PhonePe");

    // An upgrade while the renewal is unpaid is refused, and the renewal invoice stays the one to pay.
    let r = upgrade(&f, &f.access, &p.id).await;
    assert_eq!((r.status, field(&r, "code")), (409, "renewal_unpaid"), "{:?}", r.body);
    assert_eq!(open_invoice_id(&f, &p.id).await.as_deref(), Some(renewal.as_str()));
    let r = initiate(&f, &f.access, json!({"subscription_id": p.id})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!((field(&r, "invoice_id"), r.body["amount"].as_i64()), (renewal.as_str(), Some(PRO)));
}

#[tokio::test]
async fn a_second_upgrade_request_and_a_later_payment_are_prorated_at_their_own_time() {
    let f = fixture().await;
    let p = paid(&f, &f.access).await;
    let third = (p.end - p.start) / 3;
    at(&f, p.start + third);
    let first = upgrade(&f, &f.access, &p.id).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let first_invoice = first.body["payment"]["invoice_id"].as_str().expect("invoice").to_owned();
    let a1 = first.body["payment"]["amount"].as_i64().expect("amount");
    assert_eq!(a1, prorated(PRO, ENTERPRISE, p.start, p.end, p.start + third));

    // The same request a third of a period later: charged for what is left then, the first one withdrawn.
    at(&f, p.start + 2 * third);
    let second = upgrade(&f, &f.access, &p.id).await;
    assert_eq!(second.status, 200, "{:?}", second.body);
    let a2 = second.body["payment"]["amount"].as_i64().expect("amount");
    assert_eq!(a2, prorated(PRO, ENTERPRISE, p.start, p.end, p.start + 2 * third));
    assert!(a2 < a1 && (49_000..=51_000).contains(&a2), "{a1} then {a2}");
    let second_invoice = second.body["payment"]["invoice_id"].as_str().expect("invoice").to_owned();
    assert_ne!(second_invoice, first_invoice);
    assert_eq!(invoice(&f, &first_invoice).await.status, InvoiceStatus::Void);
    assert_eq!(invoice(&f, &second_invoice).await.status, InvoiceStatus::Open);
    assert_eq!(open_invoice_id(&f, &p.id).await.as_deref(), Some(second_invoice.as_str()));
    let before = orders_created(&f);
    let r = initiate(&f, &f.access, json!({"invoice_id": first_invoice})).await;
    assert_eq!((r.status, field(&r, "code")), (409, "invoice_not_open"), "{:?}", r.body);
    assert_eq!(orders_created(&f), before);

    // Paid a day later: the amount is computed for then; the stale invoice is superseded by a fresh one.
    let later = p.start + 2 * third + DAY;
    at(&f, later);
    let r = initiate(&f, &f.access, json!({"invoice_id": second_invoice})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let a3 = prorated(PRO, ENTERPRISE, p.start, p.end, later);
    assert!(a3 < a2);
    assert_eq!(r.body["amount"].as_i64(), Some(a3));
    let fresh = field(&r, "invoice_id").to_owned();
    assert_ne!(fresh, second_invoice);
    assert_eq!(invoice(&f, &second_invoice).await.status, InvoiceStatus::Void);
    assert_eq!(open_invoice_id(&f, &p.id).await.as_deref(), Some(fresh.as_str()));
    let order = field(&r, "merchant_order_id").to_owned();
    assert_eq!(f.b.phonepe.order(&order).expect("order").amount, a3);
    f.b.phonepe.complete(&order);
    let v = verify(&f, &f.access, &order).await;
    assert_eq!(v.status, 200, "{:?}", v.body);
    assert_eq!(v.body["subscription"]["tier"], "enterprise");
    let issued = invoice(&f, &fresh).await;
    assert_eq!((issued.status, issued.amount), (InvoiceStatus::Paid, a3));
    assert_eq!(open_invoice_id(&f, &p.id).await, None);
}

#[tokio::test]
async fn cancellation_the_end_of_term_and_the_grace_end_void_the_upgrade_invoice() {
    let f = fixture().await;
    let canceling = paid(&f, &f.access).await;
    let lapsing_user = f.b.env.register(&unique_email("lapses")).await;
    let lapsing = paid(&f, &lapsing_user.access_token).await;
    let third = (canceling.end - canceling.start) / 3;
    at(&f, canceling.start.max(lapsing.start) + third);

    // Canceled at the period end: the open upgrade invoice is withdrawn at once.
    let r = upgrade(&f, &f.access, &canceling.id).await;
    let first = r.body["payment"]["invoice_id"].as_str().expect("invoice").to_owned();
    let r = f.b.call("DELETE", &format!("/api/subscriptions/{}", canceling.id), None, Some(&f.access)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(invoice(&f, &first).await.status, InvoiceStatus::Void);
    assert_eq!(open_invoice_id(&f, &canceling.id).await, None);
    let r = initiate(&f, &f.access, json!({"invoice_id": first})).await;
    assert_eq!((r.status, field(&r, "code")), (409, "invoice_not_open"), "{:?}", r.body);
    // Upgraded again for the rest of the term, unpaid: the end of the term withdraws it.
    let r = upgrade(&f, &f.access, &canceling.id).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let second = r.body["payment"]["invoice_id"].as_str().expect("invoice").to_owned();

    let r = upgrade(&f, &lapsing_user.access_token, &lapsing.id).await;
    let lapsing_upgrade = r.body["payment"]["invoice_id"].as_str().expect("invoice").to_owned();

    let end = canceling.end.max(lapsing.end);
    run(&f, end + 60).await;
    assert_eq!(invoice(&f, &second).await.status, InvoiceStatus::Void, "end of term");
    assert_eq!(f.subscription(&canceling.id).await["status"], "canceled");
    assert_eq!(open_invoice_id(&f, &canceling.id).await, None);
    assert_eq!(invoice(&f, &lapsing_upgrade).await.status, InvoiceStatus::Void, "renewal");
    let renewal = open_invoice_id(&f, &lapsing.id).await.expect("renewal");

    // The grace period ends unpaid: the subscription expires with nothing left to pay.
    run(&f, end + 7 * DAY + 120).await;
    for id in [&lapsing_upgrade, &renewal] {
        assert_eq!(invoice(&f, id).await.status, InvoiceStatus::Void, "{id}");
    }
    assert_eq!(open_invoice_id(&f, &lapsing.id).await, None);
    let r = initiate(&f, &lapsing_user.access_token, json!({"invoice_id": lapsing_upgrade})).await;
    assert_eq!((r.status, field(&r, "code")), (409, "invoice_not_open"), "{:?}", r.body);
}

#[tokio::test]
async fn money_for_an_upgrade_invoice_voided_meanwhile_is_unapplied_and_refunded_once() {
    let f = fixture().await;
    let p = paid(&f, &f.access).await;
    let third = (p.end - p.start) / 3;
    at(&f, p.start + third);
    let r = upgrade(&f, &f.access, &p.id).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let order = r.body["payment"]["merchant_order_id"].as_str().expect("order").to_owned();
    let amount = r.body["payment"]["amount"].as_i64().expect("amount");
    // The payment page stays open; the period ends and the renewal withdraws the invoice; then the user pays.
    run(&f, p.end + 60).await;
    at(&f, p.end + 120);
    f.b.phonepe.complete(&order);
    // Verify and PhonePe's callback at once, then both again.
    let callback = f.b.phonepe.order_callback(&order, "COMPLETED");
    let (v, cb) = tokio::join!(Box::pin(verify(&f, &f.access, &order)), Box::pin(f.b.phonepe_callback(&callback)));
    assert_eq!((v.status, cb.status), (200, 200), "{:?} {:?}", v.body, cb.body);
    assert_eq!(v.body["unapplied"], true, "{:?}", v.body);
    assert_eq!(verify(&f, &f.access, &order).await.body["unapplied"], true);
    assert_eq!(f.b.phonepe_callback(&callback).await.status, 200);

    // Exactly one refund of the whole amount, with our deterministic id.
    let refunds = f.b.phonepe.refunds_of(&order);
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(refunds[0].amount, amount);
    let payment_id = payment_id_of(&order);
    assert_eq!(refunds[0].merchant_refund_id, derived_id("prf", &format!("{payment_id}:unapplied")));
    // Nothing granted: still pro, the renewal still the invoice to pay.
    let sub = f.subscription(&p.id).await;
    assert_eq!((sub["tier"].as_str(), sub["status"].as_str()), (Some("pro"), Some("past_due")));
    let renewal = open_invoice_id(&f, &p.id).await.expect("renewal");
    assert_eq!(invoice(&f, &renewal).await.status, InvoiceStatus::Open);
    // Visible in the history: the payment unapplied, its refund pending.
    let history = f.history().await;
    let items = history["items"].as_array().expect("items");
    let payment = items.iter().find(|i| i["kind"] == "payment" && i["payment_id"] == payment_id.as_str());
    assert_eq!(payment.map(|p| p["unapplied"].clone()), Some(Value::Bool(true)), "{history:?}");
    let refund = items.iter().find(|i| i["kind"] == "refund" && i["payment_id"] == payment_id.as_str());
    assert_eq!(refund.map(|r| (r["amount"].as_i64(), r["status"].clone())), Some((Some(amount), json!("pending"))));
    // The user is told, once, by mail.
    let note: shared::store::outbox::NotificationItem =
        f.b.env
            .store
            .get(&keys::outbox(&format!("payment-unapplied-refunded:{payment_id}")), true)
            .await
            .expect("read")
            .expect("user notified");
    assert_eq!((note.kind.as_str(), note.customer_id.as_str()), ("payment_unapplied_refunded", f.user_id.as_str()));
    assert!(shared::notifications::compose(&note, "Asha", "https://app.test").is_some());

    // PhonePe completes the refund; its callback is one of ours and is recorded.
    f.b.phonepe.settle_refund(&refunds[0].merchant_refund_id, true);
    let r = f.b.phonepe_callback(&f.b.phonepe.refund_callback(&refunds[0].merchant_refund_id)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (_, recorded) = f.b.env.store.payment_with_refunds(&payment_id).await.expect("read");
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].status, shared::model::RefundStatus::Succeeded);
    assert_eq!(f.b.phonepe.refunds_of(&order).len(), 1);
}

fn forged_refund_callback(merchant_refund_id: &str, original: &str, amount: i64) -> String {
    json!({"event": "pg.refund.completed", "type": "PG_REFUND_COMPLETED",
           "payload": {"merchantId": integration_tests::fake_phonepe::CLIENT_ID, "merchantRefundId": merchant_refund_id,
                       "originalMerchantOrderId": original, "amount": amount, "state": "COMPLETED"}})
    .to_string()
}

#[tokio::test]
async fn refund_callbacks_are_matched_to_phonepes_refund_before_anything_is_recorded() {
    let f = fixture().await;
    let mine = paid(&f, &f.access).await;
    let other_user = f.b.env.register(&unique_email("other-payer")).await;
    let other = paid(&f, &other_user.access_token).await;
    let (payment, other_payment) = (payment_id_of(&mine.order), payment_id_of(&other.order));
    let r =
        f.b.call(
            "POST",
            &format!("/api/payments/{payment}/refund"),
            Some(json!({"amount": 10_000, "reason": "goodwill"})),
            Some(&f.admin),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let refund_id = field(&r, "provider_refund_id").to_owned();
    f.b.phonepe.settle_refund(&refund_id, true);
    let status_of = |list: &[shared::store::subscriptions::RefundItem]| {
        list.iter().find(|r| r.provider_refund_id == refund_id).map(|r| (r.amount, r.status))
    };
    let pending = Some((10_000, shared::model::RefundStatus::Pending));

    // A callback naming another order than PhonePe's refund: nothing recorded anywhere.
    let r = f.b.phonepe_callback(&forged_refund_callback(&refund_id, &other.order, 10_000)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (_, on_other) = f.b.env.store.payment_with_refunds(&other_payment).await.expect("read");
    assert!(on_other.is_empty(), "{on_other:?}");
    let (_, on_mine) = f.b.env.store.payment_with_refunds(&payment).await.expect("read");
    assert_eq!(status_of(&on_mine), pending);

    // A callback claiming a bigger amount than PhonePe's refund: nothing recorded.
    let r = f.b.phonepe_callback(&forged_refund_callback(&refund_id, &mine.order, 45_000)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (_, on_mine) = f.b.env.store.payment_with_refunds(&payment).await.expect("read");
    assert_eq!(status_of(&on_mine), pending);

    // PhonePe itself reporting more than can be refunded (and than we asked for): nothing recorded.
    let genuine = f.b.phonepe.refund(&refund_id).expect("refund at PhonePe");
    f.b.phonepe.put_refund(Refund { amount: 60_000, ..genuine.clone() });
    let r = f.b.phonepe_callback(&f.b.phonepe.refund_callback(&refund_id)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (_, on_mine) = f.b.env.store.payment_with_refunds(&payment).await.expect("read");
    assert_eq!(status_of(&on_mine), pending);

    // A refund of this order we never asked for: not ours to record.
    let stranger = "prf_notours0000000000000000001";
    f.b.phonepe.put_refund(Refund {
        merchant_refund_id: stranger.into(),
        refund_id: "OMR-stranger".into(),
        original_merchant_order_id: mine.order.clone(),
        amount: 5_000,
        state: "COMPLETED".into(),
    });
    let r = f.b.phonepe_callback(&f.b.phonepe.refund_callback(stranger)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (_, on_mine) = f.b.env.store.payment_with_refunds(&payment).await.expect("read");
    assert!(on_mine.iter().all(|r| r.provider_refund_id != stranger), "{on_mine:?}");

    // The genuine callback is recorded.
    f.b.phonepe.put_refund(genuine);
    let r = f.b.phonepe_callback(&f.b.phonepe.refund_callback(&refund_id)).await;
    assert_eq!((r.status, r.body["duplicate"].as_bool()), (200, Some(false)), "{:?}", r.body);
    let (_, on_mine) = f.b.env.store.payment_with_refunds(&payment).await.expect("read");
    assert_eq!(status_of(&on_mine), Some((10_000, shared::model::RefundStatus::Succeeded)));
    assert_eq!(on_mine.len(), 1);
}
