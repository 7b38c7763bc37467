//! Tracking usage, the hot path: validating an event, identifying who it is for (a solution token's user, a
//! partner backend's API key naming a user, or an anonymous visitor), and counting it. Without an
//! idempotency key (and without a monthly limit) an event is one conditional `UpdateItem`; with one it is a
//! `TransactWriteItems` that also writes the idempotency record with the answer.

use super::policy::{Applied, LocalDay, PeriodUsage, Policy, local_day};
use super::{MAX_ENTRIES, Subject, UsageService, fresh, lock, remember, solution_not_found};
use crate::identity::api_keys;
use crate::identity::jwt::Claims;
use crate::identity::throttle;
use crate::identity::{SCOPE_TRACK, require_scope, verify_bearer};
use crate::model::{LATE_EVENT_SECONDS, Metering, Tier, TokenKind, UsageLimit};
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, FieldError, codes};
use crate::store::outbox::NotificationItem;
use crate::store::partners::ApiKeyItem;
use crate::store::usage::{CLOSED_ATTR, IdempotencyItem};
use crate::store::{Counted, CounterSpec, TxCounted, keys};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub const MAX_QUANTITY: i64 = 1_000;
const MAX_METADATA_BYTES: usize = 2_048;

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

/// The most events one batch may hold.
pub const MAX_BATCH: usize = 100;
/// What must be left of the invocation's budget to count one more event of a batch.
const BATCH_EVENT_RESERVE: std::time::Duration = std::time::Duration::from_millis(500);

/// Who tracks: the credentials a call presented, checked (see `admit_tracker`).
struct Tracker {
    key: Option<Arc<ApiKeyItem>>,
    bearer: Option<String>,
    anonymous_id: Option<String>,
}

/// `POST /api/track-usage/batch`: events as `POST /api/track-usage` takes them, each read on its own (a bad
/// event is that event's 400, not the batch's).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    pub events: Vec<serde_json::Value>,
}

/// One event's outcome in a batch: `status` as `POST /api/track-usage` would answer it, with the answer
/// (200 counted, 429 refused by the quota) or the problem (any other status; nothing was counted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchResult {
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<TrackAnswer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<serde_json::Value>,
}

/// The outcomes, in the order of the events, and their tallies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchAnswer {
    pub results: Vec<BatchResult>,
    /// Events counted (200).
    pub counted: u32,
    /// Events refused by the quota (429).
    pub refused: u32,
    /// Events not counted for another reason (4xx other than 429, or 5xx: those may be sent again).
    pub failed: u32,
}

impl BatchAnswer {
    fn push(&mut self, result: Result<TrackAnswer, ApiError>) {
        let entry = match result {
            Ok(answer) if answer.allowed => {
                self.counted += 1;
                BatchResult { status: 200, answer: Some(answer), problem: None }
            }
            Ok(answer) => {
                self.refused += 1;
                BatchResult { status: 429, answer: Some(answer), problem: None }
            }
            Err(e) => {
                self.failed += 1;
                BatchResult { status: e.status, answer: None, problem: Some(e.to_problem()) }
            }
        };
        self.results.push(entry);
    }
}

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
    /// When the usage happened (RFC 3339; default: now). A late event counts at this time (its day, its
    /// billing period) while that period ended at most `LATE_EVENT_SECONDS` ago; later, it counts now.
    #[serde(default)]
    pub timestamp: Option<String>,
}

/// How far in the future an event's own time may be (clock skew).
const MAX_CLOCK_SKEW_SECONDS: i64 = 300;

/// The event's own time, checked: RFC 3339 and not in the future (beyond the clock skew allowed).
fn event_time(req: &TrackRequest, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(raw) = &req.timestamp else { return Ok(None) };
    let at = DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::field("timestamp", "must be an RFC 3339 date-time like 2026-12-03T10:15:00Z"))?;
    if (at - now).num_seconds() > MAX_CLOCK_SKEW_SECONDS {
        return Err(ApiError::field("timestamp", "must not be in the future"));
    }
    Ok(Some(at))
}

