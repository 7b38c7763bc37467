//! `GET /api/admin/audit`: the audit trail, newest first, for admins.
//!
//! Filters: `kind` (an [`AuditKind`]), `actor` (`usr_…` or `system`), `subject`, `from` / `to` (RFC 3339 or
//! a date; `from <= at < to`; a date `to` includes that day; default the last 7 days; at most
//! [`MAX_SPAN_DAYS`] days), `limit` (1–100, default 50) and the opaque `cursor` of the previous page, which
//! is bound to the filters it was made with (another set of filters with it is a 400 naming `cursor`).
//!
//! What is read: with `subject`, that subject's partition; else with `actor`, the actor's index; else the
//! UTC days' index partitions, newest day first. `kind` (and `actor` beside `subject`) filter what was read,
//! so a page reads at most [`MAX_READS`] times ([`FILTERED_READ`] records each) and may be short (even empty)
//! with a `next_cursor` to go on from; an unfiltered read of empty days stops after [`MAX_READS`] days too.

use super::{AuditKind, SYSTEM, subject};
use crate::identity::Principal;
use crate::platform::clock::{Clock, rfc3339};
use crate::platform::error::{ApiError, FieldError};
use crate::store::Store;
use crate::store::audit::{AuditIndex, AuditItem, Position};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The longest time range one request may ask for.
pub const MAX_SPAN_DAYS: i64 = 92;
/// The range when `from` is not given: this many days before `to`.
pub const DEFAULT_SPAN_DAYS: i64 = 7;
/// Reads (DynamoDB queries) one page makes at most.
pub const MAX_READS: u32 = 10;
/// Records one filtered read asks for.
pub const FILTERED_READ: i32 = 100;

/// The query parameters, as given.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub kind: Option<String>,
    pub actor: Option<String>,
    pub subject: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub audit_id: String,
    pub at: String,
    pub kind: String,
    pub actor: String,
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub details: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
}

impl From<AuditItem> for AuditEntry {
    fn from(item: AuditItem) -> Self {
        Self {
            audit_id: item.audit_id,
            at: item.at,
            kind: item.kind,
            actor: item.actor,
            subject: item.subject,
            reason: item.reason,
            details: item.details,
            source_ip: item.source_ip,
        }
    }
}

/// One page of the trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub events: Vec<AuditEntry>,
    /// The time range read (`from <= at < to`).
    pub from: String,
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Where the next page goes on: bound to the filters (`filters`, a digest) and to the time range of the first
/// page (so a default range does not move while paging), in a UTC day (day listings) after a position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Cursor {
    #[serde(rename = "f")]
    filters: String,
    from: String,
    to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    day: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<Position>,
}

impl Cursor {
    fn encode(&self) -> Option<String> {
        serde_json::to_vec(self).ok().map(|json| URL_SAFE_NO_PAD.encode(json))
    }

    fn decode(raw: &str) -> Option<Self> {
        if raw.len() > 2048 {
            return None;
        }
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(raw.as_bytes()).ok()?).ok()
    }
}

/// Which records a listing reads.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Subject(String),
    Actor(String),
    Days,
}

/// A validated request.
#[derive(Debug)]
struct Listing {
    kind: Option<AuditKind>,
    actor: Option<String>,
    source: Source,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: usize,
    digest: String,
    /// Where to start: the day (day listings) and the position after which to go on.
    day: Option<NaiveDate>,
    after: Option<Position>,
}

impl Listing {
    fn keeps(&self, item: &AuditItem) -> bool {
        self.kind.is_none_or(|k| item.kind == k.as_str())
            && (!matches!(self.source, Source::Subject(_)) || self.actor.as_ref().is_none_or(|a| &item.actor == a))
    }

    /// Whether what is read is filtered further (so a read asks for more than the page needs).
    fn filtered(&self) -> bool {
        self.kind.is_some() || (matches!(self.source, Source::Subject(_)) && self.actor.is_some())
    }

