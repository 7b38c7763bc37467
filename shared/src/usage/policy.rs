//! A solution's usage policy: its status, its local day and its limits per tier (the solution's own tier
//! definitions, else the platform defaults in the table, else the built-in defaults), the quotas reported
//! from them, and the service's cached lookups of a solution's policy and a user's tier.

use super::{Subject, UsageService, fresh, remember, solution_not_found};
use crate::identity::solution_unavailable;
use crate::model::Grant;
use crate::model::{Metering, SolutionStatus, Tier, UsageLimit};
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, codes};
use crate::store::orgs::MembershipItem;
use crate::store::solutions::{EntitlementItem, SolutionItem, TierDefinitionItem};
use crate::store::tokens::FamilyItem;
use crate::store::usage::UsageCounterItem;
use crate::store::{Item, StoreError, keys, take};
use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierLimits {
    /// `None` = unlimited.
    pub daily: Option<u64>,
    pub monthly: Option<u64>,
}

/// What governs a solution's usage: its status, its day, its limits per tier.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub solution_id: String,
    /// The partner whose solution it is (API keys act only for their partner's solutions).
    pub partner_id: String,
    pub status: SolutionStatus,
    pub tz: Tz,
    limits: BTreeMap<Tier, TierLimits>,
}

impl Policy {
    /// The keys one policy is built from (read together in one batch).
    pub fn read_keys(solution_id: &str) -> Vec<keys::Key> {
        let mut out = vec![keys::solution(solution_id)];
        for tier in Tier::ALL {
            out.push(keys::solution_tier(solution_id, tier.as_str()));
            out.push(keys::default_tier(tier.as_str()));
        }
        out
    }

    /// Build a policy from a batch read. `None` when the solution does not exist.
    pub fn from_found(
        solution_id: &str,
        found: &mut HashMap<(String, String), Item>,
    ) -> Result<Option<Self>, StoreError> {
        let solution: Option<SolutionItem> = take(found, &keys::solution(solution_id))?;
        let Some(solution) = solution else {
            return Ok(None);
        };
        let mut limits = BTreeMap::new();
        for tier in Tier::ALL {
            let own: Option<TierDefinitionItem> = take(found, &keys::solution_tier(solution_id, tier.as_str()))?;
            let default: Option<TierDefinitionItem> = take(found, &keys::default_tier(tier.as_str()))?;
            let (daily, monthly) = match own.or(default) {
                Some(def) => (def.daily_limit, def.monthly_limit),
                None => tier.default_limits(),
            };
            limits.insert(tier, TierLimits { daily, monthly });
        }
        Ok(Some(Self {
            solution_id: solution_id.to_owned(),
            partner_id: solution.partner_id.clone(),
            status: solution.status,
            tz: solution.time_zone.parse().unwrap_or(Tz::UTC),
            limits,
        }))
    }

    pub fn limits(&self, tier: Tier) -> TierLimits {
        self.limits
            .get(&tier)
            .copied()
            .unwrap_or(TierLimits { daily: tier.default_limits().0, monthly: tier.default_limits().1 })
    }

    pub fn is_published(&self) -> bool {
        self.status == SolutionStatus::Published
    }
}

/// The solution-local calendar position of an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalDay {
    pub date: NaiveDate,
    /// `yyyy-mm-dd`
    pub day: String,
    /// `yyyy-mm`
    pub month: String,
    /// The next local midnight, in UTC.
    pub reset_at: DateTime<Utc>,
}

pub fn local_day(now: DateTime<Utc>, tz: Tz) -> LocalDay {
    let date = now.with_timezone(&tz).date_naive();
    let next = date.checked_add_days(Days::new(1)).unwrap_or(date);
    // Local midnight may not exist (a DST gap at 00:00): take the first instant of the next day that does.
    let reset_at = (0..=3)
        .find_map(|h| next.and_hms_opt(h, 0, 0).and_then(|t| tz.from_local_datetime(&t).earliest()))
        .map_or(now + chrono::Duration::days(1), |t| t.with_timezone(&Utc));
    LocalDay {
        day: date.format("%Y-%m-%d").to_string(),
        month: format!("{:04}-{:02}", date.year(), date.month()),
        date,
        reset_at,
    }
}

