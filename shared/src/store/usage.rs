//! Usage counters, idempotency records and outbox notifications in the store.
//!
//! The hot path is one conditional `UpdateItem` per tracked event: the condition compares the stored count
//! with a threshold computed in code (`used <= limit - quantity`), so concurrent calls can never grant more
//! than the limit and a refused call writes nothing. `ReturnValuesOnConditionCheckFailure` hands back the
//! current count with the refusal, so a 429 costs no extra read.

use super::outbox::NotificationItem;
use super::{Item, Store, StoreError, classify, from_item, keys, retention, to_item};
use crate::model::Tier;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnConsumedCapacity, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Prefix of the per-action count attributes of a usage counter (`action:<name>` = count).
pub const ACTION_ATTR_PREFIX: &str = "action:";
/// On an organization's counters: one attribute per member, the units that member counted.
pub const MEMBER_ATTR_PREFIX: &str = "member:";

/// A usage counter: one customer × solution × local day (or month). `used` is what counts against the quota
/// (an admin reset zeroes it); the `action:<name>` attributes count every granted unit by action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageCounterItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(default)]
    pub entity_type: String,
    #[serde(default)]
    pub customer_id: String,
    #[serde(default)]
    pub solution_id: String,
    /// `yyyy-mm-dd` (day counters) or `yyyy-mm` (month counters).
    #[serde(default)]
    pub period: String,
    #[serde(default)]
    pub used: u64,
    #[serde(default)]
    pub tier: Option<Tier>,
    /// The limit in force at the last write (`None` = unlimited).
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub expires_at: Option<i64>,
    #[serde(flatten)]
    pub other: std::collections::HashMap<String, serde_json::Value>,
}

impl UsageCounterItem {
    /// Units counted under this customer itself (not carried from an anonymous visitor).
    pub fn own_units(&self) -> u64 {
        let carried = self.other.get(CARRIED_ATTR).and_then(serde_json::Value::as_u64).unwrap_or(0);
        self.used.saturating_sub(carried)
    }

    /// Per-member counts (an organization's counters).
    pub fn members(&self) -> std::collections::BTreeMap<String, u64> {
        self.other
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(MEMBER_ATTR_PREFIX)?.to_owned(), v.as_u64()?)))
            .collect()
    }

    /// Per-action counts.
    pub fn actions(&self) -> std::collections::BTreeMap<String, u64> {
        self.other
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(ACTION_ATTR_PREFIX)?.to_owned(), v.as_u64()?)))
            .collect()
    }

    /// A copy of this counter under another customer (anonymous usage carried into a new account).
    pub fn carried_to(&self, customer_id: &str, tier: Tier) -> Self {
        let key = keys::usage_day(customer_id, &self.period, &self.solution_id);
        let mut other = self.other.clone();
        let index = keys::solution_usage(&self.solution_id, &self.period, customer_id);
        other.remove(keys::GSI1PK);
        other.remove(keys::GSI1SK);
        other.insert(keys::GSI4PK.to_owned(), serde_json::Value::String(index.pk));
        other.insert(keys::GSI4SK.to_owned(), serde_json::Value::String(index.sk));
        // The units came from the visitor's counter: analytics counts them there, once.
        other.insert(CARRIED_ATTR.to_owned(), serde_json::Value::from(self.used));
        Self { pk: key.pk, sk: key.sk, customer_id: customer_id.to_owned(), tier: Some(tier), other, ..self.clone() }
    }
}

/// On a counter carried into a new account: how many of its units were the visitor's.
pub const CARRIED_ATTR: &str = "carried";

/// The stored first answer of a usage event sent with an idempotency key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdempotencyItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    /// SHA-256 of what the request asked for (action, quantity): a key reused for a different request is refused.
    pub fingerprint: String,
    /// The answer, as JSON text.
    pub answer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
    pub created_at: String,
    pub expires_at: i64,
}

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
    /// On an organization's counter: the member whose event it is (their share is counted by the same
    /// request, under [`MEMBER_ATTR_PREFIX`]).
    pub member: Option<String>,
    /// A billing period's counter: the write also requires it not to be closed ([`CLOSED_ATTR`]: the billing
    /// run priced it), so nothing is counted into a period after its overage was billed.
    pub closable: bool,
}

