//! `GET /api/me/export`: everything about the caller, bounded (see the module doc of [`super`]).

use super::{DataRights, EXPORT_FORMAT_VERSION, MAX_ITEMS, MAX_USAGE_COUNTERS};
use crate::ApiError;
use crate::audit::{AuditKind, Event, record_after, subject};
use crate::identity::Principal;
use crate::model::{Provider, Role, SubscriptionStatus, Tier, TokenKind};
use crate::platform::clock::rfc3339;
use crate::store::invoices::InvoiceItem;
use crate::store::privacy::Bounded;
use crate::store::subscriptions::{HistoryItem, SubscriptionItem};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// At most a bound of items; `truncated` when there were more.
#[derive(Debug, Clone, Serialize)]
pub struct Section<T> {
    pub items: Vec<T>,
    pub truncated: bool,
}

impl<T> Section<T> {
    fn of<S>(b: Bounded<S>, f: impl Fn(S) -> T) -> Self {
        Self { items: b.items.into_iter().map(f).collect(), truncated: b.truncated }
    }

    fn capped(mut items: Vec<T>) -> Self {
        let truncated = items.len() > MAX_ITEMS;
        items.truncate(MAX_ITEMS);
        Self { items, truncated }
    }
}

/// The export.
#[derive(Debug, Clone, Serialize)]
pub struct Export {
    pub format_version: u32,
    pub generated_at: String,
    pub user_id: String,
    pub account: Account,
    pub sessions: Section<TokenRecord>,
    pub organizations: Section<Membership>,
    pub invitations: Section<Invitation>,
    pub tiers: Section<TierRecord>,
    pub subscriptions: Section<Subscription>,
    pub payments: Section<Payment>,
    pub invoices: Section<Invoice>,
    pub ledger_postings: Section<Posting>,
    pub usage: Section<UsageCounter>,
    pub reviews: Section<Review>,
    pub partner: Option<Partner>,
    pub audit: Section<AuditRecord>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub created_at: String,
    pub email_verified: bool,
    pub email_verified_at: Option<String>,
}

