//! A customer's payment history and the admins' refunds.

use crate::audit::{self, AuditKind, Event, subject};
use crate::billing::rail::RefundOrder;
use crate::billing::service::{HISTORY_PAGE_SIZE, SubscriptionService, check_idempotency_key, list_request};
use crate::billing::views::{History, HistoryEntry, RefundAnswer, RefundRequest};
use crate::identity::Principal;
use crate::model::Provider;
use crate::platform::error::{ApiError, FieldError, codes};
use crate::store::HistoryItem;
use crate::store::subscriptions::{PaymentItem, RefundItem};

impl SubscriptionService {
    /// `GET /api/payments/history`: the caller's payments and refunds, newest first (admins may name a
    /// customer).
    pub async fn history(
        &self,
        caller: &Principal,
        customer_id: Option<&str>,
        cursor: Option<&str>,
        limit: Option<&str>,
    ) -> Result<History, ApiError> {
        let (customer, limit) =
            list_request(self.store(), caller, customer_id, limit, "payments", HISTORY_PAGE_SIZE).await?;
        let page = self
            .store()
            .payment_history(customer, limit, cursor)
            .await?
            .map_err(|()| ApiError::field("cursor", "is not a cursor of this list"))?;
        let items = page
            .items
            .into_iter()
            .map(|entry| match entry {
                HistoryItem::Payment(p) => HistoryEntry {
                    kind: "payment",
                    payment_id: p.payment_id,
                    refund_id: None,
                    status: None,
                    provider: p.provider,
                    provider_id: p.provider_payment_id,
                    amount: p.amount,
                    currency: p.currency,
                    at: p.captured_at,
                    subscription_id: p.subscription_id,
                    solution_id: p.solution_id,
                    unapplied: p.unapplied,
                },
                HistoryItem::Refund(r) => HistoryEntry {
                    kind: "refund",
                    payment_id: r.payment_id,
                    refund_id: Some(r.refund_id),
                    status: Some(r.status),
                    provider: r.provider,
                    provider_id: r.provider_refund_id,
                    amount: r.amount,
                    currency: r.currency,
                    at: r.refunded_at,
                    subscription_id: None,
                    solution_id: None,
                    unapplied: false,
                },
            })
            .collect();
        Ok(History { customer_id: customer.to_owned(), items, cursor: page.cursor })
    }

    /// `POST /api/payments/{id}/refund` (admin): ask Stripe for a refund; it is recorded when Stripe
    /// reports it (`refund.*`, `charge.refunded`).
    pub async fn refund(
        &self,
        caller: &Principal,
        payment_id: &str,
        req: RefundRequest,
        idempotency_key: Option<&str>,
    ) -> Result<RefundAnswer, ApiError> {
        if !caller.is_admin() {
            return Err(ApiError::forbidden("only admins may refund"));
        }
        let idempotency_key = check_idempotency_key(idempotency_key)?;
        let missing = || ApiError::not_found(codes::PAYMENT_NOT_FOUND, "no payment with this id");
        if !crate::platform::ids::is_valid("pay", payment_id) {
            return Err(missing());
        }
        let reason = req.reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(ApiError::field("reason", "must be 1 to 500 characters"));
        }
        let (payment, refunds) = self.store().payment_with_refunds(payment_id).await?;
        let payment: PaymentItem = payment.ok_or_else(missing)?;
        let refunded: i64 = refunds.iter().filter(|r: &&RefundItem| r.status.counts()).map(|r| r.amount).sum();
        let remaining = payment.amount - refunded;
        let amount = req.amount.unwrap_or(remaining);
        if amount <= 0 || amount > remaining {
            let mut e = ApiError::new(
                422,
                codes::REFUND_EXCEEDS_PAYMENT,
                "Refund too large",
                format!("at most {remaining} {} can be refunded", payment.currency),
            );
            e.errors = vec![FieldError::new("amount", format!("must be from 1 to {remaining}"))];
            return Err(e);
        }
        let answer = if payment.provider == Provider::Phonepe {
            let key = match idempotency_key {
                Some(k) => crate::platform::crypto::sha256_hex(k.as_bytes()),
                None => crate::platform::ids::new_id("rfq"),
            };
            self.rail()?.refund(&payment, amount, &key).await?
        } else {
            self.stripe_refund(caller, &payment, amount, reason, idempotency_key).await?
        };
        crate::platform::metrics::refund(payment.provider.as_str(), "requested");
        let event = Event::new(AuditKind::RefundRequested, &caller.user_id, subject::payment(payment_id))
            .reason(Some(reason))
            .detail("amount", answer.amount)
            .detail("currency", &answer.currency)
            .detail("provider", payment.provider.as_str())
            .detail("provider_refund_id", &answer.provider_refund_id)
            .detail("status", &answer.status);
        audit::record_after(self.store(), &[event.at(self.now())]).await;
        Ok(answer)
    }

    /// A refund asked of Stripe (recorded when Stripe reports it).
    async fn stripe_refund(
        &self,
        caller: &Principal,
        payment: &PaymentItem,
        amount: i64,
        reason: &str,
        idempotency_key: Option<&str>,
    ) -> Result<RefundAnswer, ApiError> {
        let payment_id = payment.payment_id.as_str();
        let idem = match idempotency_key {
            Some(k) => format!("refund-{payment_id}-{}", crate::platform::crypto::sha256_hex(k.as_bytes())),
            None => format!("refund-{payment_id}-{}", crate::platform::ids::new_id("rfq")),
        };
        let order = RefundOrder {
            provider_payment_id: &payment.provider_payment_id,
            amount,
            payment_id,
            requested_by: &caller.user_id,
            reason,
        };
        let accepted = self.stripe.refund(order, &idem).await?;
        tracing::info!(payment_id, amount, by = %caller.user_id, "refund requested");
        Ok(RefundAnswer {
            payment_id: payment_id.to_owned(),
            provider_refund_id: accepted.provider_refund_id,
            status: accepted.status,
            amount: accepted.amount.unwrap_or(amount),
            currency: payment.currency.clone(),
        })
    }
}
