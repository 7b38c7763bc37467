//! Nobody is billed for a solution they cannot use: a suspended or retired solution renews nobody on either
//! rail (Stripe: `cancel_at_period_end` at Stripe; PhonePe: no renewal invoice, the period ends), its
//! subscribers are told, its partner is credited no renewal; a reinstatement within the period restores the
//! renewals, except where the subscriber canceled. The admin's answer counts the subscriptions affected. The
//! billing function's scheduled run applies each change, idempotently.

use crate::{Fixture, fixture};
use integration_tests::harness::unique_email;
use serde_json::Value;
use shared::billing::schedule::DAY;
use shared::platform::clock::Clock;

fn steps(o: &billing::Outcome, kind: &str) -> u32 {
    o.report.steps.get(kind).copied().unwrap_or(0)
}

/// The suspension's answer, asserted 200.
async fn suspend(f: &Fixture) -> Value {
    let r = f.b.solution_action(&f.admin, &f.solution.solution_id, "suspend", Some("terms of service breach")).await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("suspended")), "{:?}", r.body);
    r.body
}

async fn reinstate(f: &Fixture) -> Value {
    let r = f.b.solution_action(&f.admin, &f.solution.solution_id, "reinstate", None).await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("published")), "{:?}", r.body);
    r.body
}

/// The hold a subscription is under (its solution's version), if any.
async fn hold_seq(f: &Fixture, id: &str) -> Option<u64> {
    let item = f.b.env.store.get_subscription(id).await.expect("read").expect("subscription");
    item.solution_hold.map(|h| h.seq)
}

async fn view(f: &Fixture, access: &str, user_id: &str, id: &str) -> Value {
    let r = f.b.call("GET", &format!("/api/subscriptions/{user_id}"), None, Some(access)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["subscriptions"]
        .as_array()
        .and_then(|l| l.iter().find(|s| s["subscription_id"] == id))
        .cloned()
        .unwrap_or(Value::Null)
}

/// Requests to the fake Stripe that set `cancel_at_period_end` of a subscription: (value, idempotency key).
fn cancel_requests(f: &Fixture, stripe_sub: &str) -> Vec<(String, Option<String>)> {
    f.b.stripe
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == format!("/v1/subscriptions/{stripe_sub}"))
        .filter_map(|r| r.param("cancel_at_period_end").map(|v| (v.to_owned(), r.idempotency_key.clone())))
        .collect()
}

#[tokio::test]
async fn a_suspended_solutions_phonepe_subscriber_is_told_gets_no_renewal_and_ends_at_period_end() {
    let f = fixture().await;
    let (id, end) = f.b.paid_phonepe(&f.access, &f.solution.solution_id, "pro").await;
    let partner = f.solution.partner_id.clone();
    let credited = f.b.partner_postings(&partner).await;
    assert_eq!(credited, 1, "the first period is credited");

    let answer = suspend(&f).await;
    assert_eq!(answer["affected_subscriptions"], 1, "{answer:?}");

    // The next scheduled run applies the suspension: the subscriber is told, once, however often it runs.
    let now = f.b.env.clock.now().timestamp();
    let first = f.b.run_billing(now + 60).await;
    assert_eq!(first.holds.as_ref().map(|h| (h.held, h.finished)), Some((1, 1)), "{first:?}");
    let seq = hold_seq(&f, &id).await.expect("held");
    let note = f.b.notification(&format!("solution_suspended:{id}:{seq}")).await.expect("the subscriber is told");
    assert_eq!((note.customer_id.as_str(), note.kind.as_str()), (f.user_id.as_str(), "solution_suspended"));
    assert_eq!(note.data["ends_at"], end);
    let again = f.b.run_billing(now + 120).await;
    assert_eq!(again.holds.as_ref().map(|h| h.held), Some(0), "{again:?}");
    let sub = f.subscription(&id).await;
    assert_eq!(
        (sub["status"].as_str(), sub["cancel_at_period_end"].as_bool()),
        (Some("active"), Some(true)),
        "{sub:?}"
    );

    // No renewal notice before the end, no renewal invoice at the end: the subscription ends.
    let notice = f.b.run_billing(end - 3 * DAY + 60).await;
    assert_eq!(steps(&notice, "renewal_notice"), 0, "{notice:?}");
    let ended = f.b.run_billing(end + 60).await;
    assert_eq!((steps(&ended, "renewal_invoice"), steps(&ended, "end_of_term")), (0, 1), "{ended:?}");
    for day in [1, 3, 5, 8] {
        let r = f.b.run_billing(end + day * DAY).await;
        assert!(r.report.steps.is_empty(), "day {day}: {r:?}");
    }
    let sub = f.subscription(&id).await;
    assert_eq!(sub["status"], "canceled", "{sub:?}");
    let invoices = f.b.env.store.user_invoices(&f.user_id, 10, None).await.expect("read").expect("page");
    assert_eq!(invoices.items.len(), 1, "the first period's invoice only");
    assert_eq!(f.b.partner_postings(&partner).await, credited, "the partner is credited no renewal");
}

