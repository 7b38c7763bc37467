//! Sessions and solution tokens: the use cases behind the `auth` function.
//!
//! Model: every login (and every generate-token call) starts a **family**. A family mints short-lived JWTs
//! (records kept for listing) and one live opaque refresh token at a time. Refresh tokens are single use:
//! presenting a used one revokes the whole family. Revoking any token revokes its family, so neither the token
//! nor any refresh token descending from it keeps working. Validation is signature-in-memory plus one
//! batched read (family + entitlement).

use super::{AuthService, Minted, check_id, epoch_rfc3339, solution_is_live};
use crate::identity::jwt::{Expect, TokenError};
use crate::identity::refresh;
use crate::model::{SolutionStatus, Tier, TokenKind};
use crate::platform::error::{ApiError, FieldError, codes};
use crate::platform::ids;
use crate::store::solutions::{EntitlementItem, SolutionItem};
use crate::store::tokens::{FamilyItem, RefreshItem};
use crate::store::{keys, take};
use crate::usage;
use serde::{Deserialize, Serialize};

use crate::identity::{Principal, solution_unavailable};
use crate::platform::clock::rfc3339;

pub const DEFAULT_SCOPES: [&str; 2] = ["usage:read", "usage:track"];
const MAX_SCOPES: usize = 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    pub solution_id: String,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub ttl_seconds: Option<i64>,
    /// The organization the token acts for (its tier and shared quota); the caller must be a member. The
    /// caller's personal organization (or none) acts for the caller's own account.
    #[serde(default)]
    pub org_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    pub token: String,
    #[serde(default)]
    pub solution_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SolutionToken {
    pub token: String,
    pub token_id: String,
    pub token_type: String,
    pub expires_at: String,
    pub expires_in: i64,
    pub refresh_token: String,
    pub solution_id: String,
    pub tier: Tier,
    pub scopes: Vec<String>,
    /// The organization the token acts for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Validation {
    pub valid: bool,
    pub token_id: String,
    pub user_id: String,
    pub email: String,
    pub solution_id: String,
    pub tier: Tier,
    pub scopes: Vec<String>,
    pub expires_at: String,
    /// The organization the token acts for: `tier` and `quota` are the organization's (shared by its members).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// The caller's role in that organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_role: Option<crate::model::OrgRole>,
    /// The user's quota for the token's solution today.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<usage::Quota>,
}

fn token_invalid(err: TokenError) -> ApiError {
    ApiError::unauthorized_code(err.code(), err.to_string()).with_extension("valid", false.into())
}

fn validate_scopes(scopes: Option<Vec<String>>) -> Result<Vec<String>, FieldError> {
    let Some(scopes) = scopes else {
        return Ok(DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect());
    };
    if scopes.len() > MAX_SCOPES {
        return Err(FieldError::new("scopes", format!("at most {MAX_SCOPES} scopes")));
    }
    for (i, s) in scopes.iter().enumerate() {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b":._-".contains(&b));
        if !ok {
            return Err(FieldError::new(format!("scopes[{i}]"), "must match [a-z0-9:._-]{1,64}"));
        }
    }
    let mut scopes = scopes;
    scopes.sort();
    scopes.dedup();
    Ok(scopes)
}

impl AuthService {
    pub(super) fn solution_token(
        &self,
        minted: Minted,
        refresh_secret: String,
        family: &FamilyItem,
        tier: Tier,
    ) -> SolutionToken {
        SolutionToken {
            token: minted.jwt,
            token_id: minted.record.token_id.clone(),
            token_type: "Bearer".into(),
            expires_at: epoch_rfc3339(minted.exp),
            expires_in: family.token_ttl_seconds,
            refresh_token: refresh_secret,
            solution_id: family.solution_id.clone().unwrap_or_default(),
            tier,
            scopes: family.scopes.clone(),
            org_id: family.org_id.clone(),
        }
    }

