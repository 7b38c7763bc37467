//! The key schema of the single table. **Nothing outside this module formats a key or a prefix.**
//!
//! Table attributes: `PK`, `SK`, `GSI1PK`/`GSI1SK` … `GSI3PK`/`GSI3SK` (indexes projecting all attributes),
//! `GSI4PK`/`GSI4SK` (keys only: day counters), `entity_type`, `expires_at` (TTL, epoch seconds).
//!
//! | access pattern                                  | index | key condition                                     |
//! |-------------------------------------------------|-------|---------------------------------------------------|
//! | user by id                                      | table | PK=`USER#<user_id>`, SK=`PROFILE`                 |
//! | user id by normalised email (uniqueness guard)  | table | PK=`EMAIL#<email>`, SK=`EMAIL`                    |
//! | an erased account's tombstone (no email, no name) | table | PK=`USER#<user_id>`, SK=`ERASED`                |
//! | an email verification link by hash (TTL 24 h)   | table | PK=`EMAILVERIFY#<sha256>`, SK=`EMAILVERIFY`       |
//! | a user's verification mails sent (throttle, TTL) | table | PK=`USER#<user_id>`, SK=`VERIFYSENDS`            |
//! | a user's tier for a solution                    | table | PK=`USER#<user_id>`, SK=`TIER#<solution_id>`      |
//! | an organization's tier for a solution           | table | PK=`ORG#<org_id>`, SK=`TIER#<solution_id>`        |
//! | an organization                                 | table | PK=`ORG#<org_id>`, SK=`META`                      |
//! | an organization's members                       | table | PK=`ORG#<org_id>`, SK begins_with `MEMBER#`       |
//! | one membership (role)                           | table | PK=`ORG#<org_id>`, SK=`MEMBER#<user_id>`          |
//! | a user's organizations, oldest first            | GSI1  | GSI1PK=`USER#<user_id>#ORGS`, GSI1SK=`<joined>#<org_id>` (memberships) |
//! | a user's personal organization (creation guard) | table | PK=`USER#<user_id>`, SK=`PERSONALORG`             |
//! | a partner's organization (creation guard)       | table | PK=`PARTNER#<partner_id>`, SK=`ORG`               |
//! | an invitation to an organization                | table | PK=`INVITE#<invitation_id>`, SK=`INVITE`          |
//! | an organization's invitations, newest first     | GSI1  | GSI1PK=`ORG#<org_id>#INVITES`, GSI1SK=`<created>#<invitation_id>` |
//! | the invitations to an address, newest first     | GSI2  | GSI2PK=`INVITEE#<normalised email>`, GSI2SK=`<created>#<invitation_id>` |
//! | a user's profile and all tiers (user context)   | table | PK=`USER#<user_id>`                               |
//! | a user's tiers only                             | table | PK=`USER#<user_id>`, SK begins_with `TIER#`       |
//! | solution by id                                  | table | PK=`SOLUTION#<solution_id>`, SK=`META`            |
//! | solutions by status, newest first               | GSI1  | GSI1PK=`SOLUTIONS#<status>`, GSI1SK=`<created>#<id>` |
//! | a solution's tier definition                    | table | PK=`SOLUTION#<solution_id>`, SK=`TIERDEF#<tier>`  |
//! | platform default tier definitions               | table | PK=`TIERDEF#default`, SK=`TIERDEF#<tier>`         |
//! | issued token by id                              | table | PK=`TOKEN#<token_id>`, SK=`TOKEN`                 |
//! | a user's tokens, newest first                   | GSI1  | GSI1PK=`USER#<user_id>#TOKENS`, GSI1SK=`<issued>#<token_id>` |
//! | token family (session) state                    | table | PK=`FAMILY#<family_id>`, SK=`FAMILY`              |
//! | refresh token by hash                           | table | PK=`REFRESH#<sha256>`, SK=`REFRESH`               |
//! | a customer's daily usage of a solution          | table | PK=`USAGE#<customer_id>`, SK=`DAY#<date>#<solution_id>` |
//! | a customer's usage over a date range            | table | PK=`USAGE#<customer_id>`, SK between `DAY#<from>` and `DAY#<to>~` |
//! | a customer's monthly usage of a solution        | table | PK=`USAGE#<customer_id>`, SK=`MONTH#<yyyy-mm>#<solution_id>` |
//! | an idempotency record of a usage event          | table | PK=`IDEMPOTENCY#<customer>#<solution>#<sha256(key)>`, SK=`IDEMPOTENCY` (a member for an organization: customer = `<org_id>/<user_id>`) |
//! | an outbox notification (delivered by billing)   | table | PK=`OUTBOX#<notification_id>`, SK=`OUTBOX`        |
//! | pending outbox notifications due by a time, oldest first (leased and backing-off ones later) | GSI1 | GSI1PK=`OUTBOX#pending`, GSI1SK=`<next attempt, RFC 3339>#<id>` <= `<now>#~` |
//! | dead-lettered outbox notifications, newest first | GSI1 | GSI1PK=`OUTBOX#dead`, GSI1SK=`<dead at>#<id>`      |
//! | subscription by id                              | table | PK=`SUBSCRIPTION#<subscription_id>`, SK=`SUBSCRIPTION` |
//! | a user's subscriptions, newest first            | GSI1  | GSI1PK=`USER#<user_id>#SUBSCRIPTIONS`, GSI1SK=`<created>#<id>` |
//! | a solution's subscriptions, oldest first (sparse: set on create and on every save, so a subscription written before the index existed is listed from its next save; `billing` job `index-subscriptions` backfills the rest) | GSI3 | GSI3PK=`SOLUTION#<solution_id>#SUBSCRIPTIONS`, GSI3SK=`<created>#<id>` |
//! | a solution's subscription hold (suspension, retirement, reinstatement the billing run applies to its subscribers) | table | PK=`SOLUTIONHOLD#<solution_id>`, SK=`HOLD` |
//! | holds not yet applied to every subscriber, oldest first | GSI1 | GSI1PK=`SOLUTIONHOLDS#pending`, GSI1SK=`<at>#<solution_id>` (sparse) |
//! | a user's one checkout in progress for a solution | table | PK=`CHECKOUT#<user_id>#<solution_id>`, SK=`CHECKOUT` |
//! | our id of a provider object (subscription, customer) | table | PK=`PROVIDERREF#<provider>#<kind>#<provider_id>`, SK=`REF` |
//! | a user's customer at a provider                 | table | PK=`PROVIDERCUSTOMER#<provider>#<user_id>`, SK=`CUSTOMER` |
//! | a payment                                       | table | PK=`PAYMENT#<payment_id>`, SK=`PAYMENT`           |
//! | a payment's refunds                             | table | PK=`PAYMENT#<payment_id>`, SK begins_with `REFUND#` |
//! | a user's payments and refunds, newest first     | GSI1  | GSI1PK=`USER#<user_id>#PAYMENTS`, GSI1SK=`<at>#<id>` |
//! | a received webhook event (deduplication, 35 days) | table | PK=`WEBHOOK#<provider>#<event_id>`, SK=`WEBHOOK` |
//! | the stored answer of an idempotent request      | table | PK=`IDEMPOTENCY#<scope>#<user_id>#<sha256(key)>`, SK=`IDEMPOTENCY` |
//! | a PhonePe checkout order (one payment attempt)  | table | PK=`PHONEPEORDER#<merchant_order_id>`, SK=`ORDER` |
//! | an invoice (open payment request or issued)     | table | PK=`INVOICE#<invoice_id>`, SK=`INVOICE`           |
//! | a user's invoices, newest first                 | GSI1  | GSI1PK=`USER#<user_id>#INVOICES`, GSI1SK=`<created>#<id>` |
//! | the last invoice number of a financial year     | table | PK=`COUNTER#INVOICE#<fy>`, SK=`COUNTER`           |
//! | subscriptions the billing run must look at, by due time | GSI2 | GSI2PK=`BILLING#DUE`, GSI2SK=`<due:012>#<id>` (sparse) |
//! | PhonePe orders and refunds not final yet (reconciliation) | GSI2 | GSI2PK=`PHONEPE#OPEN`, GSI2SK=`<kind>#<created>#<id>` (sparse) |
//! | a billing run's checkpoint                      | table | PK=`BILLINGRUN#<job>#<date>`, SK=`RUN`            |
//! | a partner's solutions, newest first            | GSI2  | GSI2PK=`PARTNER#<partner_id>#SOLUTIONS`, GSI2SK=`<created>#<id>` |
//! | a partner (application and profile)            | table | PK=`PARTNER#<partner_id>`, SK=`PROFILE`           |
//! | partners by status (applications to review)     | GSI1  | GSI1PK=`PARTNERS#<status>`, GSI1SK=`<created>#<id>` |
//! | a user's partner (one application per user)     | table | PK=`USER#<user_id>`, SK=`PARTNER`                 |
//! | an audit record, by its subject, newest first (`partner#<id>`, `solution#<id>`, `user#<id>`, `payment#<id>`, `token#<id>`, `api_key#<id>`, `notification#<id>`, `tiers#default`) | table | PK=`AUDIT#<subject>`, SK=`<at>#<audit_id>` |
//! | a customer × solution's audit records (quota resets), newest first | table | PK=`AUDIT#quota#<customer>#<solution>` (subject `customer#<customer>/solution#<solution>`), SK=`<at>#<audit_id>` |
//! | audit records of a UTC day, newest first        | GSI1  | GSI1PK=`AUDITDAY#<yyyy-mm-dd>`, GSI1SK=`<at>#<audit_id>` |
//! | audit records by actor (`usr_…` or `system`), newest first | GSI2 | GSI2PK=`AUDITACTOR#<actor>`, GSI2SK=`<at>#<audit_id>` |
//! | a partner API key by hash                       | table | PK=`APIKEY#<sha256>`, SK=`APIKEY`                 |
//! | a partner's API keys, newest first              | GSI1  | GSI1PK=`PARTNER#<partner_id>#APIKEYS`, GSI1SK=`<created>#<key_id>` |
//! | a user's review of a solution                   | table | PK=`SOLUTION#<solution_id>`, SK=`REVIEW#<user_id>` |
//! | a solution's reviews, newest first              | GSI1  | GSI1PK=`SOLUTION#<solution_id>#REVIEWS`, GSI1SK=`<at>#<user_id>` |
//! | a solution's users and usage by day (analytics) | GSI4 (keys only; then `BatchGetItem`) | GSI4PK=`SOLUTION#<solution_id>#USAGE`, GSI4SK=`<date>#<customer>` (day counters; those written before GSI4: same values under GSI1PK/GSI1SK until moved, see below) |
//! | a solution's daily counters (conversions)       | table | PK=`SOLSTATS#<solution_id>`, SK=`DAY#<date>`      |
//! | a revenue posting (one per payment, refund or payout) | table | PK=`POSTING#<source_id>`, SK=`POSTING`  |
//! | a partner's ledger, by time                     | GSI1  | GSI1PK=`PARTNER#<partner_id>#LEDGER`, GSI1SK=`<at>#<posting_id>` |
//! | a solution's revenue, by time (analytics)       | GSI2  | GSI2PK=`SOLUTION#<solution_id>#REVENUE`, GSI2SK=`<at>#<posting_id>` |
//! | a partner's monthly statement in a currency     | table | PK=`STATEMENT#<partner_id>#<yyyy-mm>#<currency>`, SK=`STATEMENT` |
//! | a partner's statements and payouts, newest first | GSI1 | GSI1PK=`PARTNER#<partner_id>#STATEMENTS`, GSI1SK=`<yyyy-mm>#<currency>` |
//! | an account's login failures (throttle, TTL 24 h) | table | PK=`THROTTLE#login#<sha256(email)>`, SK=`THROTTLE` |
//! | a client's requests in a window (per-IP limit, TTL) | table | PK=`RATE#<scope>#<ip>`, SK=`<window start>` |
//!
//! ## GSI4: the day counters' analytics entries (keys only), and their move out of GSI1
//!
//! GSI1 projects ALL attributes (its other entities are read as whole items), so a day counter indexed there
//! had its index entry rewritten by every increment: 2 write units per tracked event (table + GSI1). GSI4
//! projects keys only and a counter's GSI4 keys are written once, by its first event of the day
//! (`GSI4PK = if_not_exists(…)`, `store::usage`): an increment then changes nothing GSI4 holds, so a warm
//! event costs 1.0 write unit (0 index writes) and is still one `UpdateItem`; the day's first event costs 2.0
//! (table + the GSI4 put). Analytics reads the GSI4 keys, then the counters by `BatchGetItem` (0.5 read unit
//! per counter, eventually consistent, instead of the GSI1 query's ~1 unit per 4 KB of counters: analytics is
//! a rare console read, tracking the hot path). Measured on DynamoDB Local with `ReturnConsumedCapacity`
//! (`tests/tests/usage/cost.rs`); counters over 1 KB (many actions or members) cost more on the table itself.
//!
//! Counters written before GSI4 carry the same key values as `GSI1PK`/`GSI1SK` (“legacy entries”). The move
//! takes two deployments:
//! 1. (this code) the template adds GSI4; a counter's next event sets its GSI4 keys and `REMOVE`s its GSI1
//!    keys (3.0 write units once: table, GSI1 delete, GSI4 put; the `REMOVE` of absent keys is free after);
//!    analytics reads GSI4 ∪ the legacy GSI1 entries (an item seen in both, while an index lags, counts
//!    once); the billing job `{"job": "index-usage"}` (`usage::index_usage`) moves the legacy entries of
//!    counters that see no more events (rerun until it reports `remaining: 0`).
//! 2. once `index-usage` has reported `complete: true, remaining: 0` after deployment 1 is fully live (no
//!    old code left writing GSI1 keys): drop the GSI1 half of `Store::solution_usage_counters`, the `REMOVE
//!    GSI1PK, GSI1SK` of `counter_update` and of `UsageCounterItem::carried_to`, the `index-usage` job and its
//!    store methods (`legacy_usage_entries_page`, `count_legacy_usage_entries`, `move_usage_entry_to_gsi4`).
//!    GSI1 itself stays (every other GSI1 entity).

