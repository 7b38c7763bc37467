//! The caller's context (profile, tiers, the token in use and, with a solution token, its quota), an admin's
//! change of a user's tier and look-up of a user by email address, and the solutions a user may use.

use super::{AuthService, TokenInfo, accounts, check_id, epoch_rfc3339, kind_name};
use crate::audit::{AuditKind, Event, subject};
use crate::identity::{Principal, SCOPE_READ};
use crate::model::{Role, SolutionStatus, Tier};
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, FieldError, codes};
use crate::store::StoreError;
use crate::store::solutions::EntitlementItem;
use crate::store::users::UserItem;
use crate::usage;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetTierRequest {
    pub user_id: String,
    pub solution_id: String,
    pub tier: Tier,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Profile {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub created_at: String,
    /// Proven through a verification link (`POST /api/auth/verify-email`).
    pub email_verified: bool,
}

impl From<UserItem> for Profile {
    fn from(user: UserItem) -> Self {
        Self {
            user_id: user.user_id,
            email: user.email,
            name: user.name,
            role: user.role,
            created_at: user.created_at,
            email_verified: user.email_verified,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SolutionTier {
    pub solution_id: String,
    pub tier: Tier,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserContext {
    pub user: Profile,
    pub solutions: Vec<SolutionTier>,
    /// Deprecated, always empty: subscriptions are read with `GET /api/subscriptions` (the `subscriptions`
    /// function), so the user context costs no subscription reads.
    pub subscriptions: Vec<serde_json::Value>,
    pub token: TokenInfo,
    /// With a solution token: the quota for that solution today (the organization's, when the token acts
    /// for one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<usage::Quota>,
    /// The organizations the user belongs to, with the user's role in each (a solution token sees only the
    /// one it acts for).
    pub orgs: Vec<OrgMembership>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrgMembership {
    pub org_id: String,
    pub name: String,
    pub kind: crate::model::OrgKind,
    pub role: crate::model::OrgRole,
    /// Whose usage and subscriptions are the organization's (the user's own id for the personal one).
    pub customer_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entitlement {
    pub user_id: String,
    pub solution_id: String,
    pub tier: Tier,
    pub updated_at: String,
    pub updated_by: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UsableSolution {
    pub solution_id: String,
    pub name: String,
    pub tier: Tier,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserSolutions {
    pub solutions: Vec<UsableSolution>,
}

impl AuthService {
    /// The caller's context. A solution token (scope `usage:read`) sees its own solution only: its tier and
    /// quota, never the account's other solutions.
    pub async fn user_context(&self, caller: &Principal) -> Result<UserContext, ApiError> {
        let confined = caller.confined_to(SCOPE_READ)?.map(str::to_owned);
        let (account, orgs) = tokio::join!(self.store.user_with_entitlements(&caller.user_id), self.orgs_of(caller));
        let (user, mut tiers) = account?;
        let mut orgs = orgs?;
        // An account older than organizations gets its personal organization here (once).
        if caller.kind == crate::model::TokenKind::Access
            && !orgs.iter().any(|o| o.kind == crate::model::OrgKind::Personal)
            && user.is_some()
            && self.ensure_personal_org(&caller.user_id).await?
        {
            orgs = self.orgs_of(caller).await?;
        }
        let user = user.ok_or_else(|| ApiError::unauthorized("the account no longer exists"))?;
        if let Some(org_id) = &caller.org_id {
            // A token acting for an organization: its tiers are the organization's, while the user is a member.
            if !orgs.iter().any(|o| &o.org_id == org_id) {
                return Err(crate::identity::orgs::no_longer_member());
            }
            tiers = self.store.entitlements_of(org_id).await?;
        }
        if let Some(own) = &confined {
            tiers.retain(|e| &e.solution_id == own);
        }
        let quota = match &caller.solution_id {
            Some(sid) => {
                let now = self.clock.now();
                let customer = caller.customer_id();
                let own = tiers.iter().find(|e| &e.solution_id == sid);
                let tier = own.map_or(Tier::Free, |e| e.tier_at(now.timestamp()));
                let metering = own.and_then(|e| e.metering.as_ref());
                let period = usage::billing_period_key(customer, sid, tier, metering, now.timestamp());
                let mut keys = usage::quota_read_keys(customer, sid, now);
                keys.extend(period.iter().map(|(k, _)| k.clone()));
                let mut found = self.store.batch_get(&keys, false).await?;
                let mut quota = usage::quota_from_found(customer, sid, tier, now, Some(&caller.user_id), &mut found)?;
                if let (Some(q), Some(m), Some((key, bounds))) = (quota.as_mut(), metering, period) {
                    q.billing_period =
                        Some(usage::billing_period_from_found(m, &key, bounds, now.timestamp(), &mut found)?);
                }
                quota
            }
            None => None,
        };
        Ok(UserContext {
            user: Profile::from(user),
            solutions: tiers
                .into_iter()
                .map(|e| SolutionTier { tier: e.tier_at(self.clock.now().timestamp()), solution_id: e.solution_id })
                .collect(),
            subscriptions: Vec::new(),
            token: TokenInfo {
                token_id: caller.token_id.clone(),
                kind: kind_name(caller.kind).into(),
                solution_id: caller.solution_id.clone(),
                scopes: caller.scopes.clone(),
                issued_at: epoch_rfc3339(caller.issued_at),
                expires_at: epoch_rfc3339(caller.exp),
            },
            quota,
            orgs,
        })
    }

    /// The caller's organizations and roles: all of them for a session; for a solution token, the one it acts
    /// for (none for one acting for the user's own account).
    async fn orgs_of(&self, caller: &Principal) -> Result<Vec<OrgMembership>, ApiError> {
        let mut memberships = crate::identity::orgs::memberships(&self.store, &caller.user_id).await?;
        if caller.kind == crate::model::TokenKind::Solution {
            memberships.retain(|(m, _)| Some(&m.org_id) == caller.org_id.as_ref());
        }
        let out = memberships
            .into_iter()
            .map(|(m, org)| OrgMembership {
                org_id: org.org_id,
                name: org.name,
                kind: org.kind,
                role: m.role,
                customer_id: org.customer_id,
            })
            .collect();
        Ok(out)
    }

    pub async fn set_tier(&self, caller: &Principal, req: SetTierRequest) -> Result<Entitlement, ApiError> {
        if !caller.is_admin() {
            return Err(ApiError::forbidden("only admins may change tiers"));
        }
        let mut errors = Vec::new();
        for (field, prefix, value) in [("user_id", "usr", &req.user_id), ("solution_id", "sol", &req.solution_id)] {
            if let Err(e) = check_id(field, prefix, value) {
                errors.push(e);
            }
        }
        if req.tier == Tier::Anonymous {
            errors.push(FieldError::new("tier", "must be one of free, pro, enterprise"));
        }
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let now = self.clock.now();
        let item = EntitlementItem::new(&req.user_id, &req.solution_id, req.tier, rfc3339(now), &caller.user_id);
        let audit = Event::new(AuditKind::UserTierSet, &caller.user_id, subject::user(&req.user_id))
            .detail("solution_id", &req.solution_id)
            .detail("tier", req.tier.as_str())
            .at(now);
        match self.store.set_entitlement_with(&item, vec![self.store.tx_put_audit(&audit)?]).await {
            Ok(()) => {}
            Err(StoreError::Conditional { index: Some(0) }) => {
                return Err(ApiError::not_found(codes::USER_NOT_FOUND, "no user with this id"));
            }
            Err(StoreError::Conditional { index: Some(1) }) => {
                return Err(ApiError::not_found(codes::SOLUTION_NOT_FOUND, "no solution with this id"));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(user_id = %req.user_id, solution_id = %req.solution_id, tier = req.tier.as_str(), by = %caller.user_id, "tier set");
        Ok(Entitlement {
            user_id: item.user_id,
            solution_id: item.solution_id,
            tier: item.tier,
            updated_at: item.updated_at,
            updated_by: item.updated_by,
        })
    }

    /// `GET /api/admin/users?email=` (admins only): the account registered with this address, matched as
    /// login matches it (trimmed, case-insensitive).
    pub async fn find_user(&self, caller: &Principal, email: Option<&str>) -> Result<Profile, ApiError> {
        if !caller.is_admin() {
            return Err(ApiError::forbidden("only admins may look up users"));
        }
        let email = match email {
            Some(raw) => accounts::normalize_email(raw).map_err(|e| ApiError::validation(vec![e]))?,
            None => return Err(ApiError::field("email", "is required")),
        };
        let user = match self.store.user_id_by_email(&email).await? {
            Some(user_id) => self.store.get_user(&user_id).await?,
            None => None,
        };
        let user = user.ok_or_else(|| {
            let mut e = ApiError::not_found(codes::USER_NOT_FOUND, "no user has this email address");
            e.errors = vec![FieldError::new("email", "no user has this address")];
            e
        })?;
        tracing::info!(user_id = %user.user_id, by = %caller.user_id, "user looked up by email");
        Ok(Profile::from(user))
    }

    pub async fn user_solutions(&self, caller: &Principal) -> Result<UserSolutions, ApiError> {
        let (published, tiers) = tokio::try_join!(
            self.store.solutions_by_status(SolutionStatus::Published),
            self.store.entitlements(&caller.user_id),
        )?;
        let now = self.clock.now().timestamp();
        let solutions = published
            .into_iter()
            .map(|s| {
                let tier = tiers.iter().find(|e| e.solution_id == s.solution_id).map_or(Tier::Free, |e| e.tier_at(now));
                UsableSolution { solution_id: s.solution_id, name: s.name, tier }
            })
            .collect();
        Ok(UserSolutions { solutions })
    }
}
