//! The operations of the subscriptions family.

use super::items::{CheckoutSlotItem, ProviderCustomerItem, ProviderRefItem, SubscriptionItem};
use super::payments::{PaymentItem, RefundItem, WebhookEventItem};
use crate::model::RefundStatus;
use crate::store::solutions::EntitlementItem;
use crate::store::usage::IdempotencyItem;
use crate::store::{Item, Store, StoreError, classify, cursor, from_item, keys, to_item};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use std::collections::HashMap;

/// What recording a refund did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundChange {
    /// First seen: recorded.
    Recorded,
    /// Known: its status moved forward.
    Advanced,
    /// Known, with this status or a later one.
    Unchanged,
}

/// Outcome of claiming a webhook event for processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// First delivery (or a retry after a failed attempt whose lease ran out): process it.
    Claimed,
    /// Already processed: acknowledge, do nothing.
    Done,
    /// Another delivery of it is being processed right now.
    InProgress,
}

/// An entry of a user's payment history.
#[derive(Debug)]
pub enum HistoryItem {
    Payment(PaymentItem),
    Refund(RefundItem),
}

/// One page of a user's payment history, newest first.
#[derive(Debug, Default)]
pub struct HistoryPage {
    pub items: Vec<HistoryItem>,
    pub cursor: Option<String>,
}

/// One page of a customer's subscriptions, newest first.
#[derive(Debug, Default)]
pub struct SubscriptionPage {
    pub items: Vec<SubscriptionItem>,
    pub cursor: Option<String>,
}

/// Index items one request of a filtered subscriptions page reads (at least the page size).
pub const SUBSCRIPTION_PAGE_READ: i32 = 100;
/// Requests a filtered subscriptions page makes at most before answering a short page.
pub const SUBSCRIPTION_PAGE_ROUNDS: u32 = 5;

/// Where a GSI1 query stands after `item`: its table and index keys (an `ExclusiveStartKey`).
fn index_position(item: &Item) -> Item {
    [keys::PK, keys::SK, keys::GSI1PK, keys::GSI1SK]
        .into_iter()
        .filter_map(|k| item.get(k).map(|v| (k.to_owned(), v.clone())))
        .collect()
}

impl Store {
    pub async fn get_subscription(&self, subscription_id: &str) -> Result<Option<SubscriptionItem>, StoreError> {
        self.get(&keys::subscription(subscription_id), true).await
    }

    /// A user's subscriptions, newest first (every page).
    pub async fn user_subscriptions(&self, user_id: &str) -> Result<Vec<SubscriptionItem>, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("GSI1PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(keys::user_subscriptions_partition(user_id)))
            .scan_index_forward(false);
        let listed: Vec<SubscriptionItem> =
            self.query_all(q).await?.into_iter().map(from_item).collect::<Result<_, _>>()?;
        self.current_subscriptions(listed).await
    }

    /// GSI reads are eventually consistent: the current state of each listed subscription (consistent reads,
    /// in batches of 100), in the listed order.
    async fn current_subscriptions(&self, listed: Vec<SubscriptionItem>) -> Result<Vec<SubscriptionItem>, StoreError> {
        let mut out = Vec::with_capacity(listed.len());
        for chunk in listed.chunks(100) {
            let wanted: Vec<keys::Key> = chunk.iter().map(|s| keys::subscription(&s.subscription_id)).collect();
            let mut found = self.batch_get(&wanted, true).await?;
            for (key, old) in wanted.iter().zip(chunk) {
                out.push(crate::store::take(&mut found, key)?.unwrap_or_else(|| old.clone()));
            }
        }
        Ok(out)
    }

