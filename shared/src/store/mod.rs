//! The single-table store: a thin adapter over DynamoDB. Items are (de)serialized with `serde_dynamo`; keys
//! come only from [`keys`]. Each entity family has one module holding its stored items (one struct per entity,
//! with its `entity_type` discriminator; constructors fill the keys from [`keys`]) and its operations:
//!
//! - `users.rs` → `UserItem`, `EmailItem` (the email uniqueness guard)
//! - `verification.rs` → `EmailVerificationItem`, `VerificationSendsItem`
//! - `tokens.rs` → `FamilyItem`, `RefreshItem`, `TokenItem`
//! - `throttle.rs` → `LoginThrottleItem` (and the per-client request windows)
//! - `solutions.rs` → `SolutionItem`, `TierDefinitionItem`, `EntitlementItem`, `SolutionHoldItem`
//! - `partners.rs` → `PartnerItem`, `PartnerLinkItem`, `ApiKeyItem`
//! - `audit.rs` → `AuditItem` (every recorded event; older shapes read as it)
//! - `reviews.rs` → `ReviewItem` (and the review-eligibility reads)
//! - `usage.rs` → `UsageCounterItem`, `IdempotencyItem`
//! - `outbox.rs` → `NotificationItem`
//! - `subscriptions/` → `SubscriptionItem` (with `SubscriptionHold`), `ProviderRefItem`, `CheckoutSlotItem`,
//!   `ProviderCustomerItem`, `PaymentItem`, `RefundItem`, `WebhookEventItem`
//! - `invoices.rs` → `InvoiceItem`, `InvoiceCounterItem`, `PhonePeOrderItem`
//! - `ledger.rs` → `PostingItem`, `StatementItem`
//! - `reconcile.rs` → no items (reads the open PhonePe orders and refunds)

pub mod audit;
pub mod invoices;
pub mod keys;
pub mod ledger;
pub mod orgs;
pub mod outbox;
pub mod partners;
pub mod privacy;
mod reconcile;
pub mod retention;
pub mod reviews;
pub mod solutions;
pub mod subscriptions;
pub mod throttle;
pub mod tokens;
pub mod usage;
pub mod users;
pub mod verification;

pub use invoices::{InvoicePage, Issued};
pub use outbox::Failed;
pub use reconcile::OpenAtPhonePe;
pub use subscriptions::{Claim, HistoryItem, HistoryPage, RefundChange, SubscriptionPage};
pub use tokens::RotateError;
pub use usage::{ATTESTED_ATTR, Counted, CounterSpec, TxCounted};
pub use verification::SendCount;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, KeysAndAttributes, Put, TransactWriteItem, Update};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

/// The condition of a first write: no item has this key yet.
const NEW_ITEM: &str = "attribute_not_exists(PK)";
/// The condition of a replacement: the item exists.
const EXISTING_ITEM: &str = "attribute_exists(PK)";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition failed: for a single write `index` is `None`; for a transaction it is the position of the
    /// first item whose condition failed.
    #[error("condition failed (item {index:?})")]
    Conditional { index: Option<usize> },
    /// Throttling, a timeout or a dispatch failure: the caller may retry.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("item (de)serialization failed: {0}")]
    Serde(String),
    #[error("store error: {0}")]
    Other(String),
}

impl From<StoreError> for crate::ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(reason) => {
                tracing::warn!(%reason, "store unavailable");
                crate::ApiError::unavailable(1)
            }
            other => crate::ApiError::internal(other),
        }
    }
}

impl From<serde_dynamo::Error> for StoreError {
    fn from(e: serde_dynamo::Error) -> Self {
        Self::Serde(e.to_string())
    }
}

const THROTTLING: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
    "InternalServerError",
    "ServiceUnavailable",
];

/// Map an SDK error to a store error.
pub(crate) fn classify<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            if code == "ConditionalCheckFailedException" {
                StoreError::Conditional { index: None }
            } else if THROTTLING.contains(&code) {
                StoreError::Unavailable(code.to_owned())
            } else {
                StoreError::Other(aws_sdk_dynamodb::error::DisplayErrorContext(&err).to_string())
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(&err).to_string())
        }
        _ => StoreError::Other(aws_sdk_dynamodb::error::DisplayErrorContext(&err).to_string()),
    }
}

pub(crate) fn build_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("request build: {e}"))
}

/// Serialize an item.
pub fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    Ok(serde_dynamo::to_item(value)?)
}

/// Deserialize an item.
pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    Ok(serde_dynamo::from_item(item)?)
}

