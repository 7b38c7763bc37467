//! Usage-based pricing on the hot path: a usage-priced tier's billing period counted with the day in one
//! request, overage allowed under a soft limit and refused under a hard one, the spending cap enforced
//! atomically, late events counted in the period they belong to while it is open, and what callers see.

use super::{Fixture, fixture};
use chrono::Duration;
use serde_json::{Value, json};
use shared::model::{Metering, OverageBlock, Tier, UsageLimit, UsagePricing};
use shared::platform::clock::Clock;
use shared::store::keys;
use shared::store::outbox::NotificationItem;
use shared::store::solutions::EntitlementItem;
use shared::store::usage::UsageCounterItem;

const DAY: i64 = 86_400;

/// ₹1 (100 paise) per 10 units beyond 10 included per month.
fn pricing(limit: UsageLimit) -> UsagePricing {
    UsagePricing {
        included_monthly: 10,
        limit,
        block_size: 10,
        blocks: match limit {
            UsageLimit::Soft => vec![OverageBlock { up_to: None, amount: 100 }],
            UsageLimit::Hard => vec![],
        },
    }
}

/// The fixture's user on pro with a usage-priced subscription whose current period started 10 days ago
/// (and the period before it still open for late events), the caches expired.
async fn metered(f: &Fixture, usage: UsagePricing, cap: Option<i64>) -> Metering {
    let now = f.env.clock.now().timestamp();
    let start = now - 10 * DAY;
    let metering = Metering {
        subscription_id: "sub_01jfakeusagepriced0000000".into(),
        tier: Tier::Pro,
        period: shared::model::BillingPeriod::Monthly,
        start,
        end: start + 30 * DAY,
        previous_start: Some(start - 30 * DAY),
        usage,
        currency: "inr".into(),
        spending_cap: cap,
    };
    let mut e =
        EntitlementItem::new(&f.user_id, &f.solution.solution_id, Tier::Pro, "2026-12-01T00:00:00Z".into(), "test");
    e.subscription_id = Some(metering.subscription_id.clone());
    e.metering = Some(metering.clone());
    f.env.store.put(&e, None).await.expect("entitlement");
    f.set_limit("pro", None, None).await;
    metering
}

async fn period_counter(f: &Fixture, start: i64) -> Option<UsageCounterItem> {
    let key = keys::usage_period(&f.user_id, &f.solution.solution_id, start);
    f.env.store.get_counter(&key, true).await.expect("read")
}