    /// One page of a customer's subscriptions, newest first, at most `limit`, of one solution when
    /// `solution_id` is given, after `after` (a cursor of this customer's list; `Err(())` for any other). A
    /// filtered page reads the index [`SUBSCRIPTION_PAGE_READ`] items at a time until it is full, for at most
    /// [`SUBSCRIPTION_PAGE_ROUNDS`] requests: a customer with many subscriptions of other solutions may get a
    /// short page (even an empty one) with a cursor to go on from.
    pub async fn user_subscriptions_page(
        &self,
        user_id: &str,
        solution_id: Option<&str>,
        limit: i32,
        after: Option<&str>,
    ) -> Result<Result<SubscriptionPage, ()>, StoreError> {
        let partition = keys::user_subscriptions_partition(user_id);
        let Ok(mut start) = cursor::start(after, &partition) else {
            return Ok(Err(()));
        };
        let wanted = usize::try_from(limit).unwrap_or(1).max(1);
        let mut kept: Vec<Item> = Vec::with_capacity(wanted);
        let mut rounds = 0;
        let more = loop {
            rounds += 1;
            let read = if solution_id.is_some() { limit.max(SUBSCRIPTION_PAGE_READ) } else { limit };
            let mut q = self.gsi1_newest_first(partition.clone(), read, start.take());
            if let Some(sid) = solution_id {
                q = q
                    .filter_expression("solution_id = :sid")
                    .expression_attribute_values(":sid", AttributeValue::S(sid.to_owned()));
            }
            let out = q.send().await.map_err(classify)?;
            kept.extend(out.items.unwrap_or_default());
            let last = out.last_evaluated_key.filter(|k| !k.is_empty());
            if kept.len() >= wanted {
                // Full: the next page starts after the last subscription shown (later ones of this read are
                // read again then).
                let more = kept.len() > wanted || last.is_some();
                kept.truncate(wanted);
                break more.then(|| kept.last().map(index_position)).flatten();
            }
            match last {
                Some(k) if rounds < SUBSCRIPTION_PAGE_ROUNDS => start = Some(k),
                last => break last,
            }
        };
        let listed = kept.into_iter().map(from_item).collect::<Result<Vec<SubscriptionItem>, _>>()?;
        let items = self.current_subscriptions(listed).await?;
        Ok(Ok(SubscriptionPage { items, cursor: cursor::encode(more.as_ref()) }))
    }

    /// Create a subscription (and, atomically, the stored answer of its idempotent request).
    /// `Conditional { index: Some(1) }` means the idempotency record exists already.
    pub async fn create_subscription(
        &self,
        item: &SubscriptionItem,
        record: Option<&IdempotencyItem>,
        extra: Vec<TransactWriteItem>,
    ) -> Result<(), StoreError> {
        let mut items = vec![self.tx_put(item, Some("attribute_not_exists(PK)"))?];
        if let Some(record) = record {
            items.push(self.tx_put(record, Some("attribute_not_exists(PK)"))?);
        }
        items.extend(extra);
        self.transact(items).await
    }

    /// A user's checkout slot for a solution (read consistently: it decides races).
    pub async fn get_checkout_slot(
        &self,
        user_id: &str,
        solution_id: &str,
    ) -> Result<Option<CheckoutSlotItem>, StoreError> {
        self.get(&keys::checkout_slot(user_id, solution_id), true).await
    }

