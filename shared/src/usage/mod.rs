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
//!
//! The capability is split by use case: `policy` (a solution's limits per tier, its local day, quotas, and
//! the cached lookups of them), `track` (the hot path), `read` (history and quota), `admin` (quota resets
//! and tier limits) and `index` (the one-off move of day counters' analytics entries to GSI4). This root holds the service, its settings and its per-container caches.

mod admin;
mod index;
mod policy;
mod read;
mod track;

pub use admin::{ResetAnswer, ResetRequest, TierLimitsAnswer, TierLimitsRequest};
pub use index::{UsageIndexReport, index_usage};
pub use policy::{
    LocalDay, PeriodUsage, Policy, Quota, TierLimits, billing_period_from_found, billing_period_key, local_day,
    quota_from_found, quota_read_keys,
};
pub use read::{UsageDay, UsageHistory};
pub use track::{
    BatchAnswer, BatchRequest, BatchResult, MAX_BATCH, MAX_QUANTITY, TrackAnswer, TrackRequest, anonymous_customer,
};

use crate::identity::jwt::{Claims, KeySet};
use crate::identity::{Principal, authenticate};
use crate::model::TokenKind;
use crate::platform::clock::Clock;
use crate::platform::error::{ApiError, FieldError, codes};
use crate::store::Store;
use crate::store::partners::ApiKeyItem;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

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

/// Per-container caches (bounded: cleared when they grow past `MAX_ENTRIES`). Tiers are cached per customer
/// (a user, or an organization whose members share it).
#[derive(Default)]
struct Caches {
    policies: Mutex<HashMap<String, Cached<Option<Arc<Policy>>>>>,
    /// A user's tier for a solution, with its scheduled switch (applied at read time).
    tiers: Mutex<HashMap<(String, String), Cached<policy::Plan>>>,
    families: Mutex<HashMap<String, Cached<bool>>>,
    /// Whether a user is (still) a member of an organization, by (org, user).
    members: Mutex<HashMap<(String, String), Cached<bool>>>,
    /// Last known count per counter key (only a starting guess for the transactional path).
    counters: Mutex<HashMap<(String, String), u64>>,
    /// Tokens whose signature was verified, by their exact text (expiry is still checked on every use).
    verified: Mutex<HashMap<String, Arc<Claims>>>,
    /// Notifications this container recorded already (the spending cap's, once per period).
    told: Mutex<std::collections::HashSet<String>>,
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
    /// Whose quota the event counts against: the organization's id when a token acts for one, else the
    /// user's (or the anonymous visitor's).
    customer_id: String,
    /// The organization the user acts for (its tier, its shared quota); `user_id` must be a member.
    org_id: Option<String>,
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

fn solution_not_found() -> ApiError {
    let mut e = ApiError::not_found(codes::SOLUTION_NOT_FOUND, "no published solution with this id");
    e.errors = vec![FieldError::new("solution_id", "no published solution with this id")];
    e
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

    /// Authenticate a reader of usage and quotas: a session, or a solution token (scope `usage:read`, its own
    /// solution only; checked by the use case). A consistent revocation check.
    pub async fn authenticate_reader(&self, bearer: Option<&str>) -> Result<Principal, ApiError> {
        authenticate(&self.keys, &self.store, bearer, &[TokenKind::Access, TokenKind::Solution]).await
    }

    /// Authenticate an account-level caller (admin routes): session tokens only.
    pub async fn authenticate(&self, bearer: Option<&str>) -> Result<Principal, ApiError> {
        authenticate(&self.keys, &self.store, bearer, &[TokenKind::Access]).await
    }
}
