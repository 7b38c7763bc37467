//! PhonePe refunds: admin refunds of a payment, the refund of money that could not be applied, and applying
//! what PhonePe reports of a refund (the partner ledger reverses succeeded ones).

use crate::billing::writer::derived_id;
use crate::model::{Provider, RefundStatus};
use crate::payments::phonepe::client::{PhonePeError, refund_state};
use crate::platform::clock::rfc3339;
use crate::platform::error::ApiError;
use crate::store::invoices::{InvoiceItem, PhonePeOrderItem};
use crate::store::outbox::NotificationItem;
use crate::store::subscriptions::{PaymentItem, RefundItem, SubscriptionItem};

use super::*;

impl PhonePeRail {
    /// Money that could not be applied: marked unapplied, the operator told, the whole amount refunded
    /// through PhonePe under one deterministic merchant refund id (so reruns, `verify` and callbacks racing
    /// each other ask for it once), and the user told. Idempotent.
    pub(super) async fn refund_unapplied(
        &self,
        order: &PhonePeOrderItem,
        payment: &PaymentItem,
        invoice: &InvoiceItem,
        subscription: &SubscriptionItem,
    ) -> Result<(), ApiError> {
        let store = &self.writer.store;
        let payment_id = &payment.payment_id;
        store.mark_payment_unapplied(payment_id).await?;
        let merchant_refund_id = unapplied_refund_id(payment_id);
        let data = serde_json::json!({"payment_id": payment_id, "invoice_id": invoice.invoice_id,
                                      "subscription_id": order.subscription_id, "amount": payment.amount,
                                      "currency": payment.currency, "merchant_refund_id": merchant_refund_id});
        let ops = NotificationItem::new(
            &format!("unapplied-payment:{payment_id}"),
            "unapplied_payment",
            &order.user_id,
            Some(&subscription.solution_id),
            data.clone(),
            rfc3339(self.now()),
        );
        store.put_notification_once(&ops).await?;
        let (amount, status) = Box::pin(self.request_refund(payment, &merchant_refund_id, payment.amount)).await?;
        tracing::warn!(
            payment_id,
            merchant_refund_id,
            amount,
            status = status.as_str(),
            "unapplied phonepe payment refunded"
        );
        let user = NotificationItem::new(
            &format!("payment-unapplied-refunded:{payment_id}"),
            "payment_unapplied_refunded",
            &order.user_id,
            Some(&subscription.solution_id),
            data,
            rfc3339(self.now()),
        );
        store.put_notification_once(&user).await?;
        Ok(())
    }

    /// An admin refund of a PhonePe payment: `/payments/v2/refund`, recorded as PhonePe reports it.
    pub async fn refund(
        &self,
        payment: &PaymentItem,
        amount: i64,
        request_key: &str,
    ) -> Result<crate::billing::views::RefundAnswer, ApiError> {
        let merchant_refund_id = derived_id("prf", &format!("{}:{request_key}", payment.payment_id));
        let (amount, status) = Box::pin(self.request_refund(payment, &merchant_refund_id, amount)).await?;
        tracing::info!(payment_id = %payment.payment_id, amount, "phonepe refund requested");
        Ok(crate::billing::views::RefundAnswer {
            payment_id: payment.payment_id.clone(),
            provider_refund_id: merchant_refund_id,
            status: status.as_str().to_owned(),
            amount,
            currency: payment.currency.clone(),
        })
    }

    /// Ask PhonePe to refund `amount` of `payment` under `merchant_refund_id`, and record what PhonePe says.
    /// The refund is recorded as ours (pending) before PhonePe hears of it, so its callback is recognised
    /// whatever happens to this call; asking again with the same id asks PhonePe at most once more (PhonePe
    /// keys refunds by that id), and not at all once the refund is settled.
    pub(super) async fn request_refund(
        &self,
        payment: &PaymentItem,
        merchant_refund_id: &str,
        amount: i64,
    ) -> Result<(i64, RefundStatus), ApiError> {
        let original = payment
            .provider_invoice_id
            .clone()
            .ok_or_else(|| ApiError::field("payment_id", "this payment has no PhonePe order"))?;
        let (_, refunds) = self.writer.store.payment_with_refunds(&payment.payment_id).await?;
        match refunds.iter().find(|r| r.provider_refund_id == merchant_refund_id) {
            Some(r) if r.status != RefundStatus::Pending => return Ok((r.amount, r.status)),
            // Asked before, maybe unanswered: PhonePe's record, when it has one, decides.
            Some(_) => {
                if let Some(known) = self.phonepe_refund(merchant_refund_id).await? {
                    let status = refund_state(&known.state);
                    self.record_refund(payment, merchant_refund_id, known.amount, status).await?;
                    return Ok((known.amount, status));
                }
            }
            None => self.record_refund(payment, merchant_refund_id, amount, RefundStatus::Pending).await?,
        }
        match self.client.refund(merchant_refund_id, &original, amount).await {
            Ok(answer) => {
                let status = refund_state(&answer.state);
                self.record_refund(payment, merchant_refund_id, answer.amount, status).await?;
                Ok((answer.amount, status))
            }
            Err(e @ PhonePeError::Refused { .. }) => {
                // Refused: perhaps it has this refund already (a repeated id); else it is not happening.
                if let Some(known) = self.phonepe_refund(merchant_refund_id).await? {
                    let status = refund_state(&known.state);
                    self.record_refund(payment, merchant_refund_id, known.amount, status).await?;
                    return Ok((known.amount, status));
                }
                self.record_refund(payment, merchant_refund_id, amount, RefundStatus::Failed).await?;
                Err(e.into())
            }
            // No answer: it stays pending (ours); PhonePe's callback or the next attempt settles it.
            Err(e) => Err(e.into()),
        }
    }

