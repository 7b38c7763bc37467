//! Solutions, tier definitions, entitlements and solution holds in the store: their items and operations.

use super::subscriptions::SubscriptionItem;
use super::{Item, Store, StoreError, build_err, classify, from_item, keys};
use crate::model::{SolutionStatus, Tier};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SolutionItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    /// The partner's solutions (`keys::partner_solutions`).
    #[serde(rename = "GSI2PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi2pk: Option<String>,
    #[serde(rename = "GSI2SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi2sk: Option<String>,
    pub entity_type: String,
    pub solution_id: String,
    pub partner_id: String,
    /// The partner's company name, shown in the catalog.
    #[serde(default)]
    pub partner_name: String,
    pub name: String,
    pub description: String,
    pub status: SolutionStatus,
    /// IANA time zone in which the solution's day is counted.
    pub time_zone: String,
    #[serde(default)]
    pub category: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// The tiers (limits and prices) in force once published; a draft's proposed tiers before that.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<crate::model::TierSpec>,
    /// A change of tiers or prices of a published solution, waiting for an admin's approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_tiers: Option<Vec<crate::model::TierSpec>>,
    /// Limits an admin set per tier (by tier name): in force over the partner's (`tiers` shows them).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub limit_overrides: std::collections::BTreeMap<String, crate::model::LimitsOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_submitted_at: Option<String>,
    /// The last admin decision's reason (a rejection, a suspension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
    /// Uploaded assets: kind (`logo`, `docs`) to S3 object key.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub assets: std::collections::BTreeMap<String, String>,
    /// Rating summary of its reviews.
    #[serde(default)]
    pub rating_count: u64,
    #[serde(default)]
    pub rating_sum: u64,
    /// Paid subscriptions ever started (the catalog's popularity).
    #[serde(default)]
    pub subscribers: u64,
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
    #[serde(default)]
    pub version: u64,
}

impl SolutionItem {
    pub fn new(
        solution_id: &str,
        partner_id: &str,
        name: &str,
        description: &str,
        status: SolutionStatus,
        time_zone: &str,
        created_at: String,
    ) -> Self {
        let key = keys::solution(solution_id);
        let gsi = keys::solutions_by_status(status.as_str(), &created_at, solution_id);
        let (g2pk, g2sk) = keys::partner_solutions(partner_id, &created_at, solution_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: gsi.pk,
            gsi1sk: gsi.sk,
            gsi2pk: Some(g2pk),
            gsi2sk: Some(g2sk),
            entity_type: "solution".into(),
            solution_id: solution_id.into(),
            partner_id: partner_id.into(),
            partner_name: String::new(),
            name: name.into(),
            description: description.into(),
            status,
            time_zone: time_zone.into(),
            category: String::new(),
            tags: Vec::new(),
            website: None,
            tiers: Vec::new(),
            pending_tiers: None,
            limit_overrides: Default::default(),
            pending_submitted_at: None,
            review_note: None,
            submitted_at: None,
            published_at: None,
            assets: Default::default(),
            rating_count: 0,
            rating_sum: 0,
            subscribers: 0,
            updated_at: created_at.clone(),
            created_at,
            version: 0,
        }
    }

    /// Move to `status`, keeping the by-status index entry in step.
    pub fn set_status(&mut self, status: SolutionStatus) {
        self.status = status;
        let gsi = keys::solutions_by_status(status.as_str(), &self.created_at, &self.solution_id);
        self.gsi1pk = gsi.pk;
        self.gsi1sk = gsi.sk;
    }
}

/// Limits of a tier: platform defaults (`solution_id` = None) or a solution's own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierDefinitionItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solution_id: Option<String>,
    pub tier: Tier,
    /// `None` = unlimited.
    pub daily_limit: Option<u64>,
    pub monthly_limit: Option<u64>,
    /// What the tier costs (paid tiers of a solution).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prices: Vec<crate::model::Price>,
    pub updated_at: String,
}

impl TierDefinitionItem {
    pub fn new(
        solution_id: Option<&str>,
        tier: Tier,
        daily_limit: Option<u64>,
        monthly_limit: Option<u64>,
        updated_at: String,
    ) -> Self {
        let key = match solution_id {
            Some(sid) => keys::solution_tier(sid, tier.as_str()),
            None => keys::default_tier(tier.as_str()),
        };
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "tier_definition".into(),
            solution_id: solution_id.map(str::to_owned),
            tier,
            daily_limit,
            monthly_limit,
            prices: Vec::new(),
            updated_at,
        }
    }
}