fn period(body: &Value) -> &Value {
    &body["billing_period"]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_soft_limit_counts_overage_and_the_cap_stops_it_atomically() {
    let f = fixture().await;
    // A cap of ₹0.50: 5 units of overage (10 paise each).
    let m = metered(&f, pricing(UsageLimit::Soft), Some(50)).await;
    let r = f.track(json!({"action": "a", "quantity": 10})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let p = period(&r.body);
    assert_eq!((p["used"].as_u64(), p["overage"].as_u64(), p["overage_charge"].as_i64()), (Some(10), Some(0), Some(0)));
    assert_eq!(
        (p["included"].as_u64(), p["limit"].as_str(), p["currency"].as_str()),
        (Some(10), Some("soft"), Some("inr"))
    );
    // Beyond the allowance: allowed, charged 10 paise a unit.
    let r = f.track(json!({"action": "a", "quantity": 3})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!((period(&r.body)["overage"].as_u64(), period(&r.body)["overage_charge"].as_i64()), (Some(3), Some(30)));
    // Concurrent events against the cap's last 2 units: exactly 2 counted.
    let replies = f.env.post_concurrently_as("/api/track-usage", vec![json!({"action": "a"}); 6], Some(&f.token)).await;
    assert_eq!(replies.iter().filter(|r| r.status == 200).count(), 2, "{replies:?}");
    let refused = replies.iter().find(|r| r.status == 429).expect("a refusal");
    assert_eq!(refused.body["code"], "spending_cap_reached", "{:?}", refused.body);
    assert_eq!(refused.body["refused_by"], "spending_cap");
    assert_eq!(refused.body["billing_period"]["cap_reached"], true);
    let counter = period_counter(&f, m.start).await.expect("period counter");
    assert_eq!(counter.used, 15);
    // The day's counter holds the same events (one transaction wrote both).
    assert_eq!(f.quota().await["used"], 15);
    let q = f.quota().await;
    assert_eq!(
        (q["billing_period"]["used"].as_u64(), q["billing_period"]["overage_charge"].as_i64()),
        (Some(15), Some(50))
    );
    // The user context of the solution token carries the same period.
    let ctx = f.env.call("GET", "/api/user-context", None, Some(&f.token)).await;
    assert_eq!(ctx.status, 200, "{:?}", ctx.body);
    let p = &ctx.body["quota"]["billing_period"];
    assert_eq!(
        (p["used"].as_u64(), p["cap_reached"].as_bool(), p["spending_cap"].as_i64()),
        (Some(15), Some(true), Some(50))
    );
    // Projected at the pace so far, within the cap: never beyond the cap's charge.
    assert_eq!(p["projected_charge"].as_i64(), Some(50));

    // The notifications: 80% and 100% (overage started) of the allowance, and the cap, once each.
    let get = |id: String| {
        let store = f.env.store.clone();
        async move { store.get::<NotificationItem>(&keys::outbox(&id), true).await.expect("read") }
    };
    let suffix = format!("{}:{}:{}", f.user_id, f.solution.solution_id, counter.period);
    let n100 = get(format!("usage-100:{suffix}")).await.expect("100% notification");
    assert_eq!((n100.kind.as_str(), n100.data["overage_started"].as_bool()), ("quota_100", Some(true)));
    assert!(get(format!("usage-80:{suffix}")).await.is_some());
    let cap = get(format!("spending-cap:{suffix}")).await.expect("cap notification");
    assert_eq!((cap.kind.as_str(), cap.data["spending_cap"].as_i64()), ("spending_cap_reached", Some(50)));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hard_limit_refuses_at_the_allowance_and_an_uncapped_soft_limit_never_does() {
    let f = fixture().await;
    metered(&f, pricing(UsageLimit::Hard), None).await;
    assert_eq!(f.track(json!({"action": "a", "quantity": 9})).await.status, 200);
    let r = f.track(json!({"action": "a", "quantity": 2})).await;
    assert_eq!(
        (r.status, r.body["code"].as_str(), r.body["refused_by"].as_str()),
        (429, Some("quota_exceeded"), Some("allowance"))
    );
    assert_eq!(r.body["detail"], "the allowance of this billing period is used up");
    assert_eq!(f.track(json!({"action": "a"})).await.status, 200);

    let g = fixture().await;
    let m = metered(&g, pricing(UsageLimit::Soft), None).await;
    for _ in 0..3 {
        assert_eq!(g.track(json!({"action": "a", "quantity": 1000})).await.status, 200);
    }
    let counter = period_counter(&g, m.start).await.expect("counter");
    assert_eq!(counter.used, 3_000);
    // 2,990 units of overage at 10 paise: ₹299.00.
    assert_eq!(g.quota().await["billing_period"]["overage_charge"], 29_900);
}

#[tokio::test(flavor = "multi_thread")]
async fn late_events_count_in_their_period_while_it_is_open_and_never_in_a_closed_one() {
    let f = fixture().await;
    let m = metered(&f, pricing(UsageLimit::Soft), None).await;
    let now = f.env.clock.now();
    let stamp = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    // The period before ended 10 days ago: far beyond the late window, so an event of it counts now.
    let old = now - Duration::days(11);
    let r = f.track(json!({"action": "a", "timestamp": stamp(old)})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(period_counter(&f, m.start).await.map(|c| c.used), Some(1));
    assert!(period_counter(&f, m.previous_start.expect("previous")).await.is_none());
    // An event of 3 days ago in this period counts on its own day, in this period.
    let r = f.track(json!({"action": "a", "timestamp": stamp(now - Duration::days(3))})).await;
    assert_eq!(period(&r.body)["used"], 2);
    let history = f
        .env
        .call("GET", &format!("/api/usage/{}?solution_id={}", f.user_id, f.solution.solution_id), None, Some(&f.access))
        .await;
    assert_eq!(history.body["days"].as_array().map(Vec::len), Some(2), "{:?}", history.body);

    // Half an hour after this period ends, an event stamped before the end still counts in it ...
    f.env.clock.set(chrono::DateTime::from_timestamp(m.end + 1_800, 0).expect("time"));
    let before_end = chrono::DateTime::from_timestamp(m.end - 60, 0).expect("time");
    let r = f.track(json!({"action": "a", "timestamp": stamp(before_end)})).await;
    assert_eq!((r.status, period(&r.body)["used"].as_u64()), (200, Some(3)), "{:?}", r.body);
    // ... an unstamped one counts in the next period (not recorded yet: it starts at the end) ...
    let r = f.track(json!({"action": "a"})).await;
    assert_eq!(period(&r.body)["period_start"], stamp(before_end + Duration::seconds(60)));
    assert_eq!(period_counter(&f, m.end).await.map(|c| c.used), Some(1));
    // ... and once the billing run closed the period, a late event goes to the next one.
    let closed = f
        .env
        .store
        .close_usage_period(&keys::usage_period(&f.user_id, &f.solution.solution_id, m.start), m.end + 1_900, 0)
        .await
        .expect("close");
    assert_eq!(closed.used, 3);
    let r = f.track(json!({"action": "a", "timestamp": stamp(before_end), "idempotency_key": "late-1"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(period_counter(&f, m.start).await.map(|c| c.used), Some(3));
    assert_eq!(period_counter(&f, m.end).await.map(|c| c.used), Some(2));
    // A stamp in the future is refused (field named).
    let r = f.track(json!({"action": "a", "timestamp": stamp(f.env.clock.now() + Duration::hours(1))})).await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (400, Some("timestamp")));
    let r = f.track(json!({"action": "a", "timestamp": "yesterday"})).await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (400, Some("timestamp")));
}