/// On a billing period's counter: when the billing run closed it (epoch seconds) to price its overage.
pub const CLOSED_ATTR: &str = "closed_at";

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
    /// Counter `index` is a billing period's counter that was closed: count the event in the current period.
    Closed {
        index: usize,
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
    if let Some(member) = &spec.member {
        let at = update.find(" REMOVE").unwrap_or(update.len());
        update.insert_str(at, ", #member = if_not_exists(#member, :zero) + :q");
        names.insert("#member".to_owned(), format!("{MEMBER_ATTR_PREFIX}{member}"));
    }
    if spec.attested {
        let at = update.find(" REMOVE").unwrap_or(update.len());
        update.insert_str(at, ", #attested = :attested");
        names.insert("#attested".to_owned(), ATTESTED_ATTR.to_owned());
        values.insert(":attested".to_owned(), AttributeValue::Bool(true));
    }
    if let Some(index) = &spec.index {
        // GSI4 is keys only and the keys are written once (`if_not_exists`): later increments change nothing
        // the index holds, so they cost no index write (one write unit per event). A counter written before
        // GSI4 leaves GSI1 here (one GSI1 delete, once); removing the absent attributes afterwards is free.
        let at = update.find(" REMOVE").unwrap_or(update.len());
        update.insert_str(at, ", #g4pk = if_not_exists(#g4pk, :g4pk), #g4sk = if_not_exists(#g4sk, :g4sk)");
        names.insert("#g4pk".to_owned(), keys::GSI4PK.to_owned());
        names.insert("#g4sk".to_owned(), keys::GSI4SK.to_owned());
        values.insert(":g4pk".to_owned(), s(&index.pk));
        values.insert(":g4sk".to_owned(), s(&index.sk));
        names.insert("#g1pk".to_owned(), keys::GSI1PK.to_owned());
        names.insert("#g1sk".to_owned(), keys::GSI1SK.to_owned());
        match update.find(" REMOVE ") {
            Some(at) => update.insert_str(at + " REMOVE ".len(), "#g1pk, #g1sk, "),
            None => update.push_str(" REMOVE #g1pk, #g1sk"),
        }
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

    /// Count atomically across an idempotency record (when the caller sent a key) and one or more counters,
    /// each expected to hold a known count (optimistic concurrency: the caller learns the exact count of its
    /// own event).
    pub async fn count_usage_tx(
        &self,
        record: Option<&IdempotencyItem>,
        counters: &[(CounterSpec, u64)],
        action: &str,
        quantity: u64,
    ) -> Result<TxCounted, StoreError> {
        let mut items = Vec::with_capacity(counters.len() + 1);
        if let Some(record) = record {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(to_item(record)?))
                .condition_expression("attribute_not_exists(PK)")
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .build()
                .map_err(|e| StoreError::Other(e.to_string()))?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        for (spec, expected) in counters {
            let mut expr = counter_update(spec, action, quantity);
            expr.values.insert(":expected".to_owned(), n(*expected));
            let mut condition =
                if *expected == 0 { "(attribute_not_exists(#used) OR #used = :expected)" } else { "#used = :expected" }
                    .to_owned();
            if spec.closable {
                condition.push_str(" AND attribute_not_exists(#closed)");
                expr.names.insert("#closed".to_owned(), CLOSED_ATTR.to_owned());
            }
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
        // The record (when there is one) comes first, then the counters.
        let offset = usize::from(record.is_some());
        if let Some(first) = reasons.first().filter(|r| record.is_some() && failed(r)) {
            let stored = first.item().map(|i| from_item(i.clone())).transpose()?;
            return Ok(TxCounted::Duplicate(stored));
        }
        if let Some((index, r)) = reasons.iter().enumerate().skip(offset).find(|(_, r)| failed(r)) {
            if r.item().is_some_and(|i| i.contains_key(CLOSED_ATTR)) {
                return Ok(TxCounted::Closed { index: index - offset });
            }
            return Ok(TxCounted::Stale { index: index - offset, used: used_of(r.item()) });
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

    /// Close a billing period's counter (idempotent: a closed one stays closed at its first time) and return
    /// what it counted. After this no event is counted into it (`CounterSpec::closable`): its count is final.
    /// `expires_at`: when an unused period's (new) counter may go.
    pub async fn close_usage_period(
        &self,
        key: &keys::Key,
        at: i64,
        expires_at: i64,
    ) -> Result<UsageCounterItem, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key.to_map()))
            .update_expression(
                "SET #closed = if_not_exists(#closed, :at), #used = if_not_exists(#used, :zero), \
                 #exp = if_not_exists(#exp, :exp)",
            )
            .expression_attribute_names("#closed", CLOSED_ATTR)
            .expression_attribute_names("#used", "used")
            .expression_attribute_names("#exp", "expires_at")
            .expression_attribute_values(":exp", AttributeValue::N(expires_at.to_string()))
            .expression_attribute_values(":at", AttributeValue::N(at.to_string()))
            .expression_attribute_values(":zero", n(0))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(classify)?;
        let mut item = out.attributes.unwrap_or_default();
        item.entry("entity_type".to_owned()).or_insert_with(|| s("usage_counter"));
        from_item(item)
    }

    pub async fn get_counter(&self, key: &keys::Key, consistent: bool) -> Result<Option<UsageCounterItem>, StoreError> {
        self.get(key, consistent).await
    }

    pub async fn get_idempotency(&self, key: &keys::Key) -> Result<Option<IdempotencyItem>, StoreError> {
        self.get(key, true).await
    }

    /// A counter and an idempotency record, read consistently in one request.
    pub async fn counter_and_idempotency(
        &self,
        counter: &keys::Key,
        record: &keys::Key,
    ) -> Result<(Option<UsageCounterItem>, Option<IdempotencyItem>), StoreError> {
        let mut found = self.batch_get(&[counter.clone(), record.clone()], true).await?;
        let mut take = |k: &keys::Key| found.remove(&(k.pk.clone(), k.sk.clone()));
        let counter = take(counter).map(from_item).transpose()?;
        let record = take(record).map(from_item).transpose()?;
        Ok((counter, record))
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
        audit: &super::audit::AuditItem,
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
        let items = vec![TransactWriteItem::builder().update(update).build(), self.tx_put_audit(audit)?];
        self.transact(items).await
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

impl Store {
    /// Count one anonymous visitor of a solution who registered on `day` (`yyyy-mm-dd`), for the partner's
    /// analytics; part of the registration's transaction.
    pub fn tx_count_conversion(&self, solution_id: &str, day: &str) -> Result<TransactWriteItem, StoreError> {
        self.tx_update(
            &keys::solution_stats_day(solution_id, day),
            "ADD anonymous_to_registered :one SET entity_type = :et, expires_at = :exp",
            None,
            HashMap::from([
                (":one".to_owned(), AttributeValue::N("1".into())),
                (":et".to_owned(), AttributeValue::S("solution_stats".into())),
                (
                    ":exp".to_owned(),
                    AttributeValue::N(retention::after(day, retention::SOLUTION_STATS_DAYS)?.to_string()),
                ),
            ]),
        )
    }

    /// Anonymous visitors of a solution who registered, per day (`yyyy-mm-dd`), for days `from..=to`.
    pub async fn conversions_by_day(
        &self,
        solution_id: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let (lo, hi) = keys::solution_stats_range(from, to);
        let items = self.partition_range(&keys::solution_stats_partition(solution_id), &lo, &hi).await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let day = item.get("SK").and_then(|v| v.as_s().ok()).and_then(|sk| keys::solution_stats_day_of(sk))?;
                let n = item.get("anonymous_to_registered").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())?;
                Some((day.to_owned(), n))
            })
            .collect())
    }
}

