//! The PhonePe rail. PhonePe has no subscription engine: we bill. Every payment is an open invoice (the first
//! period, a renewal made by the billing run, or an upgrade's prorated difference) paid through a PhonePe
//! checkout order. What an order did is always read from PhonePe's status API, never from a callback body;
//! applying it is idempotent (the payment id derives from our order id, the invoice is issued in the same
//! transaction, subscription facts fold), so `verify`, callbacks and reruns in any order end in one state.

use crate::billing::invoicing::{self, Seller};
use crate::billing::rail::{InvoiceRail, RailFuture};
use crate::billing::views::{Initiated, RefundAnswer, Verified};
use crate::billing::writer::{SubscriptionWriter, derived_id};
use crate::model::OrderState;
use crate::model::{Fact, Provider, RefundStatus, Snapshot, SubscriptionStatus};
use crate::payments::phonepe::client::{OrderStatus, PhonePeClient, PhonePeError, refund_state};
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, codes};
use crate::store::Issued;
use crate::store::invoices::{InvoiceItem, InvoiceReason, InvoiceStatus, PhonePeOrderItem};
use crate::store::outbox::NotificationItem;
use crate::store::subscriptions::{PaymentItem, RefundItem, SubscriptionItem};
use chrono::{DateTime, Utc};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct PhonePeSettings {
    /// Where PhonePe sends the user back after paying (`?merchant_order_id=` is appended).
    pub return_url: String,
    /// How long an order can be paid.
    pub order_ttl_seconds: i64,
}

impl PhonePeSettings {
    pub fn new(public_base: &str) -> Self {
        Self {
            return_url: format!("{}/billing/phonepe/return", public_base.trim_end_matches('/')),
            order_ttl_seconds: 20 * 60,
        }
    }
}

#[derive(Clone)]
pub struct PhonePeRail {
    pub writer: SubscriptionWriter,
    pub client: PhonePeClient,
    pub seller: Arc<Seller>,
    pub settings: PhonePeSettings,
}

/// The order that pays a PhonePe subscription's first invoice.
pub fn first_order_id(subscription_id: &str) -> String {
    derived_id("po", &format!("{subscription_id}:first"))
}

/// The payment id of a PhonePe order (one order, one payment).
pub fn payment_id_of(merchant_order_id: &str) -> String {
    derived_id("pay", &format!("phonepe:{merchant_order_id}"))
}

/// The merchant refund id of an unapplied payment's refund: one per payment, so it is asked for once.
pub fn unapplied_refund_id(payment_id: &str) -> String {
    derived_id("prf", &format!("{payment_id}:unapplied"))
}

impl PhonePeRail {
    fn now(&self) -> DateTime<Utc> {
        self.writer.clock.now()
    }

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

    fn initiated(&self, order: &PhonePeOrderItem, redirect_url: &str) -> Initiated {
        Initiated {
            payment_id: payment_id_of(&order.merchant_order_id),
            merchant_order_id: order.merchant_order_id.clone(),
            redirect_url: redirect_url.to_owned(),
            invoice_id: order.invoice_id.clone(),
            amount: order.amount,
            currency: order.currency.clone(),
        }
    }

    async fn create_order(
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
    async fn after_no_answer(&self, invoice: &InvoiceItem, merchant_order_id: &str) -> Result<Initiated, ApiError> {
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

    async fn apply_status(&self, merchant_order_id: &str, status: &OrderStatus) -> Result<Verified, ApiError> {
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
            OrderState::Pending => {}
            OrderState::Failed => {
                if store.advance_phonepe_order(merchant_order_id, "failed", None, None, &now).await? {
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
                verified.invoice_number = number;
                verified.unapplied = unapplied;
            }
        }
        Ok(verified)
    }

    /// A completed order: the payment recorded and its invoice issued (one transaction), then the
    /// subscription moved on. Returns the invoice number, and whether the money could not be applied (its
    /// invoice was withdrawn or paid meanwhile: recorded alone, refunded, nothing granted).
    async fn complete(
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

    /// Money that could not be applied: marked unapplied, the operator told, the whole amount refunded
    /// through PhonePe under one deterministic merchant refund id (so reruns, `verify` and callbacks racing
    /// each other ask for it once), and the user told. Idempotent.
    async fn refund_unapplied(
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

    /// What a paid invoice does to its subscription: a period paid (active through its end), or an upgrade
    /// (the tier and price now, the day's quota restarted once).
    async fn apply_to_subscription(
        &self,
        invoice: &InvoiceItem,
        merchant_order_id: &str,
        paid_at: i64,
    ) -> Result<(), ApiError> {
        let restart = match invoice.reason {
            InvoiceReason::Upgrade => match self.writer.store.get_subscription(&invoice.subscription_id).await? {
                Some(s) if s.tier < invoice.tier => {
                    self.writer.quota_restart(&s, invoice.tier, &format!("payment:{merchant_order_id}")).await?
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
    async fn request_refund(
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
    async fn phonepe_refund(
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

    async fn record_refund(
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
        self.writer.store.record_refund(&item).await?;
        // Succeeded refunds reverse their part of the payment in the partner's ledger (once each).
        crate::ledger::settle_refunds(&self.writer.store, self.writer.clock.as_ref(), &payment.payment_id).await?;
        Ok(())
    }
}

impl PhonePeRail {
    /// The rail as billing holds it.
    pub fn shared(
        writer: SubscriptionWriter,
        client: PhonePeClient,
        seller: Arc<Seller>,
        settings: PhonePeSettings,
    ) -> Arc<dyn InvoiceRail> {
        Arc::new(Self { writer, client, seller, settings })
    }
}

impl InvoiceRail for PhonePeRail {
    fn valid_order_id(&self, order_id: &str) -> bool {
        crate::payments::phonepe::client::valid_merchant_id(order_id)
    }

    fn first_order_id(&self, subscription_id: &str) -> String {
        first_order_id(subscription_id)
    }

    fn initiate<'a>(&'a self, invoice: &'a InvoiceItem, order_id: &'a str) -> RailFuture<'a, Initiated> {
        Box::pin(PhonePeRail::initiate(self, invoice, order_id))
    }

    fn apply_order<'a>(&'a self, order_id: &'a str) -> RailFuture<'a, Verified> {
        Box::pin(PhonePeRail::apply_order(self, order_id))
    }

    fn order_paid<'a>(&'a self, order_id: &'a str) -> RailFuture<'a, Option<bool>> {
        Box::pin(async move {
            match self.client.order_status(order_id).await {
                Ok(status) => Ok(Some(status.state == OrderState::Completed)),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn refund<'a>(&'a self, payment: &'a PaymentItem, amount: i64, key: &'a str) -> RailFuture<'a, RefundAnswer> {
        Box::pin(PhonePeRail::refund(self, payment, amount, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Tier;
    use crate::model::{BillingPeriod, Price};

    #[test]
    fn an_upgrade_invoice_applies_only_as_the_open_invoice_of_its_active_period() {
        let (start, end, grace) = (1_800_000_000, 1_800_000_000 + 30 * 86_400, 7 * 86_400);
        let price =
            Price { amount: 49_900, currency: "inr".into(), period: BillingPeriod::Monthly, stripe_price_id: None };
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
        let applies = |s: &SubscriptionItem, at| crate::billing::invoiced::upgrade_applies(&invoice, s, at, grace);
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
        assert!(
            crate::billing::invoiced::upgrade_applies(&renewal, &renewed, end + 60, grace),
            "other invoices are not limited here"
        );
    }
}
