//! Sessions: creating an account with its first session (and carrying an anonymous visitor's usage of today
//! into it), logging in, rotating a refresh token (a reused one revokes its family), revoking a token's
//! family, and listing the caller's live tokens.

use super::tokens::SolutionToken;
use super::{AuthService, Minted, check_id, epoch_rfc3339, kind_name, solution_is_live};
use crate::audit::{self, AuditKind, Event, SYSTEM, subject};
use crate::auth::accounts;
use crate::identity::jwt::Expect;
use crate::identity::throttle;
use crate::identity::{Principal, password, refresh, solution_unavailable};
use crate::model::{Role, Tier, TokenKind};
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, FieldError, codes};
use crate::platform::ids;
use crate::store::solutions::{EntitlementItem, SolutionItem};
use crate::store::tokens::{FamilyItem, RefreshItem, TokenItem};
use crate::store::usage::UsageCounterItem;
use crate::store::users::UserItem;
use crate::store::{RotateError, StoreError, keys, take};
use crate::usage;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    #[serde(default)]
    pub token_id: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Session {
    pub user_id: String,
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    pub expires_in: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Refreshed {
    Solution(SolutionToken),
    Session(Session),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenInfo {
    pub token_id: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solution_id: Option<String>,
    pub scopes: Vec<String>,
    pub issued_at: String,
    pub expires_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenList {
    pub tokens: Vec<TokenInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

fn token_info(t: &TokenItem) -> TokenInfo {
    TokenInfo {
        token_id: t.token_id.clone(),
        kind: kind_name(t.kind).into(),
        solution_id: t.solution_id.clone(),
        scopes: t.scopes.clone(),
        issued_at: t.issued_at.clone(),
        expires_at: epoch_rfc3339(t.exp),
    }
}

impl AuthService {
    fn session(&self, user: &UserItem, minted: Minted, refresh_secret: String, family: &FamilyItem) -> Session {
        Session {
            user_id: user.user_id.clone(),
            access_token: minted.jwt,
            refresh_token: refresh_secret,
            token_type: "Bearer".into(),
            expires_in: family.token_ttl_seconds,
        }
    }

    /// Create an account (any role: the public route only ever passes `Role::User`) and its first session in
    /// the same transaction. Accounts made here directly (seed data, operators) have a verified address;
    /// [`Self::register`] makes an unverified one and emails its verification link.
    pub async fn create_account(
        &self,
        email: &str,
        password: &str,
        name: &str,
        role: Role,
        anonymous_id: Option<&str>,
    ) -> Result<(UserItem, Option<Session>), ApiError> {
        self.open_account(email, password, name, role, anonymous_id, true).await
    }

    async fn open_account(
        &self,
        email: &str,
        password: &str,
        name: &str,
        role: Role,
        anonymous_id: Option<&str>,
        verified: bool,
    ) -> Result<(UserItem, Option<Session>), ApiError> {
        let mut errors = Vec::new();
        let email = accounts::normalize_email(email).map_err(|e| errors.push(e)).ok();
        let name = accounts::normalize_name(name).map_err(|e| errors.push(e)).ok();
        if let Err(e) = accounts::validate_password(password) {
            errors.push(e);
        }
        let (Some(email), Some(name), true) = (email, name, errors.is_empty()) else {
            return Err(ApiError::validation(errors));
        };
        let hash = password::hash(password).map_err(ApiError::internal)?;
        let user_id = ids::user_id();
        let mut user = UserItem::new(&user_id, &email, &name, role, hash, rfc3339(self.clock.now()));
        let family = self.new_family(&user_id, TokenKind::Access, None);
        let minted = self.mint(&family, &email, role, None).await?;
        let refresh = refresh::generate(&family.family_id);
        let refresh_item = RefreshItem::new(&refresh.hash, &family, rfc3339(self.clock.now()));
        let mut extra = self.store.family_start_items(&family, &refresh_item, &minted.record)?;
        if verified {
            user.email_verified = true;
            user.email_verified_at = Some(user.created_at.clone());
        } else {
            // The verification link and its mail (and the resend throttle's first count) commit with the account.
            extra.extend(crate::auth::verification::registration_items(&self.store, &user, self.clock.now())?);
        }
        // Every account has its personal organization from the start.
        extra.extend(self.personal_org_items(&user_id)?);
        if let Some(anonymous_id) = anonymous_id {
            for counter in self.anonymous_carry_over(anonymous_id, &user_id).await? {
                extra.push(self.store.tx_put_new(&counter)?);
                // The partner's analytics count the conversion (anonymous → registered) on that day.
                extra.push(self.store.tx_count_conversion(&counter.solution_id, &counter.period)?);
            }
        }
        match self.store.create_user(&user, extra).await {
            Ok(()) => {
                tracing::info!(user_id = %user.user_id, "account created");
                let session = self.session(&user, minted, refresh.secret, &family);
                Ok((user, Some(session)))
            }
            Err(StoreError::Conditional { index: Some(0) }) => {
                Err(ApiError::conflict(codes::EMAIL_TAKEN, "an account with this email already exists"))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Today's usage of an anonymous visitor, as counters of the new account (so signing up never resets a
    /// quota). "Today" is each solution's local day.
    async fn anonymous_carry_over(&self, anonymous_id: &str, user_id: &str) -> Result<Vec<UsageCounterItem>, ApiError> {
        const MAX_SOLUTIONS: usize = 10;
        let customer = usage::anonymous_customer(anonymous_id).map_err(|e| ApiError::validation(vec![e]))?;
        let now = self.clock.now();
        let utc_today = now.date_naive();
        let day = |d: Option<chrono::NaiveDate>| d.unwrap_or(utc_today).format("%Y-%m-%d").to_string();
        let counters = self.store.usage_days(&customer, &day(utc_today.pred_opt()), &day(utc_today.succ_opt())).await?;
        let mut solution_ids: Vec<String> = counters.iter().map(|c| c.solution_id.clone()).collect();
        solution_ids.sort();
        solution_ids.dedup();
        solution_ids.truncate(MAX_SOLUTIONS);
        let wanted: Vec<keys::Key> = solution_ids.iter().flat_map(|s| usage::Policy::read_keys(s)).collect();
        let mut found = self.store.batch_get(&wanted, false).await?;
        let mut policies = std::collections::HashMap::new();
        for sid in &solution_ids {
            if let Some(p) = usage::Policy::from_found(sid, &mut found)? {
                policies.insert(sid.clone(), p);
            }
        }
        Ok(counters
            .iter()
            .filter_map(|c| {
                let policy = policies.get(&c.solution_id)?;
                let today = usage::local_day(now, policy.tz);
                (c.period == today.day && c.used > 0).then(|| {
                    let mut carried = c.carried_to(user_id, Tier::Free);
                    carried.limit = policy.limits(Tier::Free).daily;
                    carried
                })
            })
            .collect())
    }

    pub async fn register(&self, req: RegisterRequest, anonymous_id: Option<&str>) -> Result<Session, ApiError> {
        let (user, session) =
            self.open_account(&req.email, &req.password, &req.name, Role::User, anonymous_id, false).await?;
        if anonymous_id.is_some() {
            tracing::info!(user_id = %user.user_id, "anonymous usage carried into the new account");
        }
        session.ok_or_else(|| ApiError::internal("account created without a session"))
    }

    /// Log in (`source_ip`: the client's address, kept on the audit records of the attempt). A success is
    /// recorded with the new session; a wrong password for an existing account after the refusal (with the
    /// lock it brings, if any); unknown addresses and attempts refused while locked leave no record.
    pub async fn login(&self, req: LoginRequest, source_ip: Option<&str>) -> Result<Session, ApiError> {
        let invalid = || ApiError::unauthorized_code(codes::INVALID_CREDENTIALS, "email or password is incorrect");
        let email = accounts::normalize_email(&req.email).map_err(|e| ApiError::validation(vec![e]))?;
        if req.password.chars().count() > password::MAX_LEN {
            password::verify_dummy(&req.password);
            return Err(invalid());
        }
        // The account's failure counter, whether or not the account exists (no enumeration by throttle).
        let now = self.clock.now().timestamp();
        let throttle::PasswordAttempt { user_id, failures, lock_seconds: lock, email_hash } =
            throttle::reserve_password_attempt(&self.store, &email, now).await?;
        let user = match user_id {
            Some(user_id) => self.store.get_user(&user_id).await?,
            None => None,
        };
        let Some(user) = user else {
            password::verify_dummy(&req.password);
            return Err(invalid());
        };
        if !password::verify(&req.password, &user.password_hash) {
            tracing::info!(user_id = %user.user_id, failures, "login refused");
            let at = self.clock.now();
            let failed = Event::new(AuditKind::AuthLoginFailed, SYSTEM, subject::user(&user.user_id))
                .detail("failures", failures)
                .source_ip(source_ip);
            let mut records = vec![failed.at(at)];
            if lock > 0 {
                let locked = Event::new(AuditKind::AuthLocked, SYSTEM, subject::user(&user.user_id))
                    .detail("failures", failures)
                    .detail("locked_seconds", lock)
                    .source_ip(source_ip);
                records.push(locked.at(at));
            }
            audit::record_after(&self.store, &records).await;
            return Err(invalid());
        }
        self.store.clear_login_failures(&email_hash).await?;
        let family = self.new_family(&user.user_id, TokenKind::Access, None);
        let minted = self.mint(&family, &user.email, user.role, None).await?;
        let refresh = refresh::generate(&family.family_id);
        let now = self.clock.now();
        let refresh_item = RefreshItem::new(&refresh.hash, &family, rfc3339(now));
        let login = Event::new(AuditKind::AuthLogin, &user.user_id, subject::user(&user.user_id))
            .detail("family_id", &family.family_id)
            .source_ip(source_ip)
            .at(now);
        let mut items = self.store.family_start_items(&family, &refresh_item, &minted.record)?;
        items.push(self.store.tx_put_audit(&login)?);
        self.store.transact(items).await?;
        tracing::info!(user_id = %user.user_id, family_id = %family.family_id, "login");
        Ok(self.session(&user, minted, refresh.secret, &family))
    }

    pub async fn refresh(&self, req: RefreshRequest) -> Result<Refreshed, ApiError> {
        let invalid = || ApiError::unauthorized_code(codes::INVALID_REFRESH_TOKEN, "the refresh token is not valid");
        let presented = refresh::parse(&req.refresh_token).ok_or_else(invalid)?;
        let (stored, family) = self.store.refresh_and_family(&presented.hash, &presented.family_id).await?;
        let (Some(stored), Some(family)) = (stored, family) else {
            return Err(invalid());
        };
        if stored.family_id != family.family_id {
            return Err(invalid());
        }
        if family.revoked_at.is_some() {
            return Err(ApiError::unauthorized_code(codes::REVOKED, "this session has been revoked"));
        }
        let now = self.clock.now();
        if now.timestamp() >= family.refresh_until {
            return Err(ApiError::unauthorized_code(codes::EXPIRED, "the refresh token has expired"));
        }
        if stored.used_at.is_some() {
            return Err(self.reuse_detected(&family).await);
        }
        let uk = keys::user(&family.user_id);
        // A family acting for an organization: the organization's tier, while the user is still a member.
        let customer = family.org_id.as_deref().unwrap_or(&family.user_id);
        let ek = family.solution_id.as_deref().map(|sid| keys::entitlement(customer, sid));
        let sk = family.solution_id.as_deref().map(keys::solution);
        let mk = family.org_id.as_deref().map(|org| keys::org_member(org, &family.user_id));
        let mut wanted = vec![uk.clone()];
        wanted.extend(ek.clone());
        wanted.extend(sk.clone());
        wanted.extend(mk.clone());
        let mut found = self.store.batch_get(&wanted, true).await?;
        let user: UserItem = take(&mut found, &uk)?.ok_or_else(invalid)?;
        if let Some(mk) = &mk
            && take::<crate::store::orgs::MembershipItem>(&mut found, mk)?.is_none()
        {
            return Err(crate::identity::orgs::no_longer_member());
        }
        if let Some(sk) = &sk {
            let solution: Option<SolutionItem> = take(&mut found, sk)?;
            if !solution_is_live(solution.map(|s| s.status)) {
                return Err(solution_unavailable());
            }
        }
        let tier = match &ek {
            Some(k) => Some(take::<EntitlementItem>(&mut found, k)?.map_or(Tier::Free, |e| e.tier_at(now.timestamp()))),
            None => None,
        };
        let minted = self.mint(&family, &user.email, user.role, tier).await?;
        let next = refresh::generate(&family.family_id);
        let next_item = RefreshItem::new(&next.hash, &family, rfc3339(now));
        match self.store.rotate_refresh(&presented.hash, &rfc3339(now), &next_item, &minted.record).await {
            Ok(()) => {}
            Err(RotateError::Reused) => return Err(self.reuse_detected(&family).await),
            Err(RotateError::Revoked) => {
                return Err(ApiError::unauthorized_code(codes::REVOKED, "this session has been revoked"));
            }
            Err(RotateError::Store(e)) => return Err(e.into()),
        }
        tracing::info!(user_id = %family.user_id, family_id = %family.family_id, "refresh token rotated");
        Ok(match (family.kind, tier) {
            (TokenKind::Solution, Some(tier)) => {
                Refreshed::Solution(self.solution_token(minted, next.secret, &family, tier))
            }
            _ => Refreshed::Session(self.session(&user, minted, next.secret, &family)),
        })
    }

    async fn reuse_detected(&self, family: &FamilyItem) -> ApiError {
        tracing::warn!(user_id = %family.user_id, family_id = %family.family_id, "refresh token reuse: family revoked");
        let now = self.clock.now();
        match self.store.revoke_family(&family.family_id, SYSTEM, "refresh_token_reused", &rfc3339(now)).await {
            Err(e) => return e.into(),
            // Recorded when this revoked it (a family revoked already was recorded then).
            Ok(true) if family.revoked_at.is_none() => {
                let event = Event::new(AuditKind::TokenRevoked, SYSTEM, subject::user(&family.user_id))
                    .reason(Some("refresh_token_reused"))
                    .detail("family_id", &family.family_id);
                audit::record_after(&self.store, &[event.at(now)]).await;
            }
            Ok(_) => {}
        }
        ApiError::unauthorized_code(
            codes::REFRESH_TOKEN_REUSED,
            "this refresh token was already used; the session has been revoked",
        )
    }

    /// Revoke a token's family (`source_ip`: the client's address, kept on the audit record).
    pub async fn revoke(
        &self,
        caller: &Principal,
        req: RevokeRequest,
        source_ip: Option<&str>,
    ) -> Result<(), ApiError> {
        let token_id = match (req.token_id, req.token) {
            (Some(id), None) => {
                check_id("token_id", "tok", &id).map_err(|e| ApiError::validation(vec![e]))?;
                id
            }
            (None, Some(token)) => {
                let claims = self
                    .keys
                    .verifying()
                    .await?
                    .verify(
                        &token,
                        Expect {
                            kinds: &[TokenKind::Access, TokenKind::Solution],
                            audience: None,
                            allow_expired: true,
                        },
                    )
                    .map_err(|e| ApiError::field("token", format!("not a token of this platform: {e}")))?;
                claims.jti
            }
            _ => {
                return Err(ApiError::validation(vec![FieldError::new(
                    "token_id",
                    "exactly one of token_id or token is required",
                )]));
            }
        };
        let record = self
            .store
            .get_token(&token_id)
            .await?
            .ok_or_else(|| ApiError::not_found(codes::TOKEN_NOT_FOUND, "no token with this id"))?;
        if record.user_id != caller.user_id && !caller.is_admin() {
            return Err(ApiError::forbidden("only the token's owner or an admin may revoke it"));
        }
        let reason = if caller.user_id == record.user_id { "revoked_by_owner" } else { "revoked_by_admin" };
        let now = self.clock.now();
        self.store.revoke_family(&record.family_id, &caller.user_id, reason, &rfc3339(now)).await?;
        tracing::info!(token_id = %token_id, family_id = %record.family_id, by = %caller.user_id, "token revoked");
        let event = Event::new(AuditKind::TokenRevoked, &caller.user_id, subject::token(&token_id))
            .reason(Some(reason))
            .detail("family_id", &record.family_id)
            .detail("user_id", &record.user_id)
            .source_ip(source_ip);
        audit::record_after(&self.store, &[event.at(now)]).await;
        Ok(())
    }

    pub async fn list_tokens(
        &self,
        caller: &Principal,
        limit: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<TokenList, ApiError> {
        let limit = match limit {
            None => 50,
            Some(raw) => match raw.parse::<i32>() {
                Ok(n) if (1..=100).contains(&n) => n,
                _ => return Err(ApiError::field("limit", "must be an integer from 1 to 100")),
            },
        };
        let now = self.clock.now().timestamp();
        let (records, next_cursor) = self
            .store
            .user_tokens_page(&caller.user_id, now, limit, cursor)
            .await?
            .ok_or_else(|| ApiError::field("cursor", "is not a cursor of this listing"))?;
        let family_ids: Vec<String> = records.iter().map(|t| t.family_id.clone()).collect();
        let families = self.store.families(&family_ids).await?;
        let tokens = records
            .iter()
            .filter(|t| families.get(&t.family_id).is_some_and(|f| f.revoked_at.is_none()))
            .map(token_info)
            .collect();
        Ok(TokenList { tokens, next_cursor })
    }
}
