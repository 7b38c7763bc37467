//! The monthly statements: per partner and currency, the balance carried in, the earnings and reversals since
//! the previous statement, and a payout of the closing balance when positive, recorded with its payout posting
//! in one transaction (a rerun never pays twice); the statement document goes to S3.

use super::{INDIA, PartnerLedger, india_midnight};
#[cfg(feature = "payments")]
use super::{PostingView, posting, rfc3339, view};
#[cfg(feature = "payments")]
use crate::money::split::{Account, Entry, Split};
#[cfg(feature = "payments")]
use crate::platform::error::ApiError;
#[cfg(feature = "payments")]
use crate::store::StoreError;
use crate::store::ledger::{PostingItem, PostingKind, StatementFigures, StatementItem};
#[cfg(feature = "payments")]
use crate::store::partners::PartnerItem;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a monthly run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementReport {
    pub month: String,
    pub partners: u32,
    pub statements: u32,
    pub already_done: u32,
    /// Currencies not stated for this month because a later month already is.
    pub skipped: u32,
    pub documents: u32,
    /// Per currency, what was moved into payouts.
    pub paid_out: BTreeMap<String, i64>,
    pub complete: bool,
}

/// The month before the one `now` falls in (India time), as `yyyy-mm`.
pub fn previous_month(now: DateTime<Utc>) -> String {
    let d = now.with_timezone(&INDIA).date_naive();
    let first = NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap_or(d);
    let prev = first.pred_opt().unwrap_or(first);
    format!("{:04}-{:02}", prev.year(), prev.month())
}

/// The instants `[start, end)` of a `yyyy-mm` month in India time.
pub fn month_bounds(month: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?;
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)?
    };
    Some((india_midnight(first), india_midnight(next)))
}

/// Where statement documents go.
#[cfg(feature = "payments")]
#[derive(Clone)]
pub struct StatementFiles {
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
}

/// The statement of one partner, month and currency from its postings (pure): opening + earned − reversed
/// = closing; the payout is the closing balance when positive (never more than is owed), the rest carries.
pub fn statement_of(
    partner_id: &str,
    month: &str,
    currency: &str,
    opening: i64,
    postings: &[&PostingItem],
    created_at: &str,
) -> StatementItem {
    let mut earned = 0;
    let mut reversed = 0;
    let (mut payments, mut refunds) = (0, 0);
    for p in postings {
        match p.kind {
            PostingKind::Payment => {
                earned += p.split.partner;
                payments += 1;
            }
            PostingKind::Refund => {
                reversed += p.split.partner;
                refunds += 1;
            }
            // A refund that failed after it was reversed: net of the reversals.
            PostingKind::Reinstatement => reversed -= p.split.partner,
            PostingKind::Payout => {}
        }
    }
    let closing = opening + earned - reversed;
    let payout = closing.max(0);
    StatementItem::new(
        partner_id,
        month,
        currency,
        StatementFigures { opening, earned, reversed, closing, payout, payments, refunds },
        created_at,
    )
}

