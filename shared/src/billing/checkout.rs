//! One checkout at a time per user and solution. A checkout slot (`CHECKOUT#<user>#<solution>`) names the
//! user's pending subscription to the solution and the request that made it; the transaction creating a
//! subscription claims the slot conditioned on what was read, so concurrent checkouts cannot both stay open.
//! The same request again resumes the pending one; a different one gives it up first: its Stripe Checkout
//! Session is expired (only an open session expires, so a paid one is found, not replaced) and its PhonePe
//! invoice withdrawn (a payment that still arrives for it is unapplied and refunded by the PhonePe rail).

use crate::billing::rail::CheckoutState;
use crate::billing::schedule::void_invoice;
use crate::billing::service::SubscriptionService;
use crate::billing::views::Created;
use crate::billing::writer::{PENDING_EXPIRY_SECONDS, at_version};
use crate::model::{Fact, Provider, Snapshot, SubscriptionStatus};
use crate::money::Money;
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, codes};
use crate::store::invoices::InvoiceStatus;
use crate::store::subscriptions::SubscriptionItem;
use chrono::DateTime;

fn paid_meanwhile(old: &SubscriptionItem) -> ApiError {
    ApiError::conflict(
        codes::SUBSCRIPTION_EXISTS,
        "your previous checkout for this solution has been paid; upgrade or cancel that subscription instead",
    )
    .with_extension("subscription_id", old.subscription_id.clone().into())
}

impl SubscriptionService {
    /// Not paid (yet) and not given up.
    pub(crate) fn is_pending(&self, item: &SubscriptionItem) -> bool {
        matches!(
            item.reconciled.status_at(self.now().timestamp(), self.writer.grace_seconds),
            None | Some(SubscriptionStatus::Pending)
        )
    }

    /// Still payable: younger than the pending expiry (the billing run expires it after that).
    pub(crate) fn is_fresh(&self, item: &SubscriptionItem) -> bool {
        DateTime::parse_from_rfc3339(&item.created_at)
            .is_ok_and(|t| self.now().timestamp() < t.timestamp() + PENDING_EXPIRY_SECONDS)
    }

    /// The same checkout asked for again: the pending subscription and where to pay it.
    pub(crate) async fn resume(&self, old: &SubscriptionItem) -> Result<Created, ApiError> {
        let money = Money { amount: old.price.amount, currency: old.price.currency.clone() };
        let mut created = Created {
            subscription_id: old.subscription_id.clone(),
            status: SubscriptionStatus::Pending,
            checkout_url: old.checkout_url.clone(),
            tier: old.tier,
            period: old.period,
            price: money,
            payment: None,
        };
        if old.provider == Provider::Phonepe {
            let rail = self.rail()?;
            let invoice_id = old.open_invoice_id.clone().ok_or_else(|| ApiError::unavailable(1))?;
            let invoice = self.store().get_invoice(&invoice_id).await?.ok_or_else(|| ApiError::unavailable(1))?;
            let payment = Box::pin(rail.initiate(&invoice, &rail.first_order_id(&old.subscription_id))).await?;
            created.checkout_url = Some(payment.redirect_url.clone());
            created.payment = Some(payment);
        }
        tracing::info!(subscription_id = %old.subscription_id, "pending checkout resumed");
        Ok(created)
    }

    /// Give up a pending subscription for another checkout to the same solution, unless it was paid
    /// meanwhile (409 `subscription_exists`, nothing replaced).
    pub(crate) async fn give_up_checkout(&self, old: &SubscriptionItem, replaced_by: &str) -> Result<(), ApiError> {
        match old.provider {
            Provider::Stripe => {
                if let Some(session) = &old.checkout_session_id
                    && let Err(e) = self.stripe.expire_checkout(session).await
                {
                    // Only an open session expires: read it to learn whether it was paid.
                    match self.stripe.checkout_state(session).await? {
                        CheckoutState::Expired => {}
                        CheckoutState::Complete => return Err(paid_meanwhile(old)),
                        CheckoutState::Open => return Err(e),
                    }
                }
            }
            Provider::Phonepe => {
                let rail = self.rail()?;
                let order_id = rail.first_order_id(&old.subscription_id);
                if rail.order_paid(&order_id).await? == Some(true) {
                    Box::pin(rail.apply_order(&order_id)).await?;
                    return Err(paid_meanwhile(old));
                }
                if let Some(invoice_id) = &old.open_invoice_id {
                    void_invoice(self.store(), invoice_id, rfc3339(self.now())).await?;
                    // Paid between the status read and the withdrawal: it stands.
                    if self.store().get_invoice(invoice_id).await?.is_some_and(|i| i.status == InvoiceStatus::Paid) {
                        return Err(paid_meanwhile(old));
                    }
                }
            }
        }
        let now = self.now().timestamp();
        let fact = Fact::Snapshot(Snapshot::never_paid(format!("~read:replaced-{}", old.subscription_id), now));
        let grace = self.writer.grace_seconds;
        let mut still_pending = true;
        self.writer
            .update(&old.subscription_id, |s, _| {
                still_pending = matches!(s.reconciled.status_at(now, grace), None | Some(SubscriptionStatus::Pending));
                if !still_pending {
                    return Ok(false);
                }
                s.reconciled.apply(at_version(&fact, s.version));
                s.open_invoice_id = None;
                s.replaced_by = Some(replaced_by.to_owned());
                Ok(true)
            })
            .await?;
        if !still_pending {
            return Err(paid_meanwhile(old));
        }
        tracing::info!(subscription_id = %old.subscription_id, replaced_by, "pending checkout replaced");
        Ok(())
    }
}