/// The DynamoDB adapter. Cheap to clone (the SDK client is an `Arc` inside).
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Every page of a query (`query` is the request without a start key).
    pub(crate) async fn query_all(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = query.clone().set_exclusive_start_key(start.take()).send().await.map_err(classify)?;
            out.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    /// How many items a query matches (after its filter), every page (`query` is the request without a start
    /// key; it is sent with `Select::Count`).
    pub(crate) async fn count_all(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<u64, StoreError> {
        let query = query.select(aws_sdk_dynamodb::types::Select::Count);
        let mut count = 0u64;
        let mut start: Option<Item> = None;
        loop {
            let page = query.clone().set_exclusive_start_key(start.take()).send().await.map_err(classify)?;
            count += u64::try_from(page.count).unwrap_or(0);
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(count),
            }
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, key: &keys::Key, consistent: bool) -> Result<Option<T>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key.to_map()))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(classify)?;
        out.item.map(from_item).transpose()
    }

    /// One page of a GSI1 partition, newest first, after `after` (a cursor of this partition; `Err(())` for
    /// any other): the items and the next cursor.
    pub(crate) async fn gsi1_page(
        &self,
        partition: String,
        limit: i32,
        after: Option<&str>,
    ) -> Result<Result<(Vec<Item>, Option<String>), ()>, StoreError> {
        let Ok(start) = cursor::start(after, &partition) else {
            return Ok(Err(()));
        };
        let out = self.gsi1_newest_first(partition, limit, start).send().await.map_err(classify)?;
        Ok(Ok((out.items.unwrap_or_default(), cursor::encode(out.last_evaluated_key.as_ref()))))
    }

    /// The query of a GSI1 partition (every item of it, oldest first), to narrow or send as it is.
    pub(crate) fn gsi1_query(
        &self,
        partition: String,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("GSI1PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(partition))
    }

    /// The query of at most `limit` items of a GSI1 partition, newest first, from `start` (an
    /// `ExclusiveStartKey`), to send as it is or with a filter.
    pub(crate) fn gsi1_newest_first(
        &self,
        partition: String,
        limit: i32,
        start: Option<Item>,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.gsi1_query(partition).scan_index_forward(false).limit(limit).set_exclusive_start_key(start)
    }

    /// Put an item, optionally under a condition expression.
    pub async fn put<T: Serialize>(&self, item: &T, condition: Option<&str>) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(item)?))
            .set_condition_expression(condition.map(str::to_owned))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// One `BatchGetItem` round trip for up to 100 keys (unprocessed keys are retried). Returns the items
    /// found, keyed by (PK, SK).
    pub async fn batch_get(
        &self,
        keys: &[keys::Key],
        consistent: bool,
    ) -> Result<HashMap<(String, String), Item>, StoreError> {
        let mut found = HashMap::new();
        if keys.is_empty() {
            return Ok(found);
        }
        let mut pending: Vec<Item> = keys.iter().map(keys::Key::to_map).collect();
        pending.dedup();
        for attempt in 0..5u32 {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(consistent)
                .build()
                .map_err(build_err)?;
            let out =
                self.client.batch_get_item().request_items(&self.table, request).send().await.map_err(classify)?;
            for item in out.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default() {
                let pk = string_attr(&item, keys::PK);
                let sk = string_attr(&item, keys::SK);
                found.insert((pk, sk), item);
            }
            pending = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).map(|k| k.keys).unwrap_or_default();
            if pending.is_empty() {
                return Ok(found);
            }
            tokio::time::sleep(std::time::Duration::from_millis(10 << attempt)).await;
        }
        Err(StoreError::Unavailable("batch get left unprocessed keys".into()))
    }

    /// A transaction. Transaction conflicts (another transaction on the same item) are retried a few times;
    /// a failed condition is reported with the index of the item.
    pub async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        let mut attempt = 0u32;
        loop {
            let result = self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
            let err = match result {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            let reasons: Option<Vec<String>> = match &err {
                SdkError::ServiceError(s) => match s.err() {
                    TransactWriteItemsError::TransactionCanceledException(c) => {
                        Some(c.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None").to_owned()).collect())
                    }
                    _ => None,
                },
                _ => None,
            };
            let Some(reasons) = reasons else {
                return Err(classify(err));
            };
            if let Some(index) = reasons.iter().position(|c| c == "ConditionalCheckFailed") {
                return Err(StoreError::Conditional { index: Some(index) });
            }
            let retriable = reasons
                .iter()
                .any(|c| c == "TransactionConflict" || c == "ThrottlingError" || c == "ProvisionedThroughputExceeded");
            if retriable && attempt < 6 {
                attempt += 1;
                let jitter = u64::from(crate::platform::crypto::random_bytes::<1>()[0] % 20);
                tokio::time::sleep(std::time::Duration::from_millis((5 << attempt) + jitter)).await;
                continue;
            }
            return Err(StoreError::Unavailable(format!("transaction canceled: {reasons:?}")));
        }
    }

    pub fn tx_put<T: Serialize>(&self, item: &T, condition: Option<&str>) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(item)?))
            .set_condition_expression(condition.map(str::to_owned))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Put an item whose key must be free (a first write; a taken key is `StoreError::Conditional`).
    pub async fn put_new<T: Serialize>(&self, item: &T) -> Result<(), StoreError> {
        self.put(item, Some(NEW_ITEM)).await
    }

    /// [`Store::tx_put`] of an item whose key must be free.
    pub fn tx_put_new<T: Serialize>(&self, item: &T) -> Result<TransactWriteItem, StoreError> {
        self.tx_put(item, Some(NEW_ITEM))
    }

    /// [`Store::tx_put`] of an item that must already exist (a replacement, never a creation).
    pub fn tx_put_existing<T: Serialize>(&self, item: &T) -> Result<TransactWriteItem, StoreError> {
        self.tx_put(item, Some(EXISTING_ITEM))
    }

    pub fn tx_check(&self, key: &keys::Key, condition: &str) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key.to_map()))
            .condition_expression(condition)
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    pub fn tx_update(
        &self,
        key: &keys::Key,
        update: &str,
        condition: Option<&str>,
        values: Item,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key.to_map()))
            .update_expression(update)
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

