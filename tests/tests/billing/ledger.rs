//! The partners' revenue ledger: both rails post every captured payment once (GST + commission + partner
//! earnings, exact to the paisa), refunds reverse their proportional part once whatever the order of events,
//! and the monthly statements pay out exactly the available balance, once however often the run repeats.

use crate::fixture;
use chrono::{DateTime, Duration, Utc};
use integration_tests::rng::Rng;
use integration_tests::stripe_local::object_of;
use serde_json::json;
use shared::ledger::{PartnerLedger, PaymentFacts, StatementFiles, balances, payment_posting, settle_refunds};
use shared::model::SolutionStatus;
use shared::model::{Provider, RefundStatus};
use shared::money::split::{self, Split};
use shared::platform::clock::Clock;
use shared::store::keys;
use shared::store::ledger::{PostingItem, PostingKind};
use shared::store::partners::PartnerItem;
use shared::store::subscriptions::{PaymentItem, RefundItem};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The ledger as the partners function reads it (revenue views).
fn ledger(f: &crate::Fixture) -> PartnerLedger {
    PartnerLedger::new(f.b.env.store_for("partners"), Arc::new(f.b.env.clock.clone()))
}

/// The payout statements' bucket as the billing function writes it (`STATEMENT_BUCKET`).
fn statement_files(f: &crate::Fixture) -> StatementFiles {
    let recorder = integration_tests::iam::IamRecorder::new("billing").bind(&f.b.bucket, "STATEMENT_BUCKET");
    StatementFiles { s3: integration_tests::harness::function_s3(&f.b.s3, recorder), bucket: f.b.bucket.clone() }
}

async fn postings(f: &crate::Fixture, partner_id: &str) -> Vec<PostingItem> {
    let far = f.b.env.clock.now() + Duration::days(3650);
    let mut out = Vec::new();
    for item in
        f.b.env
            .store
            .gsi1_range(&keys::partner_ledger_partition(partner_id), "0", &format!("{}#", far.to_rfc3339()))
            .await
            .expect("ledger")
    {
        out.push(shared::store::from_item::<PostingItem>(item).expect("posting"));
    }
    out
}

#[tokio::test]
async fn a_phonepe_payment_and_its_refund_post_once_each() {
    let f = fixture().await;
    let partner = f.solution.partner_id.clone();
    let body = json!({"solution_id": f.solution.solution_id, "tier": "pro", "provider": "phonepe"});
    let r = f.b.call("POST", "/api/subscriptions", Some(body), Some(&f.access)).await;
    let mid = r.body["payment"]["merchant_order_id"].as_str().expect("order").to_owned();
    f.b.phonepe.complete(&mid);
    for _ in 0..2 {
        let v =
            f.b.call("POST", "/api/payments/verify", Some(json!({"merchant_order_id": mid})), Some(&f.access)).await;
        assert_eq!(v.body["state"], "completed", "{:?}", v.body);
    }
    let posted = postings(&f, &partner).await;
    assert_eq!(posted.len(), 1, "verify twice, one posting");
    let p = &posted[0];
    assert_eq!((p.kind, p.split), (PostingKind::Payment, split::split_payment(49_900, 7_612, 2_000)));
    assert_eq!(p.split, Split { gross: 49_900, tax: 7_612, commission: 8_458, partner: 33_830 });
    assert!(split::balanced(&p.entries) && p.first_payment);
    let solution = f.b.env.store.get_solution(&f.solution.solution_id).await.expect("read").expect("solution");
    assert_eq!(solution.subscribers, 1, "popularity counts the first payment");
    // A partial refund through PhonePe: reversed in proportion, once however often the callback comes.
    let history = f.b.call("GET", "/api/payments/history", None, Some(&f.access)).await;
    let payment_id = history.body["items"][0]["payment_id"].as_str().expect("payment").to_owned();
    let r =
        f.b.call(
            "POST",
            &format!("/api/payments/{payment_id}/refund"),
            Some(json!({"amount": 10_000, "reason": "asked"})),
            Some(&f.admin),
        )
        .await;
    let refund_id = r.body["provider_refund_id"].as_str().expect("refund").to_owned();
    assert_eq!(postings(&f, &partner).await.len(), 1, "a pending refund posts nothing");
    f.b.phonepe.settle_refund(&refund_id, true);
    for _ in 0..2 {
        assert_eq!(f.b.phonepe_callback(&f.b.phonepe.refund_callback(&refund_id)).await.status, 200);
    }
    let posted = postings(&f, &partner).await;
    let reversal = posted.iter().find(|p| p.kind == PostingKind::Refund).expect("reversal");
    assert_eq!(posted.len(), 2);
    assert_eq!(
        reversal.split,
        split::split_refund(&p.split, &Split { gross: 0, tax: 0, commission: 0, partner: 0 }, 10_000)
    );
    assert_eq!(reversal.split, Split { gross: 10_000, tax: 1_525, commission: 1_695, partner: 6_780 });
    assert!(split::balanced(&reversal.entries));
    let view = ledger(&f).revenue(&partner, None, None).await.expect("revenue");
    let inr = &view.totals["inr"];
    assert_eq!(
        (inr.gross, inr.tax, inr.commission, inr.earnings, inr.reversed, inr.net),
        (39_900, 6_087, 6_763, 33_830, 6_780, 27_050)
    );
    assert_eq!(view.balance["inr"], 27_050);
}