    /// PhonePe's record of a refund (`None`: it has none).
    pub(super) async fn phonepe_refund(
        &self,
        merchant_refund_id: &str,
    ) -> Result<Option<crate::payments::phonepe::client::RefundAnswer>, ApiError> {
        match self.client.refund_status(merchant_refund_id).await {
            Ok(answer) => Ok(Some(answer)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// A refund callback: the refund's state re-read from PhonePe and recorded only when it matches what we
    /// know: PhonePe's refund is of the order the callback names (and for the amount it names), that order
    /// is one of our payments, the refund is one we asked for (recorded, or the unapplied refund of that
    /// payment), and its amount fits what is left to refund (and is what we asked for). Anything else is
    /// logged and recorded nowhere (the callback is still acknowledged: resending it changes nothing).
    pub async fn apply_refund(
        &self,
        merchant_refund_id: &str,
        callback_order: Option<&str>,
        callback_amount: Option<i64>,
    ) -> Result<(), ApiError> {
        if !crate::payments::phonepe::client::valid_merchant_id(merchant_refund_id) {
            tracing::warn!("phonepe refund callback with an invalid refund id");
            return Ok(());
        }
        let Some(answer) = self.phonepe_refund(merchant_refund_id).await? else {
            tracing::warn!(merchant_refund_id, "refund callback for a refund PhonePe does not know");
            return Ok(());
        };
        let Some(original) = answer.original_merchant_order_id.clone() else {
            tracing::warn!(merchant_refund_id, "PhonePe's refund names no original order; nothing recorded");
            return Ok(());
        };
        if callback_order.is_some_and(|o| o != original) || callback_amount.is_some_and(|a| a != answer.amount) {
            tracing::warn!(
                merchant_refund_id,
                callback_order,
                original,
                callback_amount,
                amount = answer.amount,
                "refund callback differs from PhonePe's refund; nothing recorded"
            );
            return Ok(());
        }
        let payment_id = payment_id_of(&original);
        let (payment, refunds) = self.writer.store.payment_with_refunds(&payment_id).await?;
        let Some(payment) = payment
            .filter(|p| p.provider == Provider::Phonepe && p.provider_invoice_id.as_deref() == Some(original.as_str()))
        else {
            tracing::warn!(merchant_refund_id, original, "refund of an unknown phonepe payment; nothing recorded");
            return Ok(());
        };
        let ours = refunds.iter().find(|r| r.provider_refund_id == merchant_refund_id);
        if ours.is_none() && merchant_refund_id != unapplied_refund_id(&payment_id) {
            tracing::warn!(merchant_refund_id, payment_id, "a refund we never asked for; nothing recorded");
            return Ok(());
        }
        let others: i64 = refunds
            .iter()
            .filter(|r| r.provider_refund_id != merchant_refund_id && r.status.counts())
            .map(|r| r.amount)
            .sum();
        let refundable = payment.amount - others;
        if answer.amount <= 0 || answer.amount > refundable || ours.is_some_and(|r| r.amount != answer.amount) {
            tracing::warn!(
                merchant_refund_id,
                payment_id,
                amount = answer.amount,
                refundable,
                asked = ours.map(|r| r.amount),
                "PhonePe's refund amount does not fit the payment; nothing recorded"
            );
            return Ok(());
        }
        self.record_refund(&payment, merchant_refund_id, answer.amount, refund_state(&answer.state)).await
    }

    pub(super) async fn record_refund(
        &self,
        payment: &PaymentItem,
        merchant_refund_id: &str,
        amount: i64,
        status: RefundStatus,
    ) -> Result<(), ApiError> {
        let now = rfc3339(self.now());
        let item = RefundItem::new(
            derived_id("rfd", &format!("phonepe:{merchant_refund_id}")),
            &payment.payment_id,
            &payment.user_id,
            Provider::Phonepe,
            merchant_refund_id,
            amount,
            &payment.currency,
            status,
            now.clone(),
            now,
        );
        if self.writer.store.record_refund(&item).await? != crate::store::RefundChange::Unchanged {
            crate::platform::metrics::refund("phonepe", status.as_str());
        }
        // Succeeded refunds reverse their part of the payment in the partner's ledger (once each).
        crate::ledger::settle_refunds(&self.writer.store, self.writer.clock.as_ref(), &payment.payment_id).await?;
        Ok(())
    }
}
