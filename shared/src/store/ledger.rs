//! The partners' revenue ledger: postings (`keys::posting`, one per payment, refund, failed refund or
//! statement) and monthly statements (`keys::statement`). Range reads of a partner's ledger and statements are
//! in `partners.rs` (`gsi1_range`, `statements_of`).

use super::items::{PostingItem, RefundItem, StatementItem};
use super::{Store, StoreError, build_err, keys};
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem};

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