#[tokio::test]
async fn a_suspended_solutions_stripe_subscription_cancels_at_period_end_at_stripe_once() {
    let f = fixture().await;
    let sid = f.solution.solution_id.clone();
    let (id, stripe_sub) = f.b.subscribe(&f.access, &sid, "pro").await;
    assert_eq!(f.b.stripe.subscription(&stripe_sub).expect("at stripe")["cancel_at_period_end"], false);

    assert_eq!(suspend(&f).await["affected_subscriptions"], 1);
    let now = f.b.env.clock.now().timestamp();
    f.b.run_billing(now + 60).await;
    f.b.run_billing(now + 120).await;
    assert_eq!(f.b.stripe.subscription(&stripe_sub).expect("at stripe")["cancel_at_period_end"], true);
    let requests = cancel_requests(&f, &stripe_sub);
    assert_eq!(requests.len(), 1, "one request, however often the run repeats: {requests:?}");
    assert_eq!(requests[0].0, "true");
    assert!(requests[0].1.is_some(), "an idempotency key");
    let sub = view(&f, &f.access, &f.user_id, &id).await;
    assert_eq!((sub["status"].as_str(), sub["cancel_at_period_end"].as_bool()), (Some("active"), Some(true)));
    let seq = hold_seq(&f, &id).await.expect("held");
    assert!(f.b.notification(&format!("solution_suspended:{id}:{seq}")).await.is_some());
}

