//! Revenue share (pure): how every paid paisa splits into GST, the platform's commission and the partner's
//! earnings, as balanced ledger entries; refunds reverse the split proportionally.
//!
//! **Rounding rule.** A payment of `gross` (tax-inclusive, minor units) with `tax` (from its tax invoice)
//! splits as: `net = gross − tax`; `commission = round_half_up(net × rate_bp / 10 000)`;
//! `partner = net − commission`. So `gross = tax + commission + partner` exactly. A refund is split in
//! proportion to what is still unreversed of each part, each rounded down, the leftover paise going one each
//! to the largest remainders: every refund's parts sum to the refund, no part ever goes below zero, and a
//! full refund (in any number of partial refunds) reverses every part exactly.

use serde::{Deserialize, Serialize};

/// The platform's default commission: 20% of the pre-tax amount, in basis points.
pub const DEFAULT_COMMISSION_BP: u32 = 2_000;

/// The parts of an amount of money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    pub gross: i64,
    pub tax: i64,
    pub commission: i64,
    pub partner: i64,
}

impl Split {
    pub fn is_balanced(&self) -> bool {
        self.tax + self.commission + self.partner == self.gross
    }
}

/// `round_half_up(a × b / d)` for non-negative operands, without overflow.
pub fn mul_div_round(a: i64, b: i64, d: i64) -> i64 {
    if d <= 0 {
        return 0;
    }
    let n = i128::from(a) * i128::from(b);
    let d = i128::from(d);
    i64::try_from((2 * n + d) / (2 * d)).unwrap_or(i64::MAX)
}

/// Split a captured payment. `tax` is clamped to `0..=gross`; `rate_bp` to `0..=10_000`.
pub fn split_payment(gross: i64, tax: i64, rate_bp: u32) -> Split {
    let gross = gross.max(0);
    let tax = tax.clamp(0, gross);
    let net = gross - tax;
    let commission = mul_div_round(net, i64::from(rate_bp.min(10_000)), 10_000);
    Split { gross, tax, commission, partner: net - commission }
}

/// The part of `payment` that a refund of `refund` reverses, given what earlier refunds reversed
/// (`reversed_before`). `refund` is clamped to what remains.
pub fn split_refund(payment: &Split, reversed_before: &Split, refund: i64) -> Split {
    let left = [
        (payment.tax - reversed_before.tax).max(0),
        (payment.commission - reversed_before.commission).max(0),
        (payment.partner - reversed_before.partner).max(0),
    ];
    let remaining: i64 = left.iter().sum();
    let refund = refund.clamp(0, remaining);
    if remaining == 0 {
        return Split { gross: 0, tax: 0, commission: 0, partner: 0 };
    }
    // Each part proportional to what is left of it, rounded down; the paise left over go, one each, to the
    // parts with the largest remainders (ties: partner, then commission, then tax) that still have room.
    let mut parts = [0i64; 3];
    let mut remainders = [0i128; 3];
    for i in 0..3 {
        let exact = i128::from(left[i]) * i128::from(refund);
        parts[i] = i64::try_from(exact / i128::from(remaining)).unwrap_or(0);
        remainders[i] = exact % i128::from(remaining);
    }
    let mut order = [2usize, 1, 0];
    order.sort_by(|a, b| remainders[*b].cmp(&remainders[*a]));
    let mut short = refund - parts.iter().sum::<i64>();
    while short > 0 {
        let before = short;
        for &i in &order {
            if short > 0 && parts[i] < left[i] {
                parts[i] += 1;
                short -= 1;
            }
        }
        if short == before {
            break;
        }
    }
    Split { gross: refund, tax: parts[0], commission: parts[1], partner: parts[2] }
}

/// Ledger accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Account {
    /// Money received from customers (held by the platform).
    Cash,
    /// GST owed to the government.
    GstPayable,
    /// The platform's commission.
    PlatformRevenue,
    /// What the platform owes the partner (paid out monthly).
    PartnerPayable,
}

/// One ledger line: a debit or a credit to an account (minor units, never negative).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub account: Account,
    pub debit: i64,
    pub credit: i64,
}

fn entries(split: &Split, reverse: bool) -> Vec<Entry> {
    let line = |account, amount: i64, debit_side: bool| {
        if debit_side != reverse {
            Entry { account, debit: amount, credit: 0 }
        } else {
            Entry { account, debit: 0, credit: amount }
        }
    };
    vec![
        line(Account::Cash, split.gross, true),
        line(Account::GstPayable, split.tax, false),
        line(Account::PlatformRevenue, split.commission, false),
        line(Account::PartnerPayable, split.partner, false),
    ]
}

