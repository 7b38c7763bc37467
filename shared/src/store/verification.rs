//! Email verification in the store: links (by token hash, single use, TTL'd), the verified flag of the user,
//! and the resend throttle (one conditional `UpdateItem` on a TTL'd counter per mail).

use super::outbox::NotificationItem;
use super::{Item, Store, StoreError, applied, build_err, classify, keys};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// An email verification link: only the SHA-256 of its token is stored. Single use (`used_at`), valid
/// until `valid_until`; DynamoDB's TTL removes it a day after that.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailVerificationItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub user_id: String,
    /// The address the link proves (a link for an address the account no longer has proves nothing).
    pub email: String,
    pub created_at: String,
    /// Epoch seconds: the link is refused from then on.
    pub valid_until: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<String>,
    /// TTL (epoch seconds).
    pub expires_at: i64,
}

impl EmailVerificationItem {
    pub fn new(hash_hex: &str, user_id: &str, email: &str, created_at: String, valid_until: i64) -> Self {
        let key = keys::email_verification(hash_hex);
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "email_verification".into(),
            user_id: user_id.into(),
            email: email.into(),
            created_at,
            valid_until,
            used_at: None,
            expires_at: valid_until + 86_400,
        }
    }
}

/// How many verification mails a user was sent in the current window (the resend throttle), and when the
/// last one was. TTL'd at the end of the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationSendsItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub user_id: String,
    /// Epoch seconds: the window's start.
    pub window_start: i64,
    /// Mails sent in the window.
    pub sent: u32,
    /// Epoch seconds of the last mail.
    pub last_sent: i64,
    /// TTL (epoch seconds): the window's end.
    pub expires_at: i64,
}

impl VerificationSendsItem {
    /// The first mail of a window, sent at `now` (epoch seconds); the window lasts `window_seconds`.
    pub fn first(user_id: &str, now: i64, window_seconds: i64) -> Self {
        let key = keys::verification_sends(user_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "verification_sends".into(),
            user_id: user_id.into(),
            window_start: now,
            sent: 1,
            last_sent: now,
            expires_at: now + window_seconds,
        }
    }
}

/// What counting a verification mail against the throttle found.
#[derive(Debug, Clone, PartialEq)]
pub enum SendCount {
    /// Counted: the mail may go.
    Counted,
    /// Over a limit: the counter as it is (to say when to retry).
    Throttled(Option<VerificationSendsItem>),
}

fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

impl Store {
    /// The writes that start a verification: the link and its mail in the outbox (both new), and, for a new
    /// account, the throttle's first count (the registration mail is the window's first).
    pub fn verification_items(
        &self,
        link: &EmailVerificationItem,
        mail: &NotificationItem,
        first_send: Option<&VerificationSendsItem>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut items = vec![
            self.tx_put(link, Some("attribute_not_exists(PK)"))?,
            self.tx_put(mail, Some("attribute_not_exists(PK)"))?,
        ];
        if let Some(sends) = first_send {
            items.push(self.tx_put(sends, None)?);
        }
        Ok(items)
    }

    /// A new link and its mail, in one transaction.
    pub async fn issue_verification(
        &self,
        link: &EmailVerificationItem,
        mail: &NotificationItem,
    ) -> Result<(), StoreError> {
        self.transact(self.verification_items(link, mail, None)?).await
    }

    pub async fn get_email_verification(&self, hash_hex: &str) -> Result<Option<EmailVerificationItem>, StoreError> {
        self.get(&keys::email_verification(hash_hex), true).await
    }