/// When an event counts: at its own time while the period it falls in (its billing period under a
/// usage-priced subscription, else its local day) ended at most `LATE_EVENT_SECONDS` ago; otherwise now.
fn effective_time(
    stamp: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    tz: chrono_tz::Tz,
    metering: Option<&Metering>,
) -> DateTime<Utc> {
    let Some(at) = stamp.filter(|t| *t < now) else { return now };
    let end = match metering {
        Some(m) => m.period_of(at.timestamp()).map(|(_, end)| end),
        None => Some(local_day(at, tz).reset_at.timestamp()),
    };
    match end {
        Some(end) if now.timestamp() < end + LATE_EVENT_SECONDS => at,
        _ => now,
    }
}

/// What an idempotency key stands for: the action, the quantity and the event's own time when given.
fn fingerprint(req: &TrackRequest, quantity: u64) -> String {
    let mut text = format!("{}\n{}", req.action, quantity);
    if let Some(at) = &req.timestamp {
        text.push('\n');
        text.push_str(at);
    }
    crate::platform::crypto::sha256_hex(text.as_bytes())
}

/// A billing period's counter with what prices it.
#[derive(Debug, Clone)]
struct MeteredCounter {
    spec: CounterSpec,
    metering: Metering,
    start: i64,
    end: i64,
}

/// The counters one event goes to.
#[derive(Debug, Clone)]
struct EventCounters {
    today: LocalDay,
    day: CounterSpec,
    month: Option<CounterSpec>,
    period: Option<MeteredCounter>,
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
    /// A refusal: which limit refused it (`daily_limit`, `monthly_limit`, `allowance`: a billing period's
    /// hard limit, `spending_cap`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused_by: Option<String>,
    /// A usage-priced subscription: the billing period the event counted in (its usage, overage and charge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_period: Option<PeriodUsage>,
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
            refused_by: None,
            billing_period: None,
        }
    }

    fn refused(used: u64, limit: Option<u64>, reset_at: &DateTime<Utc>) -> Self {
        Self {
            allowed: false,
            code: Some(crate::platform::error::codes::QUOTA_EXCEEDED.into()),
            used,
            limit,
            remaining: limit.map(|l| l.saturating_sub(used)),
            reset_at: rfc3339(*reset_at),
            refused_by: Some("daily_limit".into()),
            billing_period: None,
        }
    }

    pub fn reset_at(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.reset_at).ok().map(|t| t.with_timezone(&Utc))
    }
}

/// One event's decision as a metric (in memory; see `crate::platform::metrics`): allowed, refused by its
/// reason (the quota, the anonymous per-address limit, the credentials, the input: the problem code) or an error.
fn record_decision(result: &Result<TrackAnswer, ApiError>) {
    use crate::platform::metrics::track_decision;
    match result {
        Ok(answer) if answer.allowed => track_decision("allowed", "ok"),
        Ok(answer) if answer.code.as_deref() == Some(codes::SPENDING_CAP_REACHED) => {
            track_decision("refused", codes::SPENDING_CAP_REACHED)
        }
        Ok(_) => track_decision("refused", codes::QUOTA_EXCEEDED),
        Err(e) => record_refusal(e),
    }
}

/// An event answered with an error: refused (4xx, by its code) or failed (5xx).
fn record_refusal(e: &ApiError) {
    let decision = if e.status >= 500 { "error" } else { "refused" };
    crate::platform::metrics::track_decision(decision, e.code.clone());
}