/// A payment: cash in; GST, commission and the partner's share owed.
pub fn payment_entries(split: &Split) -> Vec<Entry> {
    entries(split, false)
}

/// A refund: the reverse of its part of the payment.
pub fn refund_entries(split: &Split) -> Vec<Entry> {
    entries(split, true)
}

/// Whether entries balance (debits equal credits).
pub fn balanced(entries: &[Entry]) -> bool {
    entries.iter().map(|e| e.debit).sum::<i64>() == entries.iter().map(|e| e.credit).sum::<i64>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gst::split_inclusive;

    /// xorshift: a dependency-free PRNG.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: i64) -> i64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n.max(1) as u64) as i64
        }
    }

    #[test]
    fn a_payment_splits_exactly() {
        // ₹499 inclusive of 18% GST: 7,612 tax, 42,288 net; 20% commission 8,458 (8,457.6 rounded), partner 33,830.
        let tax = split_inclusive(49_900, "inr", "29", "29").tax();
        let s = split_payment(49_900, tax, DEFAULT_COMMISSION_BP);
        assert_eq!(s, Split { gross: 49_900, tax: 7_612, commission: 8_458, partner: 33_830 });
        assert!(s.is_balanced() && balanced(&payment_entries(&s)));
        assert_eq!(split_payment(1, 0, 2_000), Split { gross: 1, tax: 0, commission: 0, partner: 1 });
        assert_eq!(split_payment(3, 0, 5_000).commission, 2, "1.5 rounds half up");
        assert_eq!(split_payment(100, 500, 2_000).tax, 100, "tax clamped to the payment");
        // Three one-paisa refunds of a three-paisa payment split one paisa to each part, never below zero.
        let p = Split { gross: 3, tax: 1, commission: 1, partner: 1 };
        let mut reversed = Split { gross: 0, tax: 0, commission: 0, partner: 0 };
        for _ in 0..3 {
            let r = split_refund(&p, &reversed, 1);
            assert!(r.is_balanced() && r.tax >= 0 && r.commission >= 0 && r.partner >= 0, "{r:?}");
            reversed = Split {
                gross: reversed.gross + 1,
                tax: reversed.tax + r.tax,
                commission: reversed.commission + r.commission,
                partner: reversed.partner + r.partner,
            };
        }
        assert_eq!(reversed, p);
        assert_eq!(split_refund(&p, &reversed, 5).gross, 0, "nothing left to refund");
    }

    #[test]
    fn random_payments_and_partial_refunds_balance_and_reverse_exactly() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let gross = 1 + rng.below(5_000_000);
            let rail_inr = rng.below(2) == 0;
            let tax = if rail_inr {
                split_inclusive(gross, "inr", "29", if rng.below(2) == 0 { "29" } else { "27" }).tax()
            } else {
                0
            };
            let rate = rng.below(10_001) as u32;
            let p = split_payment(gross, tax, rate);
            assert!(p.is_balanced() && p.commission >= 0 && p.partner >= 0, "{p:?}");
            let mut ledger = payment_entries(&p);
            // Up to 5 partial refunds, sometimes to the whole amount.
            let (mut refunded, mut reversed) = (0, Split { gross: 0, tax: 0, commission: 0, partner: 0 });
            let full = rng.below(3) == 0;
            for i in 0..(1 + rng.below(5)) {
                let left = gross - refunded;
                if left == 0 {
                    break;
                }
                let amount = if full && i == 4 { left } else { 1 + rng.below(left) };
                let r = split_refund(&p, &reversed, amount);
                assert!(r.is_balanced() && r.tax >= 0 && r.commission >= 0 && r.partner >= 0, "{p:?} {r:?}");
                ledger.extend(refund_entries(&r));
                refunded += r.gross;
                reversed = Split {
                    gross: reversed.gross + r.gross,
                    tax: reversed.tax + r.tax,
                    commission: reversed.commission + r.commission,
                    partner: reversed.partner + r.partner,
                };
            }
            if refunded < gross && full {
                let r = split_refund(&p, &reversed, gross - refunded);
                ledger.extend(refund_entries(&r));
                reversed.tax += r.tax;
                reversed.commission += r.commission;
                reversed.partner += r.partner;
                refunded = gross;
            }
            assert!(balanced(&ledger));
            assert!(reversed.tax <= p.tax && reversed.commission <= p.commission && reversed.partner <= p.partner);
            if refunded == gross {
                assert_eq!((reversed.tax, reversed.commission, reversed.partner), (p.tax, p.commission, p.partner));
            }
        }
    }
}
