//! The partners' revenue ledger: postings (`keys::posting`, one per payment, refund, failed refund or
//! statement) and monthly statements (`keys::statement`). Range reads of a partner's ledger and statements are
//! in `partners.rs` (`gsi1_range`, `statements_of`).

use super::subscriptions::RefundItem;
use super::{Store, StoreError, build_err, keys};
use crate::model::Tier;
use crate::money::split::{Entry, Split};
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem};
use serde::{Deserialize, Serialize};

/// What a revenue posting records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostingKind {
    /// A captured payment: cash in; GST, commission and the partner's earnings owed.
    Payment,
    /// A refund: the reverse of its proportional part of the payment.
    Refund,
    /// A monthly payout to the partner: what it was owed, paid out.
    Payout,
    /// A refund that failed after its reversal was posted: that reversal undone (the payment's direction).
    Reinstatement,
}

/// A revenue posting: balanced ledger entries for one payment, refund or payout (posted once: keyed by it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostingItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    /// The partner's ledger (`keys::partner_ledger`).
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    /// The solution's revenue (`keys::solution_revenue`), payments and refunds only.
    #[serde(rename = "GSI2PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi2pk: Option<String>,
    #[serde(rename = "GSI2SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi2sk: Option<String>,
    pub entity_type: String,
    pub posting_id: String,
    /// The payment, refund or statement posted.
    pub source_id: String,
    pub kind: PostingKind,
    pub partner_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solution_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<crate::model::Provider>,
    /// Refunds: the payment they reverse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    pub currency: String,
    /// The parts (never negative; `kind` gives the direction).
    pub split: crate::money::split::Split,
    pub entries: Vec<crate::money::split::Entry>,
    pub commission_bp: u32,
    /// When it was posted (RFC 3339): statements take postings by this time.
    pub at: String,
    /// Payments: the paid period (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_start: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_end: Option<i64>,
    /// Payments: the first paid period of a subscription (a free → paid conversion).
    #[serde(default)]
    pub first_payment: bool,
    /// Payments: the part that paid a billing period's overage (included in `split`, split at the same rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overage: Option<crate::money::split::Split>,
    /// Payments: what refunds have reversed so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reversed: Option<crate::money::split::Split>,
    #[serde(default)]
    pub version: u64,
}

/// A partner's monthly statement in one currency, with its payout (rerun-safe: one per month and currency).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatementItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub entity_type: String,
    pub statement_id: String,
    pub partner_id: String,
    /// `yyyy-mm` (India time).
    pub month: String,
    pub currency: String,
    /// The balance carried in from the previous statement (negative: refunds exceeded earnings).
    pub opening: i64,
    /// The partner's share of payments posted since the previous statement (normally: the month).
    pub earned: i64,
    /// The partner's share of refunds posted since the previous statement, net of reinstatements.
    pub reversed: i64,
    /// `opening + earned − reversed`.
    pub closing: i64,
    /// What is paid out: the closing balance when positive, else nothing.
    pub payout: i64,
    /// What carries into the next month (`closing − payout`, zero or negative).
    pub carried: i64,
    pub payments: u64,
    pub refunds: u64,
    /// `pending` until an operator confirms the transfer.
    pub payout_status: String,
    /// The statement document in S3, once written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_key: Option<String>,
    pub created_at: String,
}

impl PostingItem {
    /// A posting of `source_id` (a payment, refund, reinstatement or payout) to a partner's ledger, and to its
    /// solution's revenue index when it has one.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        source_id: &str,
        posting_id: String,
        kind: PostingKind,
        partner_id: &str,
        solution_id: Option<&str>,
        currency: &str,
        split: Split,
        entries: Vec<Entry>,
        rate: u32,
        at: &str,
    ) -> Self {
        let key = keys::posting(source_id);
        let ledger = keys::partner_ledger(partner_id, at, &posting_id);
        let by_solution = solution_id.map(|s| keys::solution_revenue(s, at, &posting_id));
        Self {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: ledger.pk,
            gsi1sk: ledger.sk,
            gsi2pk: by_solution.as_ref().map(|k| k.0.clone()),
            gsi2sk: by_solution.map(|k| k.1),
            entity_type: "posting".into(),
            posting_id,
            source_id: source_id.into(),
            kind,
            partner_id: partner_id.into(),
            solution_id: solution_id.map(str::to_owned),
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
            overage: None,
            reversed: None,
            version: 0,
        }
    }
}

/// The figures of a monthly statement (minor units), as the ledger computes them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatementFigures {
    pub opening: i64,
    pub earned: i64,
    pub reversed: i64,
    pub closing: i64,
    pub payout: i64,
    pub payments: u64,
    pub refunds: u64,
}