/// The first answer to an event sent again with its idempotency key; 409 when the key was used for another event.
fn replay(stored: &IdempotencyItem, fingerprint: &str) -> Result<TrackAnswer, ApiError> {
    if stored.fingerprint != fingerprint {
        let mut e =
            ApiError::conflict("idempotency_key_reused", "this idempotency key was used for a different request");
        e.errors = vec![FieldError::new("idempotency_key", "was used for a different request")];
        return Err(e);
    }
    serde_json::from_str(&stored.answer).map_err(ApiError::internal)
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

impl UsageService {
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
        let result = match (self.admit_tracker(api_key, bearer, anonymous_id, source_ip).await, req) {
            (Ok(tracker), Ok(req)) => self.track_admitted(&tracker, idempotency_header, req).await,
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        record_decision(&result);
        result
    }

    /// The caller's credentials, checked before any body is read (a caller without an acceptable credential
    /// learns nothing else): a solution token with the track scope, a partner API key, or an anonymous visitor
    /// (limited per source address; authenticated tracking never pays for that).
    async fn admit_tracker(
        &self,
        api_key: Option<&str>,
        bearer: Option<&str>,
        anonymous_id: Option<&str>,
        source_ip: Option<&str>,
    ) -> Result<Tracker, ApiError> {
        if let Some(token) = bearer {
            let claims = self.verify_cached(token)?;
            require_scope(&claims.scopes, SCOPE_TRACK)?;
        } else if api_key.is_none() && anonymous_id.is_none() {
            return Err(ApiError::unauthorized(
                "a solution token (Bearer), a partner API key (X-Api-Key) or an X-Anonymous-Id header is required",
            ));
        }
        let key = match api_key {
            Some(presented) => Some(self.api_key(presented).await?),
            None => {
                if bearer.is_none() {
                    throttle::admit(
                        &self.store,
                        throttle::ANONYMOUS_TRACK_PER_IP,
                        source_ip,
                        self.clock.now().timestamp(),
                    )
                    .await?;
                }
                None
            }
        };
        Ok(Tracker { key, bearer: bearer.map(str::to_owned), anonymous_id: anonymous_id.map(str::to_owned) })
    }

    /// One event of an admitted caller.
    async fn track_admitted(
        &self,
        tracker: &Tracker,
        idempotency_header: Option<&str>,
        req: TrackRequest,
    ) -> Result<TrackAnswer, ApiError> {
        let (bearer, anonymous_id) = (tracker.bearer.as_deref(), tracker.anonymous_id.as_deref());
        let Some(key) = &tracker.key else {
            if req.customer_id.is_some() {
                return Err(ApiError::field("customer_id", "is only for partner backends with an X-Api-Key"));
            }
            return self.track(bearer, anonymous_id, idempotency_header, req).await;
        };
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
        if !api_keys::key_covers(key, &policy.partner_id, &solution_id) {
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
                Subject {
                    customer_id: user.clone(),
                    org_id: None,
                    solution_id,
                    family_id: None,
                    user_id: Some(user),
                    attested: true,
                }
            }
            (None, Some(anonymous_id)) => {
                let customer_id = anonymous_customer(anonymous_id).map_err(|e| ApiError::validation(vec![e]))?;
                Subject { customer_id, org_id: None, solution_id, family_id: None, user_id: None, attested: true }
            }
            (Some(_), Some(_)) => {
                return Err(ApiError::field("customer_id", "give either customer_id or X-Anonymous-Id, not both"));
            }
            (None, None) => return Err(ApiError::field("customer_id", "is required with an API key and no token")),
        };
        self.track_subject(subject, idempotency_header, req).await
    }

    /// Up to [`MAX_BATCH`] events of one caller (`POST /api/track-usage/batch`), in order, each counted as
    /// `POST /api/track-usage` counts it (atomic against the quota, at most once per idempotency key, one
    /// DynamoDB request when warm) and answered on its own: a bad or refused event does not stop the others.
    /// The credentials are checked once, before the body. Events left when the invocation's time budget runs
    /// low are not counted and answer `503` (send them again, with the same keys).
    pub async fn track_batch(
        &self,
        api_key: Option<&str>,
        bearer: Option<&str>,
        anonymous_id: Option<&str>,
        source_ip: Option<&str>,
        events: Result<Vec<Result<TrackRequest, ApiError>>, ApiError>,
    ) -> Result<BatchAnswer, ApiError> {
        let tracker = self.admit_tracker(api_key, bearer, anonymous_id, source_ip).await.inspect_err(record_refusal)?;
        let events = events?;
        if events.is_empty() || events.len() > MAX_BATCH {
            return Err(ApiError::field("events", format!("must hold 1 to {MAX_BATCH} events")));
        }
        let mut answer = BatchAnswer::default();
        for event in events {
            let has_time = crate::platform::budget::remaining().is_none_or(|left| left >= BATCH_EVENT_RESERVE);
            let result = match event {
                _ if !has_time => Err(ApiError::timed_out()),
                Ok(req) => self.track_admitted(&tracker, None, req).await,
                Err(e) => Err(e),
            };
            record_decision(&result);
            answer.push(result);
        }
        Ok(answer)
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
                    customer_id: claims.org_id.clone().unwrap_or_else(|| claims.sub.clone()),
                    org_id: claims.org_id.clone(),
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
                Subject { customer_id, org_id: None, solution_id, family_id: None, user_id: None, attested: false }
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
        let stamp = event_time(&req, self.clock.now())?;
        let (policy, applied) = self.resolve(&subject).await?;
        let (mut answer, mut counted) = self.count(&subject, &req, quantity, stamp, &policy, &applied).await?;
        // A refusal under a cached tier may be stale: an upgrade must lift the limit at once.
        if !answer.allowed
            && let Some(fresh) = self.recheck_tier(&subject, &applied).await?
        {
            (answer, counted) = self.count(&subject, &req, quantity, stamp, &policy, &fresh).await?;
        }
        if answer.allowed {
            self.notify_thresholds(&subject, &counted.day, answer.used, quantity).await?;
        }
        if let Some(period) = &counted.period {
            self.notify_period(&subject, period, &answer, quantity).await?;
        }
        Ok(answer)
    }

    /// Count one event under a tier (and its metering).
    async fn count(
        &self,
        subject: &Subject,
        req: &TrackRequest,
        quantity: u64,
        stamp: Option<DateTime<Utc>>,
        policy: &Policy,
        (tier, metering): &Applied,
    ) -> Result<(TrackAnswer, EventCounters), ApiError> {
        let now = self.clock.now();
        let mut at = effective_time(stamp, now, policy.tz, metering.as_deref());
        // A period closed by the billing run takes no more events: such an event counts now (in the next).
        for _ in 0..2 {
            let counted = self.counters(subject, *tier, metering.as_deref(), policy, at);
            let answer = if req.idempotency_key.is_none() && counted.month.is_none() && counted.period.is_none() {
                let reset_at = counted.today.reset_at;
                match self.store.count_usage(&counted.day, &req.action, quantity).await? {
                    Counted::Applied { used } => TrackAnswer::allowed(used, counted.day.limit, &reset_at),
                    Counted::Refused { used } => TrackAnswer::refused(used, counted.day.limit, &reset_at),
                }
            } else {
                match self.track_transactional(subject, req, quantity, &counted).await? {
                    Some(answer) => answer,
                    None => {
                        at = now;
                        continue;
                    }
                }
            };
            return Ok((answer, counted));
        }
        Err(ApiError::unavailable(1))
    }

    /// The counters an event at `at` goes to: its local day's, the calendar month's (a monthly limit) and
    /// its billing period's (a usage-priced subscription).
    fn counters(
        &self,
        subject: &Subject,
        tier: Tier,
        metering: Option<&Metering>,
        policy: &Policy,
        at: DateTime<Utc>,
    ) -> EventCounters {
        let today = local_day(at, policy.tz);
        let limits = policy.limits(tier);
        let expires_at = self.clock.now().timestamp() + self.settings.history_ttl_days * 86_400;
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
            member: subject.org_id.as_ref().and(subject.user_id.clone()),
            closable: false,
        };
        let month = limits.monthly.map(|m| CounterSpec {
            key: keys::usage_month(&subject.customer_id, &today.month, &subject.solution_id),
            period: today.month.clone(),
            limit: Some(m),
            index: None,
            attested: false,
            ..day.clone()
        });
        let period = metering.and_then(|m| {
            let (start, end) = m.period_of(at.timestamp())?;
            let spec = CounterSpec {
                key: keys::usage_period(&subject.customer_id, &subject.solution_id, start),
                period: crate::platform::clock::rfc3339_epoch(start),
                limit: m.ceiling(),
                index: None,
                attested: false,
                closable: true,
                ..day.clone()
            };
            Some(MeteredCounter { spec, metering: m.clone(), start, end })
        });
        EventCounters { today, day, month, period }
    }

    /// Count through one transaction: the idempotency record and every counter under its expected count.
    /// `None`: the billing period's counter is closed (count the event in the current period).
    async fn track_transactional(
        &self,
        subject: &Subject,
        req: &TrackRequest,
        quantity: u64,
        counted: &EventCounters,
    ) -> Result<Option<TrackAnswer>, ApiError> {
        let (day, today) = (&counted.day, &counted.today);
        let now = self.clock.now();
        let key = req.idempotency_key.clone().unwrap_or_else(crate::platform::ids::token_id);
        let key_hash = crate::platform::crypto::sha256_hex(key.as_bytes());
        let record_key = match (&subject.org_id, &subject.user_id) {
            (Some(org), Some(user)) => keys::member_idempotency(org, user, &subject.solution_id, &key_hash),
            _ => keys::idempotency(&subject.customer_id, &subject.solution_id, &key_hash),
        };
        let fingerprint = fingerprint(req, quantity);
        let specs: Vec<&CounterSpec> =
            std::iter::once(day).chain(&counted.month).chain(counted.period.as_ref().map(|p| &p.spec)).collect();
        let period_index = counted.period.as_ref().map(|_| specs.len() - 1);
        let cache_key = |s: &CounterSpec| (s.key.pk.clone(), s.key.sk.clone());
        let mut expected: Vec<u64> =
            specs.iter().map(|s| lock(&self.caches.counters).get(&cache_key(s)).copied().unwrap_or(0)).collect();
        let mut confirmed = vec![false; specs.len()];
        let answer_at = |allowed: bool, expected: &[u64], refused_by: Option<usize>| {
            let used = expected[0] + if allowed { quantity } else { 0 };
            let mut answer = if allowed {
                TrackAnswer::allowed(used, day.limit, &today.reset_at)
            } else {
                TrackAnswer::refused(used, day.limit, &today.reset_at)
            };
            if let (Some(i), Some(p)) = (period_index, &counted.period) {
                let period_used = expected[i] + if allowed { quantity } else { 0 };
                answer.billing_period =
                    Some(PeriodUsage::new(&p.metering, (p.start, p.end), period_used, now.timestamp()));
                if refused_by == Some(i) {
                    let soft = p.metering.usage.limit == UsageLimit::Soft;
                    answer.refused_by = Some(if soft { "spending_cap" } else { "allowance" }.into());
                    if soft {
                        answer.code = Some(codes::SPENDING_CAP_REACHED.into());
                    }
                }
            }
            if refused_by.is_some_and(|i| i > 0 && counted.month.is_some() && Some(i) != period_index) {
                answer.refused_by = Some("monthly_limit".into());
            }
            answer
        };
        for attempt in 0..12u32 {
            // Would this event exceed a limit at the expected counts?
            if let Some(i) = specs.iter().zip(&expected).position(|(s, e)| s.limit.is_some_and(|l| e + quantity > l)) {
                if confirmed[i] {
                    return Ok(Some(answer_at(false, &expected, Some(i))));
                }
                // A cached guess: confirm with a consistent read before refusing. With the caller's key, its
                // record comes in the same request: a retry of an event counted before gets its first answer,
                // not a refusal because the quota has filled since.
                let (current, stored) = match &req.idempotency_key {
                    Some(_) => self.store.counter_and_idempotency(&specs[i].key, &record_key).await?,
                    None => (self.store.get_counter(&specs[i].key, true).await?, None),
                };
                if let Some(stored) = stored {
                    return replay(&stored, &fingerprint).map(Some);
                }
                if specs[i].closable && current.as_ref().is_some_and(|c| c.other.contains_key(CLOSED_ATTR)) {
                    return Ok(None);
                }
                expected[i] = current.map_or(0, |c| c.used);
                confirmed[i] = true;
                continue;
            }
            let answer = answer_at(true, &expected, None);
            // Without the caller's key there is nothing to replay: no record (as the single UpdateItem writes none).
            let answer_json = serde_json::to_string(&answer).map_err(ApiError::internal)?;
            let record = req.idempotency_key.as_ref().map(|_| {
                IdempotencyItem::usage_event(
                    &record_key,
                    fingerprint.clone(),
                    answer_json,
                    req.metadata.as_ref().map(ToString::to_string),
                    rfc3339(now),
                    now.timestamp() + self.settings.idempotency_ttl_seconds,
                )
            });
            let counters: Vec<(CounterSpec, u64)> =
                specs.iter().map(|s| (*s).clone()).zip(expected.iter().copied()).collect();
            match self.store.count_usage_tx(record.as_ref(), &counters, &req.action, quantity).await? {
                TxCounted::Applied => {
                    let mut cache = lock(&self.caches.counters);
                    if cache.len() >= MAX_ENTRIES {
                        cache.clear();
                    }
                    for (s, e) in specs.iter().zip(&expected) {
                        cache.insert(cache_key(s), e + quantity);
                    }
                    return Ok(Some(answer));
                }
                TxCounted::Duplicate(stored) => {
                    let stored = match stored {
                        Some(s) => Some(s),
                        None => self.store.get_idempotency(&record_key).await?,
                    };
                    let Some(stored) = stored else { continue };
                    return replay(&stored, &fingerprint).map(Some);
                }
                TxCounted::Stale { index, used } => {
                    if let Some(slot) = expected.get_mut(index) {
                        *slot = used;
                        confirmed[index] = true;
                    }
                }
                TxCounted::Closed { .. } => return Ok(None),
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
                // Known from the count the single UpdateItem returned: no request of its own.
                crate::platform::metrics::quota_threshold_crossed(pct);
                let id = format!("quota-{pct}:{}:{}:{}", subject.customer_id, subject.solution_id, day.period);
                let data = serde_json::json!({"date": day.period, "used": used, "limit": limit, "percent": pct});
                self.notify_once(subject, &id, &format!("quota_{pct}"), data).await?;
            }
        }
        Ok(())
    }

    /// A usage-priced billing period: crossing 80% and 100% of its allowance (under a soft limit the 100% one
    /// says overage is now charged), and reaching the spending cap (also when an event is refused by it), each
    /// recorded once per period.
    async fn notify_period(
        &self,
        subject: &Subject,
        counter: &MeteredCounter,
        answer: &TrackAnswer,
        quantity: u64,
    ) -> Result<(), ApiError> {
        let Some(period) = &answer.billing_period else { return Ok(()) };
        let start = &counter.spec.period;
        let base = serde_json::json!({
            "period_start": period.period_start, "period_end": period.period_end, "used": period.used,
            "included": period.included, "limit": period.limit, "overage": period.overage,
            "overage_charge": period.overage_charge, "projected_charge": period.projected_charge,
            "currency": period.currency, "spending_cap": period.spending_cap,
        });
        if answer.allowed && period.included > 0 {
            let before = period.used.saturating_sub(quantity);
            for pct in [80u64, 100] {
                let threshold = (period.included * pct).div_ceil(100);
                if before < threshold && period.used >= threshold {
                    crate::platform::metrics::quota_threshold_crossed(pct);
                    let mut data = base.clone();
                    data["percent"] = pct.into();
                    data["overage_started"] = (pct == 100 && period.limit == UsageLimit::Soft).into();
                    let id = format!("usage-{pct}:{}:{}:{start}", subject.customer_id, subject.solution_id);
                    self.notify_once(subject, &id, &format!("quota_{pct}"), data).await?;
                }
            }
        }
        // Once per period: this container remembers it did, so refusals after the cap cost no extra write.
        if period.cap_reached || answer.code.as_deref() == Some(codes::SPENDING_CAP_REACHED) {
            let id = format!("spending-cap:{}:{}:{start}", subject.customer_id, subject.solution_id);
            let first_here = {
                let mut told = lock(&self.caches.told);
                if told.len() >= MAX_ENTRIES {
                    told.clear();
                }
                told.insert(id.clone())
            };
            if first_here {
                self.notify_once(subject, &id, "spending_cap_reached", base).await?;
            }
        }
        Ok(())
    }

    async fn notify_once(
        &self,
        subject: &Subject,
        id: &str,
        kind: &str,
        data: serde_json::Value,
    ) -> Result<(), ApiError> {
        let item = NotificationItem::new(
            id,
            kind,
            &subject.customer_id,
            Some(&subject.solution_id),
            data,
            rfc3339(self.clock.now()),
        );
        if self.store.put_notification_once(&item).await? {
            tracing::info!(customer_id = %subject.customer_id, solution_id = %subject.solution_id, kind, "usage notification recorded");
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn track_input_is_checked() {
        let req = |action: &str, q: Option<i64>| TrackRequest {
            action: action.into(),
            quantity: q,
            idempotency_key: None,
            metadata: None,
            solution_id: None,
            customer_id: None,
            timestamp: None,
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
}