    fn cursor(&self, day: Option<NaiveDate>, after: Option<Position>) -> Option<String> {
        Cursor {
            filters: self.digest.clone(),
            from: rfc3339(self.from),
            to: rfc3339(self.to),
            day: day.map(date),
            after,
        }
        .encode()
    }
}

fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The last UTC day with times in `[from, to)`.
fn last_day(to: DateTime<Utc>) -> NaiveDate {
    (to - Duration::seconds(1)).date_naive()
}

fn bad_cursor() -> ApiError {
    ApiError::field("cursor", "is not a cursor of this listing (the filters must be those of the previous page)")
}

/// A `from` or `to` parameter: a time (RFC 3339, any offset) or a date (`from`: its start; `to`: its end, so
/// the day is included). Fractions of a second widen the range to whole seconds.
fn parse_time(field: &str, raw: &str, end: bool) -> Result<DateTime<Utc>, FieldError> {
    let invalid = || FieldError::new(field, "must be a date (YYYY-MM-DD) or an RFC 3339 time, between 2000 and 9999");
    let at = if raw.len() == 10 {
        let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| invalid())?;
        let day = if end { day.succ_opt().ok_or_else(invalid)? } else { day };
        day.and_hms_opt(0, 0, 0).ok_or_else(invalid)?.and_utc()
    } else {
        let at = DateTime::parse_from_rfc3339(raw).map_err(|_| invalid())?.with_timezone(&Utc);
        let whole = at - Duration::nanoseconds(i64::from(at.timestamp_subsec_nanos()));
        if end && whole != at { whole + Duration::seconds(1) } else { whole }
    };
    if !(2000..=9999).contains(&at.year()) {
        return Err(invalid());
    }
    Ok(at)
}

/// The admins' reading of the audit trail.
#[derive(Clone)]
pub struct AuditLog {
    store: Store,
    clock: Arc<dyn Clock>,
}

impl AuditLog {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// `GET /api/admin/audit` (admins only): one page, newest first.
    pub async fn list(&self, caller: &Principal, query: AuditQuery) -> Result<AuditPage, ApiError> {
        if !caller.is_admin() {
            return Err(ApiError::forbidden("only admins may read the audit trail"));
        }
        let listing = self.validate(query)?;
        let (events, next_cursor) = self.read(&listing).await?;
        Ok(AuditPage { events, from: rfc3339(listing.from), to: rfc3339(listing.to), next_cursor })
    }

