//! The order-independent reconciliation of provider facts about one subscription, and the tier it grants
//! (pure; the store keeps a [`Reconciled`] on each subscription, billing and the webhooks fold facts into it).
//!
//! Stripe delivers events late, twice and out of order. Every fact we take from an event is folded into a
//! [`Reconciled`] value with a *join*: the subscription snapshot with the greatest ordering key wins,
//! payments and refunds are sets keyed by their provider id, and the start of a past-due spell is a minimum.
//! Joins are commutative, associative and idempotent, so any delivery order, with any duplicates, ends in
//! the same state (a property test checks it).

use super::{SubscriptionStatus, Tier};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The provider's view of a subscription at one moment (from an event's object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Event id (the final tie-break, so the order is total).
    pub event_id: String,
    /// Event creation time (seconds).
    pub created: i64,
    pub status: SubscriptionStatus,
    pub period_start: i64,
    pub period_end: i64,
    pub cancel_at_period_end: bool,
    pub price_id: Option<String>,
}

impl Snapshot {
    /// A subscription given up before it was ever paid (abandoned, replaced, expired unpaid).
    pub fn never_paid(event_id: String, created: i64) -> Self {
        Self {
            event_id,
            created,
            status: SubscriptionStatus::Expired,
            period_start: 0,
            period_end: 0,
            cancel_at_period_end: false,
            price_id: None,
        }
    }

    fn order_key(&self) -> (i64, u8, i64, &str) {
        (self.created, self.status.rank(), self.period_end, &self.event_id)
    }
}

/// A captured payment or a refund (amounts in minor units).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Movement {
    /// Provider id: the invoice or charge for a payment, the refund id for a refund.
    pub provider_id: String,
    pub amount: i64,
    pub currency: String,
    pub at: i64,
}

/// A provider fact taken from one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    Snapshot(Snapshot),
    Payment(Movement),
    Refund(Movement),
}

/// Everything known about one subscription from provider facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconciled {
    pub latest: Option<Snapshot>,
    /// Start of the past-due spell, per billing period (keyed by the period start, in decimal: stored maps
    /// have string keys).
    #[serde(default)]
    pub past_due_since: BTreeMap<String, i64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub payments: BTreeMap<String, Movement>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub refunds: BTreeMap<String, Movement>,
}

impl Reconciled {
    /// Fold one fact in. Order-independent and idempotent.
    pub fn apply(&mut self, fact: Fact) {
        match fact {
            Fact::Snapshot(s) => {
                if s.status == SubscriptionStatus::PastDue {
                    let since = self.past_due_since.entry(s.period_start.to_string()).or_insert(s.created);
                    *since = (*since).min(s.created);
                }
                if self.latest.as_ref().is_none_or(|l| s.order_key() > l.order_key()) {
                    self.latest = Some(s);
                }
            }
            Fact::Payment(m) => {
                self.payments.entry(m.provider_id.clone()).or_insert(m);
            }
            Fact::Refund(m) => {
                self.refunds.entry(m.provider_id.clone()).or_insert(m);
            }
        }
    }

    /// When the latest snapshot's past-due spell started (the earliest past-due fact of its period).
    pub fn past_due_start(&self) -> Option<i64> {
        let latest = self.latest.as_ref()?;
        Some(self.past_due_since.get(&latest.period_start.to_string()).copied().unwrap_or(latest.created))
    }

    /// The status in force at `now`, with the grace period applied: past due for longer than `grace_seconds`
    /// is expired. (Stripe keeps a subscription canceled "at period end" `active` until that end and then
    /// reports it canceled, so `Canceled` always means no access.)
    pub fn status_at(&self, now: i64, grace_seconds: i64) -> Option<SubscriptionStatus> {
        let latest = self.latest.as_ref()?;
        Some(match latest.status {
            SubscriptionStatus::PastDue => {
                let since = self.past_due_start().unwrap_or(latest.created);
                if now >= since + grace_seconds { SubscriptionStatus::Expired } else { SubscriptionStatus::PastDue }
            }
            other => other,
        })
    }

    /// Whether the paid tier applies at `now`: active, or past due within the grace period.
    pub fn grants_paid_tier(&self, now: i64, grace_seconds: i64) -> bool {
        matches!(self.status_at(now, grace_seconds), Some(SubscriptionStatus::Active | SubscriptionStatus::PastDue))
    }

    /// Net captured amount per currency: payments minus refunds.
    pub fn net_by_currency(&self) -> BTreeMap<String, i64> {
        let mut net = BTreeMap::new();
        for p in self.payments.values() {
            *net.entry(p.currency.clone()).or_insert(0) += p.amount;
        }
        for r in self.refunds.values() {
            *net.entry(r.currency.clone()).or_insert(0) -= r.amount;
        }
        net
    }
}

/// What a subscription grants on a solution, for the entitlement item: `tier` until `valid_until` (epoch
/// seconds; `None` = until further notice), then `then`. Readers apply the switch at read time, so a
/// cancellation at period end, a scheduled downgrade or the end of a grace period takes effect on the second
/// without a scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub tier: Tier,
    pub valid_until: Option<i64>,
    pub then: Tier,
}

impl Grant {
    pub fn free() -> Self {
        Self { tier: Tier::Free, valid_until: None, then: Tier::Free }
    }