    /// The transaction item that claims a checkout slot: only while it still names `seen` (the subscription
    /// read before; `None`: while there is no slot).
    pub fn tx_claim_checkout_slot(
        &self,
        slot: &CheckoutSlotItem,
        seen: Option<&str>,
    ) -> Result<TransactWriteItem, StoreError> {
        let Some(seen) = seen else {
            return self.tx_put(slot, Some("attribute_not_exists(PK)"));
        };
        let values: Item = HashMap::from([(":seen".to_owned(), AttributeValue::S(seen.to_owned()))]);
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(slot)?))
            .condition_expression("subscription_id = :seen")
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Write a new version of a subscription, expecting `expected_version` to be stored, together with the
    /// entitlement it grants and any extra items. `Conditional { index: Some(0) }` = lost a race.
    pub async fn save_subscription(
        &self,
        item: &SubscriptionItem,
        expected_version: u64,
        entitlement: Option<&EntitlementItem>,
        extra: Vec<TransactWriteItem>,
    ) -> Result<(), StoreError> {
        let values: Item = HashMap::from([(":v".to_owned(), AttributeValue::N(expected_version.to_string()))]);
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(item)?))
            .condition_expression("#version = :v")
            .expression_attribute_names("#version", "version")
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let mut items = vec![TransactWriteItem::builder().put(put).build()];
        if let Some(e) = entitlement {
            items.push(self.tx_put(e, None)?);
        }
        items.extend(extra);
        self.transact(items).await
    }

    pub async fn get_entitlement(
        &self,
        user_id: &str,
        solution_id: &str,
    ) -> Result<Option<EntitlementItem>, StoreError> {
        self.get(&keys::entitlement(user_id, solution_id), true).await
    }

    pub async fn get_provider_ref(
        &self,
        provider: &str,
        kind: &str,
        provider_id: &str,
    ) -> Result<Option<ProviderRefItem>, StoreError> {
        self.get(&keys::provider_ref(provider, kind, provider_id), true).await
    }

    /// Record a reference (idempotent: an existing one is kept).
    pub async fn put_provider_ref(&self, item: &ProviderRefItem) -> Result<(), StoreError> {
        match self.put(item, Some("attribute_not_exists(PK)")).await {
            Ok(()) | Err(StoreError::Conditional { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn get_provider_customer(
        &self,
        provider: &str,
        user_id: &str,
    ) -> Result<Option<ProviderCustomerItem>, StoreError> {
        self.get(&keys::provider_customer(provider, user_id), true).await
    }

    /// Remember a user's provider customer (and the reverse reference). Returns the customer id in force:
    /// the stored one when another request created it first.
    pub async fn put_provider_customer(
        &self,
        provider: &str,
        item: &ProviderCustomerItem,
    ) -> Result<String, StoreError> {
        let reference = ProviderRefItem::new(provider, "customer", &item.customer_id, &item.user_id, None);
        let items = vec![self.tx_put(item, Some("attribute_not_exists(PK)"))?, self.tx_put(&reference, None)?];
        match self.transact(items).await {
            Ok(()) => Ok(item.customer_id.clone()),
            Err(StoreError::Conditional { index: Some(0) }) => {
                let stored = self.get_provider_customer(provider, &item.user_id).await?;
                Ok(stored.map_or_else(|| item.customer_id.clone(), |s| s.customer_id))
            }
            Err(e) => Err(e),
        }
    }

    pub async fn get_request_record(&self, key: &keys::Key) -> Result<Option<IdempotencyItem>, StoreError> {
        self.get(key, true).await
    }

    /// Record a payment once. True when this call recorded it.
    pub async fn put_payment_once(
        &self,
        item: &PaymentItem,
        extra: Vec<TransactWriteItem>,
    ) -> Result<bool, StoreError> {
        let mut items = vec![self.tx_put(item, Some("attribute_not_exists(PK)"))?];
        items.extend(extra);
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conditional { index: Some(0) }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Mark a recorded payment as unapplied (its invoice could no longer take it). Idempotent.
    pub async fn mark_payment_unapplied(&self, payment_id: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::payment(payment_id).to_map()))
            .update_expression("SET unapplied = :yes")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await;
        match result.map_err(classify) {
            Ok(_) | Err(StoreError::Conditional { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Record a refund, or move a recorded one's status forward (never back), so its events converge in
    /// any order.
    pub async fn record_refund(&self, item: &RefundItem) -> Result<RefundChange, StoreError> {
        match self.put(item, Some("attribute_not_exists(PK)")).await {
            Ok(()) => return Ok(RefundChange::Recorded),
            Err(StoreError::Conditional { .. }) => {}
            Err(e) => return Err(e),
        }
        // Recorded before: move its status forward only (items without one are succeeded refunds).
        let lower: Vec<RefundStatus> =
            [RefundStatus::Pending, RefundStatus::Succeeded].into_iter().filter(|s| *s < item.status).collect();
        if lower.is_empty() {
            return Ok(RefundChange::Unchanged);
        }
        let mut condition = String::from("attribute_exists(PK) AND (");
        if lower.contains(&RefundStatus::Succeeded) {
            condition.push_str("attribute_not_exists(#status) OR ");
        }
        let names: Vec<String> = (0..lower.len()).map(|i| format!(":lower{i}")).collect();
        condition.push_str(&format!("#status IN ({}))", names.join(", ")));
        let mut values: Item = HashMap::from([
            (":status".to_owned(), AttributeValue::S(item.status.as_str().into())),
            (":at".to_owned(), AttributeValue::S(item.recorded_at.clone())),
        ]);
        for (name, status) in names.iter().zip(&lower) {
            values.insert(name.clone(), AttributeValue::S(status.as_str().into()));
        }
        let key = keys::Key { pk: item.pk.clone(), sk: item.sk.clone() };
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key.to_map()))
            // Final now (a refund only moves forward from pending): off the reconciliation's list.
            .update_expression("SET #status = :status, status_changed_at = :at REMOVE GSI2PK, GSI2SK")
            .condition_expression(condition)
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match out.map_err(classify) {
            Ok(_) => Ok(RefundChange::Advanced),
            Err(StoreError::Conditional { .. }) => Ok(RefundChange::Unchanged),
            Err(e) => Err(e),
        }
    }

    /// A payment and its refunds (one query of its partition).
    pub async fn payment_with_refunds(
        &self,
        payment_id: &str,
    ) -> Result<(Option<PaymentItem>, Vec<RefundItem>), StoreError> {
        let mut payment = None;
        let mut refunds = Vec::new();
        for item in self.query_partition(&keys::payment_partition(payment_id), None).await? {
            match item.get("entity_type").and_then(|v| v.as_s().ok()).map(String::as_str) {
                Some("payment") => payment = Some(from_item(item)?),
                Some("refund") => refunds.push(from_item(item)?),
                _ => {}
            }
        }
        Ok((payment, refunds))
    }

    /// One page of a user's payments and refunds, newest first.
    pub async fn payment_history(
        &self,
        user_id: &str,
        limit: i32,
        after: Option<&str>,
    ) -> Result<Result<HistoryPage, ()>, StoreError> {
        let Ok((items, cursor)) = self.gsi1_page(keys::user_payments_partition(user_id), limit, after).await? else {
            return Ok(Err(()));
        };
        let mut page = HistoryPage { cursor, ..Default::default() };
        for item in items {
            match item.get("entity_type").and_then(|v| v.as_s().ok()).map(String::as_str) {
                Some("payment") => page.items.push(HistoryItem::Payment(from_item(item)?)),
                Some("refund") => page.items.push(HistoryItem::Refund(from_item(item)?)),
                _ => {}
            }
        }
        Ok(Ok(page))
    }

    /// Claim a webhook event: a conditional put that succeeds for the first delivery, or for a redelivery
    /// of an event whose earlier processing failed (its lease ran out).
    pub async fn claim_webhook_event(&self, item: &WebhookEventItem, now: i64) -> Result<Claim, StoreError> {
        let values: Item = HashMap::from([
            (":processing".to_owned(), AttributeValue::S("processing".into())),
            (":now".to_owned(), AttributeValue::N(now.to_string())),
        ]);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(item)?))
            .condition_expression("attribute_not_exists(PK) OR (#status = :processing AND lease_until < :now)")
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values))
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Claimed),
            Err(aws_sdk_dynamodb::error::SdkError::ServiceError(se))
                if matches!(
                    se.err(),
                    aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                let status = match se.err() {
                    aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => {
                        c.item().and_then(|i| i.get("status")).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
                    }
                    _ => String::new(),
                };
                Ok(if status == "done" { Claim::Done } else { Claim::InProgress })
            }
            Err(e) => Err(classify(e)),
        }
    }

    /// Mark a claimed event processed.
    pub async fn finish_webhook_event(&self, key: &keys::Key, processed_at: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key.to_map()))
            .update_expression("SET #status = :done, processed_at = :at")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":done", AttributeValue::S("done".into()))
            .expression_attribute_values(":at", AttributeValue::S(processed_at.to_owned()))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// Restart a day counter at 0 under a new tier and limit (an upgrade), whatever it held.
    pub fn tx_restart_counter(
        &self,
        key: &keys::Key,
        tier: crate::model::Tier,
        limit: Option<u64>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut values: Item = HashMap::from([
            (":zero".to_owned(), AttributeValue::N("0".into())),
            (":tier".to_owned(), AttributeValue::S(tier.as_str().into())),
        ]);
        let update = match limit {
            Some(l) => {
                values.insert(":limit".to_owned(), AttributeValue::N(l.to_string()));
                "SET used = :zero, tier = :tier, #limit = :limit"
            }
            None => "SET used = :zero, tier = :tier REMOVE #limit",
        };
        let u = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .set_key(Some(key.to_map()))
            .update_expression(update)
            .expression_attribute_names("#limit", "limit")
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(u).build())
    }
}
