//! Email notifications from the outbox, sent through Amazon SES (v2). Every notification is written once (a
//! deterministic id, a conditional put) by the use case that decides it; this sender claims each pending one
//! with a lease, sends it, and marks it sent, which takes it out of the pending index. A sender that dies
//! after SES accepted a message but before marking it leaves it claimed until the lease runs out; that window
//! (seconds) is the only way a message could go twice.
//!
//! Only verified addresses get mail: a notification for a customer whose address is not verified is closed
//! unsent with status `unverified` (it is not kept for later), except the verification mail itself, which
//! goes only while the address is still the account's and unverified (else `skipped`). A link's token is
//! removed from the outbox item once its mail is sent or closed.

use crate::clock::Clock;
use crate::error::ApiError;
use crate::invoices::money;
use crate::store::Store;
use crate::store::items::NotificationItem;
use crate::tokens::rfc3339;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

/// How long a claimed notification is left to its sender.
const LEASE_SECONDS: i64 = 120;

/// One email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub subject: String,
    pub text: String,
}

fn amount(data: &Value) -> String {
    money(data["amount"].as_i64().unwrap_or(0), data["currency"].as_str().unwrap_or("inr"))
}

fn day(data: &Value, key: &str) -> String {
    data[key]
        .as_i64()
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map_or_else(String::new, |d| d.format("%d %b %Y").to_string())
}

/// The email of a notification (pure). `None`: a kind that is not emailed to the customer.
pub fn compose(n: &NotificationItem, name: &str, app_base_url: &str) -> Option<Email> {
    let d = &n.data;
    let hello = if name.is_empty() { "Hello,".to_owned() } else { format!("Hello {name},") };
    let pay = d["pay_url"].as_str().unwrap_or(app_base_url).to_owned();
    let invoices = format!("{}/billing/invoices", app_base_url.trim_end_matches('/'));
    let (subject, body) = match n.kind.as_str() {
        "renewal_notice" => (
            "Your subscription renews soon".to_owned(),
            format!(
                "Your {} plan renews on {} for {}. We will send you a payment link on that day.",
                d["tier"].as_str().unwrap_or("paid"),
                day(d, "renews_at"),
                amount(d)
            ),
        ),
        "payment_request" => {
            ("Payment due for your subscription".to_owned(), format!("{} is due for your next period. Pay here: {pay}", amount(d)))
        }
        "payment_reminder" => (
            "Reminder: payment due".to_owned(),
            format!("{} is still due for your subscription. Your plan continues during a short grace period; pay here: {pay}", amount(d)),
        ),
        "payment_failed" | "payment_action_required" => (
            "Your payment did not go through".to_owned(),
            format!("A payment of {} did not go through. You can try again from your billing page: {app_base_url}", amount(d)),
        ),
        "payment_received" => (
            "Payment received".to_owned(),
            format!("We received {}. Thank you! Your invoice is at {invoices}", amount(d)),
        ),
        "upgrade_confirmation" => (
            "Your plan was upgraded".to_owned(),
            format!("Your subscription is now on the {} plan, effective immediately.", d["tier"].as_str().unwrap_or("new")),
        ),
        "grace_period_ended" => (
            "Your subscription has ended".to_owned(),
            "The renewal was not paid within the grace period, so your plan is back to free. You can subscribe again at any time."
                .to_owned(),
        ),
        crate::verification::NOTIFICATION_KIND => {
            let token = d["token"].as_str()?;
            (
                "Verify your email address".to_owned(),
                format!(
                    "Please confirm that this is your email address by opening this link within {} hours:\n\n{}/verify-email?token={token}\n\nIf you did not create an account, ignore this email: nothing happens without the link.",
                    d["valid_hours"].as_i64().unwrap_or(24),
                    app_base_url.trim_end_matches('/'),
                ),
            )
        }
        "quota_80" | "quota_100" => (
            format!("You have used {}% of today's quota", d["percent"].as_i64().unwrap_or(0)),
            format!(
                "You have used {} of {} requests today ({}). The quota restarts at midnight, or upgrade for more.",
                d["used"].as_u64().unwrap_or(0),
                d["limit"].as_u64().unwrap_or(0),
                d["date"].as_str().unwrap_or("")
            ),
        ),
        _ => return None,
    };
    Some(Email { subject, text: format!("{hello}\n\n{body}\n\n— The Marketplace team\n") })
}

/// What a delivery round did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OutboxReport {
    pub complete: bool,
    pub sent: u32,
    /// Kinds not emailed to customers, customers without an address, or verification links for an address
    /// verified already (or no longer the account's): closed without sending.
    pub skipped: u32,
    /// Notifications for an address that is not verified (anything but the verification mail): dropped
    /// unsent, with status `unverified`.
    pub unverified: u32,
    pub errors: u32,
}

/// What became of one claimed notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    Sent,
    Skipped,
    Unverified,
}

#[derive(Clone)]
pub struct Outbox {
    pub store: Store,
    pub ses: aws_sdk_sesv2::Client,
    /// The verified sender address.
    pub from: String,
    pub app_base_url: String,
    pub clock: Arc<dyn Clock>,
}