#[tokio::test]
async fn reinstatement_within_the_period_restores_renewals_on_both_rails() {
    let f = fixture().await;
    let sid = f.solution.solution_id.clone();
    let (stripe_id, stripe_sub) = f.b.subscribe(&f.access, &sid, "pro").await;
    let other = f.b.env.register(&unique_email("phonepe")).await;
    let (pp_id, end) = f.b.paid_phonepe(&other.access_token, &sid, "pro").await;

    assert_eq!(suspend(&f).await["affected_subscriptions"], 2);
    let now = f.b.env.clock.now().timestamp();
    let held = f.b.run_billing(now + 60).await;
    assert_eq!(held.holds.as_ref().map(|h| h.held), Some(2), "{held:?}");
    assert_eq!(f.b.stripe.subscription(&stripe_sub).expect("at stripe")["cancel_at_period_end"], true);

    // Reinstated a week later, within the period.
    f.b.env.clock.set(chrono::DateTime::from_timestamp(now + 7 * DAY, 0).expect("time"));
    assert_eq!(reinstate(&f).await["affected_subscriptions"], 2);
    let released = f.b.run_billing(now + 7 * DAY + 60).await;
    assert_eq!(released.holds.as_ref().map(|h| (h.released, h.finished)), Some((2, 1)), "{released:?}");
    assert_eq!(f.b.stripe.subscription(&stripe_sub).expect("at stripe")["cancel_at_period_end"], false);
    assert_eq!(cancel_requests(&f, &stripe_sub).iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), ["true", "false"]);
    let sub = view(&f, &f.access, &f.user_id, &stripe_id).await;
    assert_eq!(sub["cancel_at_period_end"], false, "{sub:?}");
    assert_eq!((hold_seq(&f, &stripe_id).await, hold_seq(&f, &pp_id).await), (None, None));
    let sub = view(&f, &other.access_token, &other.user_id, &pp_id).await;
    assert_eq!(sub["cancel_at_period_end"], false, "renews again: {sub:?}");
    let seq = f.b.env.store.get_solution(&sid).await.expect("read").expect("solution").version;
    assert!(f.b.notification(&format!("solution_reinstated:{pp_id}:{seq}")).await.is_some());

    // PhonePe renews again: a notice, then the renewal invoice at the end.
    let notice = f.b.run_billing(end - 3 * DAY + 60).await;
    assert_eq!(steps(&notice, "renewal_notice"), 1, "{notice:?}");
    let renewal = f.b.run_billing(end + 60).await;
    assert_eq!(steps(&renewal, "renewal_invoice"), 1, "{renewal:?}");
    let sub = view(&f, &other.access_token, &other.user_id, &pp_id).await;
    assert_eq!(sub["status"], "past_due", "renewal invoiced, waiting to be paid: {sub:?}");
}

#[tokio::test]
async fn reinstatement_never_undoes_a_subscribers_own_cancellation() {
    let f = fixture().await;
    let sid = f.solution.solution_id.clone();
    // Canceled before the suspension (Stripe).
    let (early, early_sub) = f.b.subscribe(&f.access, &sid, "pro").await;
    let r = f.b.call("DELETE", &format!("/api/subscriptions/{early}"), None, Some(&f.access)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // Canceled during the suspension: one on Stripe, one on PhonePe.
    let s2 = f.b.env.register(&unique_email("stripe-late")).await;
    let (late, late_sub) = f.b.subscribe(&s2.access_token, &sid, "pro").await;
    let p2 = f.b.env.register(&unique_email("phonepe-late")).await;
    let (pp, end) = f.b.paid_phonepe(&p2.access_token, &sid, "pro").await;

    assert_eq!(suspend(&f).await["affected_subscriptions"], 3, "canceled at period end is still live until then");
    let now = f.b.env.clock.now().timestamp();
    f.b.run_billing(now + 60).await;
    assert!(cancel_requests(&f, &early_sub).len() == 1, "only the subscriber's own request");
    for (id, access) in [(&late, &s2.access_token), (&pp, &p2.access_token)] {
        let r = f.b.call("DELETE", &format!("/api/subscriptions/{id}"), None, Some(access)).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }

    reinstate(&f).await;
    f.b.run_billing(now + 120).await;
    for stripe_sub in [&early_sub, &late_sub] {
        assert_eq!(
            f.b.stripe.subscription(stripe_sub).expect("at stripe")["cancel_at_period_end"],
            true,
            "{stripe_sub}"
        );
        assert!(cancel_requests(&f, stripe_sub).iter().all(|r| r.0 == "true"), "never set back: {stripe_sub}");
    }
    assert_eq!(view(&f, &f.access, &f.user_id, &early).await["cancel_at_period_end"], true);
    assert_eq!(view(&f, &s2.access_token, &s2.user_id, &late).await["cancel_at_period_end"], true);
    assert_eq!(view(&f, &p2.access_token, &p2.user_id, &pp).await["cancel_at_period_end"], true);
    let ended = f.b.run_billing(end + 60).await;
    assert_eq!((steps(&ended, "renewal_invoice"), steps(&ended, "end_of_term")), (0, 1), "{ended:?}");
}

#[tokio::test]
async fn retirement_stops_renewals_like_a_suspension_and_for_good() {
    let f = fixture().await;
    let sid = f.solution.solution_id.clone();
    let (stripe_id, stripe_sub) = f.b.subscribe(&f.access, &sid, "pro").await;
    let other = f.b.env.register(&unique_email("phonepe")).await;
    let (pp_id, end) = f.b.paid_phonepe(&other.access_token, &sid, "pro").await;
    let credited = f.b.partner_postings(&f.solution.partner_id).await;

    let r = f.b.solution_action(&f.admin, &sid, "retire", Some("the partner closed")).await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("retired")), "{:?}", r.body);
    assert_eq!(r.body["affected_subscriptions"], 2, "{:?}", r.body);
    let now = f.b.env.clock.now().timestamp();
    f.b.run_billing(now + 60).await;
    assert_eq!(f.b.stripe.subscription(&stripe_sub).expect("at stripe")["cancel_at_period_end"], true);
    let seq = hold_seq(&f, &pp_id).await.expect("held");
    assert_eq!(hold_seq(&f, &stripe_id).await, Some(seq));
    for id in [&stripe_id, &pp_id] {
        let note = f.b.notification(&format!("solution_retired:{id}:{seq}")).await.expect("told");
        assert_eq!(note.kind, "solution_retired");
    }
    // No way back.
    let r = f.b.solution_action(&f.admin, &sid, "reinstate", None).await;
    assert_eq!((r.status, r.body["code"].as_str()), (409, Some("invalid_transition")), "{:?}", r.body);
    let ended = f.b.run_billing(end + 60).await;
    assert_eq!((steps(&ended, "renewal_invoice"), steps(&ended, "end_of_term")), (0, 1), "{ended:?}");
    assert_eq!(view(&f, &other.access_token, &other.user_id, &pp_id).await["status"], "canceled");
    assert_eq!(f.b.partner_postings(&f.solution.partner_id).await, credited);
}

