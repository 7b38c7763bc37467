//! Paying an invoice through a PhonePe order: create (or resume) the order, then apply what PhonePe says it
//! did: the payment, the tax invoice, the subscription's new state.

use crate::billing::invoicing;
use crate::billing::views::{Initiated, Verified};
use crate::billing::writer::{QuotaRestartBy, derived_id};
use crate::model::OrderState;
use crate::model::{Fact, Provider, Snapshot, SubscriptionStatus};
use crate::payments::phonepe::client::{OrderStatus, PhonePeError};
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, codes};
use crate::store::Issued;
use crate::store::invoices::{InvoiceItem, InvoiceReason, InvoiceStatus, PhonePeOrderItem};
use crate::store::outbox::NotificationItem;
use crate::store::subscriptions::{PaymentItem, SubscriptionItem};
use chrono::DateTime;

use super::*;

impl PhonePeRail {
    /// A new checkout order for an open invoice. `merchant_order_id` is deterministic for an idempotent
    /// request, so a retry finds its order and answers the same.
    pub async fn initiate(&self, invoice: &InvoiceItem, merchant_order_id: &str) -> Result<Initiated, ApiError> {
        if invoice.status != InvoiceStatus::Open {
            return Err(crate::billing::invoiced::not_open());
        }
        let store = &self.writer.store;
        if let Some(existing) = store.get_phonepe_order(merchant_order_id).await? {
            if existing.invoice_id != invoice.invoice_id {
                return Err(ApiError::conflict(
                    codes::IDEMPOTENCY_KEY_REUSED,
                    "this idempotency key was used for another payment",
                ));
            }
            if let (Some(url), "pending") = (&existing.redirect_url, existing.state.as_str()) {
                return Ok(self.initiated(&existing, url));
            }
            return self.after_no_answer(invoice, merchant_order_id).await;
        }
        self.create_order(invoice, merchant_order_id, true).await
    }

    pub(super) fn initiated(&self, order: &PhonePeOrderItem, redirect_url: &str) -> Initiated {
        Initiated {
            payment_id: payment_id_of(&order.merchant_order_id),
            merchant_order_id: order.merchant_order_id.clone(),
            redirect_url: redirect_url.to_owned(),
            invoice_id: order.invoice_id.clone(),
            amount: order.amount,
            currency: order.currency.clone(),
        }
    }

    pub(super) async fn create_order(
        &self,
        invoice: &InvoiceItem,
        merchant_order_id: &str,
        may_retry: bool,
    ) -> Result<Initiated, ApiError> {
        let store = &self.writer.store;
        let now = rfc3339(self.now());
        let order = PhonePeOrderItem::new(merchant_order_id, invoice, now.clone());
        if !store.put_phonepe_order_once(&order).await? {
            return Err(ApiError::unavailable(1));
        }
        let return_url = format!("{}?merchant_order_id={merchant_order_id}", self.settings.return_url);
        match self
            .client
            .pay(merchant_order_id, invoice.amount, &return_url, self.settings.order_ttl_seconds, &invoice.invoice_id)
            .await
        {
            Ok(created) => {
                store
                    .advance_phonepe_order(
                        merchant_order_id,
                        "pending",
                        Some(&created.order_id),
                        Some(&created.redirect_url),
                        &now,
                    )
                    .await?;
                tracing::info!(merchant_order_id, invoice_id = %invoice.invoice_id, amount = invoice.amount, "phonepe order created");
                Ok(self.initiated(&order, &created.redirect_url))
            }
            Err(PhonePeError::Timeout(_) | PhonePeError::Upstream { .. }) if may_retry => {
                self.after_no_answer(invoice, merchant_order_id).await
            }
            Err(e) => {
                store.advance_phonepe_order(merchant_order_id, "failed", None, None, &now).await?;
                Err(e.into())
            }
        }
    }