use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const GSI2: &str = "GSI2";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";
pub const GSI3: &str = "GSI3";
pub const GSI3PK: &str = "GSI3PK";
pub const GSI3SK: &str = "GSI3SK";
/// Keys only: day counters by solution and day (see [`solution_usage`]).
pub const GSI4: &str = "GSI4";
pub const GSI4PK: &str = "GSI4PK";
pub const GSI4SK: &str = "GSI4SK";

/// A primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    fn new(pk: String, sk: impl Into<String>) -> Self {
        Self { pk, sk: sk.into() }
    }

    /// The key as a DynamoDB key map.
    pub fn to_map(&self) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (PK.to_owned(), AttributeValue::S(self.pk.clone())),
            (SK.to_owned(), AttributeValue::S(self.sk.clone())),
        ])
    }
}

/// A GSI1 key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gsi1 {
    pub pk: String,
    pub sk: String,
}

pub fn user(user_id: &str) -> Key {
    Key::new(user_partition(user_id), "PROFILE")
}

pub fn user_partition(user_id: &str) -> String {
    format!("USER#{user_id}")
}

/// The tombstone of an erased account (`store::privacy`).
pub fn erased_account(user_id: &str) -> Key {
    Key::new(user_partition(user_id), "ERASED")
}

pub fn email(normalized_email: &str) -> Key {
    Key::new(format!("EMAIL#{normalized_email}"), "EMAIL")
}

