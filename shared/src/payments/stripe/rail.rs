//! Stripe as billing's [`HostedRail`]: Checkout Sessions start subscriptions, Stripe Billing renews and
//! prorates them; every call pins Stripe's idempotency key, and calls that change a subscription answer with
//! Stripe's snapshot of it (`events::api_snapshot`).

use crate::billing::rail::{
    CheckoutOpened, CheckoutRequest, CheckoutState, HostedRail, HostedSubscription, OneOffInvoice, RailFuture,
    RefundAccepted, RefundOrder, Settled,
};
use crate::model::Fact;
use crate::payments::stripe::client::{Form, StripeClient, StripeError, field};
use crate::payments::stripe::events::api_snapshot;
use crate::platform::error::ApiError;
use std::sync::Arc;

/// The Stripe rail over one API client.
#[derive(Clone)]
pub struct StripeRail {
    client: StripeClient,
}

impl StripeRail {
    pub fn new(client: StripeClient) -> Self {
        Self { client }
    }

    /// The rail as billing holds it.
    pub fn shared(client: StripeClient) -> Arc<dyn HostedRail> {
        Arc::new(Self::new(client))
    }

    fn subscription_path(sub: HostedSubscription<'_>) -> String {
        format!("/v1/subscriptions/{}", sub.id)
    }

    async fn update(
        &self,
        sub: HostedSubscription<'_>,
        form: Form,
        idempotency_key: &str,
        now: i64,
    ) -> Result<Option<Fact>, ApiError> {
        let object = self.client.post(&Self::subscription_path(sub), &form, idempotency_key).await?;
        Ok(api_snapshot(&object, idempotency_key, now).map(|(_, f)| f))
    }
}

fn item_id<'a>(sub: HostedSubscription<'a>) -> Result<&'a str, ApiError> {
    sub.item_id.ok_or_else(|| ApiError::from(StripeError::Decode("subscription without an item".into())))
}

