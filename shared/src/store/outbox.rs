//! The notification outbox. Pending notifications sit in GSI1 `OUTBOX#pending` sorted by when they may next
//! be tried (their creation time at first): a sender claims one with a lease, which moves its sort key to the
//! lease's end, then marks it sent (out of the index), or records a failed attempt, which moves it to the
//! backoff's end; after the last allowed attempt it moves to the dead-letter index `OUTBOX#dead` instead. So
//! a reader that asks for what is due by now never sees the leased or backing-off ones, however many there are.

use super::{Item, Store, StoreError, applied, classify, from_item, keys};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A notification waiting to be delivered (the billing function sends it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    /// In the pending index until sent (then removed).
    #[serde(rename = "GSI1PK", default)]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK", default)]
    pub gsi1sk: String,
    pub entity_type: String,
    pub notification_id: String,
    pub kind: String,
    pub customer_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solution_id: Option<String>,
    pub data: serde_json::Value,
    /// `pending`, `sending` (leased), `sent`, `skipped`, `unverified`, or `dead` (given up on after
    /// `notifications::MAX_ATTEMPTS` failed sends: in the dead-letter index until an admin retries it).
    pub status: String,
    pub created_at: String,
    /// Failed sends so far (reset by an admin's retry).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u32,
    /// When the next send may be tried after a failure (RFC 3339; mirrored in the pending index's sort key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    /// What the last failed send reported (no secrets: the provider's error code and message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_at: Option<String>,
}

impl NotificationItem {
    pub fn new(
        notification_id: &str,
        kind: &str,
        customer_id: &str,
        solution_id: Option<&str>,
        data: serde_json::Value,
        created_at: String,
    ) -> Self {
        let key = keys::outbox(notification_id);
        let gsi = keys::outbox_pending(&created_at, notification_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: gsi.pk,
            gsi1sk: gsi.sk,
            entity_type: "notification".into(),
            notification_id: notification_id.into(),
            kind: kind.into(),
            customer_id: customer_id.into(),
            solution_id: solution_id.map(str::to_owned),
            data,
            status: "pending".into(),
            created_at,
            attempts: 0,
            next_attempt_at: None,
            last_error: None,
            dead_at: None,
        }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

/// What a failed attempt made of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    /// Back in the pending index, due again later.
    Retry,
    /// In the dead-letter index.
    Dead,
    /// Not ours any more (another sender took it over after our lease ran out): nothing written.
    Lost,
}

impl Store {
    /// One page (up to `limit`) of the pending notifications due by `now` (RFC 3339), oldest first, from
    /// `start` (the previous page's end); the page and where the next one starts (`None`: no more).
    pub async fn due_notifications(
        &self,
        now: &str,
        limit: i32,
        start: Option<Item>,
    ) -> Result<(Vec<NotificationItem>, Option<Item>), StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("GSI1PK = :pk AND GSI1SK <= :due")
            .expression_attribute_values(":pk", s(keys::OUTBOX_PENDING))
            .expression_attribute_values(":due", s(&keys::outbox_due_until(now)))
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(classify)?;
        let next = out.last_evaluated_key.filter(|k| !k.is_empty());
        let items = out.items.unwrap_or_default().into_iter().map(from_item).collect::<Result<_, _>>()?;
        Ok((items, next))
    }

