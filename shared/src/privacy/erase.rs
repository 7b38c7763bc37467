//! `DELETE /api/me`: erase the caller's account (see the module doc of [`super`]: what goes, what stays and for
//! how long, the refusals, retries).

use super::export::{history, posted_ids, reviewable, status_of};
use super::{DataRights, ERASED_AUTHOR};
use crate::audit::{AuditKind, Event, subject};
use crate::identity::{Principal, password, throttle};
use crate::model::{OrgRole, RefundStatus, SolutionStatus, SubscriptionStatus};
use crate::platform::clock::rfc3339;
use crate::platform::error::codes;
use crate::store::invoices::{InvoiceItem, InvoiceStatus};
use crate::store::privacy::ErasedAccountItem;
use crate::store::subscriptions::{HistoryItem, SubscriptionItem};
use crate::store::users::UserItem;
use crate::{ApiError, FieldError};
use serde::{Deserialize, Serialize};

/// Reads of one kind an erasure goes through, at most (far above any real account; a larger one is refused
/// rather than half-read).
const MAX_ERASE_ITEMS: usize = 100_000;

/// The body of `DELETE /api/me`.
#[derive(Debug, Default, Deserialize)]
pub struct EraseRequest {
    /// The account's current password (re-authentication).
    #[serde(default)]
    pub password: Option<String>,
    /// Must be `true`: the caller means it.
    #[serde(default)]
    pub confirm: Option<bool>,
}

/// What an erasure did, and what it kept.
#[derive(Debug, Clone, Serialize)]
pub struct Erased {
    pub user_id: String,
    pub erased_at: String,
    pub removed: Removed,
    pub kept: Kept,
}

/// Counts of what was removed, revoked or anonymised.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Removed {
    pub sessions_revoked: usize,
    pub api_keys_revoked: usize,
    pub memberships: usize,
    pub organizations_deleted: usize,
    pub invitations: usize,
    pub usage_counters: usize,
    pub account_items: usize,
    pub reviews_anonymised: usize,
    pub invoices_redacted: usize,
}

/// What stays (keyed by the user id only), and until when.
#[derive(Debug, Clone, Serialize)]
pub struct Kept {
    pub invoices: usize,
    /// Issued invoices' PDFs: kept in S3 as issued (the tax invoice is the legal document).
    pub invoice_pdfs: usize,
    pub payments_and_refunds: usize,
    pub ledger_postings: usize,
    pub subscriptions: usize,
    /// Months the invoices, PDFs and money records are kept from the due date of the annual return of their
    /// financial year (CGST Act s.36, rule 56).
    pub retention_months: u32,
    /// The latest date any of them must be kept until (`yyyy-mm-dd`), when there are any.
    pub kept_until: Option<String>,
    pub audit_records: &'static str,
}

fn refuse(code: &'static str, detail: String) -> ApiError {
    ApiError::conflict(code, detail)
}

/// Whether a subscription would still renew (or take money): a renewing active one, a past-due one.
fn renews(s: &SubscriptionItem) -> bool {
    match s.reconciled.latest.as_ref() {
        Some(l) => match l.status {
            SubscriptionStatus::Active => !l.cancel_at_period_end && s.solution_hold.is_none(),
            SubscriptionStatus::PastDue => true,
            _ => false,
        },
        None => false,
    }
}

/// Whether money may still move: a checkout never completed nor given up, an open payment request.
fn money_in_flight(s: &SubscriptionItem) -> bool {
    let pending = status_of(s) == SubscriptionStatus::Pending && s.replaced_by.is_none();
    pending || s.open_invoice_id.is_some()
}

/// The invoice record with the buyer's name, address and email removed (GSTIN and state kept: tax facts).
fn redacted(invoice: &InvoiceItem, at: &str) -> Option<InvoiceItem> {
    let doc = invoice.document.as_ref()?;
    let buyer = &doc.buyer;
    if buyer.name.is_empty() && buyer.address.is_empty() && buyer.email.is_none() {
        return None;
    }
    let mut next = invoice.clone();
    if let Some(d) = next.document.as_mut() {
        d.buyer.name = String::new();
        d.buyer.address = Vec::new();
        d.buyer.email = None;
    }
    next.version = invoice.version + 1;
    next.updated_at = at.to_owned();
    Some(next)
}

