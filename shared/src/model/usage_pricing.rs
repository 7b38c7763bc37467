//! Usage-based pricing of a paid tier's price: an allowance included per month, and what goes beyond it
//! (overage) either refused (a hard limit) or charged per block of units (a soft limit), flat or graduated.
//!
//! **The rounding rule.** Overage is priced per unit: `units × block_amount / block_size`, summed over the
//! graduated ranges as an exact fraction, and rounded once, half up, to the currency's minor unit. So at
//! ₹10 per 1,000 events, 1,500 events beyond the allowance cost ₹15.00 and 1 event costs ₹0.01 (0.01 rounds
//! to 1 paisa); 1,234 events cost ₹12.34. No block is charged in full for a part of it.
//!
//! A customer's spending cap (minor units per billing period) becomes a number of overage units, the most
//! whose charge stays within the cap ([`UsagePricing::units_within`]): the hot path enforces it atomically as
//! a hard limit at `allowance + those units`.

use super::{BillingPeriod, Price, Tier};
use crate::platform::error::FieldError;
use serde::{Deserialize, Serialize};

/// What happens at the allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UsageLimit {
    /// Refused (429) at the allowance, as tiers without usage pricing are at their limits.
    Hard,
    /// Allowed beyond the allowance and charged as overage at the period end.
    Soft,
}

/// One range of overage: `amount` minor units per `block_size` units, for overage units up to `up_to`
/// (counted from the allowance; `None` = without end). Ranges are graduated: each prices only its own units.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverageBlock {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_to: Option<u64>,
    /// Minor units of the price's currency per `block_size` units.
    pub amount: i64,
}

/// The usage terms of one price (its currency is the price's).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsagePricing {
    /// Units included per month of the billing period (a yearly price includes twelve times this per year).
    pub included_monthly: u64,
    pub limit: UsageLimit,
    /// The unit block overage is priced by (e.g. 1,000 events).
    pub block_size: u64,
    /// Overage ranges (soft limits only), in order; the last has no `up_to`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<OverageBlock>,
}

const MAX_INCLUDED: u64 = 1_000_000_000_000;
const MAX_BLOCK_SIZE: u64 = 1_000_000;
const MAX_BLOCK_AMOUNT: i64 = 100_000_000;
const MAX_BLOCKS: usize = 5;
/// Upper bound of overage units considered when turning a cap into units (far beyond any real period).
const MAX_UNITS: u64 = 1 << 50;

