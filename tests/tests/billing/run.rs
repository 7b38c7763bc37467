//! The billing run (the `billing` function's daily job) on PhonePe subscriptions, with the clock injected:
//! renewal notice, renewal invoice and payment request, reminders, grace-period end; reruns, overlapping runs
//! and a run stopped midway do each step once.

use crate::{Fixture, fixture};
use chrono::DateTime;
use integration_tests::harness::unique_email;
use serde_json::{Value, json};
use shared::billing::run::RunReport;
use shared::billing::schedule::DAY;
use shared::platform::clock::Clock;
use shared::store::keys;

async fn paid_subscription(f: &Fixture, access: &str) -> (String, i64) {
    let body = json!({"solution_id": f.solution.solution_id, "tier": "pro", "provider": "phonepe"});
    let r = f.b.call("POST", "/api/subscriptions", Some(body), Some(access)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["subscription_id"].as_str().expect("id").to_owned();
    let mid = r.body["payment"]["merchant_order_id"].as_str().expect("order").to_owned();
    f.b.phonepe.complete(&mid);
    let v = f.b.call("POST", "/api/payments/verify", Some(json!({"merchant_order_id": mid})), Some(access)).await;
    assert_eq!(v.body["state"], "completed", "{:?}", v.body);
    let end = f.b.env.store.get_subscription(&id).await.expect("read").expect("sub").reconciled.latest.expect("period");
    (id, end.period_end)
}

fn billing(f: &Fixture) -> billing::AppState {
    billing::AppState::new(
        f.b.env.store_for("billing"),
        std::sync::Arc::new(f.b.env.clock.clone()),
        7 * DAY,
        "https://app.test",
    )
}

/// The SES sender (moto), from a verified address.
pub(crate) async fn outbox(f: &Fixture) -> shared::notifications::Outbox {
    let ses = aws_sdk_sesv2::Client::new(&shared::platform::aws::load().await);
    let from = "billing@marketplace.test";
    ses.create_email_identity().email_identity(from).send().await.expect("identity (moto)");
    let recorder = integration_tests::iam::IamRecorder::new("billing").bind(from, "SENDER_EMAIL");
    shared::notifications::Outbox {
        store: f.b.env.store_for("billing"),
        ses: integration_tests::harness::function_ses(&ses, recorder),
        from: from.into(),
        app_base_url: "https://app.test".into(),
        clock: std::sync::Arc::new(f.b.env.clock.clone()),
    }
}

async fn run(f: &Fixture, at: i64) -> RunReport {
    f.b.env.clock.set(DateTime::from_timestamp(at, 0).expect("time"));
    billing(f).run.run(|| true).await.expect("run")
}

async fn note(f: &Fixture, id: &str) -> Option<Value> {
    f.b.env.store.get::<Value>(&keys::outbox(id), true).await.expect("read")
}

fn steps(r: &RunReport, kind: &str) -> u32 {
    r.steps.get(kind).copied().unwrap_or(0)
}

#[tokio::test]
async fn a_phonepe_period_is_noticed_invoiced_reminded_and_ends_after_grace_each_step_once() {
    let f = fixture().await;
    let (id, end) = paid_subscription(&f, &f.access).await;
    // A second customer, who will pay the renewal.
    let other = f.b.env.register(&unique_email("renews")).await;
    let (other_id, other_end) = paid_subscription(&f, &other.access_token).await;
    assert!((other_end - end).abs() < 60);

    // Three days before the end: one renewal notice each, however often the run repeats.
    let notice_at = end.max(other_end) - 3 * DAY + 60;
    let first = run(&f, notice_at).await;
    assert_eq!((first.complete, steps(&first, "renewal_notice")), (true, 2), "{first:?}");
    for _ in 0..2 {
        assert_eq!(run(&f, notice_at + 600).await.steps, Default::default(), "rerun does nothing");
    }
    assert!(note(&f, &format!("renewal-notice:{id}:{end}")).await.is_some());

    // The period ends. A run stopped after its first subscription, an overlapping pair, then a rerun.
    let due_at = end.max(other_end) + 3_600;
    f.b.env.clock.set(DateTime::from_timestamp(due_at, 0).expect("time"));
    let calls = std::sync::atomic::AtomicU32::new(0);
    let state = billing(&f);
    let stopped =
        state.run.run(|| calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0).await.expect("stopped run");
    assert_eq!((stopped.complete, steps(&stopped, "renewal_invoice")), (false, 1), "{stopped:?}");
    let (a, b) = tokio::join!(state.run.run(|| true), state.run.run(|| true));
    let (a, b) = (a.expect("run a"), b.expect("run b"));
    assert_eq!(steps(&a, "renewal_invoice") + steps(&b, "renewal_invoice"), 1, "{a:?} {b:?}");
    assert_eq!(run(&f, due_at + 60).await.steps, Default::default());
    for (sub, user) in [(&id, &f.user_id), (&other_id, &other.user_id)] {
        let item = f.b.env.store.get_subscription(sub).await.expect("read").expect("sub");
        let invoice = item.open_invoice_id.clone().expect("renewal invoice");
        assert!(note(&f, &format!("payment-request:{invoice}")).await.is_some());
        let page = f.b.env.store.user_invoices(user, 10, None).await.expect("read").expect("page");
        assert_eq!(page.items.len(), 2, "first period + one renewal, never two");
    }
    let sub = f.subscription(&id).await;
    assert_eq!((sub["status"].as_str(), sub["tier"].as_str()), (Some("past_due"), Some("pro")));
    assert_eq!(f.tier().await, "pro", "the grace period keeps the tier");

    // The other customer pays the renewal invoice: one more period, a numbered invoice.
    let pay = f
        .b
        .call("POST", "/api/payments/initiate", Some(json!({"subscription_id": other_id})), Some(&other.access_token))
        .await;
    assert_eq!(pay.status, 201, "{:?}", pay.body);
    let mid = pay.body["merchant_order_id"].as_str().expect("order").to_owned();
    f.b.phonepe.set_now_ms((due_at + 120) * 1000);
    f.b.phonepe.complete(&mid);
    let v =
        f.b.call("POST", "/api/payments/verify", Some(json!({"merchant_order_id": mid})), Some(&other.access_token))
            .await;
    assert_eq!(v.body["subscription"]["status"], "active", "{:?}", v.body);
    assert_eq!(
        v.body["subscription"]["current_period_start"].as_str().map(str::to_owned),
        DateTime::from_timestamp(other_end, 0).map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        "renewed for exactly the next period"
    );

    // Reminders on days 1, 3, 5 for the one who did not pay, then the grace period ends (day 7).
    for day in [1, 3, 5] {
        let r = run(&f, end + day * DAY + 60).await;
        assert_eq!(steps(&r, "payment_reminder"), 1, "day {day}: {r:?}");
        assert!(note(&f, &format!("payment-reminder:{id}:{end}:{day}")).await.is_some());
    }
    let r = run(&f, end + 7 * DAY + 60).await;
    assert_eq!(steps(&r, "grace_end"), 1, "{r:?}");
    assert_eq!(run(&f, end + 7 * DAY + 120).await.steps, Default::default());
    let sub = f.subscription(&id).await;
    assert_eq!(sub["status"], "expired");
    assert_eq!(f.tier().await, "free");
    assert!(note(&f, &format!("grace-ended:{id}:{end}")).await.is_some());
    let page = f.b.env.store.user_invoices(&f.user_id, 10, None).await.expect("read").expect("page");
    assert!(page.items.iter().any(|i| i.status == shared::store::invoices::InvoiceStatus::Void));
    // Nothing left to do for either: out of the index (the payer's next notice is weeks away).
    let due = f.b.env.store.due_subscriptions(end + 7 * DAY + 120, 100, None).await.expect("due").0;
    assert!(due.iter().all(|s| s.subscription_id != id && s.subscription_id != other_id));
}

#[tokio::test]
async fn abandoned_pending_subscriptions_expire_after_a_day() {
    let f = fixture().await;
    let body = json!({"solution_id": f.solution.solution_id, "tier": "pro", "provider": "phonepe"});
    let r = f.b.call("POST", "/api/subscriptions", Some(body), Some(&f.access)).await;
    let id = r.body["subscription_id"].as_str().expect("id").to_owned();
    let created = f.b.env.clock.now().timestamp();
    assert_eq!(run(&f, created + DAY - 60).await.steps, Default::default());
    let r = run(&f, created + DAY + 60).await;
    assert_eq!(steps(&r, "expire_pending"), 1, "{r:?}");
    assert_eq!(f.subscription(&id).await["status"], "expired");
    let page = f.b.env.store.user_invoices(&f.user_id, 10, None).await.expect("read").expect("page");
    assert_eq!(page.items[0].status, shared::store::invoices::InvoiceStatus::Void);
    // The withdrawn invoice cannot be paid any more.
    let pay = f
        .b
        .call("POST", "/api/payments/initiate", Some(json!({"invoice_id": page.items[0].invoice_id})), Some(&f.access))
        .await;
    assert_eq!((pay.status, pay.body["code"].as_str()), (409, Some("invoice_not_open")));
}

/// Every sample event in `events/billing/` (what EventBridge Scheduler sends: the schedule's input) runs
/// through the handler: `-ok-` files succeed, `-error-` files are refused.
#[tokio::test]
async fn sample_scheduler_events_run_through_the_handler() {
    let f = fixture().await;
    let mut state = billing(&f);
    state.outbox = Some(outbox(&f).await);
    let files = integration_tests::harness::sample_events(&["billing"]);
    assert!(files.len() >= 2);
    for path in files {
        let name = path.file_name().and_then(|n| n.to_str()).expect("name").to_owned();
        let job: billing::Job = serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect(&name);
        let deadline = chrono::Utc::now().timestamp_millis() + 60_000;
        let result = billing::handle(&state, job, deadline).await;
        if name.contains("-ok-") {
            let outcome = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(outcome.report.complete, "{name}");
        } else {
            assert!(result.is_err(), "{name}");
        }
    }
    // Past the deadline: nothing is started, and the run says it is not complete.
    let body = json!({"solution_id": f.solution.solution_id, "tier": "pro", "provider": "phonepe"});
    f.b.call("POST", "/api/subscriptions", Some(body), Some(&f.access)).await;
    f.b.env.clock.advance(chrono::Duration::days(2));
    let outcome = billing::handle(
        &state,
        billing::Job { job: "daily".into(), month: None },
        chrono::Utc::now().timestamp_millis() - 1_000,
    )
    .await
    .expect("run");
    assert!(!outcome.report.complete && outcome.report.steps.is_empty(), "{:?}", outcome.report);
}

/// The outbox job emails every pending notification through SES (moto) once: reruns send nothing again, and
/// notifications that are not for customers are closed unsent.
#[tokio::test]
async fn the_outbox_sends_each_notification_once() {
    let f = fixture().await;
    let (id, end) = paid_subscription(&f, &f.access).await;
    run(&f, end - 3 * DAY + 60).await; // a renewal notice
    let mut state = billing(&f);
    state.outbox = Some(outbox(&f).await);
    let deadline = || chrono::Utc::now().timestamp_millis() + 120_000;
    let job = || billing::Job { job: "outbox".into(), month: None };
    // Other tests share the table's pending index only through their own tables: this table is ours.
    let first = billing::handle(&state, job(), deadline()).await.expect("outbox").outbox.expect("report");
    assert!(first.sent >= 2, "payment received + renewal notice: {first:?}");
    for _ in 0..2 {
        let again = billing::handle(&state, job(), deadline()).await.expect("outbox").outbox.expect("report");
        assert_eq!((again.sent, again.errors), (0, 0), "{again:?}");
    }
    let notice = note(&f, &format!("renewal-notice:{id}:{end}")).await.expect("notice");
    assert_eq!(notice["status"], "sent");
    assert!(notice["message_id"].is_string() && notice.get("GSI1PK").is_none(), "{notice}");
}

#[tokio::test]
async fn after_an_approved_price_change_subscribers_keep_their_price_until_their_next_renewal() {
    use shared::store::solutions::TierDefinitionItem;
    let f = fixture().await;
    let (id, end) = paid_subscription(&f, &f.access).await;
    let store = &f.b.env.store;
    let old = store.get_subscription(&id).await.expect("read").expect("sub").price;
    // The partner's new price is approved: the tier definition (what approval writes) costs ₹100 more.
    let key = keys::solution_tier(&f.solution.solution_id, "pro");
    let mut def: TierDefinitionItem = store.get(&key, true).await.expect("read").expect("pro tier");
    let i = def.prices.iter().position(|p| p.currency == old.currency && p.period == old.period).expect("price");
    let new_amount = old.amount + 10_000;
    def.prices[i].amount = new_amount;
    store.put_tier_definition(&def).await.expect("approve");
    // The existing subscriber keeps its price for the period it paid; a new subscriber pays the new one.
    assert_eq!(store.get_subscription(&id).await.expect("read").expect("sub").price.amount, old.amount);
    let newcomer = f.b.env.register(&unique_email("newcomer")).await;
    let body = json!({"solution_id": f.solution.solution_id, "tier": "pro", "provider": "phonepe"});
    let r = f.b.call("POST", "/api/subscriptions", Some(body), Some(&newcomer.access_token)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let newcomer_sub = r.body["subscription_id"].as_str().expect("id").to_owned();
    assert_eq!(store.get_subscription(&newcomer_sub).await.expect("read").expect("sub").price.amount, new_amount);
    // The renewal notice already names the new price; the renewal invoices it and the subscription carries it.
    run(&f, end - 3 * DAY + 60).await;
    let notice = note(&f, &format!("renewal-notice:{id}:{end}")).await.expect("notice");
    assert_eq!(notice["data"]["amount"], new_amount, "{notice}");
    run(&f, end + 60).await;
    let sub = store.get_subscription(&id).await.expect("read").expect("sub");
    assert_eq!(sub.price.amount, new_amount);
    let invoice_id = sub.open_invoice_id.expect("renewal invoice");
    let invoice = store.get_invoice(&invoice_id).await.expect("read").expect("invoice");
    assert_eq!((invoice.amount, invoice.currency.as_str()), (new_amount, old.currency.as_str()));
}