#[tokio::test]
async fn a_stripe_invoice_paid_posts_once_at_the_partners_rate() {
    let f = fixture().await;
    let partner = f.solution.partner_id.clone();
    // This partner's commission is 15%.
    let mut p: shared::store::partners::PartnerItem =
        f.b.env.store.get(&keys::partner(&partner), true).await.expect("read").expect("partner");
    p.commission_bp = Some(1_500);
    f.b.env.store.put(&p, None).await.expect("save");
    let (id, _) = f.b.subscribe(&f.access, &f.solution.solution_id, "pro").await;
    let posted = postings(&f, &partner).await;
    assert_eq!(posted.len(), 1, "{posted:?}");
    let tax = shared::ledger::inclusive_tax(49_900, "inr");
    assert_eq!(posted[0].split, split::split_payment(49_900, tax, 1_500));
    assert_eq!((posted[0].commission_bp, posted[0].subscription_id.as_deref()), (1_500, Some(id.as_str())));
    // The customer's next period: a renewal posts again, not as a first payment.
    let stripe_sub =
        f.b.env
            .store
            .get_subscription(&id)
            .await
            .expect("read")
            .expect("sub")
            .provider_subscription_id
            .expect("stripe id");
    for e in f.b.stripe.renew(&stripe_sub) {
        for _ in 0..2 {
            assert_eq!(f.b.deliver(&e).await.status, 200, "Stripe retries: nothing more");
        }
    }
    let posted = postings(&f, &partner).await;
    assert_eq!(posted.len(), 2, "{posted:?}");
    assert_eq!(posted.iter().filter(|p| p.first_payment).count(), 1);
}

const NOTHING: Split = Split { gross: 0, tax: 0, commission: 0, partner: 0 };

fn plus(a: Split, b: Split) -> Split {
    Split {
        gross: a.gross + b.gross,
        tax: a.tax + b.tax,
        commission: a.commission + b.commission,
        partner: a.partner + b.partner,
    }
}

fn minus(a: Split, b: Split) -> Split {
    Split {
        gross: a.gross - b.gross,
        tax: a.tax - b.tax,
        commission: a.commission - b.commission,
        partner: a.partner - b.partner,
    }
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
}

/// What refunds of a payment reversed, net of reinstatements (refunds that failed after they succeeded).
fn net_reversed(all: &[PostingItem], payment_id: &str) -> Split {
    all.iter().filter(|p| p.payment_id.as_deref() == Some(payment_id)).fold(NOTHING, |acc, p| match p.kind {
        PostingKind::Refund => plus(acc, p.split),
        PostingKind::Reinstatement => minus(acc, p.split),
        _ => acc,
    })
}