    /// PhonePe did not answer an order's creation: ask for that order before creating another, so a paid
    /// order is never followed by a second one. One it has, unpaid, was never shown to the user (its payment
    /// page never reached us), so a fresh order replaces it.
    pub(super) async fn after_no_answer(
        &self,
        invoice: &InvoiceItem,
        merchant_order_id: &str,
    ) -> Result<Initiated, ApiError> {
        let store = &self.writer.store;
        match self.client.order_status(merchant_order_id).await {
            Ok(status) if status.state == OrderState::Completed => {
                self.apply_status(merchant_order_id, &status).await?;
                return Err(crate::billing::invoiced::not_open());
            }
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
        store.advance_phonepe_order(merchant_order_id, "failed", None, None, &rfc3339(self.now())).await?;
        let retry = derived_id("po", &format!("{merchant_order_id}:retry"));
        tracing::warn!(merchant_order_id, retry = %retry, "phonepe order unanswered; a new order replaces it");
        match store.get_phonepe_order(&retry).await? {
            Some(existing) if existing.state == "pending" && existing.redirect_url.is_some() => {
                let url = existing.redirect_url.clone().unwrap_or_default();
                Ok(self.initiated(&existing, &url))
            }
            Some(_) => Err(ApiError::provider_unavailable()),
            None => Box::pin(self.create_order(invoice, &retry, false)).await,
        }
    }

    /// Ask PhonePe for an order's state and apply it.
    pub async fn apply_order(&self, merchant_order_id: &str) -> Result<Verified, ApiError> {
        if self.writer.store.get_phonepe_order(merchant_order_id).await?.is_none() {
            return Err(ApiError::not_found(codes::PAYMENT_NOT_FOUND, "no payment with this order id"));
        }
        let status = self.client.order_status(merchant_order_id).await?;
        Box::pin(self.apply_status(merchant_order_id, &status)).await
    }

    pub(super) async fn apply_status(
        &self,
        merchant_order_id: &str,
        status: &OrderStatus,
    ) -> Result<Verified, ApiError> {
        let store = &self.writer.store;
        let order = store
            .get_phonepe_order(merchant_order_id)
            .await?
            .ok_or_else(|| ApiError::not_found(codes::PAYMENT_NOT_FOUND, "no payment with this order id"))?;
        let mut verified = Verified {
            merchant_order_id: merchant_order_id.to_owned(),
            state: status.state,
            invoice_id: order.invoice_id.clone(),
            subscription_id: order.subscription_id.clone(),
            payment_id: None,
            invoice_number: None,
            unapplied: false,
        };
        let now = rfc3339(self.now());
        match status.state {
            OrderState::Pending => crate::platform::metrics::payment("phonepe", "pending"),
            OrderState::Failed => {
                if store.advance_phonepe_order(merchant_order_id, "failed", None, None, &now).await? {
                    crate::platform::metrics::payment("phonepe", "failed");
                    let note = NotificationItem::new(
                        &format!("payment-failed:{merchant_order_id}"),
                        "payment_failed",
                        &order.user_id,
                        None,
                        serde_json::json!({"merchant_order_id": merchant_order_id, "invoice_id": order.invoice_id,
                                           "amount": order.amount, "currency": order.currency,
                                           "subscription_id": order.subscription_id}),
                        now,
                    );
                    store.put_notification_once(&note).await?;
                    tracing::info!(merchant_order_id, "phonepe payment failed");
                }
            }
            OrderState::Completed => {
                verified.payment_id = Some(payment_id_of(merchant_order_id));
                let (number, unapplied) = Box::pin(self.complete(&order, status)).await?;
                crate::platform::metrics::payment("phonepe", if unapplied { "unapplied" } else { "succeeded" });
                verified.invoice_number = number;
                verified.unapplied = unapplied;
            }
        }
        Ok(verified)
    }

    /// A completed order: the payment recorded and its invoice issued (one transaction), then the
    /// subscription moved on. Returns the invoice number, and whether the money could not be applied (its
    /// invoice was withdrawn or paid meanwhile: recorded alone, refunded, nothing granted).
    pub(super) async fn complete(
        &self,
        order: &PhonePeOrderItem,
        status: &OrderStatus,
    ) -> Result<(Option<String>, bool), ApiError> {
        let store = &self.writer.store;
        if status.amount != order.amount {
            tracing::error!(merchant_order_id = %order.merchant_order_id, expected = order.amount, paid = status.amount, "phonepe amount differs from the order");
            return Err(ApiError::new(
                409,
                codes::AMOUNT_MISMATCH,
                "Amount mismatch",
                "the amount paid differs from the order; nothing was granted",
            ));
        }
        let missing = || ApiError::internal("a phonepe order without its invoice or subscription");
        let mut invoice = store.get_invoice(&order.invoice_id).await?.ok_or_else(missing)?;
        let subscription = store.get_subscription(&order.subscription_id).await?.ok_or_else(missing)?;
        let attempt = status.completed_attempt();
        let paid_at = attempt
            .and_then(|a| a.timestamp)
            .and_then(|ms| DateTime::from_timestamp(ms.div_euclid(1000), 0))
            .unwrap_or_else(|| self.now());
        // An upgrade invoice whose period is over (or that was superseded) takes no money into effect:
        // withdrawn now, so the payment below is unapplied (a race with the billing run, a cancellation or a
        // newer upgrade request).
        if invoice.status == InvoiceStatus::Open
            && !crate::billing::invoiced::upgrade_applies(
                &invoice,
                &subscription,
                paid_at.timestamp(),
                self.writer.grace_seconds,
            )
        {
            tracing::warn!(invoice_id = %invoice.invoice_id, merchant_order_id = %order.merchant_order_id, "upgrade invoice paid after it lapsed");
            crate::billing::schedule::void_invoice(store, &invoice.invoice_id, rfc3339(self.now())).await?;
            invoice = store.get_invoice(&order.invoice_id).await?.ok_or_else(missing)?;
        }
        let payment_id = payment_id_of(&order.merchant_order_id);
        let mut to_issue = invoice.clone();
        if to_issue.period_start.is_none() && to_issue.reason == InvoiceReason::Subscription {
            let start = paid_at.timestamp();
            to_issue.period_start = Some(start);
            to_issue.period_end = Some(invoicing::period_end(start, subscription.period));
        }
        let mut payment = PaymentItem::new(
            &payment_id,
            &order.user_id,
            Provider::Phonepe,
            attempt.map_or_else(|| status.order_id.clone(), |a| a.transaction_id.clone()),
            status.amount,
            &order.currency,
            rfc3339(paid_at),
            rfc3339(self.now()),
        );
        payment.subscription_id = Some(order.subscription_id.clone());
        payment.solution_id = Some(subscription.solution_id.clone());
        payment.provider_invoice_id = Some(order.merchant_order_id.clone());
        let note = NotificationItem::new(
            &format!("payment-received:{payment_id}"),
            "payment_received",
            &order.user_id,
            Some(&subscription.solution_id),
            serde_json::json!({"payment_id": payment_id, "amount": payment.amount, "currency": payment.currency,
                               "invoice_id": invoice.invoice_id, "subscription_id": order.subscription_id}),
            rfc3339(self.now()),
        );
        let extra = vec![store.tx_put_new(&note)?];
        let (issued, unapplied) = match invoice.status {
            InvoiceStatus::Open => {
                let issued = Box::pin(invoicing::issue(
                    store,
                    &self.seller,
                    to_issue.clone(),
                    &subscription,
                    &payment,
                    paid_at,
                    extra,
                ))
                .await?;
                let unapplied = match &issued {
                    Issued::Numbered(_) => false,
                    Issued::InvoiceAlreadyPaid => true,
                    // Recorded before: applied when its invoice names it.
                    Issued::AlreadyRecorded => {
                        store.get_invoice(&invoice.invoice_id).await?.and_then(|i| i.payment_id).as_deref()
                            != Some(payment_id.as_str())
                    }
                };
                (issued, unapplied)
            }
            _ if invoice.payment_id.as_deref() == Some(payment_id.as_str()) => (Issued::AlreadyRecorded, false),
            _ => {
                let mut extra = extra;
                payment.unapplied = true;
                let facts = crate::ledger::PaymentFacts { tier: Some(invoice.tier), ..Default::default() };
                extra.extend(crate::ledger::payment_posting(store, &payment, facts).await?);
                let issued = if store.put_payment_once(&payment, extra).await? {
                    Issued::InvoiceAlreadyPaid
                } else {
                    Issued::AlreadyRecorded
                };
                (issued, true)
            }
        };
        let now = rfc3339(self.now());
        if unapplied {
            // Paid twice (two orders for one invoice) or after the invoice was withdrawn: keep the money on
            // record, grant nothing, refund it in full (once), and tell the user and the operator.
            if issued == Issued::InvoiceAlreadyPaid {
                tracing::error!(merchant_order_id = %order.merchant_order_id, invoice_id = %invoice.invoice_id, "payment for an invoice that is not open");
            }
            Box::pin(self.refund_unapplied(order, &payment, &invoice, &subscription)).await?;
            store.advance_phonepe_order(&order.merchant_order_id, "completed", None, None, &now).await?;
            return Ok((None, true));
        }
        Box::pin(self.apply_to_subscription(&to_issue, &order.merchant_order_id, paid_at.timestamp())).await?;
        store.advance_phonepe_order(&order.merchant_order_id, "completed", None, None, &now).await?;
        let number = store.get_invoice(&invoice.invoice_id).await?.and_then(|i| i.number);
        Ok((number, false))
    }

    /// What a paid invoice does to its subscription: a period paid (active through its end), or an upgrade
    /// (the tier and price now, the day's quota restarted once).
    pub(super) async fn apply_to_subscription(
        &self,
        invoice: &InvoiceItem,
        merchant_order_id: &str,
        paid_at: i64,
    ) -> Result<(), ApiError> {
        let restart = match invoice.reason {
            InvoiceReason::Upgrade => match self.writer.store.get_subscription(&invoice.subscription_id).await? {
                Some(s) if s.tier < invoice.tier => {
                    self.writer.quota_restart(&s, invoice.tier, QuotaRestartBy::Payment(merchant_order_id)).await?
                }
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        let fact = match (invoice.reason, invoice.period_start, invoice.period_end) {
            (InvoiceReason::Subscription | InvoiceReason::Renewal, Some(start), Some(end)) => {
                Some(Fact::Snapshot(Snapshot {
                    event_id: format!("phonepe:{merchant_order_id}"),
                    created: paid_at,
                    status: SubscriptionStatus::Active,
                    period_start: start,
                    period_end: end,
                    cancel_at_period_end: false,
                    price_id: None,
                }))
            }
            _ => None,
        };
        self.writer
            .update(&invoice.subscription_id, |s: &mut SubscriptionItem, extra| {
                if let Some(f) = &fact {
                    s.reconciled.apply(f.clone());
                }
                // An upgrade applies to the period it prorated, never to a later one (paid in its period, it
                // may be recorded a moment after the renewal began the next period at the old tier).
                let same_period = s.reconciled.latest.as_ref().map(|l| l.period_start) == invoice.period_start;
                if invoice.reason == InvoiceReason::Upgrade && s.tier < invoice.tier && same_period {
                    s.tier = invoice.tier;
                    if let Some(p) = &invoice.price {
                        s.price = p.clone();
                    }
                    s.pending_tier = None;
                    s.pending_price = None;
                    s.pending_effective_at = None;
                    extra.clone_from(&restart);
                }
                if s.open_invoice_id.as_deref() == Some(invoice.invoice_id.as_str()) {
                    s.open_invoice_id = None;
                }
                Ok(true)
            })
            .await?;
        Ok(())
    }
}