    /// The tier in force at `now` (epoch seconds).
    pub fn at(&self, now: i64) -> Tier {
        match self.valid_until {
            Some(until) if now >= until => self.then,
            _ => self.tier,
        }
    }
}

/// What a subscription grants (independent of the time of asking: the switches are in the grant).
///
/// * active: its tier; at period end the scheduled tier if a downgrade is pending, free if it is canceled at
///   period end, else open-ended (the renewal's events extend it);
/// * past due: its tier until the grace period ends, then free;
/// * pending, canceled, expired: nothing (`None`; the caller falls back to free only where this
///   subscription was the source of the user's tier).
pub fn grant(reconciled: &Reconciled, tier: Tier, pending_tier: Option<Tier>, grace_seconds: i64) -> Option<Grant> {
    let latest = reconciled.latest.as_ref()?;
    match latest.status {
        SubscriptionStatus::Active => {
            let (valid_until, then) = if latest.cancel_at_period_end {
                (Some(latest.period_end), Tier::Free)
            } else if let Some(next) = pending_tier {
                (Some(latest.period_end), next)
            } else {
                (None, Tier::Free)
            };
            Some(Grant { tier, valid_until, then })
        }
        SubscriptionStatus::PastDue => {
            let since = reconciled.past_due_start().unwrap_or(latest.created);
            Some(Grant { tier, valid_until: Some(since + grace_seconds), then: Tier::Free })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SubscriptionStatus::*;

    const DAY: i64 = 86_400;

    fn snap(id: &str, created: i64, status: SubscriptionStatus, period_start: i64) -> Fact {
        Fact::Snapshot(Snapshot {
            event_id: id.into(),
            created,
            status,
            period_start,
            period_end: period_start + 30 * DAY,
            cancel_at_period_end: false,
            price_id: Some("price_pro".into()),
        })
    }

    fn money(id: &str, amount: i64, at: i64) -> Movement {
        Movement { provider_id: id.into(), amount, currency: "inr".into(), at }
    }

    /// A realistic history: created → active → renewal fails (past due) → recovered → refund → canceled,
    /// with two events in the same second.
    fn history() -> Vec<Fact> {
        let t = 1_800_000_000;
        vec![
            snap("evt_01", t, Pending, t),
            snap("evt_02", t, Active, t),
            Fact::Payment(money("in_1", 49_900, t)),
            snap("evt_03", t + 30 * DAY, PastDue, t + 30 * DAY),
            snap("evt_04", t + 31 * DAY, PastDue, t + 30 * DAY),
            Fact::Payment(money("in_2", 49_900, t + 32 * DAY)),
            snap("evt_05", t + 32 * DAY, Active, t + 30 * DAY),
            Fact::Refund(money("re_1", 10_000, t + 33 * DAY)),
            snap("evt_06", t + 40 * DAY, Canceled, t + 30 * DAY),
            snap("evt_07", t + 40 * DAY, Active, t + 30 * DAY),
        ]
    }

    fn fold(facts: &[Fact]) -> Reconciled {
        let mut r = Reconciled::default();
        for f in facts {
            r.apply(f.clone());
        }
        r
    }

    /// xorshift: a dependency-free PRNG for shuffles.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn any_delivery_order_with_duplicates_converges() {
        let facts = history();
        let expected = fold(&facts);
        assert_eq!(expected.latest.as_ref().map(|s| s.status), Some(Canceled), "terminal wins the same-second tie");
        assert_eq!(expected.payments.len(), 2);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2_000 {
            // Each fact delivered one to three times, in a random order.
            let mut deliveries: Vec<Fact> =
                facts.iter().flat_map(|f| std::iter::repeat_n(f.clone(), 1 + rng.below(3))).collect();
            for i in (1..deliveries.len()).rev() {
                let j = rng.below(i + 1);
                deliveries.swap(i, j);
            }
            assert_eq!(fold(&deliveries), expected);
        }
    }

    #[test]
    fn grace_period_keeps_the_paid_tier_then_expires() {
        let t = 1_800_000_000;
        let grace = 7 * DAY;
        let mut r = fold(&[snap("a", t, Active, t), snap("b", t + 30 * DAY, PastDue, t + 30 * DAY)]);
        // A later past-due event of the same period does not restart the grace period.
        r.apply(snap("c", t + 33 * DAY, PastDue, t + 30 * DAY));
        assert!(r.grants_paid_tier(t + 36 * DAY, grace));
        assert_eq!(r.status_at(t + 37 * DAY, grace), Some(Expired));
        assert!(!r.grants_paid_tier(t + 37 * DAY, grace));
        // Payment recovers it.
        r.apply(snap("d", t + 38 * DAY, Active, t + 30 * DAY));
        assert!(r.grants_paid_tier(t + 38 * DAY, grace));
        assert_eq!(r.net_by_currency().get("inr"), None);
    }

    #[test]
    fn stripe_statuses_map() {
        assert_eq!(SubscriptionStatus::from_stripe("trialing"), Some(Active));
        assert_eq!(SubscriptionStatus::from_stripe("unpaid"), Some(PastDue));
        assert_eq!(SubscriptionStatus::from_stripe("incomplete_expired"), Some(Expired));
        assert_eq!(SubscriptionStatus::from_stripe("bogus"), None);
    }
}
