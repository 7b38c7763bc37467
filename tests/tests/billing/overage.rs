//! Usage-based pricing through billing: a usage-priced period's overage priced exactly when its counter is
//! closed (late events included, once), charged on the PhonePe renewal invoice as its own line with GST or on
//! Stripe as a one-off invoice, never twice on a rerun; the spending cap set by the subscriber.

use super::{Fixture, fixture};
use integration_tests::rng::Rng;
use serde_json::{Value, json};
use shared::model::{OverageBlock, Tier, UsageLimit, UsagePricing};
use shared::store::keys;
use shared::store::solutions::TierDefinitionItem;

/// ₹1 (100 paise) per 10 units beyond 10 included per month.
pub fn soft_pricing() -> UsagePricing {
    UsagePricing {
        included_monthly: 10,
        limit: UsageLimit::Soft,
        block_size: 10,
        blocks: vec![OverageBlock { up_to: None, amount: 100 }],
    }
}

/// The fixture's pro tier becomes usage-priced (no daily limit; its price keeps amount and Stripe id).
pub async fn usage_priced(f: &Fixture, usage: UsagePricing) {
    let key = keys::solution_tier(&f.solution.solution_id, Tier::Pro.as_str());
    let mut def: TierDefinitionItem = f.b.env.store.get(&key, true).await.expect("read").expect("pro tier");
    def.daily_limit = None;
    for p in &mut def.prices {
        p.usage = Some(usage.clone());
    }
    f.b.env.store.put_tier_definition(&def).await.expect("tier definition");
}

