//! Time as a port, so that tests can pin "now".

use crate::platform::error::{ApiError, FieldError};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::sync::{Arc, Mutex, PoisonError};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that tests move by hand.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(start)))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = at;
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *guard += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A time as RFC 3339 in UTC, to the second (`2026-12-02T11:06:43Z`): how every stored and answered time reads.
pub fn rfc3339(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// An epoch time (seconds) as [`rfc3339`]; empty when out of range.
pub fn rfc3339_epoch(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0).map(rfc3339).unwrap_or_default()
}

/// The longest range one request may ask for.
pub const MAX_DAYS: i64 = 92;

/// `from` / `to` query parameters: dates, `from <= to`, at most [`MAX_DAYS`] days; default the last 30 days.
pub fn date_range(from: Option<&str>, to: Option<&str>, today: NaiveDate) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let parse = |field: &str, raw: &str| {
        NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| FieldError::new(field, "must be a date as YYYY-MM-DD"))
    };
    let mut errors = Vec::new();
    let to = match to {
        Some(raw) => parse("to", raw).map_err(|e| errors.push(e)).ok(),
        None => Some(today),
    };
    let from = match from {
        Some(raw) => parse("from", raw).map_err(|e| errors.push(e)).ok(),
        None => to.map(|t| t - Duration::days(29)),
    };
    let (Some(from), Some(to), true) = (from, to, errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    if from > to {
        return Err(ApiError::field("from", "must not be after to"));
    }
    if (to - from).num_days() >= MAX_DAYS {
        return Err(ApiError::field("to", format!("the range may span at most {MAX_DAYS} days")));
    }
    Ok((from, to))
}
