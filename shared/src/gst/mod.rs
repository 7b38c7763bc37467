//! GST rules: GSTIN validation, state codes, financial-year invoice numbers and the GST split of a tax-inclusive
//! total. The tax-invoice document is in [`invoice`], its PDF rendering in [`pdf`]; money formatting and amounts
//! in words are in [`crate::money::format`]. Pure: no I/O.
//!
//! Money is always `i64` minor units of the invoice currency (paise for INR), never a float. Floats appear only
//! in PDF layout coordinates.
//!
//! # THE rounding rule
//!
//! Our prices include GST, so an invoice's total equals the payment to the paisa, and the tax is carved out of it:
//!
//! 1. Only currency `inr` (any case) is taxed, at 18% ([`GST_RATE_BP`]). Any other currency is an export of
//!    services, zero-rated: every tax is 0, `taxable == total`, `rate_bp == 0`.
//! 2. `taxable = round(total × 100 / 118)` to the nearest paisa, computed exactly in integers
//!    (`(total × 200 + 118) / 236` on the magnitude, i.e. halves away from zero; a negative total, as on a credit
//!    note, is split as the mirror image of the positive one). An exact half cannot occur: 118 = 2 × 59 and
//!    `total × 50 / 59` never ends in ½.
//! 3. `tax = total − taxable`.
//! 4. Intra-state supply (`seller_state == place_of_supply`): `cgst = tax / 2` (rounded toward zero),
//!    `sgst = tax − cgst`, so an odd paisa goes to SGST. Inter-state supply: `igst = tax`.
//! 5. Invariant, always: `taxable + cgst + sgst + igst == total`, and `|tax − total × 18 / 118| ≤ ½ paisa`.
//!
//! The tax is computed once on the invoice total, not per line; line amounts are shown tax-inclusive.
//!
//! # Choices worth knowing
//!
//! * GSTIN position 14 accepts `Z` (every regular registration seen in practice) and also `1-9`, `A`, `B`, `D-J`,
//!   the set GSTN's own API regex allows for normal taxpayers. `C` (the e-commerce operators' TCS registration,
//!   not a GSTIN one may bill a B2B supply to) is rejected. Accepting the wider set costs no typo detection: the
//!   check character catches every single-character substitution. Special registrations that are not built on a
//!   PAN (TDS deductors on a TAN, UN bodies, non-resident and OIDAR registrations under code 99) are rejected.
//! * [`STATES`] lists the codes in use today. 25 (Daman and Diu, merged into 26 in 2020) and 28 (Andhra Pradesh
//!   before its division; AP registers under 37) are left out, so GSTINs starting with them are rejected.
//! * [`SAC_SAAS`] (998315, "hosting and IT infrastructure provisioning services", whose class covers application
//!   service provisioning) is the suggested SAC for access to partner solutions over the API. All the candidate
//!   IT SACs carry the same 18%, so the choice only affects the HSN/SAC summary of the returns.

pub mod invoice;
pub mod pdf;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// GST on INR sales, in basis points (18%).
pub const GST_RATE_BP: u32 = 1800;

/// Suggested SAC for software delivered as a service (API access to a hosted solution): 998315, "Hosting and
/// information technology (IT) infrastructure provisioning services", the class that holds application service
/// provisioning. Not 998314 (IT design and development: building software for a client), 997331 (licensing the
/// right to use software: no licence is granted here) nor 998431 (on-line text content such as books and news).
pub const SAC_SAAS: &str = "998315";

