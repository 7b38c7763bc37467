//! The Stripe webhook: verify the signature on the raw bytes, claim the event id (a conditional write kept 35
//! days), apply it, mark it done. A duplicate is acknowledged without a second effect; a delivery whose
//! processing failed is re-processed when Stripe retries (its claim has a lease). Every effect is itself
//! idempotent and order-independent (subscription facts fold with a join; payments and refunds are put once
//! under ids derived from Stripe's ids; a refund's status only moves forward), so any delivery order ends in the
//! same state.

use crate::billing::writer::{SubscriptionWriter, at_version, derived_id};

use crate::model::{Fact, Provider, RefundStatus};
use crate::payments::stripe::client::{StripeClient, field};
use crate::payments::stripe::events::api_snapshot;
use crate::payments::stripe::events::{
    self, ChargeObject, CheckoutSession, Event, InvoiceEvent, InvoiceObject, Parsed, RefundEventObject,
};
use crate::payments::stripe::signature;
use crate::platform::clock::{rfc3339, rfc3339_epoch};
use crate::platform::error::{ApiError, codes};
use crate::store::invoices::{InvoiceItem, InvoiceReason};
use crate::store::outbox::NotificationItem;
use crate::store::subscriptions::{PaymentItem, ProviderRefItem, RefundItem, WebhookEventItem};
use crate::store::{Claim, RefundChange, keys};
use chrono::DateTime;
use serde::Serialize;