/// An email verification link, by the SHA-256 of its token.
pub fn email_verification(hash_hex: &str) -> Key {
    Key::new(format!("EMAILVERIFY#{hash_hex}"), "EMAILVERIFY")
}

/// The throttle counter of a user's verification mails.
pub fn verification_sends(user_id: &str) -> Key {
    Key::new(user_partition(user_id), "VERIFYSENDS")
}

pub const TIER_PREFIX: &str = "TIER#";

/// The tier of a customer for a solution: a user's own (`usr_…`, its personal organization's) or an
/// organization's (`org_…`).
pub fn entitlement(customer_id: &str, solution_id: &str) -> Key {
    Key::new(customer_partition(customer_id), format!("{TIER_PREFIX}{solution_id}"))
}

/// The partition of a customer's profile and tiers: an organization's for `org_…` ids, a user's otherwise.
pub fn customer_partition(customer_id: &str) -> String {
    if is_org(customer_id) { org_partition(customer_id) } else { user_partition(customer_id) }
}

/// Whether a customer id names an organization (rather than a user or an anonymous visitor).
pub fn is_org(customer_id: &str) -> bool {
    customer_id.starts_with("org_")
}

pub fn org_partition(org_id: &str) -> String {
    format!("ORG#{org_id}")
}

pub fn org(org_id: &str) -> Key {
    Key::new(org_partition(org_id), "META")
}

pub const ORG_MEMBER_PREFIX: &str = "MEMBER#";

pub fn org_member(org_id: &str, user_id: &str) -> Key {
    Key::new(org_partition(org_id), format!("{ORG_MEMBER_PREFIX}{user_id}"))
}