async fn set_commission(f: &crate::Fixture, partner_id: &str, rate: Option<u32>) {
    let mut p: PartnerItem = f.b.env.store.get(&keys::partner(partner_id), true).await.expect("read").expect("partner");
    p.commission_bp = rate;
    f.b.env.store.put(&p, None).await.expect("save");
}

/// A payment of `solution_id` as the rails record it: posted in the same transaction (delivered twice), then
/// its refunds settled.
async fn pay(f: &crate::Fixture, payment: &PaymentItem, first_payment: bool) {
    let store = &f.b.env.store;
    let facts =
        PaymentFacts { tax: None, tier: Some(shared::model::Tier::Pro), period: None, first_payment, overage: None };
    let extra = payment_posting(store, payment, facts).await.expect("posting");
    for _ in 0..2 {
        store.put_payment_once(payment, extra.clone()).await.expect("record");
    }
    settle_refunds(store, &f.b.env.clock, &payment.payment_id).await.expect("settle");
}

#[allow(clippy::too_many_arguments)]
fn payment(
    f: &crate::Fixture,
    id: &str,
    solution_id: &str,
    subscription_id: &str,
    provider: Provider,
    amount: i64,
    currency: &str,
) -> PaymentItem {
    let now = f.b.env.clock.now();
    let mut p = PaymentItem::new(
        id,
        &f.user_id,
        provider,
        format!("prov_{id}"),
        amount,
        currency,
        shared::platform::clock::rfc3339(now),
        shared::platform::clock::rfc3339(now),
    );
    p.solution_id = Some(solution_id.to_owned());
    p.subscription_id = Some(subscription_id.to_owned());
    p
}

/// A refund event as the rails record it (status moving forward only), then settled (twice: replays).
async fn refund_event(f: &crate::Fixture, payment: &PaymentItem, n: usize, amount: i64, status: RefundStatus) {
    let store = &f.b.env.store;
    let now = shared::platform::clock::rfc3339(f.b.env.clock.now());
    let item = RefundItem::new(
        format!("rfd_{}_{n}", payment.payment_id),
        &payment.payment_id,
        &f.user_id,
        payment.provider,
        &format!("re_{}_{n}", payment.payment_id),
        amount,
        &payment.currency,
        status,
        now.clone(),
        now,
    );
    store.record_refund(&item).await.expect("refund");
    for _ in 0..2 {
        settle_refunds(store, &f.b.env.clock, &payment.payment_id).await.expect("settle");
    }
}

/// One generated payment: its refunds' amounts and the status events each gets (in delivery order).
struct Case {
    payment: PaymentItem,
    partner_id: String,
    refunds: Vec<(i64, Vec<RefundStatus>)>,
}

impl Case {
    /// The refunds that end succeeded (statuses only move forward: the highest delivered wins).
    fn effective(&self) -> i64 {
        self.refunds
            .iter()
            .filter(|(_, events)| events.iter().max() == Some(&RefundStatus::Succeeded))
            .map(|(a, _)| *a)
            .sum()
    }
}