impl PartnerLedger {
    /// Statements for `month` (`yyyy-mm`; default: last month in India time) of every approved or suspended
    /// partner, in every currency with postings or a balance carried in. Rerun-safe: a statement exists once
    /// (its payout with it); its document is (re)written while the statement records none. A statement covers
    /// the postings since the partner's previous statement in that currency (normally: the month), so a month
    /// skipped by a run that never finished is caught up by the next month's statement; a month before one
    /// already stated is never stated. Stops (incomplete) when `has_time` says so; a rerun continues.
    #[cfg(feature = "payments")]
    pub async fn monthly(
        &self,
        month: Option<&str>,
        files: Option<&StatementFiles>,
        has_time: impl Fn() -> bool,
    ) -> Result<StatementReport, ApiError> {
        let month = month.map_or_else(|| previous_month(self.clock.now()), str::to_owned);
        let (_, end) = month_bounds(&month).ok_or_else(|| ApiError::field("month", "must be yyyy-mm"))?;
        if end > self.clock.now() {
            return Err(ApiError::field("month", "must be a month that has ended"));
        }
        let mut report = StatementReport { month: month.clone(), ..Default::default() };
        let mut partners = self.store.partners_by_status(crate::model::partner_status::APPROVED).await?;
        partners.extend(self.store.partners_by_status(crate::model::partner_status::SUSPENDED).await?);
        for partner in partners {
            if !has_time() {
                return Ok(report);
            }
            report.partners += 1;
            let pid = &partner.partner_id;
            // Every posting before the month's end (payouts are the statements' own).
            let postings = self.postings_between(pid, "0", &rfc3339(end)).await?;
            let postings: Vec<&PostingItem> = postings.iter().filter(|p| p.kind != PostingKind::Payout).collect();
            let previous = self.store.statements_of(pid).await?;
            let mut currencies: Vec<String> = postings.iter().map(|p| p.currency.clone()).collect();
            currencies.extend(previous.iter().map(|s| s.currency.clone()));
            currencies.sort();
            currencies.dedup();
            for currency in currencies {
                let stated: Vec<&StatementItem> = previous.iter().filter(|s| s.currency == currency).collect();
                let done = stated.iter().find(|s| s.month == month).map(|s| (*s).clone());
                if done.is_none() && stated.iter().any(|s| s.month > month) {
                    report.skipped += 1; // a later month is stated: its statement covered this one
                    continue;
                }
                let last = stated.iter().filter(|s| s.month < month).max_by(|a, b| a.month.cmp(&b.month));
                let opening = last.map_or(0, |s| s.carried);
                let since = last.and_then(|s| month_bounds(&s.month)).map(|(_, e)| rfc3339(e)).unwrap_or_default();
                let covered: Vec<&PostingItem> =
                    postings.iter().copied().filter(|p| p.currency == currency && p.at >= since).collect();
                let statement = match done {
                    Some(s) => {
                        report.already_done += 1;
                        s
                    }
                    None if covered.is_empty() && opening == 0 => continue,
                    None => {
                        let s = statement_of(pid, &month, &currency, opening, &covered, &rfc3339(self.clock.now()));
                        if self.record_statement(&s).await? {
                            report.statements += 1;
                            *report.paid_out.entry(currency.clone()).or_insert(0) += s.payout;
                            s
                        } else {
                            // Recorded meanwhile (a rerun racing this one): the stored one is the statement.
                            report.already_done += 1;
                            self.store.get_statement(pid, &month, &currency).await?.unwrap_or(s)
                        }
                    }
                };
                if let (Some(files), None) = (files, &statement.document_key) {
                    self.write_document(files, &partner, &statement, &covered).await?;
                    report.documents += 1;
                }
            }
        }
        report.complete = true;
        Ok(report)
    }

    /// The statement and its payout posting, in one transaction. False when the statement exists.
    #[cfg(feature = "payments")]
    async fn record_statement(&self, s: &StatementItem) -> Result<bool, ApiError> {
        let mut items = vec![self.store.tx_put_new(s)?];
        if s.payout > 0 {
            let split = Split { gross: s.payout, tax: 0, commission: 0, partner: s.payout };
            let entries = vec![
                Entry { account: Account::PartnerPayable, debit: s.payout, credit: 0 },
                Entry { account: Account::Cash, debit: 0, credit: s.payout },
            ];
            let p = posting(
                &s.statement_id,
                PostingKind::Payout,
                &s.partner_id,
                None,
                &s.currency,
                split,
                entries,
                0,
                &s.created_at,
            );
            items.push(self.store.tx_put_new(&p)?);
        }
        match self.store.transact(items).await {
            Ok(()) => {
                tracing::info!(partner_id = %s.partner_id, month = %s.month, currency = %s.currency, payout = s.payout, "statement recorded");
                Ok(true)
            }
            Err(StoreError::Conditional { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    #[cfg(feature = "payments")]
    async fn write_document(
        &self,
        files: &StatementFiles,
        partner: &PartnerItem,
        s: &StatementItem,
        covered: &[&PostingItem],
    ) -> Result<(), ApiError> {
        let key = format!("statements/{}/{}-{}.json", s.partner_id, s.month, s.currency);
        let lines: Vec<PostingView> = covered.iter().map(|p| view(p)).collect();
        let doc = serde_json::json!({
            "statement_id": s.statement_id, "partner_id": s.partner_id, "company": partner.company,
            "payout_to": partner.payout_masked, "month": s.month, "currency": s.currency,
            "opening": s.opening, "earned": s.earned, "reversed": s.reversed, "closing": s.closing,
            "payout": s.payout, "carried": s.carried, "postings": lines,
        });
        let body = serde_json::to_vec_pretty(&doc).map_err(ApiError::internal)?;
        files
            .s3
            .put_object()
            .bucket(&files.bucket)
            .key(&key)
            .content_type("application/json")
            .body(body.into())
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(error = %aws_sdk_s3::error::DisplayErrorContext(&e), "statement document not stored");
                ApiError::unavailable(60)
            })?;
        self.store.set_statement_document(&s.partner_id, &s.month, &s.currency, &key).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::clock::rfc3339;

    #[test]
    fn months_are_india_months() {
        let at = DateTime::parse_from_rfc3339("2026-11-30T19:00:00Z").expect("t").with_timezone(&Utc);
        assert_eq!(previous_month(at), "2026-11", "19:00 UTC on the 30th is 1 December in India");
        let (s, e) = month_bounds("2026-12").expect("bounds");
        assert_eq!(rfc3339(s), "2026-11-30T18:30:00Z");
        assert_eq!(rfc3339(e), "2026-12-31T18:30:00Z");
        assert!(month_bounds("2026-13").is_none());
    }
}