/// An issued session or solution token (never the token, its hash or a refresh token).
#[derive(Debug, Clone, Serialize)]
pub struct TokenRecord {
    pub token_id: String,
    pub session_id: String,
    pub kind: TokenKind,
    pub solution_id: Option<String>,
    pub scopes: Vec<String>,
    pub issued_at: String,
    pub expires_at: i64,
    pub revoked_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Membership {
    pub org_id: String,
    pub name: Option<String>,
    pub kind: Option<crate::model::OrgKind>,
    pub role: crate::model::OrgRole,
    pub joined_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Invitation {
    pub invitation_id: String,
    pub org_id: String,
    pub org_name: String,
    pub role: crate::model::OrgRole,
    pub status: crate::store::orgs::InvitationStatus,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TierRecord {
    pub solution_id: String,
    pub tier: Tier,
    pub valid_until: Option<i64>,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Subscription {
    pub subscription_id: String,
    pub solution_id: String,
    pub tier: Tier,
    pub period: crate::model::BillingPeriod,
    pub provider: Provider,
    pub status: SubscriptionStatus,
    pub cancel_at_period_end: bool,
    pub period_end: Option<i64>,
    pub buyer_gstin: Option<String>,
    pub buyer_state: Option<String>,
    pub created_at: String,
}

/// A payment (`kind: payment`) or a refund (`kind: refund`).
#[derive(Debug, Clone, Serialize)]
pub struct Payment {
    pub kind: &'static str,
    pub id: String,
    pub payment_id: String,
    pub provider: Provider,
    pub provider_id: String,
    pub amount: i64,
    pub currency: String,
    pub at: String,
    pub status: Option<crate::model::RefundStatus>,
}

/// An invoice: its number once issued; the PDF is fetched through `GET /api/invoices` (a short-lived link).
#[derive(Debug, Clone, Serialize)]
pub struct Invoice {
    pub invoice_id: String,
    pub number: Option<String>,
    pub status: crate::store::invoices::InvoiceStatus,
    pub subscription_id: String,
    pub amount: i64,
    pub currency: String,
    pub issued_at: Option<String>,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
    pub pdf_available: bool,
}

/// The ledger posting of one of the user's payments or refunds (the partner's share and the platform's).
#[derive(Debug, Clone, Serialize)]
pub struct Posting {
    pub posting_id: String,
    pub source_id: String,
    pub kind: crate::store::ledger::PostingKind,
    pub solution_id: Option<String>,
    pub currency: String,
    pub at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct UsageCounter {
    pub customer_id: String,
    pub solution_id: String,
    /// `yyyy-mm-dd` (a day) or `yyyy-mm` (a month).
    pub period: String,
    pub used: u64,
    pub actions: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Review {
    pub solution_id: String,
    pub author: String,
    pub rating: u8,
    pub text: String,
    pub created_at: String,
    pub updated_at: String,
}

/// The partner the user applied as (payout details masked, as shown anywhere).
#[derive(Debug, Clone, Serialize)]
pub struct Partner {
    pub partner_id: String,
    pub company: String,
    pub contact_email: String,
    pub status: String,
    pub website: Option<String>,
    pub gstin: Option<String>,
    pub payout_masked: Option<String>,
    pub created_at: String,
    /// Its API keys: id, name, prefix and times (never the key or its hash).
    pub api_keys: Vec<ApiKey>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiKey {
    pub key_id: String,
    pub name: String,
    pub prefix: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    pub kind: String,
    pub at: String,
    pub actor: String,
    pub subject: String,
    pub source_ip: Option<String>,
}

/// The status of a subscription now (pending when nothing was reported yet).
pub(crate) fn status_of(s: &SubscriptionItem) -> SubscriptionStatus {
    s.reconciled.latest.as_ref().map_or(SubscriptionStatus::Pending, |l| l.status)
}

/// The solutions a user may have reviewed: those subscribed to, paid for, used or with a tier.
pub(crate) fn reviewable(
    subs: &[SubscriptionItem],
    history: &[HistoryItem],
    usage: &[crate::store::usage::UsageCounterItem],
    tiers: &[crate::store::solutions::EntitlementItem],
) -> Vec<String> {
    let mut ids = BTreeSet::new();
    ids.extend(subs.iter().map(|s| s.solution_id.clone()));
    ids.extend(history.iter().filter_map(|h| match h {
        HistoryItem::Payment(p) => p.solution_id.clone(),
        HistoryItem::Refund(_) => None,
    }));
    ids.extend(usage.iter().filter(|u| !u.solution_id.is_empty()).map(|u| u.solution_id.clone()));
    ids.extend(tiers.iter().map(|t| t.solution_id.clone()));
    ids.into_iter().collect()
}

/// The ids the ledger posts payments and refunds by.
pub(crate) fn posted_ids(history: &[HistoryItem]) -> Vec<String> {
    history
        .iter()
        .map(|h| match h {
            HistoryItem::Payment(p) => p.payment_id.clone(),
            HistoryItem::Refund(r) => r.refund_id.clone(),
        })
        .collect()
}

/// A user's payments and refunds, at most `max`, newest first.
pub(crate) async fn history(
    store: &crate::store::Store,
    user_id: &str,
    max: usize,
) -> Result<Bounded<HistoryItem>, ApiError> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .payment_history(user_id, crate::store::privacy::READ_PAGE, after.as_deref())
            .await?
            .map_err(|()| ApiError::internal("payment history cursor"))?;
        out.extend(page.items);
        if out.len() > max {
            out.truncate(max);
            return Ok(Bounded { items: out, truncated: true });
        }
        match page.cursor {
            Some(c) => after = Some(c),
            None => return Ok(Bounded { items: out, truncated: false }),
        }
    }
}

fn invoice_view(i: InvoiceItem) -> Invoice {
    Invoice {
        pdf_available: i.pdf_key.is_some(),
        invoice_id: i.invoice_id,
        number: i.number,
        status: i.status,
        subscription_id: i.subscription_id,
        amount: i.amount,
        currency: i.currency,
        issued_at: i.issued_at,
        period_start: i.period_start,
        period_end: i.period_end,
    }
}

fn payment_view(h: HistoryItem) -> Payment {
    match h {
        HistoryItem::Payment(p) => Payment {
            kind: "payment",
            id: p.payment_id.clone(),
            payment_id: p.payment_id,
            provider: p.provider,
            provider_id: p.provider_payment_id,
            amount: p.amount,
            currency: p.currency,
            at: p.captured_at,
            status: None,
        },
        HistoryItem::Refund(r) => Payment {
            kind: "refund",
            id: r.refund_id,
            payment_id: r.payment_id,
            provider: r.provider,
            provider_id: r.provider_refund_id,
            amount: r.amount,
            currency: r.currency,
            at: r.refunded_at,
            status: Some(r.status),
        },
    }
}

impl DataRights {
    /// `GET /api/me/export` (a session only: the caller is checked by the handler).
    pub async fn export(&self, caller: &Principal, source_ip: Option<&str>) -> Result<Export, ApiError> {
        let store = &self.store;
        let now = self.clock.now();
        let user_id = caller.user_id.as_str();
        let (user, tiers) = store.user_with_entitlements(user_id).await?;
        let user =
            user.ok_or_else(|| ApiError::not_found(crate::platform::error::codes::USER_NOT_FOUND, "no such user"))?;

        let tokens = store.user_token_records(user_id, MAX_ITEMS).await?;
        let family_ids: Vec<String> = tokens.items.iter().map(|t| t.family_id.clone()).collect();
        let families = store.families(&family_ids).await?;
        let sessions = Section::of(tokens, |t| TokenRecord {
            revoked_at: families.get(&t.family_id).and_then(|f| f.revoked_at.clone()),
            token_id: t.token_id,
            session_id: t.family_id,
            kind: t.kind,
            solution_id: t.solution_id,
            scopes: t.scopes,
            issued_at: t.issued_at,
            expires_at: t.exp,
        });

        let memberships = store.user_memberships(user_id).await?;
        let org_ids: Vec<String> = memberships.iter().map(|m| m.org_id.clone()).collect();
        let orgs: BTreeMap<String, crate::store::orgs::OrgItem> =
            store.orgs(&org_ids).await?.into_iter().map(|o| (o.org_id.clone(), o)).collect();
        let organizations = Section::capped(
            memberships
                .into_iter()
                .map(|m| Membership {
                    name: orgs.get(&m.org_id).map(|o| o.name.clone()),
                    kind: orgs.get(&m.org_id).map(|o| o.kind),
                    org_id: m.org_id,
                    role: m.role,
                    joined_at: m.joined_at,
                })
                .collect(),
        );
        let invitations = Section::capped(
            store
                .invitations_to(&user.email)
                .await?
                .into_iter()
                .map(|i| Invitation {
                    invitation_id: i.invitation_id,
                    org_id: i.org_id,
                    org_name: i.org_name,
                    role: i.role,
                    status: i.status,
                    created_at: i.created_at,
                })
                .collect(),
        );

        let subs = store.user_subscriptions(user_id).await?;
        let history = history(store, user_id, MAX_ITEMS).await?;
        let usage = store.usage_counters(user_id, MAX_USAGE_COUNTERS).await?;
        let solutions = reviewable(&subs, &history.items, &usage.items, &tiers);
        let reviews = store.reviews_by(user_id, &solutions).await?;
        let postings = store.postings_of(&posted_ids(&history.items)).await?;
        let invoices = store.user_invoice_records(user_id, MAX_ITEMS).await?;
        let partner = self.partner(user_id).await?;
        let audit = store.audit_about(&subject::user(user_id), MAX_ITEMS).await?;

        let export = Export {
            format_version: EXPORT_FORMAT_VERSION,
            generated_at: rfc3339(now),
            user_id: user_id.to_owned(),
            account: Account {
                email: user.email,
                name: user.name,
                role: user.role,
                created_at: user.created_at,
                email_verified: user.email_verified,
                email_verified_at: user.email_verified_at,
            },
            sessions,
            organizations,
            invitations,
            tiers: Section::capped(
                tiers
                    .into_iter()
                    .map(|t| TierRecord {
                        solution_id: t.solution_id,
                        tier: t.tier,
                        valid_until: t.valid_until,
                        updated_at: t.updated_at,
                    })
                    .collect(),
            ),
            subscriptions: Section::capped(
                subs.into_iter()
                    .map(|s| Subscription {
                        status: status_of(&s),
                        cancel_at_period_end: s.reconciled.latest.as_ref().is_some_and(|l| l.cancel_at_period_end),
                        period_end: s.reconciled.latest.as_ref().map(|l| l.period_end).filter(|e| *e > 0),
                        subscription_id: s.subscription_id,
                        solution_id: s.solution_id,
                        tier: s.tier,
                        period: s.period,
                        provider: s.provider,
                        buyer_gstin: s.buyer_gstin,
                        buyer_state: s.buyer_state,
                        created_at: s.created_at,
                    })
                    .collect(),
            ),
            payments: Section::of(history, payment_view),
            invoices: Section::of(invoices, invoice_view),
            ledger_postings: Section::capped(
                postings
                    .into_iter()
                    .map(|p| Posting {
                        posting_id: p.posting_id,
                        source_id: p.source_id,
                        kind: p.kind,
                        solution_id: p.solution_id,
                        currency: p.currency,
                        at: p.at,
                    })
                    .collect(),
            ),
            usage: Section::of(usage, |u| UsageCounter {
                actions: u.actions(),
                customer_id: u.customer_id,
                solution_id: u.solution_id,
                period: u.period,
                used: u.used,
            }),
            reviews: Section::capped(
                reviews
                    .into_iter()
                    .map(|r| Review {
                        solution_id: r.solution_id,
                        author: r.author,
                        rating: r.rating,
                        text: r.text,
                        created_at: r.created_at,
                        updated_at: r.updated_at,
                    })
                    .collect(),
            ),
            partner,
            audit: Section::of(audit, |a| AuditRecord {
                kind: a.kind,
                at: a.at,
                actor: a.actor,
                subject: a.subject,
                source_ip: a.source_ip,
            }),
        };
        let event = Event::new(AuditKind::AccountExported, user_id, subject::user(user_id)).source_ip(source_ip);
        record_after(store, &[event.at(now)]).await;
        Ok(export)
    }

    async fn partner(&self, user_id: &str) -> Result<Option<Partner>, ApiError> {
        let Some(link) = self.store.get_partner_link(user_id).await? else {
            return Ok(None);
        };
        let Some(p) = self.store.get_partner(&link.partner_id).await? else {
            return Ok(None);
        };
        let keys = self.store.partner_api_keys(&p.partner_id).await?;
        Ok(Some(Partner {
            api_keys: keys
                .into_iter()
                .take(MAX_ITEMS)
                .map(|k| ApiKey {
                    key_id: k.key_id,
                    name: k.name,
                    prefix: k.prefix,
                    created_at: k.created_at,
                    revoked_at: k.revoked_at,
                })
                .collect(),
            partner_id: p.partner_id,
            company: p.company,
            contact_email: p.contact_email,
            status: p.status,
            website: p.website,
            gstin: p.gstin,
            payout_masked: p.payout_masked,
            created_at: p.created_at,
        }))
    }
}