/// A quota as reported to callers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    pub tier: Tier,
    pub limit: Option<u64>,
    pub used: u64,
    pub remaining: Option<u64>,
    pub reset_at: String,
    /// An organization's quota read by one of its members: that member's share of `used`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_used: Option<u64>,
    /// A usage-priced subscription's current billing period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_period: Option<PeriodUsage>,
}

impl Quota {
    pub fn new(tier: Tier, limit: Option<u64>, used: u64, reset_at: DateTime<Utc>) -> Self {
        Self {
            tier,
            limit,
            used,
            remaining: limit.map(|l| l.saturating_sub(used)),
            reset_at: rfc3339(reset_at),
            member_used: None,
            billing_period: None,
        }
    }
}

/// A usage-priced subscription's billing period as reported to callers: what it counted, what is beyond the
/// allowance, and what that costs (exactly, by the rounding rule of `crate::model::UsagePricing`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodUsage {
    pub period_start: String,
    pub period_end: String,
    /// Units included in the period.
    pub included: u64,
    pub used: u64,
    /// Units beyond the allowance, charged at the period end.
    pub overage: u64,
    /// `hard`: refused at the allowance; `soft`: allowed and charged.
    pub limit: UsageLimit,
    /// What the overage so far costs, minor units of `currency`.
    pub overage_charge: i64,
    /// What the period's overage will cost at the end if usage goes on at its pace so far (within the cap).
    pub projected_charge: i64,
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spending_cap: Option<i64>,
    /// The spending cap stops further usage this period.
    pub cap_reached: bool,
}

impl PeriodUsage {
    /// The period `(start, end)` of `metering` having counted `used` units, at `now` (epoch seconds).
    pub fn new(metering: &Metering, (start, end): (i64, i64), used: u64, now: i64) -> Self {
        let included = metering.allowance();
        let overage = used.saturating_sub(included);
        // The pace so far, over at least an hour of the period, carried to its end.
        let length = (end - start).max(1);
        let elapsed = (now - start).clamp(3_600.min(length), length);
        let paced = u64::try_from(i128::from(used) * i128::from(length) / i128::from(elapsed)).unwrap_or(u64::MAX);
        let ceiling = metering.ceiling();
        let projected = ceiling.map_or(paced, |c| paced.min(c.max(used)));
        Self {
            period_start: crate::platform::clock::rfc3339_epoch(start),
            period_end: crate::platform::clock::rfc3339_epoch(end),
            included,
            used,
            overage,
            limit: metering.usage.limit,
            overage_charge: metering.charge(used),
            projected_charge: metering.charge(projected),
            currency: metering.currency.clone(),
            spending_cap: metering.spending_cap,
            cap_reached: metering.usage.limit == UsageLimit::Soft && ceiling.is_some_and(|c| used >= c),
        }
    }
}

/// The current billing period of a usage-priced plan at `now` and the key of its counter (`None`: the
/// metering does not apply to `tier`).
pub fn billing_period_key(
    customer_id: &str,
    solution_id: &str,
    tier: Tier,
    metering: Option<&Metering>,
    now: i64,
) -> Option<(keys::Key, (i64, i64))> {
    let m = metering.filter(|m| m.tier == tier)?;
    let (start, end) = m.period_of(now)?;
    Some((keys::usage_period(customer_id, solution_id, start), (start, end)))
}

/// The billing period's usage from a read that included [`billing_period_key`]'s key.
pub fn billing_period_from_found(
    metering: &Metering,
    key: &keys::Key,
    bounds: (i64, i64),
    now: i64,
    found: &mut HashMap<(String, String), Item>,
) -> Result<PeriodUsage, StoreError> {
    let counter: Option<UsageCounterItem> = take(found, key)?;
    Ok(PeriodUsage::new(metering, bounds, counter.map_or(0, |c| c.used), now))
}

/// Keys to read a customer's current quota without knowing the solution's time zone yet: the policy and the
/// day counters of the three candidate dates around `now` (UTC−12 … UTC+14).
pub fn quota_read_keys(customer_id: &str, solution_id: &str, now: DateTime<Utc>) -> Vec<keys::Key> {
    let mut out = Policy::read_keys(solution_id);
    let today = now.date_naive();
    for d in [today.pred_opt(), Some(today), today.succ_opt()].into_iter().flatten() {
        out.push(keys::usage_day(customer_id, &d.format("%Y-%m-%d").to_string(), solution_id));
    }
    out
}

