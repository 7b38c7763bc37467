//! A dependency-free rendering of a tax invoice as a single-page PDF: layout, the standard Helvetica fonts and
//! their widths, text fitting and wrapping, the content stream and the file structure. Pure: no I/O.

use chrono::{Datelike, NaiveDate};

use crate::gst::invoice::{InvoiceDoc, Party};
use crate::gst::state_name;
use crate::money::format::{amount_in_words_inr, money};

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
    use crate::gst::SAC_SAAS;
    use crate::gst::invoice::Line;
    use crate::gst::invoice::fixtures::{date, sample};

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

    /// `INVOICES_PDF_OUT=/tmp/x.pdf cargo test -p shared --lib gst::pdf::tests::write_sample_pdf` writes a sample
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
