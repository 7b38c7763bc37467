//! Reviews and the review-eligibility checks of the marketplace in the store (partner-attested usage days,
//! payments for a solution).

use super::{Store, StoreError, keys};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A user's review of a solution (one per user; editing replaces it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub entity_type: String,
    pub solution_id: String,
    pub user_id: String,
    /// The reviewer's name as shown.
    pub author: String,
    /// 1 to 5.
    pub rating: u8,
    pub text: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub version: u64,
}

impl ReviewItem {
    pub fn new(solution_id: &str, user_id: &str, author: &str, rating: u8, text: &str, created_at: String) -> Self {
        let key = keys::review(solution_id, user_id);
        let gsi = keys::solution_reviews(solution_id, &created_at, user_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: gsi.pk,
            gsi1sk: gsi.sk,
            entity_type: "review".into(),
            solution_id: solution_id.into(),
            user_id: user_id.into(),
            author: author.into(),
            rating,
            text: text.into(),
            updated_at: created_at.clone(),
            created_at,
            version: 0,
        }
    }
}

impl Store {
    /// Write a review and move the solution's rating summary by `delta_count` / `delta_sum`, in one
    /// transaction. `expected_version`: `None` for a new review (it must not exist), else the stored
    /// review's version. Fails with `Conditional { index: Some(0) }` when the review changed meanwhile and
    /// `Some(1)` when the solution is gone.
    pub async fn write_review(
        &self,
        review: &ReviewItem,
        expected_version: Option<u64>,
        delta_count: i64,
        delta_sum: i64,
    ) -> Result<(), StoreError> {
        let values = HashMap::from([
            (":c".to_owned(), AttributeValue::N(delta_count.to_string())),
            (":s".to_owned(), AttributeValue::N(delta_sum.to_string())),
        ]);
        let items = vec![
            self.tx_put_versioned(review, expected_version)?,
            self.tx_update(
                &keys::solution(&review.solution_id),
                "ADD rating_count :c, rating_sum :s",
                Some("attribute_exists(PK)"),
                values,
            )?,
        ];
        self.transact(items).await
    }

    /// How many days of its usage history (up to `enough`: the query stops there) a customer has a day
    /// counter of the solution that its partner attested (an event tracked with the partner's API key).
    pub async fn attested_days(
        &self,
        customer_id: &str,
        solution_id: &str,
        enough: usize,
    ) -> Result<usize, StoreError> {
        let mut start = None;
        let mut days = 0;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND begins_with(SK, :day)")
                .filter_expression("solution_id = :sol AND #attested = :yes")
                .expression_attribute_names("#attested", super::ATTESTED_ATTR)
                .expression_attribute_values(":pk", AttributeValue::S(keys::usage_partition(customer_id)))
                .expression_attribute_values(":day", AttributeValue::S(keys::USAGE_DAY_PREFIX.into()))
                .expression_attribute_values(":sol", AttributeValue::S(solution_id.to_owned()))
                .expression_attribute_values(":yes", AttributeValue::Bool(true))
                .scan_index_forward(false)
                .projection_expression("PK")
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(super::classify)?;
            // Day counters are one item per (day, solution): each match is another day.
            days += usize::try_from(page.count).unwrap_or(0);
            if days >= enough {
                return Ok(days);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(days),
            }
        }
    }

    /// Whether a payment of the user's history (the GSI1 payments partition) is for the solution.
    pub async fn paid_for_solution(&self, user_id: &str, solution_id: &str) -> Result<bool, StoreError> {
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::GSI1)
                .key_condition_expression("GSI1PK = :pk")
                .filter_expression("entity_type = :payment AND solution_id = :sol")
                .expression_attribute_values(":pk", AttributeValue::S(keys::user_payments_partition(user_id)))
                .expression_attribute_values(":payment", AttributeValue::S("payment".into()))
                .expression_attribute_values(":sol", AttributeValue::S(solution_id.to_owned()))
                .projection_expression("PK")
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(super::classify)?;
            if page.count > 0 {
                return Ok(true);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(false),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::stored_shape::assert_stored;

    #[test]
    fn the_review_family_is_stored_under_its_attribute_names() {
        let mut review =
            ReviewItem::new("sol_1", "usr_1", "Asha", 4, "Does what it says.", "2026-04-15T10:00:00Z".into());
        review.version = 2;
        assert_stored(
            &review,
            &keys::review("sol_1", "usr_1"),
            "review",
            &[
                "PK",
                "SK",
                "GSI1PK",
                "GSI1SK",
                "entity_type",
                "solution_id",
                "user_id",
                "author",
                "rating",
                "text",
                "created_at",
                "updated_at",
                "version",
            ],
        );
    }
}