/// A user's tier for one solution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntitlementItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub user_id: String,
    pub solution_id: String,
    pub tier: Tier,
    pub updated_at: String,
    pub updated_by: String,
    /// When `tier` stops applying (epoch seconds); `None` = until changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<i64>,
    /// The tier after `valid_until` (free when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then_tier: Option<Tier>,
    /// The subscription this tier comes from, when it is paid for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    /// Its usage-based terms and billing periods, when its price has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metering: Option<crate::model::Metering>,
}

impl EntitlementItem {
    /// What this entitlement grants (the switch at `valid_until` applied by readers).
    pub fn grant(&self) -> crate::model::Grant {
        crate::model::Grant {
            tier: self.tier,
            valid_until: self.valid_until,
            then: self.then_tier.unwrap_or(Tier::Free),
        }
    }

    /// The tier in force at `now` (epoch seconds).
    pub fn tier_at(&self, now: i64) -> Tier {
        match self.valid_until {
            Some(until) if now >= until => self.then_tier.unwrap_or(Tier::Free),
            _ => self.tier,
        }
    }

    pub fn new(user_id: &str, solution_id: &str, tier: Tier, updated_at: String, updated_by: &str) -> Self {
        let key = keys::entitlement(user_id, solution_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "entitlement".into(),
            user_id: user_id.into(),
            solution_id: solution_id.into(),
            tier,
            updated_at,
            updated_by: updated_by.into(),
            valid_until: None,
            then_tier: None,
            subscription_id: None,
            metering: None,
        }
    }
}

/// What a solution's last suspension, retirement or reinstatement asks of its subscriptions; listed in the
/// pending index until the billing run has applied it to each of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SolutionHoldItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
    pub entity_type: String,
    pub solution_id: String,
    /// The solution's status: `suspended` / `retired` (renewals stop) or `published` (reinstated).
    pub state: SolutionStatus,
    /// The solution's version after the change.
    pub seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub created_at: String,
}

impl SolutionHoldItem {
    pub fn new(solution_id: &str, state: SolutionStatus, seq: u64, reason: Option<String>, at: String) -> Self {
        let key = keys::solution_hold(solution_id);
        let gsi = keys::holds_pending(&at, solution_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: Some(gsi.pk),
            gsi1sk: Some(gsi.sk),
            entity_type: "solution_hold".into(),
            solution_id: solution_id.into(),
            state,
            seq,
            reason,
            created_at: at,
        }
    }
}

impl Store {
    pub async fn get_solution(&self, solution_id: &str) -> Result<Option<SolutionItem>, StoreError> {
        self.get(&keys::solution(solution_id), false).await
    }

    pub async fn put_solution(&self, solution: &SolutionItem) -> Result<(), StoreError> {
        self.put(solution, None).await
    }

    /// Solutions in a status, newest first (every page).
    pub async fn solutions_by_status(&self, status: SolutionStatus) -> Result<Vec<SolutionItem>, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("GSI1PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(keys::solutions_status_partition(status.as_str())))
            .scan_index_forward(false);
        self.query_all(q).await?.into_iter().map(from_item).collect()
    }

    pub async fn put_tier_definition(&self, def: &TierDefinitionItem) -> Result<(), StoreError> {
        self.put(def, None).await
    }

