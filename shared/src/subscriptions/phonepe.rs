//! The PhonePe rail. PhonePe has no subscription engine: we bill. Every payment is an open invoice (the first
//! period, a renewal made by the billing run, or an upgrade's prorated difference) paid through a PhonePe
//! checkout order. What an order did is always read from PhonePe's status API, never from a callback body;
//! applying it is idempotent (the payment id derives from our order id, the invoice is issued in the same
//! transaction, subscription facts fold), so `verify`, callbacks and reruns in any order end in one state.

use super::invoicing::{self, Seller};
use super::service::{Ledger, derived_id};
use super::{Fact, Provider, RefundStatus, Snapshot, SubscriptionStatus};
use crate::error::{ApiError, codes};
use crate::phonepe::client::{OrderState, OrderStatus, PhonePeClient, PhonePeError, refund_state};
use crate::store::Issued;
use crate::store::items::{
    InvoiceItem, InvoiceReason, InvoiceStatus, NotificationItem, PaymentItem, PhonePeOrderItem, RefundItem,
    SubscriptionItem,
};
use crate::tokens::rfc3339;
use chrono::{DateTime, Utc};
use serde::Serialize;
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
    pub ledger: Ledger,
    pub client: PhonePeClient,
    pub seller: Arc<Seller>,
    pub settings: PhonePeSettings,
}

/// `POST /api/payments/initiate`: where to pay.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Initiated {
    pub payment_id: String,
    pub merchant_order_id: String,
    pub redirect_url: String,
    pub invoice_id: String,
    pub amount: i64,
    pub currency: String,
}

/// `POST /api/payments/verify`: what PhonePe says of an order, applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verified {
    pub merchant_order_id: String,
    pub state: OrderState,
    pub invoice_id: String,
    pub subscription_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice_number: Option<String>,
}

/// The payment id of a PhonePe order (one order, one payment).
pub fn payment_id_of(merchant_order_id: &str) -> String {
    derived_id("pay", &format!("phonepe:{merchant_order_id}"))
}

fn not_open() -> ApiError {
    ApiError::conflict(codes::INVOICE_NOT_OPEN, "this invoice is already paid or withdrawn")
}

impl PhonePeRail {
    fn now(&self) -> DateTime<Utc> {
        self.ledger.clock.now()
    }

    /// A new checkout order for an open invoice. `merchant_order_id` is deterministic for an idempotent
    /// request, so a retry finds its order and answers the same.
    pub async fn initiate(&self, invoice: &InvoiceItem, merchant_order_id: &str) -> Result<Initiated, ApiError> {
        if invoice.status != InvoiceStatus::Open {
            return Err(not_open());
        }
        let store = &self.ledger.store;
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
        let store = &self.ledger.store;
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
        let store = &self.ledger.store;
        match self.client.order_status(merchant_order_id).await {
            Ok(status) if status.state == OrderState::Completed => {
                self.apply_status(merchant_order_id, &status).await?;
                return Err(not_open());
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
        if self.ledger.store.get_phonepe_order(merchant_order_id).await?.is_none() {
            return Err(ApiError::not_found(codes::PAYMENT_NOT_FOUND, "no payment with this order id"));
        }
        let status = self.client.order_status(merchant_order_id).await?;
        Box::pin(self.apply_status(merchant_order_id, &status)).await
    }

    async fn apply_status(&self, merchant_order_id: &str, status: &OrderStatus) -> Result<Verified, ApiError> {
        let store = &self.ledger.store;
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
                verified.invoice_number = Box::pin(self.complete(&order, status)).await?;
            }
        }
        Ok(verified)
    }

