//! Sessions and solution tokens: the use cases behind the `auth` function.
//!
//! Model: every login (and every generate-token call) starts a **family**. A family mints short-lived JWTs
//! (records kept for listing) and one live opaque refresh token at a time. Refresh tokens are single use:
//! presenting a used one revokes the whole family. Revoking any token revokes its family, so neither the token
//! nor any refresh token descending from it keeps working. Validation is signature-in-memory plus one
//! batched read (family + entitlement).

use crate::auth::accounts;
use crate::identity::jwt::{ACCESS_AUDIENCE, Claims, Expect, Jwks, KeySet, TokenError};
use crate::identity::throttle;
use crate::identity::{password, refresh};
use crate::model::{Role, SolutionStatus, Tier, TokenKind};
use crate::platform::clock::Clock;
use crate::platform::error::{ApiError, FieldError, codes};
use crate::platform::ids;
use crate::store::items::{
    EntitlementItem, FamilyItem, LoginThrottleItem, RefreshItem, SolutionItem, TokenItem, UsageCounterItem, UserItem,
};
use crate::store::{RotateError, Store, StoreError, keys, take};
use crate::usage;
use chrono::DateTime;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Lifetimes and bounds.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub access_ttl_seconds: i64,
    pub session_lifetime_seconds: i64,
    pub solution_default_ttl_seconds: i64,
    pub solution_min_ttl_seconds: i64,
    pub solution_max_ttl_seconds: i64,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            access_ttl_seconds: 900,
            session_lifetime_seconds: 30 * 86_400,
            solution_default_ttl_seconds: 900,
            solution_min_ttl_seconds: 60,
            solution_max_ttl_seconds: 3_600,
        }
    }
}

pub const DEFAULT_SCOPES: [&str; 2] = ["usage:read", "usage:track"];
const MAX_SCOPES: usize = 20;