    /// The update that sets a tier definition's limits (`None` = unlimited) and nothing else: its prices stay.
    /// A definition that does not exist yet is created with the limits only. `solution_id` `None`: the
    /// platform default.
    pub fn tx_tier_limits(
        &self,
        solution_id: Option<&str>,
        tier: Tier,
        daily: Option<u64>,
        monthly: Option<u64>,
        at: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let key = match solution_id {
            Some(sid) => keys::solution_tier(sid, tier.as_str()),
            None => keys::default_tier(tier.as_str()),
        };
        let limit = |v: Option<u64>| v.map_or(AttributeValue::Null(true), |n| AttributeValue::N(n.to_string()));
        let mut set = "#d = :d, #m = :m, #u = :u, #e = if_not_exists(#e, :e), #t = if_not_exists(#t, :t)".to_owned();
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key.to_map()))
            .expression_attribute_names("#d", "daily_limit")
            .expression_attribute_names("#m", "monthly_limit")
            .expression_attribute_names("#u", "updated_at")
            .expression_attribute_names("#e", "entity_type")
            .expression_attribute_names("#t", "tier")
            .expression_attribute_values(":d", limit(daily))
            .expression_attribute_values(":m", limit(monthly))
            .expression_attribute_values(":u", AttributeValue::S(at.to_owned()))
            .expression_attribute_values(":e", AttributeValue::S("tier_definition".into()))
            .expression_attribute_values(":t", AttributeValue::S(tier.as_str().into()));
        if let Some(sid) = solution_id {
            set.push_str(", #s = if_not_exists(#s, :s)");
            update = update
                .expression_attribute_names("#s", "solution_id")
                .expression_attribute_values(":s", AttributeValue::S(sid.to_owned()));
        }
        let update = update.update_expression(format!("SET {set}")).build().map_err(build_err)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// A page of a solution's subscriptions (GSI3, oldest first) and where the next one starts.
    pub async fn solution_subscriptions_page(
        &self,
        solution_id: &str,
        limit: i32,
        after: Option<Item>,
    ) -> Result<(Vec<SubscriptionItem>, Option<Item>), StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI3)
            .key_condition_expression("GSI3PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(keys::solution_subscriptions_partition(solution_id)))
            .limit(limit)
            .set_exclusive_start_key(after)
            .send()
            .await
            .map_err(classify)?;
        let items = out.items.unwrap_or_default().into_iter().map(from_item).collect::<Result<Vec<_>, _>>()?;
        Ok((items, out.last_evaluated_key.filter(|k| !k.is_empty())))
    }

    /// How many of a solution's subscriptions are live (their latest state active or past due): the ones a
    /// suspension stops renewing. Counted by the index, every page.
    pub async fn count_live_subscriptions(&self, solution_id: &str) -> Result<u64, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI3)
            .key_condition_expression("GSI3PK = :pk")
            .filter_expression("reconciled.latest.#status IN (:active, :past_due)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pk", AttributeValue::S(keys::solution_subscriptions_partition(solution_id)))
            .expression_attribute_values(":active", AttributeValue::S("active".into()))
            .expression_attribute_values(":past_due", AttributeValue::S("past_due".into()));
        self.count_all(q).await
    }

    /// A page of a scan for subscriptions written before their solution's index (GSI3) existed: their ids
    /// and where the next page starts (`None`: the scan is done). A one-off backfill, never on a request path.
    pub async fn unindexed_subscriptions_page(
        &self,
        after: Option<Item>,
    ) -> Result<(Vec<String>, Option<Item>), StoreError> {
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("entity_type = :subscription AND attribute_not_exists(GSI3PK)")
            .expression_attribute_values(":subscription", AttributeValue::S("subscription".into()))
            .projection_expression("subscription_id")
            .set_exclusive_start_key(after)
            .send()
            .await
            .map_err(classify)?;
        let ids = out
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|i| match i.get("subscription_id") {
                Some(AttributeValue::S(id)) => Some(id.clone()),
                _ => None,
            })
            .collect();
        Ok((ids, out.last_evaluated_key.filter(|k| !k.is_empty())))
    }

    /// Solution holds not yet applied to every subscription, oldest first (every page).
    pub async fn pending_holds(&self) -> Result<Vec<SolutionHoldItem>, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("GSI1PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(keys::HOLDS_PENDING.to_owned()));
        self.query_all(q).await?.into_iter().map(from_item).collect()
    }

    /// Take a hold out of the pending index once applied to every subscription: only while it is still the
    /// hold of version `seq` (a newer one stays pending). True when this call took it out.
    pub async fn finish_hold(&self, solution_id: &str, seq: u64) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::solution_hold(solution_id).to_map()))
            .update_expression("REMOVE GSI1PK, GSI1SK")
            .condition_expression("seq = :seq")
            .expression_attribute_values(":seq", AttributeValue::N(seq.to_string()))
            .send()
            .await
            .map_err(classify);
        super::applied(result)
    }

    /// Set a user's tier for a solution. Fails with `Conditional { index: Some(0) }` when the user does not
    /// exist and `Some(1)` when the solution does not.
    pub async fn set_entitlement(&self, entitlement: &EntitlementItem) -> Result<(), StoreError> {
        self.set_entitlement_with(entitlement, Vec::new()).await
    }

    /// [`Store::set_entitlement`] with more writes in the same transaction (after its three).
    pub async fn set_entitlement_with(
        &self,
        entitlement: &EntitlementItem,
        extra: Vec<TransactWriteItem>,
    ) -> Result<(), StoreError> {
        let mut items = vec![
            self.tx_check(&keys::user(&entitlement.user_id), "attribute_exists(PK)")?,
            self.tx_check(&keys::solution(&entitlement.solution_id), "attribute_exists(PK)")?,
            self.tx_put(entitlement, None)?,
        ];
        items.extend(extra);
        self.transact(items).await
    }
}

