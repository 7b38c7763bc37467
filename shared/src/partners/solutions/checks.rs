//! What a solution may declare: slugs (category, tags), an IANA time zone, and tiers (each once; prices only
//! on paid tiers, one per currency and period, declared without the platform's Stripe ids; monthly limits not
//! below daily ones).

use crate::model::{Tier, TierSpec};
use crate::platform::error::FieldError;
use std::collections::HashSet;

const MAX_TAGS: usize = 10;
const MAX_LIMIT: u64 = 1_000_000_000;

/// A lowercase slug of 1..=`max` characters of `[a-z0-9-]`.
pub(super) fn slug(field: &str, raw: &str, max: usize, errors: &mut Vec<FieldError>) -> String {
    let s = raw.trim().to_lowercase();
    let ok =
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        errors.push(FieldError::new(field, format!("must be 1 to {max} characters of [a-z0-9-]")));
    }
    s
}

pub(super) fn tags(raw: &[String], errors: &mut Vec<FieldError>) -> Vec<String> {
    if raw.len() > MAX_TAGS {
        errors.push(FieldError::new("tags", format!("at most {MAX_TAGS} tags")));
    }
    let mut out: Vec<String> =
        raw.iter().enumerate().map(|(i, t)| slug(&format!("tags[{i}]"), t, 30, errors)).collect();
    out.sort();
    out.dedup();
    out
}

pub(super) fn time_zone(raw: &str, errors: &mut Vec<FieldError>) -> String {
    let t = raw.trim();
    if t.parse::<chrono_tz::Tz>().is_err() {
        errors.push(FieldError::new("time_zone", "must be an IANA time zone like Asia/Kolkata"));
    }
    t.to_owned()
}

/// Check a solution's tiers: each tier once; anonymous and free tiers carry no price, paid tiers at least
/// one; prices valid and one per currency and period; monthly limits not below daily ones.
pub fn validate_tiers(tiers: &[TierSpec], errors: &mut Vec<FieldError>) {
    if tiers.is_empty() || tiers.len() > Tier::ALL.len() {
        errors.push(FieldError::new("tiers", "must list 1 to 4 tiers"));
    }
    let mut seen = HashSet::new();
    for (i, t) in tiers.iter().enumerate() {
        let f = |m: &str| format!("tiers[{i}].{m}");
        if !seen.insert(t.tier) {
            errors.push(FieldError::new(f("tier"), "is listed twice"));
        }
        for (name, v) in [("daily_limit", t.daily_limit), ("monthly_limit", t.monthly_limit)] {
            if v.is_some_and(|v| v > MAX_LIMIT) {
                errors.push(FieldError::new(f(name), format!("must be at most {MAX_LIMIT} (absent = unlimited)")));
            }
        }
        if let (Some(d), Some(m)) = (t.daily_limit, t.monthly_limit)
            && m < d
        {
            errors.push(FieldError::new(f("monthly_limit"), "must not be below daily_limit"));
        }
        let paid = matches!(t.tier, Tier::Pro | Tier::Enterprise);
        if paid && t.prices.is_empty() {
            errors.push(FieldError::new(f("prices"), "a paid tier needs at least one price"));
        }
        if !paid && !t.prices.is_empty() {
            errors.push(FieldError::new(f("prices"), "only pro and enterprise tiers have prices"));
        }
        let mut kinds = HashSet::new();
        for (j, p) in t.prices.iter().enumerate() {
            errors.extend(p.validate(&format!("tiers[{i}].prices[{j}]")));
            if !kinds.insert((p.currency.clone(), p.period)) {
                errors.push(FieldError::new(format!("tiers[{i}].prices[{j}]"), "one price per currency and period"));
            }
        }
        // A tier's allowance and limit are the tier's: every price states the same ones (or none does);
        // only what overage costs differs by currency.
        let terms = |p: &crate::model::Price| p.usage.as_ref().map(|u| (u.included_monthly, u.limit));
        if let Some(first) = t.prices.first()
            && let Some(j) = t.prices.iter().position(|p| terms(p) != terms(first))
        {
            errors.push(FieldError::new(
                format!("tiers[{i}].prices[{j}].usage"),
                "every price of a tier states the same included_monthly and limit (or none does)",
            ));
        }
    }
}

