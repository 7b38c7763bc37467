//! The partners' revenue ledger: both rails post every captured payment once (GST + commission + partner
//! earnings, exact to the paisa), refunds reverse their proportional part once whatever the order of events,
//! and the monthly statements pay out exactly the available balance, once however often the run repeats.

use crate::fixture;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use shared::clock::Clock;
use shared::earnings::{PartnerLedger, PaymentFacts, StatementFiles, balances, payment_posting, settle_refunds};
use shared::revenue::{self, Split};
use shared::store::items::{PaymentItem, PostingItem, PostingKind, RefundItem};
use shared::store::keys;
use shared::subscriptions::{Provider, RefundStatus};
use std::sync::Arc;

fn ledger(f: &crate::Fixture) -> PartnerLedger {
    PartnerLedger::new(f.b.env.store.clone(), Arc::new(f.b.env.clock.clone()))
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
    assert_eq!((p.kind, p.split), (PostingKind::Payment, revenue::split_payment(49_900, 7_612, 2_000)));
    assert_eq!(p.split, Split { gross: 49_900, tax: 7_612, commission: 8_458, partner: 33_830 });
    assert!(revenue::balanced(&p.entries) && p.first_payment);
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
        revenue::split_refund(&p.split, &Split { gross: 0, tax: 0, commission: 0, partner: 0 }, 10_000)
    );
    assert_eq!(reversal.split, Split { gross: 10_000, tax: 1_525, commission: 1_695, partner: 6_780 });
    assert!(revenue::balanced(&reversal.entries));
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
    let mut p: shared::store::items::PartnerItem =
        f.b.env.store.get(&keys::partner(&partner), true).await.expect("read").expect("partner");
    p.commission_bp = Some(1_500);
    f.b.env.store.put(&p, None).await.expect("save");
    let (id, _) = f.b.subscribe(&f.access, &f.solution.solution_id, "pro").await;
    let posted = postings(&f, &partner).await;
    assert_eq!(posted.len(), 1, "{posted:?}");
    let tax = shared::earnings::inclusive_tax(49_900, "inr");
    assert_eq!(posted[0].split, revenue::split_payment(49_900, tax, 1_500));
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