pub fn user_orgs(user_id: &str, joined_at: &str, org_id: &str) -> Gsi1 {
    Gsi1 { pk: user_orgs_partition(user_id), sk: format!("{joined_at}#{org_id}") }
}

pub fn user_orgs_partition(user_id: &str) -> String {
    format!("USER#{user_id}#ORGS")
}

/// The guard that gives a partner exactly one organization (holding its id).
pub fn partner_org(partner_id: &str) -> Key {
    Key::new(format!("PARTNER#{partner_id}"), "ORG")
}

/// The guard that gives a user exactly one personal organization.
pub fn personal_org(user_id: &str) -> Key {
    Key::new(user_partition(user_id), "PERSONALORG")
}

pub fn invitation(invitation_id: &str) -> Key {
    Key::new(format!("INVITE#{invitation_id}"), "INVITE")
}

pub fn org_invitations(org_id: &str, created_at: &str, invitation_id: &str) -> Gsi1 {
    Gsi1 { pk: org_invitations_partition(org_id), sk: format!("{created_at}#{invitation_id}") }
}

pub fn org_invitations_partition(org_id: &str) -> String {
    format!("ORG#{org_id}#INVITES")
}

/// The GSI2 entry of an invitation: the invitations to one (normalised) address.
pub fn invitee(email: &str, created_at: &str, invitation_id: &str) -> (String, String) {
    (invitee_partition(email), format!("{created_at}#{invitation_id}"))
}

pub fn invitee_partition(email: &str) -> String {
    format!("INVITEE#{email}")
}

/// The solution id of an entitlement sort key.
pub fn entitlement_solution(sk: &str) -> Option<&str> {
    sk.strip_prefix(TIER_PREFIX)
}

pub fn solution(solution_id: &str) -> Key {
    Key::new(format!("SOLUTION#{solution_id}"), "META")
}

pub fn solutions_by_status(status: &str, created_at: &str, solution_id: &str) -> Gsi1 {
    Gsi1 { pk: solutions_status_partition(status), sk: format!("{created_at}#{solution_id}") }
}

pub fn solutions_status_partition(status: &str) -> String {
    format!("SOLUTIONS#{status}")
}

pub fn solution_tier(solution_id: &str, tier: &str) -> Key {
    Key::new(format!("SOLUTION#{solution_id}"), format!("TIERDEF#{tier}"))
}

pub fn default_tier(tier: &str) -> Key {
    Key::new("TIERDEF#default".to_owned(), format!("TIERDEF#{tier}"))
}

pub fn partner(partner_id: &str) -> Key {
    Key::new(format!("PARTNER#{partner_id}"), "PROFILE")
}

pub fn token(token_id: &str) -> Key {
    Key::new(format!("TOKEN#{token_id}"), "TOKEN")
}

pub fn user_tokens(user_id: &str, issued_at: &str, token_id: &str) -> Gsi1 {
    Gsi1 { pk: user_tokens_partition(user_id), sk: format!("{issued_at}#{token_id}") }
}

pub fn user_tokens_partition(user_id: &str) -> String {
    format!("USER#{user_id}#TOKENS")
}

pub fn family(family_id: &str) -> Key {
    Key::new(format!("FAMILY#{family_id}"), "FAMILY")
}

pub fn refresh(hash_hex: &str) -> Key {
    Key::new(format!("REFRESH#{hash_hex}"), "REFRESH")
}

pub fn usage_partition(customer_id: &str) -> String {
    format!("USAGE#{customer_id}")
}

/// The sort-key prefix of a customer's day counters.
pub const USAGE_DAY_PREFIX: &str = "DAY#";

pub fn usage_day(customer_id: &str, date: &str, solution_id: &str) -> Key {
    Key::new(usage_partition(customer_id), format!("DAY#{date}#{solution_id}"))
}

pub fn usage_month(customer_id: &str, month: &str, solution_id: &str) -> Key {
    Key::new(usage_partition(customer_id), format!("MONTH#{month}#{solution_id}"))
}

/// A customer's usage counter for one billing period of a usage-priced subscription to a solution (the
/// period's start, epoch seconds): what its overage is billed from.
pub fn usage_period(customer_id: &str, solution_id: &str, start: i64) -> Key {
    Key::new(usage_partition(customer_id), format!("PERIOD#{solution_id}#{start:012}"))
}

/// Sort-key bounds (inclusive) of a customer's usage between two dates.
pub fn usage_day_range(from: &str, to: &str) -> (String, String) {
    (format!("DAY#{from}"), format!("DAY#{to}~"))
}

pub fn idempotency(customer_id: &str, solution_id: &str, key_hash: &str) -> Key {
    Key::new(format!("IDEMPOTENCY#{customer_id}#{solution_id}#{key_hash}"), "IDEMPOTENCY")
}

/// A usage event's idempotency record for a member acting for an organization: each member's keys are
/// their own (two members never replay each other's events).
pub fn member_idempotency(org_id: &str, user_id: &str, solution_id: &str, key_hash: &str) -> Key {
    Key::new(format!("IDEMPOTENCY#{org_id}/{user_id}#{solution_id}#{key_hash}"), "IDEMPOTENCY")
}

pub fn outbox(notification_id: &str) -> Key {
    Key::new(format!("OUTBOX#{notification_id}"), "OUTBOX")
}

pub const OUTBOX_PENDING: &str = "OUTBOX#pending";

/// The pending-index entry of a notification whose next attempt (or the end of its sender's lease) is at
/// `at` (RFC 3339, UTC, seconds: its creation time at first): the index sorts by it, so a reader asks for
/// what is due by now ([`outbox_due_until`]) and never pages through the ones backing off or leased.
pub fn outbox_pending(at: &str, notification_id: &str) -> Gsi1 {
    Gsi1 { pk: OUTBOX_PENDING.to_owned(), sk: format!("{at}#{notification_id}") }
}

