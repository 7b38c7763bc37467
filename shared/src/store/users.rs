//! User accounts in the store.

use super::solutions::EntitlementItem;
use super::{Item, Store, StoreError, from_item, keys};
use crate::model::Role;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<String>,
    /// The address was proven through a verification link (items written before verification existed:
    /// false). Money, reviews, partner applications and mail other than the link itself need it.
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified_at: Option<String>,
}

impl UserItem {
    pub fn new(user_id: &str, email: &str, name: &str, role: Role, password_hash: String, created_at: String) -> Self {
        let key = keys::user(user_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "user".into(),
            user_id: user_id.into(),
            email: email.into(),
            name: name.into(),
            role,
            password_hash,
            created_at,
            partner_id: None,
            email_verified: false,
            email_verified_at: None,
        }
    }
}

/// The uniqueness guard of an email address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub user_id: String,
}

impl EmailItem {
    pub fn new(email: &str, user_id: &str) -> Self {
        let key = keys::email(email);
        Self { pk: key.pk, sk: key.sk, entity_type: "email".into(), user_id: user_id.into() }
    }
}

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

    /// The readiness probe: one eventually consistent `GetItem` of a user that never exists (the table is
    /// reachable and the role may read it); nothing is returned.
    pub async fn probe(&self) -> Result<(), StoreError> {
        self.get::<UserItem>(&keys::user("usr_readiness-probe"), false).await.map(|_| ())
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

    /// A customer's (user's or organization's) tiers.
    pub async fn entitlements_of(&self, customer_id: &str) -> Result<Vec<EntitlementItem>, StoreError> {
        self.query_partition(&keys::customer_partition(customer_id), Some(keys::TIER_PREFIX))
            .await?
            .into_iter()
            .map(from_item)
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::stored_shape::assert_stored;

    #[test]
    fn the_user_family_is_stored_under_its_attribute_names() {
        let mut user = UserItem::new(
            "usr_1",
            "a@example.com",
            "Asha",
            Role::Partner,
            "hash".into(),
            "2026-04-15T10:00:00Z".into(),
        );
        user.partner_id = Some("prt_1".into());
        user.email_verified = true;
        user.email_verified_at = Some("2026-04-15T10:05:00Z".into());
        assert_stored(
            &user,
            &keys::user("usr_1"),
            "user",
            &[
                "PK",
                "SK",
                "entity_type",
                "user_id",
                "email",
                "name",
                "role",
                "password_hash",
                "created_at",
                "partner_id",
                "email_verified",
                "email_verified_at",
            ],
        );

        let email = EmailItem::new("a@example.com", "usr_1");
        assert_stored(&email, &keys::email("a@example.com"), "email", &["PK", "SK", "entity_type", "user_id"]);
    }
}
