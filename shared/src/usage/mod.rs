//! Usage tracking and quotas: the hot path.
//!
//! * A tier's limits come from the solution's own tier definitions, else the platform defaults in the table,
//!   else the built-in defaults. The day is the solution's local day (IANA time zone); `reset_at` is the
//!   next local midnight.
//! * Per container, solution policies, users' tiers and token-family revocation are cached for
//!   `cache_ttl_seconds` (60 s): a warm call costs exactly one DynamoDB request, and a revocation or a limit
//!   change takes effect within that time. Misses are fetched together in one `BatchGetItem`.
//! * Without an idempotency key (and without a monthly limit) an event is one conditional `UpdateItem`. With
//!   a key (or a monthly limit) it is one `TransactWriteItems` that writes the idempotency record with the
//!   answer and updates the counters under an expected-count condition; a stale expectation comes back with
//!   the current count and is retried.

use crate::identity::jwt::{Claims, KeySet};
use crate::identity::throttle;
use crate::identity::{
    Principal, SCOPE_READ, SCOPE_TRACK, authenticate, require_scope, solution_mismatch, solution_unavailable,
    verify_bearer,
};
use crate::model::Grant;
use crate::model::TokenKind;
use crate::model::{SolutionStatus, Tier};
use crate::partners::api_keys;
use crate::platform::clock::Clock;
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, FieldError, codes};
use crate::store::items::{
    ApiKeyItem, EntitlementItem, FamilyItem, IdempotencyItem, NotificationItem, QuotaResetAuditItem, SolutionItem,
    TierDefinitionItem, UsageCounterItem,
};
use crate::store::{Counted, CounterSpec, Item, Store, StoreError, TxCounted, keys, take};
use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

pub const MAX_QUANTITY: i64 = 1_000;
const MAX_METADATA_BYTES: usize = 2_048;
const MAX_HISTORY_DAYS: i64 = 366;
/// Writes of a solution's limits that lost to a concurrent change are retried on top of it this often.
const MAX_LIMIT_ATTEMPTS: u32 = 5;

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
}

impl Quota {
    pub fn new(tier: Tier, limit: Option<u64>, used: u64, reset_at: DateTime<Utc>) -> Self {
        Self { tier, limit, used, remaining: limit.map(|l| l.saturating_sub(used)), reset_at: rfc3339(reset_at) }
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
pub fn quota_from_found(
    customer_id: &str,
    solution_id: &str,
    tier: Tier,
    now: DateTime<Utc>,
    found: &mut HashMap<(String, String), Item>,
) -> Result<Option<Quota>, StoreError> {
    let Some(policy) = Policy::from_found(solution_id, found)? else {
        return Ok(None);
    };
    let today = local_day(now, policy.tz);
    let counter: Option<UsageCounterItem> = take(found, &keys::usage_day(customer_id, &today.day, solution_id))?;
    let limit = policy.limits(tier).daily;
    Ok(Some(Quota::new(tier, limit, counter.map_or(0, |c| c.used), today.reset_at)))
}

/// The customer id under which an anonymous visitor's usage is counted. The id must be 8–128 characters of
/// `[A-Za-z0-9_-]`.
pub fn anonymous_customer(anonymous_id: &str) -> Result<String, FieldError> {
    let ok = (8..=128).contains(&anonymous_id.len())
        && anonymous_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(format!("anon:{anonymous_id}"))
    } else {
        Err(FieldError::new("X-Anonymous-Id", "must be 8 to 128 characters of [A-Za-z0-9_-]"))
    }
}

// ---------- requests and answers ----------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackRequest {
    pub action: String,
    #[serde(default)]
    pub quantity: Option<i64>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    /// Required for anonymous calls; for token calls it must match the token's solution when given.
    #[serde(default)]
    pub solution_id: Option<String>,
    /// The user (`usr_…`) a partner backend tracks for, with its API key (`X-Api-Key`) and no token.
    #[serde(default)]
    pub customer_id: Option<String>,
}

/// The answer to a tracked event (200 when allowed, 429 when not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackAnswer {
    pub allowed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub used: u64,
    pub limit: Option<u64>,
    /// `None` (null) when unlimited.
    pub remaining: Option<u64>,
    pub reset_at: String,
}

