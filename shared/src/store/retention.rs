//! How long each kind of item stays in the table: the one place the retention policy is written down. Every
//! `entity_type` the store writes has a row (a test reads the store's code for the kinds it writes; another
//! scans a table after a full flow and checks each item's `expires_at` against its row), and the README's
//! "Retention" table is [`markdown_table`] verbatim (a test compares them).
//!
//! DynamoDB's TTL deletes an item some time after its `expires_at` (epoch seconds) has passed, usually within
//! days; readers never rely on the deletion: each one checks the item's own validity (a token's `exp`, a
//! window's start, a link's `valid_until`).

/// When an item kind leaves the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Deleted by the TTL at most `max_days` after it was last written; `when` says exactly when.
    Expires { max_days: u32, when: &'static str },
    /// Kept while in progress; once final, deleted by the TTL at most `max_days` later.
    ExpiresOnceDone { max_days: u32, when: &'static str },
    /// No TTL: kept for as long as `why` says (deleted by its own use case, if ever).
    Kept { why: &'static str },
}

/// The retention of one `entity_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindRetention {
    pub entity_type: &'static str,
    /// What the item is, in a few words.
    pub what: &'static str,
    pub retention: Retention,
}

const fn expires(entity_type: &'static str, what: &'static str, max_days: u32, when: &'static str) -> KindRetention {
    KindRetention { entity_type, what, retention: Retention::Expires { max_days, when } }
}

const fn once_done(entity_type: &'static str, what: &'static str, max_days: u32, when: &'static str) -> KindRetention {
    KindRetention { entity_type, what, retention: Retention::ExpiresOnceDone { max_days, when } }
}

const fn kept(entity_type: &'static str, what: &'static str, why: &'static str) -> KindRetention {
    KindRetention { entity_type, what, retention: Retention::Kept { why } }
}

const ACCOUNT: &str = "while the account exists (`DELETE /api/me` erases it)";
const ORG: &str = "while the organization exists";
const CATALOG: &str = "while the solution exists (retired solutions stay for their subscribers' records)";
const MONEY: &str = "money record: kept for the accounts (GST: at least 72 months from the annual return's due \
                     date; personal fields redacted when the account is erased)";
const LEDGER: &str = "partners' ledger: kept for the accounts, as invoices";

/// Every kind of item and its retention, in the order of the key table in `keys.rs`.
pub const RETENTION: &[KindRetention] = &[
    kept("user", "an account", ACCOUNT),
    kept("email", "an email address's owner (uniqueness guard)", ACCOUNT),
    kept(
        "erased_account",
        "what is left of an erased account: its id and when",
        "as long as the money records that name its id",
    ),
    expires("email_verification", "an email verification link", 2, "a day after the link stops being valid (24 h)"),
    expires("verification_sends", "verification mails sent (throttle)", 2, "when its counting window ends"),
    kept("entitlement", "a user's or organization's tier for a solution", "while the subscription or grant lasts"),
    kept("org", "an organization", ORG),
    kept("org_member", "a membership and its role", "while the member belongs to the organization"),
    kept("personal_org", "a user's personal organization (creation guard)", ACCOUNT),
    kept("partner_org", "a partner's organization (creation guard)", "while the partner exists"),
    expires("org_invitation", "an invitation to an organization", 38, "30 days after it stops being valid (7 days)"),
    kept("solution", "a solution", CATALOG),
    kept("tier_definition", "a tier's limits and prices", CATALOG),
    kept("solution_hold", "a suspension or retirement applied to subscribers", CATALOG),
    expires("token", "an issued access or solution token", 32, "a day after the token expires"),
    expires("token_family", "a session (refresh-token family)", 32, "a day after its refresh tokens stop working"),
    expires("refresh_token", "a refresh token (hashed)", 32, "with its session"),
    expires(
        "usage_counter",
        "a customer's usage of a solution on a day, a month or a billing period",
        401,
        "400 days after the day (history)",
    ),
    expires("idempotency", "the answer to a usage event's Idempotency-Key", 3, "48 hours after the event"),
    expires("request_record", "the answer to an idempotent request", 3, "48 hours after the request"),
    once_done(
        "notification",
        "a mail in the outbox",
        31,
        "30 days after it is sent or given up on; dead-lettered ones stay until an admin retries them",
    ),
    kept("subscription", "a subscription", MONEY),
    once_done(
        "checkout_slot",
        "a user's checkout in progress for a solution",
        31,
        "30 days after it was opened (a checkout left unpaid expires after a day)",
    ),
    kept("provider_ref", "our id of a provider's object", MONEY),
    kept("provider_customer", "a user's customer at a provider", MONEY),
    kept("payment", "a payment", MONEY),
    kept("refund", "a refund", MONEY),
    expires("webhook_event", "a received webhook (deduplication)", 35, "35 days (providers retry for up to 3 days)"),
    kept("phonepe_order", "a PhonePe checkout order", MONEY),
    kept("invoice", "an invoice (its PDF in the invoices bucket)", MONEY),
    kept("invoice_counter", "the last invoice number of a financial year", "the numbering must never repeat"),
    kept("partner", "a partner (application and profile)", "while the partner exists"),
    kept("partner_link", "a user's partner", "while the partner exists"),
    expires("audit", "an audit record", 8 * 366, "400 days for security events, 8 years for admin decisions and money"),
    expires("quota_reset_audit", "a quota reset recorded before resets were audit records", 8 * 366, "8 years"),
    kept("api_key", "a partner API key (hashed)", "while the partner exists (revoked keys stay for the audit)"),
    kept("review", "a review of a solution", "while the solution exists (anonymised when its author is erased)"),
    expires("solution_stats", "a solution's conversions on a day (analytics)", 401, "400 days after the day"),
    kept("posting", "a revenue posting", LEDGER),
    kept("statement", "a partner's monthly statement and payout", LEDGER),
    expires("login_throttle", "an account's login failures", 2, "a day after the last failure"),
    expires("rate_window", "a client's requests in a window (per-IP limit)", 2, "when its window ends"),
];

/// Days a notification stays once sent or given up on.
pub const NOTIFICATION_DAYS: i64 = 30;
/// How long usage counters are kept (the history users and partners read).
pub const USAGE_COUNTER_DAYS: i64 = 400;
/// Days a checkout slot stays after it was opened.
pub const CHECKOUT_SLOT_DAYS: i64 = 30;
/// Days a solution's daily analytics counters stay after their day (as usage history).
pub const SOLUTION_STATS_DAYS: i64 = 400;

/// `days` after `at` (RFC 3339, or a `yyyy-mm-dd` day from its start, UTC), in epoch seconds: an `expires_at`.
pub fn after(at: &str, days: i64) -> Result<i64, super::StoreError> {
    let start = chrono::DateTime::parse_from_rfc3339(at).map(|t| t.timestamp()).or_else(|_| {
        chrono::NaiveDate::parse_from_str(at, "%Y-%m-%d")
            .map(|d| d.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp()))
    });
    start.map(|s| s + days * 86_400).map_err(|_| super::StoreError::Other(format!("not a time: {at:?}")))
}

