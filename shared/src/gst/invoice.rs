//! The tax-invoice document: the parties, the lines and everything else printed on a GST tax invoice. Plain
//! values (serialised with the invoice record); [`super::pdf::render_pdf`] draws them.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::gst::TaxBreakdown;

/// The supplier or the recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    pub name: String,
    pub address: Vec<String>,
    /// Two-digit GST state code ("" or "96" for a party outside India).
    pub state_code: String,
    pub gstin: Option<String>,
    pub email: Option<String>,
}

/// One line of the invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub description: String,
    pub sac: String,
    /// Service period, both days included.
    pub period: Option<(NaiveDate, NaiveDate)>,
    /// Tax-inclusive line total, minor units.
    pub amount: i64,
}

/// Everything printed on a tax invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceDoc {
    pub number: String,
    pub issued_on: NaiveDate,
    pub seller: Party,
    pub buyer: Party,
    /// Two-digit GST state code.
    pub place_of_supply: String,
    pub currency: String,
    pub lines: Vec<Line>,
    pub tax: TaxBreakdown,
    pub payment_reference: Option<String>,
}

/// Test fixtures shared by the document and PDF tests.
#[cfg(test)]
pub(super) mod fixtures {
    use super::*;
    use crate::gst::{SAC_SAAS, invoice_number, split_inclusive};

    pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    pub fn sample(currency: &str, place_of_supply: &str, buyer_gstin: Option<&str>) -> InvoiceDoc {
        let total = 199_900;
        InvoiceDoc {
            number: invoice_number("2026-27", 1),
            issued_on: date(2026, 4, 15),
            seller: Party {
                name: "Marketplace Technologies Private Limited".to_string(),
                address: vec!["4th Floor, 80 Feet Road".to_string(), "Koramangala, Bengaluru 560034".to_string()],
                state_code: "29".to_string(),
                gstin: Some("29AAGCB7383J1Z4".to_string()),
                email: Some("billing@example.com".to_string()),
            },
            buyer: Party {
                name: "Shreeji Traders (Pune)".to_string(),
                address: vec!["12 MG Road".to_string(), "Pune 411001".to_string()],
                state_code: place_of_supply.to_string(),
                gstin: buyer_gstin.map(str::to_string),
                email: None,
            },
            place_of_supply: place_of_supply.to_string(),
            currency: currency.to_string(),
            lines: vec![Line {
                description: "Pro plan - Invoice OCR API".to_string(),
                sac: SAC_SAAS.to_string(),
                period: Some((date(2026, 4, 15), date(2026, 5, 14))),
                amount: total,
            }],
            tax: split_inclusive(total, currency, "29", place_of_supply),
            payment_reference: Some("pi_3PqXyZ2eZvKYlo2C1abcdEFG".to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::sample;
    use super::*;

    #[test]
    fn invoice_doc_round_trips_through_json() {
        let doc = sample("inr", "27", Some("27AAPFU0939F1ZV"));
        let json = serde_json::to_string(&doc).expect("serialize");
        let back: InvoiceDoc = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, doc);
        assert!(json.contains("\"issued_on\":\"2026-04-15\""));
    }
}
