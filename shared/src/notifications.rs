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
//!
//! A send SES refuses counts as a failed attempt: the notification goes back to the pending index due after
//! an exponential backoff (5 min, 10, 20, … capped at 6 h), and after [`MAX_ATTEMPTS`] failed attempts it is
//! dead-lettered (the `OUTBOX#dead` index, listed to admins, who may retry it). Permanent and transient SES
//! errors are treated alike (the attempts bound ends both; an outage of a few hours is outlasted by the
//! backoff, a longer one ends in the dead-letter list, from which admins retry). The sender reads only the
//! notifications due by now and pages past everything it has seen, so no number of failing notifications
//! holds up the others.

use crate::money::format::money;
use crate::platform::clock::Clock;
use crate::platform::clock::rfc3339;
use crate::platform::error::ApiError;
use crate::store::Failed;
use crate::store::Store;
use crate::store::outbox::NotificationItem;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

/// How long a claimed notification is left to its sender.
const LEASE_SECONDS: i64 = 120;
/// Failed sends after which a notification is dead-lettered.
pub const MAX_ATTEMPTS: u32 = 8;
/// The wait after the first failed send; it doubles with each further one, up to [`MAX_BACKOFF_SECONDS`].
pub const BASE_BACKOFF_SECONDS: i64 = 300;
pub const MAX_BACKOFF_SECONDS: i64 = 6 * 3_600;

/// The wait before the next attempt after `attempts` failed ones (pure).
pub fn backoff_seconds(attempts: u32) -> i64 {
    let doublings = attempts.saturating_sub(1).min(20);
    BASE_BACKOFF_SECONDS.saturating_mul(1_i64 << doublings).min(MAX_BACKOFF_SECONDS)
}

/// One email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub subject: String,
    pub text: String,
}

fn amount(data: &Value) -> String {
    money(data["amount"].as_i64().unwrap_or(0), data["currency"].as_str().unwrap_or("inr"))
}

fn money_of(data: &Value, key: &str) -> String {
    money(data[key].as_i64().unwrap_or(0), data["currency"].as_str().unwrap_or("inr"))
}