/// The quota from a batch read made with [`quota_read_keys`]. `None` when the solution does not exist.
/// `member`: the member reading an organization's quota, whose share is reported.
pub fn quota_from_found(
    customer_id: &str,
    solution_id: &str,
    tier: Tier,
    now: DateTime<Utc>,
    member: Option<&str>,
    found: &mut HashMap<(String, String), Item>,
) -> Result<Option<Quota>, StoreError> {
    let Some(policy) = Policy::from_found(solution_id, found)? else {
        return Ok(None);
    };
    let today = local_day(now, policy.tz);
    let counter: Option<UsageCounterItem> = take(found, &keys::usage_day(customer_id, &today.day, solution_id))?;
    let limit = policy.limits(tier).daily;
    let mut quota = Quota::new(tier, limit, counter.as_ref().map_or(0, |c| c.used), today.reset_at);
    if let Some(member) = member.filter(|_| keys::is_org(customer_id)) {
        quota.member_used = Some(counter.and_then(|c| c.members().get(member).copied()).unwrap_or(0));
    }
    Ok(Some(quota))
}

/// A customer's plan for a solution as the hot path caches it: the tier it grants (with its scheduled switch)
/// and, for a usage-priced subscription, its metering.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    grant: Grant,
    metering: Option<Arc<Metering>>,
}

/// The tier in force and, when that tier is the usage-priced one, its metering.
pub(super) type Applied = (Tier, Option<Arc<Metering>>);

impl Plan {
    fn of(entitlement: Option<EntitlementItem>) -> Self {
        match entitlement {
            Some(e) => Self { grant: e.grant(), metering: e.metering.map(Arc::new) },
            None => Self { grant: Grant::free(), metering: None },
        }
    }

    fn at(&self, now: i64) -> Applied {
        let tier = self.grant.at(now);
        (tier, self.metering.clone().filter(|m| m.tier == tier))
    }
}

impl UsageService {
    /// Resolve, through the caches, what a track call needs; misses are read in one batch.
    pub(super) async fn resolve(&self, subject: &Subject) -> Result<(Arc<Policy>, Applied), ApiError> {
        let now = self.clock.now();
        let ttl = self.ttl();
        let sid = &subject.solution_id;
        let mut policy = fresh(&self.caches.policies, sid, now, ttl);
        // The tier is the customer's: the user's own, or the organization's the user acts for.
        let tier_key = subject.user_id.as_ref().map(|_| (subject.customer_id.clone(), sid.clone()));
        let mut tier = match &tier_key {
            Some(k) => fresh(&self.caches.tiers, k, now, ttl).map(|p| p.at(now.timestamp())),
            None => Some((Tier::Anonymous, None)),
        };
        let mut revoked = match &subject.family_id {
            Some(f) => fresh(&self.caches.families, f, now, ttl),
            None => Some(false),
        };
        // Acting for an organization: still a member (cached as revocation is, so a removal takes effect
        // within the same bound).
        let member_key = match (&subject.org_id, &subject.user_id) {
            (Some(org), Some(user)) => Some((org.clone(), user.clone())),
            _ => None,
        };
        let mut member = match &member_key {
            Some(k) => fresh(&self.caches.members, k, now, ttl),
            None => Some(true),
        };
        if policy.is_none() || tier.is_none() || revoked.is_none() || member.is_none() {
            let mut wanted = Vec::new();
            if policy.is_none() {
                wanted.extend(Policy::read_keys(sid));
            }
            if let (None, Some((customer, _))) = (&tier, &tier_key) {
                wanted.push(keys::entitlement(customer, sid));
            }
            if let (None, Some(fid)) = (&revoked, &subject.family_id) {
                wanted.push(keys::family(fid));
            }
            if let (None, Some((org, user))) = (&member, &member_key) {
                wanted.push(keys::org_member(org, user));
            }
            let mut found = self.store.batch_get(&wanted, false).await?;
            if policy.is_none() {
                let p = Policy::from_found(sid, &mut found)?.map(Arc::new);
                remember(&self.caches.policies, sid.clone(), p.clone(), now);
                policy = Some(p);
            }
            if let (None, Some((customer, s))) = (&tier, &tier_key) {
                let e: Option<EntitlementItem> = take(&mut found, &keys::entitlement(customer, s))?;
                let plan = Plan::of(e);
                tier = Some(plan.at(now.timestamp()));
                remember(&self.caches.tiers, (customer.clone(), s.clone()), plan, now);
            }
            if let (None, Some((org, user))) = (&member, &member_key) {
                let m: Option<MembershipItem> = take(&mut found, &keys::org_member(org, user))?;
                remember(&self.caches.members, (org.clone(), user.clone()), m.is_some(), now);
                member = Some(m.is_some());
            }
            if let (None, Some(fid)) = (&revoked, &subject.family_id) {
                let f: Option<FamilyItem> = take(&mut found, &keys::family(fid))?;
                let r = f.is_none_or(|f| f.revoked_at.is_some());
                remember(&self.caches.families, fid.clone(), r, now);
                revoked = Some(r);
            }
        }
        if revoked == Some(true) {
            return Err(ApiError::unauthorized_code(codes::REVOKED, "the token has been revoked"));
        }
        if member == Some(false) {
            return Err(crate::identity::orgs::no_longer_member());
        }
        let policy = policy.flatten().ok_or_else(solution_not_found)?;
        match policy.status {
            SolutionStatus::Published => Ok((policy, tier.unwrap_or((Tier::Free, None)))),
            SolutionStatus::Suspended | SolutionStatus::Retired => Err(solution_unavailable()),
            SolutionStatus::Draft | SolutionStatus::Submitted => Err(solution_not_found()),
        }
    }

