//! Money for people to read: minor units as "INR 1,00,000.00" or "USD 1,234.56" (the currency's minor exponent,
//! Indian digit grouping for INR, groups of three otherwise) and an INR amount in words. Pure: no I/O.

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
