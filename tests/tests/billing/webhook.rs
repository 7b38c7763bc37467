//! The webhook: signatures checked on the raw bytes, events deduplicated, and any delivery order (with
//! duplicates) converging to the same state.

use crate::{Fixture, fixture};
use chrono::Duration;
use integration_tests::stripe_local::object_of;
use serde_json::{Value, json};
use shared::payments::stripe::signature::sign;
use shared::platform::clock::Clock;

/// Every handled event of one subscription's life, in Stripe's order, with time moving between steps:
/// checkout (completed, created, paid), a failed renewal (failed, past_due), recovery (active, paid), a
/// refund (charge.refunded), a second refund that fails after it succeeded (refund.*), and the end (deleted).
async fn life(f: &Fixture) -> (String, Vec<Value>) {
    let created = f.b.create_subscription(&f.access, &f.solution.solution_id, "pro", "stripe").await;
    let id = created["subscription_id"].as_str().expect("id").to_owned();
    let item = f.b.env.store.get_subscription(&id).await.expect("read").expect("sub");
    let t0 = f.b.env.clock.now().timestamp();
    let s = &f.b.stripe;
    s.set_now(t0);
    let mut events = s.complete_checkout(item.checkout_session_id.as_deref().expect("session"));
    let stripe_sub = object_of(&events, "checkout.session.completed")["subscription"].as_str().expect("sub").to_owned();
    let first_invoice = object_of(&events, "invoice.paid")["id"].as_str().expect("invoice").to_owned();
    s.set_now(t0 + 30 * 86_400);
    events.extend(s.fail_renewal(&stripe_sub));
    s.set_now(t0 + 32 * 86_400);
    events.push(s.updated_event(&stripe_sub, "active"));
    let pi = s.payment_intent_of(&first_invoice).expect("payment intent");
    s.set_now(t0 + 33 * 86_400);
    events.push(s.refunded_event(&pi, &[(format!("re_{}", ulid::Ulid::new()), 9_900)]));
    // A second refund, pending, then succeeded, then failed after all (Stripe's refund.* events).
    let second = format!("re_{}", ulid::Ulid::new());
    s.set_now(t0 + 34 * 86_400);
    events.push(s.refund_event("refund.created", &second, &pi, 5_000, "pending"));
    events.push(s.refund_event("refund.updated", &second, &pi, 5_000, "succeeded"));
    s.set_now(t0 + 36 * 86_400);
    events.push(s.refund_event("refund.failed", &second, &pi, 5_000, "failed"));
    s.set_now(t0 + 40 * 86_400);
    events.push(s.deleted_event(&stripe_sub));
    (id, events)
}

/// The observable end state, independent of ids.
async fn state(f: &Fixture, id: &str) -> Value {
    let sub = f.subscription(id).await;
    let history = f.history().await;
    let mut money: Vec<(String, i64, String)> = history["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            let text = |k: &str| i[k].as_str().unwrap_or_default().to_owned();
            (text("kind"), i["amount"].as_i64().unwrap_or(0), text("status"))
        })
        .collect();
    money.sort();
    json!({"status": sub["status"], "tier": sub["tier"], "cancel": sub["cancel_at_period_end"],
           "period_start": sub["current_period_start"].is_string(), "money": money, "user_tier": f.tier().await})
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[tokio::test]
async fn any_delivery_order_with_duplicates_converges_to_the_same_state() {
    let reference = fixture().await;
    let (id, events) = life(&reference).await;
    for e in &events {
        assert_eq!(reference.b.deliver(e).await.status, 200);
    }
    let expected = state(&reference, &id).await;
    assert_eq!(expected["status"], "canceled");
    assert_eq!(expected["user_tier"], "free");
    assert_eq!(
        expected["money"],
        json!([["payment", 49_900, ""], ["refund", 5_000, "failed"], ["refund", 9_900, "succeeded"]])
    );

    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for run in 0..12 {
        let f = fixture().await;
        let (id, events) = life(&f).await;
        // Each event one to three times, shuffled.
        let mut deliveries: Vec<&Value> =
            events.iter().flat_map(|e| std::iter::repeat_n(e, 1 + rng.below(3))).collect();
        for i in (1..deliveries.len()).rev() {
            deliveries.swap(i, rng.below(i + 1));
        }
        let mut duplicates = 0;
        for e in deliveries {
            let r = f.b.deliver(e).await;
            assert_eq!(r.status, 200, "run {run}: {:?}", r.body);
            duplicates += usize::from(r.body["duplicate"] == true);
        }
        assert_eq!(state(&f, &id).await, expected, "run {run}");
        assert!(duplicates > 0 || run > 0);
    }
}