/// An RFC 3339 time in the data, as a date.
fn day_text(data: &Value, key: &str) -> String {
    data[key]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or_else(String::new, |d| d.format("%d %b %Y").to_string())
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
        "payment_request" if d["overage_amount"].as_i64().unwrap_or(0) > 0 && d["amount"] == d["overage_amount"] => (
            "Payment due for your usage beyond the allowance".to_owned(),
            format!(
                "{} is due for {} units used beyond your plan's allowance last period. Pay here: {pay}",
                amount(d),
                d["overage_units"].as_u64().unwrap_or(0)
            ),
        ),
        "payment_request" if d["overage_amount"].as_i64().unwrap_or(0) > 0 => (
            "Payment due for your subscription".to_owned(),
            format!(
                "{} is due for your next period, including {} for {} units used beyond your plan's allowance last period. Pay here: {pay}",
                amount(d),
                money_of(d, "overage_amount"),
                d["overage_units"].as_u64().unwrap_or(0)
            ),
        ),
        "overage_invoiced" => (
            "Your usage beyond the allowance was charged".to_owned(),
            format!(
                "{} was charged for {} units used beyond your plan's allowance of {} last period. The invoice is at {invoices}",
                amount(d),
                d["overage_units"].as_u64().unwrap_or(0),
                d["included"].as_u64().unwrap_or(0)
            ),
        ),
        "spending_cap_reached" => (
            "Your spending cap is reached".to_owned(),
            format!(
                "Your usage this period reached your spending cap of {} ({} units, {} beyond the allowance). Further usage is refused until the period ends on {}, or raise the cap in your subscription settings.",
                money_of(d, "spending_cap"),
                d["used"].as_u64().unwrap_or(0),
                d["overage"].as_u64().unwrap_or(0),
                day_text(d, "period_end")
            ),
        ),
        "quota_80" | "quota_100" if d.get("period_start").is_some() => {
            let pct = d["percent"].as_i64().unwrap_or(0);
            let paying = d["overage_started"].as_bool().unwrap_or(false);
            let subject = if paying {
                "You are now paying for usage beyond your allowance".to_owned()
            } else {
                format!("You have used {pct}% of this period's allowance")
            };
            let next = match (paying, d["limit"].as_str()) {
                (true, _) => format!(
                    "Further usage is charged at the end of the period (so far {}). Set a spending cap in your subscription settings to stop it at an amount.",
                    money_of(d, "overage_charge")
                ),
                (false, Some("hard")) => "At 100% further usage is refused until the period ends, or upgrade for more.".to_owned(),
                _ => "Beyond 100% usage goes on and is charged per unit at the end of the period.".to_owned(),
            };
            (
                subject,
                format!(
                    "You have used {} of the {} units included in this billing period (until {}). {next}",
                    d["used"].as_u64().unwrap_or(0),
                    d["included"].as_u64().unwrap_or(0),
                    day_text(d, "period_end")
                ),
            )
        }
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
        "payment_unapplied_refunded" => (
            "Your payment is being refunded".to_owned(),
            format!(
                "We received {}, but the invoice it paid had been withdrawn in the meantime (for example, a new billing period began), so nothing changed on your subscription. The full amount is on its way back to you through PhonePe; refunds usually reach your account within a few working days. Your invoices are at {invoices}",
                amount(d)
            ),
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
        "solution_suspended" | "solution_retired" => {
            let (what, next) = if n.kind == "solution_suspended" {
                ("has been suspended", "If it is reinstated before then, your subscription renews as usual.")
            } else {
                ("has been retired", "It will not come back.")
            };
            (
                format!("{} is no longer available", d["solution_name"].as_str().unwrap_or("A solution you subscribe to")),
                format!(
                    "{} {what}. Your subscription will not renew and you will not be charged again; it ends on {}. {next}",
                    d["solution_name"].as_str().unwrap_or("A solution you subscribe to"),
                    day(d, "ends_at")
                ),
            )
        }
        "solution_reinstated" => (
            format!("{} is available again", d["solution_name"].as_str().unwrap_or("A solution you subscribe to")),
            format!(
                "{} is available again, and your subscription renews as usual on {}.",
                d["solution_name"].as_str().unwrap_or("A solution you subscribe to"),
                day(d, "renews_at")
            ),
        ),
        crate::auth::invitations::NOTIFICATION_KIND => {
            let org = d["org_name"].as_str().unwrap_or("an organization");
            (
                format!("You are invited to join {org}"),
                format!(
                    "{} invited you to join {org} as {} on the marketplace. To accept, sign in (or sign up) with this address, verify it, and open {}/invitations/{} before {}.\n\nIf you do not know them, ignore this email: nothing happens unless you accept.",
                    d["invited_by"].as_str().unwrap_or("A member"),
                    d["role"].as_str().unwrap_or("member"),
                    app_base_url.trim_end_matches('/'),
                    d["invitation_id"].as_str()?,
                    day(d, "expires_at"),
                ),
            )
        }
        crate::auth::verification::NOTIFICATION_KIND => {
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
    /// Failed sends (each counted on its notification and retried after a backoff) and our own faults.
    pub errors: u32,
    /// Notifications dead-lettered by this round (their last allowed attempt failed).
    pub dead: u32,
    /// Notifications dead-lettered now, all rounds together (the dead-letter index's depth, the metric
    /// `DeadLetters` an alarm watches); `None` when it could not be counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letters: Option<u64>,
}

/// What became of one claimed notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    Sent,
    Skipped,
    Unverified,
    /// SES refused it: back off (or dead-lettered).
    Failed(Failed),
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
    /// Send the notifications due by now while `has_time()`, oldest first, paging through the pending index
    /// once (past the ones another sender holds or that fail now: those are due again only later).
    pub async fn deliver(&self, has_time: impl Fn() -> bool) -> Result<OutboxReport, ApiError> {
        let mut report = OutboxReport { complete: true, ..Default::default() };
        let mut tried = std::collections::HashSet::new();
        let due_by = rfc3339(self.clock.now());
        let mut start = None;
        loop {
            let (page, next) = self.store.due_notifications(&due_by, 50, start.take()).await?;
            for n in page.into_iter().filter(|n| tried.insert(n.notification_id.clone())) {
                if !has_time() {
                    report.complete = false;
                    return Ok(report);
                }
                let sent = self.send_one(&n).await;
                crate::platform::metrics::notification(match &sent {
                    Ok(Some(Delivery::Sent)) => "sent",
                    Ok(Some(Delivery::Skipped)) => "skipped",
                    Ok(Some(Delivery::Unverified)) => "unverified",
                    Ok(Some(Delivery::Failed(Failed::Dead))) => "dead_lettered",
                    Ok(Some(Delivery::Failed(_))) => "retrying",
                    Ok(None) => "held",
                    Err(_) => "error",
                });
                match sent {
                    Ok(Some(Delivery::Sent)) => report.sent += 1,
                    Ok(Some(Delivery::Skipped)) => report.skipped += 1,
                    Ok(Some(Delivery::Unverified)) => report.unverified += 1,
                    Ok(Some(Delivery::Failed(failed))) => {
                        report.errors += 1;
                        report.dead += u32::from(failed == Failed::Dead);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        report.errors += 1;
                        tracing::warn!(notification_id = %n.notification_id, error = %e.detail, "notification not sent; retried when its lease ends");
                    }
                }
            }
            match next {
                Some(k) => start = Some(k),
                None => return Ok(report),
            }
        }
    }

    /// How many notifications wait dead-lettered for an admin, recorded as the `DeadLetters` gauge; `None`
    /// (logged) when the count fails: the delivery round it follows has happened either way.
    pub async fn dead_letter_depth(&self) -> Option<u64> {
        match self.store.count_dead_notifications().await {
            Ok(depth) => {
                crate::platform::metrics::dead_letters(depth);
                Some(depth)
            }
            Err(e) => {
                tracing::warn!(error = %e, "dead-lettered notifications not counted");
                None
            }
        }
    }

    /// What became of one notification; `None`: another sender has it.
    async fn send_one(&self, listed: &NotificationItem) -> Result<Option<Delivery>, ApiError> {
        let now = self.clock.now();
        let lease_until = now.timestamp() + LEASE_SECONDS;
        let lease_at = rfc3339(now + chrono::Duration::seconds(LEASE_SECONDS));
        let Some(claimed) =
            self.store.claim_notification(&listed.notification_id, now.timestamp(), lease_until, &lease_at).await?
        else {
            return Ok(None);
        };
        let n = &claimed;
        let is_link = n.kind == crate::auth::verification::NOTIFICATION_KIND;
        // A verification link's token is forgotten once its mail is done with.
        let secret = is_link.then_some("token");
        // An invitation goes to the invited address, which may have no account yet.
        if n.kind == crate::auth::invitations::NOTIFICATION_KIND {
            return self.send_to_invitee(n, now).await.map(Some);
        }
        // An organization's mail goes to its owner (the customer's contact); a user's to the user.
        let user = crate::identity::orgs::contact(&self.store, &n.customer_id).await?;
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
        self.send_mail(n, &user.email, &email, secret).await.map(Some)
    }

    /// An invitation's mail, to the invited address (whoever holds it; the invitation does nothing unless
    /// they sign in with it, verified, and accept).
    async fn send_to_invitee(
        &self,
        n: &NotificationItem,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Delivery, ApiError> {
        let to = n.data["email"].as_str().map(str::to_owned);
        let email = compose(n, "", &self.app_base_url);
        let (Some(to), Some(email)) = (to, email) else {
            self.store.finish_notification(&n.notification_id, "skipped", None, &rfc3339(now), None).await?;
            return Ok(Delivery::Skipped);
        };
        self.send_mail(n, &to, &email, None).await
    }

    /// Send one composed mail through SES and record what became of it.
    async fn send_mail(
        &self,
        n: &NotificationItem,
        to: &str,
        email: &Email,
        secret: Option<&str>,
    ) -> Result<Delivery, ApiError> {
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
            .destination(aws_sdk_sesv2::types::Destination::builder().to_addresses(to).build())
            .content(content)
            .send()
            .await;
        let sent = match sent {
            Ok(sent) => sent,
            Err(e) => {
                use aws_sdk_sesv2::error::ProvideErrorMetadata;
                let error = match e.code() {
                    Some(code) => format!("{code}: {}", e.message().unwrap_or("")),
                    None => aws_sdk_sesv2::error::DisplayErrorContext(&e).to_string(),
                };
                return Ok(Delivery::Failed(self.failed(n, &error).await?));
            }
        };
        self.store
            .finish_notification(&n.notification_id, "sent", sent.message_id(), &rfc3339(self.clock.now()), secret)
            .await?;
        tracing::info!(notification_id = %n.notification_id, kind = %n.kind, "notification sent");
        Ok(Delivery::Sent)
    }

    /// Record a send SES refused (`error`: what it said): one more attempt, due again after the backoff, or
    /// dead-lettered.
    async fn failed(&self, n: &NotificationItem, error: &str) -> Result<Failed, ApiError> {
        let error: String = error.chars().take(500).collect();
        let now = self.clock.now();
        let attempts = n.attempts + 1;
        let retry_at =
            (attempts < MAX_ATTEMPTS).then(|| rfc3339(now + chrono::Duration::seconds(backoff_seconds(attempts))));
        let failed = self
            .store
            .fail_notification(&n.notification_id, n.attempts, retry_at.as_deref(), &rfc3339(now), &error)
            .await?;
        tracing::warn!(notification_id = %n.notification_id, kind = %n.kind, attempts, retry_at = ?retry_at, outcome = ?failed, error = %error, "ses refused the notification");
        Ok(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_five_minutes_up_to_six_hours() {
        let waits: Vec<i64> = (1..MAX_ATTEMPTS).map(backoff_seconds).collect();
        assert_eq!(waits, [300, 600, 1_200, 2_400, 4_800, 9_600, 19_200]);
        assert_eq!(backoff_seconds(12), MAX_BACKOFF_SECONDS);
        assert_eq!(backoff_seconds(u32::MAX), MAX_BACKOFF_SECONDS);
    }

    #[test]
    fn every_customer_kind_has_an_email_and_others_none() {
        for kind in [
            "renewal_notice",
            "payment_request",
            "payment_reminder",
            "payment_failed",
            "payment_received",
            "payment_unapplied_refunded",
            "upgrade_confirmation",
            "grace_period_ended",
            "quota_80",
            "quota_100",
            "overage_invoiced",
            "spending_cap_reached",
            "solution_suspended",
            "solution_retired",
            "solution_reinstated",
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
        // A usage-priced period: the overage on the renewal, paying overage, the cap.
        let with = |kind: &str, data: serde_json::Value| {
            compose(&NotificationItem::new("n3", kind, "u", None, data, "t".into()), "", "https://app.test")
                .expect("email")
        };
        let renewal = with(
            "payment_request",
            serde_json::json!({"amount": 61_240, "currency": "inr", "overage_amount": 11_340, "overage_units": 11_340}),
        );
        assert!(renewal.text.contains("INR 612.40 is due for your next period, including INR 113.40 for 11340 units"));
        let period = serde_json::json!({"period_start": "2026-11-01T00:00:00Z", "period_end": "2026-12-01T00:00:00Z",
            "used": 100_001, "included": 100_000, "limit": "soft", "overage": 1, "overage_charge": 1, "currency": "inr",
            "percent": 100, "overage_started": true, "spending_cap": 50_000});
        let paying = with("quota_100", period.clone());
        assert_eq!(paying.subject, "You are now paying for usage beyond your allowance");
        assert!(paying.text.contains("100001 of the 100000 units included in this billing period (until 01 Dec 2026)"));
        let cap = with("spending_cap_reached", period);
        assert!(cap.text.contains("spending cap of INR 500.00"), "{}", cap.text);
        let link = NotificationItem::new(
            "n4",
            crate::auth::verification::NOTIFICATION_KIND,
            "u",
            None,
            serde_json::json!({"token": "ev_abc", "email": "a@b.co", "valid_hours": 24}),
            "t".into(),
        );
        let mail = compose(&link, "Asha", "https://app.test/").expect("verification mail");
        assert!(mail.text.contains("https://app.test/verify-email?token=ev_abc") && mail.text.contains("24 hours"));
        let no_token = NotificationItem::new(
            "n5",
            crate::auth::verification::NOTIFICATION_KIND,
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
