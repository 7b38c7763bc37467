//! What the daily reconciliation reads: PhonePe orders and refunds whose outcome we do not know yet.

use super::invoices::PhonePeOrderItem;
use super::subscriptions::RefundItem;
use super::{Item, Store, StoreError, classify, from_item, keys};
use aws_sdk_dynamodb::types::AttributeValue;

/// A PhonePe object still open.
#[derive(Debug, Clone)]
pub enum OpenAtPhonePe {
    Order(PhonePeOrderItem),
    Refund(RefundItem),
}

impl Store {
    /// One page of PhonePe orders and refunds not final yet, oldest first within each kind.
    pub async fn phonepe_open(
        &self,
        limit: i32,
        after: Option<Item>,
    ) -> Result<(Vec<OpenAtPhonePe>, Option<Item>), StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI2)
            .key_condition_expression("GSI2PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(keys::PHONEPE_OPEN.to_owned()))
            .limit(limit)
            .set_exclusive_start_key(after)
            .send()
            .await
            .map_err(classify)?;
        let mut items = Vec::new();
        for item in out.items.unwrap_or_default() {
            let kind = item.get("entity_type").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            match kind.as_str() {
                "phonepe_order" => items.push(OpenAtPhonePe::Order(from_item(item)?)),
                "refund" => items.push(OpenAtPhonePe::Refund(from_item(item)?)),
                _ => {}
            }
        }
        Ok((items, out.last_evaluated_key))
    }
}
