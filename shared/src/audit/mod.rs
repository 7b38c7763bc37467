//! The audit trail: admin actions and security events, recorded where they happen and listed by admins
//! (`GET /api/admin/audit`, [`list`]).
//!
//! **What is recorded** (each an [`AuditKind`]; the actor is a user id, or `system` when the platform acted):
//!
//! | kind | actor | subject | where it is recorded |
//! |---|---|---|---|
//! | `partner.approved`, `partner.rejected` | the admin | `partner#<id>` | `partners::applications` (the decision's transaction) |
//! | `solution.approved`, `.rejected`, `.suspended`, `.reinstated`, `.retired`, `.change_approved`, `.change_rejected` | the admin | `solution#<id>` | `partners::solutions::lifecycle` (the step's transaction) |
//! | `quota.reset` | the admin; the upgrading user; `system` (an upgrade paid through PhonePe) | `customer#<id>/solution#<id>` | `usage::admin` (the reset's transaction), `billing::writer` (an upgrade's) |
//! | `tier_limits.set` | the admin | `solution#<id>` or `tiers#default` | `usage::admin` (the limits' transaction) |
//! | `user_tier.set` | the admin | `user#<id>` | `auth::context` (the tier's transaction) |
//! | `refund.requested` | the admin | `payment#<id>` | `billing::refunds` (after the provider accepted it) |
//! | `notification.retried` | the admin | `notification#<id>` | `partners::outbox` (after the retry) |
//! | `auth.login` | the user | `user#<id>` | `auth::sessions` (the new session's transaction) |
//! | `auth.login_failed`, `auth.locked` | `system` | `user#<id>` | `auth::sessions` (after the refusal) |
//! | `token.revoked` | the owner or an admin; `system` (a reused refresh token) | `token#<id>`; `user#<id>` (reuse) | `auth::sessions` (after the revocation) |
//! | `api_key.created`, `api_key.revoked` | the partner's member or an admin | `api_key#<id>` | `partners::api_keys` (after the write) |
//! | `account.exported` | the user | `user#<id>` | `privacy::export` (after the export was read) |
//! | `account.erased` | the user | `user#<id>` | `privacy::erase` (the tombstone's transaction) |
//!
//! Where the action is a DynamoDB transaction, its record is a put in the same transaction (recorded exactly
//! when the action happened); otherwise it is one more write after the action succeeded ([`record_after`]: a
//! failure of that write is logged as an error naming the event, and the action's answer stands). Usage
//! tracking records nothing (it stays one DynamoDB request per event).
//!
//! Failed logins are recorded only for existing accounts, and only those that reach the password check: an
//! attempt refused while the account is locked is not recorded again (the lock is), and an unknown address
//! leaves no record (nothing here tells whether an address is registered). The failure that locks the
//! account is recorded twice: `auth.login_failed` and `auth.locked` (in one transaction).
//!
//! **What a record holds**: kind, time (RFC 3339 UTC), actor, subject, an optional reason (the admin's words)
//! and a few details (ids, hashes, amounts, counts: never a secret, token, password or payout detail). The
//! client's IP address is kept on security events only (it is personal data: see retention).
//!
//! **Retention** (DynamoDB deletes a record at its `expires_at`, the table's TTL attribute):
//! - security events (`auth.*`, `token.revoked`, `api_key.*`, `account.exported`): [`SECURITY_RETENTION_DAYS`]
//!   (400 days: a year of investigations and the annual review, no longer, as they carry IP addresses);
//! - admin decisions and money (everything else): [`RECORD_RETENTION_DAYS`] (8 years: GST records are kept
//!   72 months from the due date of the year's annual return, up to about 7¾ years after a transaction).
//!
//! Records written before kinds existed (partner and solution decisions, quota resets) are read as kinds too
//! (`store::audit`); they have no expiry and are found by subject only.

pub mod list;

pub use list::{AuditEntry, AuditLog, AuditPage, AuditQuery};

use crate::store::audit::AuditItem;
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

/// The actor of what the platform did by itself.
pub const SYSTEM: &str = "system";

/// Days a security event is kept.
pub const SECURITY_RETENTION_DAYS: i64 = 400;
/// Days an admin decision or a money event is kept (8 years).
pub const RECORD_RETENTION_DAYS: i64 = 8 * 366;

/// What happened: a stable dotted name. Never rename one (stored records and clients' filters hold them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditKind {
    PartnerApproved,
    PartnerRejected,
    SolutionApproved,
    SolutionRejected,
    SolutionSuspended,
    SolutionReinstated,
    SolutionRetired,
    SolutionChangeApproved,
    SolutionChangeRejected,
    QuotaReset,
    TierLimitsSet,
    UserTierSet,
    RefundRequested,
    NotificationRetried,
    AuthLogin,
    AuthLoginFailed,
    AuthLocked,
    TokenRevoked,
    ApiKeyCreated,
    ApiKeyRevoked,
    /// A user read the export of their data.
    AccountExported,
    /// A user erased their account (kept with the money records it explains).
    AccountErased,
}