#[tokio::test]
async fn random_payments_and_partial_refunds_on_both_rails_balance_and_pay_out_exactly_once() {
    let f = fixture().await;
    let store = &f.b.env.store;
    let clock = &f.b.env.clock;
    // Three partners: a 17.5% override, the default 20%, and a 0% override.
    let second = f.b.env.solution(SolutionStatus::Published).await;
    let third = f.b.env.solution(SolutionStatus::Published).await;
    let solutions = [f.solution.clone(), second, third];
    let rates = [Some(1_750), None, Some(0)];
    for (s, rate) in solutions.iter().zip(rates) {
        set_commission(&f, &s.partner_id, rate).await;
    }
    let october = at("2026-10-05T06:00:00Z");
    clock.set(october);
    let mut rng = Rng::from_state(0x9e37_79b9_7f4a_7c15);
    let mut cases = Vec::new();
    let mut seen_subscriptions = std::collections::HashSet::new();
    let (mut reinstated_cases, mut early_cases, mut full_cases) = (0, 0, 0);
    for i in 0..48u64 {
        clock.set(october + Duration::hours(i as i64 * 7));
        let which = rng.below(3) as usize;
        let solution = &solutions[which];
        let currency = if rng.below(4) == 0 { "usd" } else { "inr" };
        let amount = 100 + rng.below(500_000) as i64;
        let provider = if rng.below(2) == 0 { Provider::Stripe } else { Provider::Phonepe };
        let subscription = format!("sub_prop_{which}_{}", rng.below(4));
        let first = seen_subscriptions.insert(subscription.clone());
        let p = payment(&f, &format!("pay_prop_{i}"), &solution.solution_id, &subscription, provider, amount, currency);
        // Up to four refunds that together never exceed the payment; a quarter of the refunded payments are
        // refunded in full (their pieces sum to the amount).
        let k = rng.below(5) as usize;
        let full = k > 0 && rng.below(4) == 0;
        let pieces: Vec<i64> = if full {
            let mut cuts: Vec<i64> = (0..k - 1).map(|_| 1 + rng.below(amount as u64 - 1) as i64).collect();
            cuts.push(0);
            cuts.push(amount);
            cuts.sort_unstable();
            cuts.windows(2).map(|w| w[1] - w[0]).collect()
        } else {
            (0..k).map(|_| 1 + rng.below(amount as u64 / (k as u64 + 1)) as i64).collect()
        };
        use RefundStatus::{Failed, Pending, Succeeded};
        let refunds: Vec<(i64, Vec<RefundStatus>)> = pieces
            .into_iter()
            .map(|a| {
                let events = if full {
                    vec![Pending, Succeeded]
                } else {
                    match rng.below(10) {
                        0..=4 => vec![Succeeded],
                        5 => vec![Failed],
                        6 | 7 => vec![Pending, Succeeded, Failed], // fails after it succeeded
                        8 => vec![Failed, Succeeded],              // out of order: ends failed
                        _ => vec![Pending],
                    }
                };
                (a, events)
            })
            .collect();
        // Deliver the payment and every refund event in a random order (refunds may come first).
        let mut timeline: Vec<Option<(usize, RefundStatus)>> = vec![None];
        for (n, (_, events)) in refunds.iter().enumerate() {
            timeline.extend(events.iter().map(|s| Some((n, *s))));
        }
        for j in (1..timeline.len()).rev() {
            timeline.swap(j, rng.below(j as u64 + 1) as usize);
        }
        if timeline[0].is_some() {
            early_cases += 1;
        }
        for event in &timeline {
            match event {
                None => pay(&f, &p, first).await,
                Some((n, status)) => refund_event(&f, &p, *n, refunds[*n].0, *status).await,
            }
        }
        let case = Case { payment: p, partner_id: solution.partner_id.clone(), refunds };
        if case.refunds.iter().any(|(_, e)| e.len() == 3) {
            reinstated_cases += 1;
        }
        if full {
            full_cases += 1;
        }
        cases.push(case);
    }
    assert!(early_cases > 0 && reinstated_cases > 0 && full_cases > 0, "the seed covers every path");

    // Every posting balances and splits exactly; reversals never exceed the payment's parts; a full refund
    // reverses every part exactly.
    let mut expected: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut ledgers: BTreeMap<String, Vec<PostingItem>> = BTreeMap::new();
    for s in &solutions {
        ledgers.insert(s.partner_id.clone(), postings(&f, &s.partner_id).await);
    }
    for (i, case) in cases.iter().enumerate() {
        let all = &ledgers[&case.partner_id];
        let id = &case.payment.payment_id;
        let posted: Vec<&PostingItem> = all.iter().filter(|p| &p.source_id == id).collect();
        assert_eq!(posted.len(), 1, "{id}: posted once");
        let pay = posted[0];
        let rate = rates[solutions.iter().position(|s| s.partner_id == case.partner_id).expect("partner")];
        let tax = shared::ledger::inclusive_tax(case.payment.amount, &case.payment.currency);
        assert_eq!(pay.split, split::split_payment(case.payment.amount, tax, rate.unwrap_or(2_000)), "{id}");
        assert!(split::balanced(&pay.entries) && pay.split.is_balanced());
        assert_eq!(
            pay.first_payment,
            cases[..i].iter().all(|c| c.payment.subscription_id != case.payment.subscription_id)
        );
        for p in all.iter().filter(|p| p.payment_id.as_deref() == Some(id.as_str())) {
            assert!(split::balanced(&p.entries) && p.split.is_balanced(), "{p:?}");
            assert!([p.split.gross, p.split.tax, p.split.commission, p.split.partner].iter().all(|v| *v >= 0));
        }
        let reversed = net_reversed(all, id);
        assert_eq!(pay.reversed, Some(reversed), "{id}: the payment's posting tracks its reversals");
        assert_eq!(reversed.gross, case.effective(), "{id}: {:?}", case.refunds);
        assert!(
            reversed.tax <= pay.split.tax
                && reversed.commission <= pay.split.commission
                && reversed.partner <= pay.split.partner
                && reversed.tax >= 0
                && reversed.commission >= 0
                && reversed.partner >= 0,
            "{id}"
        );
        if case.effective() == case.payment.amount {
            assert_eq!(reversed, pay.split, "{id}: a full refund reverses every part exactly");
        }
        let reinstatements =
            all.iter().filter(|p| p.kind == PostingKind::Reinstatement && p.payment_id.as_deref() == Some(id.as_str()));
        for r in reinstatements {
            let refund_id = r.source_id.trim_end_matches("/failed");
            let reversal = all.iter().find(|p| p.source_id == refund_id).expect("its reversal");
            assert_eq!(r.split, reversal.split, "a reinstatement undoes exactly its reversal");
        }
        *expected.entry((case.partner_id.clone(), case.payment.currency.clone())).or_insert(0) +=
            pay.split.partner - reversed.partner;
    }
    for (partner, all) in &ledgers {
        let mine: BTreeMap<String, i64> =
            expected.iter().filter(|((p, _), _)| p == partner).map(|((_, c), v)| (c.clone(), *v)).collect();
        assert_eq!(balances(all), mine, "{partner}");
        let view = ledger(&f).revenue(partner, Some("2026-10-01"), Some("2026-10-31")).await.expect("revenue");
        assert_eq!(view.balance, mine);
        for (currency, t) in &view.totals {
            assert_eq!((t.gross, t.net), (t.tax + t.commission + t.earnings - t.reversed, mine[currency]));
        }
    }
    let solution = store.get_solution(&solutions[0].solution_id).await.expect("read").expect("solution");
    let firsts = cases
        .iter()
        .enumerate()
        .filter(|(i, c)| {
            c.partner_id == solutions[0].partner_id
                && cases[..*i].iter().all(|o| o.payment.subscription_id != c.payment.subscription_id)
        })
        .count();
    assert_eq!(solution.subscribers, firsts as u64, "first payments count subscribers, once each");

    // The monthly run, twice: one statement, one payout posting and one document per partner and currency;
    // the payout is exactly the available balance.
    clock.set(at("2026-11-02T00:00:00Z"));
    let files = statement_files(&f);
    let l = PartnerLedger::new(f.b.env.store_for("billing"), Arc::new(f.b.env.clock.clone()));
    let first = l.monthly(Some("2026-10"), Some(&files), || true).await.expect("monthly");
    let again = l.monthly(Some("2026-10"), Some(&files), || true).await.expect("monthly again");
    let n = expected.len() as u32;
    assert_eq!((first.statements, first.documents), (n, n), "{first:?}");
    assert_eq!((again.statements, again.already_done, again.documents), (0, n, 0), "{again:?}");
    let objects = f.b.s3.list_objects_v2().bucket(&f.b.bucket).prefix("statements/").send().await.expect("list");
    assert_eq!(objects.contents().len(), expected.len());
    for s in &solutions {
        let statements = store.statements_of(&s.partner_id).await.expect("statements");
        let after = postings(&f, &s.partner_id).await;
        for st in &statements {
            let available = expected[&(s.partner_id.clone(), st.currency.clone())];
            assert_eq!((st.opening, st.closing, st.payout), (0, available, available.max(0)), "{st:?}");
            let key = st.document_key.clone().expect("document");
            let doc = f.b.s3.get_object().bucket(&f.b.bucket).key(&key).send().await.expect("document in S3");
            let body = doc.body.collect().await.expect("body").into_bytes();
            let doc: serde_json::Value = serde_json::from_slice(&body).expect("json");
            assert_eq!(
                (doc["payout"].as_i64(), doc["statement_id"].as_str()),
                (Some(st.payout), Some(&*st.statement_id))
            );
            let payouts: Vec<&PostingItem> =
                after.iter().filter(|p| p.kind == PostingKind::Payout && p.currency == st.currency).collect();
            assert_eq!(payouts.len(), usize::from(st.payout > 0));
            for p in payouts {
                assert!(split::balanced(&p.entries) && p.split.partner == st.payout);
            }
        }
        assert!(balances(&after).values().all(|b| *b == 0), "everything available was paid out, nothing more");
        let list = l.payouts(&s.partner_id, 10, None).await.expect("payouts");
        assert_eq!(list.statements.len(), statements.len());
    }

    // November: a payment of the first partner is refunded in full after its payout, and no statement is
    // made for November (a run that never finished). December's statement catches November up: the negative
    // balance is netted against December's earnings, the payout never exceeds what is available.
    let partner = &solutions[0].partner_id;
    let refunded = cases
        .iter()
        .find(|c| &c.partner_id == partner && c.refunds.is_empty() && c.payment.currency == "inr")
        .expect("an unrefunded INR payment");
    clock.set(at("2026-11-10T00:00:00Z"));
    refund_event(&f, &refunded.payment, 9, refunded.payment.amount, RefundStatus::Succeeded).await;
    clock.set(at("2026-12-10T00:00:00Z"));
    let small = payment(&f, "pay_december", &solutions[0].solution_id, "sub_dec", Provider::Phonepe, 1_000, "inr");
    pay(&f, &small, true).await;
    let available = balances(&postings(&f, partner).await)["inr"];
    clock.set(at("2027-01-01T12:00:00Z"));
    let december = l.monthly(None, Some(&files), || true).await.expect("december statements");
    assert_eq!(december.month, "2026-12");
    let dec = store.get_statement(partner, "2026-12", "inr").await.expect("read").expect("december inr");
    let oct = store.get_statement(partner, "2026-10", "inr").await.expect("read").expect("october inr");
    assert_eq!((dec.opening, dec.refunds, dec.payments), (oct.carried, 1, 1), "{dec:?}");
    assert_eq!((dec.closing, dec.payout), (available, available.max(0)));
    assert!(dec.payout <= available.max(0) && dec.carried == dec.closing - dec.payout);
    // November, run late: never stated after December (its postings are in December's statement).
    let late = l.monthly(Some("2026-11"), Some(&files), || true).await.expect("november late");
    assert_eq!((late.statements, late.skipped), (0, 1), "{late:?}");
    assert!(store.get_statement(partner, "2026-11", "inr").await.expect("read").is_none());
    let after = balances(&postings(&f, partner).await);
    assert_eq!(after["inr"], dec.carried, "the ledger's balance is the carried balance");
}

