//! A solution's usage policy: its status, its local day and its limits per tier (the solution's own tier
//! definitions, else the platform defaults in the table, else the built-in defaults), the quotas reported
//! from them, and the service's cached lookups of a solution's policy and a user's tier.

use super::{Subject, UsageService, fresh, remember, solution_not_found};
use crate::identity::solution_unavailable;
use crate::model::Grant;
use crate::model::{SolutionStatus, Tier};
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
        }
    }
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

impl UsageService {
    /// Resolve, through the caches, what a track call needs; misses are read in one batch.
    pub(super) async fn resolve(&self, subject: &Subject) -> Result<(Arc<Policy>, Tier), ApiError> {
        let now = self.clock.now();
        let ttl = self.ttl();
        let sid = &subject.solution_id;
        let mut policy = fresh(&self.caches.policies, sid, now, ttl);
        // The tier is the customer's: the user's own, or the organization's the user acts for.
        let tier_key = subject.user_id.as_ref().map(|_| (subject.customer_id.clone(), sid.clone()));
        let mut tier = match &tier_key {
            Some(k) => fresh(&self.caches.tiers, k, now, ttl).map(|g| g.at(now.timestamp())),
            None => Some(Tier::Anonymous),
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
                let grant = e.map_or_else(Grant::free, |e| e.grant());
                remember(&self.caches.tiers, (customer.clone(), s.clone()), grant, now);
                tier = Some(grant.at(now.timestamp()));
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
            SolutionStatus::Published => Ok((policy, tier.unwrap_or(Tier::Free))),
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

    /// After a refusal: the customer's tier read again (consistently) when the cached one is more than two
    /// seconds old. `Some` only when it changed.
    pub(super) async fn recheck_tier(&self, subject: &Subject, tier: Tier) -> Result<Option<Tier>, ApiError> {
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
        let grant = e.map_or_else(Grant::free, |e| e.grant());
        remember(&self.caches.tiers, cache_key, grant, now);
        let fresh_tier = grant.at(now.timestamp());
        Ok((fresh_tier != tier).then_some(fresh_tier))
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