impl UsagePricing {
    /// Input check; `field` is where the terms are (`tiers[0].prices[1].usage`).
    pub fn validate(&self, field: &str) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let f = |m: &str| format!("{field}.{m}");
        if self.included_monthly > MAX_INCLUDED {
            errors.push(FieldError::new(f("included_monthly"), format!("must be at most {MAX_INCLUDED}")));
        }
        if !(1..=MAX_BLOCK_SIZE).contains(&self.block_size) {
            errors.push(FieldError::new(f("block_size"), format!("must be from 1 to {MAX_BLOCK_SIZE} units")));
        }
        match self.limit {
            UsageLimit::Hard if !self.blocks.is_empty() => {
                errors.push(FieldError::new(f("blocks"), "a hard limit charges no overage: leave blocks out"));
            }
            UsageLimit::Soft if self.blocks.is_empty() || self.blocks.len() > MAX_BLOCKS => {
                errors
                    .push(FieldError::new(f("blocks"), format!("a soft limit needs 1 to {MAX_BLOCKS} overage ranges")));
            }
            _ => {}
        }
        let mut previous = 0;
        for (i, b) in self.blocks.iter().enumerate() {
            let last = i + 1 == self.blocks.len();
            if !(0..=MAX_BLOCK_AMOUNT).contains(&b.amount) {
                errors.push(FieldError::new(
                    f(&format!("blocks[{i}].amount")),
                    format!("must be 0 to {MAX_BLOCK_AMOUNT} minor units per block"),
                ));
            }
            match (b.up_to, last) {
                (Some(_), true) => {
                    errors.push(FieldError::new(f(&format!("blocks[{i}].up_to")), "the last range has no up_to"))
                }
                (None, false) => errors
                    .push(FieldError::new(f(&format!("blocks[{i}].up_to")), "is required on every range but the last")),
                (Some(u), false) if u <= previous || u > MAX_INCLUDED => errors.push(FieldError::new(
                    f(&format!("blocks[{i}].up_to")),
                    "must grow from range to range (overage units counted from the allowance)",
                )),
                (Some(u), false) => previous = u,
                (None, true) => {}
            }
        }
        if self.limit == UsageLimit::Soft && self.blocks.iter().all(|b| b.amount == 0) {
            errors.push(FieldError::new(f("blocks"), "a soft limit must charge something for overage"));
        }
        errors
    }

    /// Units included in a billing period of `months` months.
    pub fn allowance(&self, months: u32) -> u64 {
        self.included_monthly.saturating_mul(u64::from(months))
    }

    /// The exact charge of `units` overage units (the module's rounding rule), in minor units.
    pub fn charge(&self, units: u64) -> i64 {
        if self.limit == UsageLimit::Hard || units == 0 || self.block_size == 0 {
            return 0;
        }
        // Σ units × amount over the ranges, then one division by the block size, rounded half up.
        let mut numerator: i128 = 0;
        let mut from = 0u64;
        for b in &self.blocks {
            let to = b.up_to.unwrap_or(u64::MAX).min(units);
            if to > from {
                numerator += i128::from(to - from) * i128::from(b.amount);
                from = to;
            }
            if from >= units {
                break;
            }
        }
        let size = i128::from(self.block_size);
        let rounded = (numerator * 2 + size) / (size * 2);
        i64::try_from(rounded).unwrap_or(i64::MAX)
    }

    /// The most overage units whose charge stays within `cap` minor units (`None` when the charge never
    /// reaches the cap, e.g. a range priced at zero without end).
    pub fn units_within(&self, cap: i64) -> Option<u64> {
        if self.limit == UsageLimit::Hard {
            return Some(0);
        }
        if self.charge(MAX_UNITS) <= cap {
            return None;
        }
        // The charge only grows with the units: the last count within the cap, by bisection.
        let (mut lo, mut hi) = (0u64, MAX_UNITS);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if self.charge(mid) <= cap { lo = mid } else { hi = mid - 1 }
        }
        Some(lo)
    }
}

/// Late events: an event sent with its own time counts at that time (its day, its billing period) while the
/// end of its period is at most this long ago; later it counts when it arrives. The billing run closes a
/// period's usage this long after the period ends.
pub const LATE_EVENT_SECONDS: i64 = 3_600;

/// A billing period of a usage-priced subscription whose overage is not billed yet, with the tier and price
/// that price it: the terms in force when the period ended (an upgrade during the period prices all of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsagePeriod {
    pub start: i64,
    pub end: i64,
    pub tier: Tier,
    pub price: Price,
}

impl UsagePeriod {
    pub fn usage(&self) -> Option<&UsagePricing> {
        self.price.usage.as_ref()
    }
}

/// A billing period's overage as invoiced: what the period counted (final: its counter was closed), the
/// allowance, the units beyond it and their exact charge (tax-inclusive, as prices are).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverageCharge {
    pub period_start: i64,
    pub period_end: i64,
    pub used: u64,
    pub included: u64,
    pub units: u64,
    /// Minor units of `currency`.
    pub amount: i64,
    pub currency: String,
    pub tier: Tier,
    /// The terms that priced it.
    pub usage: UsagePricing,
}

impl UsagePeriod {
    /// This period's overage, having counted `used` units (`None`: no usage terms).
    pub fn overage(&self, used: u64) -> Option<OverageCharge> {
        let usage = self.usage()?;
        let included = usage.allowance(self.price.period.months());
        let units = used.saturating_sub(included);
        Some(OverageCharge {
            period_start: self.start,
            period_end: self.end,
            used,
            included,
            units,
            amount: usage.charge(units),
            currency: self.price.currency.clone(),
            tier: self.tier,
            usage: usage.clone(),
        })
    }
}