#[tokio::test]
async fn stripe_refunds_reverse_in_proportion_in_any_order_and_one_failing_after_it_succeeded_is_undone() {
    let f = fixture().await;
    let partner = f.solution.partner_id.clone();
    let created = f.b.create_subscription(&f.access, &f.solution.solution_id, "pro", "stripe").await;
    let id = created["subscription_id"].as_str().expect("id").to_owned();
    let item = f.b.env.store.get_subscription(&id).await.expect("read").expect("sub");
    let s = &f.b.stripe;
    s.set_now(f.b.env.clock.now().timestamp());
    let checkout = s.complete_checkout(item.checkout_session_id.as_deref().expect("session"));
    let invoice = object_of(&checkout, "invoice.paid")["id"].as_str().expect("invoice").to_owned();
    let pi = s.payment_intent_of(&invoice).expect("payment intent");
    // The first refund's event arrives before the payment's (twice).
    let first_refund = format!("re_{}", ulid::Ulid::new());
    let refunded = s.refunded_event(&pi, &[(first_refund, 9_900)]);
    for _ in 0..2 {
        assert_eq!(f.b.deliver(&refunded).await.status, 200);
    }
    assert!(postings(&f, &partner).await.is_empty(), "nothing posted before the payment");
    for e in &checkout {
        assert_eq!(f.b.deliver(e).await.status, 200);
    }
    let paid = checkout.iter().find(|e| e["type"] == "invoice.paid").expect("invoice.paid");
    assert_eq!(f.b.deliver(paid).await.status, 200, "invoice.paid again");
    let posted = postings(&f, &partner).await;
    assert_eq!(posted.len(), 2, "the payment, and the refund that waited for it: {posted:?}");
    let pay = posted.iter().find(|p| p.kind == PostingKind::Payment).expect("payment").clone();
    let first = posted.iter().find(|p| p.kind == PostingKind::Refund).expect("reversal").clone();
    assert_eq!(pay.split, split::split_payment(49_900, 7_612, 2_000));
    assert_eq!(first.split, split::split_refund(&pay.split, &NOTHING, 9_900));
    assert_eq!(pay.reversed, Some(first.split));
    // A second refund: pending (nothing), succeeded (reversed in proportion of what is left), then failed
    // after all (the reversal undone), then its older events again (nothing more).
    let second = format!("re_{}", ulid::Ulid::new());
    let pending = s.refund_event("refund.created", &second, &pi, 5_000, "pending");
    let succeeded = s.refund_event("refund.updated", &second, &pi, 5_000, "succeeded");
    let failed = s.refund_event("refund.failed", &second, &pi, 5_000, "failed");
    assert_eq!(f.b.deliver(&pending).await.status, 200);
    assert_eq!(postings(&f, &partner).await.len(), 2, "a pending refund posts nothing");
    assert_eq!(f.b.deliver(&succeeded).await.status, 200);
    let posted = postings(&f, &partner).await;
    let second_reversal = posted
        .iter()
        .find(|p| p.kind == PostingKind::Refund && p.source_id != first.source_id)
        .expect("second reversal")
        .clone();
    assert_eq!(second_reversal.split, split::split_refund(&pay.split, &first.split, 5_000));
    for e in [&failed, &succeeded, &pending, &failed] {
        assert_eq!(f.b.deliver(e).await.status, 200);
    }
    let posted = postings(&f, &partner).await;
    assert_eq!(posted.len(), 4, "{posted:?}");
    let undone = posted.iter().find(|p| p.kind == PostingKind::Reinstatement).expect("reinstatement");
    assert_eq!((undone.split, undone.payment_id.as_deref()), (second_reversal.split, Some(pay.source_id.as_str())));
    assert!(split::balanced(&undone.entries));
    let now = f.b.env.store.get_posting(&pay.source_id).await.expect("read").expect("payment posting");
    assert_eq!(now.reversed, Some(first.split), "only the refund that held is reversed");
    let view = ledger(&f).revenue(&partner, None, None).await.expect("revenue");
    let inr = &view.totals["inr"];
    assert_eq!((inr.gross, inr.reversed, inr.refunds), (49_900 - 9_900, first.split.partner, 2));
    assert_eq!(view.balance["inr"], pay.split.partner - first.split.partner);
    // The same events in another order end in the same ledger: the failure first, then its success.
    let g = fixture().await;
    let created = g.b.create_subscription(&g.access, &g.solution.solution_id, "pro", "stripe").await;
    let id = created["subscription_id"].as_str().expect("id").to_owned();
    let item = g.b.env.store.get_subscription(&id).await.expect("read").expect("sub");
    let s = &g.b.stripe;
    s.set_now(g.b.env.clock.now().timestamp());
    let checkout = s.complete_checkout(item.checkout_session_id.as_deref().expect("session"));
    let invoice = object_of(&checkout, "invoice.paid")["id"].as_str().expect("invoice").to_owned();
    let pi = s.payment_intent_of(&invoice).expect("payment intent");
    let refund = format!("re_{}", ulid::Ulid::new());
    let failed = s.refund_event("refund.failed", &refund, &pi, 5_000, "failed");
    let succeeded = s.refund_event("refund.updated", &refund, &pi, 5_000, "succeeded");
    for e in std::iter::once(failed).chain(checkout).chain([succeeded]) {
        assert_eq!(g.b.deliver(&e).await.status, 200);
    }
    let posted = postings(&g, &g.solution.partner_id).await;
    assert_eq!(posted.len(), 1, "a refund that failed (whatever came after) posts nothing: {posted:?}");
    assert_eq!(posted[0].reversed, Some(NOTHING));
}

