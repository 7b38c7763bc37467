//! Solutions, tier definitions and entitlements in the store.

use super::items::{EntitlementItem, SolutionItem, TierDefinitionItem};
use super::{Store, StoreError, from_item, keys};
use crate::solutions::SolutionStatus;
use aws_sdk_dynamodb::types::AttributeValue;

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