    /// Take a notification for sending until `lease_until` (epoch seconds; `lease_until_at` the same time in
    /// RFC 3339, where its pending-index entry moves meanwhile): it must be pending, or claimed by a sender
    /// whose lease ran out. The notification as claimed; `None` when another sender has it or it is done.
    pub async fn claim_notification(
        &self,
        id: &str,
        now: i64,
        lease_until: i64,
        lease_until_at: &str,
    ) -> Result<Option<NotificationItem>, StoreError> {
        let values: Item = HashMap::from([
            (":pending".to_owned(), s("pending")),
            (":sending".to_owned(), s("sending")),
            (":now".to_owned(), AttributeValue::N(now.to_string())),
            (":lease".to_owned(), AttributeValue::N(lease_until.to_string())),
            (":sk".to_owned(), s(&keys::outbox_pending(lease_until_at, id).sk)),
        ]);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::outbox(id).to_map()))
            .update_expression("SET #status = :sending, lease_until = :lease, GSI1SK = :sk")
            .condition_expression(
                "attribute_exists(PK) AND (#status = :pending OR (#status = :sending AND lease_until < :now))",
            )
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => out.attributes.map(from_item).transpose(),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(None)
            }
            Err(e) => Err(classify(e)),
        }
    }

    /// Record a failed send of a notification this sender holds (`attempts_before` attempts failed before):
    /// with `retry_at` (RFC 3339) back into the pending index due then, or with `None` into the dead-letter
    /// index (at `now`). `error` is kept for the admins.
    pub async fn fail_notification(
        &self,
        id: &str,
        attempts_before: u32,
        retry_at: Option<&str>,
        now: &str,
        error: &str,
    ) -> Result<Failed, StoreError> {
        let mut values: Item = HashMap::from([
            (":sending".to_owned(), s("sending")),
            (":before".to_owned(), AttributeValue::N(attempts_before.to_string())),
            (":attempts".to_owned(), AttributeValue::N((attempts_before + 1).to_string())),
            (":error".to_owned(), s(error)),
        ]);
        let (update, outcome) = match retry_at {
            Some(at) => {
                let gsi = keys::outbox_pending(at, id);
                values.insert(":status".to_owned(), s("pending"));
                values.insert(":next".to_owned(), s(at));
                values.insert(":sk".to_owned(), s(&gsi.sk));
                (
                    "SET #status = :status, attempts = :attempts, next_attempt_at = :next, last_error = :error, \
                     GSI1SK = :sk REMOVE lease_until",
                    Failed::Retry,
                )
            }
            None => {
                let gsi = keys::outbox_dead(now, id);
                values.insert(":status".to_owned(), s("dead"));
                values.insert(":now".to_owned(), s(now));
                values.insert(":pk".to_owned(), s(&gsi.pk));
                values.insert(":sk".to_owned(), s(&gsi.sk));
                (
                    "SET #status = :status, attempts = :attempts, dead_at = :now, last_error = :error, \
                     GSI1PK = :pk, GSI1SK = :sk REMOVE lease_until, next_attempt_at",
                    Failed::Dead,
                )
            }
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::outbox(id).to_map()))
            .update_expression(update)
            .condition_expression(if attempts_before == 0 {
                "#status = :sending AND (attribute_not_exists(attempts) OR attempts = :before)"
            } else {
                "#status = :sending AND attempts = :before"
            })
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        Ok(if applied(result.map_err(classify))? { outcome } else { Failed::Lost })
    }

    /// An admin's retry of a dead-lettered notification: pending again, due at `now` (RFC 3339), with its
    /// attempts counted from zero. `None`: there is no such notification; `Some(false)`: it is not dead.
    pub async fn retry_notification(&self, id: &str, now: &str) -> Result<Option<bool>, StoreError> {
        let gsi = keys::outbox_pending(now, id);
        let values: Item = HashMap::from([
            (":dead".to_owned(), s("dead")),
            (":pending".to_owned(), s("pending")),
            (":zero".to_owned(), AttributeValue::N("0".into())),
            (":pk".to_owned(), s(&gsi.pk)),
            (":sk".to_owned(), s(&gsi.sk)),
            (":now".to_owned(), s(now)),
        ]);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::outbox(id).to_map()))
            .update_expression(
                "SET #status = :pending, attempts = :zero, GSI1PK = :pk, GSI1SK = :sk, retried_at = :now \
                 REMOVE dead_at, next_attempt_at",
            )
            .condition_expression("attribute_exists(PK) AND #status = :dead")
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        if applied(result.map_err(classify))? {
            return Ok(Some(true));
        }
        let found: Option<NotificationItem> = self.get(&keys::outbox(id), true).await?;
        Ok(found.map(|_| false))
    }

    /// How many notifications are dead-lettered now (the dead-letter index's depth; a count query, no items read).
    pub async fn count_dead_notifications(&self) -> Result<u64, StoreError> {
        self.count_all(self.gsi1_query(keys::OUTBOX_DEAD.to_owned())).await
    }

    /// Sent (or given up on, with `status` `skipped` or `unverified`): out of the pending index for good, and
    /// deleted by the TTL [`super::retention::NOTIFICATION_DAYS`] after `at`.
    /// `secret`: a member of the notification's `data` to forget now (a verification link's token).
    pub async fn finish_notification(
        &self,
        id: &str,
        status: &str,
        message_id: Option<&str>,
        at: &str,
        secret: Option<&str>,
    ) -> Result<(), StoreError> {
        let expires_at = super::retention::after(at, super::retention::NOTIFICATION_DAYS)?;
        let mut values: Item = HashMap::from([
            (":status".to_owned(), s(status)),
            (":at".to_owned(), s(at)),
            (":exp".to_owned(), AttributeValue::N(expires_at.to_string())),
        ]);
        let mut update = String::from("SET #status = :status, finished_at = :at, expires_at = :exp");
        if let Some(m) = message_id {
            values.insert(":m".to_owned(), s(m));
            update.push_str(", message_id = :m");
        }
        update.push_str(" REMOVE GSI1PK, GSI1SK, lease_until, next_attempt_at");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::stored_shape::assert_stored;

    #[test]
    fn the_outbox_family_is_stored_under_its_attribute_names() {
        let mut note = NotificationItem::new(
            "ntf_1",
            "quota_warning",
            "usr_1",
            Some("sol_1"),
            serde_json::json!({"used": 80, "limit": 100}),
            "2026-04-15T10:00:00Z".into(),
        );
        note.status = "dead".into();
        note.attempts = 5;
        note.next_attempt_at = Some("2026-04-15T11:00:00Z".into());
        note.last_error = Some("MessageRejected: address blocked".into());
        note.dead_at = Some("2026-04-15T12:00:00Z".into());
        assert_stored(
            &note,
            &keys::outbox("ntf_1"),
            "notification",
            &[
                "PK",
                "SK",
                "GSI1PK",
                "GSI1SK",
                "entity_type",
                "notification_id",
                "kind",
                "customer_id",
                "solution_id",
                "data",
                "status",
                "created_at",
                "attempts",
                "next_attempt_at",
                "last_error",
                "dead_at",
            ],
        );
    }
}