/// The pending-index sort-key bound (inclusive) of everything due by `now` (RFC 3339).
pub fn outbox_due_until(now: &str) -> String {
    format!("{now}#~")
}

pub const OUTBOX_DEAD: &str = "OUTBOX#dead";

/// The dead-letter index entry of a notification given up on at `at` (RFC 3339).
pub fn outbox_dead(at: &str, notification_id: &str) -> Gsi1 {
    Gsi1 { pk: OUTBOX_DEAD.to_owned(), sk: format!("{at}#{notification_id}") }
}

pub fn subscription(subscription_id: &str) -> Key {
    Key::new(format!("SUBSCRIPTION#{subscription_id}"), "SUBSCRIPTION")
}

pub fn user_subscriptions(user_id: &str, created_at: &str, subscription_id: &str) -> Gsi1 {
    Gsi1 { pk: user_subscriptions_partition(user_id), sk: format!("{created_at}#{subscription_id}") }
}

pub fn user_subscriptions_partition(user_id: &str) -> String {
    format!("USER#{user_id}#SUBSCRIPTIONS")
}

/// The slot holding a user's one unpaid (pending) subscription to a solution.
pub fn checkout_slot(user_id: &str, solution_id: &str) -> Key {
    Key::new(format!("CHECKOUT#{user_id}#{solution_id}"), "CHECKOUT")
}

/// The sparse GSI3 entry of a subscription: its solution's subscriptions.
pub fn solution_subscriptions(solution_id: &str, created_at: &str, subscription_id: &str) -> (String, String) {
    (solution_subscriptions_partition(solution_id), format!("{created_at}#{subscription_id}"))
}

pub fn solution_subscriptions_partition(solution_id: &str) -> String {
    format!("SOLUTION#{solution_id}#SUBSCRIPTIONS")
}

/// A solution's subscription hold: what its last suspension, retirement or reinstatement asks of its
/// subscriptions.
pub fn solution_hold(solution_id: &str) -> Key {
    Key::new(format!("SOLUTIONHOLD#{solution_id}"), "HOLD")
}

pub const HOLDS_PENDING: &str = "SOLUTIONHOLDS#pending";

/// The GSI1 entry of a hold the billing run has not applied to every subscription yet.
pub fn holds_pending(at: &str, solution_id: &str) -> Gsi1 {
    Gsi1 { pk: HOLDS_PENDING.to_owned(), sk: format!("{at}#{solution_id}") }
}

/// Our id of a provider's object: `kind` is `subscription` or `customer`.
pub fn provider_ref(provider: &str, kind: &str, provider_id: &str) -> Key {
    Key::new(format!("PROVIDERREF#{provider}#{kind}#{provider_id}"), "REF")
}

pub fn provider_customer(provider: &str, user_id: &str) -> Key {
    Key::new(format!("PROVIDERCUSTOMER#{provider}#{user_id}"), "CUSTOMER")
}

pub fn payment(payment_id: &str) -> Key {
    Key::new(payment_partition(payment_id), "PAYMENT")
}

pub fn payment_partition(payment_id: &str) -> String {
    format!("PAYMENT#{payment_id}")
}

pub const REFUND_PREFIX: &str = "REFUND#";

pub fn refund(payment_id: &str, refund_id: &str) -> Key {
    Key::new(payment_partition(payment_id), format!("{REFUND_PREFIX}{refund_id}"))
}

pub fn user_payments(user_id: &str, at: &str, id: &str) -> Gsi1 {
    Gsi1 { pk: user_payments_partition(user_id), sk: format!("{at}#{id}") }
}

pub fn user_payments_partition(user_id: &str) -> String {
    format!("USER#{user_id}#PAYMENTS")
}

pub fn webhook_event(provider: &str, event_id: &str) -> Key {
    Key::new(format!("WEBHOOK#{provider}#{event_id}"), "WEBHOOK")
}

/// The stored answer of an idempotent request (`scope` names the operation, e.g. `subscriptions`).
pub fn request_idempotency(scope: &str, user_id: &str, key_hash: &str) -> Key {
    Key::new(format!("IDEMPOTENCY#{scope}#{user_id}#{key_hash}"), "IDEMPOTENCY")
}

pub fn phonepe_order(merchant_order_id: &str) -> Key {
    Key::new(format!("PHONEPEORDER#{merchant_order_id}"), "ORDER")
}

pub fn invoice(invoice_id: &str) -> Key {
    Key::new(format!("INVOICE#{invoice_id}"), "INVOICE")
}

pub fn user_invoices(user_id: &str, created_at: &str, invoice_id: &str) -> Gsi1 {
    Gsi1 { pk: user_invoices_partition(user_id), sk: format!("{created_at}#{invoice_id}") }
}

pub fn user_invoices_partition(user_id: &str) -> String {
    format!("USER#{user_id}#INVOICES")
}

/// The invoice-number counter of an Indian financial year (`2026-27`).
pub fn invoice_counter(financial_year: &str) -> Key {
    Key::new(format!("COUNTER#INVOICE#{financial_year}"), "COUNTER")
}

pub const BILLING_DUE: &str = "BILLING#DUE";

pub const PHONEPE_OPEN: &str = "PHONEPE#OPEN";

/// The sparse GSI2 entry of a PhonePe order or refund (`kind`) whose outcome is not known yet: the daily
/// reconciliation asks PhonePe about each. Removed once final.
pub fn phonepe_open(kind: &str, created_at: &str, id: &str) -> (String, String) {
    (PHONEPE_OPEN.to_owned(), format!("{kind}#{created_at}#{id}"))
}

