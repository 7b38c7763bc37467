//! Issuing tax invoices for paid periods, on both rails. An invoice gets its number in the transaction that
//! records its payment (see `Store::record_payment_and_issue`), so numbers are gapless per Indian financial
//! year (by the date in India) and every number belongs to exactly one recorded payment. The document (seller,
//! buyer, place of supply, lines, GST split) is stored with the invoice; the PDF is rendered from it.

use crate::gst::invoice::{InvoiceDoc, Line, Party};
use crate::gst::{self, Gstin};
use crate::model::{BillingPeriod, OverageCharge};
use crate::platform::config::{ConfigError, required};
use crate::platform::error::{ApiError, FieldError};
use crate::store::invoices::InvoiceItem;
use crate::store::subscriptions::{PaymentItem, SubscriptionItem};
use crate::store::{Issued, Store};
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};

/// Who sells: the marketplace operator, from `SELLER_NAME`, `SELLER_ADDRESS` (lines separated by `|`) and
/// `SELLER_GSTIN` (its state is the supplier's state for the CGST/SGST vs IGST choice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seller {
    pub party: Party,
}

impl Seller {
    pub fn from_env() -> Result<Self, ConfigError> {
        let gstin = Gstin::parse(&required("SELLER_GSTIN")?)
            .map_err(|_| ConfigError { name: "SELLER_GSTIN", reason: "not a valid GSTIN" })?;
        Ok(Self::new(&required("SELLER_NAME")?, &required("SELLER_ADDRESS")?, gstin))
    }

    pub fn new(name: &str, address: &str, gstin: Gstin) -> Self {
        Self {
            party: Party {
                name: name.to_owned(),
                address: address.split('|').map(|l| l.trim().to_owned()).filter(|l| !l.is_empty()).collect(),
                state_code: gstin.state_code().to_owned(),
                gstin: Some(gstin.as_str().to_owned()),
                email: None,
            },
        }
    }
}

/// The day in India (invoice dates and financial years follow it).
pub fn india_date(at: DateTime<Utc>) -> chrono::NaiveDate {
    at.with_timezone(&chrono_tz::Asia::Kolkata).date_naive()
}

/// The end of a period that starts at `start` (calendar months, as billing periods are).
pub fn period_end(start: i64, period: BillingPeriod) -> i64 {
    period.end_from(start)
}

/// The buyer as invoiced: the user's name and email; the subscription's GSTIN and state (place of supply:
/// the GSTIN's state, else the state given, else the seller's own, for an unregistered buyer in India).
pub fn buyer(name: &str, email: &str, subscription: &SubscriptionItem, seller: &Seller) -> Party {
    let state = subscription
        .buyer_gstin
        .as_deref()
        .and_then(|g| Gstin::parse(g).ok())
        .map(|g| g.state_code().to_owned())
        .or_else(|| subscription.buyer_state.clone())
        .unwrap_or_else(|| seller.party.state_code.clone());
    Party {
        name: name.to_owned(),
        address: Vec::new(),
        state_code: state,
        gstin: subscription.buyer_gstin.clone(),
        email: Some(email.to_owned()),
    }
}

/// The tax invoice of a paid invoice. Its `number` is filled in when the PDF is rendered (it is allocated in
/// the recording transaction).
pub fn document(
    seller: &Seller,
    buyer: Party,
    invoice: &InvoiceItem,
    description: String,
    issued_at: DateTime<Utc>,
    payment_reference: &str,
) -> InvoiceDoc {
    let place_of_supply = buyer.state_code.clone();
    let day = |t: Option<i64>| t.and_then(|t| DateTime::from_timestamp(t, 0)).map(india_date);
    // A period's last day is the day before its end.
    let days = |start: Option<i64>, end: Option<i64>| match (day(start), day(end.map(|e| e - 1))) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => None,
    };
    let period = days(invoice.period_start, invoice.period_end);
    // The overage of the period that ended is its own line; the rest of the amount is the plan's.
    let overage = invoice.overage.as_ref().filter(|o| o.amount > 0);
    let plan = invoice.amount - overage.map_or(0, |o| o.amount);
    let mut lines = Vec::new();
    if plan > 0 || overage.is_none() {
        lines.push(Line { description, sac: gst::SAC_SAAS.to_owned(), period, amount: plan });
    }
    if let Some(o) = overage {
        lines.push(Line {
            description: overage_description(o),
            sac: gst::SAC_SAAS.to_owned(),
            period: days(Some(o.period_start), Some(o.period_end)),
            amount: o.amount,
        });
    }
    InvoiceDoc {
        number: String::new(),
        issued_on: india_date(issued_at),
        tax: gst::split_inclusive(invoice.amount, &invoice.currency, &seller.party.state_code, &place_of_supply),
        seller: seller.party.clone(),
        buyer,
        place_of_supply,
        currency: invoice.currency.clone(),
        lines,
        payment_reference: Some(payment_reference.to_owned()),
    }
}

