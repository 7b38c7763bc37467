//! GST tax invoices: GSTIN validation, state codes, financial-year invoice numbers, the GST split of a
//! tax-inclusive total, money formatting and a dependency-free single-page PDF rendering. Pure: no I/O.
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

// ---------------------------------------------------------------------------------------------------------------
// The invoice document
// ---------------------------------------------------------------------------------------------------------------

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

/// Digits after the decimal point of a currency's minor unit, following Stripe's zero- and three-decimal lists.
fn minor_exponent(code: &str) -> u32 {
    match code {
        "BIF" | "CLP" | "DJF" | "GNF" | "JPY" | "KMF" | "KRW" | "MGA" | "PYG" | "RWF" | "UGX" | "VND" | "VUV"
        | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "JOD" | "KWD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// Minor units as "INR 1,00,000.00" (Indian grouping for INR) or "USD 1,234.56" (groups of three otherwise).
pub fn money(amount: i64, currency: &str) -> String {
    let code = currency.trim().to_ascii_uppercase();
    let exponent = minor_exponent(&code);
    let scale = 10u64.pow(exponent);
    let magnitude = amount.unsigned_abs();
    let (units, fraction) = (magnitude / scale, magnitude % scale);
    let grouped = if code == "INR" { group_indian(units) } else { group_thousands(units) };
    let sign = if amount < 0 { "-" } else { "" };
    if exponent == 0 {
        format!("{code} {sign}{grouped}")
    } else {
        format!("{code} {sign}{grouped}.{fraction:0width$}", width = exponent as usize)
    }
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// 12,34,56,789: the last three digits, then pairs.
fn group_indian(n: u64) -> String {
    let digits = n.to_string();
    if digits.len() <= 3 {
        return digits;
    }
    let (head, tail) = digits.split_at(digits.len() - 3);
    let mut out = String::with_capacity(digits.len() + digits.len() / 2);
    for (i, c) in head.chars().enumerate() {
        if i > 0 && (head.len() - i) % 2 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out.push(',');
    out.push_str(tail);
    out
}

/// An INR amount in words, Indian style: 1_99_950 → "Rupees One Thousand Nine Hundred Ninety-Nine and Fifty
/// Paise Only".
pub fn amount_in_words_inr(amount: i64) -> String {
    let magnitude = amount.unsigned_abs();
    let (rupees, paise) = (magnitude / 100, magnitude % 100);
    let sign = if amount < 0 { "Minus " } else { "" };
    if paise == 0 {
        format!("{sign}Rupees {} Only", words(rupees))
    } else {
        format!("{sign}Rupees {} and {} Paise Only", words(rupees), words(paise))
    }
}

/// A number in words with crore, lakh, thousand and hundred.
fn words(n: u64) -> String {
    if n == 0 {
        return "Zero".to_string();
    }
    let mut parts: Vec<String> = Vec::new();
    let crore = n / 10_000_000;
    let rest = n % 10_000_000;
    if crore > 0 {
        parts.push(format!("{} Crore", words(crore)));
    }
    for (value, name) in [(rest / 100_000, "Lakh"), ((rest / 1_000) % 100, "Thousand"), ((rest / 100) % 10, "Hundred")]
    {
        if value > 0 {
            parts.push(format!("{} {name}", below_hundred(value)));
        }
    }
    if !rest.is_multiple_of(100) {
        parts.push(below_hundred(rest % 100));
    }
    parts.join(" ")
}

fn below_hundred(n: u64) -> String {
    const ONES: [&str; 20] = [
        "Zero",
        "One",
        "Two",
        "Three",
        "Four",
        "Five",
        "Six",
        "Seven",
        "Eight",
        "Nine",
        "Ten",
        "Eleven",
        "Twelve",
        "Thirteen",
        "Fourteen",
        "Fifteen",
        "Sixteen",
        "Seventeen",
        "Eighteen",
        "Nineteen",
    ];
    const TENS: [&str; 10] = ["", "", "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety"];
    let n = (n % 100) as usize;
    match (n / 10, n % 10) {
        (0 | 1, _) => ONES[n].to_string(),
        (tens, 0) => TENS[tens].to_string(),
        (tens, ones) => format!("{}-{}", TENS[tens], ONES[ones]),
    }
}

fn format_date(d: NaiveDate) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!("{:02} {} {}", d.day(), MONTHS[d.month0() as usize % 12], d.year())
}

/// "Karnataka (29)"; a code we do not know is shown as is, 96 (used in returns for exports) as outside India.
fn place_label(code: &str) -> String {
    let code = code.trim();
    match state_name(code) {
        Some(name) => format!("{name} ({code})"),
        None if code == "96" => "Outside India (96)".to_string(),
        None => code.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// PDF
// ---------------------------------------------------------------------------------------------------------------

const PAGE_WIDTH: u32 = 595;
const PAGE_HEIGHT: u32 = 842;
const LEFT: f64 = 50.0;
const RIGHT: f64 = 545.0;
const FOOTER_Y: f64 = 40.0;
/// Table rows stop above this line so the totals, notes and footer always fit on the one page.
const TABLE_FLOOR: f64 = 215.0;
const LINE_H: f64 = 11.0;
const OMITTED_ROW_H: f64 = 15.0;

/// Rule 46 endorsement on an export invoice under a letter of undertaking.
const EXPORT_ENDORSEMENT: &str =
    "SUPPLY MEANT FOR EXPORT UNDER BOND OR LETTER OF UNDERTAKING WITHOUT PAYMENT OF INTEGRATED TAX";

/// Advance widths (1/1000 em) of the printable ASCII characters 32..=126 in the standard Type1 fonts.
const HELVETICA_WIDTHS: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556, 556,
    556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833,
    722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556,
    556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334,
    260, 334, 584,
];
const HELVETICA_BOLD_WIDTHS: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556, 556,
    556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833,
    722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, 333, 556, 611, 556, 611,
    556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389,
    280, 389, 584,
];

#[derive(Debug, Clone, Copy)]
enum Font {
    Regular,
    Bold,
}

impl Font {
    fn resource(self) -> &'static str {
        match self {
            Font::Regular => "F1",
            Font::Bold => "F2",
        }
    }

    fn widths(self) -> &'static [u16; 95] {
        match self {
            Font::Regular => &HELVETICA_WIDTHS,
            Font::Bold => &HELVETICA_BOLD_WIDTHS,
        }
    }
}

/// Printable ASCII only: whitespace becomes a space, anything else (the rupee sign included) '?'.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ' '..='~' => c,
            '\t' | '\n' | '\r' => ' ',
            _ => '?',
        })
        .collect()
}