pub async fn track(f: &Fixture, body: Value) -> Value {
    let r = f.b.env.call("POST", "/api/track-usage", Some(body), Some(&f.token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

/// The caches of the functions (tiers, policies) expire: 61 s later on both clocks.
fn expire_caches(f: &Fixture) {
    let now = shared::platform::clock::Clock::now(&f.b.env.clock).timestamp();
    f.b.set_clocks(now + 61);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_phonepe_renewal_carries_the_periods_overage_as_its_own_line_once() {
    let f = fixture().await;
    usage_priced(&f, soft_pricing()).await;
    let (id, end) = f.b.paid_phonepe(&f.access, &f.solution.solution_id, "pro").await;
    let item = f.b.env.store.get_subscription(&id).await.expect("read").expect("subscription");
    let start = item.reconciled.latest.as_ref().expect("period").period_start;
    assert_eq!(item.usage_periods.iter().map(|p| (p.start, p.end)).collect::<Vec<_>>(), [(start, end)]);
    expire_caches(&f);

    // 23 units: 13 beyond the 10 included (₹1.30 so far).
    track(&f, json!({"action": "run", "quantity": 10})).await;
    let answer = track(&f, json!({"action": "run", "quantity": 13})).await;
    let p = &answer["billing_period"];
    assert_eq!((p["overage"].as_u64(), p["overage_charge"].as_i64()), (Some(13), Some(130)), "{answer:?}");
    let sub = f.subscription(&id).await;
    assert_eq!(sub["usage"]["included_monthly"], 10);

    // Half an hour after the period ended, an event stamped before the end still counts in it.
    f.b.set_clocks(end + 1_800);
    let stamp = |t: i64| chrono::DateTime::from_timestamp(t, 0).expect("time").to_rfc3339();
    let late = track(&f, json!({"action": "run", "timestamp": stamp(end - 60)})).await;
    assert_eq!(late["billing_period"]["used"], 24);
    // The renewal waits for the late window: nothing invoiced at the end itself.
    f.b.run_billing(end + 1_800).await;
    let renewal_id = shared::billing::writer::derived_id("inv", &format!("{id}:renewal:{end}"));
    assert!(f.b.env.store.get_invoice(&renewal_id).await.expect("read").is_none());

    // An hour after the end: the renewal invoice carries the plan and the overage, 14 units = ₹1.40.
    f.b.run_billing(end + 3_600).await;
    let invoice = f.b.env.store.get_invoice(&renewal_id).await.expect("read").expect("renewal invoice");
    let overage = invoice.overage.clone().expect("overage line");
    assert_eq!((overage.used, overage.included, overage.units, overage.amount), (24, 10, 14, 140));
    assert_eq!(invoice.amount, 49_900 + 140);
    let note = f.b.notification(&format!("payment-request:{renewal_id}")).await.expect("payment request");
    assert_eq!((note.data["amount"].as_i64(), note.data["overage_amount"].as_i64()), (Some(50_040), Some(140)));

    // Closed: a late event stamped in that period now counts in the next one; a rerun charges nothing again.
    track(&f, json!({"action": "run", "timestamp": stamp(end - 30)})).await;
    let closed = keys::usage_period(&f.user_id, &f.solution.solution_id, start);
    assert_eq!(f.b.env.store.get_counter(&closed, true).await.expect("read").map(|c| c.used), Some(24));
    let next = keys::usage_period(&f.user_id, &f.solution.solution_id, end);
    assert_eq!(f.b.env.store.get_counter(&next, true).await.expect("read").map(|c| c.used), Some(1));
    f.b.run_billing(end + 3_700).await;
    let again = f.b.env.store.get_invoice(&renewal_id).await.expect("read").expect("renewal invoice");
    assert_eq!((again.amount, again.version), (invoice.amount, invoice.version));
    let item = f.b.env.store.get_subscription(&id).await.expect("read").expect("subscription");
    assert!(item.usage_periods.is_empty(), "the billed period is no longer listed: {:?}", item.usage_periods);

    // Paying it issues one tax invoice with two lines; the GST is on the whole amount.
    let r = f.b.call("POST", "/api/payments/initiate", Some(json!({"invoice_id": renewal_id})), Some(&f.access)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["amount"], 50_040);
    let mid = r.body["merchant_order_id"].as_str().expect("order").to_owned();
    f.b.phonepe.set_now_ms((end + 3_800) * 1_000);
    f.b.phonepe.complete(&mid);
    let v = f.b.call("POST", "/api/payments/verify", Some(json!({"merchant_order_id": mid})), Some(&f.access)).await;
    assert_eq!(v.body["state"], "completed", "{:?}", v.body);
    let paid = f.b.env.store.get_invoice(&renewal_id).await.expect("read").expect("invoice");
    let doc = paid.document.expect("tax invoice");
    let lines: Vec<(i64, bool)> =
        doc.lines.iter().map(|l| (l.amount, l.description.contains("beyond the allowance"))).collect();
    assert_eq!(lines, [(49_900, false), (140, true)]);
    assert_eq!(doc.tax.total, 50_040);
    assert!(
        doc.lines[1].description.contains("14 units over 10 included (24 units counted)"),
        "{}",
        doc.lines[1].description
    );
    // The partner's revenue counts the overage, split at the same commission as the plan.
    let ledger =
        shared::ledger::PartnerLedger::new(f.b.env.store_for("partners"), std::sync::Arc::new(f.b.env.clock.clone()));
    let day = chrono::DateTime::from_timestamp(end + 3_800, 0).expect("time").with_timezone(&chrono_tz::Asia::Kolkata);
    let day = day.date_naive().to_string();
    let revenue = ledger.revenue(&f.solution.partner_id, Some(&day), Some(&day)).await.expect("revenue");
    let inr = &revenue.totals["inr"];
    assert_eq!((inr.gross, inr.overage_gross), (50_040, 140), "{inr:?}");
    // 140 inclusive of 18% GST: tax 21, net 119; the commission's share of it at the partner's rate.
    assert!(inr.overage_earnings > 0 && inr.overage_earnings < 119, "{inr:?}");
    // The new period is listed, and its counter already holds the event counted after the close.
    let item = f.b.env.store.get_subscription(&id).await.expect("read").expect("subscription");
    assert_eq!(item.usage_periods.first().map(|p| p.start), Some(end));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_spending_cap_is_the_subscribers_own_and_stops_usage_at_its_amount() {
    let f = fixture().await;
    usage_priced(&f, soft_pricing()).await;
    let (id, _) = f.b.paid_phonepe(&f.access, &f.solution.solution_id, "pro").await;
    let uri = format!("/api/subscriptions/{id}/spending-cap");
    // Wrong user, bad input, wrong credential kind.
    let other = f.b.env.register(&integration_tests::harness::unique_email("cap-other")).await;
    let r = f.b.call("PUT", &uri, Some(json!({"amount": 50})), Some(&other.access_token)).await;
    assert!(matches!(r.status, 403 | 404), "{:?}", r.body);
    let r = f.b.call("PUT", &uri, Some(json!({"amount": -1})), Some(&f.access)).await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (400, Some("amount")));
    let r = f.b.call("PUT", &uri, Some(json!({"amount": 50, "currency": "usd"})), Some(&f.access)).await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (400, Some("currency")));
    let r = f.b.call("PUT", &uri, Some(json!({"amount": 50})), Some(&f.token)).await;
    assert_eq!(r.status, 401, "a solution token manages no subscription: {:?}", r.body);

    let r = f.b.call("PUT", &uri, Some(json!({"amount": 50, "currency": "inr"})), Some(&f.access)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["spending_cap"], json!({"amount": 50, "currency": "inr"}));
    expire_caches(&f);
    // 10 included + 5 units of overage (₹0.50) and no more.
    track(&f, json!({"action": "run", "quantity": 15})).await;
    let r = f.b.env.call("POST", "/api/track-usage", Some(json!({"action": "run"})), Some(&f.token)).await;
    assert_eq!((r.status, r.body["code"].as_str()), (429, Some("spending_cap_reached")), "{:?}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    // Removed: usage goes on (within the cache lifetime).
    let r = f.b.call("PUT", &uri, Some(json!({"amount": null})), Some(&f.access)).await;
    assert_eq!((r.status, r.body.get("spending_cap")), (200, None), "{:?}", r.body);
    expire_caches(&f);
    track(&f, json!({"action": "run"})).await;

    // A price without overage has nothing to cap.
    let g = fixture().await;
    let (plain, _) = g.b.paid_phonepe(&g.access, &g.solution.solution_id, "pro").await;
    let r = g
        .b
        .call("PUT", &format!("/api/subscriptions/{plain}/spending-cap"), Some(json!({"amount": 50})), Some(&g.access))
        .await;
    assert_eq!((r.status, r.body["code"].as_str()), (409, Some("not_usage_priced")), "{:?}", r.body);
}

/// One generated event: when it arrives, when it says it happened (if it says), how much, its key.
#[derive(Debug, Clone)]
struct Event {
    arrival: i64,
    stamp: Option<i64>,
    quantity: u64,
    key: String,
}

/// Property: random events around a period's end (some stamped late, some too late for the window, some sent
/// twice with their key) → the renewal invoice's overage is exactly the units the period counted beyond the
/// allowance, priced by the rounding rule, once (a rerun of the billing run charges nothing more).
#[tokio::test(flavor = "multi_thread")]
async fn overage_is_the_exact_count_beyond_the_allowance_times_the_price_once() {
    const LATE: i64 = shared::model::LATE_EVENT_SECONDS;
    // 7 paise per 3 units beyond 10: the charge needs the rounding rule.
    let pricing = UsagePricing {
        included_monthly: 10,
        limit: UsageLimit::Soft,
        block_size: 3,
        blocks: vec![OverageBlock { up_to: None, amount: 7 }],
    };
    for seed in [1u64, 7, 42, 1_234, 99_991, 31_337] {
        let f = fixture().await;
        usage_priced(&f, pricing.clone()).await;
        let (id, end) = f.b.paid_phonepe(&f.access, &f.solution.solution_id, "pro").await;
        let sub = f.b.env.store.get_subscription(&id).await.expect("read").expect("subscription");
        let start = sub.reconciled.latest.expect("period").period_start;
        let mut rng = Rng::new(seed);
        // Arrivals from two days before the end to a day after the late window, in order.
        let mut events: Vec<Event> = Vec::new();
        let mut arrival = end - 2 * 86_400;
        for i in 0..40 {
            arrival += 1 + rng.below(6 * 3_600) as i64;
            let stamp = match rng.below(3) {
                0 => None,
                _ => Some(arrival - rng.below(3 * 3_600) as i64),
            };
            let quantity = 1 + rng.below(4);
            let key = format!("ev-{seed}-{i}");
            events.push(Event { arrival, stamp, quantity, key });
            // Some events are sent again (the same request, later).
            if rng.below(4) == 0 {
                let mut again = events[events.len() - 1].clone();
                again.arrival += 1 + rng.below(1_800) as i64;
                arrival = again.arrival;
                events.push(again);
            }
        }
        events.sort_by_key(|e| e.arrival);
        // The model: an event counts at its stamp while its period's end is less than the late window ago.
        let mut seen = std::collections::HashSet::new();
        let mut in_period = 0u64;
        for e in &events {
            if !seen.insert(e.key.clone()) {
                continue;
            }
            let at = match e.stamp {
                Some(t) if t < end && e.arrival < end + LATE => t,
                Some(t) if t >= end => t,
                _ => e.arrival,
            };
            if (start..end).contains(&at) {
                in_period += e.quantity;
            }
        }
        // Play it: the billing run when the clock passes the end of the late window, and once more after.
        let mut billed = false;
        let stamp = |t: i64| chrono::DateTime::from_timestamp(t, 0).expect("time").to_rfc3339();
        for e in &events {
            if !billed && e.arrival >= end + LATE {
                f.b.run_billing(end + LATE).await;
                billed = true;
            }
            f.b.set_clocks(e.arrival);
            let mut body = json!({"action": "run", "quantity": e.quantity, "idempotency_key": e.key});
            if let Some(t) = e.stamp {
                body["timestamp"] = json!(stamp(t));
            }
            track(&f, body).await;
        }
        if !billed {
            f.b.run_billing(end + LATE).await;
        }
        let last = events.last().map_or(end, |e| e.arrival) + 60;
        f.b.run_billing(last.max(end + LATE + 60)).await;
        let renewal = shared::billing::writer::derived_id("inv", &format!("{id}:renewal:{end}"));
        let invoice = f.b.env.store.get_invoice(&renewal).await.expect("read").expect("renewal invoice");
        let units = in_period.saturating_sub(10);
        // 7/3 paise per unit, rounded half up once: (units × 7 × 2 + 3) / 6.
        let expected = i64::try_from((units * 14 + 3) / 6).expect("amount");
        let (got_units, got_amount) = invoice.overage.as_ref().map_or((0, 0), |o| (o.units, o.amount));
        assert_eq!(
            (got_units, got_amount),
            (units, expected),
            "seed {seed}: {} events, {in_period} in the period",
            events.len()
        );
        assert_eq!(invoice.amount, 49_900 + expected, "seed {seed}");
        let counter = keys::usage_period(&f.user_id, &f.solution.solution_id, start);
        assert_eq!(f.b.env.store.get_counter(&counter, true).await.expect("read").map_or(0, |c| c.used), in_period);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stripe_charges_a_periods_overage_on_a_one_off_invoice_once() {
    let f = fixture().await;
    usage_priced(&f, soft_pricing()).await;
    let (id, stripe_sub) = f.b.subscribe(&f.access, &f.solution.solution_id, "pro").await;
    let end = f.b.period_end(&id).await;
    expire_caches(&f);
    track(&f, json!({"action": "run", "quantity": 10})).await;
    track(&f, json!({"action": "run", "quantity": 13})).await;
    // Stripe renews at the end (its renewal invoice bills the plan); a late event still counts in the period.
    f.b.set_clocks(end);
    for e in f.b.stripe.renew(&stripe_sub) {
        assert_eq!(f.b.deliver(&e).await.status, 200);
    }
    f.b.set_clocks(end + 1_800);
    let stamp = chrono::DateTime::from_timestamp(end - 60, 0).expect("time").to_rfc3339();
    assert_eq!(track(&f, json!({"action": "run", "timestamp": stamp})).await["billing_period"]["used"], 24);

    // An hour after the end: a one-off invoice at Stripe for 14 units (₹1.40), pinned on ours, paid.
    f.b.run_billing(end + 3_600).await;
    let ours = shared::billing::writer::derived_id("inv", &format!("{id}:overage:{end}"));
    let invoice = f.b.env.store.get_invoice(&ours).await.expect("read").expect("overage invoice");
    assert_eq!((invoice.reason, invoice.amount), (shared::store::invoices::InvoiceReason::Overage, 140));
    let stripe_invoice = invoice.provider_invoice_id.clone().expect("pinned stripe invoice");
    let sent = |path: &str| f.b.stripe.requests().into_iter().filter(|r| r.method == "POST" && r.path == path).count();
    assert_eq!(sent("/v1/invoices"), 1);
    // Charged with the card Checkout saved on the subscription.
    let opened =
        f.b.stripe.requests().into_iter().find(|r| r.method == "POST" && r.path == "/v1/invoices").expect("open");
    let card = f.b.stripe.subscription(&stripe_sub).expect("subscription")["default_payment_method"].clone();
    assert_eq!(opened.param("default_payment_method"), card.as_str(), "{card:?}");
    assert!(card.as_str().is_some_and(|c| c.starts_with("pm_")), "{card:?}");
    let item = f.b.stripe.requests().into_iter().find(|r| r.path == "/v1/invoiceitems").expect("invoice item");
    assert_eq!((item.param("amount"), item.param("invoice")), (Some("140"), Some(stripe_invoice.as_str())));
    assert_eq!(item.param("metadata[invoice_id]"), Some(ours.as_str()));
    assert_eq!(f.b.stripe.object("invoice", &stripe_invoice).expect("at stripe")["status"], "paid");
    let finalize = format!("/v1/invoices/{stripe_invoice}/finalize");
    let finalized = f.b.stripe.requests().into_iter().find(|r| r.path == finalize).expect("finalized");
    assert_eq!(finalized.param("auto_advance"), Some("true"), "Stripe collects (and retries) from there");
    // A rerun opens and charges nothing more.
    f.b.run_billing(end + 3_700).await;
    assert_eq!((sent("/v1/invoices"), sent(&format!("/v1/invoices/{stripe_invoice}/pay"))), (1, 1));
    let item = f.b.env.store.get_subscription(&id).await.expect("read").expect("subscription");
    assert_eq!(item.usage_periods.iter().map(|p| p.start).collect::<Vec<_>>(), [end], "only the new period is listed");

    // Stripe's invoice.paid (the test delivers it) records the payment and issues our invoice with its line.
    let stripe = integration_tests::billing::stripe_client(&f.b.stripe.base, std::time::Duration::from_secs(5));
    let events =
        stripe.get("/v1/events", &vec![("types[]".to_owned(), "invoice.paid".to_owned())]).await.expect("events");
    let paid = events["data"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["data"]["object"]["id"] == stripe_invoice.as_str()))
        .cloned()
        .expect("invoice.paid of the one-off invoice");
    assert_eq!(f.b.deliver(&paid).await.status, 200);
    assert_eq!(f.b.deliver(&paid).await.status, 200, "a redelivery changes nothing");
    let issued = f.b.env.store.get_invoice(&ours).await.expect("read").expect("invoice");
    assert_eq!(issued.status, shared::store::invoices::InvoiceStatus::Paid);
    let doc = issued.document.expect("tax invoice");
    assert_eq!(doc.lines.iter().map(|l| l.amount).collect::<Vec<_>>(), [140]);
    assert!(doc.lines[0].description.contains("14 units over 10 included"), "{}", doc.lines[0].description);
    let history = f.history().await;
    let amounts: Vec<i64> =
        history["items"].as_array().expect("items").iter().filter_map(|p| p["amount"].as_i64()).collect();
    assert_eq!(amounts.iter().filter(|a| **a == 140).count(), 1, "{history:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_declined_overage_charge_stays_open_at_stripe_and_is_not_charged_again_by_the_run() {
    let f = fixture().await;
    usage_priced(&f, soft_pricing()).await;
    let (id, stripe_sub) = f.b.subscribe(&f.access, &f.solution.solution_id, "pro").await;
    let end = f.b.period_end(&id).await;
    expire_caches(&f);
    track(&f, json!({"action": "run", "quantity": 15})).await;
    f.b.set_clocks(end);
    for e in f.b.stripe.renew(&stripe_sub) {
        assert_eq!(f.b.deliver(&e).await.status, 200);
    }
    let customer = f.b.env.store.get_subscription(&id).await.expect("read").expect("sub").provider_customer_id;
    f.b.stripe.set_card(&customer.expect("stripe customer"), "declined");
    let report = f.b.run_billing(end + 3_600).await;
    assert!(format!("{report:?}").contains("overage"), "{report:?}");
    let ours = shared::billing::writer::derived_id("inv", &format!("{id}:overage:{end}"));
    let invoice = f.b.env.store.get_invoice(&ours).await.expect("read").expect("overage invoice");
    assert_eq!((invoice.status, invoice.amount), (shared::store::invoices::InvoiceStatus::Open, 50));
    let stripe_invoice = invoice.provider_invoice_id.expect("pinned");
    assert_eq!(f.b.stripe.object("invoice", &stripe_invoice).expect("at stripe")["status"], "open");
    // No "was charged" mail; the run is done with the period (Stripe collects from here).
    assert!(f.b.notification(&format!("overage-invoiced:{ours}")).await.is_none());
    let pays = |f: &Fixture| {
        let path = format!("/v1/invoices/{stripe_invoice}/pay");
        f.b.stripe.requests().into_iter().filter(|r| r.path == path).count()
    };
    let before = pays(&f);
    f.b.run_billing(end + 7_200).await;
    assert_eq!(pays(&f), before);
    let item = f.b.env.store.get_subscription(&id).await.expect("read").expect("subscription");
    assert!(!item.usage_periods.iter().any(|p| p.end == end));
}
