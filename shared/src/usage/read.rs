//! Reading usage: a customer's day-by-day history and current quota, for the customer, an admin, or a solution
//! token confined to its own solution.

use super::policy::{
    PeriodUsage, Quota, billing_period_from_found, billing_period_key, quota_from_found, quota_read_keys,
};
use super::{UsageService, solution_not_found};
use crate::identity::{Principal, SCOPE_READ, solution_mismatch};
use crate::model::Tier;
use crate::platform::error::{ApiError, FieldError};
use crate::store::solutions::EntitlementItem;
use crate::store::{keys, take};
use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const MAX_HISTORY_DAYS: i64 = 366;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageDay {
    pub date: String,
    pub solution_id: String,
    pub used: u64,
    pub limit: Option<u64>,
    pub actions: BTreeMap<String, u64>,
    /// An organization's day: each member's share (owners and admins see every member's, others their own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<BTreeMap<String, u64>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageHistory {
    pub customer_id: String,
    pub from: String,
    pub to: String,
    pub days: Vec<UsageDay>,
}

fn check_date(field: &str, raw: Option<&str>) -> Result<Option<NaiveDate>, FieldError> {
    raw.map(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d"))
        .transpose()
        .map_err(|_| FieldError::new(field, "must be a date as YYYY-MM-DD"))
}

impl UsageService {
    /// Who may read a customer's usage: the user; for an organization, its members; a solution token only the
    /// customer it acts for; admins anyone. `Some(true)`: every member's share may be seen; `Some(false)`:
    /// only the caller's own; `None`: the customer is not an organization (or the caller is an admin).
    async fn may_read(&self, caller: &Principal, customer_id: &str) -> Result<Option<bool>, ApiError> {
        let forbidden = || ApiError::forbidden("you may only read your own usage or your organizations'");
        if caller.is_admin() {
            return Ok(keys::is_org(customer_id).then_some(true));
        }
        if caller.kind == crate::model::TokenKind::Solution && caller.customer_id() != customer_id {
            return Err(forbidden());
        }
        if caller.user_id == customer_id {
            return Ok(None);
        }
        if !keys::is_org(customer_id) || !crate::platform::ids::is_valid("org", customer_id) {
            return Err(forbidden());
        }
        // Another organization's id answers as an unknown one.
        match self.store.get_membership(customer_id, &caller.user_id).await? {
            Some(m) => Ok(Some(m.role.reads_all_usage())),
            None => Err(crate::identity::orgs::org_not_found()),
        }
    }

    pub async fn history(
        &self,
        caller: &Principal,
        customer_id: &str,
        solution_id: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<UsageHistory, ApiError> {
        let sees_all = self.may_read(caller, customer_id).await?;
        // A solution token reads its own solution's days only.
        let confined = caller.confined_to(SCOPE_READ)?;
        if let (Some(own), Some(asked)) = (confined, solution_id)
            && own != asked
        {
            return Err(solution_mismatch());
        }
        let solution_id = solution_id.or(confined);
        let mut errors = Vec::new();
        let from = check_date("from", from).map_err(|e| errors.push(e)).ok().flatten();
        let to = check_date("to", to).map_err(|e| errors.push(e)).ok().flatten();
        if let Some(sid) = solution_id
            && !crate::platform::ids::is_valid("sol", sid)
        {
            errors.push(FieldError::new("solution_id", "must be a sol_ id"));
        }
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let to = to.unwrap_or_else(|| self.clock.now().date_naive() + Days::new(1));
        let from = from.unwrap_or_else(|| to - Days::new(30));
        if from > to {
            return Err(ApiError::field("from", "must not be after `to`"));
        }
        if (to - from).num_days() > MAX_HISTORY_DAYS {
            return Err(ApiError::field("from", format!("the range may span at most {MAX_HISTORY_DAYS} days")));
        }
        let (from, to) = (from.format("%Y-%m-%d").to_string(), to.format("%Y-%m-%d").to_string());
        let days = self
            .store
            .usage_days(customer_id, &from, &to)
            .await?
            .into_iter()
            .filter(|c| solution_id.is_none_or(|s| s == c.solution_id))
            .map(|c| UsageDay {
                members: sees_all.map(|all| {
                    let mut members = c.members();
                    if !all {
                        members.retain(|user, _| user == &caller.user_id);
                    }
                    members
                }),
                actions: c.actions(),
                date: c.period,
                solution_id: c.solution_id,
                used: c.used,
                limit: c.limit,
            })
            .collect();
        Ok(UsageHistory { customer_id: customer_id.to_owned(), from, to, days })
    }

    /// The current quota of a customer for a solution (one batched read).
    pub async fn quota(&self, caller: &Principal, customer_id: &str, solution_id: &str) -> Result<Quota, ApiError> {
        self.may_read(caller, customer_id).await?;
        caller.may_use_solution(SCOPE_READ, solution_id)?;
        if !crate::platform::ids::is_valid("sol", solution_id) {
            return Err(ApiError::field("solution_id", "must be a sol_ id"));
        }
        let now = self.clock.now();
        let mut wanted = quota_read_keys(customer_id, solution_id, now);
        let anonymous = customer_id.starts_with("anon:");
        if !anonymous {
            wanted.push(keys::entitlement(customer_id, solution_id));
        }
        let mut found = self.store.batch_get(&wanted, true).await?;
        let entitlement = if anonymous {
            None
        } else {
            take::<EntitlementItem>(&mut found, &keys::entitlement(customer_id, solution_id))?
        };
        let tier = match (&entitlement, anonymous) {
            (_, true) => Tier::Anonymous,
            (Some(e), false) => e.tier_at(now.timestamp()),
            (None, false) => Tier::Free,
        };
        let mut quota = quota_from_found(customer_id, solution_id, tier, now, Some(&caller.user_id), &mut found)?
            .ok_or_else(solution_not_found)?;
        quota.billing_period = self.billing_period(customer_id, solution_id, tier, entitlement.as_ref()).await?;
        Ok(quota)
    }

    /// A usage-priced subscription's current billing period (one consistent read of its counter), when the
    /// customer's tier is the usage-priced one.
    pub async fn billing_period(
        &self,
        customer_id: &str,
        solution_id: &str,
        tier: Tier,
        entitlement: Option<&EntitlementItem>,
    ) -> Result<Option<PeriodUsage>, ApiError> {
        let now = self.clock.now().timestamp();
        let metering = entitlement.and_then(|e| e.metering.as_ref());
        let (Some(m), Some((key, bounds))) =
            (metering, billing_period_key(customer_id, solution_id, tier, metering, now))
        else {
            return Ok(None);
        };
        let mut found = self.store.batch_get(std::slice::from_ref(&key), true).await?;
        Ok(Some(billing_period_from_found(m, &key, bounds, now, &mut found)?))
    }
}
