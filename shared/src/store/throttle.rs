//! Throttle counters: login failures per account and fixed-window request counters per client. Each check
//! or record is one request (the login lookup shares its read with the email lookup).

use super::users::EmailItem;
use super::{Store, StoreError, classify, keys, take, to_item};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

/// An account's recent login failures (by the hash of its normalised email; TTL'd a day after the last one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginThrottleItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    /// Failures since the last success (or since the item expired).
    #[serde(default)]
    pub failures: u32,
    /// No login is tried before this instant (epoch seconds); 0 = not locked.
    #[serde(default)]
    pub locked_until: i64,
    pub expires_at: i64,
}

impl LoginThrottleItem {
    pub fn new(email_hash: &str, failures: u32, locked_until: i64, expires_at: i64) -> Self {
        let key = keys::login_throttle(email_hash);
        Self { pk: key.pk, sk: key.sk, entity_type: "login_throttle".into(), failures, locked_until, expires_at }
    }
}

const RATE_WINDOW: &str = "rate_window";

impl Store {
    /// The user id behind a normalised email and the login throttle of that email, in one consistent read.
    pub async fn login_lookup(
        &self,
        email: &str,
        email_hash: &str,
    ) -> Result<(Option<String>, Option<LoginThrottleItem>), StoreError> {
        let (ek, tk) = (keys::email(email), keys::login_throttle(email_hash));
        let mut found = self.batch_get(&[ek.clone(), tk.clone()], true).await?;
        let user_id = take::<EmailItem>(&mut found, &ek)?.map(|e| e.user_id);
        Ok((user_id, take(&mut found, &tk)?))
    }

    /// Reserve one login attempt: write the account's throttle state as it will be if the attempt fails,
    /// on condition that nobody changed it since `seen` was read (compare-and-set), so concurrent guesses
    /// are serialised and every one of them counts. `false`: another attempt got there first.
    pub async fn reserve_login_attempt(
        &self,
        seen: Option<&LoginThrottleItem>,
        next: &LoginThrottleItem,
    ) -> Result<bool, StoreError> {
        let mut put = self.client.put_item().table_name(&self.table).set_item(Some(to_item(next)?));
        put = match seen {
            None => put.condition_expression("attribute_not_exists(PK)"),
            Some(seen) => put
                .condition_expression("failures = :f AND locked_until = :lu")
                .expression_attribute_values(":f", AttributeValue::N(seen.failures.to_string()))
                .expression_attribute_values(":lu", AttributeValue::N(seen.locked_until.to_string())),
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(se)) if matches!(se.err(), PutItemError::ConditionalCheckFailedException(_)) => {
                Ok(false)
            }
            Err(e) => Err(classify(e)),
        }
    }

    /// A successful login forgets the failures.
    pub async fn clear_login_failures(&self, email_hash: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(keys::login_throttle(email_hash).to_map()))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// Count one request of `client` in a fixed window, atomically refusing it once `max` were counted:
    /// `true` when it is allowed. One conditional `UpdateItem`; the counter expires with its window.
    pub async fn hit_rate_window(
        &self,
        scope: &str,
        client: &str,
        window_start: i64,
        max: u32,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::rate_window(scope, client, window_start).to_map()))
            .update_expression("ADD hits :one SET entity_type = :et, expires_at = :exp")
            .condition_expression("attribute_not_exists(hits) OR hits < :max")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":et", AttributeValue::S(RATE_WINDOW.into()))
            .expression_attribute_values(":exp", AttributeValue::N(expires_at.to_string()))
            .expression_attribute_values(":max", AttributeValue::N(max.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(se))
                if matches!(se.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(false)
            }
            Err(e) => Err(classify(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::stored_shape::assert_stored;

    #[test]
    fn the_throttle_family_is_stored_under_its_attribute_names() {
        let item = LoginThrottleItem::new("ab12", 3, 1_776_250_000, 1_776_336_400);
        assert_stored(
            &item,
            &keys::login_throttle("ab12"),
            "login_throttle",
            &["PK", "SK", "entity_type", "failures", "locked_until", "expires_at"],
        );
    }
}