impl AuditKind {
    pub const ALL: [Self; 22] = [
        Self::PartnerApproved,
        Self::PartnerRejected,
        Self::SolutionApproved,
        Self::SolutionRejected,
        Self::SolutionSuspended,
        Self::SolutionReinstated,
        Self::SolutionRetired,
        Self::SolutionChangeApproved,
        Self::SolutionChangeRejected,
        Self::QuotaReset,
        Self::TierLimitsSet,
        Self::UserTierSet,
        Self::RefundRequested,
        Self::NotificationRetried,
        Self::AuthLogin,
        Self::AuthLoginFailed,
        Self::AuthLocked,
        Self::TokenRevoked,
        Self::ApiKeyCreated,
        Self::ApiKeyRevoked,
        Self::AccountExported,
        Self::AccountErased,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PartnerApproved => "partner.approved",
            Self::PartnerRejected => "partner.rejected",
            Self::SolutionApproved => "solution.approved",
            Self::SolutionRejected => "solution.rejected",
            Self::SolutionSuspended => "solution.suspended",
            Self::SolutionReinstated => "solution.reinstated",
            Self::SolutionRetired => "solution.retired",
            Self::SolutionChangeApproved => "solution.change_approved",
            Self::SolutionChangeRejected => "solution.change_rejected",
            Self::QuotaReset => "quota.reset",
            Self::TierLimitsSet => "tier_limits.set",
            Self::UserTierSet => "user_tier.set",
            Self::RefundRequested => "refund.requested",
            Self::NotificationRetried => "notification.retried",
            Self::AuthLogin => "auth.login",
            Self::AuthLoginFailed => "auth.login_failed",
            Self::AuthLocked => "auth.locked",
            Self::TokenRevoked => "token.revoked",
            Self::ApiKeyCreated => "api_key.created",
            Self::ApiKeyRevoked => "api_key.revoked",
            Self::AccountExported => "account.exported",
            Self::AccountErased => "account.erased",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// A security event (kept [`SECURITY_RETENTION_DAYS`], with the client's address), rather than an admin
    /// decision or a money event (kept [`RECORD_RETENTION_DAYS`]).
    pub fn is_security(self) -> bool {
        matches!(
            self,
            Self::AuthLogin
                | Self::AuthLoginFailed
                | Self::AuthLocked
                | Self::TokenRevoked
                | Self::ApiKeyCreated
                | Self::ApiKeyRevoked
                | Self::AccountExported
        )
    }

    /// How long its records are kept.
    pub fn retention(self) -> Duration {
        Duration::days(if self.is_security() { SECURITY_RETENTION_DAYS } else { RECORD_RETENTION_DAYS })
    }
}

/// Subjects: what a record is about (`<family>#<id>`, or a customer of a solution).
pub mod subject {
    /// The families of `<family>#<id>` subjects.
    pub const FAMILIES: &[&str] = &["partner", "solution", "user", "payment", "token", "api_key", "notification"];
    /// The platform's default tier limits.
    pub const DEFAULT_TIERS: &str = "tiers#default";

    pub fn partner(id: &str) -> String {
        format!("partner#{id}")
    }
    pub fn solution(id: &str) -> String {
        format!("solution#{id}")
    }
    pub fn user(id: &str) -> String {
        format!("user#{id}")
    }
    pub fn payment(id: &str) -> String {
        format!("payment#{id}")
    }
    pub fn token(id: &str) -> String {
        format!("token#{id}")
    }
    pub fn api_key(id: &str) -> String {
        format!("api_key#{id}")
    }
    pub fn notification(id: &str) -> String {
        format!("notification#{id}")
    }
    /// A customer (user, organization or anonymous visitor) of a solution.
    pub fn customer_solution(customer_id: &str, solution_id: &str) -> String {
        format!("customer#{customer_id}/solution#{solution_id}")
    }

    /// Whether `subject` is one of the forms above (what the listing's `subject` filter accepts).
    pub fn is_valid(subject: &str) -> bool {
        let id_ok = |id: &str| {
            !id.is_empty() && id.len() <= 160 && id.bytes().all(|b| b.is_ascii_graphic() && b != b'#' && b != b'/')
        };
        if subject == DEFAULT_TIERS {
            return true;
        }
        if let Some((customer, solution)) =
            subject.strip_prefix("customer#").and_then(|rest| rest.split_once("/solution#"))
        {
            return id_ok(customer) && id_ok(solution);
        }
        match subject.split_once('#') {
            Some((family, id)) => FAMILIES.contains(&family) && id_ok(id),
            None => false,
        }
    }
}

/// An event to record: built where it happens, turned into a stored record by [`Event::at`].
#[derive(Debug, Clone)]
pub struct Event {
    kind: AuditKind,
    actor: String,
    subject: String,
    reason: Option<String>,
    details: BTreeMap<String, String>,
    source_ip: Option<String>,
}

impl Event {
    pub fn new(kind: AuditKind, actor: &str, subject: String) -> Self {
        Self { kind, actor: actor.to_owned(), subject, reason: None, details: BTreeMap::new(), source_ip: None }
    }