    pub async fn generate(&self, caller: &Principal, req: GenerateRequest) -> Result<SolutionToken, ApiError> {
        let mut errors = Vec::new();
        if let Err(e) = check_id("solution_id", "sol", &req.solution_id) {
            errors.push(e);
        }
        let scopes = validate_scopes(req.scopes).map_err(|e| errors.push(e)).ok();
        let ttl = req.ttl_seconds.unwrap_or(self.settings.solution_default_ttl_seconds);
        let (min, max) = (self.settings.solution_min_ttl_seconds, self.settings.solution_max_ttl_seconds);
        if !(min..=max).contains(&ttl) {
            errors.push(FieldError::new("ttl_seconds", format!("must be between {min} and {max}")));
        }
        if let Some(org_id) = &req.org_id
            && !ids::is_valid("org", org_id)
        {
            errors.push(FieldError::new("org_id", "must be an org_ id"));
        }
        let (Some(scopes), true) = (scopes, errors.is_empty()) else {
            return Err(ApiError::validation(errors));
        };
        // Acting for an organization: the caller must be a member (one consistent read); its tier is read below.
        let org_id = match &req.org_id {
            Some(org_id) => {
                let access = crate::identity::orgs::member_of(&self.store, org_id, &caller.user_id).await?;
                (access.org.kind != crate::model::OrgKind::Personal).then(|| access.org.org_id.clone())
            }
            None => None,
        };
        let customer = org_id.as_deref().unwrap_or(&caller.user_id);
        let sk = keys::solution(&req.solution_id);
        let ek = keys::entitlement(customer, &req.solution_id);
        let mut found = self.store.batch_get(&[sk.clone(), ek.clone()], false).await?;
        let solution: Option<SolutionItem> = take(&mut found, &sk)?;
        let entitlement: Option<EntitlementItem> = take(&mut found, &ek)?;
        if !solution.is_some_and(|s| s.status == SolutionStatus::Published) {
            return Err(ApiError::not_found(codes::SOLUTION_NOT_FOUND, "no published solution with this id"));
        }
        let tier = entitlement.map_or(Tier::Free, |e| e.tier_at(self.clock.now().timestamp()));
        let mut family = self.new_family(&caller.user_id, TokenKind::Solution, Some((&req.solution_id, scopes, ttl)));
        family.org_id = org_id;
        let minted = self.mint(&family, &caller.email, caller.role, Some(tier)).await?;
        let refresh = refresh::generate(&family.family_id);
        let refresh_item = RefreshItem::new(&refresh.hash, &family, rfc3339(self.clock.now()));
        self.store.start_family(&family, &refresh_item, &minted.record).await?;
        tracing::info!(user_id = %caller.user_id, token_id = %minted.record.token_id, solution_id = %req.solution_id, "solution token issued");
        Ok(self.solution_token(minted, refresh.secret, &family, tier))
    }

    /// Validate a solution token: signature, expiry, issuer and audience in memory, then one batched read for
    /// revocation and the current tier.
    pub async fn validate(&self, req: ValidateRequest) -> Result<Validation, ApiError> {
        self.validate_for(None, req).await
    }

