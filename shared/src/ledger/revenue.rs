//! Reading the ledger: a partner's revenue over a range of days with its balance per currency, and the revenue
//! facts of a solution for the partners' analytics.

use super::{INDIA, PartnerLedger, PostingView, india_midnight, rfc3339, view};
use crate::model::Tier;
use crate::platform::error::ApiError;
use crate::store::keys;
use crate::store::ledger::{PostingItem, PostingKind};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const MAX_POSTINGS_SHOWN: usize = 200;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub payments: u64,
    pub gross: i64,
    pub tax: i64,
    pub commission: i64,
    /// The partner's earnings from payments.
    pub earnings: i64,
    pub refunds: u64,
    /// The partner's share of refunds, reversed (net of refunds that failed after they were reversed).
    pub reversed: i64,
    /// `earnings − reversed`.
    pub net: i64,
    pub paid_out: i64,
    /// Of `gross`: what paid billing periods' overage (usage beyond the allowance).
    #[serde(default)]
    pub overage_gross: i64,
    /// Of `earnings`: the partner's share of that overage (same commission).
    #[serde(default)]
    pub overage_earnings: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevenueView {
    pub partner_id: String,
    pub from: String,
    pub to: String,
    /// Per currency, postings in `[from, to]`.
    pub totals: BTreeMap<String, Totals>,
    /// Per currency: what the platform owes the partner now (all postings to date, less payouts).
    pub balance: BTreeMap<String, i64>,
    /// Newest first (at most 200).
    pub postings: Vec<PostingView>,
}

/// The partner's balance per currency from its postings: earnings − reversals − payouts.
pub fn balances(postings: &[PostingItem]) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for p in postings {
        let b = out.entry(p.currency.clone()).or_insert(0);
        match p.kind {
            PostingKind::Payment | PostingKind::Reinstatement => *b += p.split.partner,
            PostingKind::Refund | PostingKind::Payout => *b -= p.split.partner,
        }
    }
    out
}

impl PartnerLedger {
    /// Revenue of a partner for the days `from..=to` (India time; default: this month so far).
    pub async fn revenue(
        &self,
        partner_id: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<RevenueView, ApiError> {
        let today = self.clock.now().with_timezone(&INDIA).date_naive();
        let month_start = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
        let (from, to) = crate::platform::clock::date_range(from.or(Some(&month_start.to_string())), to, today)
            .or_else(|_| crate::platform::clock::date_range(from, to, today))?;
        let start = india_midnight(from);
        let end = india_midnight(to.succ_opt().unwrap_or(to));
        let all =
            self.postings_between(partner_id, "0", &rfc3339(self.clock.now() + chrono::Duration::days(1))).await?;
        let balance = balances(&all);
        let (s, e) = (rfc3339(start), rfc3339(end));
        let mut in_range: Vec<&PostingItem> = all.iter().filter(|p| p.at >= s && p.at < e).collect();
        let mut totals: BTreeMap<String, Totals> = BTreeMap::new();
        for p in &in_range {
            let t = totals.entry(p.currency.clone()).or_default();
            match p.kind {
                PostingKind::Payment => {
                    t.payments += 1;
                    t.gross += p.split.gross;
                    t.tax += p.split.tax;
                    t.commission += p.split.commission;
                    t.earnings += p.split.partner;
                    if let Some(o) = &p.overage {
                        t.overage_gross += o.gross;
                        t.overage_earnings += o.partner;
                    }
                }
                PostingKind::Refund => {
                    t.refunds += 1;
                    t.gross -= p.split.gross;
                    t.tax -= p.split.tax;
                    t.commission -= p.split.commission;
                    t.reversed += p.split.partner;
                }
                // A refund that failed after its reversal: the reversal undone.
                PostingKind::Reinstatement => {
                    t.gross += p.split.gross;
                    t.tax += p.split.tax;
                    t.commission += p.split.commission;
                    t.reversed -= p.split.partner;
                }
                PostingKind::Payout => t.paid_out += p.split.partner,
            }
            t.net = t.earnings - t.reversed;
        }
        in_range.sort_by(|a, b| b.at.cmp(&a.at).then(b.posting_id.cmp(&a.posting_id)));
        Ok(RevenueView {
            partner_id: partner_id.to_owned(),
            from: from.to_string(),
            to: to.to_string(),
            totals,
            balance,
            postings: in_range.into_iter().take(MAX_POSTINGS_SHOWN).map(view).collect(),
        })
    }

    /// A solution's payment and refund postings in `[from, to)`.
    pub async fn solution_postings(
        &self,
        solution_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PostingItem>, ApiError> {
        let (lo, hi) = keys::time_range(&rfc3339(from), &rfc3339(to));
        let items = self.store.gsi2_range(&keys::solution_revenue_partition(solution_id), &lo, &hi).await?;
        Ok(items.into_iter().map(crate::store::from_item).collect::<Result<Vec<PostingItem>, _>>()?)
    }
}

impl RevenueSource for PartnerLedger {
    fn facts<'a>(&'a self, solution_id: &'a str, from: DateTime<Utc>, to: DateTime<Utc>) -> FactsFuture<'a> {
        Box::pin(async move {
            let postings = self.solution_postings(solution_id, from, to).await?;
            Ok(postings
                .into_iter()
                .filter_map(|p| {
                    let kind = match p.kind {
                        // A reinstatement counts like a payment (no period, not a conversion).
                        PostingKind::Payment | PostingKind::Reinstatement => FactKind::Payment,
                        PostingKind::Refund => FactKind::Refund,
                        PostingKind::Payout => return None,
                    };
                    let at = DateTime::parse_from_rfc3339(&p.at).ok()?.with_timezone(&Utc);
                    let fully_refunded = p.reversed.is_some_and(|r| r.gross >= p.split.gross && p.split.gross > 0);
                    Some(RevenueFact {
                        kind,
                        at,
                        subscription_id: p.subscription_id,
                        tier: p.tier,
                        currency: p.currency,
                        gross: p.split.gross,
                        tax: p.split.tax,
                        commission: p.split.commission,
                        partner: p.split.partner,
                        period: p.period_start.zip(p.period_end),
                        first_payment: p.first_payment,
                        overage: p.overage.filter(|_| kind == FactKind::Payment),
                        fully_refunded,
                    })
                })
                .collect())
        })
    }
}

/// A revenue fact: one posting of a payment or a refund, in the solution's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevenueFact {
    pub kind: FactKind,
    /// When it was posted.
    pub at: DateTime<Utc>,
    pub subscription_id: Option<String>,
    pub tier: Option<Tier>,
    pub currency: String,
    pub gross: i64,
    pub tax: i64,
    pub commission: i64,
    pub partner: i64,
    /// The paid period (payments), epoch seconds.
    pub period: Option<(i64, i64)>,
    /// The first paid period of a subscription (a free → paid conversion).
    pub first_payment: bool,
    /// Payments: the part that paid a billing period's overage.
    pub overage: Option<crate::money::split::Split>,
    /// The payment was refunded in full (it no longer makes a subscriber).
    pub fully_refunded: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactKind {
    Payment,
    Refund,
}

/// A boxed future (the revenue source is a trait object).
pub type FactsFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<RevenueFact>, ApiError>> + Send + 'a>>;

/// Where analytics reads a solution's revenue facts posted in `[from, to)` (the ledger's postings).
pub trait RevenueSource {
    fn facts<'a>(&'a self, solution_id: &'a str, from: DateTime<Utc>, to: DateTime<Utc>) -> FactsFuture<'a>;
}
