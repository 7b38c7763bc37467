//! The notification outbox: pending notifications (GSI1 `OUTBOX#pending`, oldest first), claimed by one
//! sender at a time with a lease, then marked sent (and so removed from the pending index).

use super::items::NotificationItem;
use super::{Item, Store, StoreError, applied, classify, from_item, keys};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

impl Store {
    /// Up to `limit` pending notifications, oldest first.
    pub async fn pending_notifications(&self, limit: i32) -> Result<Vec<NotificationItem>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("GSI1PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(keys::OUTBOX_PENDING.to_owned()))
            .limit(limit)
            .send()
            .await
            .map_err(classify)?;
        out.items.unwrap_or_default().into_iter().map(from_item).collect()
    }

    /// Take a notification for sending until `lease_until` (epoch seconds): it must be pending, or claimed
    /// by a sender whose lease ran out. False when another sender has it or it is sent.
    pub async fn claim_notification(&self, id: &str, now: i64, lease_until: i64) -> Result<bool, StoreError> {
        let values: Item = HashMap::from([
            (":pending".to_owned(), AttributeValue::S("pending".into())),
            (":sending".to_owned(), AttributeValue::S("sending".into())),
            (":now".to_owned(), AttributeValue::N(now.to_string())),
            (":lease".to_owned(), AttributeValue::N(lease_until.to_string())),
        ]);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::outbox(id).to_map()))
            .update_expression("SET #status = :sending, lease_until = :lease")
            .condition_expression(
                "attribute_exists(PK) AND (#status = :pending OR (#status = :sending AND lease_until < :now))",
            )
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        applied(result.map_err(classify))
    }

    /// Sent (or given up on, with `status` `skipped` or `unverified`): out of the pending index for good.
    /// `secret`: a member of the notification's `data` to forget now (a verification link's token).
    pub async fn finish_notification(
        &self,
        id: &str,
        status: &str,
        message_id: Option<&str>,
        at: &str,
        secret: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut values: Item = HashMap::from([
            (":status".to_owned(), AttributeValue::S(status.to_owned())),
            (":at".to_owned(), AttributeValue::S(at.to_owned())),
        ]);
        let mut update = String::from("SET #status = :status, finished_at = :at");
        if let Some(m) = message_id {
            values.insert(":m".to_owned(), AttributeValue::S(m.to_owned()));
            update.push_str(", message_id = :m");
        }
        update.push_str(" REMOVE GSI1PK, GSI1SK, lease_until");
        let mut names = HashMap::from([("#status".to_owned(), "status".to_owned())]);
        if let Some(member) = secret {
            update.push_str(", #data.#secret");
            names.insert("#data".to_owned(), "data".to_owned());
            names.insert("#secret".to_owned(), member.to_owned());
        }
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::outbox(id).to_map()))
            .update_expression(update)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}