    /// As [`Self::validate`], for a partner backend presenting its API key (`X-Api-Key`): the key is
    /// checked in the same batched read, and must cover the token's solution (403 otherwise).
    pub async fn validate_for(&self, api_key: Option<&str>, req: ValidateRequest) -> Result<Validation, ApiError> {
        let key_hash = match api_key {
            Some(k) => Some(crate::identity::api_keys::key_hash(k).ok_or_else(crate::identity::api_keys::invalid_key)?),
            None => None,
        };
        let claims = self
            .keys
            .verifying()
            .await?
            .verify(
                &req.token,
                Expect { kinds: &[TokenKind::Solution], audience: req.solution_id.as_deref(), allow_expired: false },
            )
            .map_err(token_invalid)?;
        let solution_id = claims.solution_id.clone().unwrap_or_default();
        let now = self.clock.now();
        let fk = keys::family(&claims.fid);
        // A token acting for an organization: the organization's tier and quota, while the user is a member.
        let customer = claims.org_id.clone().unwrap_or_else(|| claims.sub.clone());
        let ek = keys::entitlement(&customer, &solution_id);
        let mk = claims.org_id.as_deref().map(|org| keys::org_member(org, &claims.sub));
        let mut wanted = vec![fk.clone(), ek.clone()];
        wanted.extend(mk.clone());
        wanted.extend(usage::quota_read_keys(&customer, &solution_id, now));
        // The solution (whose partner a key must be) is among the quota's keys already.
        let key_keys = key_hash.as_ref().map(|h| (keys::api_key(h), keys::solution(&solution_id)));
        if let Some((k, _)) = &key_keys {
            wanted.push(k.clone());
        }
        // One round trip: revocation, current tier and today's quota (and the partner's key).
        let mut found = self.store.batch_get(&wanted, true).await?;
        if let (Some((k, s)), Some(presented)) = (&key_keys, api_key) {
            let key: Option<crate::store::partners::ApiKeyItem> = take(&mut found, k)?;
            let key = key
                .filter(|key| crate::identity::api_keys::key_matches(key, presented))
                .ok_or_else(crate::identity::api_keys::invalid_key)?;
            let solution: Option<SolutionItem> =
                found.get(&(s.pk.clone(), s.sk.clone())).cloned().map(crate::store::from_item).transpose()?;
            if solution.is_none_or(|s| !crate::identity::api_keys::key_covers(&key, &s.partner_id, &solution_id)) {
                return Err(crate::identity::api_keys::key_not_allowed());
            }
        }
        let family: Option<FamilyItem> = take(&mut found, &fk)?;
        if family.is_none_or(|f| f.revoked_at.is_some()) {
            return Err(ApiError::unauthorized_code(codes::REVOKED, "the token has been revoked")
                .with_extension("valid", false.into()));
        }
        let sk = keys::solution(&solution_id);
        let status = found
            .get(&(sk.pk.clone(), sk.sk.clone()))
            .cloned()
            .map(crate::store::from_item::<SolutionItem>)
            .transpose()?
            .map(|s| s.status);
        if !solution_is_live(status) {
            return Err(solution_unavailable().with_extension("valid", false.into()));
        }
        let org_role = match &mk {
            Some(mk) => Some(
                take::<crate::store::orgs::MembershipItem>(&mut found, mk)?
                    .ok_or_else(|| crate::identity::orgs::no_longer_member().with_extension("valid", false.into()))?
                    .role,
            ),
            None => None,
        };
        let tier = take::<EntitlementItem>(&mut found, &ek)?.map_or(Tier::Free, |e| e.tier_at(now.timestamp()));
        let quota = usage::quota_from_found(&customer, &solution_id, tier, now, Some(&claims.sub), &mut found)?;
        Ok(Validation {
            valid: true,
            token_id: claims.jti,
            user_id: claims.sub,
            email: claims.email,
            solution_id,
            tier,
            scopes: claims.scopes,
            expires_at: epoch_rfc3339(claims.exp),
            org_id: claims.org_id,
            org_role,
            quota,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_default_validate_and_dedupe() {
        assert_eq!(validate_scopes(None).ok(), Some(vec!["usage:read".into(), "usage:track".into()]));
        assert_eq!(
            validate_scopes(Some(vec!["b".into(), "a".into(), "b".into()])).ok(),
            Some(vec!["a".into(), "b".into()])
        );
        let err = validate_scopes(Some(vec!["ok".into(), "Not OK".into()])).err();
        assert_eq!(err.map(|e| e.field), Some("scopes[1]".to_owned()));
        assert!(validate_scopes(Some(vec!["a".into(); 21])).is_err());
    }
}
