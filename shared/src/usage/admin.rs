//! Admin use cases: resetting a customer's quota for today (with an audit record) and setting a tier's limits,
//! for one solution (as an override the solution keeps) or as the platform default.

use super::policy::{Policy, local_day};
use super::{UsageService, lock, solution_not_found};
use crate::audit::{AuditKind, Event, subject};
use crate::identity::Principal;
use crate::model::Tier;
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, FieldError};
use crate::store::audit::AuditItem;
use crate::store::solutions::SolutionItem;
use crate::store::{StoreError, keys};
use serde::{Deserialize, Serialize};

/// Writes of a solution's limits that lost to a concurrent change are retried on top of it this often.
const MAX_LIMIT_ATTEMPTS: u32 = 5;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub customer_id: String,
    pub solution_id: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetAnswer {
    pub customer_id: String,
    pub solution_id: String,
    pub date: String,
    pub previous_used: u64,
    pub used: u64,
    pub audit_id: String,
    pub reset_by: String,
    pub reason: String,
    pub at: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierLimitsRequest {
    /// Omitted or null: the platform default for the tier.
    #[serde(default)]
    pub solution_id: Option<String>,
    pub tier: Tier,
    /// Required; null = unlimited.
    #[serde(default, deserialize_with = "present")]
    pub daily_limit: Option<Option<u64>>,
    #[serde(default)]
    pub monthly_limit: Option<u64>,
}

/// A member that must be present but may be null: missing → `None`, null → `Some(None)`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
    Option::<u64>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierLimitsAnswer {
    pub solution_id: Option<String>,
    pub tier: Tier,
    pub daily_limit: Option<u64>,
    pub monthly_limit: Option<u64>,
    pub updated_at: String,
}

impl UsageService {
    /// Admin: today's count back to 0, with an audit record of who, when, why and the previous value.
    pub async fn reset(&self, caller: &Principal, req: ResetRequest) -> Result<ResetAnswer, ApiError> {
        if !caller.is_admin() {
            return Err(ApiError::forbidden("only admins may reset quotas"));
        }
        let mut errors = Vec::new();
        if !crate::platform::ids::is_valid("sol", &req.solution_id) {
            errors.push(FieldError::new("solution_id", "must be a sol_ id"));
        }
        if req.customer_id.is_empty() || req.customer_id.len() > 160 || req.customer_id.contains('#') {
            errors.push(FieldError::new("customer_id", "must be a customer id"));
        }
        let reason = req.reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            errors.push(FieldError::new("reason", "must be 1 to 500 characters"));
        }
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let mut found = self.store.batch_get(&Policy::read_keys(&req.solution_id), false).await?;
        let policy = Policy::from_found(&req.solution_id, &mut found)?.ok_or_else(solution_not_found)?;
        let now = self.clock.now();
        let today = local_day(now, policy.tz);
        let key = keys::usage_day(&req.customer_id, &today.day, &req.solution_id);
        for _ in 0..8 {
            let previous = self.store.get_counter(&key, true).await?.map_or(0, |c| c.used);
            let audit = Event::new(
                AuditKind::QuotaReset,
                &caller.user_id,
                subject::customer_solution(&req.customer_id, &req.solution_id),
            )
            .reason(Some(reason))
            .detail("date", &today.day)
            .detail("previous_used", previous)
            .at(now);
            let at = audit.at.clone();
            let result = if previous == 0 {
                // Nothing to zero: record the (no-op) reset for the audit trail.
                self.store.put_audit(std::slice::from_ref(&audit)).await
            } else {
                self.store.reset_counter(&key, previous, &audit).await
            };
            match result {
                Ok(()) => {
                    tracing::info!(customer_id = %req.customer_id, solution_id = %req.solution_id, previous, by = %caller.user_id, "quota reset");
                    // This container's guess of the count is now wrong.
                    lock(&self.caches.counters).remove(&(key.pk.clone(), key.sk.clone()));
                    return Ok(ResetAnswer {
                        customer_id: req.customer_id,
                        solution_id: req.solution_id,
                        date: today.day,
                        previous_used: previous,
                        used: 0,
                        audit_id: audit.audit_id,
                        reset_by: caller.user_id.clone(),
                        reason: reason.to_owned(),
                        at,
                    });
                }
                Err(StoreError::Conditional { index: Some(0) }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::unavailable(1))
    }

    /// An admin's limits for a tier of a solution: recorded on the solution as an override (so a partner's
    /// later approved change of tiers keeps them, and the catalog shows them), and set on the tier definition
    /// by an update of its limits alone (its prices stay), in one transaction guarded by the solution's
    /// version.
    async fn override_limits(
        &self,
        caller: &Principal,
        solution_id: &str,
        tier: Tier,
        daily: Option<u64>,
        monthly: Option<u64>,
        audit: &AuditItem,
    ) -> Result<(), ApiError> {
        // The limits are set at the time of their audit record.
        let now = audit.at.as_str();
        for _ in 0..MAX_LIMIT_ATTEMPTS {
            let Some(mut solution) = self.store.get::<SolutionItem>(&keys::solution(solution_id), true).await? else {
                return Err(solution_not_found());
            };
            let expected = solution.version;
            solution.limit_overrides.insert(
                tier.as_str().to_owned(),
                crate::model::LimitsOverride {
                    daily_limit: daily,
                    monthly_limit: monthly,
                    set_by: caller.user_id.clone(),
                    set_at: now.to_owned(),
                },
            );
            solution.tiers = crate::model::with_overrides(&solution.tiers, &solution.limit_overrides);
            solution.version = expected + 1;
            solution.updated_at = now.to_owned();
            let writes = vec![
                self.store.tx_put_versioned(&solution, Some(expected))?,
                self.store.tx_tier_limits(Some(solution_id), tier, daily, monthly, now)?,
                self.store.tx_put_audit(audit)?,
            ];
            match self.store.transact(writes).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Conditional { index: Some(0) }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::unavailable(1))
    }

    /// Admin: set a tier's limits, for one solution or as the platform default. Only the limits change.
    pub async fn set_limits(&self, caller: &Principal, req: TierLimitsRequest) -> Result<TierLimitsAnswer, ApiError> {
        if !caller.is_admin() {
            return Err(ApiError::forbidden("only admins may change limits"));
        }
        let daily_limit =
            req.daily_limit.ok_or_else(|| ApiError::field("daily_limit", "is required (null for unlimited)"))?;
        if let Some(sid) = &req.solution_id
            && !crate::platform::ids::is_valid("sol", sid)
        {
            return Err(ApiError::field("solution_id", "must be a sol_ id"));
        }
        let at = self.clock.now();
        let now = rfc3339(at);
        let limit = |l: Option<u64>| l.map_or_else(|| "unlimited".to_owned(), |n| n.to_string());
        let subject = req.solution_id.as_deref().map_or_else(|| subject::DEFAULT_TIERS.to_owned(), subject::solution);
        let audit = Event::new(AuditKind::TierLimitsSet, &caller.user_id, subject)
            .detail("tier", req.tier.as_str())
            .detail("daily_limit", limit(daily_limit))
            .detail("monthly_limit", limit(req.monthly_limit))
            .at(at);
        match &req.solution_id {
            None => {
                let update = self.store.tx_tier_limits(None, req.tier, daily_limit, req.monthly_limit, &now)?;
                self.store.transact(vec![update, self.store.tx_put_audit(&audit)?]).await?;
            }
            Some(sid) => {
                self.override_limits(caller, sid, req.tier, daily_limit, req.monthly_limit, &audit).await?;
            }
        }
        // This container sees the new limits at once (others within the cache time).
        match &req.solution_id {
            Some(sid) => {
                lock(&self.caches.policies).remove(sid);
            }
            None => lock(&self.caches.policies).clear(),
        }
        tracing::info!(solution_id = ?req.solution_id, tier = req.tier.as_str(), by = %caller.user_id, "tier limits set");
        Ok(TierLimitsAnswer {
            solution_id: req.solution_id,
            tier: req.tier,
            daily_limit,
            monthly_limit: req.monthly_limit,
            updated_at: now,
        })
    }
}
