//! Email verification in the store: links (by token hash, single use, TTL'd), the verified flag of the user,
//! and the resend throttle (one conditional `UpdateItem` on a TTL'd counter per mail).

use super::items::{EmailVerificationItem, NotificationItem, VerificationSendsItem};
use super::{Item, Store, StoreError, applied, build_err, classify, keys};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use std::collections::HashMap;

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