impl HostedRail for StripeRail {
    fn create_customer<'a>(&'a self, user_id: &'a str, email: &'a str) -> RailFuture<'a, String> {
        Box::pin(async move {
            let form: Form = vec![field("email", email), field("metadata[user_id]", user_id)];
            let customer = self.client.post("/v1/customers", &form, &format!("customer-{user_id}")).await?;
            customer
                .get("id")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .ok_or_else(|| ApiError::from(StripeError::Decode("customer without id".into())))
        })
    }

    fn open_checkout<'a>(&'a self, req: CheckoutRequest<'a>) -> RailFuture<'a, CheckoutOpened> {
        Box::pin(async move {
            let form: Form = vec![
                field("mode", "subscription"),
                field("customer", req.customer),
                field("line_items[0][price]", req.price_id),
                field("line_items[0][quantity]", 1),
                field("success_url", req.success_url),
                field("cancel_url", req.cancel_url),
                field("client_reference_id", req.subscription_id),
                field("metadata[subscription_id]", req.subscription_id),
                field("subscription_data[metadata][subscription_id]", req.subscription_id),
                field("subscription_data[metadata][user_id]", req.user_id),
                field("subscription_data[metadata][solution_id]", req.solution_id),
            ];
            let key = format!("checkout-{}", req.subscription_id);
            let session = self.client.post("/v1/checkout/sessions", &form, &key).await?;
            let text = |k: &str| session.get(k).and_then(|v| v.as_str()).map(str::to_owned);
            match (text("id"), text("url")) {
                (Some(session_id), Some(url)) => Ok(CheckoutOpened { session_id, url }),
                _ => Err(StripeError::Decode("checkout session without id or url".into()).into()),
            }
        })
    }

    fn expire_checkout<'a>(&'a self, session_id: &'a str) -> RailFuture<'a, ()> {
        Box::pin(async move {
            let path = format!("/v1/checkout/sessions/{session_id}/expire");
            self.client.post(&path, &Vec::new(), &format!("expire-{session_id}")).await?;
            Ok(())
        })
    }

    fn checkout_state<'a>(&'a self, session_id: &'a str) -> RailFuture<'a, CheckoutState> {
        Box::pin(async move {
            let read = self.client.get(&format!("/v1/checkout/sessions/{session_id}"), &Vec::new()).await?;
            Ok(match read.get("status").and_then(serde_json::Value::as_str) {
                Some("expired") => CheckoutState::Expired,
                Some("complete") => CheckoutState::Complete,
                _ => CheckoutState::Open,
            })
        })
    }

    fn change_price<'a>(
        &'a self,
        sub: HostedSubscription<'a>,
        price_id: &'a str,
        upgrade: bool,
        subscription_id: &'a str,
        idempotency_key: &'a str,
        now: i64,
    ) -> RailFuture<'a, Option<Fact>> {
        Box::pin(async move {
            let form: Form = vec![
                field("items[0][id]", item_id(sub)?),
                field("items[0][price]", price_id),
                // Upgrade: prorate and invoice the difference now, refusing the change if the payment fails.
                // Downgrade (or undoing one): no proration; the next renewal bills the new price.
                field("proration_behavior", if upgrade { "always_invoice" } else { "none" }),
                field("payment_behavior", if upgrade { "error_if_incomplete" } else { "allow_incomplete" }),
                field("metadata[subscription_id]", subscription_id),
            ];
            self.update(sub, form, idempotency_key, now).await
        })
    }

    fn reprice_renewal<'a>(
        &'a self,
        sub: HostedSubscription<'a>,
        price_id: &'a str,
        idempotency_key: &'a str,
    ) -> RailFuture<'a, ()> {
        Box::pin(async move {
            let form = vec![
                field("items[0][id]", item_id(sub)?),
                field("items[0][price]", price_id),
                field("proration_behavior", "none"),
            ];
            self.client.post(&Self::subscription_path(sub), &form, idempotency_key).await?;
            Ok(())
        })
    }

    fn cancel<'a>(
        &'a self,
        sub: HostedSubscription<'a>,
        immediately: bool,
        idempotency_key: &'a str,
        now: i64,
    ) -> RailFuture<'a, Option<Fact>> {
        Box::pin(async move {
            if immediately {
                let object = self.client.delete(&Self::subscription_path(sub), idempotency_key).await?;
                Ok(api_snapshot(&object, idempotency_key, now).map(|(_, f)| f))
            } else {
                self.update(sub, vec![field("cancel_at_period_end", "true")], idempotency_key, now).await
            }
        })
    }

    fn set_cancel_at_period_end<'a>(
        &'a self,
        sub: HostedSubscription<'a>,
        cancel: bool,
        idempotency_key: &'a str,
        now: i64,
    ) -> RailFuture<'a, Option<Fact>> {
        Box::pin(
            async move { self.update(sub, vec![field("cancel_at_period_end", cancel)], idempotency_key, now).await },
        )
    }

    fn refund<'a>(&'a self, order: RefundOrder<'a>, idempotency_key: &'a str) -> RailFuture<'a, RefundAccepted> {
        Box::pin(async move {
            let id = order.provider_payment_id;
            let target = if id.starts_with("pi_") {
                "payment_intent"
            } else if id.starts_with("ch_") || id.starts_with("py_") {
                "charge"
            } else {
                return Err(ApiError::field("payment_id", "this payment has no refundable charge"));
            };
            let form: Form = vec![
                field(target, id),
                field("amount", order.amount),
                field("reason", "requested_by_customer"),
                field("metadata[payment_id]", order.payment_id),
                field("metadata[requested_by]", order.requested_by),
                field("metadata[reason]", order.reason),
            ];
            let refund = self.client.post("/v1/refunds", &form, idempotency_key).await?;
            let text = |k: &str| refund.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            Ok(RefundAccepted {
                provider_refund_id: text("id"),
                status: text("status"),
                amount: refund.get("amount").and_then(serde_json::Value::as_i64),
            })
        })
    }

    fn open_invoice<'a>(&'a self, invoice: OneOffInvoice<'a>) -> RailFuture<'a, String> {
        Box::pin(async move {
            let mut form: Form = vec![
                field("customer", invoice.customer),
                field("collection_method", "charge_automatically"),
                field("auto_advance", "false"),
                field("pending_invoice_items_behavior", "exclude"),
                field("currency", invoice.currency),
                field("description", invoice.description),
            ];
            form.extend(one_off_metadata(invoice));
            // Charged with the subscription's card: Checkout saves it on the subscription, so the customer may
            // have no default of their own.
            if let Some(sub) = invoice.provider_subscription {
                let read = self.client.get(&format!("/v1/subscriptions/{sub}"), &Vec::new()).await?;
                let card = read.get("default_payment_method").and_then(|v| match v {
                    serde_json::Value::String(id) => Some(id.clone()),
                    other => other.get("id").and_then(|id| id.as_str()).map(str::to_owned),
                });
                if let Some(card) = card {
                    form.push(field("default_payment_method", card));
                }
            }
            let key = format!("overage-invoice-{}", invoice.invoice_id);
            let created = self.client.post("/v1/invoices", &form, &key).await?;
            created
                .get("id")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .ok_or_else(|| ApiError::from(StripeError::Decode("invoice without id".into())))
        })
    }

    fn settle_invoice<'a>(&'a self, provider_invoice: &'a str, invoice: OneOffInvoice<'a>) -> RailFuture<'a, Settled> {
        Box::pin(async move {
            let path = format!("/v1/invoices/{provider_invoice}");
            let read = self.client.get(&path, &Vec::new()).await?;
            let status =
                |o: &serde_json::Value| o.get("status").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            let total = read.get("total").and_then(serde_json::Value::as_i64).unwrap_or(0);
            let mut state = status(&read);
            if state == "draft" && total == 0 {
                // The line: attached to this draft only, so nothing else can sweep it into another invoice.
                let mut form: Form = vec![
                    field("customer", invoice.customer),
                    field("invoice", provider_invoice),
                    field("amount", invoice.amount),
                    field("currency", invoice.currency),
                    field("description", invoice.description),
                ];
                form.extend(one_off_metadata(invoice));
                self.client.post("/v1/invoiceitems", &form, &format!("overage-item-{}", invoice.invoice_id)).await?;
            }
            if state == "draft" && total != 0 && total != invoice.amount {
                // Never finalize a draft that holds anything but our one line.
                return Err(ApiError::from(StripeError::Decode(format!(
                    "one-off invoice {provider_invoice} holds {total}, not {}",
                    invoice.amount
                ))));
            }
            if state == "draft" {
                // Automatic collection from here on: a declined charge is retried by Stripe's own schedule.
                let key = format!("overage-finalize-{}", invoice.invoice_id);
                let form: Form = vec![field("auto_advance", "true")];
                state = status(&self.client.post(&format!("{path}/finalize"), &form, &key).await?);
            }
            if state == "open" {
                let key = format!("overage-pay-{}", invoice.invoice_id);
                match self.client.post(&format!("{path}/pay"), &Vec::new(), &key).await {
                    Ok(paid) => state = status(&paid),
                    Err(e) if e.is_card_error() => return Ok(Settled::Declined),
                    Err(e) => return Err(e.into()),
                }
            }
            match state.as_str() {
                "paid" => Ok(Settled::Paid),
                "open" => Ok(Settled::Declined),
                // Voided or written off at Stripe (by an operator): nothing more to do here.
                "void" | "uncollectible" => Ok(Settled::Declined),
                other => Err(ApiError::from(StripeError::Decode(format!("one-off invoice left {other}")))),
            }
        })
    }
}

/// What ties a one-off invoice (and its line) to ours.
fn one_off_metadata(invoice: OneOffInvoice<'_>) -> Form {
    vec![
        field("metadata[invoice_id]", invoice.invoice_id),
        field("metadata[subscription_id]", invoice.subscription_id),
        field("metadata[kind]", "overage"),
    ]
}
