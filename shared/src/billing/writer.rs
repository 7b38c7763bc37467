//! The subscription writer: version-checked read-modify-write of a subscription together with the
//! entitlement it grants, shared by the API, the webhooks and the billing run; deterministic ids for retries.

use crate::audit::{AuditKind, Event, SYSTEM, subject};
use crate::model::Tier;
use crate::model::{Fact, Grant, Provider, Snapshot, SubscriptionStatus, grant};
use crate::platform::clock::Clock;
use crate::platform::clock::rfc3339;
use crate::platform::error::ApiError;
use crate::store::solutions::EntitlementItem;
use crate::store::subscriptions::SubscriptionItem;
use crate::store::{Store, StoreError, keys};
use crate::usage::{Policy, local_day};
use aws_sdk_dynamodb::types::TransactWriteItem;
use std::sync::Arc;

/// Who restarts a quota with an upgrade: the user who upgraded, or a payment (an upgrade's PhonePe order,
/// applied by the platform).
#[derive(Debug, Clone, Copy)]
pub enum QuotaRestartBy<'a> {
    User(&'a str),
    Payment(&'a str),
}

/// Attempts of one read-modify-write before giving up (each lost race re-reads).
const MAX_SAVE_ATTEMPTS: usize = 8;

/// A deterministic id with our prefix: `<prefix>_` + 26 base32 characters of SHA-256(`seed`). Used where a
/// retry must land on the same id (idempotent creates, payments keyed by the provider's id).
pub fn derived_id(prefix: &str, seed: &str) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let digest = crate::platform::crypto::sha256(seed.as_bytes());
    let mut out = String::with_capacity(prefix.len() + 27);
    out.push_str(prefix);
    out.push('_');
    let mut acc: u32 = 0;
    let mut bits = 0;
    for byte in digest {
        acc = (acc << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 && out.len() < prefix.len() + 27 {
            bits -= 5;
            out.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
        }
    }
    out
}

/// The engine shared by the API and the webhook: version-checked read-modify-write of a subscription with
/// its entitlement.
#[derive(Clone)]
pub struct SubscriptionWriter {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub grace_seconds: i64,
    /// When the billing run looks at subscriptions (every save records the next time).
    pub schedule: crate::billing::schedule::Schedule,
}

/// A pending (never paid) subscription expires after this long.
pub const PENDING_EXPIRY_SECONDS: i64 = crate::billing::schedule::DAY;

impl SubscriptionWriter {
    pub fn new(store: Store, clock: Arc<dyn Clock>, grace_seconds: i64) -> Self {
        Self { store, clock, grace_seconds, schedule: crate::billing::schedule::Schedule::default() }
    }
}

impl SubscriptionWriter {
    /// Load, change with `f` (which returns false for "nothing to do" and may add writes to the same
    /// transaction), save with the entitlement; retried when another writer got there first. Returns the
    /// saved (or unchanged) item.
    pub async fn update<F>(&self, subscription_id: &str, mut f: F) -> Result<Option<SubscriptionItem>, ApiError>
    where
        F: FnMut(&mut SubscriptionItem, &mut Vec<TransactWriteItem>) -> Result<bool, ApiError>,
    {
        for _ in 0..MAX_SAVE_ATTEMPTS {
            let Some(mut item) = self.store.get_subscription(subscription_id).await? else {
                return Ok(None);
            };
            let before = item.clone();
            let mut extra = Vec::new();
            if !f(&mut item, &mut extra)? || item == before && extra.is_empty() {
                return Ok(Some(item));
            }
            self.promote_pending(&mut item);
            keep_usage_periods(&mut item, self.clock.now().timestamp());
            let due = crate::billing::schedule::next_due(&item, &self.schedule, self.grace_seconds);
            item.set_billing_due(due);
            let expected = item.version;
            item.version += 1;
            item.updated_at = rfc3339(self.clock.now());
            let entitlement = self.entitlement_for(&item).await?;
            match self.store.save_subscription(&item, expected, entitlement.as_ref(), extra).await {
                Ok(()) => return Ok(Some(item)),
                Err(StoreError::Conditional { index: Some(0) }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::unavailable(1))
    }

    /// A renewal into the period a downgrade was scheduled for makes the scheduled tier current.
    fn promote_pending(&self, item: &mut SubscriptionItem) {
        let (Some(next), Some(at), Some(latest)) =
            (item.pending_tier, item.pending_effective_at, &item.reconciled.latest)
        else {
            return;
        };
        if latest.period_start >= at {
            item.tier = next;
            if let Some(price) = item.pending_price.take() {
                item.price = price;
            }
            item.pending_tier = None;
            item.pending_effective_at = None;
        }
    }

    /// The writes that restart today's quota under `tier`: the day counter back to 0 with the new limit and
    /// an audit record (nothing when there is no counter yet).
    pub async fn quota_restart(
        &self,
        item: &SubscriptionItem,
        tier: Tier,
        by: QuotaRestartBy<'_>,
    ) -> Result<Vec<TransactWriteItem>, ApiError> {
        let mut found = self.store.batch_get(&Policy::read_keys(&item.solution_id), true).await?;
        let Some(policy) = Policy::from_found(&item.solution_id, &mut found)? else {
            return Ok(Vec::new());
        };
        let now = self.clock.now();
        let today = local_day(now, policy.tz);
        let key = keys::usage_day(&item.user_id, &today.day, &item.solution_id);
        let Some(counter) = self.store.get_counter(&key, true).await? else {
            return Ok(Vec::new());
        };
        let reason = format!("upgrade to {} (subscription {})", tier.as_str(), item.subscription_id);
        let event = match by {
            QuotaRestartBy::User(user_id) => {
                Event::new(AuditKind::QuotaReset, user_id, subject::customer_solution(&item.user_id, &item.solution_id))
            }
            QuotaRestartBy::Payment(order) => {
                Event::new(AuditKind::QuotaReset, SYSTEM, subject::customer_solution(&item.user_id, &item.solution_id))
                    .detail("merchant_order_id", order)
            }
        };
        let audit = event
            .reason(Some(&reason))
            .detail("date", &today.day)
            .detail("previous_used", counter.used)
            .detail("subscription_id", &item.subscription_id)
            .at(now);
        Ok(vec![
            self.store.tx_restart_counter(&key, tier, policy.limits(tier).daily)?,
            self.store.tx_put_audit(&audit)?,
        ])
    }

    /// The entitlement to write with this version: the subscription's grant; or, when it grants nothing and
    /// was the source of the user's tier, free.
    async fn entitlement_for(&self, item: &SubscriptionItem) -> Result<Option<EntitlementItem>, ApiError> {
        let now = rfc3339(self.clock.now());
        let by = format!("subscription:{}", item.subscription_id);
        let mut g: Option<Grant> = grant(&item.reconciled, item.tier, item.pending_tier, self.grace_seconds);
        // PhonePe does not renew by itself: a paid period grants its tier until its end plus the grace period
        // even if no billing run ever marks it past due.
        if let (Provider::Phonepe, Some(gr), Some(latest)) = (item.provider, g.as_mut(), &item.reconciled.latest)
            && gr.valid_until.is_none()
        {
            gr.valid_until = Some(latest.period_end + self.grace_seconds);
        }
        let g = match g {
            Some(g) => g,
            None => {
                let current = self.store.get_entitlement(&item.user_id, &item.solution_id).await?;
                if current.is_none_or(|c| c.subscription_id.as_deref() != Some(item.subscription_id.as_str())) {
                    return Ok(None);
                }
                Grant::free()
            }
        };
        let mut e = EntitlementItem::new(&item.user_id, &item.solution_id, g.tier, now, &by);
        e.valid_until = g.valid_until;
        e.then_tier = (g.valid_until.is_some()).then_some(g.then);
        e.subscription_id = (g.tier != Tier::Free).then(|| item.subscription_id.clone());
        e.metering = (g.tier != Tier::Free).then(|| metering(item)).flatten();
        Ok(Some(e))
    }
}

/// A usage-priced subscription in a paid period: that period is listed in `usage_periods` with the terms in
/// force, which follow the subscription's tier and price until the period ends (the terms at the end price
/// it all). Periods stay listed until the billing run bills them.
pub fn keep_usage_periods(item: &mut SubscriptionItem, now: i64) {
    let Some(latest) = &item.reconciled.latest else { return };
    let paid = matches!(latest.status, SubscriptionStatus::Active | SubscriptionStatus::PastDue);
    if !paid || latest.period_start <= 0 || latest.period_end <= latest.period_start {
        return;
    }
    let (start, end) = (latest.period_start, latest.period_end);
    let (tier, price) = (item.tier, item.price.clone());
    match item.usage_periods.iter_mut().find(|p| p.start == start) {
        Some(p) if now < p.end && price.usage.is_some() => {
            p.end = end;
            p.tier = tier;
            p.price = price;
        }
        Some(_) => {}
        None if price.usage.is_some() && now < end => {
            item.usage_periods.push(crate::model::UsagePeriod { start, end, tier, price });
            item.usage_periods.sort_by_key(|p| p.start);
        }
        None => {}
    }
}

/// What the entitlement tells the hot path of a usage-priced subscription: its latest period with the terms
/// listed for it (once that period is billed, the subscription's price: its events go to the next period)
/// and, while it is not billed, the period before it.
pub fn metering(item: &SubscriptionItem) -> Option<crate::model::Metering> {
    let latest = item.reconciled.latest.as_ref()?;
    if latest.period_end <= latest.period_start || latest.period_start <= 0 {
        return None;
    }
    let listed = item.usage_periods.iter().find(|p| p.start == latest.period_start);
    let (tier, price) = listed.map_or((item.tier, &item.price), |p| (p.tier, &p.price));
    let usage = price.usage.clone()?;
    Some(crate::model::Metering {
        subscription_id: item.subscription_id.clone(),
        tier,
        period: price.period,
        start: latest.period_start,
        end: latest.period_end,
        previous_start: item.usage_periods.iter().find(|p| p.end == latest.period_start).map(|p| p.start),
        usage,
        currency: price.currency.clone(),
        spending_cap: item.spending_cap,
    })
}

/// A read snapshot stamped with the version of the subscription it is folded into, so that of two reads in
/// the same second the later one wins.
pub fn at_version(fact: &Fact, version: u64) -> Fact {
    match fact {
        Fact::Snapshot(s) if s.event_id.starts_with("~read:") => Fact::Snapshot(Snapshot {
            event_id: format!("~read:{version:012}:{}", &s.event_id["~read:".len()..]),
            ..s.clone()
        }),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_valid_and_stable() {
        let a = derived_id("pay", "stripe:pi_123");
        assert!(crate::platform::ids::is_valid("pay", &a), "{a}");
        assert_eq!(a, derived_id("pay", "stripe:pi_123"));
        assert_ne!(a, derived_id("pay", "stripe:pi_124"));
    }
}