/// A day counter still indexed for analytics the way it was before GSI4 (its entry under GSI1PK/GSI1SK): the
/// counter's key and that entry. Deployment 1 of the move to GSI4 (see `keys`) moves these; deployment 2
/// removes what reads and writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyUsageEntry {
    pub key: keys::Key,
    pub entry: keys::Gsi1,
}

impl Store {
    /// One page (at most `limit`) of a solution's day counters still indexed under GSI1 (written before
    /// GSI4), oldest day first from `after`, and where the next page starts (`None`: none left). Keys only.
    pub async fn legacy_usage_entries_page(
        &self,
        solution_id: &str,
        limit: i32,
        after: Option<Item>,
    ) -> Result<(Vec<LegacyUsageEntry>, Option<Item>), StoreError> {
        let out = self
            .gsi1_query(keys::solution_usage_partition(solution_id))
            .projection_expression("PK, SK, GSI1PK, GSI1SK")
            .limit(limit)
            .set_exclusive_start_key(after)
            .send()
            .await
            .map_err(classify)?;
        let entries = out
            .items
            .unwrap_or_default()
            .iter()
            .map(|i| LegacyUsageEntry {
                key: keys::Key { pk: super::string_attr(i, keys::PK), sk: super::string_attr(i, keys::SK) },
                entry: keys::Gsi1 { pk: super::string_attr(i, keys::GSI1PK), sk: super::string_attr(i, keys::GSI1SK) },
            })
            .collect();
        Ok((entries, out.last_evaluated_key.filter(|k| !k.is_empty())))
    }