/// Partners declare a price as amount, currency and period: the Stripe Price is the platform's, made when
/// an admin approves the tier.
pub(super) fn declared_only(tiers: &[TierSpec], errors: &mut Vec<FieldError>) {
    for (i, t) in tiers.iter().enumerate() {
        for (j, p) in t.prices.iter().enumerate() {
            if p.stripe_price_id.is_some() {
                errors.push(FieldError::new(
                    format!("tiers[{i}].prices[{j}].stripe_price_id"),
                    "is made by the platform when an admin approves the tier; send amount, currency and period",
                ));
            }
        }
    }
}

/// Tiers as declared: without the provider's ids (which callers never see).
pub fn declared(tiers: &[TierSpec]) -> Vec<TierSpec> {
    let mut out = tiers.to_vec();
    for p in out.iter_mut().flat_map(|t| t.prices.iter_mut()) {
        p.stripe_price_id = None;
    }
    out
}

pub(super) fn sorted(mut tiers: Vec<TierSpec>) -> Vec<TierSpec> {
    tiers.sort_by_key(|t| t.tier);
    tiers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(amount: i64, currency: &str) -> crate::model::Price {
        crate::model::Price::new(amount, currency, crate::model::BillingPeriod::Monthly)
    }

    #[test]
    fn tiers_are_checked() {
        let ok = vec![
            TierSpec { tier: Tier::Free, daily_limit: Some(100), monthly_limit: None, prices: vec![] },
            TierSpec {
                tier: Tier::Pro,
                daily_limit: Some(10_000),
                monthly_limit: None,
                prices: vec![price(49_900, "inr")],
            },
        ];
        let mut errors = Vec::new();
        validate_tiers(&ok, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        let bad = vec![
            TierSpec {
                tier: Tier::Free,
                daily_limit: Some(100),
                monthly_limit: Some(50),
                prices: vec![price(1, "inr")],
            },
            TierSpec { tier: Tier::Pro, daily_limit: None, monthly_limit: None, prices: vec![] },
            TierSpec {
                tier: Tier::Pro,
                daily_limit: None,
                monthly_limit: None,
                prices: vec![price(100, "inr"), price(200, "inr")],
            },
        ];
        validate_tiers(&bad, &mut errors);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["tiers[0].monthly_limit", "tiers[0].prices", "tiers[1].prices", "tiers[2].tier", "tiers[2].prices[1]"]
        );
    }

    #[test]
    fn usage_terms_are_checked_and_agree_across_a_tiers_prices() {
        use crate::model::{OverageBlock, UsageLimit, UsagePricing};
        let usage = |included: u64, amount: i64| UsagePricing {
            included_monthly: included,
            limit: UsageLimit::Soft,
            block_size: 1_000,
            blocks: vec![OverageBlock { up_to: None, amount }],
        };
        let metered =
            |currency: &str, u: Option<UsagePricing>| crate::model::Price { usage: u, ..price(49_900, currency) };
        let tier = |prices| TierSpec { tier: Tier::Pro, daily_limit: None, monthly_limit: None, prices };
        let mut errors = Vec::new();
        validate_tiers(
            &[tier(vec![metered("inr", Some(usage(100_000, 1_000))), metered("usd", Some(usage(100_000, 12)))])],
            &mut errors,
        );
        assert!(errors.is_empty(), "{errors:?}");
        for (prices, field) in [
            (
                vec![metered("inr", Some(usage(100_000, 1_000))), metered("usd", Some(usage(5, 12)))],
                "tiers[0].prices[1].usage",
            ),
            (vec![metered("inr", Some(usage(100_000, 1_000))), metered("usd", None)], "tiers[0].prices[1].usage"),
            (vec![metered("inr", Some(usage(100_000, -5)))], "tiers[0].prices[0].usage.blocks[0].amount"),
        ] {
            let mut errors = Vec::new();
            validate_tiers(&[tier(prices)], &mut errors);
            assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), [field]);
        }
    }
}