/// The sparse GSI2 entry of a subscription the billing run must look at by `due` (epoch seconds).
pub fn billing_due(due: i64, subscription_id: &str) -> (String, String) {
    (BILLING_DUE.to_owned(), format!("{:012}#{subscription_id}", due.max(0)))
}

/// The GSI2 sort key bound of everything due by `now`.
pub fn billing_due_until(now: i64) -> String {
    format!("{:012}#~", now.max(0))
}

pub fn billing_run(job: &str, date: &str) -> Key {
    Key::new(format!("BILLINGRUN#{job}#{date}"), "RUN")
}

pub fn partner_solutions(partner_id: &str, created_at: &str, solution_id: &str) -> (String, String) {
    (partner_solutions_partition(partner_id), format!("{created_at}#{solution_id}"))
}

pub fn partner_solutions_partition(partner_id: &str) -> String {
    format!("PARTNER#{partner_id}#SOLUTIONS")
}

pub fn partners_by_status(status: &str, created_at: &str, partner_id: &str) -> Gsi1 {
    Gsi1 { pk: partners_status_partition(status), sk: format!("{created_at}#{partner_id}") }
}

pub fn partners_status_partition(status: &str) -> String {
    format!("PARTNERS#{status}")
}

/// A user's partner: the guard that keeps one application per user.
pub fn user_partner(user_id: &str) -> Key {
    Key::new(user_partition(user_id), "PARTNER")
}

/// An audit record about `subject` (`partner#<id>`, `solution#<id>`, `customer#<id>/solution#<id>`, …).
pub fn audit(subject: &str, at: &str, audit_id: &str) -> Key {
    Key::new(audit_partition(subject), audit_position(at, audit_id))
}

/// The partition of a subject's audit records. A customer × solution (`customer#<c>/solution#<s>`) keeps the
/// partition quota resets were always stored under (`AUDIT#quota#<c>#<s>`), so its older records stay with
/// the newer ones.
pub fn audit_partition(subject: &str) -> String {
    match subject.strip_prefix("customer#").and_then(|rest| rest.split_once("/solution#")) {
        Some((customer, solution)) => format!("AUDIT#quota#{customer}#{solution}"),
        None => format!("AUDIT#{subject}"),
    }
}

/// The sort key of an audit record in its subject's partition and in both indexes: newest last.
fn audit_position(at: &str, audit_id: &str) -> String {
    format!("{at}#{audit_id}")
}

/// The GSI1 entry of an audit record: the records of its UTC day (`date` = the first 10 characters of `at`).
pub fn audit_day(date: &str, at: &str, audit_id: &str) -> Gsi1 {
    Gsi1 { pk: audit_day_partition(date), sk: audit_position(at, audit_id) }
}

pub fn audit_day_partition(date: &str) -> String {
    format!("AUDITDAY#{date}")
}

/// The GSI2 entry of an audit record: the records of its actor (a user id or `system`).
pub fn audit_actor(actor: &str, at: &str, audit_id: &str) -> (String, String) {
    (audit_actor_partition(actor), audit_position(at, audit_id))
}

pub fn audit_actor_partition(actor: &str) -> String {
    format!("AUDITACTOR#{actor}")
}

pub fn api_key(hash_hex: &str) -> Key {
    Key::new(format!("APIKEY#{hash_hex}"), "APIKEY")
}

/// The key hash an API key item's partition key holds (the inverse of [`api_key`]).
pub fn api_key_hash_of(pk: &str) -> Option<&str> {
    pk.strip_prefix("APIKEY#")
}

pub fn partner_api_keys(partner_id: &str, created_at: &str, key_id: &str) -> Gsi1 {
    Gsi1 { pk: partner_api_keys_partition(partner_id), sk: format!("{created_at}#{key_id}") }
}

pub fn partner_api_keys_partition(partner_id: &str) -> String {
    format!("PARTNER#{partner_id}#APIKEYS")
}

pub const REVIEW_PREFIX: &str = "REVIEW#";

pub fn review(solution_id: &str, user_id: &str) -> Key {
    Key::new(format!("SOLUTION#{solution_id}"), format!("{REVIEW_PREFIX}{user_id}"))
}

pub fn solution_reviews(solution_id: &str, at: &str, user_id: &str) -> Gsi1 {
    Gsi1 { pk: solution_reviews_partition(solution_id), sk: format!("{at}#{user_id}") }
}

pub fn solution_reviews_partition(solution_id: &str) -> String {
    format!("SOLUTION#{solution_id}#REVIEWS")
}

/// The GSI4 (keys only) entry of a customer's day counter: a solution's usage by day, for partner analytics.
/// Counters written before GSI4 carry the same values as GSI1PK/GSI1SK (read too until moved: see the
/// module doc, "GSI4").
pub fn solution_usage(solution_id: &str, date: &str, customer_id: &str) -> Gsi1 {
    Gsi1 { pk: solution_usage_partition(solution_id), sk: format!("{date}#{customer_id}") }
}

pub fn solution_usage_partition(solution_id: &str) -> String {
    format!("SOLUTION#{solution_id}#USAGE")
}

/// GSI4 (and legacy GSI1) sort-key bounds (inclusive) of a solution's usage between two dates.
pub fn solution_usage_range(from: &str, to: &str) -> (String, String) {
    (format!("{from}#"), format!("{to}#~"))
}

pub fn solution_stats_partition(solution_id: &str) -> String {
    format!("SOLSTATS#{solution_id}")
}

pub fn solution_stats_day(solution_id: &str, date: &str) -> Key {
    Key::new(solution_stats_partition(solution_id), format!("DAY#{date}"))
}

/// The date of a [`solution_stats_day`] sort key.
pub fn solution_stats_day_of(sk: &str) -> Option<&str> {
    sk.strip_prefix("DAY#")
}

/// Sort-key bounds (inclusive) of a solution's daily counters between two dates.
pub fn solution_stats_range(from: &str, to: &str) -> (String, String) {
    (format!("DAY#{from}"), format!("DAY#{to}"))
}