/// GST state and union-territory codes (the first two digits of a GSTIN, and the place of supply) → names.
pub const STATES: &[(&str, &str)] = &[
    ("01", "Jammu and Kashmir"),
    ("02", "Himachal Pradesh"),
    ("03", "Punjab"),
    ("04", "Chandigarh"),
    ("05", "Uttarakhand"),
    ("06", "Haryana"),
    ("07", "Delhi"),
    ("08", "Rajasthan"),
    ("09", "Uttar Pradesh"),
    ("10", "Bihar"),
    ("11", "Sikkim"),
    ("12", "Arunachal Pradesh"),
    ("13", "Nagaland"),
    ("14", "Manipur"),
    ("15", "Mizoram"),
    ("16", "Tripura"),
    ("17", "Meghalaya"),
    ("18", "Assam"),
    ("19", "West Bengal"),
    ("20", "Jharkhand"),
    ("21", "Odisha"),
    ("22", "Chhattisgarh"),
    ("23", "Madhya Pradesh"),
    ("24", "Gujarat"),
    ("26", "Dadra and Nagar Haveli and Daman and Diu"),
    ("27", "Maharashtra"),
    ("29", "Karnataka"),
    ("30", "Goa"),
    ("31", "Lakshadweep"),
    ("32", "Kerala"),
    ("33", "Tamil Nadu"),
    ("34", "Puducherry"),
    ("35", "Andaman and Nicobar Islands"),
    ("36", "Telangana"),
    ("37", "Andhra Pradesh"),
    ("38", "Ladakh"),
    ("97", "Other Territory"),
];

/// The name of a GST state code ("29" → "Karnataka").
pub fn state_name(code: &str) -> Option<&'static str> {
    STATES.iter().find(|(c, _)| *c == code).map(|(_, name)| *name)
}

// ---------------------------------------------------------------------------------------------------------------
// GSTIN
// ---------------------------------------------------------------------------------------------------------------

const BASE36: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// A validated GSTIN: 15 characters, upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Gstin(String);

impl Gstin {
    /// Trim, upper-case and validate: state code, PAN (`AAAAA9999A`), entity code (`1-9A-Z`), position 14
    /// (see the module doc) and the mod-36 check character.
    pub fn parse(input: &str) -> Result<Gstin, &'static str> {
        let s = input.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        if b.len() != 15 || !b.iter().all(u8::is_ascii_alphanumeric) {
            return Err("must be 15 letters and digits");
        }
        if !b[..2].iter().all(u8::is_ascii_digit) || state_name(&s[..2]).is_none() {
            return Err("must start with a valid GST state code");
        }
        let pan = &b[2..12];
        if !(pan[..5].iter().all(u8::is_ascii_uppercase)
            && pan[5..9].iter().all(u8::is_ascii_digit)
            && pan[9].is_ascii_uppercase())
        {
            return Err("characters 3 to 12 must be a PAN (AAAAA9999A)");
        }
        if b[12] == b'0' {
            return Err("character 13 (entity code) must be 1-9 or A-Z");
        }
        if !matches!(b[13], b'Z' | b'1'..=b'9' | b'A' | b'B' | b'D'..=b'J') {
            return Err("character 14 must be Z");
        }
        if check_char(&b[..14]) != Some(b[14]) {
            return Err("check character does not match");
        }
        Ok(Gstin(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The two-digit GST state code ("29").
    pub fn state_code(&self) -> &str {
        &self.0[..2]
    }

    /// The holder's PAN (characters 3 to 12).
    pub fn pan(&self) -> &str {
        &self.0[2..12]
    }
}

impl std::fmt::Display for Gstin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Gstin {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Gstin::parse(s)
    }
}

impl TryFrom<String> for Gstin {
    type Error = &'static str;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Gstin::parse(&s)
    }
}

impl From<Gstin> for String {
    fn from(g: Gstin) -> String {
        g.0
    }
}