    fn validate(&self, q: AuditQuery) -> Result<Listing, ApiError> {
        let mut errors = Vec::new();
        let kind = match q.kind.as_deref() {
            None => None,
            Some(raw) => AuditKind::parse(raw).or_else(|| {
                let names: Vec<&str> = AuditKind::ALL.iter().map(|k| k.as_str()).collect();
                errors.push(FieldError::new("kind", format!("must be one of {}", names.join(", "))));
                None
            }),
        };
        let actor = match q.actor {
            Some(a) if a == SYSTEM || crate::platform::ids::is_valid("usr", &a) => Some(a),
            Some(_) => {
                errors.push(FieldError::new("actor", "must be a user id (usr_…) or system"));
                None
            }
            None => None,
        };
        let subject = match q.subject {
            Some(s) if subject::is_valid(&s) => Some(s),
            Some(_) => {
                errors.push(FieldError::new(
                    "subject",
                    "must be <kind>#<id> (partner, solution, user, payment, token, api_key, notification), \
                     customer#<id>/solution#<id> or tiers#default",
                ));
                None
            }
            None => None,
        };
        let from = q.from.as_deref().map(|raw| parse_time("from", raw, false)).transpose().map_err(|e| errors.push(e));
        let to = q.to.as_deref().map(|raw| parse_time("to", raw, true)).transpose().map_err(|e| errors.push(e));
        let limit = match q.limit.as_deref() {
            None => Some(50),
            Some(raw) => match raw.parse::<usize>() {
                Ok(n) if (1..=100).contains(&n) => Some(n),
                _ => {
                    errors.push(FieldError::new("limit", "must be an integer from 1 to 100"));
                    None
                }
            },
        };
        let (Ok(from), Ok(to), Some(limit), true) = (from, to, limit, errors.is_empty()) else {
            return Err(ApiError::validation(errors));
        };
        let digest = {
            let at = |t: Option<DateTime<Utc>>| t.map(rfc3339).unwrap_or_default();
            let filters = [
                kind.map(AuditKind::as_str).unwrap_or_default(),
                actor.as_deref().unwrap_or_default(),
                subject.as_deref().unwrap_or_default(),
                &at(from),
                &at(to),
            ];
            crate::platform::crypto::sha256_hex(filters.join("\n").as_bytes())[..16].to_owned()
        };
        let source = match (&subject, &actor) {
            (Some(s), _) => Source::Subject(s.clone()),
            (None, Some(a)) => Source::Actor(a.clone()),
            (None, None) => Source::Days,
        };
        let Start { from, to, day, after } = match q.cursor.as_deref() {
            Some(raw) => resume(&digest, &source, raw)?,
            None => {
                let now = self.clock.now();
                // Records are timed to the second: the range ends after the current second.
                let to = to.unwrap_or_else(|| {
                    now - Duration::nanoseconds(i64::from(now.timestamp_subsec_nanos())) + Duration::seconds(1)
                });
                let from = from.unwrap_or(to - Duration::days(DEFAULT_SPAN_DAYS));
                check_range(from, to)?;
                Start { from, to, day: (source == Source::Days).then(|| last_day(to)), after: None }
            }
        };
        Ok(Listing { kind, actor, source, from, to, limit, digest, day, after })
    }

    /// Read one page: the records kept and the cursor of the next page.
    async fn read(&self, listing: &Listing) -> Result<(Vec<AuditEntry>, Option<String>), ApiError> {
        let (from, to) = (rfc3339(listing.from), rfc3339(listing.to));
        let first_day = listing.from.date_naive();
        let mut day = listing.day;
        let mut after = listing.after.clone();
        let mut kept: Vec<AuditEntry> = Vec::with_capacity(listing.limit);
        let mut reads = 0;
        loop {
            reads += 1;
            let day_name = day.map(date).unwrap_or_default();
            let index = match &listing.source {
                Source::Subject(s) => AuditIndex::Subject(s),
                Source::Actor(a) => AuditIndex::Actor(a),
                Source::Days => AuditIndex::Day(&day_name),
            };
            // Unfiltered, one more than the page needs: a full page then knows whether anything follows.
            let want = if listing.filtered() { FILTERED_READ } else { (listing.limit - kept.len() + 1) as i32 };
            let batch =
                self.store.audit_batch(index, &from, &to, after.as_ref(), want).await?.map_err(|()| bad_cursor())?;
            let older_day = day.filter(|d| *d > first_day).and_then(|d| d.pred_opt());
            let mut read = batch.items.into_iter();
            for (item, position) in read.by_ref() {
                if !listing.keeps(&item) {
                    continue;
                }
                kept.push(item.into());
                if kept.len() == listing.limit {
                    // Full: the next page starts after the last record shown, in this partition while it may
                    // hold more, or in the next older day.
                    let next = if read.len() > 0 || batch.more.is_some() {
                        listing.cursor(day, Some(position))
                    } else if older_day.is_some() {
                        listing.cursor(older_day, None)
                    } else {
                        None
                    };
                    return Ok((kept, next));
                }
            }
            match batch.more {
                Some(position) => after = Some(position),
                None if older_day.is_some() => {
                    day = older_day;
                    after = None;
                }
                None => return Ok((kept, None)),
            }
            if reads >= MAX_READS {
                return Ok((kept, listing.cursor(day, after)));
            }
        }
    }
}

