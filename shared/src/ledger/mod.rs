//! The partners' revenue ledger: every captured payment (both rails) posts balanced entries — customer
//! payment = GST + platform commission + partner earnings (`crate::money::split` splits it, exact to the paisa) —
//! and every succeeded refund posts the reverse of its proportional part (a refund that fails after it
//! succeeded posts a reinstatement undoing its reversal). Postings are keyed by what they post, so each is
//! posted once however often its event is replayed: a payment's posting is written in the transaction that
//! records the payment; refunds are settled against the payment's posting whatever order their events arrive
//! in (`settle_refunds` runs after both).
//!
//! Monthly (the billing function's `monthly` job), each partner gets a statement per currency: the balance
//! carried in, its earnings and reversals posted since its previous statement (normally: the month, India
//! time), and a payout of the closing balance when positive; a negative balance carries forward. The
//! statement and its payout posting are one transaction, keyed by partner, month and currency, so a rerun
//! never pays twice. The statement document goes to S3.
//!
//! `postings` posts payments and settles refunds, `revenue` reads a partner's revenue and balance (and gives the
//! partners' analytics their facts), `statements` makes the monthly statements with their payouts, and `payouts`
//! lists them. This root holds the ledger service and what they share: building a posting and showing one.

mod payouts;
mod postings;
pub mod revenue;
mod statements;

pub use payouts::{PayoutList, StatementItemView};
pub use postings::{PaymentFacts, inclusive_tax, payment_posting, reinstatement_source, settle_refunds};
pub use revenue::{RevenueView, Totals, balances};
#[cfg(feature = "payments")]
pub use statements::StatementFiles;
pub use statements::{StatementReport, month_bounds, previous_month, statement_of};

use crate::money::split::{Entry, Split};
use crate::platform::clock::Clock;
use crate::platform::error::ApiError;
use crate::store::ledger::{PostingItem, PostingKind};
use crate::store::solutions::SolutionItem;
use crate::store::{Store, keys};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const INDIA: chrono_tz::Tz = chrono_tz::Asia::Kolkata;

fn rfc3339(at: DateTime<Utc>) -> String {
    crate::platform::clock::rfc3339(at)
}

fn india_midnight(date: NaiveDate) -> DateTime<Utc> {
    INDIA
        .from_local_datetime(&date.and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map_or_else(|| date.and_time(chrono::NaiveTime::MIN).and_utc(), |t| t.with_timezone(&Utc))
}

fn posting_id(source_id: &str) -> String {
    format!("pst_{}", &crate::platform::crypto::sha256_hex(source_id.as_bytes())[..26])
}

#[allow(clippy::too_many_arguments)]
fn posting(
    source_id: &str,
    kind: PostingKind,
    partner_id: &str,
    solution: Option<&SolutionItem>,
    currency: &str,
    split: Split,
    entries: Vec<Entry>,
    rate: u32,
    at: &str,
) -> PostingItem {
    PostingItem::new(
        source_id,
        posting_id(source_id),
        kind,
        partner_id,
        solution.map(|s| s.solution_id.as_str()),
        currency,
        split,
        entries,
        rate,
        at,
    )
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PostingView {
    pub posting_id: String,
    pub kind: PostingKind,
    pub source_id: String,
    pub solution_id: Option<String>,
    pub currency: String,
    pub gross: i64,
    pub tax: i64,
    pub commission: i64,
    pub partner: i64,
    pub entries: Vec<Entry>,
    pub at: String,
}

fn view(p: &PostingItem) -> PostingView {
    PostingView {
        posting_id: p.posting_id.clone(),
        kind: p.kind,
        source_id: p.source_id.clone(),
        solution_id: p.solution_id.clone(),
        currency: p.currency.clone(),
        gross: p.split.gross,
        tax: p.split.tax,
        commission: p.split.commission,
        partner: p.split.partner,
        entries: p.entries.clone(),
        at: p.at.clone(),
    }
}

/// The ledger's read side and the monthly statements.
#[derive(Clone)]
pub struct PartnerLedger {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
}

impl PartnerLedger {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    async fn postings_between(&self, partner_id: &str, from: &str, to: &str) -> Result<Vec<PostingItem>, ApiError> {
        let (lo, hi) = keys::time_range(from, to);
        let items = self.store.gsi1_range(&keys::partner_ledger_partition(partner_id), &lo, &hi).await?;
        Ok(items.into_iter().map(crate::store::from_item).collect::<Result<Vec<PostingItem>, _>>()?)
    }
}