/// A revenue posting, keyed by what it posts (a payment, refund or payout id): so it is posted once.
pub fn posting(source_id: &str) -> Key {
    Key::new(format!("POSTING#{source_id}"), "POSTING")
}

pub fn partner_ledger(partner_id: &str, at: &str, posting_id: &str) -> Gsi1 {
    Gsi1 { pk: partner_ledger_partition(partner_id), sk: format!("{at}#{posting_id}") }
}

pub fn partner_ledger_partition(partner_id: &str) -> String {
    format!("PARTNER#{partner_id}#LEDGER")
}

pub fn solution_revenue(solution_id: &str, at: &str, posting_id: &str) -> (String, String) {
    (solution_revenue_partition(solution_id), format!("{at}#{posting_id}"))
}

pub fn solution_revenue_partition(solution_id: &str) -> String {
    format!("SOLUTION#{solution_id}#REVENUE")
}

/// Sort-key bounds of entries at RFC 3339 times in `[from, to)` (`<at>#<id>` sort keys).
pub fn time_range(from: &str, to: &str) -> (String, String) {
    (format!("{from}#"), format!("{to}#"))
}

pub fn statement(partner_id: &str, month: &str, currency: &str) -> Key {
    Key::new(format!("STATEMENT#{partner_id}#{month}#{currency}"), "STATEMENT")
}

pub fn partner_statements(partner_id: &str, month: &str, currency: &str) -> Gsi1 {
    Gsi1 { pk: partner_statements_partition(partner_id), sk: format!("{month}#{currency}") }
}

pub fn partner_statements_partition(partner_id: &str) -> String {
    format!("PARTNER#{partner_id}#STATEMENTS")
}

/// The login-failure counter of an account, by the SHA-256 of its normalised email (the same item whether
/// or not the account exists, so the throttle never tells which addresses are registered).
pub fn login_throttle(email_hash_hex: &str) -> Key {
    Key::new(format!("THROTTLE#login#{email_hash_hex}"), "THROTTLE")
}

