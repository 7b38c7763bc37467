//! Solutions, tier definitions and entitlements in the store.

use super::items::{EntitlementItem, SolutionHoldItem, SolutionItem, SubscriptionItem, TierDefinitionItem};
use super::{Item, Store, StoreError, build_err, classify, from_item, keys};
use crate::model::{SolutionStatus, Tier};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

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
        let mut count = 0u64;
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::GSI3)
                .key_condition_expression("GSI3PK = :pk")
                .filter_expression("reconciled.latest.#status IN (:active, :past_due)")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(
                    ":pk",
                    AttributeValue::S(keys::solution_subscriptions_partition(solution_id)),
                )
                .expression_attribute_values(":active", AttributeValue::S("active".into()))
                .expression_attribute_values(":past_due", AttributeValue::S("past_due".into()))
                .select(aws_sdk_dynamodb::types::Select::Count)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(classify)?;
            count += u64::try_from(out.count).unwrap_or(0);
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(count),
            }
        }
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
        let items = vec![
            self.tx_check(&keys::user(&entitlement.user_id), "attribute_exists(PK)")?,
            self.tx_check(&keys::solution(&entitlement.solution_id), "attribute_exists(PK)")?,
            self.tx_put(entitlement, None)?,
        ];
        self.transact(items).await
    }
}