#[tokio::test]
async fn the_monthly_job_runs_through_the_billing_handler_stops_at_its_deadline_and_pays_once() {
    let f = fixture().await;
    let store = &f.b.env.store;
    let clock = &f.b.env.clock;
    let other = f.b.env.solution(SolutionStatus::Published).await;
    clock.set(at("2026-10-12T10:00:00Z"));
    for (i, s) in [&f.solution, &other].into_iter().enumerate() {
        let p = payment(
            &f,
            &format!("pay_job_{i}"),
            &s.solution_id,
            &format!("sub_job_{i}"),
            Provider::Stripe,
            29_900,
            "inr",
        );
        pay(&f, &p, true).await;
    }
    clock.set(at("2026-11-03T00:00:00Z"));
    let mut state =
        billing::AppState::new(f.b.env.store_for("billing"), Arc::new(clock.clone()), 7 * 86_400, "https://app.test");
    state.statement_files = Some(statement_files(&f));
    let job =
        || -> billing::Job { serde_json::from_value(json!({"job": "monthly", "month": "2026-10"})).expect("job") };
    // Out of time: nothing stated, incomplete.
    let late = billing::handle(&state, job(), chrono::Utc::now().timestamp_millis() - 1_000).await.expect("run");
    let report = late.statements.expect("report");
    assert!(!late.report.complete && !report.complete && report.statements == 0, "{report:?}");
    // With time, twice: each partner stated and paid once, one document each.
    let deadline = || chrono::Utc::now().timestamp_millis() + 120_000;
    let first = billing::handle(&state, job(), deadline()).await.expect("run").statements.expect("report");
    let second = billing::handle(&state, job(), deadline()).await.expect("run").statements.expect("report");
    assert!(first.complete && second.complete);
    assert_eq!((first.partners, first.statements, first.documents), (2, 2, 2), "{first:?}");
    assert_eq!((second.statements, second.already_done, second.documents), (0, 2, 0), "{second:?}");
    let split = split::split_payment(29_900, shared::ledger::inclusive_tax(29_900, "inr"), 2_000);
    assert_eq!(first.paid_out["inr"], 2 * split.partner);
    for s in [&f.solution, &other] {
        let statements = store.statements_of(&s.partner_id).await.expect("statements");
        assert_eq!(statements.len(), 1);
        assert_eq!((statements[0].payout, statements[0].carried), (split.partner, 0));
        let key = format!("statements/{}/2026-10-inr.json", s.partner_id);
        assert_eq!(statements[0].document_key.as_deref(), Some(key.as_str()));
        let posted = postings(&f, &s.partner_id).await;
        assert_eq!(posted.iter().filter(|p| p.kind == PostingKind::Payout).count(), 1);
    }
    let objects = f.b.s3.list_objects_v2().bucket(&f.b.bucket).prefix("statements/").send().await.expect("list");
    assert_eq!(objects.contents().len(), 2);
    // The default month is last month in India time; a month not over yet is refused.
    let now = billing::handle(&state, serde_json::from_value(json!({"job": "monthly"})).expect("job"), deadline())
        .await
        .expect("run")
        .statements
        .expect("report");
    assert_eq!((now.month.as_str(), now.statements, now.already_done), ("2026-10", 0, 2));
    let unfinished: billing::Job = serde_json::from_value(json!({"job": "monthly", "month": "2026-11"})).expect("job");
    assert!(billing::handle(&state, unfinished, deadline()).await.is_err());
}