impl TrackAnswer {
    fn allowed(used: u64, limit: Option<u64>, reset_at: &DateTime<Utc>) -> Self {
        Self {
            allowed: true,
            code: None,
            used,
            limit,
            remaining: limit.map(|l| l.saturating_sub(used)),
            reset_at: rfc3339(*reset_at),
        }
    }

    fn refused(used: u64, limit: Option<u64>, reset_at: &DateTime<Utc>) -> Self {
        Self {
            allowed: false,
            code: Some("quota_exceeded".into()),
            used,
            limit,
            remaining: limit.map(|l| l.saturating_sub(used)),
            reset_at: rfc3339(*reset_at),
        }
    }

    pub fn reset_at(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.reset_at).ok().map(|t| t.with_timezone(&Utc))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageDay {
    pub date: String,
    pub solution_id: String,
    pub used: u64,
    pub limit: Option<u64>,
    pub actions: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageHistory {
    pub customer_id: String,
    pub from: String,
    pub to: String,
    pub days: Vec<UsageDay>,
}

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

// ---------- the service ----------

#[derive(Debug, Clone)]
pub struct UsageSettings {
    pub cache_ttl_seconds: i64,
    pub idempotency_ttl_seconds: i64,
    pub history_ttl_days: i64,
}

impl Default for UsageSettings {
    fn default() -> Self {
        Self { cache_ttl_seconds: 60, idempotency_ttl_seconds: 48 * 3_600, history_ttl_days: 400 }
    }
}

struct Cached<T> {
    value: T,
    fetched: DateTime<Utc>,
}

/// Per-container caches (bounded: cleared when they grow past `MAX_ENTRIES`).
#[derive(Default)]
struct Caches {
    policies: Mutex<HashMap<String, Cached<Option<Arc<Policy>>>>>,
    /// A user's tier for a solution, with its scheduled switch (applied at read time).
    tiers: Mutex<HashMap<(String, String), Cached<Grant>>>,
    families: Mutex<HashMap<String, Cached<bool>>>,
    /// Last known count per counter key (only a starting guess for the transactional path).
    counters: Mutex<HashMap<(String, String), u64>>,
    /// Tokens whose signature was verified, by their exact text (expiry is still checked on every use).
    verified: Mutex<HashMap<String, Arc<Claims>>>,
    /// Partner API keys by hash (`None`: no such key).
    api_keys: Mutex<HashMap<String, Cached<Option<Arc<ApiKeyItem>>>>>,
}

const MAX_ENTRIES: usize = 50_000;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn fresh<K: std::hash::Hash + Eq, V: Clone>(
    map: &Mutex<HashMap<K, Cached<V>>>,
    key: &K,
    now: DateTime<Utc>,
    ttl: i64,
) -> Option<V> {
    lock(map).get(key).filter(|c| (now - c.fetched).num_seconds() < ttl).map(|c| c.value.clone())
}

fn remember<K: std::hash::Hash + Eq, V>(map: &Mutex<HashMap<K, Cached<V>>>, key: K, value: V, now: DateTime<Utc>) {
    let mut guard = lock(map);
    if guard.len() >= MAX_ENTRIES {
        guard.clear();
    }
    guard.insert(key, Cached { value, fetched: now });
}

/// Who is tracking.
#[derive(Debug, Clone)]
struct Subject {
    customer_id: String,
    solution_id: String,
    family_id: Option<String>,
    /// The user whose tier applies (None: anonymous tier).
    user_id: Option<String>,
    /// Tracked by the solution's partner (with its API key), not by the user's own token: the day counter
    /// records it (`attested`), which is what reviews count as real use.
    attested: bool,
}

#[derive(Clone)]
pub struct UsageService {
    store: Store,
    keys: Arc<KeySet>,
    clock: Arc<dyn Clock>,
    settings: UsageSettings,
    caches: Arc<Caches>,
}

fn validate_track(req: &TrackRequest) -> Result<u64, ApiError> {
    let mut errors = Vec::new();
    let action_ok = !req.action.is_empty()
        && req.action.len() <= 64
        && req.action.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b));
    if !action_ok {
        errors.push(FieldError::new("action", "must be 1 to 64 characters of [A-Za-z0-9_.:-]"));
    }
    let quantity = req.quantity.unwrap_or(1);
    if !(1..=MAX_QUANTITY).contains(&quantity) {
        errors.push(FieldError::new("quantity", format!("must be an integer from 1 to {MAX_QUANTITY}")));
    }
    if let Some(key) = &req.idempotency_key
        && (key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()))
    {
        errors.push(FieldError::new("idempotency_key", "must be 1 to 255 printable ASCII characters"));
    }
    if let Some(meta) = &req.metadata
        && (!meta.is_object() || meta.to_string().len() > MAX_METADATA_BYTES)
    {
        errors
            .push(FieldError::new("metadata", format!("must be a JSON object of at most {MAX_METADATA_BYTES} bytes")));
    }
    if let Some(sid) = &req.solution_id
        && !crate::platform::ids::is_valid("sol", sid)
    {
        errors.push(FieldError::new("solution_id", "must be a sol_ id"));
    }
    if errors.is_empty() { Ok(quantity.unsigned_abs()) } else { Err(ApiError::validation(errors)) }
}

