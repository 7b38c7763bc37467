//! Data rights: a user's export of everything about them (`GET /api/me/export`, [`export`]) and the erasure of
//! their account (`DELETE /api/me`, [`erase`]). Both take a session only (never a solution token or a partner
//! API key). The reads and writes are `store::privacy`.
//!
//! **The export** (JSON, `format_version` [`EXPORT_FORMAT_VERSION`]): the account (email, name, role,
//! verification), sessions and solution tokens (ids, kinds, times, revocation: never a token, hash or refresh
//! token), organizations and invitations to the address, tiers, subscriptions, payments and refunds, invoices
//! (numbers, amounts, whether the PDF exists: the PDF itself through `GET /api/invoices`, a short-lived link), the
//! ledger postings of the user's payments and refunds, usage counters, reviews, the partner the user applied as (its
//! API keys by id, name and prefix: never their hashes) and the audit records about the user. Each list holds at
//! most [`MAX_ITEMS`] items ([`MAX_USAGE_COUNTERS`] usage counters), read [`crate::store::privacy::READ_PAGE`]
//! at a time; `truncated: true` says there were more.
//!
//! **The erasure** removes: the profile (email, name, password hash) and the address's guard (the address can
//! register again, as a new user), every session and solution token (revoked), the partner's API keys
//! (revoked) and its contact and payout details, organization memberships (an organization the user was alone
//! in is deleted), invitations to the address, usage counters, tiers, the verification-mail and login-failure
//! counters; reviews keep their rating (so solutions' averages stand) with the author shown as
//! [`ERASED_AUTHOR`] and the text removed. What stays, keyed by the user id only (a pseudonymous key: a
//! tombstone `USER#<id>`/`ERASED` holds the id, `created_at` and `erased_at`, no email and no name): invoices
//! with the buyer's name, address and email removed from the record (GSTIN and state kept: they are tax facts),
//! the invoice PDFs in S3 as issued (the tax invoice is the legal document, buyer details included), payments,
//! refunds and ledger postings, subscriptions (ended or ending at their period end), and the audit trail (with
//! the erasure itself as `account.erased`). Invoices, their PDFs and the money records are kept
//! [`crate::gst::RECORD_RETENTION_MONTHS`] months from the due date of the annual return of their financial year
//! (CGST Act s.36, CGST Rules r.56); the answer names the latest such date. Left to their TTLs: verification
//! links (24 h), idempotency records, outbox mails already queued, security audit records (400 days).
//!
//! **Refusals** (409, each with its code): the only owner of an organization with other members
//! (`org_has_other_members`: transfer ownership first), an approved partner with solutions that are not
//! retired (`partner_solutions_live`) or a payout not made yet (`partner_payout_pending`), a subscription that
//! would renew (`subscription_active`: cancel it first, it ends at its period end with no refund; the auth
//! function holds no payment provider's credentials, so it never cancels at a provider), money in flight
//! (`payment_pending`: a checkout or payment request open, a refund pending).
//!
//! **Retries**: every step is idempotent and the tombstone is written last (with the profile's deletion), so an
//! erasure that stopped midway is finished by the next `DELETE /api/me` (sign in again: the password still works
//! until the end). After success the session is revoked: a retry answers 401 `revoked`.

pub mod erase;
pub mod export;

pub use erase::{EraseRequest, Erased};
pub use export::Export;

use crate::platform::clock::Clock;
use crate::store::Store;
use std::sync::Arc;

/// The version of the export's format (a breaking change of its shape raises it).
pub const EXPORT_FORMAT_VERSION: u32 = 1;
/// Items of one kind in an export, at most.
pub const MAX_ITEMS: usize = 1000;
/// Usage counters in an export, at most (a counter per solution and day, and per month).
pub const MAX_USAGE_COUNTERS: usize = 5000;
/// The author of an erased user's reviews.
pub const ERASED_AUTHOR: &str = "Deleted user";

/// The data-rights use cases.
#[derive(Clone)]
pub struct DataRights {
    store: Store,
    clock: Arc<dyn Clock>,
}

impl DataRights {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }
}