/// The tax invoice's line for a period's overage: the units beyond the allowance and the price per block.
pub fn overage_description(o: &OverageCharge) -> String {
    let per_block = o
        .usage
        .blocks
        .iter()
        .map(|b| crate::money::format::money(b.amount, &o.currency))
        .collect::<Vec<_>>()
        .join(" / ");
    let graduated = if o.usage.blocks.len() > 1 { ", graduated" } else { "" };
    format!(
        "Usage beyond the allowance: {} units over {} included ({} units counted), at {per_block} per {} units{graduated}",
        o.units, o.included, o.used, o.usage.block_size
    )
}

/// Record `payment` and issue `invoice` for it (the document built from the stored user, subscription and
/// solution), with `extra` writes in the same transaction.
pub async fn issue(
    store: &Store,
    seller: &Seller,
    mut invoice: InvoiceItem,
    subscription: &SubscriptionItem,
    payment: &PaymentItem,
    issued_at: DateTime<Utc>,
    extra: Vec<TransactWriteItem>,
) -> Result<Issued, ApiError> {
    // The customer: a user, or an organization (its name, its owner's address).
    let contact = crate::identity::orgs::contact(store, &subscription.user_id).await?;
    let (name, email) = contact.map(|c| (c.name, c.email)).unwrap_or_default();
    let solution = store.get_solution(&subscription.solution_id).await?.map(|s| s.name).unwrap_or_default();
    let what = match invoice.reason {
        crate::store::invoices::InvoiceReason::Upgrade => "upgrade (prorated)",
        crate::store::invoices::InvoiceReason::Overage => "usage beyond the allowance",
        _ => match subscription.period {
            BillingPeriod::Monthly => "monthly subscription",
            BillingPeriod::Yearly => "yearly subscription",
        },
    };
    let description = format!("{solution}: {} plan, {what}", invoice.tier.as_str());
    invoice.document = Some(document(
        seller,
        buyer(&name, &email, subscription, seller),
        &invoice,
        description,
        issued_at,
        &payment.provider_payment_id,
    ));
    invoice.issued_at = Some(crate::platform::clock::rfc3339(issued_at));
    // The revenue posting (GST from this invoice, commission, the partner's earnings) in the same transaction.
    let mut extra = extra;
    let tax = invoice.document.as_ref().map(|d| d.tax.cgst + d.tax.sgst + d.tax.igst);
    let facts = crate::ledger::PaymentFacts {
        tax,
        tier: Some(invoice.tier),
        period: invoice.period_start.zip(invoice.period_end),
        first_payment: invoice.reason == crate::store::invoices::InvoiceReason::Subscription,
        overage: invoice.overage.as_ref().map(|o| o.amount),
    };
    extra.extend(crate::ledger::payment_posting(store, payment, facts).await?);
    let fy = gst::financial_year(india_date(issued_at));
    let issued = store.record_payment_and_issue(payment, &invoice, &fy, |n| gst::invoice_number(&fy, n), extra).await?;
    if let Issued::Numbered(number) = &issued {
        tracing::info!(invoice_id = %invoice.invoice_id, number = %number, payment_id = %payment.payment_id, "invoice issued");
    }
    Ok(issued)
}

/// The PDF of an issued invoice.
pub fn render(invoice: &InvoiceItem) -> Option<Vec<u8>> {
    let mut doc = invoice.document.clone()?;
    doc.number = invoice.number.clone()?;
    Some(gst::pdf::render_pdf(&doc))
}

/// The buyer's tax details given at subscription time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuyerTax {
    pub gstin: Option<String>,
    pub state: Option<String>,
}

/// Validate an optional GSTIN and GST state code, adding field errors.
pub fn buyer_tax_details(gstin: Option<&str>, state: Option<&str>, errors: &mut Vec<FieldError>) -> BuyerTax {
    let gstin = match gstin.map(Gstin::parse) {
        None => None,
        Some(Ok(g)) => Some(g),
        Some(Err(why)) => {
            errors.push(FieldError::new("gstin", format!("is not a valid GSTIN: {why}")));
            None
        }
    };
    let state = match state {
        None => None,
        Some(code) if crate::gst::state_name(code).is_some() => Some(code.to_owned()),
        Some(_) => {
            errors.push(FieldError::new("state", "must be a two-digit GST state code, e.g. 29"));
            None
        }
    };
    if let (Some(g), Some(s)) = (&gstin, &state)
        && g.state_code() != s
    {
        errors.push(FieldError::new("state", "differs from the GSTIN's state"));
    }
    BuyerTax {
        state: state.or_else(|| gstin.as_ref().map(|g| g.state_code().to_owned())),
        gstin: gstin.map(String::from),
    }
}

/// Where invoice PDFs are kept: a private S3 bucket, read through presigned URLs.
#[cfg(feature = "payments")]
#[derive(Debug, Clone)]
pub struct InvoiceFiles {
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    /// How long a download link works.
    pub link_seconds: u64,
}

