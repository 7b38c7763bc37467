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

use crate::model::RefundStatus;
use crate::model::Tier;
use crate::money::split::{self, Account, DEFAULT_COMMISSION_BP, Entry, Split};
use crate::partners::analytics::{FactKind, FactsFuture, RevenueFact, RevenueSource};
use crate::platform::clock::Clock;
use crate::platform::error::ApiError;
use crate::store::items::{
    PartnerItem, PaymentItem, PostingItem, PostingKind, RefundItem, SolutionItem, StatementItem,
};
use crate::store::{Store, StoreError, keys};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

const INDIA: chrono_tz::Tz = chrono_tz::Asia::Kolkata;
const MAX_POSTINGS_SHOWN: usize = 200;

fn rfc3339(at: DateTime<Utc>) -> String {
    crate::platform::clock::rfc3339(at)
}

/// What a payment's posting needs beyond the payment itself.
#[derive(Debug, Clone, Default)]
pub struct PaymentFacts {
    /// The GST in the payment (from its tax invoice; else the inclusive split of an INR amount).
    pub tax: Option<i64>,
    pub tier: Option<Tier>,
    pub period: Option<(i64, i64)>,
    /// The subscription's first paid period (free → paid).
    pub first_payment: bool,
}

/// The GST in a tax-inclusive amount (18% of INR; exports are zero-rated).
pub fn inclusive_tax(amount: i64, currency: &str) -> i64 {
    let t = crate::gst::split_inclusive(amount, currency, "", "");
    t.cgst + t.sgst + t.igst
}

fn posting_id(source_id: &str) -> String {
    format!("pst_{}", &crate::platform::crypto::sha256_hex(source_id.as_bytes())[..26])
}

/// The writes that post `payment` (to add to the transaction that records it): the posting, and for a
/// first payment the solution's popularity. Nothing when the payment names no solution of a partner.
pub async fn payment_posting(
    store: &Store,
    payment: &PaymentItem,
    facts: PaymentFacts,
) -> Result<Vec<TransactWriteItem>, ApiError> {
    let Some(solution_id) = &payment.solution_id else {
        return Ok(Vec::new());
    };
    let Some(solution) = store.get_solution(solution_id).await? else {
        return Ok(Vec::new());
    };
    let partner: Option<PartnerItem> = store.get(&keys::partner(&solution.partner_id), false).await?;
    let rate = partner.and_then(|p| p.commission_bp).unwrap_or(DEFAULT_COMMISSION_BP);
    let tax = facts.tax.unwrap_or_else(|| inclusive_tax(payment.amount, &payment.currency));
    let split = split::split_payment(payment.amount, tax, rate);
    let mut item = posting(
        &payment.payment_id,
        PostingKind::Payment,
        &solution.partner_id,
        Some(&solution),
        &payment.currency,
        split,
        split::payment_entries(&split),
        rate,
        &payment.recorded_at,
    );
    item.subscription_id.clone_from(&payment.subscription_id);
    item.user_id = Some(payment.user_id.clone());
    item.provider = Some(payment.provider);
    item.tier = facts.tier;
    item.period_start = facts.period.map(|p| p.0);
    item.period_end = facts.period.map(|p| p.1);
    item.first_payment = facts.first_payment;
    item.reversed = Some(Split { gross: 0, tax: 0, commission: 0, partner: 0 });
    let mut out = vec![store.tx_put(&item, Some("attribute_not_exists(PK)"))?];
    if facts.first_payment {
        out.push(store.tx_update(
            &keys::solution(solution_id),
            "ADD subscribers :one",
            Some("attribute_exists(PK)"),
            HashMap::from([(":one".to_owned(), AttributeValue::N("1".into()))]),
        )?);
    }
    Ok(out)
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
    let id = posting_id(source_id);
    let key = keys::posting(source_id);
    let ledger = keys::partner_ledger(partner_id, at, &id);
    let by_solution = solution.map(|s| keys::solution_revenue(&s.solution_id, at, &id));
    PostingItem {
        pk: key.pk,
        sk: key.sk,
        gsi1pk: ledger.pk,
        gsi1sk: ledger.sk,
        gsi2pk: by_solution.as_ref().map(|k| k.0.clone()),
        gsi2sk: by_solution.map(|k| k.1),
        entity_type: "posting".into(),
        posting_id: id,
        source_id: source_id.into(),
        kind,
        partner_id: partner_id.into(),
        solution_id: solution.map(|s| s.solution_id.clone()),
        subscription_id: None,
        user_id: None,
        tier: None,
        provider: None,
        payment_id: None,
        currency: currency.into(),
        split,
        entries,
        commission_bp: rate,
        at: at.into(),
        period_start: None,
        period_end: None,
        first_payment: false,
        reversed: None,
        version: 0,
    }
}

const NOTHING: Split = Split { gross: 0, tax: 0, commission: 0, partner: 0 };

fn plus(a: Split, b: Split) -> Split {
    Split {
        gross: a.gross + b.gross,
        tax: a.tax + b.tax,
        commission: a.commission + b.commission,
        partner: a.partner + b.partner,
    }
}