/// Take one typed item out of a `batch_get` result.
pub fn take<T: DeserializeOwned>(
    found: &mut HashMap<(String, String), Item>,
    key: &keys::Key,
) -> Result<Option<T>, StoreError> {
    found.remove(&(key.pk.clone(), key.sk.clone())).map(from_item).transpose()
}

fn string_attr(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(s)) => s.clone(),
        _ => String::new(),
    }
}

/// Whether a conditional write applied: `false` when its condition failed, other errors as they are.
pub(crate) fn applied<T>(result: Result<T, StoreError>) -> Result<bool, StoreError> {
    match result {
        Ok(_) => Ok(true),
        Err(StoreError::Conditional { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Opaque pagination cursors: the `LastEvaluatedKey` (string attributes only) as base64url JSON. A cursor is
/// checked against the partition it must belong to, so one caller's cursor cannot page another's data.
pub mod cursor {
    use super::*;

    pub fn encode(last_evaluated_key: Option<&Item>) -> Option<String> {
        let key = last_evaluated_key?;
        let map: HashMap<&str, &str> =
            key.iter().filter_map(|(k, v)| v.as_s().ok().map(|s| (k.as_str(), s.as_str()))).collect();
        serde_json::to_vec(&map).ok().map(|json| URL_SAFE_NO_PAD.encode(json))
    }

    /// Where a page of a GSI1 partition starts: after the cursor `after` (`Err(())` when it is not a cursor
    /// of `partition`), or at the start.
    pub(crate) fn start(after: Option<&str>, partition: &str) -> Result<Option<Item>, ()> {
        match after {
            Some(c) => decode(c, keys::GSI1PK, partition).map(Some).ok_or(()),
            None => Ok(None),
        }
    }

    /// Decode a cursor whose `partition_attr` must equal `partition`. `None` when invalid.
    pub fn decode(cursor: &str, partition_attr: &str, partition: &str) -> Option<Item> {
        let json = URL_SAFE_NO_PAD.decode(cursor.as_bytes()).ok()?;
        let map: HashMap<String, String> = serde_json::from_slice(&json).ok()?;
        if map.get(partition_attr).map(String::as_str) != Some(partition) || map.len() > 4 {
            return None;
        }
        Some(map.into_iter().map(|(k, v)| (k, AttributeValue::S(v))).collect())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn cursors_round_trip_and_are_bound_to_their_partition() {
            let key: Item = HashMap::from([
                ("GSI1PK".to_owned(), AttributeValue::S("USER#a#TOKENS".into())),
                ("GSI1SK".to_owned(), AttributeValue::S("2026#tok".into())),
            ]);
            let c = encode(Some(&key)).expect("cursor");
            assert_eq!(decode(&c, "GSI1PK", "USER#a#TOKENS"), Some(key));
            assert_eq!(decode(&c, "GSI1PK", "USER#b#TOKENS"), None);
            assert_eq!(decode("%%%", "GSI1PK", "USER#a#TOKENS"), None);
        }
    }
}

/// Test support for the families' stored-shape tests (one fully populated item per entity, in the spirit of a
/// snapshot): an accidental rename of a stored attribute, key or discriminator fails them.
#[cfg(test)]
pub(crate) mod stored_shape {
    use super::Item;
    use super::keys::Key;
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    /// Writes `item` as it is stored (`serde_dynamo::to_item`) and checks that it reads back equal
    /// (`serde_dynamo::from_item`), that its `PK` and `SK` are `key`, its `entity_type` is `entity_type`, and its
    /// attribute names are exactly `names` (in any order). Returns the stored item.
    #[track_caller]
    pub(crate) fn assert_stored<T>(item: &T, key: &Key, entity_type: &str, names: &[&str]) -> Item
    where
        T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let stored: Item = serde_dynamo::to_item(item).expect("the item serializes");
        let string = |name: &str| stored.get(name).and_then(|v| v.as_s().ok()).map(String::as_str);
        assert_eq!(string("PK"), Some(key.pk.as_str()), "PK of {entity_type}");
        assert_eq!(string("SK"), Some(key.sk.as_str()), "SK of {entity_type}");
        assert_eq!(string("entity_type"), Some(entity_type), "entity_type");
        let mut actual: Vec<&str> = stored.keys().map(String::as_str).collect();
        actual.sort_unstable();
        let mut expected = names.to_vec();
        expected.sort_unstable();
        assert_eq!(actual, expected, "the stored attribute names of {entity_type}");
        let back: T = serde_dynamo::from_item(stored.clone()).expect("the item deserializes");
        assert_eq!(&back, item, "{entity_type} reads back as written");
        stored
    }
}