    /// Why (the admin's words, as they were validated).
    pub fn reason(mut self, reason: Option<&str>) -> Self {
        self.reason = reason.map(str::to_owned);
        self
    }

    /// A fact about it: an id, a hash, an amount, a count (never a secret).
    pub fn detail(mut self, name: &str, value: impl ToString) -> Self {
        self.details.insert(name.to_owned(), value.to_string());
        self
    }

    /// The client's address: kept on security events only (on other events it is dropped).
    pub fn source_ip(mut self, ip: Option<&str>) -> Self {
        self.source_ip = ip.filter(|_| self.kind.is_security()).map(str::to_owned);
        self
    }

    /// The stored record of this event happening at `now`, expiring after its kind's retention.
    pub fn at(self, now: DateTime<Utc>) -> AuditItem {
        let expires_at = (now + self.kind.retention()).timestamp();
        let mut item = AuditItem::new(
            self.kind.as_str(),
            &self.actor,
            &self.subject,
            crate::platform::clock::rfc3339(now),
            expires_at,
        );
        item.reason = self.reason;
        item.details = self.details;
        item.source_ip = self.source_ip;
        item
    }
}

/// Record events after the action they record has succeeded (or, for a refused login, has been refused): one
/// write (a transaction for several). A failure is logged with what was lost, never made the action's (which
/// has happened, and which a caller would otherwise repeat).
pub async fn record_after(store: &crate::store::Store, items: &[AuditItem]) {
    if let Err(e) = store.put_audit(items).await {
        for item in items {
            tracing::error!(error = %e, kind = %item.kind, subject = %item.subject, actor = %item.actor, at = %item.at, "audit record not written");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_stable_dotted_names_that_parse_back() {
        for kind in AuditKind::ALL {
            assert_eq!(AuditKind::parse(kind.as_str()), Some(kind));
            let (family, what) = kind.as_str().split_once('.').expect("dotted");
            assert!(!family.is_empty() && !what.is_empty());
        }
        assert_eq!(AuditKind::parse("partner.approve"), None);
        assert_eq!(AuditKind::PartnerApproved.as_str(), "partner.approved");
        assert_eq!(AuditKind::AuthLoginFailed.as_str(), "auth.login_failed");
    }

    #[test]
    fn security_events_keep_the_address_and_a_shorter_retention() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-04-15T10:00:00Z").expect("time").with_timezone(&Utc);
        let login = Event::new(AuditKind::AuthLoginFailed, SYSTEM, subject::user("usr_1"))
            .source_ip(Some("203.0.113.9"))
            .detail("failures", 2)
            .at(now);
        assert_eq!(login.source_ip.as_deref(), Some("203.0.113.9"));
        assert_eq!(login.expires_at, Some(now.timestamp() + 400 * 86_400));
        assert_eq!(
            (login.kind.as_str(), login.actor.as_str(), login.at.as_str()),
            ("auth.login_failed", "system", "2026-04-15T10:00:00Z")
        );
        let refund = Event::new(AuditKind::RefundRequested, "usr_a", subject::payment("pay_1"))
            .source_ip(Some("203.0.113.9"))
            .reason(Some("duplicate"))
            .at(now);
        assert_eq!(refund.source_ip, None);
        assert_eq!(refund.expires_at, Some(now.timestamp() + 8 * 366 * 86_400));
        assert_eq!(refund.reason.as_deref(), Some("duplicate"));
    }

    #[test]
    fn subjects_have_their_known_forms() {
        for ok in [
            "partner#prt_1",
            "solution#sol_1",
            "user#usr_1",
            "payment#pay_1",
            "token#tok_1",
            "api_key#key_1",
            "notification#payment-received:pay_1",
            "customer#usr_1/solution#sol_1",
            "customer#anon:visitor-1/solution#sol_1",
            "tiers#default",
        ] {
            assert!(subject::is_valid(ok), "{ok}");
        }
        for bad in ["", "partner", "partner#", "thing#1", "user#a#b", "user#a b", "customer#/solution#s", "tiers#x"] {
            assert!(!subject::is_valid(bad), "{bad}");
        }
        assert!(!subject::is_valid(&format!("user#{}", "a".repeat(161))));
    }
}