fn solution_not_found() -> ApiError {
    let mut e = ApiError::not_found(codes::SOLUTION_NOT_FOUND, "no published solution with this id");
    e.errors = vec![FieldError::new("solution_id", "no published solution with this id")];
    e
}

fn check_date(field: &str, raw: Option<&str>) -> Result<Option<NaiveDate>, FieldError> {
    raw.map(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d"))
        .transpose()
        .map_err(|_| FieldError::new(field, "must be a date as YYYY-MM-DD"))
}

impl UsageService {
    pub fn new(store: Store, keys: Arc<KeySet>, clock: Arc<dyn Clock>, settings: UsageSettings) -> Self {
        Self { store, keys, clock, settings, caches: Arc::new(Caches::default()) }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// "Now" by the service's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn ttl(&self) -> i64 {
        self.settings.cache_ttl_seconds
    }

    /// Resolve, through the caches, what a track call needs; misses are read in one batch.
    async fn resolve(&self, subject: &Subject) -> Result<(Arc<Policy>, Tier), ApiError> {
        let now = self.clock.now();
        let ttl = self.ttl();
        let sid = &subject.solution_id;
        let mut policy = fresh(&self.caches.policies, sid, now, ttl);
        let tier_key = subject.user_id.clone().map(|u| (u, sid.clone()));
        let mut tier = match &tier_key {
            Some(k) => fresh(&self.caches.tiers, k, now, ttl).map(|g| g.at(now.timestamp())),
            None => Some(Tier::Anonymous),
        };
        let mut revoked = match &subject.family_id {
            Some(f) => fresh(&self.caches.families, f, now, ttl),
            None => Some(false),
        };
        if policy.is_none() || tier.is_none() || revoked.is_none() {
            let mut wanted = Vec::new();
            if policy.is_none() {
                wanted.extend(Policy::read_keys(sid));
            }
            if let (None, Some((user, _))) = (&tier, &tier_key) {
                wanted.push(keys::entitlement(user, sid));
            }
            if let (None, Some(fid)) = (&revoked, &subject.family_id) {
                wanted.push(keys::family(fid));
            }
            let mut found = self.store.batch_get(&wanted, false).await?;
            if policy.is_none() {
                let p = Policy::from_found(sid, &mut found)?.map(Arc::new);
                remember(&self.caches.policies, sid.clone(), p.clone(), now);
                policy = Some(p);
            }
            if let (None, Some((user, s))) = (&tier, &tier_key) {
                let e: Option<EntitlementItem> = take(&mut found, &keys::entitlement(user, s))?;
                let grant = e.map_or_else(Grant::free, |e| e.grant());
                remember(&self.caches.tiers, (user.clone(), s.clone()), grant, now);
                tier = Some(grant.at(now.timestamp()));
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
        let policy = policy.flatten().ok_or_else(solution_not_found)?;
        match policy.status {
            SolutionStatus::Published => Ok((policy, tier.unwrap_or(Tier::Free))),
            SolutionStatus::Suspended | SolutionStatus::Retired => Err(solution_unavailable()),
            SolutionStatus::Draft | SolutionStatus::Submitted => Err(solution_not_found()),
        }
    }

    /// Track one usage event. `bearer` is a solution token; without one, `anonymous_id` (the `X-Anonymous-Id`
    /// header) and `solution_id` in the body identify an anonymous visitor.
    /// A partner API key (through the cache): 401 unless it is well-formed, known, live and matches.
    async fn api_key(&self, presented: &str) -> Result<Arc<ApiKeyItem>, ApiError> {
        let hash = api_keys::key_hash(presented).ok_or_else(api_keys::invalid_key)?;
        let now = self.clock.now();
        let item = match fresh(&self.caches.api_keys, &hash, now, self.ttl()) {
            Some(item) => item,
            None => {
                let item = self.store.get_api_key(&hash, false).await?.map(Arc::new);
                remember(&self.caches.api_keys, hash, item.clone(), now);
                item
            }
        };
        item.filter(|k| api_keys::key_matches(k, presented)).ok_or_else(api_keys::invalid_key)
    }

    /// Track one usage event. `bearer` is a solution token; without one, `anonymous_id` (the `X-Anonymous-Id`
    /// header) and `solution_id` in the body identify an anonymous visitor. A partner backend may present its
    /// API key (`api_key`, the `X-Api-Key` header): with a token, the key must cover the token's solution;
    /// without one, it names the user in `customer_id` (or the visitor by `X-Anonymous-Id`) and the solution,
    /// which must be one the key covers.
    pub async fn track_for(
        &self,
        api_key: Option<&str>,
        bearer: Option<&str>,
        anonymous_id: Option<&str>,
        idempotency_header: Option<&str>,
        source_ip: Option<&str>,
        req: Result<TrackRequest, ApiError>,
    ) -> Result<TrackAnswer, ApiError> {
        // Credentials before the body: a caller without an acceptable credential learns nothing else.
        if let Some(token) = bearer {
            let claims = self.verify_cached(token)?;
            require_scope(&claims.scopes, SCOPE_TRACK)?;
        } else if api_key.is_none() && anonymous_id.is_none() {
            return Err(ApiError::unauthorized(
                "a solution token (Bearer), a partner API key (X-Api-Key) or an X-Anonymous-Id header is required",
            ));
        }
        let Some(presented) = api_key else {
            if bearer.is_none() {
                // Anonymous visitors (no credential at all) are limited per source address; authenticated
                // tracking never pays for this.
                throttle::admit(&self.store, throttle::ANONYMOUS_TRACK_PER_IP, source_ip, self.clock.now().timestamp())
                    .await?;
            }
            let req = req?;
            if req.customer_id.is_some() {
                return Err(ApiError::field("customer_id", "is only for partner backends with an X-Api-Key"));
            }
            return self.track(bearer, anonymous_id, idempotency_header, req).await;
        };
        let key = self.api_key(presented).await?;
        let req = req?;
        let solution_id = match bearer {
            Some(token) => {
                let claims = self.verify_cached(token)?;
                if req.customer_id.as_deref().is_some_and(|c| c != claims.sub) {
                    return Err(ApiError::field("customer_id", "does not match the token's user"));
                }
                claims.solution_id.clone().unwrap_or_default()
            }
            None => req.solution_id.clone().ok_or_else(|| ApiError::field("solution_id", "is required"))?,
        };
        if !crate::platform::ids::is_valid("sol", &solution_id) {
            return Err(ApiError::field("solution_id", "must be a sol_ id"));
        }
        let policy = self.policy(&solution_id).await?.ok_or_else(solution_not_found)?;
        if !api_keys::key_covers(&key, &policy.partner_id, &solution_id) {
            return Err(api_keys::key_not_allowed());
        }
        if bearer.is_some() {
            let req = TrackRequest { customer_id: None, ..req };
            let subject = Subject { attested: true, ..self.subject_of(bearer, anonymous_id, &req)? };
            return self.track_subject(subject, idempotency_header, req).await;
        }
        let subject = match (req.customer_id.clone(), anonymous_id) {
            (Some(user), None) => {
                if !crate::platform::ids::is_valid("usr", &user) {
                    return Err(ApiError::field("customer_id", "must be a usr_ id"));
                }
                Subject { customer_id: user.clone(), solution_id, family_id: None, user_id: Some(user), attested: true }
            }
            (None, Some(anonymous_id)) => {
                let customer_id = anonymous_customer(anonymous_id).map_err(|e| ApiError::validation(vec![e]))?;
                Subject { customer_id, solution_id, family_id: None, user_id: None, attested: true }
            }
            (Some(_), Some(_)) => {
                return Err(ApiError::field("customer_id", "give either customer_id or X-Anonymous-Id, not both"));
            }
            (None, None) => return Err(ApiError::field("customer_id", "is required with an API key and no token")),
        };
        self.track_subject(subject, idempotency_header, req).await
    }

    /// A solution's policy through the cache (`None`: no such solution).
    async fn policy(&self, solution_id: &str) -> Result<Option<Arc<Policy>>, ApiError> {
        let now = self.clock.now();
        if let Some(p) = fresh(&self.caches.policies, &solution_id.to_owned(), now, self.ttl()) {
            return Ok(p);
        }
        let mut found = self.store.batch_get(&Policy::read_keys(solution_id), false).await?;
        let p = Policy::from_found(solution_id, &mut found)?.map(Arc::new);
        remember(&self.caches.policies, solution_id.to_owned(), p.clone(), now);
        Ok(p)
    }

    pub async fn track(
        &self,
        bearer: Option<&str>,
        anonymous_id: Option<&str>,
        idempotency_header: Option<&str>,
        req: TrackRequest,
    ) -> Result<TrackAnswer, ApiError> {
        let subject = self.subject_of(bearer, anonymous_id, &req)?;
        self.track_subject(subject, idempotency_header, req).await
    }

    /// Whom an event is tracked for: the token's user, or the anonymous visitor.
    fn subject_of(
        &self,
        bearer: Option<&str>,
        anonymous_id: Option<&str>,
        req: &TrackRequest,
    ) -> Result<Subject, ApiError> {
        Ok(match bearer {
            Some(token) => {
                let claims = self.verify_cached(token)?;
                require_scope(&claims.scopes, SCOPE_TRACK)?;
                let sid = claims.solution_id.clone().unwrap_or_default();
                if req.solution_id.as_deref().is_some_and(|s| s != sid) {
                    return Err(ApiError::field("solution_id", "does not match the token's solution"));
                }
                Subject {
                    customer_id: claims.sub.clone(),
                    solution_id: sid,
                    family_id: Some(claims.fid.clone()),
                    user_id: Some(claims.sub.clone()),
                    attested: false,
                }
            }
            None => {
                let anonymous_id = anonymous_id.ok_or_else(|| {
                    ApiError::unauthorized("a solution token (Bearer) or an X-Anonymous-Id header is required")
                })?;
                let customer_id = anonymous_customer(anonymous_id).map_err(|e| ApiError::validation(vec![e]))?;
                let solution_id = req
                    .solution_id
                    .clone()
                    .ok_or_else(|| ApiError::field("solution_id", "is required for anonymous usage"))?;
                Subject { customer_id, solution_id, family_id: None, user_id: None, attested: false }
            }
        })
    }

    async fn track_subject(
        &self,
        subject: Subject,
        idempotency_header: Option<&str>,
        mut req: TrackRequest,
    ) -> Result<TrackAnswer, ApiError> {
        match (&req.idempotency_key, idempotency_header) {
            (Some(body), Some(header)) if body != header => {
                return Err(ApiError::field("idempotency_key", "differs from the Idempotency-Key header"));
            }
            (None, Some(header)) => req.idempotency_key = Some(header.to_owned()),
            _ => {}
        }
        let quantity = validate_track(&req)?;
        let (policy, tier) = self.resolve(&subject).await?;
        let (mut answer, mut day) = self.count(&subject, &req, quantity, &policy, tier).await?;
        // A refusal under a cached tier may be stale: an upgrade must lift the limit at once.
        if !answer.allowed
            && let Some(fresh_tier) = self.recheck_tier(&subject, tier).await?
        {
            (answer, day) = self.count(&subject, &req, quantity, &policy, fresh_tier).await?;
        }
        if answer.allowed {
            self.notify_thresholds(&subject, &day, answer.used, quantity).await?;
        }
        Ok(answer)
    }

    /// After a refusal: the user's tier read again (consistently) when the cached one is more than two
    /// seconds old. `Some` only when it changed.
    async fn recheck_tier(&self, subject: &Subject, tier: Tier) -> Result<Option<Tier>, ApiError> {
        let Some(user) = &subject.user_id else {
            return Ok(None);
        };
        let now = self.clock.now();
        let cache_key = (user.clone(), subject.solution_id.clone());
        if fresh(&self.caches.tiers, &cache_key, now, 2).is_some() {
            return Ok(None);
        }
        let e = self.store.get_entitlement(user, &subject.solution_id).await?;
        let grant = e.map_or_else(Grant::free, |e| e.grant());
        remember(&self.caches.tiers, cache_key, grant, now);
        let fresh_tier = grant.at(now.timestamp());
        Ok((fresh_tier != tier).then_some(fresh_tier))
    }

    /// Count one event under `tier`.
    async fn count(
        &self,
        subject: &Subject,
        req: &TrackRequest,
        quantity: u64,
        policy: &Policy,
        tier: Tier,
    ) -> Result<(TrackAnswer, CounterSpec), ApiError> {
        let now = self.clock.now();
        let today = local_day(now, policy.tz);
        let limits = policy.limits(tier);
        let expires_at = now.timestamp() + self.settings.history_ttl_days * 86_400;
        let day = CounterSpec {
            key: keys::usage_day(&subject.customer_id, &today.day, &subject.solution_id),
            customer_id: subject.customer_id.clone(),
            solution_id: subject.solution_id.clone(),
            period: today.day.clone(),
            tier,
            limit: limits.daily,
            expires_at,
            index: Some(keys::solution_usage(&subject.solution_id, &today.day, &subject.customer_id)),
            attested: subject.attested,
        };
        let month = limits.monthly.map(|m| CounterSpec {
            key: keys::usage_month(&subject.customer_id, &today.month, &subject.solution_id),
            period: today.month.clone(),
            limit: Some(m),
            index: None,
            attested: false,
            ..day.clone()
        });
        let answer = if req.idempotency_key.is_none() && month.is_none() {
            match self.store.count_usage(&day, &req.action, quantity).await? {
                Counted::Applied { used } => TrackAnswer::allowed(used, day.limit, &today.reset_at),
                Counted::Refused { used } => TrackAnswer::refused(used, day.limit, &today.reset_at),
            }
        } else {
            self.track_transactional(subject, req, quantity, &day, month.as_ref(), &today).await?
        };
        Ok((answer, day))
    }

    async fn track_transactional(
        &self,
        subject: &Subject,
        req: &TrackRequest,
        quantity: u64,
        day: &CounterSpec,
        month: Option<&CounterSpec>,
        today: &LocalDay,
    ) -> Result<TrackAnswer, ApiError> {
        let now = self.clock.now();
        let key = req.idempotency_key.clone().unwrap_or_else(crate::platform::ids::token_id);
        let key_hash = crate::platform::crypto::sha256_hex(key.as_bytes());
        let record_key = keys::idempotency(&subject.customer_id, &subject.solution_id, &key_hash);
        let fingerprint = crate::platform::crypto::sha256_hex(format!("{}\n{}", req.action, quantity).as_bytes());
        let specs: Vec<&CounterSpec> = std::iter::once(day).chain(month).collect();
        let cache_key = |s: &CounterSpec| (s.key.pk.clone(), s.key.sk.clone());
        let mut expected: Vec<u64> =
            specs.iter().map(|s| lock(&self.caches.counters).get(&cache_key(s)).copied().unwrap_or(0)).collect();
        let mut confirmed = vec![false; specs.len()];
        for attempt in 0..12u32 {
            // Would this event exceed a limit at the expected counts?
            if let Some(i) = specs.iter().zip(&expected).position(|(s, e)| s.limit.is_some_and(|l| e + quantity > l)) {
                if confirmed[i] {
                    return Ok(TrackAnswer::refused(expected[0], day.limit, &today.reset_at));
                }
                // A cached guess: confirm with a consistent read before refusing.
                let current = self.store.get_counter(&specs[i].key, true).await?;
                expected[i] = current.map_or(0, |c| c.used);
                confirmed[i] = true;
                continue;
            }
            let answer = TrackAnswer::allowed(expected[0] + quantity, day.limit, &today.reset_at);
            let record = IdempotencyItem {
                pk: record_key.pk.clone(),
                sk: record_key.sk.clone(),
                entity_type: "idempotency".into(),
                fingerprint: fingerprint.clone(),
                answer: serde_json::to_string(&answer).map_err(ApiError::internal)?,
                metadata: req.metadata.as_ref().map(ToString::to_string),
                created_at: rfc3339(now),
                expires_at: now.timestamp() + self.settings.idempotency_ttl_seconds,
            };
            let counters: Vec<(CounterSpec, u64)> =
                specs.iter().map(|s| (*s).clone()).zip(expected.iter().copied()).collect();
            match self.store.count_usage_tx(&record, &counters, &req.action, quantity).await? {
                TxCounted::Applied => {
                    let mut cache = lock(&self.caches.counters);
                    if cache.len() >= MAX_ENTRIES {
                        cache.clear();
                    }
                    for (s, e) in specs.iter().zip(&expected) {
                        cache.insert(cache_key(s), e + quantity);
                    }
                    return Ok(answer);
                }
                TxCounted::Duplicate(stored) => {
                    let stored = match stored {
                        Some(s) => Some(s),
                        None => self.store.get_idempotency(&record_key).await?,
                    };
                    let Some(stored) = stored else { continue };
                    if stored.fingerprint != fingerprint {
                        let mut e = ApiError::conflict(
                            "idempotency_key_reused",
                            "this idempotency key was used for a different request",
                        );
                        e.errors = vec![FieldError::new("idempotency_key", "was used for a different request")];
                        return Err(e);
                    }
                    return serde_json::from_str(&stored.answer).map_err(ApiError::internal);
                }
                TxCounted::Stale { index, used } => {
                    if let Some(slot) = expected.get_mut(index) {
                        *slot = used;
                        confirmed[index] = true;
                    }
                }
                TxCounted::Conflict => {
                    let jitter = u64::from(crate::platform::crypto::random_bytes::<1>()[0] % 16);
                    tokio::time::sleep(std::time::Duration::from_millis((4 << attempt.min(5)) + jitter)).await;
                }
            }
        }
        Err(ApiError::unavailable(1))
    }

    /// Crossing 80% and 100% of the daily limit records one notification per threshold per day.
    async fn notify_thresholds(
        &self,
        subject: &Subject,
        day: &CounterSpec,
        used: u64,
        quantity: u64,
    ) -> Result<(), ApiError> {
        let Some(limit) = day.limit.filter(|l| *l > 0) else {
            return Ok(());
        };
        let before = used.saturating_sub(quantity);
        for pct in [80u64, 100] {
            let threshold = (limit * pct).div_ceil(100);
            if before < threshold && used >= threshold {
                let id = format!("quota-{pct}:{}:{}:{}", subject.customer_id, subject.solution_id, day.period);
                let item = NotificationItem::new(
                    &id,
                    &format!("quota_{pct}"),
                    &subject.customer_id,
                    Some(&subject.solution_id),
                    serde_json::json!({"date": day.period, "used": used, "limit": limit, "percent": pct}),
                    rfc3339(self.clock.now()),
                );
                if self.store.put_notification_once(&item).await? {
                    tracing::info!(customer_id = %subject.customer_id, solution_id = %subject.solution_id, pct, "quota threshold crossed");
                }
            }
        }
        Ok(())
    }

    /// Verify a solution token, remembering verified tokens so a partner's repeated calls with one token pay
    /// the signature check once per container. Expiry is checked against the clock on every call.
    fn verify_cached(&self, token: &str) -> Result<Arc<Claims>, ApiError> {
        // Expiry by the wall clock, as the signature check itself does.
        let now = Utc::now().timestamp();
        let cached = lock(&self.caches.verified).get(token).cloned();
        if let Some(claims) = cached.filter(|c| c.exp > now) {
            return Ok(claims);
        }
        let claims = Arc::new(verify_bearer(&self.keys, token, &[TokenKind::Solution])?);
        let mut cache = lock(&self.caches.verified);
        if cache.len() >= MAX_ENTRIES / 5 {
            cache.retain(|_, c| c.exp > now);
            if cache.len() >= MAX_ENTRIES / 5 {
                cache.clear();
            }
        }
        cache.insert(token.to_owned(), Arc::clone(&claims));
        Ok(claims)
    }

    /// Authenticate a reader of usage and quotas: a session, or a solution token (scope `usage:read`, its own
    /// solution only; checked by the use case). A consistent revocation check.
    pub async fn authenticate_reader(&self, bearer: Option<&str>) -> Result<Principal, ApiError> {
        authenticate(&self.keys, &self.store, bearer, &[TokenKind::Access, TokenKind::Solution]).await
    }

    /// Authenticate an account-level caller (admin routes): session tokens only.
    pub async fn authenticate(&self, bearer: Option<&str>) -> Result<Principal, ApiError> {
        authenticate(&self.keys, &self.store, bearer, &[TokenKind::Access]).await
    }

    fn may_read(caller: &Principal, customer_id: &str) -> Result<(), ApiError> {
        if caller.is_admin() || caller.user_id == customer_id {
            Ok(())
        } else {
            Err(ApiError::forbidden("you may only read your own usage"))
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
        Self::may_read(caller, customer_id)?;
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
        Self::may_read(caller, customer_id)?;
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
        let tier = if anonymous {
            Tier::Anonymous
        } else {
            take::<EntitlementItem>(&mut found, &keys::entitlement(customer_id, solution_id))?
                .map_or(Tier::Free, |e| e.tier_at(now.timestamp()))
        };
        quota_from_found(customer_id, solution_id, tier, now, &mut found)?.ok_or_else(solution_not_found)
    }

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
            let audit_id = crate::platform::ids::new_id("aud");
            let at = rfc3339(now);
            let audit_key = keys::quota_audit(&req.customer_id, &req.solution_id, &at, &audit_id);
            let audit = QuotaResetAuditItem {
                pk: audit_key.pk,
                sk: audit_key.sk,
                entity_type: "quota_reset_audit".into(),
                audit_id: audit_id.clone(),
                customer_id: req.customer_id.clone(),
                solution_id: req.solution_id.clone(),
                date: today.day.clone(),
                previous_used: previous,
                reset_by: caller.user_id.clone(),
                reason: reason.to_owned(),
                at: at.clone(),
            };
            let result = if previous == 0 {
                // Nothing to zero: record the (no-op) reset for the audit trail.
                self.store.put(&audit, Some("attribute_not_exists(PK)")).await
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
                        audit_id,
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
        now: &str,
    ) -> Result<(), ApiError> {
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
        let now = rfc3339(self.clock.now());
        match &req.solution_id {
            None => {
                let update = self.store.tx_tier_limits(None, req.tier, daily_limit, req.monthly_limit, &now)?;
                self.store.transact(vec![update]).await?;
            }
            Some(sid) => {
                if !crate::platform::ids::is_valid("sol", sid) {
                    return Err(ApiError::field("solution_id", "must be a sol_ id"));
                }
                self.override_limits(caller, sid, req.tier, daily_limit, req.monthly_limit, &now).await?;
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
    fn track_input_is_checked() {
        let req = |action: &str, q: Option<i64>| TrackRequest {
            action: action.into(),
            quantity: q,
            idempotency_key: None,
            metadata: None,
            solution_id: None,
            customer_id: None,
        };
        assert_eq!(validate_track(&req("search", None)).ok(), Some(1));
        for (a, q, field) in [
            ("", None, "action"),
            ("ok", Some(0), "quantity"),
            ("ok", Some(10_001), "quantity"),
            ("a b", None, "action"),
        ] {
            let e = validate_track(&req(a, q)).expect_err("invalid");
            assert_eq!(e.errors[0].field, field);
        }
        assert_eq!(anonymous_customer("visitor-123").as_deref(), Ok("anon:visitor-123"));
        assert!(anonymous_customer("short").is_err());
        assert!(anonymous_customer("has#hash-in-it").is_err());
    }

    #[test]
    fn quotas_report_remaining() {
        let q = Quota::new(Tier::Free, Some(100), 30, at("2026-11-23T00:00:00Z"));
        assert_eq!(q.remaining, Some(70));
        let unlimited = Quota::new(Tier::Enterprise, None, 5, at("2026-11-23T00:00:00Z"));
        assert_eq!(unlimited.remaining, None);
    }
}