    /// A solution's policy through the cache (`None`: no such solution).
    pub(super) async fn policy(&self, solution_id: &str) -> Result<Option<Arc<Policy>>, ApiError> {
        let now = self.clock.now();
        if let Some(p) = fresh(&self.caches.policies, &solution_id.to_owned(), now, self.ttl()) {
            return Ok(p);
        }
        let mut found = self.store.batch_get(&Policy::read_keys(solution_id), false).await?;
        let p = Policy::from_found(solution_id, &mut found)?.map(Arc::new);
        remember(&self.caches.policies, solution_id.to_owned(), p.clone(), now);
        Ok(p)
    }

    /// After a refusal: the customer's plan read again (consistently) when the cached one is more than two
    /// seconds old. `Some` only when it changed.
    pub(super) async fn recheck_tier(&self, subject: &Subject, applied: &Applied) -> Result<Option<Applied>, ApiError> {
        if subject.user_id.is_none() {
            return Ok(None);
        }
        let customer = &subject.customer_id;
        let now = self.clock.now();
        let cache_key = (customer.clone(), subject.solution_id.clone());
        if fresh(&self.caches.tiers, &cache_key, now, 2).is_some() {
            return Ok(None);
        }
        let e = self.store.get_entitlement(customer, &subject.solution_id).await?;
        let plan = Plan::of(e);
        let fresh = plan.at(now.timestamp());
        remember(&self.caches.tiers, cache_key, plan, now);
        Ok((fresh != *applied).then_some(fresh))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).expect("time")
    }

    #[test]
    fn local_day_and_reset_follow_the_time_zone() {
        let kolkata: Tz = "Asia/Kolkata".parse().expect("tz");
        let d = local_day(at("2026-11-22T18:29:00Z"), kolkata);
        assert_eq!(d.day, "2026-11-22");
        assert_eq!(rfc3339(d.reset_at), "2026-11-22T18:30:00Z");
        let d = local_day(at("2026-11-22T18:31:00Z"), kolkata);
        assert_eq!(d.day, "2026-11-23");
        assert_eq!(d.month, "2026-11");
        let utc = local_day(at("2026-12-31T23:59:59Z"), Tz::UTC);
        assert_eq!((utc.day.as_str(), rfc3339(utc.reset_at).as_str()), ("2026-12-31", "2027-01-01T00:00:00Z"));
        // A zone whose midnight is skipped by DST (America/Santiago, 2026-09-06 00:00 does not exist).
        let santiago: Tz = "America/Santiago".parse().expect("tz");
        let d = local_day(at("2026-09-06T02:00:00Z"), santiago);
        assert_eq!(d.day, "2026-09-05");
        assert!(d.reset_at > at("2026-09-06T02:00:00Z"));
    }

    #[test]
    fn quotas_report_remaining() {
        let q = Quota::new(Tier::Free, Some(100), 30, at("2026-11-23T00:00:00Z"));
        assert_eq!(q.remaining, Some(70));
        let unlimited = Quota::new(Tier::Enterprise, None, 5, at("2026-11-23T00:00:00Z"));
        assert_eq!(unlimited.remaining, None);
    }
}