#[tokio::test]
async fn unsigned_tampered_or_stale_deliveries_are_refused_and_nothing_is_recorded() {
    let f = fixture().await;
    let (id, events) = life(&f).await;
    let event = events.iter().find(|e| e["type"] == "customer.subscription.created").expect("created");
    let body = event.to_string();
    let now = f.b.env.clock.now().timestamp();
    let good = format!("t={now},v1={}", sign(integration_tests::billing::WEBHOOK_SECRET, now, body.as_bytes()));
    let stale_t = now - 301;
    let stale =
        format!("t={stale_t},v1={}", sign(integration_tests::billing::WEBHOOK_SECRET, stale_t, body.as_bytes()));
    let other_secret = format!("t={now},v1={}", sign("whsec_other", now, body.as_bytes()));
    let v0_only = format!("t={now},v0={}", sign(integration_tests::billing::WEBHOOK_SECRET, now, body.as_bytes()));
    let tampered_body = body.replace("\"active\"", "\"canceled\"").into_bytes();
    let mut newline = body.clone().into_bytes();
    newline.push(b'\n');
    for (label, bytes, header) in [
        ("unsigned", body.clone().into_bytes(), None),
        ("tampered body", tampered_body, Some(good.as_str())),
        ("trailing newline", newline, Some(good.as_str())),
        ("stale", body.clone().into_bytes(), Some(stale.as_str())),
        ("other secret", body.clone().into_bytes(), Some(other_secret.as_str())),
        ("only v0", body.clone().into_bytes(), Some(v0_only.as_str())),
        ("no timestamp", body.clone().into_bytes(), Some(good.split_once(',').map_or("", |(_, v)| v))),
    ] {
        let r = f.b.deliver_raw(bytes, header).await;
        assert_eq!(r.status, 400, "{label}: {:?}", r.body);
        assert_eq!(r.body["code"], "invalid_signature", "{label}");
    }
    let key = shared::store::keys::webhook_event("stripe", event["id"].as_str().expect("id"));
    let record: Option<Value> = f.b.env.store.get(&key, true).await.expect("read");
    assert!(record.is_none(), "a refused delivery records nothing");
    assert_eq!(f.subscription(&id).await["status"], "pending");
    // Too large.
    let big = vec![b'{'; 600 * 1024];
    assert_eq!(f.b.deliver_raw(big, Some(&good)).await.status, 413);
    // The genuine one applies once.
    let r = f.b.deliver_raw(body.clone().into_bytes(), Some(&good)).await;
    assert_eq!((r.status, r.body["duplicate"].as_bool()), (200, Some(false)));
    let r = f.b.deliver_raw(body.into_bytes(), Some(&good)).await;
    assert_eq!((r.status, r.body["duplicate"].as_bool()), (200, Some(true)));
    assert_eq!(f.subscription(&id).await["status"], "active");
    // Events we do not handle are acknowledged.
    f.b.env.clock.advance(Duration::seconds(1));
    let other = json!({"id": "evt_other_1", "object": "event", "type": "customer.created", "created": now,
                       "data": {"object": {"id": "cus_x", "object": "customer"}}});
    assert_eq!(f.b.deliver(&other).await.status, 200);
}