impl Store {
    /// Count a solution's new paying subscriber (its first payment); part of that payment's transaction.
    pub fn tx_count_subscriber(&self, solution_id: &str) -> Result<TransactWriteItem, StoreError> {
        self.tx_update(
            &keys::solution(solution_id),
            "ADD subscribers :one",
            Some("attribute_exists(PK)"),
            std::collections::HashMap::from([(":one".to_owned(), AttributeValue::N("1".into()))]),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BillingPeriod, LimitsOverride, Price, TierSpec};
    use crate::store::stored_shape::assert_stored;

    fn price() -> Price {
        Price::new(49_900, "inr", BillingPeriod::Monthly)
    }

    #[test]
    fn the_solution_family_is_stored_under_its_attribute_names() {
        let at = "2026-04-15T10:00:00Z";
        let mut solution = SolutionItem::new(
            "sol_1",
            "prt_1",
            "OCR",
            "Reads invoices",
            SolutionStatus::Draft,
            "Asia/Kolkata",
            at.into(),
        );
        solution.set_status(SolutionStatus::Published);
        solution.partner_name = "Acme".into();
        solution.category = "documents".into();
        solution.tags = vec!["ocr".into()];
        solution.website = Some("https://acme.example".into());
        let spec =
            TierSpec { tier: Tier::Pro, daily_limit: Some(1_000), monthly_limit: Some(20_000), prices: vec![price()] };
        solution.tiers = vec![spec.clone()];
        solution.pending_tiers = Some(vec![spec]);
        solution.limit_overrides.insert(
            "pro".into(),
            LimitsOverride {
                daily_limit: Some(500),
                monthly_limit: None,
                set_by: "usr_admin".into(),
                set_at: at.into(),
            },
        );
        solution.pending_submitted_at = Some(at.into());
        solution.review_note = Some("ok".into());
        solution.submitted_at = Some(at.into());
        solution.published_at = Some(at.into());
        solution.assets.insert("logo".into(), "assets/sol_1/logo.png".into());
        solution.rating_count = 2;
        solution.rating_sum = 9;
        solution.subscribers = 3;
        solution.version = 4;
        assert_stored(
            &solution,
            &keys::solution("sol_1"),
            "solution",
            &[
                "PK",
                "SK",
                "GSI1PK",
                "GSI1SK",
                "GSI2PK",
                "GSI2SK",
                "entity_type",
                "solution_id",
                "partner_id",
                "partner_name",
                "name",
                "description",
                "status",
                "time_zone",
                "category",
                "tags",
                "website",
                "tiers",
                "pending_tiers",
                "limit_overrides",
                "pending_submitted_at",
                "review_note",
                "submitted_at",
                "published_at",
                "assets",
                "rating_count",
                "rating_sum",
                "subscribers",
                "created_at",
                "updated_at",
                "version",
            ],
        );

        let mut tier = TierDefinitionItem::new(Some("sol_1"), Tier::Pro, Some(1_000), Some(20_000), at.into());
        tier.prices = vec![price()];
        assert_stored(
            &tier,
            &keys::solution_tier("sol_1", "pro"),
            "tier_definition",
            &["PK", "SK", "entity_type", "solution_id", "tier", "daily_limit", "monthly_limit", "prices", "updated_at"],
        );

        let mut entitlement = EntitlementItem::new("usr_1", "sol_1", Tier::Pro, at.into(), "billing");
        entitlement.valid_until = Some(1_778_000_000);
        entitlement.then_tier = Some(Tier::Free);
        entitlement.subscription_id = Some("sub_1".into());
        assert_stored(
            &entitlement,
            &keys::entitlement("usr_1", "sol_1"),
            "entitlement",
            &[
                "PK",
                "SK",
                "entity_type",
                "user_id",
                "solution_id",
                "tier",
                "updated_at",
                "updated_by",
                "valid_until",
                "then_tier",
                "subscription_id",
            ],
        );

        let hold = SolutionHoldItem::new("sol_1", SolutionStatus::Suspended, 5, Some("abuse".into()), at.into());
        assert_stored(
            &hold,
            &keys::solution_hold("sol_1"),
            "solution_hold",
            &["PK", "SK", "GSI1PK", "GSI1SK", "entity_type", "solution_id", "state", "seq", "reason", "created_at"],
        );
    }
}