    /// A completed order: the payment recorded and its invoice issued (one transaction), then the
    /// subscription moved on. Returns the invoice number.
    async fn complete(&self, order: &PhonePeOrderItem, status: &OrderStatus) -> Result<Option<String>, ApiError> {
        let store = &self.ledger.store;
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
        let invoice = store.get_invoice(&order.invoice_id).await?.ok_or_else(missing)?;
        let subscription = store.get_subscription(&order.subscription_id).await?.ok_or_else(missing)?;
        let attempt = status.completed_attempt();
        let paid_at = attempt
            .and_then(|a| a.timestamp)
            .and_then(|ms| DateTime::from_timestamp(ms.div_euclid(1000), 0))
            .unwrap_or_else(|| self.now());
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
        let extra = vec![store.tx_put(&note, Some("attribute_not_exists(PK)"))?];
        let issued = match invoice.status {
            InvoiceStatus::Open => {
                Box::pin(invoicing::issue(
                    store,
                    &self.seller,
                    to_issue.clone(),
                    &subscription,
                    &payment,
                    paid_at,
                    extra,
                ))
                .await?
            }
            _ if invoice.payment_id.as_deref() == Some(payment_id.as_str()) => Issued::AlreadyRecorded,
            _ => {
                let mut extra = extra;
                let facts = crate::earnings::PaymentFacts { tier: Some(invoice.tier), ..Default::default() };
                extra.extend(crate::earnings::payment_posting(store, &payment, facts).await?);
                if store.put_payment_once(&payment, extra).await? {
                    Issued::InvoiceAlreadyPaid
                } else {
                    Issued::AlreadyRecorded
                }
            }
        };
        let now = rfc3339(self.now());
        if issued == Issued::InvoiceAlreadyPaid {
            // Paid twice (two orders for one invoice) or after the invoice was withdrawn: keep the money on
            // record and tell the operator to refund it; grant nothing more.
            tracing::error!(merchant_order_id = %order.merchant_order_id, invoice_id = %invoice.invoice_id, "payment for an invoice that is not open");
            let ops = NotificationItem::new(
                &format!("unapplied-payment:{payment_id}"),
                "unapplied_payment",
                &order.user_id,
                Some(&subscription.solution_id),
                serde_json::json!({"payment_id": payment_id, "invoice_id": invoice.invoice_id,
                                   "amount": payment.amount, "currency": payment.currency}),
                now.clone(),
            );
            store.put_notification_once(&ops).await?;
            store.advance_phonepe_order(&order.merchant_order_id, "completed", None, None, &now).await?;
            return Ok(None);
        }
        Box::pin(self.apply_to_subscription(&to_issue, &order.merchant_order_id, paid_at.timestamp())).await?;
        store.advance_phonepe_order(&order.merchant_order_id, "completed", None, None, &now).await?;
        let number = store.get_invoice(&invoice.invoice_id).await?.and_then(|i| i.number);
        Ok(number)
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
            InvoiceReason::Upgrade => match self.ledger.store.get_subscription(&invoice.subscription_id).await? {
                Some(s) if s.tier < invoice.tier => {
                    self.ledger.quota_restart(&s, invoice.tier, &format!("payment:{merchant_order_id}")).await?
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
        self.ledger
            .update(&invoice.subscription_id, |s: &mut SubscriptionItem, extra| {
                if let Some(f) = &fact {
                    s.reconciled.apply(f.clone());
                }
                if invoice.reason == InvoiceReason::Upgrade && s.tier < invoice.tier {
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
    ) -> Result<super::service::RefundAnswer, ApiError> {
        let original = payment
            .provider_invoice_id
            .clone()
            .ok_or_else(|| ApiError::field("payment_id", "this payment has no PhonePe order"))?;
        let merchant_refund_id = derived_id("prf", &format!("{}:{request_key}", payment.payment_id));
        let answer = self.client.refund(&merchant_refund_id, &original, amount).await?;
        let status = refund_state(&answer.state);
        self.record_refund(payment, &merchant_refund_id, answer.amount, status).await?;
        tracing::info!(payment_id = %payment.payment_id, amount, "phonepe refund requested");
        Ok(super::service::RefundAnswer {
            payment_id: payment.payment_id.clone(),
            provider_refund_id: merchant_refund_id,
            status: status.as_str().to_owned(),
            amount: answer.amount,
            currency: payment.currency.clone(),
        })
    }

    /// Ask PhonePe for a refund's state and record it (callbacks name the refund; the state is read).
    pub async fn apply_refund(
        &self,
        merchant_refund_id: &str,
        original_merchant_order_id: &str,
    ) -> Result<(), ApiError> {
        let answer = self.client.refund_status(merchant_refund_id).await?;
        let payment_id = payment_id_of(original_merchant_order_id);
        let (payment, _) = self.ledger.store.payment_with_refunds(&payment_id).await?;
        let Some(payment) = payment else {
            tracing::warn!(merchant_refund_id, "refund of an unknown phonepe payment");
            return Ok(());
        };
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
        self.ledger.store.record_refund(&item).await?;
        // Succeeded refunds reverse their part of the payment in the partner's ledger (once each).
        crate::earnings::settle_refunds(&self.ledger.store, self.ledger.clock.as_ref(), &payment.payment_id).await?;
        Ok(())
    }
}