    /// Use a link and verify its user's address, in one transaction. `Conditional { index: Some(0) }`: the
    /// link was used meanwhile (or ran out); `Some(1)`: the account is gone or no longer has this address.
    pub async fn use_email_verification(
        &self,
        link: &EmailVerificationItem,
        hash_hex: &str,
        now: i64,
        at: &str,
    ) -> Result<(), StoreError> {
        let use_link = Update::builder()
            .table_name(self.table())
            .set_key(Some(keys::email_verification(hash_hex).to_map()))
            .update_expression("SET #used = :at")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(#used) AND #until > :now")
            .set_expression_attribute_names(Some(names(&[("#used", "used_at"), ("#until", "valid_until")])))
            .set_expression_attribute_values(Some(HashMap::from([
                (":at".to_owned(), AttributeValue::S(at.to_owned())),
                (":now".to_owned(), AttributeValue::N(now.to_string())),
            ])))
            .build()
            .map_err(build_err)?;
        let verify_user = Update::builder()
            .table_name(self.table())
            .set_key(Some(keys::user(&link.user_id).to_map()))
            .update_expression("SET #verified = :yes, #verified_at = if_not_exists(#verified_at, :at)")
            .condition_expression("attribute_exists(PK) AND #email = :email")
            .set_expression_attribute_names(Some(names(&[
                ("#verified", "email_verified"),
                ("#verified_at", "email_verified_at"),
                ("#email", "email"),
            ])))
            .set_expression_attribute_values(Some(HashMap::from([
                (":yes".to_owned(), AttributeValue::Bool(true)),
                (":at".to_owned(), AttributeValue::S(at.to_owned())),
                (":email".to_owned(), AttributeValue::S(link.email.clone())),
            ])))
            .build()
            .map_err(build_err)?;
        self.transact(vec![
            TransactWriteItem::builder().update(use_link).build(),
            TransactWriteItem::builder().update(verify_user).build(),
        ])
        .await
    }

    /// Count one verification mail of `user_id` at `now` (epoch seconds): at most `max` per window of
    /// `window` seconds and one per `min_interval` seconds. Atomic: a conditional `UpdateItem` on the counter
    /// (a second one starts a new window when the last has ended); only a refused mail reads the counter back.
    pub async fn count_verification_send(
        &self,
        user_id: &str,
        now: i64,
        min_interval: i64,
        max: u32,
        window: i64,
    ) -> Result<SendCount, StoreError> {
        let key = keys::verification_sends(user_id);
        let attr_names = names(&[
            ("#ws", "window_start"),
            ("#sent", "sent"),
            ("#last", "last_sent"),
            ("#exp", "expires_at"),
            ("#et", "entity_type"),
            ("#uid", "user_id"),
        ]);
        let n = |v: i64| AttributeValue::N(v.to_string());
        // Within the current window.
        let values: Item = HashMap::from([
            (":one".to_owned(), n(1)),
            (":now".to_owned(), n(now)),
            (":floor".to_owned(), n(now - window)),
            (":max".to_owned(), n(i64::from(max))),
            (":recent".to_owned(), n(now - min_interval)),
        ]);
        let within = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key.to_map()))
            .update_expression("SET #sent = #sent + :one, #last = :now")
            .condition_expression("#ws > :floor AND #sent < :max AND #last <= :recent")
            .set_expression_attribute_names(Some(names(&[
                ("#ws", "window_start"),
                ("#sent", "sent"),
                ("#last", "last_sent"),
            ])))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        if applied(within.map_err(classify))? {
            return Ok(SendCount::Counted);
        }
        // No counter yet, or its window has ended: this mail starts a new one.
        let fresh = VerificationSendsItem::first(user_id, now, window);
        let values: Item = HashMap::from([
            (":one".to_owned(), n(1)),
            (":now".to_owned(), n(now)),
            (":floor".to_owned(), n(now - window)),
            (":exp".to_owned(), n(fresh.expires_at)),
            (":et".to_owned(), AttributeValue::S(fresh.entity_type.clone())),
            (":uid".to_owned(), AttributeValue::S(fresh.user_id.clone())),
        ]);
        let restart = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key.to_map()))
            .update_expression("SET #et = :et, #uid = :uid, #ws = :now, #sent = :one, #last = :now, #exp = :exp")
            .condition_expression("attribute_not_exists(PK) OR #ws <= :floor")
            .set_expression_attribute_names(Some(attr_names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        if applied(restart.map_err(classify))? {
            return Ok(SendCount::Counted);
        }
        Ok(SendCount::Throttled(self.get(&key, true).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::stored_shape::assert_stored;

    #[test]
    fn the_verification_family_is_stored_under_its_attribute_names() {
        let mut link =
            EmailVerificationItem::new("ab12", "usr_1", "a@example.com", "2026-04-15T10:00:00Z".into(), 1_776_300_000);
        link.used_at = Some("2026-04-15T10:05:00Z".into());
        assert_stored(
            &link,
            &keys::email_verification("ab12"),
            "email_verification",
            &["PK", "SK", "entity_type", "user_id", "email", "created_at", "valid_until", "used_at", "expires_at"],
        );

        let sends = VerificationSendsItem::first("usr_1", 1_776_250_000, 3_600);
        assert_stored(
            &sends,
            &keys::verification_sends("usr_1"),
            "verification_sends",
            &["PK", "SK", "entity_type", "user_id", "window_start", "sent", "last_sent", "expires_at"],
        );
    }
}