/// A PDF literal string body: backslash and parentheses escaped.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if matches!(c, '\\' | '(' | ')') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Width in points of sanitized text.
fn text_width(font: Font, size: f64, s: &str) -> f64 {
    let widths = font.widths();
    let units: u32 = s
        .bytes()
        .map(|b| u32::from(if (32..=126).contains(&b) { widths[usize::from(b - 32)] } else { widths[31] }))
        .sum();
    f64::from(units) * size / 1000.0
}

/// Cut sanitized text so that it and "..." fit `max`, then append "...".
fn ellipsize(font: Font, size: f64, s: &str, max: f64) -> String {
    let mut t = s.trim_end().to_string();
    while !t.is_empty() && text_width(font, size, &format!("{t}...")) > max {
        t.pop();
    }
    format!("{}...", t.trim_end())
}

/// One line that fits `max` points, cut with "..." when it does not.
fn fit(font: Font, size: f64, s: &str, max: f64) -> String {
    let s = sanitize(s);
    if text_width(font, size, &s) <= max { s } else { ellipsize(font, size, &s, max) }
}

/// Word-wrap to at most `max_lines` lines of `max` points; over-long words are broken, and the last line ends in
/// "..." when text was left out.
fn wrap(font: Font, size: f64, s: &str, max: f64, max_lines: usize) -> Vec<String> {
    let s = sanitize(s);
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in s.split(' ').filter(|w| !w.is_empty()) {
        let candidate = if current.is_empty() { word.to_string() } else { format!("{current} {word}") };
        if text_width(font, size, &candidate) <= max {
            current = candidate;
            continue;
        }
        if !current.is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        let mut rest = word;
        while text_width(font, size, rest) > max && lines.len() <= max_lines {
            // The longest prefix that fits, at least one character (ASCII, so byte indices are char indices).
            let mut cut = 1;
            while cut < rest.len() && text_width(font, size, &rest[..cut + 1]) <= max {
                cut += 1;
            }
            lines.push(rest[..cut].to_string());
            rest = &rest[cut..];
        }
        current = rest.to_string();
        if lines.len() > max_lines {
            break;
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.pop() {
            lines.push(ellipsize(font, size, &last, max));
        }
    }
    lines
}

/// The page's content stream, built operator by operator.
#[derive(Default)]
struct Canvas {
    ops: String,
}

impl Canvas {
    fn text(&mut self, font: Font, size: f64, x: f64, y: f64, s: &str) {
        let s = sanitize(s);
        self.ops.push_str(&format!("BT /{} {size:.1} Tf {x:.2} {y:.2} Td ({}) Tj ET\n", font.resource(), escape(&s)));
    }

    fn text_right(&mut self, font: Font, size: f64, right: f64, y: f64, s: &str) {
        let s = sanitize(s);
        let x = right - text_width(font, size, &s);
        self.text(font, size, x, y, &s);
    }

    fn rule(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, width: f64) {
        self.ops.push_str(&format!("{width:.2} w {x1:.2} {y1:.2} m {x2:.2} {y2:.2} l S\n"));
    }
}

/// Draw a party block from `y` down; returns the y below it.
fn party_block(c: &mut Canvas, heading: &str, party: &Party, x: f64, mut y: f64, width: f64) -> f64 {
    c.text(Font::Bold, 8.0, x, y, heading);
    y -= 13.0;
    for line in wrap(Font::Bold, 10.0, &party.name, width, 2) {
        c.text(Font::Bold, 10.0, x, y, &line);
        y -= 12.0;
    }
    const MAX_ADDRESS_LINES: usize = 6;
    let mut address: Vec<String> = Vec::new();
    for part in &party.address {
        address.extend(wrap(Font::Regular, 9.0, part, width, MAX_ADDRESS_LINES));
    }
    if address.len() > MAX_ADDRESS_LINES {
        address.truncate(MAX_ADDRESS_LINES);
        if let Some(last) = address.pop() {
            address.push(ellipsize(Font::Regular, 9.0, &last, width));
        }
    }
    for line in &address {
        c.text(Font::Regular, 9.0, x, y, line);
        y -= LINE_H;
    }
    if !party.state_code.trim().is_empty() {
        c.text(
            Font::Regular,
            9.0,
            x,
            y,
            &fit(Font::Regular, 9.0, &format!("State: {}", place_label(&party.state_code)), width),
        );
        y -= LINE_H;
    }
    if let Some(gstin) = &party.gstin {
        c.text(Font::Regular, 9.0, x, y, &fit(Font::Regular, 9.0, &format!("GSTIN: {gstin}"), width));
        y -= LINE_H;
    }
    if let Some(email) = &party.email {
        c.text(Font::Regular, 9.0, x, y, &fit(Font::Regular, 9.0, email, width));
        y -= LINE_H;
    }
    y
}

fn layout(doc: &InvoiceDoc) -> String {
    let mut c = Canvas::default();
    let currency = doc.currency.as_str();

    // Heading.
    c.text(Font::Bold, 18.0, LEFT, 792.0, "TAX INVOICE");
    c.text_right(Font::Bold, 10.0, RIGHT, 800.0, &fit(Font::Bold, 10.0, &format!("Invoice no. {}", doc.number), 300.0));
    c.text_right(Font::Regular, 10.0, RIGHT, 786.0, &format!("Invoice date {}", format_date(doc.issued_on)));
    c.rule(LEFT, 776.0, RIGHT, 776.0, 0.75);

    // Parties.
    let column = 235.0;
    let below_seller = party_block(&mut c, "SUPPLIER", &doc.seller, LEFT, 760.0, column);
    let below_buyer = party_block(&mut c, "RECIPIENT", &doc.buyer, LEFT + 260.0, 760.0, column);
    let mut y = below_seller.min(below_buyer) - 6.0;
    c.text(
        Font::Regular,
        9.0,
        LEFT,
        y,
        &fit(Font::Regular, 9.0, &format!("Place of supply: {}", place_label(&doc.place_of_supply)), RIGHT - LEFT),
    );
    y -= LINE_H;
    c.text(Font::Regular, 9.0, LEFT, y, "Tax payable on reverse charge: No");
    y -= 14.0;

    // Lines table: description | SAC | period | amount.
    let (desc_x, sac_x, period_x) = (LEFT, 262.0, 305.0);
    let desc_width = sac_x - desc_x - 8.0;
    c.rule(LEFT, y, RIGHT, y, 0.75);
    c.text(Font::Bold, 9.0, desc_x, y - 11.0, "Description");
    c.text(Font::Bold, 9.0, sac_x, y - 11.0, "SAC");
    c.text(Font::Bold, 9.0, period_x, y - 11.0, "Period");
    c.text_right(Font::Bold, 9.0, RIGHT, y - 11.0, "Amount");
    y -= 15.0;
    c.rule(LEFT, y, RIGHT, y, 0.5);
    for (i, line) in doc.lines.iter().enumerate() {
        let mut description = wrap(Font::Regular, 9.0, &line.description, desc_width, 3);
        if description.is_empty() {
            description.push(String::new());
        }
        let height = description.len() as f64 * LINE_H + 4.0;
        let reserve = if i + 1 == doc.lines.len() { 0.0 } else { OMITTED_ROW_H };
        if y - height - reserve < TABLE_FLOOR {
            c.text(Font::Regular, 9.0, desc_x, y - LINE_H, "(more lines omitted)");
            y -= OMITTED_ROW_H;
            break;
        }
        let baseline = y - LINE_H;
        for (k, text) in description.iter().enumerate() {
            c.text(Font::Regular, 9.0, desc_x, baseline - k as f64 * LINE_H, text);
        }
        c.text(Font::Regular, 9.0, sac_x, baseline, &fit(Font::Regular, 9.0, &line.sac, period_x - sac_x - 4.0));
        if let Some((from, to)) = line.period {
            let period = format!("{} - {}", format_date(from), format_date(to));
            c.text(Font::Regular, 9.0, period_x, baseline, &fit(Font::Regular, 9.0, &period, 118.0));
        }
        // Amounts are never cut: an absurdly large one may overlap the period column instead.
        c.text_right(Font::Regular, 9.0, RIGHT, baseline, &money(line.amount, currency));
        y -= height;
    }
    c.rule(LEFT, y, RIGHT, y, 0.5);

    // Totals.
    let tax = &doc.tax;
    let label_right = 430.0;
    let mut rows: Vec<(String, i64)> = vec![("Taxable value".to_string(), tax.taxable)];
    if tax.is_zero_rated() {
        rows.push(("Zero-rated export of services".to_string(), 0));
    } else if tax.cgst != 0
        || tax.sgst != 0
        || (tax.igst == 0 && doc.seller.state_code.trim() == doc.place_of_supply.trim())
    {
        rows.push(("CGST @ 9%".to_string(), tax.cgst));
        rows.push(("SGST @ 9%".to_string(), tax.sgst));
    } else {
        rows.push(("IGST @ 18%".to_string(), tax.igst));
    }
    y -= 16.0;
    for (label, amount) in &rows {
        c.text_right(Font::Regular, 9.0, label_right, y, label);
        c.text_right(Font::Regular, 9.0, RIGHT, y, &money(*amount, currency));
        y -= 14.0;
    }
    c.rule(300.0, y + 9.0, RIGHT, y + 9.0, 0.5);
    y -= 2.0;
    c.text_right(Font::Bold, 10.0, label_right, y, "Total");
    c.text_right(Font::Bold, 10.0, RIGHT, y, &money(tax.total, currency));
    y -= 20.0;

    // Notes.
    let note_width = RIGHT - LEFT;
    let note = if tax.is_zero_rated() {
        EXPORT_ENDORSEMENT.to_string()
    } else if currency.trim().eq_ignore_ascii_case("inr") {
        format!("Amount in words: {}", amount_in_words_inr(tax.total))
    } else {
        String::new()
    };
    for line in wrap(Font::Regular, 9.0, &note, note_width, 2) {
        c.text(Font::Regular, 9.0, LEFT, y, &line);
        y -= LINE_H;
    }
    if let Some(reference) = &doc.payment_reference {
        y -= 3.0;
        c.text(
            Font::Regular,
            9.0,
            LEFT,
            y,
            &fit(Font::Regular, 9.0, &format!("Payment reference: {reference}"), note_width),
        );
    }

    // Footer.
    c.rule(LEFT, FOOTER_Y + 12.0, RIGHT, FOOTER_Y + 12.0, 0.5);
    c.text(Font::Regular, 8.0, LEFT, FOOTER_Y, "This is a computer-generated invoice.");
    c.ops
}

/// A single A4 page, PDF 1.4, standard Helvetica fonts, uncompressed content, exact xref. Deterministic: the same
/// document gives the same bytes.
pub fn render_pdf(doc: &InvoiceDoc) -> Vec<u8> {
    let content = layout(doc);
    let title = escape(&sanitize(&format!("Tax invoice {}", doc.number)));
    let font = |name: &str| {
        format!("<< /Type /Font /Subtype /Type1 /BaseFont /{name} /Encoding /WinAnsiEncoding >>").into_bytes()
    };
    let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
    stream.extend_from_slice(content.as_bytes());
    stream.extend_from_slice(b"\nendstream");
    let objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] \
             /Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 6 0 R >>"
        )
        .into_bytes(),
        font("Helvetica"),
        font("Helvetica-Bold"),
        stream,
        format!("<< /Title ({title}) /Producer (shared::gst) >>").into_bytes(),
    ];

    let mut out: Vec<u8> = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f\r\n", objects.len() + 1).as_bytes());
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n\r\n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R /Info {} 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1,
            objects.len()
        )
        .as_bytes(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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

    // --- Money -------------------------------------------------------------------------------------------------

    #[test]
    fn money_uses_indian_grouping_for_inr() {
        assert_eq!(money(0, "inr"), "INR 0.00");
        assert_eq!(money(5, "inr"), "INR 0.05");
        assert_eq!(money(99_999, "inr"), "INR 999.99");
        assert_eq!(money(199_900, "inr"), "INR 1,999.00");
        assert_eq!(money(10_000_000, "INR"), "INR 1,00,000.00");
        assert_eq!(money(123_456_789, "inr"), "INR 12,34,567.89");
        assert_eq!(money(1_000_000_000, "inr"), "INR 1,00,00,000.00");
        assert_eq!(money(-199_900, "inr"), "INR -1,999.00");
    }

    #[test]
    fn money_uses_western_grouping_and_exponents_otherwise() {
        assert_eq!(money(123_456, "usd"), "USD 1,234.56");
        assert_eq!(money(100_000_000, "usd"), "USD 1,000,000.00");
        assert_eq!(money(99, "eur"), "EUR 0.99");
        assert_eq!(money(1_200, "jpy"), "JPY 1,200");
        assert_eq!(money(1_234, "kwd"), "KWD 1.234");
        assert_eq!(money(-5, "usd"), "USD -0.05");
        assert_eq!(money(i64::MIN, "usd"), "USD -92,233,720,368,547,758.08");
        assert_eq!(money(i64::MAX, "inr"), "INR 92,23,37,20,36,85,47,758.07");
    }

    #[test]
    fn amounts_in_words() {
        assert_eq!(amount_in_words_inr(199_900), "Rupees One Thousand Nine Hundred Ninety-Nine Only");
        assert_eq!(
            amount_in_words_inr(99_999_999),
            "Rupees Nine Lakh Ninety-Nine Thousand Nine Hundred Ninety-Nine and Ninety-Nine Paise Only"
        );
        assert_eq!(amount_in_words_inr(1_000_000_000), "Rupees One Crore Only");
        assert_eq!(amount_in_words_inr(250_000_000_000), "Rupees Two Hundred Fifty Crore Only");
        assert_eq!(amount_in_words_inr(50), "Rupees Zero and Fifty Paise Only");
        assert_eq!(amount_in_words_inr(11_800), "Rupees One Hundred Eighteen Only");
        assert_eq!(amount_in_words_inr(-2_000), "Minus Rupees Twenty Only");
        assert!(amount_in_words_inr(i64::MIN).ends_with("Paise Only"));
    }

    // --- Document and PDF --------------------------------------------------------------------------------------

    fn sample(currency: &str, place_of_supply: &str, buyer_gstin: Option<&str>) -> InvoiceDoc {
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

    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).position(|w| w == needle)
    }

    fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).rposition(|w| w == needle)
    }

    fn ascii_number(bytes: &[u8]) -> usize {
        std::str::from_utf8(bytes).expect("ascii").trim().parse().expect("number")
    }

    /// Check the xref table entry by entry and the stream /Length; return the content stream.
    fn check_structure(pdf: &[u8]) -> Vec<u8> {
        assert!(pdf.starts_with(b"%PDF-1.4\n"));
        assert!(pdf.ends_with(b"%%EOF\n"));
        let start = rfind(pdf, b"startxref\n").expect("startxref") + b"startxref\n".len();
        let end = start + find(&pdf[start..], b"\n").expect("newline");
        let xref = ascii_number(&pdf[start..end]);
        assert!(pdf[xref..].starts_with(b"xref\n0 "));
        let header_end = xref + find(&pdf[xref..], b"\n0000000000 65535 f\r\n").expect("free entry");
        let count = ascii_number(&pdf[xref + b"xref\n0 ".len()..header_end]);
        assert_eq!(count, 8);
        let entries = header_end + 1;
        for i in 1..count {
            let entry = &pdf[entries + 20 * i..entries + 20 * (i + 1)];
            assert_eq!(&entry[10..], b" 00000 n\r\n", "entry {i}");
            let offset = ascii_number(&entry[..10]);
            assert!(pdf[offset..].starts_with(format!("{i} 0 obj\n").as_bytes()), "object {i} at {offset}");
        }
        let trailer = entries + 20 * count;
        assert!(pdf[trailer..].starts_with(b"trailer\n<< /Size 8 /Root 1 0 R /Info 7 0 R >>\nstartxref\n"));

        let length_at = find(pdf, b"<< /Length ").expect("stream") + b"<< /Length ".len();
        let length_end = length_at + find(&pdf[length_at..], b" >>\nstream\n").expect("stream dict");
        let length = ascii_number(&pdf[length_at..length_end]);
        let data = length_end + b" >>\nstream\n".len();
        assert!(pdf[data + length..].starts_with(b"\nendstream\nendobj\n"), "stream /Length is exact");
        pdf[data..data + length].to_vec()
    }

    fn content_of(pdf: &[u8]) -> String {
        String::from_utf8(check_structure(pdf)).expect("the content stream is ASCII")
    }

    #[test]
    fn pdf_is_well_formed_and_carries_the_invoice() {
        let doc = sample("inr", "27", Some("27AAPFU0939F1ZV"));
        let pdf = render_pdf(&doc);
        let content = content_of(&pdf);
        for text in [
            "(TAX INVOICE)",
            "INV/26-27/000001",
            "15 Apr 2026",
            "GSTIN: 29AAGCB7383J1Z4",
            "GSTIN: 27AAPFU0939F1ZV",
            "State: Karnataka \\(29\\)",
            "Place of supply: Maharashtra \\(27\\)",
            "(998315)",
            "15 Apr 2026 - 14 May 2026",
            "(INR 1,999.00)",
            "(INR 1,694.07)",
            "(IGST @ 18%)",
            "(INR 304.93)",
            "Rupees One Thousand Nine Hundred Ninety-Nine Only",
            "Payment reference: pi_3PqXyZ2eZvKYlo2C1abcdEFG",
            "(This is a computer-generated invoice.)",
            "Shreeji Traders \\(Pune\\)",
        ] {
            assert!(content.contains(text), "{text} missing");
        }
        assert!(!content.contains("CGST"));
        assert!(content.contains("(Total)"));
        let pdf_text = String::from_utf8_lossy(&pdf);
        assert!(pdf_text.contains("/MediaBox [0 0 595 842]"));
        assert!(pdf_text.contains("/BaseFont /Helvetica /Encoding /WinAnsiEncoding"));
        assert!(pdf_text.contains("/BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding"));
        assert!(pdf_text.contains("/Count 1"));
    }

    #[test]
    fn pdf_shows_cgst_and_sgst_within_the_state() {
        let doc = sample("inr", "29", Some("29AABCU9603R1ZJ"));
        let content = content_of(&render_pdf(&doc));
        assert!(content.contains("(CGST @ 9%)") && content.contains("(SGST @ 9%)"));
        assert!(content.contains("(INR 152.46)") && content.contains("(INR 152.47)"));
        assert!(!content.contains("IGST"));
    }

    #[test]
    fn pdf_of_an_export_is_zero_rated() {
        let content = content_of(&render_pdf(&export_doc()));
        assert!(content.contains("(Zero-rated export of services)"));
        assert!(content.contains("(USD 1,999.00)"));
        assert!(content.contains("Outside India \\(96\\)"));
        assert!(content.contains("LETTER OF UNDERTAKING"));
        assert!(!content.contains("GST @") && !content.contains("Rupees"));
    }

    #[test]
    fn pdf_is_deterministic() {
        let doc = sample("inr", "27", Some("27AAPFU0939F1ZV"));
        assert_eq!(render_pdf(&doc), render_pdf(&doc.clone()));
    }

    #[test]
    fn pdf_text_is_escaped_and_ascii() {
        let mut doc = sample("inr", "27", Some("27AAPFU0939F1ZV"));
        doc.lines[0].description = "Plan (annual) \\ back\\slash ₹1,999 café\nnext".to_string();
        doc.buyer.name = "Ünïcode ) Ltd (".to_string();
        let pdf = render_pdf(&doc);
        let content = content_of(&pdf);
        assert!(content.contains("(Plan \\(annual\\) \\\\ back\\\\slash ?1,999 caf? next)"), "{content}");
        assert!(content.contains("(?n?code \\) Ltd \\()"));
        assert!(pdf[..pdf.len()].iter().skip(16).all(|b| b.is_ascii()), "only the header comment is binary");
    }

    /// Everything too long: names, addresses, words, references and 300 lines.
    fn stress_doc() -> InvoiceDoc {
        let mut doc = sample("inr", "27", Some("27AAPFU0939F1ZV"));
        let long_word = "x".repeat(5_000);
        let long_text = "Metered API calls for the invoice OCR solution, tier Enterprise ".repeat(80);
        doc.seller.address = (0..20).map(|i| format!("Address line {i} {long_text}")).collect();
        doc.buyer.name = long_text.clone();
        doc.payment_reference = Some(long_word.clone());
        doc.lines = (0..300)
            .map(|i| Line {
                description: if i % 2 == 0 { long_text.clone() } else { long_word.clone() },
                sac: "9983159999999999".to_string(),
                period: Some((date(2026, 4, 1), date(2026, 4, 30))),
                amount: 1_000 + i,
            })
            .collect();
        doc
    }

    /// A zero-rated export to a buyer outside India.
    fn export_doc() -> InvoiceDoc {
        let mut doc = sample("usd", "96", None);
        doc.buyer.state_code = String::new();
        doc.buyer.address = vec!["1 Market Street".to_string(), "San Francisco, CA 94105, USA".to_string()];
        doc
    }

    #[test]
    fn long_and_many_lines_stay_on_one_page() {
        let pdf = render_pdf(&stress_doc());
        let content = content_of(&pdf);
        assert!(content.contains("(\\(more lines omitted\\))"), "{content}");
        assert!(String::from_utf8_lossy(&pdf).contains("/Count 1"));
        // Nothing is drawn below the footer or beyond the right margin.
        for op in content.lines().filter(|l| l.starts_with("BT ")) {
            let fields: Vec<&str> = op.split(' ').collect();
            let (size, x, y): (f64, f64, f64) =
                (fields[2].parse().expect("size"), fields[4].parse().expect("x"), fields[5].parse().expect("y"));
            let text = &op[op.find('(').expect("text")..op.rfind(") Tj").expect("tj") + 1];
            let shown = text[1..text.len() - 1].replace("\\(", "(").replace("\\)", ")").replace("\\\\", "\\");
            let font = if fields[1] == "/F2" { Font::Bold } else { Font::Regular };
            assert!(y >= FOOTER_Y && x >= LEFT - 0.01, "{op}");
            assert!(x + text_width(font, size, &shown) <= RIGHT + 0.01, "{op}");
        }
        // The last table row sits above the totals.
        assert!(content.contains("(Total)"));
    }

    #[test]
    fn empty_documents_render() {
        let mut doc = sample("inr", "27", None);
        doc.lines.clear();
        doc.seller.address.clear();
        doc.seller.gstin = None;
        doc.payment_reference = None;
        doc.lines.push(Line { description: String::new(), sac: String::new(), period: None, amount: 0 });
        let content = content_of(&render_pdf(&doc));
        assert!(!content.contains("GSTIN"));
        assert!(!content.contains("Payment reference"));
    }

    #[test]
    fn invoice_doc_round_trips_through_json() {
        let doc = sample("inr", "27", Some("27AAPFU0939F1ZV"));
        let json = serde_json::to_string(&doc).expect("serialize");
        let back: InvoiceDoc = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, doc);
        assert!(json.contains("\"issued_on\":\"2026-04-15\""));
    }

    /// `INVOICES_PDF_OUT=/tmp/x.pdf cargo test -p shared --lib invoices::tests::write_sample_pdf` writes a sample
    /// (and `x.pdf.export.pdf`, `x.pdf.stress.pdf`) for an external validator or a look.
    #[test]
    fn write_sample_pdf() {
        if let Ok(path) = std::env::var("INVOICES_PDF_OUT") {
            std::fs::write(format!("{path}.export.pdf"), render_pdf(&export_doc())).expect("write the export");
            std::fs::write(format!("{path}.stress.pdf"), render_pdf(&stress_doc())).expect("write the stress");
            let mut doc = sample("inr", "27", Some("27AAPFU0939F1ZV"));
            doc.lines.push(Line {
                description: "Usage overage (12,345 calls) - long description that wraps onto a second line \
                              of the table so the layout can be looked at"
                    .to_string(),
                sac: SAC_SAAS.to_string(),
                period: None,
                amount: 0,
            });
            std::fs::write(path, render_pdf(&doc)).expect("write the sample");
        }
    }
}
