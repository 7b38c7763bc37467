//! Invoices (payment requests, then numbered tax invoices), PhonePe orders, and the billing run's index of
//! due subscriptions.

use super::subscriptions::{PaymentItem, SubscriptionItem};
use super::{Item, Store, StoreError, applied, classify, from_item, keys};
use crate::model::Tier;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Why an invoice exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceReason {
    /// The first period of a subscription.
    Subscription,
    Renewal,
    /// The prorated difference of an upgrade.
    Upgrade,
    /// A billing period's overage on its own (no renewal carries it: Stripe, or a subscription that ended).
    Overage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// A payment request (no number yet).
    Open,
    /// Paid: a numbered tax invoice.
    Paid,
    /// Withdrawn unpaid (subscription expired or canceled).
    Void,
}

/// An invoice: first a payment request (open), then, once paid, a GST tax invoice with a number that is
/// gapless per financial year (allocated in the same transaction that records the payment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub entity_type: String,
    pub invoice_id: String,
    pub user_id: String,
    pub subscription_id: String,
    pub solution_id: String,
    pub provider: crate::model::Provider,
    pub tier: Tier,
    pub reason: InvoiceReason,
    /// The period paid for (epoch seconds); a first period starts when it is paid, so it is set then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_start: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_end: Option<i64>,
    /// Tax-inclusive total in minor units.
    pub amount: i64,
    pub currency: String,
    /// The tier's price from this invoice's period on (what the subscription costs once it is paid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<crate::model::Price>,
    /// The overage of the billing period that ended, part of `amount` (its own line on the tax invoice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overage: Option<crate::model::OverageCharge>,
    /// Stripe: the one-off invoice that charges it (pinned once opened, so a retry never opens another).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_invoice_id: Option<String>,
    pub status: InvoiceStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<i64>,
    /// `INV/2026-27/000001`, once paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    /// The issued document (seller, buyer, lines, tax), as rendered to PDF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<crate::gst::invoice::InvoiceDoc>,
    /// The PDF's S3 key, once rendered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdf_key: Option<String>,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

impl InvoiceItem {
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        invoice_id: &str,
        subscription: &SubscriptionItem,
        tier: Tier,
        reason: InvoiceReason,
        amount: i64,
        currency: &str,
        period: Option<(i64, i64)>,
        created_at: String,
    ) -> Self {
        let key = keys::invoice(invoice_id);
        let gsi = keys::user_invoices(&subscription.user_id, &created_at, invoice_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: gsi.pk,
            gsi1sk: gsi.sk,
            entity_type: "invoice".into(),
            invoice_id: invoice_id.into(),
            user_id: subscription.user_id.clone(),
            subscription_id: subscription.subscription_id.clone(),
            solution_id: subscription.solution_id.clone(),
            provider: subscription.provider,
            tier,
            reason,
            period_start: period.map(|p| p.0),
            period_end: period.map(|p| p.1),
            amount,
            currency: currency.into(),
            price: None,
            overage: None,
            provider_invoice_id: None,
            status: InvoiceStatus::Open,
            due_at: None,
            number: None,
            issued_at: None,
            payment_id: None,
            document: None,
            pdf_key: None,
            version: 0,
            created_at: created_at.clone(),
            updated_at: created_at,
        }
    }
}

/// The last invoice number given out in a financial year.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceCounterItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub financial_year: String,
    pub last: u64,
}

/// One PhonePe checkout order: a payment attempt on an invoice. Its id is our `merchantOrderId`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhonePeOrderItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub merchant_order_id: String,
    pub invoice_id: String,
    pub subscription_id: String,
    pub user_id: String,
    pub amount: i64,
    pub currency: String,
    /// `creating` (asked PhonePe, no answer yet), `pending`, `completed`, `failed`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phonepe_order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    /// Listed for the reconciliation while not final (sparse GSI2 `PHONEPE#OPEN`).
    #[serde(rename = "GSI2PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi2pk: Option<String>,
    #[serde(rename = "GSI2SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi2sk: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl PhonePeOrderItem {
    pub fn new(merchant_order_id: &str, invoice: &InvoiceItem, created_at: String) -> Self {
        let key = keys::phonepe_order(merchant_order_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "phonepe_order".into(),
            merchant_order_id: merchant_order_id.into(),
            invoice_id: invoice.invoice_id.clone(),
            subscription_id: invoice.subscription_id.clone(),
            user_id: invoice.user_id.clone(),
            amount: invoice.amount,
            currency: invoice.currency.clone(),
            state: "creating".into(),
            phonepe_order_id: None,
            redirect_url: None,
            gsi2pk: Some(keys::PHONEPE_OPEN.to_owned()),
            gsi2sk: Some(keys::phonepe_open("order", &created_at, merchant_order_id).1),
            created_at: created_at.clone(),
            updated_at: created_at,
        }
    }
}

