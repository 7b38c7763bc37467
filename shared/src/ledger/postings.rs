//! Posting payments and refunds: a captured payment's balanced entries (written in the transaction that records
//! the payment), and the settling of its refunds (each succeeded refund's proportional part reversed once, a
//! refund that failed after it succeeded reinstated once), whatever order their events arrive in.

use super::{posting, rfc3339};
use crate::model::RefundStatus;
use crate::model::Tier;
use crate::money::split::{self, DEFAULT_COMMISSION_BP, Split};
use crate::platform::clock::Clock;
use crate::platform::error::ApiError;
use crate::store::ledger::{PostingItem, PostingKind};
use crate::store::partners::PartnerItem;
use crate::store::subscriptions::{PaymentItem, RefundItem};
use crate::store::{Store, StoreError, keys};
use aws_sdk_dynamodb::types::TransactWriteItem;

/// What a payment's posting needs beyond the payment itself.
#[derive(Debug, Clone, Default)]
pub struct PaymentFacts {
    /// The GST in the payment (from its tax invoice; else the inclusive split of an INR amount).
    pub tax: Option<i64>,
    pub tier: Option<Tier>,
    pub period: Option<(i64, i64)>,
    /// The subscription's first paid period (free → paid).
    pub first_payment: bool,
    /// The part of the payment that pays a billing period's overage (tax-inclusive, minor units).
    pub overage: Option<i64>,
}

/// The GST in a tax-inclusive amount (18% of INR; exports are zero-rated).
pub fn inclusive_tax(amount: i64, currency: &str) -> i64 {
    let t = crate::gst::split_inclusive(amount, currency, "", "");
    t.cgst + t.sgst + t.igst
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
    // Overage is revenue like the rest, at the same commission: its part, split the same way (its tax the
    // same share of the payment's tax as its amount is of the payment).
    item.overage = facts.overage.filter(|o| *o > 0 && payment.amount > 0).map(|o| {
        let o = o.min(payment.amount);
        split::split_payment(o, split::mul_div_round(tax, o, payment.amount), rate)
    });
    item.reversed = Some(Split { gross: 0, tax: 0, commission: 0, partner: 0 });
    let mut out = vec![store.tx_put_new(&item)?];
    if facts.first_payment {
        out.push(store.tx_count_subscriber(solution_id)?);
    }
    Ok(out)
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
        store.tx_put_new(&item)?,
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
    let items = vec![store.tx_put_new(&item)?, store.tx_put_versioned(&next, Some(payment.version))?];
    let step = commit(store, items, next).await?;
    if matches!(step, Step::Posted(_)) {
        tracing::info!(payment_id = %payment.source_id, refund_id = %refund.refund_id, partner = part.partner, "failed refund reinstated in the ledger");
    }
    Ok(step)
}
