//! Subscriptions we bill through invoices, over billing's `InvoiceRail` (PhonePe today): creating them,
//! `initiate` and `verify`, their tier changes and cancellations, and the invoice list with short-lived
//! download links.

use crate::billing::invoicing::BuyerTax;
use crate::billing::rail::InvoiceRail;
use crate::billing::service::SubscriptionService;
use crate::billing::views::Initiated;
use crate::billing::views::TierChange;
use crate::billing::views::Verified;
use crate::billing::views::{Created, SubscriptionView, UpgradeRequest};
use crate::billing::writer::{at_version, derived_id};
use crate::gst::TaxBreakdown;
use crate::identity::Principal;
use crate::model::Tier;
use crate::model::{BillingPeriod, Fact, Price, Provider, Snapshot, SubscriptionStatus};
use crate::money::Money;
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, FieldError, codes};
use crate::store::invoices::{InvoiceItem, InvoiceReason, InvoiceStatus};
use crate::store::subscriptions::SubscriptionItem;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitiateRequest {
    #[serde(default)]
    pub subscription_id: Option<String>,
    #[serde(default)]
    pub invoice_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub merchant_order_id: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyAnswer {
    #[serde(flatten)]
    pub order: Verified,
    pub subscription: SubscriptionView,
}

/// An invoice as its owner sees it.
#[derive(Debug, Clone, Serialize)]
pub struct InvoiceView {
    pub invoice_id: String,
    pub number: Option<String>,
    pub status: InvoiceStatus,
    pub reason: InvoiceReason,
    pub subscription_id: String,
    pub solution_id: String,
    pub provider: Provider,
    pub tier: Tier,
    pub amount: i64,
    pub currency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax: Option<TaxBreakdown>,
    pub period_start: Option<String>,
    pub period_end: Option<String>,
    pub issued_at: Option<String>,
    pub due_at: Option<String>,
    pub created_at: String,
    /// The overage of a usage-priced period this invoice charges (part of `amount`, its own line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overage: Option<OverageView>,
    /// A short-lived link to the PDF (issued invoices).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download_url: Option<String>,
}

/// A billing period's overage on an invoice.
#[derive(Debug, Clone, Serialize)]
pub struct OverageView {
    pub period_start: Option<String>,
    pub period_end: Option<String>,
    /// Units the period counted, included, and beyond the allowance.
    pub used: u64,
    pub included: u64,
    pub units: u64,
    /// Minor units (tax-inclusive), part of the invoice's amount.
    pub amount: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct InvoiceList {
    pub customer_id: String,
    pub items: Vec<InvoiceView>,
    pub cursor: Option<String>,
}

fn epoch(at: Option<i64>) -> Option<String> {
    at.and_then(|t| DateTime::from_timestamp(t, 0)).map(rfc3339)
}

fn renewal_unpaid() -> ApiError {
    ApiError::conflict(codes::RENEWAL_UNPAID, "the renewal invoice is unpaid: pay it first, then change the tier")
}

/// Withdraw an invoice if it is an open upgrade invoice (one replaced on its subscription). Idempotent.
async fn void_upgrade_invoice(store: &crate::store::Store, invoice_id: &str, at: String) -> Result<(), ApiError> {
    if store.get_invoice(invoice_id).await?.is_some_and(|i| i.reason == InvoiceReason::Upgrade) {
        crate::billing::schedule::void_invoice(store, invoice_id, at).await?;
    }
    Ok(())
}

/// The prorated difference of moving from `old` to `new` (per period) for the rest of a period: rounded to
/// the nearest paisa, halves up.
pub fn prorated(old: i64, new: i64, period_start: i64, period_end: i64, now: i64) -> i64 {
    let total = i128::from((period_end - period_start).max(1));
    let remaining = i128::from((period_end - now).clamp(0, period_end - period_start));
    let diff = i128::from(new - old);
    i64::try_from((diff * remaining * 2 + total) / (total * 2)).unwrap_or(0)
}

impl SubscriptionService {
    pub(crate) fn rail(&self) -> Result<&dyn InvoiceRail, ApiError> {
        self.phonepe.as_deref().ok_or_else(|| {
            let mut e = ApiError::new(
                422,
                codes::PROVIDER_NOT_CONFIGURED,
                "Provider not configured",
                "PhonePe is not configured on this deployment",
            );
            e.errors = vec![FieldError::new("provider", "phonepe is not configured here")];
            e
        })
    }

    /// `POST /api/subscriptions` on PhonePe: a pending subscription, its first invoice, and the order that pays
    /// it (the first period starts when it is paid).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn create_on_phonepe(
        &self,
        caller: &Principal,
        customer: &str,
        req: &crate::billing::views::CreateRequest,
        period: BillingPeriod,
        subscription_id: &str,
        price: Price,
        buyer: BuyerTax,
        now: DateTime<Utc>,
        claim: aws_sdk_dynamodb::types::TransactWriteItem,
    ) -> Result<Option<Created>, ApiError> {
        let rail = self.rail()?;
        let mut item = SubscriptionItem::new(
            subscription_id,
            customer,
            &req.solution_id,
            req.tier,
            period,
            Provider::Phonepe,
            price.clone(),
            rfc3339(now),
        );
        item.buyer_gstin = buyer.gstin;
        item.buyer_state = buyer.state;
        let invoice_id = derived_id("inv", &format!("{subscription_id}:first"));
        let mut invoice = InvoiceItem::open(
            &invoice_id,
            &item,
            req.tier,
            InvoiceReason::Subscription,
            price.amount,
            &price.currency,
            None,
            rfc3339(now),
        );
        invoice.price = Some(price.clone());
        invoice.due_at = Some(now.timestamp());
        item.open_invoice_id = Some(invoice_id.clone());
        item.set_billing_due(Some(now.timestamp() + crate::billing::writer::PENDING_EXPIRY_SECONDS));
        let store = self.store();
        let invoice_put = store.tx_put_new(&invoice)?;
        match store.create_subscription(&item, None, vec![invoice_put, claim]).await {
            Ok(()) => {}
            // Another checkout for this solution claimed the slot first.
            Err(crate::store::StoreError::Conditional { index: Some(2) }) => return Ok(None),
            // A retry of the same idempotent request: the subscription is there, pay its invoice.
            Err(crate::store::StoreError::Conditional { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let invoice = store.get_invoice(&invoice_id).await?.ok_or_else(|| ApiError::unavailable(1))?;
        let order_id = rail.first_order_id(subscription_id);
        let payment = Box::pin(rail.initiate(&invoice, &order_id)).await?;
        tracing::info!(subscription_id, user_id = %caller.user_id, tier = req.tier.as_str(), "subscription created (pending phonepe payment)");
        Ok(Some(Created {
            subscription_id: subscription_id.to_owned(),
            status: SubscriptionStatus::Pending,
            checkout_url: Some(payment.redirect_url.clone()),
            tier: req.tier,
            period,
            price: Money { amount: price.amount, currency: price.currency },
            payment: Some(payment),
        }))
    }

    /// `POST /api/payments/initiate` `{subscription_id}` (its open invoice) or `{invoice_id}`.
    pub async fn initiate(
        &self,
        caller: &Principal,
        req: InitiateRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Initiated, ApiError> {
        let rail = self.rail()?;
        let invoice_id =
            match (&req.subscription_id, &req.invoice_id) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(ApiError::field("subscription_id", "give either subscription_id or invoice_id"));
                }
                (None, Some(id)) => id.clone(),
                (Some(sub), None) => self.owned(caller, sub).await?.open_invoice_id.ok_or_else(|| {
                    ApiError::conflict(codes::INVOICE_NOT_OPEN, "this subscription has nothing to pay")
                })?,
            };
        let missing = || {
            let mut e = ApiError::not_found(codes::INVOICE_NOT_FOUND, "no invoice with this id");
            e.errors = vec![FieldError::new("invoice_id", "no invoice with this id")];
            e
        };
        if !crate::platform::ids::is_valid("inv", &invoice_id) {
            return Err(missing());
        }
        // The payer's own record says whether their address is verified (read alongside the invoice).
        let (invoice, payer) = Box::pin(async {
            tokio::join!(self.store().get_invoice(&invoice_id), self.store().get_user(&caller.user_id))
        })
        .await;
        let invoice = invoice?.ok_or_else(missing)?;
        crate::billing::customers::may_manage(self.store(), caller, &invoice.user_id, "pay invoices").await?;
        crate::auth::verification::ensure_verified(payer?.as_ref())?;
        if invoice.provider != Provider::Phonepe {
            return Err(ApiError::field("invoice_id", "this invoice is paid through Stripe"));
        }
        let order_id = match idempotency_key {
            Some(k) if k.is_empty() || k.len() > 255 => {
                return Err(ApiError::field("Idempotency-Key", "must be 1 to 255 characters"));
            }
            Some(k) => derived_id("po", &format!("{invoice_id}\n{}\n{k}", caller.user_id)),
            None => crate::platform::ids::new_id("po"),
        };
        // A retry of a request that paid the invoice superseding this one: that order's answer again.
        if idempotency_key.is_some()
            && let Some(existing) = self.store().get_phonepe_order(&order_id).await?
            && existing.invoice_id != invoice.invoice_id
            && existing.subscription_id == invoice.subscription_id
            && let Some(successor) = self.store().get_invoice(&existing.invoice_id).await?
            && successor.reason == InvoiceReason::Upgrade
        {
            return rail.initiate(&successor, &order_id).await;
        }
        let invoice = if invoice.reason == InvoiceReason::Upgrade && invoice.status == InvoiceStatus::Open {
            Box::pin(self.upgrade_invoice_for_now(invoice)).await?
        } else {
            invoice
        };
        rail.initiate(&invoice, &order_id).await
    }

    /// An open upgrade invoice about to be paid: withdrawn (`invoice_not_open`) when it can no longer apply
    /// (superseded, its period over, the subscription no longer active); superseded by a fresh invoice when
    /// the prorated difference for the rest of the period is no longer its amount (it is computed for now,
    /// never reused stale); else itself.
    async fn upgrade_invoice_for_now(&self, invoice: InvoiceItem) -> Result<InvoiceItem, ApiError> {
        let now = self.now();
        let subscription = self.store().get_subscription(&invoice.subscription_id).await?;
        let current = subscription.filter(|s| upgrade_applies(&invoice, s, now.timestamp(), self.writer.grace_seconds));
        let (Some(subscription), Some(price)) = (current, invoice.price.clone()) else {
            crate::billing::schedule::void_invoice(self.store(), &invoice.invoice_id, rfc3339(now)).await?;
            tracing::info!(invoice_id = %invoice.invoice_id, "lapsed upgrade invoice withdrawn");
            return Err(not_open());
        };
        let Some(latest) = subscription.reconciled.latest.as_ref() else {
            return Err(not_open());
        };
        let amount =
            prorated(subscription.price.amount, price.amount, latest.period_start, latest.period_end, now.timestamp());
        if amount == invoice.amount {
            return Ok(invoice);
        }
        let (fresh, _) = self.open_upgrade_invoice(&subscription, invoice.tier, price, now).await?;
        tracing::info!(old = %invoice.invoice_id, new = %fresh.invoice_id, was = invoice.amount, amount, "upgrade invoice recomputed for now");
        Ok(fresh)
    }

    /// The open upgrade invoice of `item` to `tier` for the rest of its period, prorated at `now`, made the
    /// subscription's open invoice (version-checked: only while it is active in that period); the upgrade
    /// invoice it replaces is withdrawn, so a subscription has at most one. Refused while a renewal is
    /// unpaid (`renewal_unpaid`) or once the period is over.
    pub(crate) async fn open_upgrade_invoice(
        &self,
        item: &SubscriptionItem,
        tier: Tier,
        price: Price,
        now: DateTime<Utc>,
    ) -> Result<(InvoiceItem, SubscriptionItem), ApiError> {
        let store = self.store();
        let at = now.timestamp();
        let grace = self.writer.grace_seconds;
        let latest =
            item.reconciled.latest.clone().ok_or_else(|| {
                ApiError::conflict(codes::SUBSCRIPTION_NOT_ACTIVE, "the subscription is not paid yet")
            })?;
        if let Some(open) = &item.open_invoice_id
            && let Some(inv) = store.get_invoice(open).await?
            && inv.status == InvoiceStatus::Open
            && inv.reason != InvoiceReason::Upgrade
        {
            return Err(renewal_unpaid());
        }
        let period_over = || {
            ApiError::conflict(
                codes::SUBSCRIPTION_NOT_ACTIVE,
                "the current period is over; its renewal comes before a tier change",
            )
        };
        if at >= latest.period_end {
            return Err(period_over());
        }
        let amount = prorated(item.price.amount, price.amount, latest.period_start, latest.period_end, at);
        // The same request again within the second lands on the same invoice; one withdrawn meanwhile (a
        // cancellation, a downgrade) is never reopened: a fresh id instead.
        let derived = derived_id(
            "inv",
            &format!("{}:upgrade:{}:{}:{at}:{amount}", item.subscription_id, latest.period_start, tier.as_str()),
        );
        let mut invoice = None;
        for invoice_id in [derived, crate::platform::ids::new_id("inv")] {
            let mut fresh = InvoiceItem::open(
                &invoice_id,
                item,
                tier,
                InvoiceReason::Upgrade,
                amount.max(0),
                &price.currency,
                Some((latest.period_start, latest.period_end)),
                rfc3339(now),
            );
            fresh.price = Some(price.clone());
            fresh.due_at = Some(at);
            store.put_invoice_once(&fresh).await?;
            let stored = store.get_invoice(&invoice_id).await?.ok_or_else(|| ApiError::unavailable(1))?;
            if stored.status == InvoiceStatus::Open {
                invoice = Some(stored);
                break;
            }
        }
        let invoice = invoice.ok_or_else(|| ApiError::unavailable(1))?;
        let invoice_id = invoice.invoice_id.clone();
        let mut replaced = None;
        let saved = self
            .writer
            .update(&item.subscription_id, |s, _| {
                replaced = None;
                let same_period = s.reconciled.latest.as_ref().map(|l| l.period_start) == Some(latest.period_start);
                if s.reconciled.status_at(at, grace) == Some(SubscriptionStatus::PastDue) && s.open_invoice_id.is_some()
                {
                    return Err(renewal_unpaid());
                }
                if s.reconciled.status_at(at, grace) != Some(SubscriptionStatus::Active) || !same_period {
                    return Err(period_over());
                }
                if s.open_invoice_id.as_deref() == Some(invoice_id.as_str()) {
                    return Ok(false);
                }
                replaced = s.open_invoice_id.replace(invoice_id.clone());
                Ok(true)
            })
            .await;
        let saved = match saved {
            Ok(Some(saved)) => saved,
            Ok(None) => return Err(ApiError::internal("subscription vanished")),
            Err(e) => {
                // Never referenced: withdrawn so it cannot be paid.
                crate::billing::schedule::void_invoice(store, &invoice_id, rfc3339(now)).await?;
                return Err(e);
            }
        };
        if let Some(old) = replaced {
            void_upgrade_invoice(store, &old, rfc3339(now)).await?;
            tracing::info!(subscription_id = %item.subscription_id, old = %old, new = %invoice_id, "upgrade invoice superseded");
        }
        Ok((invoice, saved))
    }

    /// `POST /api/payments/verify`: PhonePe's state of an order, applied (idempotent).
    pub async fn verify(&self, caller: &Principal, req: VerifyRequest) -> Result<VerifyAnswer, ApiError> {
        let rail = self.rail()?;
        let missing = || {
            let mut e = ApiError::not_found(codes::PAYMENT_NOT_FOUND, "no payment with this order id");
            e.errors = vec![FieldError::new("merchant_order_id", "no payment with this order id")];
            e
        };
        if !rail.valid_order_id(&req.merchant_order_id) {
            return Err(missing());
        }
        let order = self.store().get_phonepe_order(&req.merchant_order_id).await?.ok_or_else(missing)?;
        crate::billing::customers::may_manage(self.store(), caller, &order.user_id, "verify payments").await?;
        let verified = Box::pin(rail.apply_order(&req.merchant_order_id)).await?;
        let subscription = self.owned(caller, &order.subscription_id).await?;
        Ok(VerifyAnswer { order: verified, subscription: self.view(&subscription) })
    }

    /// A tier change on PhonePe: an upgrade is invoiced (the prorated difference for the rest of the period)
    /// and applies when paid; a downgrade waits for the period end; the current tier again cancels a scheduled
    /// downgrade.
    pub(crate) async fn change_tier_on_phonepe(
        &self,
        item: SubscriptionItem,
        req: &UpgradeRequest,
        price: Price,
    ) -> Result<TierChange, ApiError> {
        let rail = self.rail()?;
        let now = self.now();
        if item.reconciled.latest.is_none() {
            return Err(ApiError::conflict(codes::SUBSCRIPTION_NOT_ACTIVE, "the subscription is not paid yet"));
        }
        if req.tier > item.tier {
            let (invoice, saved) = self.open_upgrade_invoice(&item, req.tier, price, now).await?;
            let amount = invoice.amount;
            let invoice_id = invoice.invoice_id.clone();
            // PhonePe takes at least ₹1: a smaller difference is not worth a payment page.
            let order_id = derived_id("po", &format!("{invoice_id}:{}", saved.version));
            let payment = Box::pin(rail.initiate(&invoice, &order_id)).await?;
            tracing::info!(subscription_id = %saved.subscription_id, tier = req.tier.as_str(), amount, "phonepe upgrade invoiced");
            return Ok(TierChange { subscription: self.view(&saved), payment: Some(payment) });
        }
        let tier = req.tier;
        // Another tier than the open upgrade's: that upgrade is superseded.
        let upgrade_open = match &item.open_invoice_id {
            Some(id) => self.store().get_invoice(id).await?.filter(|i| i.reason == InvoiceReason::Upgrade),
            None => None,
        };
        let mut superseded = None;
        let saved = self
            .writer
            .update(&item.subscription_id, |s, _| {
                superseded = None;
                if let Some(open) = &upgrade_open
                    && s.open_invoice_id.as_deref() == Some(open.invoice_id.as_str())
                {
                    superseded = s.open_invoice_id.take();
                }
                crate::billing::changes::schedule_tier(s, tier, &price);
                Ok(true)
            })
            .await?
            .unwrap_or(item);
        if let Some(old) = superseded {
            void_upgrade_invoice(self.store(), &old, rfc3339(now)).await?;
        }
        Ok(TierChange { subscription: self.view(&saved), payment: None })
    }

    /// Cancellation on PhonePe (we bill, so nothing to tell PhonePe): at period end, no renewal is invoiced
    /// and the tier ends then; `immediately`, or a past-due or unpaid subscription, ends now.
    pub(crate) async fn cancel_on_phonepe(
        &self,
        item: &SubscriptionItem,
        immediately: bool,
    ) -> Result<SubscriptionItem, ApiError> {
        let now = self.now().timestamp();
        let status = item.reconciled.status_at(now, self.writer.grace_seconds).unwrap_or(SubscriptionStatus::Pending);
        let latest = item.reconciled.latest.clone();
        let label = format!("~read:cancel-{}-{}", item.subscription_id, item.version);
        let snapshot = match (status, latest) {
            (SubscriptionStatus::Active, Some(l)) if !immediately => {
                Snapshot { event_id: label, created: now, cancel_at_period_end: true, ..l }
            }
            (SubscriptionStatus::Pending, _) | (_, None) => Snapshot::never_paid(label, now),
            (_, Some(l)) => Snapshot { event_id: label, created: now, status: SubscriptionStatus::Canceled, ..l },
        };
        let fact = Fact::Snapshot(snapshot);
        let ends_now = !matches!(&fact, Fact::Snapshot(s) if s.cancel_at_period_end);
        // Ending now withdraws whatever is open; canceling at the period end withdraws an open upgrade
        // invoice (the only kind an active subscription has): nobody upgrades what they are leaving.
        let upgrade_open = match &item.open_invoice_id {
            Some(id) => self.store().get_invoice(id).await?.filter(|i| i.reason == InvoiceReason::Upgrade),
            None => None,
        };
        let mut withdrawn = None;
        let saved = self
            .writer
            .update(&item.subscription_id, |s, _| {
                s.reconciled.apply(at_version(&fact, s.version));
                let upgrade = upgrade_open.as_ref().map(|i| i.invoice_id.as_str());
                withdrawn = if ends_now || (s.open_invoice_id.is_some() && s.open_invoice_id.as_deref() == upgrade) {
                    s.open_invoice_id.take()
                } else {
                    None
                };
                Ok(true)
            })
            .await?
            .ok_or_else(|| ApiError::internal("subscription vanished"))?;
        if let Some(id) = withdrawn {
            crate::billing::schedule::void_invoice(self.store(), &id, rfc3339(self.now())).await?;
        }
        Ok(saved)
    }

    /// `GET /api/invoices`: the caller's invoices, newest first, each issued one with a short-lived link to its
    /// PDF (rendered and stored on first need). Admins may name a customer.
    pub async fn invoices(
        &self,
        caller: &Principal,
        customer_id: Option<&str>,
        cursor: Option<&str>,
        limit: Option<&str>,
    ) -> Result<InvoiceList, ApiError> {
        let (customer, limit) = crate::billing::service::list_request(
            self.store(),
            caller,
            customer_id,
            limit,
            "invoices",
            crate::billing::service::HISTORY_PAGE_SIZE,
        )
        .await?;
        let page = self
            .store()
            .user_invoices(customer, limit, cursor)
            .await?
            .map_err(|()| ApiError::field("cursor", "is not a cursor of this list"))?;
        let mut items = Vec::with_capacity(page.items.len());
        for invoice in page.items {
            let download_url = match (&self.invoice_files, invoice.status) {
                (Some(files), InvoiceStatus::Paid) => match files.ensure_pdf(self.store(), &invoice).await? {
                    Some(key) => Some(files.link(&key).await?),
                    None => None,
                },
                _ => None,
            };
            items.push(InvoiceView {
                number: invoice.number.clone(),
                status: invoice.status,
                reason: invoice.reason,
                subscription_id: invoice.subscription_id.clone(),
                solution_id: invoice.solution_id.clone(),
                provider: invoice.provider,
                tier: invoice.tier,
                amount: invoice.amount,
                currency: invoice.currency.clone(),
                tax: invoice.document.as_ref().map(|d| d.tax),
                period_start: epoch(invoice.period_start),
                period_end: epoch(invoice.period_end),
                issued_at: invoice.issued_at.clone(),
                due_at: epoch(invoice.due_at),
                created_at: invoice.created_at.clone(),
                overage: invoice.overage.as_ref().map(|o| OverageView {
                    period_start: epoch(Some(o.period_start)),
                    period_end: epoch(Some(o.period_end)),
                    used: o.used,
                    included: o.included,
                    units: o.units,
                    amount: o.amount,
                }),
                invoice_id: invoice.invoice_id,
                download_url,
            });
        }
        Ok(InvoiceList { customer_id: customer.to_owned(), items, cursor: page.cursor })
    }
}

/// Whether an open upgrade invoice can still be paid into effect at `at`: it is its subscription's open
/// invoice, the subscription is active in the period the invoice prorates, that period has not ended, and
/// the tier is still an upgrade. Other invoices are not limited here.
pub fn upgrade_applies(invoice: &InvoiceItem, subscription: &SubscriptionItem, at: i64, grace_seconds: i64) -> bool {
    if invoice.reason != InvoiceReason::Upgrade {
        return true;
    }
    let Some(latest) = subscription.reconciled.latest.as_ref() else { return false };
    subscription.open_invoice_id.as_deref() == Some(invoice.invoice_id.as_str())
        && subscription.reconciled.status_at(at, grace_seconds) == Some(SubscriptionStatus::Active)
        && invoice.period_start == Some(latest.period_start)
        && at < latest.period_end
        && subscription.tier < invoice.tier
}

pub fn not_open() -> ApiError {
    ApiError::conflict(codes::INVOICE_NOT_OPEN, "this invoice is already paid or withdrawn")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BillingPeriod, Price, Tier};

    #[test]
    fn proration_rounds_to_the_paisa() {
        let day = 86_400;
        // Half of a 30-day period left: half the difference.
        assert_eq!(prorated(49_900, 199_900, 0, 30 * day, 15 * day), 75_000);
        // 10 of 30 days left: one third, rounded (150_000 / 3 = 50_000).
        assert_eq!(prorated(49_900, 199_900, 0, 30 * day, 20 * day), 50_000);
        // 1 of 3 seconds left of 100 paise: 33.33 → 33.
        assert_eq!(prorated(0, 100, 0, 3, 2), 33);
        // 2 of 3: 66.67 → 67.
        assert_eq!(prorated(0, 100, 0, 3, 1), 67);
        // After the end: nothing; before the start: the whole difference.
        assert_eq!(prorated(100, 300, 0, 10, 20), 0);
        assert_eq!(prorated(100, 300, 10, 20, 0), 200);
    }

    #[test]
    fn an_upgrade_invoice_applies_only_as_the_open_invoice_of_its_active_period() {
        let (start, end, grace) = (1_800_000_000, 1_800_000_000 + 30 * 86_400, 7 * 86_400);
        let price = Price::new(49_900, "inr", BillingPeriod::Monthly);
        let mut sub = SubscriptionItem::new(
            "sub_1",
            "usr_1",
            "sol_1",
            Tier::Pro,
            BillingPeriod::Monthly,
            Provider::Phonepe,
            price,
            "2027-01-15T00:00:00Z".into(),
        );
        let snapshot = |status, created| {
            Fact::Snapshot(Snapshot {
                event_id: format!("e{created}"),
                created,
                status,
                period_start: start,
                period_end: end,
                cancel_at_period_end: false,
                price_id: None,
            })
        };
        sub.reconciled.apply(snapshot(SubscriptionStatus::Active, start));
        let invoice = InvoiceItem::open(
            "inv_up",
            &sub,
            Tier::Enterprise,
            InvoiceReason::Upgrade,
            50_000,
            "inr",
            Some((start, end)),
            "t".into(),
        );
        let applies = |s: &SubscriptionItem, at| upgrade_applies(&invoice, s, at, grace);
        assert!(!applies(&sub, start + 10), "not the subscription's open invoice");
        sub.open_invoice_id = Some("inv_up".into());
        assert!(applies(&sub, start + 10));
        assert!(!applies(&sub, end), "its period is over");
        let mut upgraded = sub.clone();
        upgraded.tier = Tier::Enterprise;
        assert!(!applies(&upgraded, start + 10), "no longer an upgrade");
        let mut renewed = sub.clone();
        renewed.reconciled.apply(snapshot(SubscriptionStatus::PastDue, end));
        assert!(!applies(&renewed, end + 60), "the renewal began");
        let renewal =
            InvoiceItem::open("inv_r", &sub, Tier::Pro, InvoiceReason::Renewal, 49_900, "inr", None, "t".into());
        assert!(upgrade_applies(&renewal, &renewed, end + 60, grace), "other invoices are not limited here");
    }
}