/// What recording a paid invoice did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issued {
    /// The payment is recorded and the invoice has this number.
    Numbered(String),
    /// This payment was recorded before (nothing written now).
    AlreadyRecorded,
    /// The invoice had been paid by another payment: this one is recorded alone (to be refunded).
    InvoiceAlreadyPaid,
}

/// One page of a user's invoices, newest first.
#[derive(Debug, Default)]
pub struct InvoicePage {
    pub items: Vec<InvoiceItem>,
    pub cursor: Option<String>,
}

/// How many times a number allocation may lose a race before giving up (50 concurrent payments in one
/// financial year need at most 50 rounds).
const MAX_ALLOCATION_ATTEMPTS: usize = 200;

impl Store {
    pub async fn get_phonepe_order(&self, merchant_order_id: &str) -> Result<Option<PhonePeOrderItem>, StoreError> {
        self.get(&keys::phonepe_order(merchant_order_id), true).await
    }

    /// Record a new order (false: the id is taken).
    pub async fn put_phonepe_order_once(&self, item: &PhonePeOrderItem) -> Result<bool, StoreError> {
        match self.put(item, Some("attribute_not_exists(PK)")).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conditional { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Move an order's state forward only (`creating` → `pending` → `completed` | `failed`), with what PhonePe
    /// told us. False when it was already there or beyond.
    pub async fn advance_phonepe_order(
        &self,
        merchant_order_id: &str,
        state: &str,
        phonepe_order_id: Option<&str>,
        redirect_url: Option<&str>,
        at: &str,
    ) -> Result<bool, StoreError> {
        let lower: &[&str] = match state {
            "pending" => &["creating"],
            "completed" | "failed" => &["creating", "pending"],
            _ => return Ok(false),
        };
        let mut values: Item = HashMap::from([
            (":state".to_owned(), AttributeValue::S(state.to_owned())),
            (":at".to_owned(), AttributeValue::S(at.to_owned())),
        ]);
        let mut names = Vec::new();
        for (i, s) in lower.iter().enumerate() {
            values.insert(format!(":l{i}"), AttributeValue::S((*s).to_owned()));
            names.push(format!(":l{i}"));
        }
        let mut update = String::from("SET #state = :state, updated_at = :at");
        // Completed or failed is final: off the reconciliation's list.
        let remove = if matches!(state, "completed" | "failed") { " REMOVE GSI2PK, GSI2SK" } else { "" };
        if let Some(id) = phonepe_order_id {
            values.insert(":oid".to_owned(), AttributeValue::S(id.to_owned()));
            update.push_str(", phonepe_order_id = :oid");
        }
        if let Some(url) = redirect_url {
            values.insert(":url".to_owned(), AttributeValue::S(url.to_owned()));
            update.push_str(", redirect_url = :url");
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::phonepe_order(merchant_order_id).to_map()))
            .update_expression(format!("{update}{remove}"))
            .condition_expression(format!("attribute_exists(PK) AND #state IN ({})", names.join(", ")))
            .expression_attribute_names("#state", "state")
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        applied(result.map_err(classify))
    }

    pub async fn get_invoice(&self, invoice_id: &str) -> Result<Option<InvoiceItem>, StoreError> {
        self.get(&keys::invoice(invoice_id), true).await
    }

    /// Write a new invoice (false: it exists, e.g. a rerun made it already).
    pub async fn put_invoice_once(&self, item: &InvoiceItem) -> Result<bool, StoreError> {
        match self.put(item, Some("attribute_not_exists(PK)")).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conditional { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Save an invoice expected at `expected_version` (its stored version; the item carries the next one).
    pub async fn save_invoice(&self, item: &InvoiceItem, expected_version: u64) -> Result<(), StoreError> {
        let values: Item = HashMap::from([(":v".to_owned(), AttributeValue::N(expected_version.to_string()))]);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(super::to_item(item)?))
            .condition_expression("#version = :v")
            .expression_attribute_names("#version", "version")
            .set_expression_attribute_values(Some(values))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// Record `payment` and make `invoice` (open, or new) a paid tax invoice numbered gaplessly within
    /// `financial_year`, in one transaction with `extra`: the payment, the invoice, the year's counter. A
    /// number is therefore given out exactly when a payment is recorded, and never skipped. Retries while
    /// other allocations win the counter.
    pub async fn record_payment_and_issue(
        &self,
        payment: &PaymentItem,
        invoice: &InvoiceItem,
        financial_year: &str,
        format_number: impl Fn(u64) -> String,
        extra: Vec<TransactWriteItem>,
    ) -> Result<Issued, StoreError> {
        let counter_key = keys::invoice_counter(financial_year);
        let mut invoice = invoice.clone();
        for attempt in 0..MAX_ALLOCATION_ATTEMPTS {
            let counter: Option<InvoiceCounterItem> = self.get(&counter_key, true).await?;
            let last = counter.map_or(0, |c| c.last);
            let number = format_number(last + 1);
            let mut issued = invoice.clone();
            issued.status = InvoiceStatus::Paid;
            issued.number = Some(number.clone());
            issued.payment_id = Some(payment.payment_id.clone());
            issued.version = invoice.version + 1;
            let invoice_condition = if invoice.version == 0 && invoice.status == InvoiceStatus::Open {
                "attribute_not_exists(PK) OR (#status = :open AND #version = :v)"
            } else {
                "#status = :open AND #version = :v"
            };
            let invoice_put = aws_sdk_dynamodb::types::Put::builder()
                .table_name(&self.table)
                .set_item(Some(super::to_item(&issued)?))
                .condition_expression(invoice_condition)
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":open", AttributeValue::S("open".into()))
                .expression_attribute_values(":v", AttributeValue::N(invoice.version.to_string()))
                .build()
                .map_err(|e| StoreError::Other(e.to_string()))?;
            let mut values: Item = HashMap::from([
                (":next".to_owned(), AttributeValue::N((last + 1).to_string())),
                (":fy".to_owned(), AttributeValue::S(financial_year.to_owned())),
                (":type".to_owned(), AttributeValue::S("invoice_counter".into())),
            ]);
            let condition = if last == 0 {
                "attribute_not_exists(PK)"
            } else {
                values.insert(":last".to_owned(), AttributeValue::N(last.to_string()));
                "#last = :last"
            };
            let counter_update = aws_sdk_dynamodb::types::Update::builder()
                .table_name(&self.table)
                .set_key(Some(counter_key.to_map()))
                .update_expression("SET #last = :next, financial_year = :fy, entity_type = :type")
                .condition_expression(condition)
                .expression_attribute_names("#last", "last")
                .set_expression_attribute_values(Some(values))
                .build()
                .map_err(|e| StoreError::Other(e.to_string()))?;
            let mut items = vec![
                self.tx_put(payment, Some("attribute_not_exists(PK)"))?,
                TransactWriteItem::builder().put(invoice_put).build(),
                TransactWriteItem::builder().update(counter_update).build(),
            ];
            items.extend(extra.iter().cloned());
            match self.transact(items).await {
                Ok(()) => return Ok(Issued::Numbered(number)),
                Err(StoreError::Conditional { index: Some(0) }) => return Ok(Issued::AlreadyRecorded),
                Err(StoreError::Conditional { index: Some(1) }) => {
                    match self.get_invoice(&invoice.invoice_id).await? {
                        Some(current) if current.status == InvoiceStatus::Open => invoice = current,
                        Some(current) if current.payment_id.as_deref() == Some(payment.payment_id.as_str()) => {
                            return Ok(Issued::AlreadyRecorded);
                        }
                        _ => {
                            // Paid by another payment (or withdrawn): keep this payment on record alone.
                            return Ok(if self.put_payment_once(payment, extra).await? {
                                Issued::InvoiceAlreadyPaid
                            } else {
                                Issued::AlreadyRecorded
                            });
                        }
                    }
                }
                // Another allocation took the number (or the transaction collided): read the counter again.
                Err(StoreError::Conditional { .. } | StoreError::Unavailable(_)) => {
                    let jitter = u64::from(crate::platform::crypto::random_bytes::<1>()[0] % 16);
                    tokio::time::sleep(std::time::Duration::from_millis(jitter + (attempt.min(10) as u64))).await;
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Unavailable("invoice number allocation kept losing races".into()))
    }

    /// One page of a user's invoices, newest first.
    pub async fn user_invoices(
        &self,
        user_id: &str,
        limit: i32,
        after: Option<&str>,
    ) -> Result<Result<InvoicePage, ()>, StoreError> {
        let Ok((items, cursor)) = self.gsi1_page(keys::user_invoices_partition(user_id), limit, after).await? else {
            return Ok(Err(()));
        };
        let items = items.into_iter().map(from_item).collect::<Result<Vec<_>, _>>()?;
        Ok(Ok(InvoicePage { items, cursor }))
    }

    /// Record where an invoice's PDF is (idempotent).
    pub async fn set_invoice_pdf(&self, invoice_id: &str, pdf_key: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::invoice(invoice_id).to_map()))
            .update_expression("SET pdf_key = :k")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":k", AttributeValue::S(pdf_key.to_owned()))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// One page of subscriptions due for the billing run by `now` (earliest first).
    pub async fn due_subscriptions(
        &self,
        now: i64,
        limit: i32,
        after: Option<Item>,
    ) -> Result<(Vec<SubscriptionItem>, Option<Item>), StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI2)
            .key_condition_expression("GSI2PK = :pk AND GSI2SK <= :until")
            .expression_attribute_values(":pk", AttributeValue::S(keys::BILLING_DUE.to_owned()))
            .expression_attribute_values(":until", AttributeValue::S(keys::billing_due_until(now)))
            .limit(limit)
            .set_exclusive_start_key(after)
            .send()
            .await
            .map_err(classify)?;
        let items = out.items.unwrap_or_default().into_iter().map(from_item).collect::<Result<Vec<_>, _>>()?;
        Ok((items, out.last_evaluated_key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gst::invoice::{InvoiceDoc, Line, Party};
    use crate::model::{BillingPeriod, Price, Provider};
    use crate::store::stored_shape::assert_stored;

    const AT: &str = "2026-04-15T10:00:00Z";

    fn price() -> Price {
        Price::new(49_900, "inr", BillingPeriod::Monthly)
    }

    fn party(name: &str, state_code: &str) -> Party {
        Party {
            name: name.into(),
            address: vec!["12 MG Road".into()],
            state_code: state_code.into(),
            gstin: None,
            email: None,
        }
    }

    #[test]
    fn the_invoice_family_is_stored_under_its_attribute_names() {
        let subscription = SubscriptionItem::new(
            "sub_1",
            "usr_1",
            "sol_1",
            Tier::Pro,
            BillingPeriod::Monthly,
            Provider::Phonepe,
            price(),
            AT.into(),
        );
        let mut invoice = InvoiceItem::open(
            "inv_1",
            &subscription,
            Tier::Pro,
            InvoiceReason::Renewal,
            49_900,
            "inr",
            Some((1_776_250_000, 1_778_842_000)),
            AT.into(),
        );
        invoice.price = Some(price());
        invoice.status = InvoiceStatus::Paid;
        invoice.due_at = Some(1_776_250_000);
        invoice.number = Some(crate::gst::invoice_number("2026-27", 1));
        invoice.issued_at = Some(AT.into());
        invoice.payment_id = Some("pay_1".into());
        let issued_on = chrono::NaiveDate::from_ymd_opt(2026, 4, 15).expect("date");
        invoice.document = Some(InvoiceDoc {
            number: crate::gst::invoice_number("2026-27", 1),
            issued_on,
            seller: party("Marketplace", "29"),
            buyer: party("Buyer", "27"),
            place_of_supply: "27".into(),
            currency: "inr".into(),
            lines: vec![Line { description: "Pro".into(), sac: "998314".into(), period: None, amount: 49_900 }],
            tax: crate::gst::split_inclusive(49_900, "inr", "29", "27"),
            payment_reference: Some("pay_1".into()),
        });
        invoice.pdf_key = Some("invoices/inv_1.pdf".into());
        invoice.version = 2;
        assert_stored(
            &invoice,
            &keys::invoice("inv_1"),
            "invoice",
            &[
                "PK",
                "SK",
                "GSI1PK",
                "GSI1SK",
                "entity_type",
                "invoice_id",
                "user_id",
                "subscription_id",
                "solution_id",
                "provider",
                "tier",
                "reason",
                "period_start",
                "period_end",
                "amount",
                "currency",
                "price",
                "status",
                "due_at",
                "number",
                "issued_at",
                "payment_id",
                "document",
                "pdf_key",
                "version",
                "created_at",
                "updated_at",
            ],
        );

        let key = keys::invoice_counter("2026-27");
        let counter = InvoiceCounterItem {
            pk: key.pk.clone(),
            sk: key.sk.clone(),
            entity_type: "invoice_counter".into(),
            financial_year: "2026-27".into(),
            last: 12,
        };
        assert_stored(&counter, &key, "invoice_counter", &["PK", "SK", "entity_type", "financial_year", "last"]);

        let mut order = PhonePeOrderItem::new("ord_1", &invoice, AT.into());
        order.phonepe_order_id = Some("OMO123".into());
        order.redirect_url = Some("https://mercury.phonepe.com/ord_1".into());
        assert_stored(
            &order,
            &keys::phonepe_order("ord_1"),
            "phonepe_order",
            &[
                "PK",
                "SK",
                "GSI2PK",
                "GSI2SK",
                "entity_type",
                "merchant_order_id",
                "invoice_id",
                "subscription_id",
                "user_id",
                "amount",
                "currency",
                "state",
                "phonepe_order_id",
                "redirect_url",
                "created_at",
                "updated_at",
            ],
        );
    }
}
