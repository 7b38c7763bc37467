//! The stored items of the subscriptions family for money that moved: payments, refunds, and the webhook events
//! that report them.

use crate::store::keys;
use serde::{Deserialize, Serialize};

/// A captured payment (recorded once per provider payment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub entity_type: String,
    pub payment_id: String,
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solution_id: Option<String>,
    pub provider: crate::model::Provider,
    /// The provider's payment (Stripe: the PaymentIntent, else the charge, else the invoice).
    pub provider_payment_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_invoice_id: Option<String>,
    pub amount: i64,
    pub currency: String,
    /// When the provider captured it (RFC 3339).
    pub captured_at: String,
    pub recorded_at: String,
    /// Money that arrived for an invoice that could no longer apply (withdrawn or paid meanwhile): kept on
    /// record, granting nothing, and refunded in full.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unapplied: bool,
}

impl PaymentItem {
    /// A captured payment, listed in its user's history by `captured_at`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        payment_id: &str,
        user_id: &str,
        provider: crate::model::Provider,
        provider_payment_id: String,
        amount: i64,
        currency: &str,
        captured_at: String,
        recorded_at: String,
    ) -> Self {
        let key = keys::payment(payment_id);
        let gsi = keys::user_payments(user_id, &captured_at, payment_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: gsi.pk,
            gsi1sk: gsi.sk,
            entity_type: "payment".into(),
            payment_id: payment_id.into(),
            user_id: user_id.into(),
            subscription_id: None,
            solution_id: None,
            provider,
            provider_payment_id,
            provider_invoice_id: None,
            amount,
            currency: currency.into(),
            captured_at,
            recorded_at,
            unapplied: false,
        }
    }
}

/// A refund of a payment (one per provider refund; its status only moves forward).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefundItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub entity_type: String,
    pub refund_id: String,
    pub payment_id: String,
    pub user_id: String,
    pub provider: crate::model::Provider,
    pub provider_refund_id: String,
    pub amount: i64,
    pub currency: String,
    #[serde(default)]
    pub status: crate::model::RefundStatus,
    pub refunded_at: String,
    pub recorded_at: String,
    /// A PhonePe refund still pending is listed for the reconciliation (sparse GSI2 `PHONEPE#OPEN`).
    #[serde(rename = "GSI2PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi2pk: Option<String>,
    #[serde(rename = "GSI2SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi2sk: Option<String>,
}

impl RefundItem {
    /// A refund of `payment_id`, listed in its user's history by `refunded_at`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        refund_id: String,
        payment_id: &str,
        user_id: &str,
        provider: crate::model::Provider,
        provider_refund_id: &str,
        amount: i64,
        currency: &str,
        status: crate::model::RefundStatus,
        refunded_at: String,
        recorded_at: String,
    ) -> Self {
        let key = keys::refund(payment_id, provider_refund_id);
        let gsi = keys::user_payments(user_id, &refunded_at, &refund_id);
        let open = (provider == crate::model::Provider::Phonepe && status == crate::model::RefundStatus::Pending)
            .then(|| keys::phonepe_open("refund", &recorded_at, &format!("{payment_id}#{provider_refund_id}")));
        Self {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: gsi.pk,
            gsi1sk: gsi.sk,
            entity_type: "refund".into(),
            refund_id,
            payment_id: payment_id.into(),
            user_id: user_id.into(),
            provider,
            provider_refund_id: provider_refund_id.into(),
            amount,
            currency: currency.into(),
            status,
            refunded_at,
            recorded_at,
            gsi2pk: open.as_ref().map(|o| o.0.clone()),
            gsi2sk: open.map(|o| o.1),
        }
    }
}

/// A webhook event we received: the deduplication record (kept 35 days, longer than Stripe retries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEventItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub provider: String,
    pub event_id: String,
    pub event_type: String,
    /// `processing` (with a lease) or `done`.
    pub status: String,
    pub lease_until: i64,
    pub received_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processed_at: Option<String>,
    pub expires_at: i64,
}

impl WebhookEventItem {
    /// A provider event claimed for processing until `lease_until` (`keys::webhook_event`).
    pub fn processing(
        provider: &str,
        event_id: &str,
        event_type: &str,
        lease_until: i64,
        received_at: String,
        expires_at: i64,
    ) -> Self {
        let key = keys::webhook_event(provider, event_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "webhook_event".into(),
            provider: provider.into(),
            event_id: event_id.into(),
            event_type: event_type.into(),
            status: "processing".into(),
            lease_until,
            received_at,
            processed_at: None,
            expires_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Provider, RefundStatus};
    use crate::store::stored_shape::assert_stored;

    const AT: &str = "2026-04-15T10:00:00Z";

    #[test]
    fn payments_refunds_and_webhook_events_are_stored_under_their_attribute_names() {
        let mut payment =
            PaymentItem::new("pay_1", "usr_1", Provider::Stripe, "pi_1".into(), 49_900, "inr", AT.into(), AT.into());
        payment.subscription_id = Some("sub_1".into());
        payment.solution_id = Some("sol_1".into());
        payment.provider_invoice_id = Some("in_1".into());
        payment.unapplied = true;
        assert_stored(
            &payment,
            &keys::payment("pay_1"),
            "payment",
            &[
                "PK",
                "SK",
                "GSI1PK",
                "GSI1SK",
                "entity_type",
                "payment_id",
                "user_id",
                "subscription_id",
                "solution_id",
                "provider",
                "provider_payment_id",
                "provider_invoice_id",
                "amount",
                "currency",
                "captured_at",
                "recorded_at",
                "unapplied",
            ],
        );

        // A pending PhonePe refund is the one that sets every attribute (it is listed for the reconciliation).
        let refund = RefundItem::new(
            "ref_1".into(),
            "pay_1",
            "usr_1",
            Provider::Phonepe,
            "pp_ref_1",
            10_000,
            "inr",
            RefundStatus::Pending,
            AT.into(),
            AT.into(),
        );
        assert_stored(
            &refund,
            &keys::refund("pay_1", "pp_ref_1"),
            "refund",
            &[
                "PK",
                "SK",
                "GSI1PK",
                "GSI1SK",
                "GSI2PK",
                "GSI2SK",
                "entity_type",
                "refund_id",
                "payment_id",
                "user_id",
                "provider",
                "provider_refund_id",
                "amount",
                "currency",
                "status",
                "refunded_at",
                "recorded_at",
            ],
        );

        let key = keys::webhook_event("stripe", "evt_1");
        let event = WebhookEventItem {
            pk: key.pk.clone(),
            sk: key.sk.clone(),
            entity_type: "webhook_event".into(),
            provider: "stripe".into(),
            event_id: "evt_1".into(),
            event_type: "invoice.paid".into(),
            status: "done".into(),
            lease_until: 1_776_250_060,
            received_at: AT.into(),
            processed_at: Some(AT.into()),
            expires_at: 1_779_274_000,
        };
        assert_stored(
            &event,
            &key,
            "webhook_event",
            &[
                "PK",
                "SK",
                "entity_type",
                "provider",
                "event_id",
                "event_type",
                "status",
                "lease_until",
                "received_at",
                "processed_at",
                "expires_at",
            ],
        );
    }
}
