//! The admins' view of the email outbox (served by the `partners` function, with the other `/api/admin`
//! routes): notifications dead-lettered after their last allowed attempt (`crate::notifications` sends them),
//! and the retry that puts one back into the pending index with its attempts counted from zero.
//!
//! A notification's `data` is never shown: a verification mail's carries the link's token.

use super::{Caller, PartnerService, admin_only, bad_cursor, now_rfc3339, page_limit};
use crate::audit::{self, AuditKind, Event, subject};
use crate::platform::error::codes::{NOTIFICATION_NOT_DEAD, NOTIFICATION_NOT_FOUND};
use crate::platform::error::{ApiError, FieldError};
use crate::store::keys;
use crate::store::outbox::NotificationItem;
use serde::Serialize;

/// A notification as admins see it (no `data`).
#[derive(Debug, Clone, Serialize)]
pub struct NotificationView {
    pub notification_id: String,
    pub kind: String,
    pub customer_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solution_id: Option<String>,
    pub status: String,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_at: Option<String>,
    pub created_at: String,
}

impl From<&NotificationItem> for NotificationView {
    fn from(n: &NotificationItem) -> Self {
        Self {
            notification_id: n.notification_id.clone(),
            kind: n.kind.clone(),
            customer_id: n.customer_id.clone(),
            solution_id: n.solution_id.clone(),
            status: n.status.clone(),
            attempts: n.attempts,
            last_error: n.last_error.clone(),
            next_attempt_at: n.next_attempt_at.clone(),
            dead_at: n.dead_at.clone(),
            created_at: n.created_at.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct NotificationList {
    pub notifications: Vec<NotificationView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

fn not_found() -> ApiError {
    let mut e = ApiError::not_found(NOTIFICATION_NOT_FOUND, "no notification with this id");
    e.errors = vec![FieldError::new("id", "no notification with this id")];
    e
}

/// Notification ids are ours (`payment-received:pay_…`): short, of letters, digits and `-_:.`.
fn plausible_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 200
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
}

impl PartnerService {
    /// `GET /api/admin/notifications/dead`: dead-lettered notifications, newest first.
    pub async fn dead_notifications(
        &self,
        caller: &Caller,
        limit: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<NotificationList, ApiError> {
        admin_only(caller)?;
        let (items, next_cursor) = self
            .store
            .gsi1_typed_page::<NotificationItem>(keys::OUTBOX_DEAD.to_owned(), page_limit(limit)?, cursor)
            .await?
            .map_err(|()| bad_cursor())?;
        Ok(NotificationList { notifications: items.iter().map(NotificationView::from).collect(), next_cursor })
    }

    /// `POST /api/admin/notifications/{id}/retry`: a dead-lettered notification is pending again, due now,
    /// with a fresh allowance of attempts. 404 for an unknown id, 409 `notification_not_dead` for one that
    /// is not dead-lettered (pending, being sent, or done).
    pub async fn retry_notification(&self, caller: &Caller, id: &str) -> Result<NotificationView, ApiError> {
        admin_only(caller)?;
        if !plausible_id(id) {
            return Err(not_found());
        }
        let now = now_rfc3339(self.clock.as_ref());
        match self.store.retry_notification(id, &now).await? {
            None => Err(not_found()),
            Some(false) => Err(ApiError::conflict(
                NOTIFICATION_NOT_DEAD,
                "only a dead-lettered notification can be retried; this one is pending, being sent or done",
            )),
            Some(true) => {
                let item: NotificationItem = self.store.get(&keys::outbox(id), true).await?.ok_or_else(not_found)?;
                tracing::info!(notification_id = %id, admin = %caller.principal.user_id, "dead-lettered notification retried");
                let event =
                    Event::new(AuditKind::NotificationRetried, &caller.principal.user_id, subject::notification(id))
                        .detail("kind", &item.kind)
                        .detail("customer_id", &item.customer_id);
                audit::record_after(&self.store, &[self.audit(event)]).await;
                Ok(NotificationView::from(&item))
            }
        }
    }
}