impl Outbox {
    /// Send pending notifications while `has_time()`.
    pub async fn deliver(&self, has_time: impl Fn() -> bool) -> Result<OutboxReport, ApiError> {
        let mut report = OutboxReport { complete: true, ..Default::default() };
        let mut tried = std::collections::HashSet::new();
        loop {
            let page = self.store.pending_notifications(50).await?;
            let fresh: Vec<_> = page.into_iter().filter(|n| tried.insert(n.notification_id.clone())).collect();
            if fresh.is_empty() {
                return Ok(report);
            }
            for n in fresh {
                if !has_time() {
                    report.complete = false;
                    return Ok(report);
                }
                match self.send_one(&n).await {
                    Ok(Some(Delivery::Sent)) => report.sent += 1,
                    Ok(Some(Delivery::Skipped)) => report.skipped += 1,
                    Ok(Some(Delivery::Unverified)) => report.unverified += 1,
                    Ok(None) => {}
                    Err(e) => {
                        report.errors += 1;
                        tracing::warn!(notification_id = %n.notification_id, error = %e.detail, "notification not sent; retried later");
                    }
                }
            }
        }
    }

    /// What became of one notification; `None`: another sender has it.
    async fn send_one(&self, n: &NotificationItem) -> Result<Option<Delivery>, ApiError> {
        let now = self.clock.now();
        if !self.store.claim_notification(&n.notification_id, now.timestamp(), now.timestamp() + LEASE_SECONDS).await? {
            return Ok(None);
        }
        let is_link = n.kind == crate::verification::NOTIFICATION_KIND;
        // A verification link's token is forgotten once its mail is done with.
        let secret = is_link.then_some("token");
        let user = self.store.get_user(&n.customer_id).await?;
        if let Some(u) = &user {
            // A link goes only while the address is the account's and unverified; anything else only to a
            // verified address (never mail an address nobody proved they own).
            let refused = if is_link {
                (u.email_verified || n.data["email"].as_str() != Some(u.email.as_str())).then_some(Delivery::Skipped)
            } else {
                (!u.email_verified).then_some(Delivery::Unverified)
            };
            if let Some(refused) = refused {
                let status = if refused == Delivery::Unverified { "unverified" } else { "skipped" };
                self.store.finish_notification(&n.notification_id, status, None, &rfc3339(now), secret).await?;
                tracing::info!(notification_id = %n.notification_id, kind = %n.kind, status, "notification not sent");
                return Ok(Some(refused));
            }
        }
        let email = user.as_ref().and_then(|u| compose(n, &u.name, &self.app_base_url));
        let (Some(user), Some(email)) = (user, email) else {
            self.store.finish_notification(&n.notification_id, "skipped", None, &rfc3339(now), secret).await?;
            return Ok(Some(Delivery::Skipped));
        };
        let content = aws_sdk_sesv2::types::EmailContent::builder()
            .simple(
                aws_sdk_sesv2::types::Message::builder()
                    .subject(
                        aws_sdk_sesv2::types::Content::builder()
                            .data(&email.subject)
                            .charset("UTF-8")
                            .build()
                            .map_err(ApiError::internal)?,
                    )
                    .body(
                        aws_sdk_sesv2::types::Body::builder()
                            .text(
                                aws_sdk_sesv2::types::Content::builder()
                                    .data(&email.text)
                                    .charset("UTF-8")
                                    .build()
                                    .map_err(ApiError::internal)?,
                            )
                            .build(),
                    )
                    .build(),
            )
            .build();
        let sent = self
            .ses
            .send_email()
            .from_email_address(&self.from)
            .destination(aws_sdk_sesv2::types::Destination::builder().to_addresses(&user.email).build())
            .content(content)
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(error = %aws_sdk_sesv2::error::DisplayErrorContext(&e), "ses send failed");
                ApiError::unavailable(60)
            })?;
        self.store
            .finish_notification(&n.notification_id, "sent", sent.message_id(), &rfc3339(self.clock.now()), secret)
            .await?;
        tracing::info!(notification_id = %n.notification_id, kind = %n.kind, "notification sent");
        Ok(Some(Delivery::Sent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_customer_kind_has_an_email_and_others_none() {
        for kind in [
            "renewal_notice",
            "payment_request",
            "payment_reminder",
            "payment_failed",
            "payment_received",
            "upgrade_confirmation",
            "grace_period_ended",
            "quota_80",
            "quota_100",
        ] {
            let n = NotificationItem::new(
                "n1",
                kind,
                "usr_1",
                None,
                serde_json::json!({"amount": 49_900, "currency": "inr",
                "pay_url": "https://app.test/billing/pay?invoice_id=inv_1", "percent": 80, "used": 80, "limit": 100}),
                "t".into(),
            );
            let e = compose(&n, "Asha", "https://app.test").unwrap_or_else(|| panic!("{kind}"));
            assert!(e.text.starts_with("Hello Asha,") && !e.subject.is_empty(), "{kind}");
        }
        let n = NotificationItem::new(
            "n2",
            "payment_request",
            "u",
            None,
            serde_json::json!({"amount": 49_900, "currency": "inr",
            "pay_url": "https://app.test/pay"}),
            "t".into(),
        );
        assert!(compose(&n, "", "https://app.test").expect("email").text.contains("INR 499.00"));
        let link = NotificationItem::new(
            "n4",
            crate::verification::NOTIFICATION_KIND,
            "u",
            None,
            serde_json::json!({"token": "ev_abc", "email": "a@b.co", "valid_hours": 24}),
            "t".into(),
        );
        let mail = compose(&link, "Asha", "https://app.test/").expect("verification mail");
        assert!(mail.text.contains("https://app.test/verify-email?token=ev_abc") && mail.text.contains("24 hours"));
        let no_token = NotificationItem::new(
            "n5",
            crate::verification::NOTIFICATION_KIND,
            "u",
            None,
            serde_json::json!({}),
            "t".into(),
        );
        assert_eq!(compose(&no_token, "A", "https://app.test"), None);
        let ops = NotificationItem::new("n3", "unapplied_payment", "u", None, serde_json::json!({}), "t".into());
        assert_eq!(compose(&ops, "A", "https://app.test"), None);
    }
}
