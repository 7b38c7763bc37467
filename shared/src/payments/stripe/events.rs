//! Stripe webhook events, read tolerantly: only the members we use, from either the current API shapes or the
//! older ones (invoice → subscription under `parent.subscription_details` since 2025-03-31.basil, formerly
//! top-level `subscription`; billing periods on subscription items since basil, formerly on the
//! subscription). Expandable references may be an id or an expanded object. Each event becomes the
//! provider-neutral [`Fact`]s of `crate::billing`.

use crate::model::{Fact, Movement, Snapshot, SubscriptionStatus};
use serde::Deserialize;
use serde_json::Value;

/// The envelope of every event.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
    #[serde(default)]
    pub livemode: bool,
    pub data: EventData,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    pub object: Value,
}

/// An expandable reference: `"cus_123"` or `{"id": "cus_123", ...}`.
pub fn expandable_id(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

fn str_at(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer).and_then(Value::as_str).map(str::to_owned)
}

fn int_at(v: &Value, pointer: &str) -> Option<i64> {
    v.pointer(pointer).and_then(Value::as_i64)
}

/// What an event tells us, by kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// `customer.subscription.created|updated|deleted`.
    Subscription(SubscriptionObject),
    /// `checkout.session.completed` in subscription mode.
    CheckoutCompleted(CheckoutSession),
    /// `invoice.paid`, `invoice.payment_failed`, `invoice.payment_action_required`.
    Invoice { kind: InvoiceEvent, invoice: InvoiceObject },
    /// `charge.refunded`.
    ChargeRefunded(ChargeObject),
    /// `refund.created`, `refund.updated`, `refund.failed`.
    Refund(RefundEventObject),
    /// Any other event type: acknowledged, nothing to do.
    Ignored,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceEvent {
    Paid,
    PaymentFailed,
    ActionRequired,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionObject {
    pub id: String,
    pub customer: Option<String>,
    pub status: Option<SubscriptionStatus>,
    pub raw_status: String,
    pub cancel_at_period_end: bool,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
    pub price_id: Option<String>,
    /// The first subscription item (`si_…`), whose price changes on upgrade.
    pub item_id: Option<String>,
    /// Our subscription id, when we set it as metadata at checkout.
    pub our_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    pub id: String,
    pub client_reference_id: Option<String>,
    pub customer: Option<String>,
    pub subscription: Option<String>,
    pub payment_status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceObject {
    pub id: String,
    pub customer: Option<String>,
    pub subscription: Option<String>,
    pub amount_paid: i64,
    pub amount_due: i64,
    pub currency: String,
    pub paid_at: Option<i64>,
    /// The PaymentIntent that paid it (older API versions; since basil only with `expand[]=payments`).
    pub payment_intent: Option<String>,
    pub charge: Option<String>,
    /// Our subscription id from the subscription's metadata, when the invoice carries it.
    pub our_subscription_id: Option<String>,
    /// Our invoice, for a one-off invoice we opened (a billing period's overage): from its metadata.
    pub our_invoice_id: Option<String>,
    pub hosted_invoice_url: Option<String>,
    pub attempt_count: i64,
    /// `subscription_create`, `subscription_cycle`, `subscription_update`, …
    pub billing_reason: Option<String>,
    /// The period of its (first) line, epoch seconds.
    pub period: Option<(i64, i64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundObject {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub created: i64,
    pub status: Option<String>,
}

/// A refund event's object: the refund and what it refunds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundEventObject {
    pub refund: RefundObject,
    pub charge: Option<String>,
    pub payment_intent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeObject {
    pub id: String,
    pub currency: String,
    pub amount_refunded: i64,
    pub invoice: Option<String>,
    pub payment_intent: Option<String>,
    pub customer: Option<String>,
    pub refunds: Vec<RefundObject>,
}

/// Read a subscription object (from an event or from the API).
pub fn subscription(o: &Value) -> Option<SubscriptionObject> {
    let first_item = o.pointer("/items/data/0");
    let period = |name: &str| {
        first_item.and_then(|i| i.get(name)).and_then(Value::as_i64).or_else(|| o.get(name).and_then(Value::as_i64))
    };
    let raw_status = str_at(o, "/status").unwrap_or_default();
    Some(SubscriptionObject {
        id: str_at(o, "/id")?,
        customer: o.get("customer").and_then(expandable_id),
        status: SubscriptionStatus::from_stripe(&raw_status),
        raw_status,
        cancel_at_period_end: o.get("cancel_at_period_end").and_then(Value::as_bool).unwrap_or(false),
        period_start: period("current_period_start"),
        period_end: period("current_period_end"),
        price_id: first_item
            .and_then(|i| i.pointer("/price/id").or_else(|| i.pointer("/plan/id")))
            .and_then(Value::as_str)
            .map(str::to_owned),
        item_id: first_item.and_then(|i| i.get("id")).and_then(Value::as_str).map(str::to_owned),
        our_id: str_at(o, "/metadata/subscription_id"),
    })
}

/// Read an invoice object (from an event or from the API).
pub fn invoice(o: &Value) -> Option<InvoiceObject> {
    let subscription = o
        .pointer("/parent/subscription_details/subscription")
        .and_then(expandable_id)
        .or_else(|| o.get("subscription").and_then(expandable_id));
    Some(InvoiceObject {
        id: str_at(o, "/id")?,
        customer: o.get("customer").and_then(expandable_id),
        subscription,
        amount_paid: int_at(o, "/amount_paid").unwrap_or(0),
        amount_due: int_at(o, "/amount_due").unwrap_or(0),
        currency: str_at(o, "/currency").unwrap_or_default(),
        paid_at: int_at(o, "/status_transitions/paid_at"),
        payment_intent: o
            .get("payment_intent")
            .and_then(expandable_id)
            .or_else(|| o.pointer("/payments/data/0/payment/payment_intent").and_then(expandable_id)),
        charge: o
            .get("charge")
            .and_then(expandable_id)
            .or_else(|| o.pointer("/payments/data/0/payment/charge").and_then(expandable_id)),
        our_subscription_id: str_at(o, "/parent/subscription_details/metadata/subscription_id")
            .or_else(|| str_at(o, "/subscription_details/metadata/subscription_id"))
            .or_else(|| str_at(o, "/lines/data/0/metadata/subscription_id"))
            .or_else(|| str_at(o, "/metadata/subscription_id")),
        our_invoice_id: str_at(o, "/metadata/invoice_id"),
        hosted_invoice_url: str_at(o, "/hosted_invoice_url"),
        attempt_count: int_at(o, "/attempt_count").unwrap_or(0),
        billing_reason: str_at(o, "/billing_reason"),
        period: int_at(o, "/lines/data/0/period/start").zip(int_at(o, "/lines/data/0/period/end")),
    })
}

fn refund(r: &Value, currency: &str) -> Option<RefundObject> {
    Some(RefundObject {
        id: str_at(r, "/id")?,
        amount: int_at(r, "/amount")?,
        currency: str_at(r, "/currency").unwrap_or_else(|| currency.to_owned()),
        created: int_at(r, "/created").unwrap_or(0),
        status: str_at(r, "/status"),
    })
}

/// Read a charge object (from an event or from the API).
pub fn charge(o: &Value) -> Option<ChargeObject> {
    let currency = str_at(o, "/currency").unwrap_or_default();
    let refunds = o
        .pointer("/refunds/data")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(|r| refund(r, &currency)).collect())
        .unwrap_or_default();
    Some(ChargeObject {
        id: str_at(o, "/id")?,
        amount_refunded: int_at(o, "/amount_refunded").unwrap_or(0),
        invoice: o.get("invoice").and_then(expandable_id),
        payment_intent: o.get("payment_intent").and_then(expandable_id),
        customer: o.get("customer").and_then(expandable_id),
        currency,
        refunds,
    })
}

/// The event types [`parse`] handles (every other type is acknowledged and ignored): what the webhook
/// endpoint subscribes to and what the reconciliation lists (`GET /v1/events?types[]=…`, at most 20 at Stripe).
pub const HANDLED: [&str; 11] = [
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
    "invoice.payment_action_required",
    "charge.refunded",
    "refund.created",
    "refund.updated",
    "refund.failed",
];

/// Parse an event. `Err` names what a handled event lacks (the event is then acknowledged and logged).
pub fn parse(event: &Event) -> Result<Parsed, &'static str> {
    let o = &event.data.object;
    Ok(match event.kind.as_str() {
        "customer.subscription.created" | "customer.subscription.updated" | "customer.subscription.deleted" => {
            Parsed::Subscription(subscription(o).ok_or("subscription without id")?)
        }
        "checkout.session.completed" => {
            if str_at(o, "/mode").as_deref() != Some("subscription") {
                return Ok(Parsed::Ignored);
            }
            Parsed::CheckoutCompleted(CheckoutSession {
                id: str_at(o, "/id").ok_or("checkout session without id")?,
                client_reference_id: str_at(o, "/client_reference_id"),
                customer: o.get("customer").and_then(expandable_id),
                subscription: o.get("subscription").and_then(expandable_id),
                payment_status: str_at(o, "/payment_status"),
            })
        }
        "invoice.paid" | "invoice.payment_failed" | "invoice.payment_action_required" => {
            let kind = match event.kind.as_str() {
                "invoice.paid" => InvoiceEvent::Paid,
                "invoice.payment_failed" => InvoiceEvent::PaymentFailed,
                _ => InvoiceEvent::ActionRequired,
            };
            Parsed::Invoice { kind, invoice: invoice(o).ok_or("invoice without id")? }
        }
        "charge.refunded" => Parsed::ChargeRefunded(charge(o).ok_or("charge without id")?),
        "refund.created" | "refund.updated" | "refund.failed" => Parsed::Refund(RefundEventObject {
            refund: refund(o, "").ok_or("refund without id or amount")?,
            charge: o.get("charge").and_then(expandable_id),
            payment_intent: o.get("payment_intent").and_then(expandable_id),
        }),
        _ => Parsed::Ignored,
    })
}

/// The provider-neutral facts of a parsed event.
pub fn facts(event: &Event, parsed: &Parsed) -> Vec<Fact> {
    match parsed {
        Parsed::Subscription(s) => match (s.status, s.period_start, s.period_end) {
            (Some(status), Some(period_start), Some(period_end)) => vec![Fact::Snapshot(Snapshot {
                event_id: event.id.clone(),
                created: event.created,
                status,
                period_start,
                period_end,
                cancel_at_period_end: s.cancel_at_period_end,
                price_id: s.price_id.clone(),
            })],
            _ => Vec::new(),
        },
        Parsed::Invoice { kind: InvoiceEvent::Paid, invoice } if invoice.amount_paid > 0 => {
            vec![Fact::Payment(Movement {
                provider_id: invoice.id.clone(),
                amount: invoice.amount_paid,
                currency: invoice.currency.clone(),
                at: invoice.paid_at.unwrap_or(event.created),
            })]
        }
        Parsed::ChargeRefunded(charge) => charge
            .refunds
            .iter()
            .filter(|r| r.status.as_deref().is_none_or(|s| s == "succeeded"))
            .map(|r| {
                Fact::Refund(Movement {
                    provider_id: r.id.clone(),
                    amount: r.amount,
                    currency: r.currency.clone(),
                    at: r.created,
                })
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A snapshot of a subscription object returned by the Stripe API (not from an event): ordered by the time we
/// read it. Its id starts with `~read:`, which sorts after Stripe's `evt_…` ids: a read at second T reflects
/// every change up to T, so it wins a tie with an event created in the same second.
pub fn api_snapshot(object: &serde_json::Value, label: &str, now: i64) -> Option<(SubscriptionObject, Fact)> {
    let s = subscription(object)?;
    let snap = Snapshot {
        event_id: format!("~read:{label}"),
        created: now,
        status: s.status?,
        period_start: s.period_start?,
        period_end: s.period_end?,
        cancel_at_period_end: s.cancel_at_period_end,
        price_id: s.price_id.clone(),
    };
    Some((s, Fact::Snapshot(snap)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: &str, object: Value) -> Event {
        serde_json::from_value(json!({
            "id": "evt_1", "object": "event", "type": kind, "created": 1_800_000_000, "livemode": false,
            "api_version": "2025-03-31.basil", "data": {"object": object}
        }))
        .expect("event")
    }

    /// Stripe's own objects (`fixtures/`, from the API reference of the pinned version) read as we expect.
    #[test]
    fn basil_objects_from_stripes_reference_parse() {
        let object = |text: &str| serde_json::from_str::<Value>(text).expect("fixture");
        let sub = subscription(&object(include_str!("fixtures/subscription.json"))).expect("subscription");
        assert_eq!(
            (sub.customer.as_deref(), sub.status, sub.period_start, sub.period_end),
            (Some("cus_1"), Some(SubscriptionStatus::Active), Some(1_800_000_000), Some(1_802_592_000))
        );
        assert_eq!((sub.price_id.as_deref(), sub.item_id.as_deref()), (Some("price_pro_monthly"), Some("si_1")));
        let paid = event("invoice.paid", object(include_str!("fixtures/invoice.json")));
        let parsed = parse(&paid).expect("invoice");
        let Parsed::Invoice { kind: InvoiceEvent::Paid, invoice } = &parsed else { panic!("invoice") };
        assert_eq!(
            (invoice.subscription.as_deref(), invoice.amount_paid, invoice.billing_reason.as_deref()),
            (Some("sub_1"), 49_900, Some("subscription_create"))
        );
        assert_eq!(invoice.payment_intent, None, "basil: the payment is only under payments, fetched by expand");
        assert_eq!(invoice.hosted_invoice_url.as_deref(), Some("https://invoice.stripe.com/i/acct_1/test_1"));
        assert!(
            matches!(facts(&paid, &parsed).as_slice(), [Fact::Payment(m)] if m.amount == 49_900 && m.at == 1_800_000_000)
        );
        let completed = event("checkout.session.completed", object(include_str!("fixtures/checkout_session.json")));
        let Ok(Parsed::CheckoutCompleted(session)) = parse(&completed) else { panic!("checkout session") };
        assert_eq!((session.customer.as_deref(), session.payment_status.as_deref()), (Some("cus_1"), Some("unpaid")));
        let charge = charge(&object(include_str!("fixtures/charge.json"))).expect("charge");
        assert_eq!(
            (charge.payment_intent.as_deref(), charge.amount_refunded, charge.refunds.len()),
            (Some("pi_1"), 0, 0)
        );
    }

    /// Every handled type parses to something; any other type is ignored.
    #[test]
    fn handled_types_are_the_ones_parsed() {
        let object = json!({"id": "x_1", "object": "x", "mode": "subscription", "amount": 1, "currency": "inr",
                            "amount_paid": 1, "status": "active"});
        for kind in HANDLED {
            assert_ne!(parse(&event(kind, object.clone())), Ok(Parsed::Ignored), "{kind}");
        }
        for kind in ["customer.created", "invoice.created", "payment_intent.succeeded", "plan.created"] {
            assert_eq!(parse(&event(kind, object.clone())), Ok(Parsed::Ignored), "{kind}");
        }
    }

    #[test]
    fn subscription_periods_come_from_items_or_the_subscription() {
        let current = event(
            "customer.subscription.updated",
            json!({"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "past_due",
                   "cancel_at_period_end": false, "metadata": {"subscription_id": "subn_1"},
                   "items": {"data": [{"id": "si_1", "current_period_start": 100, "current_period_end": 200,
                                       "price": {"id": "price_pro"}}]}}),
        );
        let Ok(Parsed::Subscription(s)) = parse(&current) else { panic!("subscription") };
        assert_eq!((s.period_start, s.period_end, s.status), (Some(100), Some(200), Some(SubscriptionStatus::PastDue)));
        assert_eq!((s.price_id.as_deref(), s.our_id.as_deref()), (Some("price_pro"), Some("subn_1")));
        let legacy = event(
            "customer.subscription.deleted",
            json!({"id": "sub_1", "customer": {"id": "cus_1", "object": "customer"}, "status": "canceled",
                   "current_period_start": 10, "current_period_end": 20, "items": {"data": []}}),
        );
        let parsed = parse(&legacy).expect("parse");
        let Parsed::Subscription(s) = &parsed else { panic!("subscription") };
        assert_eq!((s.customer.as_deref(), s.period_end), (Some("cus_1"), Some(20)));
        assert!(
            matches!(facts(&legacy, &parsed).as_slice(), [Fact::Snapshot(snap)] if snap.status == SubscriptionStatus::Canceled)
        );
    }

    #[test]
    fn invoices_find_their_subscription_in_either_place() {
        let basil = event(
            "invoice.paid",
            json!({"id": "in_1", "customer": "cus_1", "amount_paid": 49_900, "amount_due": 49_900, "currency": "inr",
                   "status_transitions": {"paid_at": 1_800_000_100},
                   "parent": {"type": "subscription_details", "subscription_details": {"subscription": "sub_1"}}}),
        );
        let parsed = parse(&basil).expect("parse");
        let Parsed::Invoice { kind: InvoiceEvent::Paid, invoice } = &parsed else { panic!("invoice") };
        assert_eq!(invoice.subscription.as_deref(), Some("sub_1"));
        assert_eq!(
            facts(&basil, &parsed),
            vec![Fact::Payment(Movement {
                provider_id: "in_1".into(),
                amount: 49_900,
                currency: "inr".into(),
                at: 1_800_000_100
            })]
        );
        let legacy =
            event("invoice.payment_failed", json!({"id": "in_2", "subscription": {"id": "sub_2"}, "currency": "usd"}));
        let Ok(Parsed::Invoice { kind: InvoiceEvent::PaymentFailed, invoice }) = parse(&legacy) else {
            panic!("invoice")
        };
        assert_eq!(invoice.subscription.as_deref(), Some("sub_2"));
    }

    #[test]
    fn refunds_other_events_and_bad_objects() {
        let refunded = event(
            "charge.refunded",
            json!({"id": "ch_1", "currency": "inr", "amount_refunded": 15_000,
                   "refunds": {"data": [{"id": "re_1", "amount": 10_000, "created": 5, "status": "succeeded"},
                                        {"id": "re_2", "amount": 5_000, "created": 6, "status": "pending"}]}}),
        );
        let parsed = parse(&refunded).expect("parse");
        assert_eq!(facts(&refunded, &parsed).len(), 1, "only succeeded refunds are money moved");
        assert_eq!(parse(&event("customer.created", json!({"id": "cus_1"}))), Ok(Parsed::Ignored));
        assert_eq!(
            parse(&event("checkout.session.completed", json!({"id": "cs_1", "mode": "payment"}))),
            Ok(Parsed::Ignored)
        );
        assert!(parse(&event("invoice.paid", json!({"amount_paid": 1}))).is_err());
    }

    #[test]
    fn refund_events() {
        let updated = event(
            "refund.updated",
            json!({"id": "re_9", "object": "refund", "amount": 2_500, "currency": "inr", "created": 7,
                   "status": "failed", "charge": "ch_9", "payment_intent": {"id": "pi_9"}}),
        );
        let Ok(Parsed::Refund(r)) = parse(&updated) else { panic!("refund event") };
        assert_eq!(r.refund.amount, 2_500);
        assert_eq!(r.refund.status.as_deref(), Some("failed"));
        assert_eq!(r.charge.as_deref(), Some("ch_9"));
        assert_eq!(r.payment_intent.as_deref(), Some("pi_9"));
        assert!(parse(&event("refund.created", json!({"id": "re_9"}))).is_err(), "a refund needs its amount");
    }
}