/// Where a page starts: its time range (`from <= at < to`), and the day and position of day listings.
struct Start {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    day: Option<NaiveDate>,
    after: Option<Position>,
}

/// Where a cursor goes on (it must be one of these filters): its time range, its day and its position.
fn resume(digest: &str, source: &Source, raw: &str) -> Result<Start, ApiError> {
    let cursor = Cursor::decode(raw).filter(|c| c.filters == digest).ok_or_else(bad_cursor)?;
    let time = |s: &str| DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc));
    let (Some(from), Some(to)) = (time(&cursor.from), time(&cursor.to)) else {
        return Err(bad_cursor());
    };
    check_range(from, to).map_err(|_| bad_cursor())?;
    let day = cursor.day.as_deref().map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d")).transpose();
    let day = day.map_err(|_| bad_cursor())?;
    match (source, day) {
        (Source::Days, Some(d)) if from.date_naive() <= d && d <= last_day(to) => {}
        (Source::Subject(_) | Source::Actor(_), None) => {}
        _ => return Err(bad_cursor()),
    }
    Ok(Start { from, to, day, after: cursor.after })
}

/// `from` before `to`, at most [`MAX_SPAN_DAYS`] apart.
fn check_range(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<(), ApiError> {
    if from >= to {
        return Err(ApiError::field("from", "must be before to"));
    }
    if to - from > Duration::days(MAX_SPAN_DAYS) {
        return Err(ApiError::field("to", format!("the range may span at most {MAX_SPAN_DAYS} days")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
    }

    #[test]
    fn times_and_dates_bound_the_range() {
        assert_eq!(parse_time("from", "2026-04-15", false), Ok(at("2026-04-15T00:00:00Z")));
        assert_eq!(parse_time("to", "2026-04-15", true), Ok(at("2026-04-16T00:00:00Z")));
        assert_eq!(parse_time("from", "2026-04-15T12:30:00+05:30", false), Ok(at("2026-04-15T07:00:00Z")));
        assert_eq!(parse_time("from", "2026-04-15T07:00:00.9Z", false), Ok(at("2026-04-15T07:00:00Z")));
        assert_eq!(parse_time("to", "2026-04-15T07:00:00.1Z", true), Ok(at("2026-04-15T07:00:01Z")));
        for bad in ["", "yesterday", "2026-13-01", "2026-04-15T25:00:00Z", "1999-12-31", "2026-04-15 10:00"] {
            assert_eq!(parse_time("from", bad, false).map_err(|e| e.field), Err("from".to_owned()), "{bad}");
        }
        assert!(check_range(at("2026-01-01T00:00:00Z"), at("2026-04-03T00:00:00Z")).is_ok());
        assert!(check_range(at("2026-01-01T00:00:00Z"), at("2026-04-03T00:00:01Z")).is_err());
        assert!(check_range(at("2026-01-01T00:00:00Z"), at("2026-01-01T00:00:00Z")).is_err());
        assert_eq!(last_day(at("2026-04-16T00:00:00Z")), NaiveDate::from_ymd_opt(2026, 4, 15).expect("date"));
        assert_eq!(last_day(at("2026-04-16T00:00:01Z")), NaiveDate::from_ymd_opt(2026, 4, 16).expect("date"));
    }

    #[test]
    fn cursors_round_trip() {
        let c = Cursor {
            filters: "abc".into(),
            from: "2026-04-01T00:00:00Z".into(),
            to: "2026-04-08T00:00:00Z".into(),
            day: Some("2026-04-07".into()),
            after: Some(BTreeMap::from([("PK".to_owned(), "AUDIT#user#usr_1".to_owned())])),
        };
        assert_eq!(Cursor::decode(&c.encode().expect("encodes")), Some(c));
        assert_eq!(Cursor::decode("%%%"), None);
        assert_eq!(Cursor::decode(&"a".repeat(3000)), None);
    }
}