#[cfg(feature = "payments")]
impl InvoiceFiles {
    pub fn key_of(invoice: &InvoiceItem) -> String {
        format!("invoices/{}/{}.pdf", invoice.user_id, invoice.invoice_id)
    }

    /// Store the PDF (idempotent: the same key and bytes).
    pub async fn put(&self, key: &str, pdf: Vec<u8>) -> Result<(), ApiError> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/pdf")
            .body(pdf.into())
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(error = %aws_sdk_s3::error::DisplayErrorContext(&e), "invoice pdf not stored");
                ApiError::unavailable(2)
            })?;
        Ok(())
    }

    pub async fn link(&self, key: &str) -> Result<String, ApiError> {
        let config =
            aws_sdk_s3::presigning::PresigningConfig::expires_in(std::time::Duration::from_secs(self.link_seconds))
                .map_err(ApiError::internal)?;
        let request = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_type("application/pdf")
            .presigned(config)
            .await
            .map_err(ApiError::internal)?;
        Ok(request.uri().to_owned())
    }

    /// The PDF of an issued invoice, rendered and stored once; its S3 key.
    pub async fn ensure_pdf(
        &self,
        store: &crate::store::Store,
        invoice: &InvoiceItem,
    ) -> Result<Option<String>, ApiError> {
        if let Some(key) = &invoice.pdf_key {
            return Ok(Some(key.clone()));
        }
        let Some(pdf) = render(invoice) else { return Ok(None) };
        let key = Self::key_of(invoice);
        self.put(&key, pdf).await?;
        store.set_invoice_pdf(&invoice.invoice_id, &key).await?;
        Ok(Some(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_calendar_months() {
        let jan31 = DateTime::parse_from_rfc3339("2027-01-31T10:00:00Z").expect("date").timestamp();
        let end = period_end(jan31, BillingPeriod::Monthly);
        assert_eq!(DateTime::from_timestamp(end, 0).expect("end").to_rfc3339(), "2027-02-28T10:00:00+00:00");
        let year = period_end(jan31, BillingPeriod::Yearly);
        assert_eq!(DateTime::from_timestamp(year, 0).expect("end").to_rfc3339(), "2028-01-31T10:00:00+00:00");
    }

    #[test]
    fn india_dates_decide_the_financial_year() {
        // 31 March 20:00 UTC is already 1 April in India: the new financial year.
        let at = DateTime::parse_from_rfc3339("2027-03-31T20:00:00Z").expect("date").with_timezone(&Utc);
        assert_eq!(gst::financial_year(india_date(at)), "2027-28");
    }

    #[test]
    fn buyer_details_are_validated() {
        let mut errors = Vec::new();
        let b = buyer_tax_details(Some("27aapfu0939f1zv"), None, &mut errors);
        assert!(errors.is_empty());
        assert_eq!((b.gstin.as_deref(), b.state.as_deref()), (Some("27AAPFU0939F1ZV"), Some("27")));
        buyer_tax_details(Some("27AAPFU0939F1ZX"), None, &mut errors);
        buyer_tax_details(None, Some("77"), &mut errors);
        buyer_tax_details(Some("27AAPFU0939F1ZV"), Some("29"), &mut errors);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["gstin", "state", "state"]);
    }
}

#[cfg(test)]
mod worked_example {
    use crate::model::{OverageBlock, UsageLimit, UsagePricing};

    /// The README's worked example of usage-based pricing ("Usage-based pricing"), number for number.
    #[test]
    fn the_readmes_worked_example_holds() {
        let terms = UsagePricing {
            included_monthly: 100_000,
            limit: UsageLimit::Soft,
            block_size: 1_000,
            blocks: vec![
                OverageBlock { up_to: Some(400_000), amount: 1_000 },
                OverageBlock { up_to: None, amount: 800 },
            ],
        };
        let used = 512_347u64;
        let units = used - terms.allowance(1);
        let overage = terms.charge(units);
        assert_eq!((units, overage), (412_347, 409_878));
        let total = 49_900 + overage;
        let tax = crate::gst::split_inclusive(total, "inr", "29", "29");
        assert_eq!((total, tax.taxable, tax.cgst, tax.sgst), (459_778, 389_642, 35_068, 35_068));
        // The partner's part of the overage at the default 20% commission, its tax pro rata.
        let rate = crate::money::split::DEFAULT_COMMISSION_BP;
        let gst = tax.cgst + tax.sgst + tax.igst;
        let part =
            crate::money::split::split_payment(overage, crate::money::split::mul_div_round(gst, overage, total), rate);
        assert_eq!((part.tax, part.commission, part.partner), (62_524, 69_471, 277_883));
        // A cap of ₹2,000.00 allows 2,00,000 units of overage: usage stops at 3,00,000 events.
        assert_eq!(terms.units_within(200_000), Some(200_000));
    }
}