impl AsRef<str> for Gstin {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The GSTIN check character of the first 14 characters (upper-case base 36): factors 1, 2, 1, 2, …; each
/// product is folded as `product / 36 + product % 36`; the check is `(36 − sum % 36) % 36`.
fn check_char(first14: &[u8]) -> Option<u8> {
    let mut sum = 0usize;
    for (i, c) in first14.iter().enumerate() {
        let value = BASE36.iter().position(|x| x == c)?;
        let product = value * if i % 2 == 0 { 1 } else { 2 };
        sum += product / 36 + product % 36;
    }
    Some(BASE36[(36 - sum % 36) % 36])
}

// ---------------------------------------------------------------------------------------------------------------
// Financial year and invoice numbers
// ---------------------------------------------------------------------------------------------------------------

/// The Indian financial year (April to March) of a date: 2026-04-01 ..= 2027-03-31 → "2026-27".
pub fn financial_year(date: NaiveDate) -> String {
    let start = if date.month() >= 4 { date.year() } else { date.year() - 1 };
    format!("{start}-{:02}", (start + 1).rem_euclid(100))
}

/// "INV/26-27/000001" for financial year "2026-27": the sequence zero-padded to six digits. That is 16
/// characters, the most CGST rule 46(b) allows for an invoice serial number (letters, digits, `-` and `/`); a
/// year with more than 999,999 invoices would need a shorter prefix.
/// Months the accounts and records of a financial year are kept: CGST Act s.36 and CGST Rules r.56 — 72 months
/// from the due date of the annual return (GSTR-9) for that year. Invoices, their PDFs, the payments, refunds and
/// ledger postings behind them stay that long, an erased buyer's included.
pub const RECORD_RETENTION_MONTHS: u32 = 72;

/// The due date of the annual return of the financial year holding `date`: 31 December after the year ends
/// (a year runs 1 April to 31 March).
pub fn annual_return_due(date: NaiveDate) -> NaiveDate {
    let fy_end_year = if date.month() >= 4 { date.year() + 1 } else { date.year() };
    NaiveDate::from_ymd_opt(fy_end_year, 12, 31).unwrap_or(date)
}

/// Until when the records of a transaction on `date` must be kept: [`RECORD_RETENTION_MONTHS`] after the due
/// date of that year's annual return.
pub fn records_kept_until(date: NaiveDate) -> NaiveDate {
    let due = annual_return_due(date);
    due.checked_add_months(chrono::Months::new(RECORD_RETENTION_MONTHS)).unwrap_or(due)
}

pub fn invoice_number(fy: &str, seq: u64) -> String {
    format!("INV/{}/{seq:06}", fy.get(2..).unwrap_or(fy))
}

/// The financial year (`2026-27`, this century) and sequence of an invoice number in the exact form
/// [`invoice_number`] writes (sequence from 1, no extra leading zeros, a well-formed financial year).
pub fn parse_invoice_number(s: &str) -> Option<(String, u64)> {
    let (short, digits) = s.strip_prefix("INV/")?.split_once('/')?;
    let fy = format!("20{short}");
    if !is_financial_year(&fy) || digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seq: u64 = digits.parse().ok()?;
    (seq > 0 && invoice_number(&fy, seq) == s).then_some((fy, seq))
}

fn is_financial_year(fy: &str) -> bool {
    let b = fy.as_bytes();
    if b.len() != 7 || b[4] != b'-' || !b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit) {
        return false;
    }
    match (fy[..4].parse::<u32>(), fy[5..].parse::<u32>()) {
        (Ok(start), Ok(end)) => (start + 1) % 100 == end,
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------------------------
// GST split
// ---------------------------------------------------------------------------------------------------------------

/// The GST inside a tax-inclusive total. `taxable + cgst + sgst + igst == total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxBreakdown {
    pub taxable: i64,
    pub cgst: i64,
    pub sgst: i64,
    pub igst: i64,
    pub total: i64,
    /// 1800 for INR, 0 for a zero-rated export.
    pub rate_bp: u32,
}

impl TaxBreakdown {
    /// All the tax: `cgst + sgst + igst`.
    pub fn tax(&self) -> i64 {
        self.cgst + self.sgst + self.igst
    }