/// A small deterministic generator (no extra crates): xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[tokio::test]
async fn random_payments_and_partial_refunds_on_both_rails_balance_and_pay_out_exactly_once() {
    let f = fixture().await;
    let store = &f.b.env.store;
    let clock = &f.b.env.clock;
    let partner = f.solution.partner_id.clone();
    let mut p: shared::store::items::PartnerItem =
        store.get(&keys::partner(&partner), true).await.expect("read").expect("p");
    p.commission_bp = Some(1_750);
    store.put(&p, None).await.expect("save");
    let october = DateTime::parse_from_rfc3339("2026-10-05T06:00:00Z").expect("t").with_timezone(&Utc);
    clock.set(october);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut expected_partner: std::collections::BTreeMap<String, i64> = Default::default();
    let mut payments = Vec::new();
    for i in 0..40u64 {
        clock.set(october + Duration::hours(i as i64 * 7));
        let currency = if rng.below(4) == 0 { "usd" } else { "inr" };
        let amount = 100 + rng.below(500_000) as i64;
        let provider = if rng.below(2) == 0 { Provider::Stripe } else { Provider::Phonepe };
        let payment_id = format!("pay_prop_{i}");
        let mut payment = PaymentItem::new(
            &payment_id,
            &f.user_id,
            provider,
            format!("prov_{i}"),
            amount,
            currency,
            clock.now().to_rfc3339(),
            shared::tokens::rfc3339(clock.now()),
        );
        payment.solution_id = Some(f.solution.solution_id.clone());
        payment.subscription_id = Some(format!("sub_prop_{}", i % 7));
        // Refunds: up to 4 partial ones, some succeeding before their payment is even recorded.
        let refunds: Vec<i64> = (0..rng.below(5)).map(|_| 1 + rng.below(amount as u64 / 3 + 1) as i64).collect();
        let early = rng.below(3) == 0;
        let record_refunds = |refunds: &Vec<i64>, pid: &str| {
            let pid = pid.to_owned();
            let refunds = refunds.clone();
            let user = f.user_id.clone();
            let cur = currency.to_owned();
            async move {
                for (j, r) in refunds.iter().enumerate() {
                    let item = RefundItem::new(
                        format!("rfd_{pid}_{j}"),
                        &pid,
                        &user,
                        provider,
                        &format!("re_{pid}_{j}"),
                        *r,
                        &cur,
                        if j % 3 == 2 { RefundStatus::Failed } else { RefundStatus::Succeeded },
                        "2026-10-05T06:00:00Z".into(),
                        "2026-10-05T06:00:00Z".into(),
                    );
                    store.record_refund(&item).await.expect("refund");
                }
            }
        };
        if early {
            record_refunds(&refunds, &payment_id).await;
            settle_refunds(store, clock, &payment_id).await.expect("settle before payment");
        }
        let facts =
            PaymentFacts { tax: None, tier: Some(shared::solutions::Tier::Pro), period: None, first_payment: i < 7 };
        let extra = payment_posting(store, &payment, facts).await.expect("posting");
        // Delivered twice: one posting.
        for _ in 0..2 {
            store.put_payment_once(&payment, extra.clone()).await.expect("record");
        }
        if !early {
            record_refunds(&refunds, &payment_id).await;
        }
        for _ in 0..2 {
            settle_refunds(store, clock, &payment_id).await.expect("settle");
        }
        payments.push((payment_id, amount, currency.to_owned(), refunds));
    }
    // Every posting balances and splits exactly; reversals never exceed the payment's parts.
    let all = postings(&f, &partner).await;
    for (payment_id, amount, currency, refunds) in &payments {
        let pay = all.iter().find(|p| &p.source_id == payment_id).expect("payment posted once");
        assert!(revenue::balanced(&pay.entries) && pay.split.is_balanced());
        assert_eq!((pay.split.gross, pay.split.tax), (*amount, shared::earnings::inclusive_tax(*amount, currency)));
        let reversals: Vec<&PostingItem> = all
            .iter()
            .filter(|p| p.kind == PostingKind::Refund && p.payment_id.as_deref() == Some(payment_id))
            .collect();
        let succeeded: i64 = refunds.iter().enumerate().filter(|(j, _)| j % 3 != 2).map(|(_, r)| *r).sum();
        let reversed = reversals.iter().fold(Split { gross: 0, tax: 0, commission: 0, partner: 0 }, |a, r| Split {
            gross: a.gross + r.split.gross,
            tax: a.tax + r.split.tax,
            commission: a.commission + r.split.commission,
            partner: a.partner + r.split.partner,
        });
        assert_eq!(reversed.gross, succeeded.min(*amount), "{payment_id}");
        assert!(
            reversed.tax <= pay.split.tax
                && reversed.commission <= pay.split.commission
                && reversed.partner <= pay.split.partner
        );
        if succeeded >= *amount {
            assert_eq!(reversed, pay.split, "a full refund reverses every part exactly");
        }
        for r in &reversals {
            assert!(revenue::balanced(&r.entries) && r.split.is_balanced());
        }
        *expected_partner.entry(currency.clone()).or_insert(0) += pay.split.partner - reversed.partner;
    }
    assert_eq!(all.len(), payments.len() + all.iter().filter(|p| p.kind == PostingKind::Refund).count());
    assert_eq!(balances(&all), expected_partner);

    // The monthly run, twice: one statement, one payout posting and one document per currency; the payout
    // is exactly the available balance.
    clock.set(DateTime::parse_from_rfc3339("2026-11-02T00:00:00Z").expect("t").with_timezone(&Utc));
    let files = StatementFiles { s3: f.b.s3.clone(), bucket: f.b.bucket.clone() };
    let l = ledger(&f);
    let first = l.monthly(Some("2026-10"), Some(&files), || true).await.expect("monthly");
    let second = l.monthly(Some("2026-10"), Some(&files), || true).await.expect("monthly again");
    let currencies = expected_partner.len() as u32;
    assert_eq!(
        (first.statements, second.statements, second.already_done),
        (currencies, 0, currencies),
        "{first:?} {second:?}"
    );
    let statements = store.statements_of(&partner).await.expect("statements");
    assert_eq!(statements.len(), expected_partner.len());
    for s in &statements {
        let available = expected_partner[&s.currency];
        assert_eq!((s.opening, s.closing), (0, available));
        assert_eq!(s.payout, available.max(0), "the payout is the available balance, never more");
        assert!(s.payout <= s.closing.max(0));
        let key = s.document_key.clone().expect("document");
        let doc = f.b.s3.get_object().bucket(&f.b.bucket).key(&key).send().await.expect("document in S3");
        assert!(doc.content_length().unwrap_or(0) > 0);
    }
    let objects = f.b.s3.list_objects_v2().bucket(&f.b.bucket).prefix("statements/").send().await.expect("list");
    assert_eq!(objects.contents().len(), expected_partner.len());
    let after = postings(&f, &partner).await;
    let payouts = after.iter().filter(|p| p.kind == PostingKind::Payout).count();
    assert_eq!(payouts, statements.iter().filter(|s| s.payout > 0).count());
    assert!(balances(&after).values().all(|b| *b <= 0), "everything available was paid out: {:?}", balances(&after));
    for p in after.iter().filter(|p| p.kind == PostingKind::Payout) {
        assert!(revenue::balanced(&p.entries));
    }
    // The partner sees them.
    let list = l.payouts(&partner, 10, None).await.expect("payouts");
    assert_eq!(list.statements.len(), statements.len());
    // A refund after the payout carries a negative balance into the next month: no payout then.
    let (pid, amount, currency, _) =
        payments.iter().find(|(_, a, c, r)| r.is_empty() && c == "inr" && *a > 1_000).expect("one");
    clock.set(DateTime::parse_from_rfc3339("2026-11-10T00:00:00Z").expect("t").with_timezone(&Utc));
    let late = RefundItem::new(
        format!("rfd_{pid}_late"),
        pid,
        &f.user_id,
        Provider::Phonepe,
        &format!("re_{pid}_late"),
        *amount,
        currency,
        RefundStatus::Succeeded,
        "2026-11-10T00:00:00Z".into(),
        "2026-11-10T00:00:00Z".into(),
    );
    store.record_refund(&late).await.expect("refund");
    settle_refunds(store, clock, pid).await.expect("settle");
    clock.set(DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z").expect("t").with_timezone(&Utc));
    let december = l.monthly(None, Some(&files), || true).await.expect("november statements");
    assert_eq!(december.month, "2026-11");
    let nov = store.statements_of(&partner).await.expect("statements");
    let nov_inr = nov.iter().find(|s| s.month == "2026-11" && s.currency == "inr").expect("inr statement");
    assert!(nov_inr.closing < 0 && nov_inr.payout == 0 && nov_inr.carried == nov_inr.closing, "{nov_inr:?}");
}