    /// How many of a solution's day counters are still indexed under GSI1 (every page of a `COUNT` query).
    pub async fn count_legacy_usage_entries(&self, solution_id: &str) -> Result<u64, StoreError> {
        self.count_all(self.gsi1_query(keys::solution_usage_partition(solution_id))).await
    }

    /// Move a day counter's analytics entry from GSI1 to GSI4 (same key values): one `UpdateItem`, only while
    /// the counter still carries exactly that GSI1 entry. `false` (nothing written) when it does not: its
    /// next event moved it already, or it expired. Costs 3 write units for a counter under 1 KB (table, the
    /// GSI1 delete, the GSI4 put), once per counter.
    pub async fn move_usage_entry_to_gsi4(&self, legacy: &LegacyUsageEntry) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(legacy.key.to_map()))
            .update_expression("SET GSI4PK = :pk, GSI4SK = :sk REMOVE GSI1PK, GSI1SK")
            .condition_expression("GSI1PK = :pk AND GSI1SK = :sk")
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .expression_attribute_values(":pk", AttributeValue::S(legacy.entry.pk.clone()))
            .expression_attribute_values(":sk", AttributeValue::S(legacy.entry.sk.clone()))
            .send()
            .await
            .map_err(classify);
        super::applied(result)
    }
}

impl IdempotencyItem {
    /// The first answer to a usage event sent with an idempotency key (`keys::idempotency`).
    pub fn usage_event(
        key: &keys::Key,
        fingerprint: String,
        answer: String,
        metadata: Option<String>,
        created_at: String,
        expires_at: i64,
    ) -> Self {
        Self::of(key, "idempotency", fingerprint, answer, metadata, created_at, expires_at)
    }

    /// The first answer to an API request sent with an `Idempotency-Key` (`keys::request_idempotency`).
    pub fn request_record(
        key: &keys::Key,
        fingerprint: String,
        answer: String,
        created_at: String,
        expires_at: i64,
    ) -> Self {
        Self::of(key, "request_record", fingerprint, answer, None, created_at, expires_at)
    }

    fn of(
        key: &keys::Key,
        entity_type: &str,
        fingerprint: String,
        answer: String,
        metadata: Option<String>,
        created_at: String,
        expires_at: i64,
    ) -> Self {
        Self {
            pk: key.pk.clone(),
            sk: key.sk.clone(),
            entity_type: entity_type.into(),
            fingerprint,
            answer,
            metadata,
            created_at,
            expires_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::stored_shape::assert_stored;

    #[test]
    fn the_usage_family_is_stored_under_its_attribute_names() {
        let key = keys::usage_day("anon_1", "2026-04-15", "sol_1");
        let visitor = UsageCounterItem {
            pk: key.pk,
            sk: key.sk,
            entity_type: "usage_counter".into(),
            customer_id: "anon_1".into(),
            solution_id: "sol_1".into(),
            period: "2026-04-15".into(),
            used: 7,
            tier: Some(Tier::Anonymous),
            limit: Some(10),
            expires_at: Some(1_784_000_000),
            other: HashMap::from([(format!("{ACTION_ATTR_PREFIX}scan"), serde_json::Value::from(7))]),
        };
        let counter = visitor.carried_to("usr_1", Tier::Free);
        assert_eq!(counter.own_units(), 0);
        assert_stored(
            &counter,
            &keys::usage_day("usr_1", "2026-04-15", "sol_1"),
            "usage_counter",
            &[
                "PK",
                "SK",
                "GSI4PK",
                "GSI4SK",
                "entity_type",
                "customer_id",
                "solution_id",
                "period",
                "used",
                "tier",
                "limit",
                "expires_at",
                "action:scan",
                CARRIED_ATTR,
            ],
        );

        let key = keys::idempotency("usr_1", "sol_1", "ab12");
        let record = IdempotencyItem {
            pk: key.pk.clone(),
            sk: key.sk.clone(),
            entity_type: "idempotency".into(),
            fingerprint: "cd34".into(),
            answer: "{\"allowed\":true}".into(),
            metadata: Some("{\"page\":1}".into()),
            created_at: "2026-04-15T10:00:00Z".into(),
            expires_at: 1_776_336_400,
        };
        assert_stored(
            &record,
            &key,
            "idempotency",
            &["PK", "SK", "entity_type", "fingerprint", "answer", "metadata", "created_at", "expires_at"],
        );
    }
}