    /// True when no tax is charged because the supply is a zero-rated export (non-INR).
    pub fn is_zero_rated(&self) -> bool {
        self.rate_bp == 0
    }
}

/// Split a tax-inclusive `total` (minor units) by THE rounding rule of the module doc. `seller_state` and
/// `place_of_supply` are two-digit GST state codes.
pub fn split_inclusive(total: i64, currency: &str, seller_state: &str, place_of_supply: &str) -> TaxBreakdown {
    if !currency.trim().eq_ignore_ascii_case("inr") {
        return TaxBreakdown { taxable: total, cgst: 0, sgst: 0, igst: 0, total, rate_bp: 0 };
    }
    // round(m × 100 / 118) without overflow: m = q × 118 + r.
    let m = total.unsigned_abs();
    let (q, r) = (m / 118, m % 118);
    let taxable_m = q * 100 + (r * 200 + 118) / 236;
    // taxable_m ≤ m × 0.85 < 2^63, so it fits an i64 whatever the total.
    let taxable_m = i64::try_from(taxable_m).unwrap_or(i64::MAX);
    let taxable = if total < 0 { -taxable_m } else { taxable_m };
    let tax = total - taxable;
    let (cgst, sgst, igst) = if seller_state.trim() == place_of_supply.trim() {
        let cgst = tax / 2;
        (cgst, tax - cgst, 0)
    } else {
        (0, 0, tax)
    };
    TaxBreakdown { taxable, cgst, sgst, igst, total, rate_bp: GST_RATE_BP }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_kept_72_months_from_the_annual_return_due_date() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("date");
        // FY 2026-27 (an invoice of December 2026 or of March 2027): return due 31 Dec 2027, kept to 31 Dec 2033.
        assert_eq!(annual_return_due(d(2026, 12, 3)), d(2027, 12, 31));
        assert_eq!(records_kept_until(d(2026, 12, 3)), d(2033, 12, 31));
        assert_eq!(records_kept_until(d(2027, 3, 31)), d(2033, 12, 31));
        // 1 April starts the next year.
        assert_eq!(records_kept_until(d(2027, 4, 1)), d(2034, 12, 31));
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    /// A valid GSTIN built from its first 14 characters.
    fn with_check(first14: &str) -> String {
        let check = check_char(first14.as_bytes()).expect("base-36 characters");
        format!("{first14}{}", check as char)
    }

    // --- GSTIN -------------------------------------------------------------------------------------------------

    #[test]
    fn published_gstins_pass_the_check() {
        // Widely published examples (a GST portal sample, an e-invoice sandbox sample, Reliance Industries).
        for (gstin, state, pan) in [
            ("27AAPFU0939F1ZV", "27", "AAPFU0939F"),
            ("29AAGCB7383J1Z4", "29", "AAGCB7383J"),
            ("27AAACR5055K1Z7", "27", "AAACR5055K"),
        ] {
            let parsed = Gstin::parse(gstin).expect(gstin);
            assert_eq!(parsed.as_str(), gstin);
            assert_eq!(parsed.state_code(), state);
            assert_eq!(parsed.pan(), pan);
            assert_eq!(check_char(&gstin.as_bytes()[..14]), Some(gstin.as_bytes()[14]));
        }
    }

    #[test]
    fn constructed_gstins_pass_in_every_state() {
        for (code, _) in STATES {
            for tail in ["1Z", "9Z", "AZ", "Z1"] {
                let gstin = with_check(&format!("{code}AAPFU0939F{tail}"));
                let parsed = Gstin::parse(&gstin).unwrap_or_else(|e| panic!("{gstin}: {e}"));
                assert_eq!(parsed.state_code(), *code);
            }
        }
    }

    #[test]
    fn gstin_is_normalised() {
        let parsed = Gstin::parse("  27aapfu0939f1zv\n").expect("lower case and spaces are fine");
        assert_eq!(parsed.as_str(), "27AAPFU0939F1ZV");
        assert_eq!(parsed.to_string(), "27AAPFU0939F1ZV");
        assert_eq!("29aagcb7383j1z4".parse::<Gstin>().map(String::from), Ok("29AAGCB7383J1Z4".to_string()));
    }

    #[test]
    fn gstin_rejections() {
        assert_eq!(Gstin::parse("27AAPFU0939F1ZW"), Err("check character does not match"));
        assert_eq!(Gstin::parse("27AAPFU0939F1Z"), Err("must be 15 letters and digits"));
        assert_eq!(Gstin::parse("27AAPFU0939F1ZVV"), Err("must be 15 letters and digits"));
        assert_eq!(Gstin::parse(""), Err("must be 15 letters and digits"));
        assert_eq!(Gstin::parse("27AAPFU0939F1Z-"), Err("must be 15 letters and digits"));
        assert_eq!(Gstin::parse("27AAPFU0939F1Zé"), Err("must be 15 letters and digits"));
        // Each with a correct check character, so that only the named rule fails.
        for code in ["00", "40", "25", "28", "96", "99", "A7"] {
            let gstin = with_check(&format!("{code}AAPFU0939F1Z"));
            assert_eq!(Gstin::parse(&gstin), Err("must start with a valid GST state code"), "{gstin}");
        }
        for pan in ["AAPF10939F", "AAPFUA939F", "AAPFU09391", "1APFU0939F"] {
            let gstin = with_check(&format!("27{pan}1Z"));
            assert_eq!(Gstin::parse(&gstin), Err("characters 3 to 12 must be a PAN (AAAAA9999A)"), "{gstin}");
        }
        let entity_zero = with_check("27AAPFU0939F0Z");
        assert_eq!(Gstin::parse(&entity_zero), Err("character 13 (entity code) must be 1-9 or A-Z"));
        for position14 in ['C', 'K', 'Y', '0'] {
            let gstin = with_check(&format!("27AAPFU0939F1{position14}"));
            assert_eq!(Gstin::parse(&gstin), Err("character 14 must be Z"), "{gstin}");
        }
    }

    #[test]
    fn every_single_character_substitution_is_rejected() {
        let valid = "27AAPFU0939F1ZV";
        for position in 0..15 {
            for &replacement in BASE36 {
                let mut bytes = valid.as_bytes().to_vec();
                if bytes[position] == replacement {
                    continue;
                }
                bytes[position] = replacement;
                let mutated = String::from_utf8(bytes).expect("ascii");
                assert!(Gstin::parse(&mutated).is_err(), "{mutated} accepted");
            }
        }
    }

    #[test]
    fn gstin_serde_validates() {
        let g: Gstin = serde_json::from_str("\"27aapfu0939f1zv\"").expect("valid");
        assert_eq!(serde_json::to_string(&g).expect("serialize"), "\"27AAPFU0939F1ZV\"");
        assert!(serde_json::from_str::<Gstin>("\"27AAPFU0939F1ZW\"").is_err());
    }

    // --- States ------------------------------------------------------------------------------------------------

    #[test]
    fn states_are_sorted_unique_two_digit_codes() {
        assert!(STATES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(STATES.iter().all(|(c, n)| c.len() == 2 && c.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty()));
        assert_eq!(STATES.first().map(|s| s.1), Some("Jammu and Kashmir"));
        assert_eq!(state_name("29"), Some("Karnataka"));
        assert_eq!(state_name("38"), Some("Ladakh"));
        assert_eq!(state_name("97"), Some("Other Territory"));
        assert_eq!(state_name("25"), None);
        assert_eq!(state_name("00"), None);
        assert_eq!(state_name("7"), None);
    }

    // --- Financial year and invoice numbers --------------------------------------------------------------------

    #[test]
    fn financial_year_runs_april_to_march() {
        assert_eq!(financial_year(date(2026, 4, 1)), "2026-27");
        assert_eq!(financial_year(date(2026, 12, 31)), "2026-27");
        assert_eq!(financial_year(date(2027, 1, 1)), "2026-27");
        assert_eq!(financial_year(date(2027, 3, 31)), "2026-27");
        assert_eq!(financial_year(date(2027, 4, 1)), "2027-28");
        assert_eq!(financial_year(date(2026, 3, 31)), "2025-26");
        assert_eq!(financial_year(date(1999, 4, 1)), "1999-00");
        assert_eq!(financial_year(date(2000, 1, 1)), "1999-00");
        assert_eq!(financial_year(date(2009, 6, 1)), "2009-10");
    }

    #[test]
    fn invoice_numbers_round_trip() {
        assert_eq!(invoice_number("2026-27", 1), "INV/26-27/000001");
        assert_eq!(invoice_number("2026-27", 1).len(), 16, "CGST rule 46(b): at most 16 characters");
        assert_eq!(invoice_number("2026-27", 999_999), "INV/26-27/999999");
        assert_eq!(invoice_number("2026-27", 1_000_000), "INV/26-27/1000000");
        for seq in [1, 42, 999_999, 1_000_000, 123_456_789, u64::MAX] {
            let number = invoice_number("2026-27", seq);
            assert_eq!(parse_invoice_number(&number), Some(("2026-27".to_string(), seq)), "{number}");
        }
        assert_eq!(parse_invoice_number("INV/99-00/000007"), Some(("2099-00".to_string(), 7)));
    }

    #[test]
    fn malformed_invoice_numbers_are_rejected() {
        for bad in [
            "",
            "INV/26-27/",
            "INV/26-27/00001",
            "INV/26-27/0000001",
            "INV/26-27/000000",
            "INV/26-27/00000a",
            "INV/26-27/+00001",
            "INV/26-28/000001",
            "INV/26-2/000001",
            "INV/2026-27/000001",
            "INV/26/27/000001",
            "inv/26-27/000001",
            "INV/26-27/000001 ",
            "INV/26-27/99999999999999999999",
            "XINV/26-27/000001",
        ] {
            assert_eq!(parse_invoice_number(bad), None, "{bad:?}");
        }
    }

    // --- GST split ---------------------------------------------------------------------------------------------

    fn assert_invariant(b: &TaxBreakdown) {
        assert_eq!(b.taxable + b.cgst + b.sgst + b.igst, b.total, "{b:?}");
    }

    #[test]
    fn awkward_amounts_split_by_the_rule() {
        // (total, taxable, cgst, sgst) for an intra-state supply; inter-state moves cgst + sgst to igst.
        let cases = [
            (0, 0, 0, 0),
            (1, 1, 0, 0),
            (2, 2, 0, 0),
            (59, 50, 4, 5),
            (99, 84, 7, 8),
            (100, 85, 7, 8),
            (118, 100, 9, 9),
            (119, 101, 9, 9),
            (177, 150, 13, 14),
            (49_900, 42_288, 3_806, 3_806),
            (199_900, 169_407, 15_246, 15_247),
            (99_999_999, 84_745_762, 7_627_118, 7_627_119),
        ];
        for (total, taxable, cgst, sgst) in cases {
            let intra = split_inclusive(total, "inr", "29", "29");
            assert_eq!(intra, TaxBreakdown { taxable, cgst, sgst, igst: 0, total, rate_bp: 1800 }, "intra {total}");
            assert_invariant(&intra);
            let inter = split_inclusive(total, "INR", "29", "27");
            let igst = cgst + sgst;
            assert_eq!(inter, TaxBreakdown { taxable, cgst: 0, sgst: 0, igst, total, rate_bp: 1800 }, "inter {total}");
            assert_invariant(&inter);
            assert_eq!(inter.tax(), intra.tax());
            // A credit note mirrors the invoice.
            let refund = split_inclusive(-total, "inr", "29", "29");
            assert_eq!((refund.taxable, refund.cgst, refund.sgst), (-taxable, -cgst, -sgst), "refund {total}");
        }
    }

    #[test]
    fn split_invariant_holds_over_a_range() {
        for total in (0..=200_000i64).step_by(7).chain([199_999, 200_000, 1_000_003]) {
            for (seller, place) in [("29", "29"), ("29", "07")] {
                let b = split_inclusive(total, "inr", seller, place);
                assert_invariant(&b);
                assert!(b.taxable >= 0 && b.cgst >= 0 && b.sgst >= 0 && b.igst >= 0, "{b:?}");
                // |tax − total × 18/118| ≤ ½ paisa (< 1 paisa), checked exactly: |118 tax − 18 total| ≤ 59.
                let tax = i128::from(b.tax());
                assert!((118 * tax - 18 * i128::from(total)).abs() <= 59, "{b:?}");
                if seller == place {
                    assert!(b.igst == 0 && (b.sgst == b.cgst || b.sgst == b.cgst + 1), "{b:?}");
                } else {
                    assert!(b.cgst == 0 && b.sgst == 0, "{b:?}");
                }
            }
        }
    }

    #[test]
    fn extreme_totals_do_not_overflow() {
        for total in [i64::MAX, i64::MAX - 1, i64::MIN, i64::MIN + 1, -1] {
            for place in ["29", "27"] {
                let b = split_inclusive(total, "inr", "29", place);
                assert_invariant(&b);
                let tax = i128::from(b.tax());
                assert!((118 * tax - 18 * i128::from(total)).abs() <= 59, "{b:?}");
            }
        }
    }

    #[test]
    fn other_currencies_are_zero_rated_exports() {
        for currency in ["usd", "USD", "eur", "gbp", ""] {
            for total in [0, 1, 99, 49_900, 199_900] {
                let b = split_inclusive(total, currency, "29", "29");
                assert_eq!(b, TaxBreakdown { taxable: total, cgst: 0, sgst: 0, igst: 0, total, rate_bp: 0 });
                assert!(b.is_zero_rated());
            }
        }
        assert!(!split_inclusive(100, "Inr", "29", "29").is_zero_rated());
    }
}