fn minus(a: Split, b: Split) -> Split {
    Split {
        gross: a.gross - b.gross,
        tax: a.tax - b.tax,
        commission: a.commission - b.commission,
        partner: a.partner - b.partner,
    }
}

/// The source id of the posting that undoes a refund's reversal when the refund fails after it succeeded.
pub fn reinstatement_source(refund_id: &str) -> String {
    format!("{refund_id}/failed")
}

/// What one settling step did.
enum Step {
    Nothing,
    /// Posted; the payment's posting is now this.
    Posted(Box<PostingItem>),
    /// Another writer changed the payment's posting or the refund's status: read again.
    Raced,
}

/// Bring the ledger in line with the refunds of `payment_id` (idempotent; refunds and their payment may arrive
/// in any order): every succeeded refund's proportional part reversed once; a refund that failed after its
/// reversal was posted gets that reversal undone once (a reinstatement); pending refunds and refunds that
/// failed before succeeding post nothing. Each posting is one transaction with the payment posting's
/// `reversed` and `version` (conditional; read again on conflict). The number posted.
pub async fn settle_refunds(store: &Store, clock: &dyn Clock, payment_id: &str) -> Result<u32, ApiError> {
    let mut posted = 0;
    let mut races = 0;
    'read: loop {
        let (_, refunds) = store.payment_with_refunds(payment_id).await?;
        if refunds.is_empty() {
            return Ok(posted);
        }
        let Some(mut payment) = store.get_posting(payment_id).await? else {
            return Ok(posted); // not posted (yet): posting it settles the refunds
        };
        for refund in &refunds {
            let step = match refund.status {
                RefundStatus::Succeeded => reverse(store, clock, &payment, refund).await?,
                RefundStatus::Failed => reinstate(store, clock, &payment, refund).await?,
                RefundStatus::Pending => Step::Nothing,
            };
            match step {
                Step::Nothing => {}
                Step::Posted(next) => {
                    posted += 1;
                    payment = *next;
                }
                Step::Raced => {
                    races += 1;
                    if races > 8 {
                        tracing::warn!(payment_id, "refund settlement kept losing races");
                        return Err(ApiError::unavailable(1));
                    }
                    continue 'read;
                }
            }
        }
        return Ok(posted);
    }
}

/// The payment's posting with `reversed` moved to `reversed` (next version).
fn with_reversed(payment: &PostingItem, reversed: Split) -> PostingItem {
    let mut next = payment.clone();
    next.reversed = Some(reversed);
    next.version = payment.version + 1;
    next
}

/// A posting that follows a payment's (refunds and reinstatements), with the payment's facts.
async fn follow_up(
    store: &Store,
    payment: &PostingItem,
    source_id: &str,
    kind: PostingKind,
    part: Split,
    at: &str,
) -> Result<PostingItem, ApiError> {
    let solution = match &payment.solution_id {
        Some(s) => store.get_solution(s).await?,
        None => None,
    };
    let entries =
        if kind == PostingKind::Refund { split::refund_entries(&part) } else { split::payment_entries(&part) };
    let mut item = posting(
        source_id,
        kind,
        &payment.partner_id,
        solution.as_ref(),
        &payment.currency,
        part,
        entries,
        payment.commission_bp,
        at,
    );
    item.payment_id = Some(payment.source_id.clone());
    item.subscription_id.clone_from(&payment.subscription_id);
    item.user_id.clone_from(&payment.user_id);
    item.tier = payment.tier;
    item.provider = payment.provider;
    Ok(item)
}

async fn commit(store: &Store, items: Vec<TransactWriteItem>, next: PostingItem) -> Result<Step, ApiError> {
    match store.transact(items).await {
        Ok(()) => Ok(Step::Posted(Box::new(next))),
        Err(StoreError::Conditional { .. }) => Ok(Step::Raced),
        Err(e) => Err(e.into()),
    }
}

/// Reverse a succeeded refund's proportional part of the payment (once).
async fn reverse(
    store: &Store,
    clock: &dyn Clock,
    payment: &PostingItem,
    refund: &RefundItem,
) -> Result<Step, ApiError> {
    if store.get_posting(&refund.refund_id).await?.is_some() {
        return Ok(Step::Nothing);
    }
    let before = payment.reversed.unwrap_or(NOTHING);
    let part = split::split_refund(&payment.split, &before, refund.amount);
    let item = follow_up(store, payment, &refund.refund_id, PostingKind::Refund, part, &rfc3339(clock.now())).await?;
    let next = with_reversed(payment, plus(before, part));
    let items = vec![
        store.tx_put(&item, Some("attribute_not_exists(PK)"))?,
        store.tx_put_versioned(&next, Some(payment.version))?,
        store.tx_refund_succeeded(refund)?,
    ];
    let step = commit(store, items, next).await?;
    if matches!(step, Step::Posted(_)) {
        tracing::info!(payment_id = %payment.source_id, refund_id = %refund.refund_id, partner = part.partner, "refund reversed in the ledger");
    }
    Ok(step)
}