/// What the hot path needs of a usage-priced subscription (carried on the customer's entitlement): the
/// current billing period and the one before (while its overage is not billed: late events), the terms, and
/// the subscriber's spending cap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metering {
    pub subscription_id: String,
    /// The terms apply while this tier is the customer's.
    pub tier: Tier,
    pub period: BillingPeriod,
    pub start: i64,
    pub end: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_start: Option<i64>,
    pub usage: UsagePricing,
    pub currency: String,
    /// Minor units of `currency` per billing period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spending_cap: Option<i64>,
}

impl Metering {
    /// Units included per billing period.
    pub fn allowance(&self) -> u64 {
        self.usage.allowance(self.period.months())
    }

    /// Overage units the spending cap allows (`None`: no cap, or one the charge never reaches).
    pub fn cap_units(&self) -> Option<u64> {
        self.spending_cap.and_then(|cap| self.usage.units_within(cap))
    }

    /// The most units a period may count (`None`: unlimited): the allowance under a hard limit, the allowance
    /// and the overage the cap allows under a soft one.
    pub fn ceiling(&self) -> Option<u64> {
        match self.usage.limit {
            UsageLimit::Hard => Some(self.allowance()),
            UsageLimit::Soft => self.cap_units().map(|u| self.allowance().saturating_add(u)),
        }
    }

    /// The billing period (start, end) that an instant belongs to: the current one, one of the next (a
    /// renewal not recorded yet), or the previous one while it is open. `None`: before any of them.
    pub fn period_of(&self, at: i64) -> Option<(i64, i64)> {
        if at >= self.end {
            let (mut start, mut end) = (self.end, self.period.end_from(self.end));
            for _ in 0..24 {
                if at < end {
                    break;
                }
                (start, end) = (end, self.period.end_from(end));
            }
            return Some((start, end));
        }
        if at >= self.start {
            return Some((self.start, self.end));
        }
        self.previous_start.filter(|p| at >= *p).map(|p| (p, self.start))
    }