// ---------- requests (explicit DTOs: unknown members are refused) ----------

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
pub struct GenerateRequest {
    pub solution_id: String,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub ttl_seconds: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    pub token: String,
    #[serde(default)]
    pub solution_id: Option<String>,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetTierRequest {
    pub user_id: String,
    pub solution_id: String,
    pub tier: Tier,
}

// ---------- responses ----------

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Session {
    pub user_id: String,
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    pub expires_in: i64,
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
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Refreshed {
    Solution(SolutionToken),
    Session(Session),
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
    /// The user's quota for the token's solution today.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<usage::Quota>,
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

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SolutionTier {
    pub solution_id: String,
    pub tier: Tier,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserContext {
    pub user: Profile,
    pub solutions: Vec<SolutionTier>,
    pub subscriptions: Vec<serde_json::Value>,
    pub token: TokenInfo,
    /// With a solution token: the quota for that solution today.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<usage::Quota>,
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

/// Tokens work while their solution is published (a missing solution item counts as gone).
fn solution_is_live(status: Option<SolutionStatus>) -> bool {
    status == Some(SolutionStatus::Published)
}

pub use crate::identity::{
    Principal, SCOPE_READ, SCOPE_TRACK, authenticate, require_scope, solution_mismatch, solution_unavailable,
    verify_bearer,
};
pub use crate::platform::clock::rfc3339;

fn epoch_rfc3339(epoch: i64) -> String {
    DateTime::from_timestamp(epoch, 0).map(rfc3339).unwrap_or_default()
}

fn token_invalid(err: TokenError) -> ApiError {
    ApiError::unauthorized_code(err.code(), err.to_string()).with_extension("valid", false.into())
}

fn kind_name(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Access => "session",
        TokenKind::Solution => "solution",
    }
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

fn check_id(field: &str, prefix: &str, value: &str) -> Result<(), FieldError> {
    if ids::is_valid(prefix, value) { Ok(()) } else { Err(FieldError::new(field, format!("must be a {prefix}_ id"))) }
}

/// The auth use cases.
#[derive(Clone)]
pub struct AuthService {
    store: Store,
    keys: Arc<KeySet>,
    clock: Arc<dyn Clock>,
    settings: TokenSettings,
}

/// What a minted JWT consists of.
struct Minted {
    jwt: String,
    record: TokenItem,
    exp: i64,
}

impl AuthService {
    pub fn new(store: Store, keys: Arc<KeySet>, clock: Arc<dyn Clock>, settings: TokenSettings) -> Self {
        Self { store, keys, clock, settings }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    pub fn jwks(&self) -> Jwks {
        self.keys.jwks()
    }

    fn mint(&self, family: &FamilyItem, email: &str, role: Role, tier: Option<Tier>) -> Result<Minted, ApiError> {
        let now = self.clock.now();
        let iat = now.timestamp();
        let exp = iat + family.token_ttl_seconds;
        let token_id = ids::token_id();
        let claims = Claims {
            iss: self.keys.issuer().to_owned(),
            sub: family.user_id.clone(),
            aud: match family.kind {
                TokenKind::Access => ACCESS_AUDIENCE.to_owned(),
                TokenKind::Solution => family.solution_id.clone().unwrap_or_default(),
            },
            exp,
            iat,
            jti: token_id.clone(),
            typ: family.kind,
            fid: family.family_id.clone(),
            email: email.to_owned(),
            role: (family.kind == TokenKind::Access).then_some(role),
            solution_id: family.solution_id.clone(),
            tier,
            scopes: family.scopes.clone(),
        };
        let jwt = self.keys.sign(&claims).map_err(ApiError::internal)?;
        let record = TokenItem::new(&token_id, family, rfc3339(now), exp);
        Ok(Minted { jwt, record, exp })
    }

    fn new_family(&self, user_id: &str, kind: TokenKind, solution: Option<(&str, Vec<String>, i64)>) -> FamilyItem {
        let now = self.clock.now();
        let (solution_id, scopes, ttl) = match solution {
            Some((sid, scopes, ttl)) => (Some(sid), scopes, ttl),
            None => (None, Vec::new(), self.settings.access_ttl_seconds),
        };
        FamilyItem::new(
            &ids::family_id(),
            user_id,
            kind,
            solution_id,
            scopes,
            ttl,
            rfc3339(now),
            now.timestamp() + self.settings.session_lifetime_seconds,
        )
    }

    fn session(&self, user: &UserItem, minted: Minted, refresh_secret: String, family: &FamilyItem) -> Session {
        Session {
            user_id: user.user_id.clone(),
            access_token: minted.jwt,
            refresh_token: refresh_secret,
            token_type: "Bearer".into(),
            expires_in: family.token_ttl_seconds,
        }
    }

    fn solution_token(&self, minted: Minted, refresh_secret: String, family: &FamilyItem, tier: Tier) -> SolutionToken {
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
        let minted = self.mint(&family, &email, role, None)?;
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
        if let Some(anonymous_id) = anonymous_id {
            for counter in self.anonymous_carry_over(anonymous_id, &user_id).await? {
                extra.push(self.store.tx_put(&counter, Some("attribute_not_exists(PK)"))?);
                // The partner's analytics count the conversion (anonymous → registered) on that day.
                extra.push(self.store.tx_update(
                    &keys::solution_stats_day(&counter.solution_id, &counter.period),
                    "ADD anonymous_to_registered :one SET entity_type = :et",
                    None,
                    std::collections::HashMap::from([
                        (":one".to_owned(), aws_sdk_dynamodb::types::AttributeValue::N("1".into())),
                        (":et".to_owned(), aws_sdk_dynamodb::types::AttributeValue::S("solution_stats".into())),
                    ]),
                )?);
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

    pub async fn login(&self, req: LoginRequest) -> Result<Session, ApiError> {
        let invalid = || ApiError::unauthorized_code(codes::INVALID_CREDENTIALS, "email or password is incorrect");
        let email = accounts::normalize_email(&req.email).map_err(|e| ApiError::validation(vec![e]))?;
        if req.password.chars().count() > password::MAX_LEN {
            password::verify_dummy(&req.password);
            return Err(invalid());
        }
        // The account's failure counter, whether or not the account exists (no enumeration by throttle).
        let email_hash = crate::platform::crypto::sha256_hex(email.as_bytes());
        let now = self.clock.now().timestamp();
        let (user_id, seen) = self.store.login_lookup(&email, &email_hash).await?;
        let live = seen.as_ref().filter(|t| t.expires_at > now);
        if let Some(t) = live
            && t.locked_until > now
        {
            return Err(throttle::login_locked(t.locked_until - now));
        }
        // Count this attempt as a failure before checking the password, atomically: concurrent guesses are
        // serialised, so each one counts and none slips past a lock.
        let failures = live.map_or(0, |t| t.failures).saturating_add(1);
        let lock = throttle::login_lock_seconds(failures);
        let next = LoginThrottleItem::new(
            &email_hash,
            failures,
            if lock > 0 { now + lock } else { 0 },
            now + throttle::LOGIN_FAILURE_MEMORY_SECONDS,
        );
        if !self.store.reserve_login_attempt(seen.as_ref(), &next).await? {
            return Err(throttle::login_locked(1));
        }
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
            return Err(invalid());
        }
        self.store.clear_login_failures(&email_hash).await?;
        let family = self.new_family(&user.user_id, TokenKind::Access, None);
        let minted = self.mint(&family, &user.email, user.role, None)?;
        let refresh = refresh::generate(&family.family_id);
        let refresh_item = RefreshItem::new(&refresh.hash, &family, rfc3339(self.clock.now()));
        self.store.start_family(&family, &refresh_item, &minted.record).await?;
        tracing::info!(user_id = %user.user_id, family_id = %family.family_id, "login");
        Ok(self.session(&user, minted, refresh.secret, &family))
    }

    /// The per-source-IP limit of a public auth route (see [`throttle`]).
    pub async fn admit(&self, limit: throttle::Limit, source_ip: Option<&str>) -> Result<(), ApiError> {
        throttle::admit(&self.store, limit, source_ip, self.clock.now().timestamp()).await
    }

    /// Authenticate a bearer token for the platform API (see [`authenticate`]).
    pub async fn authenticate(&self, bearer: Option<&str>, kinds: &[TokenKind]) -> Result<Principal, ApiError> {
        authenticate(&self.keys, &self.store, bearer, kinds).await
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
        let (Some(scopes), true) = (scopes, errors.is_empty()) else {
            return Err(ApiError::validation(errors));
        };
        let sk = keys::solution(&req.solution_id);
        let ek = keys::entitlement(&caller.user_id, &req.solution_id);
        let mut found = self.store.batch_get(&[sk.clone(), ek.clone()], false).await?;
        let solution: Option<SolutionItem> = take(&mut found, &sk)?;
        let entitlement: Option<EntitlementItem> = take(&mut found, &ek)?;
        if !solution.is_some_and(|s| s.status == SolutionStatus::Published) {
            return Err(ApiError::not_found(codes::SOLUTION_NOT_FOUND, "no published solution with this id"));
        }
        let tier = entitlement.map_or(Tier::Free, |e| e.tier_at(self.clock.now().timestamp()));
        let family = self.new_family(&caller.user_id, TokenKind::Solution, Some((&req.solution_id, scopes, ttl)));
        let minted = self.mint(&family, &caller.email, caller.role, Some(tier))?;
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
            Some(k) => Some(crate::partners::api_keys::key_hash(k).ok_or_else(crate::partners::api_keys::invalid_key)?),
            None => None,
        };
        let claims = self
            .keys
            .verify(
                &req.token,
                Expect { kinds: &[TokenKind::Solution], audience: req.solution_id.as_deref(), allow_expired: false },
            )
            .map_err(token_invalid)?;
        let solution_id = claims.solution_id.clone().unwrap_or_default();
        let now = self.clock.now();
        let fk = keys::family(&claims.fid);
        let ek = keys::entitlement(&claims.sub, &solution_id);
        let mut wanted = vec![fk.clone(), ek.clone()];
        wanted.extend(usage::quota_read_keys(&claims.sub, &solution_id, now));
        // The solution (whose partner a key must be) is among the quota's keys already.
        let key_keys = key_hash.as_ref().map(|h| (keys::api_key(h), keys::solution(&solution_id)));
        if let Some((k, _)) = &key_keys {
            wanted.push(k.clone());
        }
        // One round trip: revocation, current tier and today's quota (and the partner's key).
        let mut found = self.store.batch_get(&wanted, true).await?;
        if let (Some((k, s)), Some(presented)) = (&key_keys, api_key) {
            let key: Option<crate::store::items::ApiKeyItem> = take(&mut found, k)?;
            let key = key
                .filter(|key| crate::partners::api_keys::key_matches(key, presented))
                .ok_or_else(crate::partners::api_keys::invalid_key)?;
            let solution: Option<SolutionItem> =
                found.get(&(s.pk.clone(), s.sk.clone())).cloned().map(crate::store::from_item).transpose()?;
            if solution.is_none_or(|s| !crate::partners::api_keys::key_covers(&key, &s.partner_id, &solution_id)) {
                return Err(crate::partners::api_keys::key_not_allowed());
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
        let tier = take::<EntitlementItem>(&mut found, &ek)?.map_or(Tier::Free, |e| e.tier_at(now.timestamp()));
        let quota = usage::quota_from_found(&claims.sub, &solution_id, tier, now, &mut found)?;
        Ok(Validation {
            valid: true,
            token_id: claims.jti,
            user_id: claims.sub,
            email: claims.email,
            solution_id,
            tier,
            scopes: claims.scopes,
            expires_at: epoch_rfc3339(claims.exp),
            quota,
        })
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
        let ek = family.solution_id.as_deref().map(|sid| keys::entitlement(&family.user_id, sid));
        let sk = family.solution_id.as_deref().map(keys::solution);
        let mut wanted = vec![uk.clone()];
        wanted.extend(ek.clone());
        wanted.extend(sk.clone());
        let mut found = self.store.batch_get(&wanted, true).await?;
        let user: UserItem = take(&mut found, &uk)?.ok_or_else(invalid)?;
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
        let minted = self.mint(&family, &user.email, user.role, tier)?;
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
        if let Err(e) = self
            .store
            .revoke_family(&family.family_id, "system", "refresh_token_reused", &rfc3339(self.clock.now()))
            .await
        {
            return e.into();
        }
        ApiError::unauthorized_code(
            codes::REFRESH_TOKEN_REUSED,
            "this refresh token was already used; the session has been revoked",
        )
    }

    pub async fn revoke(&self, caller: &Principal, req: RevokeRequest) -> Result<(), ApiError> {
        let token_id = match (req.token_id, req.token) {
            (Some(id), None) => {
                check_id("token_id", "tok", &id).map_err(|e| ApiError::validation(vec![e]))?;
                id
            }
            (None, Some(token)) => {
                let claims = self
                    .keys
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
        self.store.revoke_family(&record.family_id, &caller.user_id, reason, &rfc3339(self.clock.now())).await?;
        tracing::info!(token_id = %token_id, family_id = %record.family_id, by = %caller.user_id, "token revoked");
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

    /// The caller's context. A solution token (scope `usage:read`) sees its own solution only: its tier and
    /// quota, never the account's other solutions.
    pub async fn user_context(&self, caller: &Principal) -> Result<UserContext, ApiError> {
        let confined = caller.confined_to(SCOPE_READ)?.map(str::to_owned);
        let (user, mut tiers) = self.store.user_with_entitlements(&caller.user_id).await?;
        if let Some(own) = &confined {
            tiers.retain(|e| &e.solution_id == own);
        }
        let user = user.ok_or_else(|| ApiError::unauthorized("the account no longer exists"))?;
        let quota = match &caller.solution_id {
            Some(sid) => {
                let now = self.clock.now();
                let tier =
                    tiers.iter().find(|e| &e.solution_id == sid).map_or(Tier::Free, |e| e.tier_at(now.timestamp()));
                let mut found = self.store.batch_get(&usage::quota_read_keys(&caller.user_id, sid, now), false).await?;
                usage::quota_from_found(&caller.user_id, sid, tier, now, &mut found)?
            }
            None => None,
        };
        Ok(UserContext {
            user: Profile {
                user_id: user.user_id,
                email: user.email,
                name: user.name,
                role: user.role,
                created_at: user.created_at,
                email_verified: user.email_verified,
            },
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
        })
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
        let item =
            EntitlementItem::new(&req.user_id, &req.solution_id, req.tier, rfc3339(self.clock.now()), &caller.user_id);
        match self.store.set_entitlement(&item).await {
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