/// Undo the reversal of a refund that failed after it succeeded (once); nothing when none was posted.
async fn reinstate(
    store: &Store,
    clock: &dyn Clock,
    payment: &PostingItem,
    refund: &RefundItem,
) -> Result<Step, ApiError> {
    let Some(reversal) = store.get_posting(&refund.refund_id).await? else {
        return Ok(Step::Nothing); // failed before it was reversed: nothing to undo
    };
    let source = reinstatement_source(&refund.refund_id);
    if store.get_posting(&source).await?.is_some() {
        return Ok(Step::Nothing);
    }
    let part = reversal.split;
    let before = payment.reversed.unwrap_or(NOTHING);
    let item = follow_up(store, payment, &source, PostingKind::Reinstatement, part, &rfc3339(clock.now())).await?;
    let next = with_reversed(payment, minus(before, part));
    let items = vec![
        store.tx_put(&item, Some("attribute_not_exists(PK)"))?,
        store.tx_put_versioned(&next, Some(payment.version))?,
    ];
    let step = commit(store, items, next).await?;
    if matches!(step, Step::Posted(_)) {
        tracing::info!(payment_id = %payment.source_id, refund_id = %refund.refund_id, partner = part.partner, "failed refund reinstated in the ledger");
    }
    Ok(step)
}

// ---------------------------------------------------------------------------------------------------------------
// Reading: revenue, payouts, analytics facts
// ---------------------------------------------------------------------------------------------------------------

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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PayoutList {
    pub partner_id: String,
    pub statements: Vec<StatementItemView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatementItemView {
    pub statement_id: String,
    pub month: String,
    pub currency: String,
    pub opening: i64,
    pub earned: i64,
    pub reversed: i64,
    pub closing: i64,
    pub payout: i64,
    pub carried: i64,
    pub payments: u64,
    pub refunds: u64,
    pub payout_status: String,
    pub document_key: Option<String>,
    pub created_at: String,
}

impl From<&StatementItem> for StatementItemView {
    fn from(s: &StatementItem) -> Self {
        Self {
            statement_id: s.statement_id.clone(),
            month: s.month.clone(),
            currency: s.currency.clone(),
            opening: s.opening,
            earned: s.earned,
            reversed: s.reversed,
            closing: s.closing,
            payout: s.payout,
            carried: s.carried,
            payments: s.payments,
            refunds: s.refunds,
            payout_status: s.payout_status.clone(),
            document_key: s.document_key.clone(),
            created_at: s.created_at.clone(),
        }
    }
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

    /// Revenue of a partner for the days `from..=to` (India time; default: this month so far).
    pub async fn revenue(
        &self,
        partner_id: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<RevenueView, ApiError> {
        let today = self.clock.now().with_timezone(&INDIA).date_naive();
        let month_start = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
        let (from, to) = crate::partners::analytics::date_range(from.or(Some(&month_start.to_string())), to, today)
            .or_else(|_| crate::partners::analytics::date_range(from, to, today))?;
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

    /// A partner's statements (with their payouts), newest first.
    pub async fn payouts(&self, partner_id: &str, limit: i32, cursor: Option<&str>) -> Result<PayoutList, ApiError> {
        let (items, next_cursor) = self
            .store
            .gsi1_typed_page(keys::partner_statements_partition(partner_id), limit, cursor)
            .await?
            .map_err(|()| ApiError::field("cursor", "is not a cursor of this list"))?;
        let items: Vec<StatementItem> = items;
        let statements = items.iter().map(StatementItemView::from).collect();
        Ok(PayoutList { partner_id: partner_id.to_owned(), statements, next_cursor })
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

fn india_midnight(date: NaiveDate) -> DateTime<Utc> {
    INDIA
        .from_local_datetime(&date.and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map_or_else(|| date.and_time(chrono::NaiveTime::MIN).and_utc(), |t| t.with_timezone(&Utc))
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
                        fully_refunded,
                    })
                })
                .collect())
        })
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Monthly statements
// ---------------------------------------------------------------------------------------------------------------

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
    let key = keys::statement(partner_id, month, currency);
    let gsi = keys::partner_statements(partner_id, month, currency);
    StatementItem {
        pk: key.pk,
        sk: key.sk,
        gsi1pk: gsi.pk,
        gsi1sk: gsi.sk,
        entity_type: "statement".into(),
        statement_id: format!("stm_{partner_id}_{month}_{currency}"),
        partner_id: partner_id.into(),
        month: month.into(),
        currency: currency.into(),
        opening,
        earned,
        reversed,
        closing,
        payout,
        carried: closing - payout,
        payments,
        refunds,
        payout_status: "pending".into(),
        document_key: None,
        created_at: created_at.into(),
    }
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
        let mut partners = self.store.partners_by_status(crate::partners::STATUS_APPROVED).await?;
        partners.extend(self.store.partners_by_status(crate::partners::STATUS_SUSPENDED).await?);
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
    async fn record_statement(&self, s: &StatementItem) -> Result<bool, ApiError> {
        let mut items = vec![self.store.tx_put(s, Some("attribute_not_exists(PK)"))?];
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
            items.push(self.store.tx_put(&p, Some("attribute_not_exists(PK)"))?);
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