    /// The exact charge of a period that counted `used` units.
    pub fn charge(&self, used: u64) -> i64 {
        self.usage.charge(used.saturating_sub(self.allowance()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_instant_falls_in_the_current_the_next_or_the_previous_period() {
        let m = Metering {
            subscription_id: "sub_1".into(),
            tier: Tier::Pro,
            period: BillingPeriod::Monthly,
            start: 1_767_225_600,                // 2026-01-01
            end: 1_769_904_000,                  // 2026-02-01
            previous_start: Some(1_764_547_200), // 2025-12-01
            usage: flat(1_000, 1_000),
            currency: "inr".into(),
            spending_cap: Some(50_000),
        };
        assert_eq!(m.period_of(m.start + 5), Some((m.start, m.end)));
        assert_eq!(m.period_of(m.end), Some((m.end, 1_772_323_200)));
        assert_eq!(m.period_of(1_772_323_200 + 1), Some((1_772_323_200, 1_775_001_600)));
        assert_eq!(m.period_of(m.start - 1), Some((1_764_547_200, m.start)));
        assert_eq!(m.period_of(1_764_547_199), None);
        assert_eq!((m.allowance(), m.cap_units(), m.ceiling()), (100_000, Some(50_000), Some(150_000)));
        assert_eq!(m.charge(100_000 + 1_234), 1_234);
        let uncapped = Metering { spending_cap: None, ..m.clone() };
        assert_eq!(uncapped.ceiling(), None);
        let hard = Metering { usage: UsagePricing { limit: UsageLimit::Hard, blocks: vec![], ..flat(1, 1) }, ..m };
        assert_eq!((hard.ceiling(), hard.charge(10_000_000)), (Some(100_000), 0));
    }

    use super::*;

    fn flat(amount: i64, block: u64) -> UsagePricing {
        UsagePricing {
            included_monthly: 100_000,
            limit: UsageLimit::Soft,
            block_size: block,
            blocks: vec![OverageBlock { up_to: None, amount }],
        }
    }

    #[test]
    fn overage_is_prorated_per_unit_and_rounded_half_up_once() {
        // ₹10 per 1,000 events.
        let p = flat(1_000, 1_000);
        assert_eq!(p.charge(0), 0);
        assert_eq!(p.charge(1), 1);
        assert_eq!(p.charge(1_500), 1_500);
        assert_eq!(p.charge(1_234), 1_234);
        // ₹9.99 per 1,000: 1 unit is 0.999 paise → 1; 500 units 499.5 → 500; 499 units 498.501 → 499.
        let p = flat(999, 1_000);
        assert_eq!((p.charge(1), p.charge(500), p.charge(499)), (1, 500, 499));
        // 1 paisa per 1,000: 499 units 0.499 → 0; 500 units 0.5 → 1.
        let p = flat(1, 1_000);
        assert_eq!((p.charge(499), p.charge(500), p.charge(1_499), p.charge(1_500)), (0, 1, 1, 2));
    }

    #[test]
    fn graduated_ranges_price_only_their_own_units_and_round_once() {
        let p = UsagePricing {
            included_monthly: 0,
            limit: UsageLimit::Soft,
            block_size: 1_000,
            blocks: vec![
                OverageBlock { up_to: Some(10_000), amount: 1_000 },
                OverageBlock { up_to: Some(50_000), amount: 800 },
                OverageBlock { up_to: None, amount: 1 },
            ],
        };
        assert_eq!(p.charge(10_000), 10_000);
        assert_eq!(p.charge(12_000), 10_000 + 1_600);
        assert_eq!(p.charge(50_000), 10_000 + 32_000);
        // 42,000 paise for the first two ranges plus 500 units at 0.001 paise: 42,000.5 rounds (once) to 42,001.
        assert_eq!(p.charge(50_500), 42_001);
        assert_eq!(p.charge(50_499), 42_000);
    }

    #[test]
    fn a_cap_becomes_the_most_units_within_it() {
        let p = flat(1_000, 1_000);
        assert_eq!(p.units_within(0), Some(0));
        assert_eq!(p.units_within(50_000), Some(50_000));
        let p = flat(999, 1_000);
        let u = p.units_within(10_000).expect("bounded");
        assert!(p.charge(u) <= 10_000 && p.charge(u + 1) > 10_000);
        let free = flat(0, 1_000);
        assert_eq!(free.units_within(100), None);
        let hard = UsagePricing { limit: UsageLimit::Hard, blocks: vec![], ..flat(1, 1) };
        assert_eq!((hard.charge(10), hard.units_within(100)), (0, Some(0)));
    }

    #[test]
    fn terms_are_checked_field_by_field() {
        let fields = |p: &UsagePricing| p.validate("u").into_iter().map(|e| e.field).collect::<Vec<_>>();
        assert!(fields(&flat(1_000, 1_000)).is_empty());
        assert_eq!(fields(&flat(1_000, 0)), ["u.block_size"]);
        assert_eq!(fields(&flat(-1, 1_000)), ["u.blocks[0].amount"]);
        assert_eq!(fields(&flat(0, 1_000)), ["u.blocks"]);
        let hard = UsagePricing { limit: UsageLimit::Hard, ..flat(1, 1) };
        assert_eq!(fields(&hard), ["u.blocks"]);
        let unordered = UsagePricing {
            blocks: vec![
                OverageBlock { up_to: Some(5), amount: 1 },
                OverageBlock { up_to: Some(5), amount: 1 },
                OverageBlock { up_to: Some(9), amount: 1 },
            ],
            ..flat(1, 1)
        };
        assert_eq!(fields(&unordered), ["u.blocks[1].up_to", "u.blocks[2].up_to"]);
        assert_eq!(flat(1, 1).allowance(12), 1_200_000);
    }
}