/// The retention of `entity_type`, if it is a known kind.
pub fn of(entity_type: &str) -> Option<&'static KindRetention> {
    RETENTION.iter().find(|k| k.entity_type == entity_type)
}

/// The README's retention table.
pub fn markdown_table() -> String {
    let mut out = String::from("| item (`entity_type`) | what | kept |\n|---|---|---|\n");
    for k in RETENTION {
        let kept = match k.retention {
            Retention::Expires { when, .. } => format!("expires: {when}"),
            Retention::ExpiresOnceDone { when, .. } => format!("expires once done: {when}"),
            Retention::Kept { why } => format!("no TTL: {why}"),
        };
        out.push_str(&format!("| `{}` | {} | {} |\n", k.entity_type, k.what, kept));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_row() {
        let mut seen = std::collections::BTreeSet::new();
        for k in RETENTION {
            assert!(seen.insert(k.entity_type), "{} listed twice", k.entity_type);
        }
        assert_eq!(
            of("token").map(|k| k.retention),
            Some(Retention::Expires { max_days: 32, when: "a day after the token expires" })
        );
        assert!(of("nothing").is_none());
        assert_eq!(after("2026-12-01T10:00:00Z", 1).ok(), Some(1_796_119_200 + 86_400));
        assert_eq!(after("2026-12-01", 400).ok(), Some(1_796_083_200 + 400 * 86_400));
        assert!(after("yesterday", 1).is_err());
        assert!(markdown_table().contains("| `payment` | a payment | no TTL: money record"));
    }
}
