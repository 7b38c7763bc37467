//! A partner's payouts: its monthly statements (each with the payout of its closing balance), newest first.

use super::PartnerLedger;
use crate::platform::error::ApiError;
use crate::store::keys;
use crate::store::ledger::StatementItem;
use serde::{Deserialize, Serialize};

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

impl PartnerLedger {
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
}