impl StatementItem {
    /// The statement of a partner, month (`yyyy-mm`) and currency, its payout pending; what carries into the
    /// next month is `closing − payout`.
    pub fn new(partner_id: &str, month: &str, currency: &str, figures: StatementFigures, created_at: &str) -> Self {
        let key = keys::statement(partner_id, month, currency);
        let gsi = keys::partner_statements(partner_id, month, currency);
        let StatementFigures { opening, earned, reversed, closing, payout, payments, refunds } = figures;
        Self {
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
}

impl Store {
    /// The posting of a payment, refund or statement (strongly consistent).
    pub async fn get_posting(&self, source_id: &str) -> Result<Option<PostingItem>, StoreError> {
        self.get(&keys::posting(source_id), true).await
    }

    /// A statement (strongly consistent).
    pub async fn get_statement(
        &self,
        partner_id: &str,
        month: &str,
        currency: &str,
    ) -> Result<Option<StatementItem>, StoreError> {
        self.get(&keys::statement(partner_id, month, currency), true).await
    }

    /// A transaction condition: the refund is (still) succeeded (items without a status are succeeded
    /// refunds), so a reversal is never posted for a refund that failed meanwhile.
    pub fn tx_refund_succeeded(&self, refund: &RefundItem) -> Result<TransactWriteItem, StoreError> {
        let key = keys::Key { pk: refund.pk.clone(), sk: refund.sk.clone() };
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key.to_map()))
            .condition_expression("attribute_exists(PK) AND (attribute_not_exists(#status) OR #status = :succeeded)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":succeeded", AttributeValue::S("succeeded".into()))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// Record where a statement's document is (idempotent).
    pub async fn set_statement_document(
        &self,
        partner_id: &str,
        month: &str,
        currency: &str,
        document_key: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::statement(partner_id, month, currency).to_map()))
            .update_expression("SET document_key = :k")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":k", AttributeValue::S(document_key.to_owned()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => Err(super::classify(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Provider;
    use crate::money::split::{Entry, Split};
    use crate::store::stored_shape::assert_stored;

    const AT: &str = "2026-04-15T10:00:00Z";

    #[test]
    fn the_ledger_family_is_stored_under_its_attribute_names() {
        let key = keys::posting("pay_1");
        let ledger = keys::partner_ledger("prt_1", AT, "pst_1");
        let revenue = keys::solution_revenue("sol_1", AT, "pst_1");
        let split = Split { gross: 11_800, tax: 1_800, commission: 2_000, partner: 8_000 };
        let posting = PostingItem {
            pk: key.pk.clone(),
            sk: key.sk.clone(),
            gsi1pk: ledger.pk,
            gsi1sk: ledger.sk,
            gsi2pk: Some(revenue.0),
            gsi2sk: Some(revenue.1),
            entity_type: "posting".into(),
            posting_id: "pst_1".into(),
            source_id: "pay_1".into(),
            kind: PostingKind::Payment,
            partner_id: "prt_1".into(),
            solution_id: Some("sol_1".into()),
            subscription_id: Some("sub_1".into()),
            user_id: Some("usr_1".into()),
            tier: Some(Tier::Pro),
            provider: Some(Provider::Stripe),
            payment_id: Some("pay_1".into()),
            currency: "inr".into(),
            split,
            entries: vec![Entry { account: crate::money::split::Account::Cash, debit: 11_800, credit: 0 }],
            commission_bp: 2_000,
            at: AT.into(),
            period_start: Some(1_776_250_000),
            period_end: Some(1_778_842_000),
            first_payment: true,
            overage: None,
            reversed: Some(Split { gross: 0, tax: 0, commission: 0, partner: 0 }),
            version: 1,
        };
        assert_stored(
            &posting,
            &key,
            "posting",
            &[
                "PK",
                "SK",
                "GSI1PK",
                "GSI1SK",
                "GSI2PK",
                "GSI2SK",
                "entity_type",
                "posting_id",
                "source_id",
                "kind",
                "partner_id",
                "solution_id",
                "subscription_id",
                "user_id",
                "tier",
                "provider",
                "payment_id",
                "currency",
                "split",
                "entries",
                "commission_bp",
                "at",
                "period_start",
                "period_end",
                "first_payment",
                "reversed",
                "version",
            ],
        );

        let key = keys::statement("prt_1", "2026-04", "inr");
        let index = keys::partner_statements("prt_1", "2026-04", "inr");
        let statement = StatementItem {
            pk: key.pk.clone(),
            sk: key.sk.clone(),
            gsi1pk: index.pk,
            gsi1sk: index.sk,
            entity_type: "statement".into(),
            statement_id: "stm_prt_1_2026-04_inr".into(),
            partner_id: "prt_1".into(),
            month: "2026-04".into(),
            currency: "inr".into(),
            opening: -500,
            earned: 8_000,
            reversed: 1_000,
            closing: 6_500,
            payout: 6_500,
            carried: 0,
            payments: 1,
            refunds: 1,
            payout_status: "pending".into(),
            document_key: Some("statements/prt_1/2026-04-inr.pdf".into()),
            created_at: AT.into(),
        };
        assert_stored(
            &statement,
            &key,
            "statement",
            &[
                "PK",
                "SK",
                "GSI1PK",
                "GSI1SK",
                "entity_type",
                "statement_id",
                "partner_id",
                "month",
                "currency",
                "opening",
                "earned",
                "reversed",
                "closing",
                "payout",
                "carried",
                "payments",
                "refunds",
                "payout_status",
                "document_key",
                "created_at",
            ],
        );
    }
}