impl DataRights {
    /// `DELETE /api/me` (a session only: checked by the handler).
    pub async fn erase(
        &self,
        caller: &Principal,
        req: EraseRequest,
        source_ip: Option<&str>,
    ) -> Result<Erased, ApiError> {
        let mut missing = Vec::new();
        let password = req.password.filter(|p| !p.is_empty());
        if password.is_none() {
            missing.push(FieldError::new("password", "the current password is required"));
        }
        if req.confirm != Some(true) {
            missing.push(FieldError::new("confirm", "must be true to erase the account"));
        }
        let (Some(password), true) = (password, missing.is_empty()) else {
            return Err(ApiError::validation(missing));
        };
        let store = &self.store;
        let user_id = caller.user_id.as_str();
        let user = store
            .get_user(user_id)
            .await?
            .ok_or_else(|| ApiError::unauthorized_code(codes::REVOKED, "the account has been erased"))?;
        self.reauthenticate(&user, &password).await?;

        // Refusals, before anything changes.
        let memberships = store.user_memberships(user_id).await?;
        let org_ids: Vec<String> = memberships.iter().map(|m| m.org_id.clone()).collect();
        let orgs = store.orgs(&org_ids).await?;
        for org in &orgs {
            let role = memberships.iter().find(|m| m.org_id == org.org_id).map(|m| m.role);
            if role == Some(OrgRole::Owner) && org.member_count > 1 && org.owner_count <= 1 {
                return Err(refuse(
                    codes::ORG_HAS_OTHER_MEMBERS,
                    format!(
                        "you are the only owner of organization {} with other members: transfer its ownership first",
                        org.org_id
                    ),
                ));
            }
        }
        let partner = match store.get_partner_link(user_id).await? {
            Some(link) => store.get_partner(&link.partner_id).await?,
            None => None,
        };
        if let Some(p) = partner.as_ref().filter(|p| p.status == "approved" || p.status == "suspended") {
            let live = store
                .partner_solutions(&p.partner_id)
                .await?
                .into_iter()
                .find(|s| !matches!(s.status, SolutionStatus::Retired | SolutionStatus::Draft));
            if let Some(s) = live {
                return Err(refuse(
                    codes::PARTNER_SOLUTIONS_LIVE,
                    format!("your partner's solution {} is {}: retire it first", s.solution_id, s.status.as_str()),
                ));
            }
            let unpaid = store
                .statements_of(&p.partner_id)
                .await?
                .into_iter()
                .find(|s| s.payout > 0 && s.payout_status == "pending");
            if let Some(s) = unpaid {
                return Err(refuse(
                    codes::PARTNER_PAYOUT_PENDING,
                    format!("the payout of {} ({}) is not made yet", s.month, s.currency),
                ));
            }
        }
        let subs = store.user_subscriptions(user_id).await?;
        if let Some(s) = subs.iter().find(|s| renews(s)) {
            return Err(refuse(
                codes::SUBSCRIPTION_ACTIVE,
                format!(
                    "subscription {} renews: cancel it first (it ends at its period end, no refund)",
                    s.subscription_id
                ),
            ));
        }
        if let Some(s) = subs.iter().find(|s| money_in_flight(s)) {
            return Err(refuse(
                codes::PAYMENT_PENDING,
                format!("subscription {} has a payment in progress: finish or cancel it first", s.subscription_id),
            ));
        }
        let payments = history(store, user_id, MAX_ERASE_ITEMS).await?;
        if payments.truncated {
            return Err(ApiError::internal("payment history beyond the erasure's bound"));
        }
        let pending_refund = payments.items.iter().find_map(|h| match h {
            HistoryItem::Refund(r) if r.status == RefundStatus::Pending => Some(r.refund_id.clone()),
            _ => None,
        });
        if let Some(id) = pending_refund {
            return Err(refuse(codes::PAYMENT_PENDING, format!("refund {id} is still pending")));
        }

        let now = self.clock.now();
        let at = rfc3339(now);
        let mut removed = Removed::default();

        // The partner: API keys revoked, contact and payout details removed.
        if let Some(p) = &partner {
            for key in store.partner_api_keys(&p.partner_id).await? {
                if key.revoked_at.is_none() && store.revoke_api_key(&key, &at).await? {
                    removed.api_keys_revoked += 1;
                }
            }
            if !p.contact_email.is_empty() || p.payout_sealed.is_some() || p.website.is_some() {
                store.redact_partner(p).await?;
            }
        }
        // Invitations to the address (whatever their state: each holds the address).
        let invitations: Vec<_> = store
            .invitations_to(&user.email)
            .await?
            .iter()
            .map(|i| crate::store::keys::invitation(&i.invitation_id))
            .collect();
        store.delete_keys(&invitations).await?;
        removed.invitations = invitations.len();
        // Memberships; an organization the user is alone in goes with them.
        for m in &memberships {
            let org = orgs.iter().find(|o| o.org_id == m.org_id);
            if org.is_none_or(|o| o.member_count <= 1) && store.delete_sole_member_org(&m.org_id, user_id).await? {
                removed.organizations_deleted += 1;
                removed.memberships += 1;
                continue;
            }
            match store.remove_member(m).await? {
                Ok(()) => removed.memberships += 1,
                Err(crate::store::orgs::MembershipRefusal::LastOwner) => {
                    return Err(refuse(
                        codes::ORG_HAS_OTHER_MEMBERS,
                        format!("you are the only owner of organization {}: transfer its ownership first", m.org_id),
                    ));
                }
                Err(_) => {
                    return Err(ApiError::conflict(codes::CONCURRENT_UPDATE, "a membership changed meanwhile: retry"));
                }
            }
        }
        // Reviews: rating kept, author and text gone.
        let usage = store.usage_counters(user_id, MAX_ERASE_ITEMS).await?;
        let tiers = store.entitlements(user_id).await?;
        let solutions = reviewable(&subs, &payments.items, &usage.items, &tiers);
        for review in store.reviews_by(user_id, &solutions).await? {
            if (review.author != ERASED_AUTHOR || !review.text.is_empty())
                && store.anonymise_review(&review, ERASED_AUTHOR, &at).await?
            {
                removed.reviews_anonymised += 1;
            }
        }
        // Invoices: the buyer's name, address and email out of the record; the PDF stays as issued.
        let invoices = store.user_invoice_records(user_id, MAX_ERASE_ITEMS).await?;
        let mut kept_until: Option<chrono::NaiveDate> = None;
        for invoice in &invoices.items {
            if let Some(next) = redacted(invoice, &at) {
                store.save_invoice(&next, invoice.version).await?;
                removed.invoices_redacted += 1;
            }
            if invoice.status == InvoiceStatus::Paid
                && let Some(issued) = invoice.document.as_ref().map(|d| d.issued_on)
            {
                let until = crate::gst::records_kept_until(issued);
                kept_until = Some(kept_until.map_or(until, |k| k.max(until)));
            }
        }
        for h in &payments.items {
            let day = match h {
                HistoryItem::Payment(p) => &p.captured_at,
                HistoryItem::Refund(r) => &r.refunded_at,
            };
            if let Ok(t) = chrono::DateTime::parse_from_rfc3339(day) {
                let until = crate::gst::records_kept_until(t.date_naive());
                kept_until = Some(kept_until.map_or(until, |k| k.max(until)));
            }
        }
        // Counters and the rest of the account's partition.
        removed.usage_counters = store.delete_usage(user_id).await?;
        removed.account_items = store.delete_user_extras(user_id).await?;
        let email_hash = crate::platform::crypto::sha256_hex(user.email.as_bytes());
        store.clear_login_failures(&email_hash).await?;
        // Every session and solution token (a family whose token records expired cannot refresh either: its
        // user's profile is gone at the end).
        let tokens = store.user_token_records(user_id, MAX_ERASE_ITEMS).await?;
        let mut families: Vec<String> = tokens.items.iter().map(|t| t.family_id.clone()).collect();
        families.sort();
        families.dedup();
        for family in &families {
            if store.revoke_family(family, user_id, "account erased", &at).await? {
                removed.sessions_revoked += 1;
            }
        }

        let postings = store.postings_of(&posted_ids(&payments.items)).await?.len();
        let kept = Kept {
            invoices: invoices.items.len(),
            invoice_pdfs: invoices.items.iter().filter(|i| i.pdf_key.is_some()).count(),
            payments_and_refunds: payments.items.len(),
            ledger_postings: postings,
            subscriptions: subs.len(),
            retention_months: crate::gst::RECORD_RETENTION_MONTHS,
            kept_until: kept_until.map(|d| d.to_string()),
            audit_records: "kept with the user id: security events 400 days, money and admin decisions 8 years",
        };
        let tombstone = ErasedAccountItem::new(user_id, &user.created_at, &at, kept.kept_until.clone());
        let event = Event::new(AuditKind::AccountErased, user_id, subject::user(user_id))
            .detail("sessions_revoked", removed.sessions_revoked)
            .detail("invoices_kept", kept.invoices)
            .detail("kept_until", kept.kept_until.as_deref().unwrap_or("-"))
            .source_ip(source_ip);
        store.finish_erasure(&user, &tombstone, &event.at(now)).await?;
        tracing::info!(user_id = %user_id, "account erased");
        Ok(Erased { user_id: user_id.to_owned(), erased_at: at, removed, kept })
    }

    /// The current password, counted by the account's login-failure throttle (no guessing through this route).
    async fn reauthenticate(&self, user: &UserItem, password: &str) -> Result<(), ApiError> {
        let wrong = || ApiError::new(403, codes::REAUTHENTICATION_FAILED, "Forbidden", "the password is incorrect");
        if password.chars().count() > password::MAX_LEN {
            password::verify_dummy(password);
            return Err(wrong());
        }
        let attempt =
            throttle::reserve_password_attempt(&self.store, &user.email, self.clock.now().timestamp()).await?;
        if !password::verify(password, &user.password_hash) {
            return Err(wrong());
        }
        self.store.clear_login_failures(&attempt.email_hash).await?;
        Ok(())
    }
}