/// A client's request counter for one limit (`scope`) and one fixed window (its start, epoch seconds).
pub fn rate_window(scope: &str, client: &str, window_start: i64) -> Key {
    Key::new(format!("RATE#{scope}#{client}"), window_start.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable() {
        // These strings are stored data: changing one is a migration, so this test pins them.
        assert_eq!(user("usr_1"), Key::new("USER#usr_1".into(), "PROFILE"));
        assert_eq!(email("a@b.c").pk, "EMAIL#a@b.c");
        assert_eq!(erased_account("usr_1"), Key::new("USER#usr_1".into(), "ERASED"));
        assert_eq!(entitlement("usr_1", "sol_1").sk, "TIER#sol_1");
        assert_eq!(entitlement_solution("TIER#sol_1"), Some("sol_1"));
        assert_eq!(entitlement("org_1", "sol_1"), Key::new("ORG#org_1".into(), "TIER#sol_1"));
        assert_eq!(entitlement("usr_1", "sol_1").pk, "USER#usr_1");
        assert_eq!(org("org_1"), Key::new("ORG#org_1".into(), "META"));
        assert_eq!(org_member("org_1", "usr_1"), Key::new("ORG#org_1".into(), "MEMBER#usr_1"));
        assert_eq!(user_orgs("usr_1", "t", "org_1"), Gsi1 { pk: "USER#usr_1#ORGS".into(), sk: "t#org_1".into() });
        assert_eq!(personal_org("usr_1"), Key::new("USER#usr_1".into(), "PERSONALORG"));
        assert_eq!(partner_org("prt_1"), Key::new("PARTNER#prt_1".into(), "ORG"));
        assert_eq!(invitation("inv_1"), Key::new("INVITE#inv_1".into(), "INVITE"));
        assert_eq!(org_invitations("org_1", "t", "inv_1").pk, "ORG#org_1#INVITES");
        assert_eq!(invitee("a@b.c", "t", "inv_1"), ("INVITEE#a@b.c".into(), "t#inv_1".into()));
        assert_eq!(solution("sol_1").pk, "SOLUTION#sol_1");
        assert_eq!(solutions_by_status("published", "2026", "sol_1").pk, "SOLUTIONS#published");
        assert_eq!(default_tier("free").sk, "TIERDEF#free");
        assert_eq!(token("tok_1").pk, "TOKEN#tok_1");
        assert_eq!(user_tokens("usr_1", "t", "tok_1").pk, "USER#usr_1#TOKENS");
        assert_eq!(family("fam_1").pk, "FAMILY#fam_1");
        assert_eq!(refresh("ab").pk, "REFRESH#ab");
        assert_eq!(usage_day("usr_1", "2026-11-22", "sol_1"), Key::new("USAGE#usr_1".into(), "DAY#2026-11-22#sol_1"));
        let (lo, hi) = usage_day_range("2026-11-01", "2026-11-22");
        assert!(lo.as_str() <= "DAY#2026-11-01#sol_1" && "DAY#2026-11-22#sol_1" <= hi.as_str());
        assert_eq!(idempotency("c", "s", "h").pk, "IDEMPOTENCY#c#s#h");
        assert_eq!(member_idempotency("org_1", "usr_1", "s", "h").pk, "IDEMPOTENCY#org_1/usr_1#s#h");
        assert_eq!(outbox("n1").pk, "OUTBOX#n1");
        assert_eq!(outbox_pending("t", "n1").pk, "OUTBOX#pending");
        let due = outbox_due_until("2026-11-22T10:00:00Z");
        assert!(outbox_pending("2026-11-22T10:00:00Z", "n1").sk <= due);
        assert!(outbox_pending("2026-11-22T10:00:01Z", "n1").sk > due);
        assert_eq!(outbox_dead("t", "n1"), Gsi1 { pk: "OUTBOX#dead".into(), sk: "t#n1".into() });
        assert_eq!(subscription("sub_1"), Key::new("SUBSCRIPTION#sub_1".into(), "SUBSCRIPTION"));
        assert_eq!(user_subscriptions("usr_1", "t", "sub_1").pk, "USER#usr_1#SUBSCRIPTIONS");
        assert_eq!(
            solution_subscriptions("sol_1", "t", "sub_1"),
            ("SOLUTION#sol_1#SUBSCRIPTIONS".into(), "t#sub_1".into())
        );
        assert_eq!(solution_hold("sol_1"), Key::new("SOLUTIONHOLD#sol_1".into(), "HOLD"));
        assert_eq!(holds_pending("t", "sol_1"), Gsi1 { pk: "SOLUTIONHOLDS#pending".into(), sk: "t#sol_1".into() });
        assert_eq!(provider_ref("stripe", "subscription", "sub_X").pk, "PROVIDERREF#stripe#subscription#sub_X");
        assert_eq!(provider_customer("stripe", "usr_1").pk, "PROVIDERCUSTOMER#stripe#usr_1");
        assert_eq!(checkout_slot("usr_1", "sol_1"), Key::new("CHECKOUT#usr_1#sol_1".into(), "CHECKOUT"));
        assert_eq!(refund("pay_1", "re_1"), Key::new("PAYMENT#pay_1".into(), "REFUND#re_1"));
        assert_eq!(user_payments("usr_1", "t", "pay_1").pk, "USER#usr_1#PAYMENTS");
        assert_eq!(webhook_event("stripe", "evt_1").pk, "WEBHOOK#stripe#evt_1");
        assert_eq!(request_idempotency("subscriptions", "usr_1", "h").pk, "IDEMPOTENCY#subscriptions#usr_1#h");
        assert_eq!(phonepe_order("po_1"), Key::new("PHONEPEORDER#po_1".into(), "ORDER"));
        assert_eq!(invoice("inv_1"), Key::new("INVOICE#inv_1".into(), "INVOICE"));
        assert_eq!(user_invoices("usr_1", "t", "inv_1").pk, "USER#usr_1#INVOICES");
        assert_eq!(invoice_counter("2026-27").pk, "COUNTER#INVOICE#2026-27");
        assert_eq!(billing_due(1_800_000_000, "sub_1"), ("BILLING#DUE".into(), "001800000000#sub_1".into()));
        assert!(billing_due(1_800_000_000, "sub_1").1 < billing_due_until(1_800_000_000));
        assert!(billing_due(1_800_000_001, "sub_1").1 > billing_due_until(1_800_000_000));
        assert_eq!(billing_run("daily", "2026-11-22").pk, "BILLINGRUN#daily#2026-11-22");
        assert_eq!(partner_solutions("prt_1", "t", "sol_1").0, "PARTNER#prt_1#SOLUTIONS");
        assert_eq!(partners_by_status("pending", "t", "prt_1").pk, "PARTNERS#pending");
        assert_eq!(user_partner("usr_1"), Key::new("USER#usr_1".into(), "PARTNER"));
        assert_eq!(audit("partner#prt_1", "t", "a1"), Key::new("AUDIT#partner#prt_1".into(), "t#a1"));
        assert_eq!(audit("customer#usr_1/solution#sol_1", "t", "a1").pk, "AUDIT#quota#usr_1#sol_1");
        assert_eq!(audit("customer#anon:v-1/solution#sol_1", "t", "a1").pk, "AUDIT#quota#anon:v-1#sol_1");
        assert_eq!(audit_day("2026-11-22", "t", "a1"), Gsi1 { pk: "AUDITDAY#2026-11-22".into(), sk: "t#a1".into() });
        assert_eq!(audit_actor("system", "t", "a1"), ("AUDITACTOR#system".into(), "t#a1".into()));
        assert_eq!(api_key("ab").pk, "APIKEY#ab");
        assert_eq!(partner_api_keys("prt_1", "t", "key_1").pk, "PARTNER#prt_1#APIKEYS");
        assert_eq!(review("sol_1", "usr_1"), Key::new("SOLUTION#sol_1".into(), "REVIEW#usr_1"));
        assert_eq!(solution_reviews("sol_1", "t", "usr_1").pk, "SOLUTION#sol_1#REVIEWS");
        assert_eq!(solution_usage("sol_1", "2026-11-22", "usr_1").sk, "2026-11-22#usr_1");
        let (lo, hi) = solution_usage_range("2026-11-01", "2026-11-22");
        assert!(lo.as_str() <= "2026-11-01#usr_1" && "2026-11-22#usr_1" <= hi.as_str());
        assert_eq!(solution_stats_day("sol_1", "2026-11-22"), Key::new("SOLSTATS#sol_1".into(), "DAY#2026-11-22"));
        assert_eq!(posting("pay_1"), Key::new("POSTING#pay_1".into(), "POSTING"));
        assert_eq!(partner_ledger("prt_1", "t", "pst_1").pk, "PARTNER#prt_1#LEDGER");
        assert_eq!(solution_revenue("sol_1", "t", "pst_1").0, "SOLUTION#sol_1#REVENUE");
        let (lo, hi) = time_range("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z");
        assert!(lo.as_str() <= "2026-11-30T23:59:59Z#pst_1" && "2026-11-30T23:59:59Z#pst_1" < hi.as_str());
        assert!("2026-12-01T00:00:00Z#pst_1" >= hi.as_str());
        assert_eq!(statement("prt_1", "2026-11", "inr").pk, "STATEMENT#prt_1#2026-11#inr");
        assert_eq!(partner_statements("prt_1", "2026-11", "inr").pk, "PARTNER#prt_1#STATEMENTS");
    }
}
