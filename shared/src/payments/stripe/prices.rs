//! The platform's Stripe catalog. Partners declare a price as amount, currency and period only; when an
//! admin approves tiers, the platform makes the Stripe Product of the solution and one Stripe Price per
//! declared price, and archives the prices an approved change replaced. Both are idempotent: the product's
//! id is derived from the solution, and a price is found by its lookup key (solution, tier, currency,
//! period and amount) before one is created, so an approval retried or repeated reuses what exists.

use super::client::{Form, StripeClient, StripeError, field};
use crate::model::{BillingPeriod, Price};
use crate::model::{Tier, TierSpec};
use serde_json::Value;
use std::collections::BTreeSet;

/// The Stripe Product of a solution (our id: Stripe accepts caller-chosen product ids).
pub fn product_id(solution_id: &str) -> String {
    format!("mk_{solution_id}")
}

/// The lookup key that names one price of one tier of one solution.
pub fn lookup_key(solution_id: &str, tier: Tier, price: &Price) -> String {
    let period = match price.period {
        BillingPeriod::Monthly => "monthly",
        BillingPeriod::Yearly => "yearly",
    };
    format!("{solution_id}:{}:{}:{period}:{}", tier.as_str(), price.currency, price.amount)
}

fn interval(period: BillingPeriod) -> &'static str {
    match period {
        BillingPeriod::Monthly => "month",
        BillingPeriod::Yearly => "year",
    }
}

fn id_of(object: &Value) -> Result<String, StripeError> {
    object
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| StripeError::Decode("a stripe object without id".into()))
}

/// The platform's Stripe Products and Prices.
#[derive(Clone)]
pub struct PriceBook {
    pub client: StripeClient,
}

impl PriceBook {
    pub fn new(client: StripeClient) -> Self {
        Self { client }
    }

    /// The solution's Product, made once.
    pub async fn ensure_product(&self, solution_id: &str, name: &str) -> Result<String, StripeError> {
        let id = product_id(solution_id);
        match self.client.get(&format!("/v1/products/{id}"), &Vec::new()).await {
            Ok(_) => return Ok(id),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        let form: Form = vec![field("id", &id), field("name", name), field("metadata[solution_id]", solution_id)];
        match self.client.post("/v1/products", &form, &format!("product-{solution_id}")).await {
            Ok(_) => Ok(id),
            // Made by a concurrent approval.
            Err(StripeError::Refused { code: Some(code), .. }) if code == "resource_already_exists" => Ok(id),
            Err(e) => Err(e),
        }
    }

    /// The Stripe Price of one declared price: the one its lookup key names (made active again if it was
    /// archived), else a new one.
    pub async fn ensure_price(
        &self,
        product: &str,
        solution_id: &str,
        tier: Tier,
        price: &Price,
    ) -> Result<String, StripeError> {
        let key = lookup_key(solution_id, tier, price);
        let query: Form = vec![field("lookup_keys[]", &key), field("limit", 1)];
        let found = self.client.get("/v1/prices", &query).await?;
        if let Some(existing) = found.get("data").and_then(Value::as_array).and_then(|d| d.first()) {
            let id = id_of(existing)?;
            if existing.get("active").and_then(Value::as_bool) == Some(false) {
                let form: Form = vec![field("active", "true")];
                self.client.post(&format!("/v1/prices/{id}"), &form, &format!("activate-{id}")).await?;
            }
            return Ok(id);
        }
        let form: Form = vec![
            field("product", product),
            field("unit_amount", price.amount),
            field("currency", &price.currency),
            field("recurring[interval]", interval(price.period)),
            field("lookup_key", &key),
            field("tax_behavior", "inclusive"),
            field("metadata[solution_id]", solution_id),
            field("metadata[tier]", tier.as_str()),
        ];
        let created = self.client.post("/v1/prices", &form, &format!("price-{key}")).await?;
        id_of(&created)
    }

    /// A Stripe Price for every price of `tiers` (filled into `stripe_price_id`).
    pub async fn provision(&self, solution_id: &str, name: &str, tiers: &mut [TierSpec]) -> Result<(), StripeError> {
        if tiers.iter().all(|t| t.prices.is_empty()) {
            return Ok(());
        }
        let product = self.ensure_product(solution_id, name).await?;
        for t in tiers.iter_mut() {
            for p in &mut t.prices {
                p.stripe_price_id = Some(self.ensure_price(&product, solution_id, t.tier, p).await?);
            }
        }
        Ok(())
    }

    /// Archive the prices of `replaced` that `tiers` no longer use (existing subscribers keep theirs until
    /// their renewal; nobody new can buy them). Returns how many were archived.
    pub async fn archive_replaced(
        &self,
        solution_id: &str,
        replaced: &[TierSpec],
        tiers: &[TierSpec],
    ) -> Result<usize, StripeError> {
        let ids = |list: &[TierSpec]| -> Vec<String> {
            let mut out = Vec::new();
            for t in list {
                for p in &t.prices {
                    out.extend(p.stripe_price_id.clone());
                }
            }
            out
        };
        let in_use: BTreeSet<String> = ids(tiers).into_iter().collect();
        let mut archived = 0;
        for id in ids(replaced) {
            if in_use.contains(&id) {
                continue;
            }
            // Only a price the platform made for this solution: an id a partner once typed (before prices were
            // the platform's) may be anyone's, and is left alone.
            let ours = match self.client.get(&format!("/v1/prices/{id}"), &Vec::new()).await {
                Ok(price) => price.pointer("/metadata/solution_id").and_then(Value::as_str) == Some(solution_id),
                Err(e) if e.is_not_found() => false,
                Err(e) => return Err(e),
            };
            if !ours {
                tracing::warn!(price_id = %id, solution_id, "a replaced price the platform did not make is left as it is");
                continue;
            }
            let form: Form = vec![field("active", "false")];
            match self.client.post(&format!("/v1/prices/{id}"), &form, &format!("archive-{id}")).await {
                Ok(_) => archived += 1,
                Err(e) => return Err(e),
            }
        }
        Ok(archived)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_keys_name_solution_tier_currency_period_and_amount() {
        let p = Price::new(49_900, "inr", BillingPeriod::Monthly);
        assert_eq!(lookup_key("sol_1", Tier::Pro, &p), "sol_1:pro:inr:monthly:49900");
        let y = Price { period: BillingPeriod::Yearly, amount: 499_000, ..p };
        assert_eq!(lookup_key("sol_1", Tier::Enterprise, &y), "sol_1:enterprise:inr:yearly:499000");
        assert_eq!(product_id("sol_1"), "mk_sol_1");
    }
}
