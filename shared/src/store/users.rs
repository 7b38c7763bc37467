//! User accounts in the store.

use super::items::{EmailItem, EntitlementItem, UserItem};
use super::{Item, Store, StoreError, from_item, keys};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

impl Store {
    /// Create a user and the guard of its email atomically, together with `extra` items (e.g. the first
    /// session). The email guard is item 0: `Conditional { index: Some(0) }` means the email is taken.
    pub async fn create_user(&self, user: &UserItem, extra: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        let mut items = vec![
            self.tx_put(&EmailItem::new(&user.email, &user.user_id), Some("attribute_not_exists(PK)"))?,
            self.tx_put(user, Some("attribute_not_exists(PK)"))?,
        ];
        items.extend(extra);
        self.transact(items).await
    }

    pub async fn user_id_by_email(&self, email: &str) -> Result<Option<String>, StoreError> {
        Ok(self.get::<EmailItem>(&keys::email(email), true).await?.map(|e| e.user_id))
    }

    pub async fn get_user(&self, user_id: &str) -> Result<Option<UserItem>, StoreError> {
        self.get(&keys::user(user_id), true).await
    }

    /// All items of a user's partition: profile and tiers, in one query (paged).
    pub async fn user_with_entitlements(
        &self,
        user_id: &str,
    ) -> Result<(Option<UserItem>, Vec<EntitlementItem>), StoreError> {
        let items = self.query_partition(&keys::user_partition(user_id), None).await?;
        let mut user = None;
        let mut tiers = Vec::new();
        for item in items {
            match item.get("entity_type").and_then(|v| v.as_s().ok()).map(String::as_str) {
                Some("user") => user = Some(from_item(item)?),
                Some("entitlement") => tiers.push(from_item(item)?),
                _ => {}
            }
        }
        Ok((user, tiers))
    }

    pub async fn entitlements(&self, user_id: &str) -> Result<Vec<EntitlementItem>, StoreError> {
        self.query_partition(&keys::user_partition(user_id), Some(keys::TIER_PREFIX))
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    /// Every item of a table partition, optionally restricted to a sort-key prefix.
    pub(crate) async fn query_partition(&self, pk: &str, sk_prefix: Option<&str>) -> Result<Vec<Item>, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
            .consistent_read(true);
        let q = match sk_prefix {
            Some(prefix) => q
                .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
                .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned())),
            None => q.key_condition_expression("PK = :pk"),
        };
        self.query_all(q).await
    }
}