/// Largest body accepted (Stripe's events are far smaller).
pub const BODY_LIMIT: usize = 512 * 1024;
/// Event ids are kept this long (Stripe retries for up to 3 days).
pub const EVENT_RETENTION_SECONDS: i64 = 35 * 86_400;
/// How long one delivery may hold an event before a redelivery may take it over.
const LEASE_SECONDS: i64 = 60;
/// One delivery's outcome as a metric (`crate::platform::metrics::webhook`; the event types are
/// [`events::HANDLED`], any other `other`).
fn count(event_type: &'static str, outcome: &'static str) {
    crate::platform::metrics::webhook("stripe", event_type, outcome);
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Ack {
    pub received: bool,
    pub duplicate: bool,
    pub event_id: String,
    pub event_type: String,
}

#[derive(Clone)]
pub struct StripeWebhookService {
    writer: SubscriptionWriter,
    stripe: StripeClient,
    secrets: Vec<String>,
    tolerance_seconds: i64,
    /// The seller on tax invoices (when set, paid invoices become numbered GST invoices).
    seller: Option<std::sync::Arc<crate::billing::invoicing::Seller>>,
}

impl StripeWebhookService {
    pub fn new(writer: SubscriptionWriter, stripe: StripeClient, secrets: Vec<String>) -> Self {
        Self { writer, stripe, secrets, tolerance_seconds: signature::DEFAULT_TOLERANCE_SECONDS, seller: None }
    }

    /// The Stripe API client (the reconciliation lists events with it).
    pub fn stripe(&self) -> &StripeClient {
        &self.stripe
    }

    /// Issue GST tax invoices for paid Stripe invoices.
    pub fn with_seller(mut self, seller: std::sync::Arc<crate::billing::invoicing::Seller>) -> Self {
        self.seller = Some(seller);
        self
    }

    /// Handle one delivery: `signature_header` is `Stripe-Signature`, `body` the raw bytes.
    pub async fn receive(&self, signature_header: Option<&str>, body: &[u8]) -> Result<Ack, ApiError> {
        if body.len() > BODY_LIMIT {
            return Err(ApiError::payload_too_large(BODY_LIMIT));
        }
        let now = self.writer.clock.now().timestamp();
        let secrets: Vec<&str> = self.secrets.iter().map(String::as_str).collect();
        if let Err(e) = signature::verify(signature_header.unwrap_or(""), body, &secrets, now, self.tolerance_seconds) {
            tracing::warn!(reason = e.code(), "stripe webhook refused");
            count("other", "refused");
            let mut err = ApiError::new(400, codes::INVALID_SIGNATURE, "Invalid signature", e.to_string());
            err.errors = vec![crate::FieldError::new("Stripe-Signature", e.to_string())];
            return Err(err);
        }
        let event: Event = serde_json::from_slice(body)
            .inspect_err(|_| count("other", "invalid"))
            .map_err(|e| ApiError::malformed_json("body", format!("not a Stripe event: {e}")))?;
        self.process(&event).await
    }

    /// Claim, apply and mark done one authentic event (a verified delivery, or one listed from Stripe's API by
    /// the reconciliation). `duplicate` in the answer: it had been applied before.
    pub async fn process(&self, event: &Event) -> Result<Ack, ApiError> {
        let now = self.writer.clock.now().timestamp();
        let key = keys::webhook_event("stripe", &event.id);
        let record = WebhookEventItem::processing(
            "stripe",
            &event.id,
            &event.kind,
            now + LEASE_SECONDS,
            rfc3339_epoch(now),
            now + EVENT_RETENTION_SECONDS,
        );
        let ack =
            |duplicate| Ack { received: true, duplicate, event_id: event.id.clone(), event_type: event.kind.clone() };
        let kind = crate::platform::metrics::bounded(&event.kind, &events::HANDLED);
        match self.writer.store.claim_webhook_event(&record, now).await.inspect_err(|_| count(kind, "failed"))? {
            Claim::Done => {
                tracing::info!(event_id = %event.id, event_type = %event.kind, "duplicate stripe event");
                count(kind, "duplicate");
                return Ok(ack(true));
            }
            Claim::InProgress => {
                count(kind, "in_progress");
                let mut e = ApiError::conflict(codes::EVENT_IN_PROGRESS, "this event is being processed; retry later");
                e.retry_after = Some(LEASE_SECONDS as u64);
                return Err(e);
            }
            Claim::Claimed => {}
        }
        let applied = self.apply(event).await.inspect_err(|_| count(kind, "failed"))?;
        self.writer
            .store
            .finish_webhook_event(&key, &rfc3339_epoch(self.writer.clock.now().timestamp()))
            .await
            .inspect_err(|_| count(kind, "failed"))?;
        tracing::info!(event_id = %event.id, event_type = %event.kind, "stripe event applied");
        count(kind, if applied { "processed" } else { "ignored" });
        Ok(ack(false))
    }

    /// Apply an event: false when it is none this backend acts on (ignored), or names nothing of ours.
    async fn apply(&self, event: &Event) -> Result<bool, ApiError> {
        let parsed = match events::parse(event) {
            Ok(Parsed::Ignored) => return Ok(false),
            Ok(p) => p,
            Err(reason) => {
                tracing::warn!(event_id = %event.id, event_type = %event.kind, reason, "stripe event not applicable");
                return Ok(false);
            }
        };
        let applied = match &parsed {
            Parsed::Subscription(object) => {
                let our_id = match &object.our_id {
                    Some(id) => Some(id.clone()),
                    None => self.subscription_by_ref(&object.id).await?,
                };
                let Some(our_id) = our_id else {
                    tracing::warn!(event_id = %event.id, "subscription event for an unknown subscription");
                    return Ok(false);
                };
                let facts = events::facts(event, &parsed);
                self.fold(&our_id, &object.id, object.item_id.as_deref(), object.customer.as_deref(), facts).await
            }
            Parsed::CheckoutCompleted(session) => self.checkout_completed(event, session).await,
            Parsed::Invoice { kind: InvoiceEvent::Paid, invoice } => self.invoice_paid(event, invoice).await,
            Parsed::Invoice { kind, invoice } => self.invoice_problem(event, *kind, invoice).await,
            Parsed::ChargeRefunded(charge) => self.charge_refunded(charge).await,
            Parsed::Refund(refund) => self.refund_event(refund).await,
            Parsed::Ignored => Ok(()),
        };
        applied.map(|()| true)
    }

    async fn subscription_by_ref(&self, stripe_subscription: &str) -> Result<Option<String>, ApiError> {
        Ok(self
            .writer
            .store
            .get_provider_ref("stripe", "subscription", stripe_subscription)
            .await?
            .and_then(|r| r.subscription_id))
    }

    /// Fold facts into our subscription and record the provider's ids.
    async fn fold(
        &self,
        our_id: &str,
        stripe_subscription: &str,
        item_id: Option<&str>,
        customer: Option<&str>,
        facts: Vec<Fact>,
    ) -> Result<(), ApiError> {
        let saved = self
            .writer
            .update(our_id, |s, _| {
                if s.provider_subscription_id.is_none() {
                    s.provider_subscription_id = Some(stripe_subscription.to_owned());
                }
                if let Some(item) = item_id {
                    s.provider_item_id = Some(item.to_owned());
                }
                if s.provider_customer_id.is_none() {
                    s.provider_customer_id = customer.map(str::to_owned);
                }
                for f in &facts {
                    s.reconciled.apply(at_version(f, s.version));
                }
                Ok(true)
            })
            .await?;
        match saved {
            Some(s) => {
                let reference =
                    ProviderRefItem::new("stripe", "subscription", stripe_subscription, &s.user_id, Some(our_id));
                self.writer.store.put_provider_ref(&reference).await?;
            }
            None => tracing::warn!(subscription_id = our_id, "stripe event names a subscription we do not have"),
        }
        Ok(())
    }

    /// Checkout finished: link Stripe's subscription to ours and read its state from Stripe (the session
    /// carries no status of its own).
    async fn checkout_completed(&self, event: &Event, session: &CheckoutSession) -> Result<(), ApiError> {
        let Some(our_id) = session.client_reference_id.clone().filter(|id| crate::platform::ids::is_valid("sub", id))
        else {
            tracing::warn!(event_id = %event.id, "checkout session without our subscription id");
            return Ok(());
        };
        let Some(stripe_subscription) = &session.subscription else {
            return Ok(());
        };
        let object = self.stripe.get(&format!("/v1/subscriptions/{stripe_subscription}"), &Vec::new()).await?;
        let now = self.writer.clock.now().timestamp().max(event.created);
        let Some((sub, fact)) = api_snapshot(&object, &format!("checkout-{}", event.id), now) else {
            tracing::warn!(event_id = %event.id, "subscription from Stripe without status or period");
            return Ok(());
        };
        let customer = session.customer.clone().or(sub.customer.clone());
        self.fold(&our_id, stripe_subscription, sub.item_id.as_deref(), customer.as_deref(), vec![fact]).await
    }

    /// Whose invoice: (user, our subscription, solution).
    async fn owner_of_invoice(
        &self,
        invoice: &InvoiceObject,
    ) -> Result<Option<(String, Option<String>, Option<String>)>, ApiError> {
        let our_id = match (&invoice.our_subscription_id, &invoice.subscription) {
            (Some(id), _) => Some(id.clone()),
            (None, Some(stripe_sub)) => self.subscription_by_ref(stripe_sub).await?,
            (None, None) => None,
        };
        if let Some(id) = &our_id
            && let Some(s) = self.writer.store.get_subscription(id).await?
        {
            return Ok(Some((s.user_id, Some(s.subscription_id), Some(s.solution_id))));
        }
        if let Some(customer) = &invoice.customer
            && let Some(r) = self.writer.store.get_provider_ref("stripe", "customer", customer).await?
        {
            return Ok(Some((r.user_id, None, None)));
        }
        Ok(None)
    }

    /// A paid invoice is a captured payment, recorded once under an id derived from Stripe's payment.
    async fn invoice_paid(&self, event: &Event, invoice: &InvoiceObject) -> Result<(), ApiError> {
        if invoice.amount_paid <= 0 {
            return Ok(());
        }
        let Some((user_id, subscription_id, solution_id)) = self.owner_of_invoice(invoice).await? else {
            tracing::warn!(event_id = %event.id, "paid invoice of an unknown customer");
            return Ok(());
        };
        let mut invoice = invoice.clone();
        if invoice.payment_intent.is_none() && invoice.charge.is_none() {
            // Since API version basil the payment is only on the invoice's payments, which events leave out.
            let query = vec![field("expand[]", "payments")];
            let fetched = self.stripe.get(&format!("/v1/invoices/{}", invoice.id), &query).await?;
            if let Some(full) = events::invoice(&fetched) {
                invoice.payment_intent = full.payment_intent;
                invoice.charge = full.charge;
            }
        }
        let provider_payment_id =
            invoice.payment_intent.clone().or(invoice.charge.clone()).unwrap_or_else(|| invoice.id.clone());
        let payment_id = derived_id("pay", &format!("stripe:{provider_payment_id}"));
        let now = self.writer.clock.now();
        let mut payment = PaymentItem::new(
            &payment_id,
            &user_id,
            Provider::Stripe,
            provider_payment_id,
            invoice.amount_paid,
            &invoice.currency,
            rfc3339_epoch(invoice.paid_at.unwrap_or(event.created)),
            rfc3339(now),
        );
        payment.subscription_id = subscription_id.clone();
        payment.solution_id = solution_id.clone();
        payment.provider_invoice_id = Some(invoice.id.clone());
        let note = NotificationItem::new(
            &format!("payment-received:{payment_id}"),
            "payment_received",
            &user_id,
            solution_id.as_deref(),
            serde_json::json!({"payment_id": payment_id, "amount": invoice.amount_paid, "currency": invoice.currency,
                               "subscription_id": subscription_id}),
            rfc3339(now),
        );
        let mut extra = vec![self.writer.store.tx_put_new(&note)?];
        // With a seller configured, the payment is recorded with its GST tax invoice (one transaction).
        let subscription = match &subscription_id {
            Some(id) => self.writer.store.get_subscription(id).await?,
            None => None,
        };
        let first_payment = invoice.billing_reason.as_deref() == Some("subscription_create");
        let tier = subscription.as_ref().map(|s| s.tier);
        if let (Some(seller), Some(sub)) = (&self.seller, subscription) {
            let reason = match invoice.billing_reason.as_deref() {
                Some("subscription_cycle") => InvoiceReason::Renewal,
                Some("subscription_update") => InvoiceReason::Upgrade,
                _ => InvoiceReason::Subscription,
            };
            // A one-off invoice we opened (a period's overage) issues our own invoice, with its line.
            let opened = match &invoice.our_invoice_id {
                Some(id) if crate::platform::ids::is_valid("inv", id) => {
                    self.writer.store.get_invoice(id).await?.filter(|i| i.subscription_id == sub.subscription_id)
                }
                _ => None,
            };
            let ours = match opened {
                Some(mut opened) => {
                    if opened.amount != invoice.amount_paid {
                        tracing::error!(invoice_id = %opened.invoice_id, expected = opened.amount, paid = invoice.amount_paid, "one-off invoice paid a different amount");
                        opened.amount = invoice.amount_paid;
                        opened.overage = None;
                    }
                    opened
                }
                None => InvoiceItem::open(
                    &derived_id("inv", &format!("stripe:{}", invoice.id)),
                    &sub,
                    sub.tier,
                    reason,
                    invoice.amount_paid,
                    &invoice.currency,
                    invoice.period,
                    rfc3339(now),
                ),
            };
            let paid_at = invoice.paid_at.and_then(|t| DateTime::from_timestamp(t, 0)).unwrap_or(now);
            let issued = Box::pin(crate::billing::invoicing::issue(
                &self.writer.store,
                seller,
                ours,
                &sub,
                &payment,
                paid_at,
                extra,
            ))
            .await?;
            tracing::info!(payment_id = %payment_id, ?issued, "stripe payment recorded with its invoice");
            crate::platform::metrics::payment("stripe", "succeeded");
            crate::ledger::settle_refunds(&self.writer.store, self.writer.clock.as_ref(), &payment_id).await?;
            return Ok(());
        }
        let facts =
            crate::ledger::PaymentFacts { tax: None, tier, period: invoice.period, first_payment, overage: None };
        extra.extend(crate::ledger::payment_posting(&self.writer.store, &payment, facts).await?);
        if self.writer.store.put_payment_once(&payment, extra).await? {
            tracing::info!(payment_id = %payment_id, amount = invoice.amount_paid, currency = %invoice.currency, "payment recorded");
            crate::platform::metrics::payment("stripe", "succeeded");
        }
        crate::ledger::settle_refunds(&self.writer.store, self.writer.clock.as_ref(), &payment_id).await?;
        Ok(())
    }

    /// A failed renewal or one that needs the customer (3-D Secure): tell the user (once per attempt). The
    /// status itself follows from the subscription's events.
    async fn invoice_problem(
        &self,
        event: &Event,
        kind: InvoiceEvent,
        invoice: &InvoiceObject,
    ) -> Result<(), ApiError> {
        let Some((user_id, subscription_id, solution_id)) = self.owner_of_invoice(invoice).await? else {
            tracing::warn!(event_id = %event.id, "invoice of an unknown customer");
            return Ok(());
        };
        let what = if kind == InvoiceEvent::PaymentFailed { "payment_failed" } else { "payment_action_required" };
        let outcome = if kind == InvoiceEvent::PaymentFailed { "failed" } else { "action_required" };
        crate::platform::metrics::payment("stripe", outcome);
        let note = NotificationItem::new(
            &format!("{what}:{}:{}", invoice.id, invoice.attempt_count),
            what,
            &user_id,
            solution_id.as_deref(),
            serde_json::json!({"invoice_id": invoice.id, "amount_due": invoice.amount_due, "currency": invoice.currency,
                               "subscription_id": subscription_id, "pay_url": invoice.hosted_invoice_url}),
            rfc3339(self.writer.clock.now()),
        );
        self.writer.store.put_notification_once(&note).await?;
        Ok(())
    }

    /// The refunds of a charge, each recorded once against the payment it refunds.
    async fn charge_refunded(&self, charge: &ChargeObject) -> Result<(), ApiError> {
        // Since API version 2022-11-15 the event's charge carries no `refunds` list: ask for it.
        let mut refunds = charge.refunds.clone();
        if refunds.is_empty() && charge.amount_refunded > 0 {
            let query = vec![field("charge", &charge.id), field("limit", 100)];
            let list = self.stripe.get("/v1/refunds", &query).await?;
            let wrapped = serde_json::json!({"id": charge.id, "currency": charge.currency, "refunds": list});
            refunds = events::charge(&wrapped).map(|c| c.refunds).unwrap_or_default();
        }
        let paid_by = charge.payment_intent.as_deref().unwrap_or(&charge.id);
        self.record_refunds(paid_by, &charge.id, charge.customer.as_deref(), &refunds).await
    }

    /// `refund.created|updated|failed`: the refund's current status.
    async fn refund_event(&self, event: &RefundEventObject) -> Result<(), ApiError> {
        let Some(charge) = event.charge.as_deref() else {
            tracing::warn!(refund = %event.refund.id, "refund without a charge");
            return Ok(());
        };
        let paid_by = event.payment_intent.as_deref().unwrap_or(charge);
        self.record_refunds(paid_by, charge, None, std::slice::from_ref(&event.refund)).await
    }

    /// Record refunds of the payment `paid_by` (Stripe's PaymentIntent, else its charge) under ids derived from
    /// Stripe's, moving each one's status forward only.
    async fn record_refunds(
        &self,
        paid_by: &str,
        charge_id: &str,
        customer: Option<&str>,
        refunds: &[events::RefundObject],
    ) -> Result<(), ApiError> {
        let payment_id = derived_id("pay", &format!("stripe:{paid_by}"));
        let (payment, _) = self.writer.store.payment_with_refunds(&payment_id).await?;
        let user_id = match payment {
            Some(p) => Some(p.user_id),
            None => {
                // The payment's own event has not arrived yet: find the customer from the charge.
                let customer = match customer {
                    Some(c) => Some(c.to_owned()),
                    None => {
                        let charge = self.stripe.get(&format!("/v1/charges/{charge_id}"), &Vec::new()).await?;
                        events::charge(&charge).and_then(|c| c.customer)
                    }
                };
                match customer {
                    Some(c) => self.writer.store.get_provider_ref("stripe", "customer", &c).await?.map(|r| r.user_id),
                    None => None,
                }
            }
        };
        let Some(user_id) = user_id else {
            tracing::warn!(charge = %charge_id, "refund of an unknown customer's charge");
            return Ok(());
        };
        let now = rfc3339(self.writer.clock.now());
        for r in refunds {
            let Some(status) = RefundStatus::from_stripe(r.status.as_deref()) else {
                tracing::warn!(refund = %r.id, status = ?r.status, "refund status not understood");
                continue;
            };
            let item = RefundItem::new(
                derived_id("rfd", &format!("stripe:{}", r.id)),
                &payment_id,
                &user_id,
                Provider::Stripe,
                &r.id,
                r.amount,
                &r.currency,
                status,
                rfc3339_epoch(r.created),
                now.clone(),
            );
            let change = self.writer.store.record_refund(&item).await?;
            if change != RefundChange::Unchanged {
                tracing::info!(payment_id = %payment_id, amount = r.amount, status = status.as_str(), "refund recorded");
                crate::platform::metrics::refund("stripe", status.as_str());
            }
        }
        // Succeeded refunds reverse their part of the payment in the partner's ledger (once each).
        crate::ledger::settle_refunds(&self.writer.store, self.writer.clock.as_ref(), &payment_id).await?;
        Ok(())
    }
}
