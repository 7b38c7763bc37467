//! Usage counters, idempotency records, quota-reset audits and outbox notifications in the store.
//!
//! The hot path is one conditional `UpdateItem` per tracked event: the condition compares the stored count
//! with a threshold computed in code (`used <= limit - quantity`), so concurrent calls can never grant more
//! than the limit and a refused call writes nothing. `ReturnValuesOnConditionCheckFailure` hands back the
//! current count with the refusal, so a 429 costs no extra read.

use super::items::{ACTION_ATTR_PREFIX, IdempotencyItem, NotificationItem, QuotaResetAuditItem, UsageCounterItem};
use super::{Item, Store, StoreError, classify, from_item, keys, to_item};
use crate::model::Tier;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnConsumedCapacity, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use std::collections::HashMap;

/// A counter to write: where, for whom, and under which limit.
#[derive(Debug, Clone)]
pub struct CounterSpec {
    pub key: keys::Key,
    pub customer_id: String,
    pub solution_id: String,
    /// `yyyy-mm-dd` or `yyyy-mm`.
    pub period: String,
    pub tier: Tier,
    /// `None` = unlimited.
    pub limit: Option<u64>,
    pub expires_at: i64,
    /// The analytics index entry (day counters: `keys::solution_usage`), written by the same request.
    pub index: Option<keys::Gsi1>,
    /// An event the solution's partner tracked (with its API key): the counter is marked
    /// [`ATTESTED_ATTR`] by the same request (reviews count such days).
    pub attested: bool,
}

/// On a day counter: some event of the day was tracked by the solution's partner, not only by the user.
pub const ATTESTED_ATTR: &str = "attested";

/// Result of a plain conditional count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// Granted; the count after this event.
    Applied { used: u64 },
    /// Refused; nothing written; the current count.
    Refused { used: u64 },
}

/// Result of a transactional (idempotent and/or monthly-limited) count.
#[derive(Debug)]
pub enum TxCounted {
    Applied,
    /// The idempotency key exists: the stored record (None if it could not be returned).
    Duplicate(Option<IdempotencyItem>),
    /// Counter `index` (0-based among the counters) did not hold the expected count; its current count.
    Stale {
        index: usize,
        used: u64,
    },
    /// Another transaction touched the same items; retry.
    Conflict,
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn used_of(item: Option<&Item>) -> u64 {
    item.and_then(|i| i.get("used")).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).unwrap_or(0)
}

struct Expr {
    update: String,
    names: HashMap<String, String>,
    values: Item,
}

/// `SET used += q, action:<a> += q, descriptive attributes`; the limit is recorded for history.
fn counter_update(spec: &CounterSpec, action: &str, quantity: u64) -> Expr {
    let mut names = HashMap::from([
        ("#used".to_owned(), "used".to_owned()),
        ("#act".to_owned(), format!("{ACTION_ATTR_PREFIX}{action}")),
        ("#et".to_owned(), "entity_type".to_owned()),
        ("#cust".to_owned(), "customer_id".to_owned()),
        ("#sol".to_owned(), "solution_id".to_owned()),
        ("#period".to_owned(), "period".to_owned()),
        ("#tier".to_owned(), "tier".to_owned()),
        ("#exp".to_owned(), "expires_at".to_owned()),
    ]);
    let mut values: Item = HashMap::from([
        (":zero".to_owned(), n(0)),
        (":q".to_owned(), n(quantity)),
        (":et".to_owned(), s("usage_counter")),
        (":cust".to_owned(), s(&spec.customer_id)),
        (":sol".to_owned(), s(&spec.solution_id)),
        (":period".to_owned(), s(&spec.period)),
        (":tier".to_owned(), s(spec.tier.as_str())),
        (":exp".to_owned(), AttributeValue::N(spec.expires_at.to_string())),
    ]);
    let mut update = "SET #used = if_not_exists(#used, :zero) + :q, #act = if_not_exists(#act, :zero) + :q, \
                      #et = :et, #cust = :cust, #sol = :sol, #period = :period, #tier = :tier, #exp = :exp"
        .to_owned();
    names.insert("#limit".to_owned(), "limit".to_owned());
    match spec.limit {
        Some(limit) => {
            update.push_str(", #limit = :limit");
            values.insert(":limit".to_owned(), n(limit));
        }
        None => update.push_str(" REMOVE #limit"),
    }
    if spec.attested {
        let at = update.find(" REMOVE").unwrap_or(update.len());
        update.insert_str(at, ", #attested = :attested");
        names.insert("#attested".to_owned(), ATTESTED_ATTR.to_owned());
        values.insert(":attested".to_owned(), AttributeValue::Bool(true));
    }
    if let Some(index) = &spec.index {
        let at = update.find(" REMOVE").unwrap_or(update.len());
        update.insert_str(at, ", #g1pk = :g1pk, #g1sk = :g1sk");
        names.insert("#g1pk".to_owned(), keys::GSI1PK.to_owned());
        names.insert("#g1sk".to_owned(), keys::GSI1SK.to_owned());
        values.insert(":g1pk".to_owned(), s(&index.pk));
        values.insert(":g1sk".to_owned(), s(&index.sk));
    }
    Expr { update, names, values }
}