#[tokio::test]
async fn a_solution_without_subscribers_is_suspended_with_nothing_to_apply() {
    // A solution without subscribers: the answer says 0, the run has nothing to do and finishes the hold.
    let f = fixture().await;
    assert_eq!(suspend(&f).await["affected_subscriptions"], 0);
    let now = f.b.env.clock.now().timestamp();
    let o = f.b.run_billing(now + 60).await;
    assert_eq!(o.holds.as_ref().map(|h| (h.held, h.finished, h.complete)), Some((0, 1, true)), "{o:?}");
    let o = f.b.run_billing(now + 120).await;
    assert_eq!(o.holds.as_ref().map(|h| h.finished), Some(0), "nothing pending any more: {o:?}");
    let r = f.b.solution_action(&f.admin, &f.solution.solution_id, "suspend", Some("again")).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
}

#[tokio::test]
async fn subscriptions_written_before_the_solution_index_are_backfilled_once() {
    let f = fixture().await;
    let (id, _) = f.b.paid_phonepe(&f.access, &f.solution.solution_id, "pro").await;
    // As stored before GSI3 existed.
    f.b.env
        .store
        .client()
        .update_item()
        .table_name(f.b.env.store.table())
        .set_key(Some(shared::store::keys::subscription(&id).to_map()))
        .update_expression("REMOVE GSI3PK, GSI3SK")
        .send()
        .await
        .expect("unindex");
    let backfill = || async {
        let job: billing::Job = serde_json::from_value(serde_json::json!({"job": "index-subscriptions"})).expect("job");
        let deadline = chrono::Utc::now().timestamp_millis() + 600_000;
        billing::handle(&f.b.billing(), job, deadline).await.expect("backfill")
    };
    let first = backfill().await;
    assert_eq!((first.report.subscriptions, first.report.complete), (1, true), "{first:?}");
    let again = backfill().await;
    assert_eq!((again.report.subscriptions, again.report.complete), (0, true), "{again:?}");
    assert_eq!(suspend(&f).await["affected_subscriptions"], 1, "found through the index");
}