impl Store {
    /// Count `quantity` units against `spec.limit` with one conditional `UpdateItem`.
    pub async fn count_usage(&self, spec: &CounterSpec, action: &str, quantity: u64) -> Result<Counted, StoreError> {
        let mut expr = counter_update(spec, action, quantity);
        let condition = match spec.limit {
            None => None,
            Some(limit) if quantity > limit => Some("#used < :zero".to_owned()),
            Some(limit) => {
                expr.values.insert(":room".to_owned(), n(limit - quantity));
                Some("attribute_not_exists(#used) OR #used <= :room".to_owned())
            }
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(spec.key.to_map()))
            .update_expression(expr.update)
            .set_condition_expression(condition)
            .set_expression_attribute_names(Some(expr.names))
            .set_expression_attribute_values(Some(expr.values))
            .return_values(ReturnValue::UpdatedNew)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Counted::Applied { used: used_of(out.attributes.as_ref()) }),
            Err(SdkError::ServiceError(se))
                if matches!(se.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                let used = match se.err() {
                    UpdateItemError::ConditionalCheckFailedException(c) => used_of(c.item()),
                    _ => 0,
                };
                Ok(Counted::Refused { used })
            }
            Err(e) => Err(classify(e)),
        }
    }

    /// Count atomically across an idempotency record and one or more counters, each expected to hold a known
    /// count (optimistic concurrency: the caller learns the exact count of its own event).
    pub async fn count_usage_tx(
        &self,
        record: &IdempotencyItem,
        counters: &[(CounterSpec, u64)],
        action: &str,
        quantity: u64,
    ) -> Result<TxCounted, StoreError> {
        let mut items = Vec::with_capacity(counters.len() + 1);
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(record)?))
            .condition_expression("attribute_not_exists(PK)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        items.push(TransactWriteItem::builder().put(put).build());
        for (spec, expected) in counters {
            let mut expr = counter_update(spec, action, quantity);
            expr.values.insert(":expected".to_owned(), n(*expected));
            let condition =
                if *expected == 0 { "attribute_not_exists(#used) OR #used = :expected" } else { "#used = :expected" };
            let update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(spec.key.to_map()))
                .update_expression(expr.update)
                .condition_expression(condition)
                .set_expression_attribute_names(Some(expr.names))
                .set_expression_attribute_values(Some(expr.values))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .build()
                .map_err(|e| StoreError::Other(e.to_string()))?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(TxCounted::Applied),
            Err(e) => e,
        };
        let reasons = match &err {
            SdkError::ServiceError(se) => match se.err() {
                TransactWriteItemsError::TransactionCanceledException(c) => c.cancellation_reasons().to_vec(),
                _ => return Err(classify(err)),
            },
            _ => return Err(classify(err)),
        };
        let failed = |r: &aws_sdk_dynamodb::types::CancellationReason| r.code() == Some("ConditionalCheckFailed");
        if let Some(first) = reasons.first().filter(|r| failed(r)) {
            let stored = first.item().map(|i| from_item(i.clone())).transpose()?;
            return Ok(TxCounted::Duplicate(stored));
        }
        if let Some((index, r)) = reasons.iter().enumerate().skip(1).find(|(_, r)| failed(r)) {
            return Ok(TxCounted::Stale { index: index - 1, used: used_of(r.item()) });
        }
        let retriable = reasons.iter().any(|r| {
            matches!(r.code(), Some("TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded"))
        });
        if retriable {
            Ok(TxCounted::Conflict)
        } else {
            Err(StoreError::Other(format!(
                "usage transaction canceled: {:?}",
                reasons.iter().map(|r| r.code().unwrap_or("None")).collect::<Vec<_>>()
            )))
        }
    }

    pub async fn get_counter(&self, key: &keys::Key, consistent: bool) -> Result<Option<UsageCounterItem>, StoreError> {
        self.get(key, consistent).await
    }

    pub async fn get_idempotency(&self, key: &keys::Key) -> Result<Option<IdempotencyItem>, StoreError> {
        self.get(key, true).await
    }

    /// A customer's day counters between two dates (inclusive), oldest first.
    pub async fn usage_days(
        &self,
        customer_id: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<UsageCounterItem>, StoreError> {
        let (lo, hi) = keys::usage_day_range(from, to);
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND SK BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", s(&keys::usage_partition(customer_id)))
            .expression_attribute_values(":lo", s(&lo))
            .expression_attribute_values(":hi", s(&hi));
        self.query_all(q).await?.into_iter().map(from_item).collect()
    }

    /// Zero a day counter that holds `expected` and write the audit record, atomically.
    /// `Conditional { index: Some(0) }` means the count moved meanwhile.
    pub async fn reset_counter(
        &self,
        key: &keys::Key,
        expected: u64,
        audit: &QuotaResetAuditItem,
    ) -> Result<(), StoreError> {
        let values: Item = HashMap::from([(":zero".to_owned(), n(0)), (":expected".to_owned(), n(expected))]);
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key.to_map()))
            .update_expression("SET #used = :zero")
            .condition_expression("attribute_exists(#used) AND #used = :expected")
            .expression_attribute_names("#used", "used")
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let items = vec![
            TransactWriteItem::builder().update(update).build(),
            self.tx_put(audit, Some("attribute_not_exists(PK)"))?,
        ];
        self.transact(items).await
    }

    /// Audit records of quota resets for a customer × solution, newest first.
    pub async fn quota_resets(
        &self,
        customer_id: &str,
        solution_id: &str,
    ) -> Result<Vec<QuotaResetAuditItem>, StoreError> {
        let pk = keys::quota_audit(customer_id, solution_id, "", "").pk;
        self.query_partition(&pk, None).await?.into_iter().rev().map(from_item).collect()
    }

    /// Record a notification unless one with the same id exists. True when this call created it.
    pub async fn put_notification_once(&self, item: &NotificationItem) -> Result<bool, StoreError> {
        match self.put(item, Some("attribute_not_exists(PK)")).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conditional { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
