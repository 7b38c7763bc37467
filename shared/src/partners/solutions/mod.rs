//! Solutions of partners: drafts with tiers and prices, and their lifecycle
//! draft → submitted → published → suspended / retired, with an admin's approval to publish. A change of
//! tiers or prices of a published solution waits for approval (`pending_tiers`); once approved it applies to
//! new subscriptions at once and to existing subscribers at their next renewal (their subscription keeps the
//! price it was bought at until then).
//!
//! `checks` holds what a solution's fields and tiers must be, `drafts` creating and editing one, `lifecycle`
//! the moves between states (with an admin's decisions and what they put in force), `read` the listings; this
//! root holds the solution as callers see it, and loading and saving one.

mod checks;
mod drafts;
mod lifecycle;
mod read;

pub use checks::{declared, validate_tiers};
pub use drafts::{SolutionPatch, SolutionRequest};
pub use lifecycle::{Action, ReasonRequest, transition};

use crate::model::{LimitsOverride, SolutionStatus, TierSpec};
use crate::partners::{Caller, PartnerService};
use crate::platform::error::{ApiError, FieldError, codes};
use crate::store::solutions::SolutionItem;
use crate::store::{StoreError, keys};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A solution as its partner and admins see it.
#[derive(Debug, Serialize, Deserialize)]
pub struct SolutionView {
    pub solution_id: String,
    pub partner_id: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub tags: Vec<String>,
    pub website: Option<String>,
    pub time_zone: String,
    pub status: SolutionStatus,
    pub tiers: Vec<TierSpec>,
    pub pending_tiers: Option<Vec<TierSpec>>,
    /// Limits an admin set per tier (by tier name): they are in force over the partner's own, also after a
    /// later approved change of tiers.
    #[serde(default)]
    pub limit_overrides: BTreeMap<String, LimitsOverride>,
    pub review_note: Option<String>,
    pub assets: BTreeMap<String, String>,
    pub rating_count: u64,
    pub subscribers: u64,
    pub created_at: String,
    pub submitted_at: Option<String>,
    pub published_at: Option<String>,
    pub updated_at: String,
    /// Suspend, retire and reinstate: how many live subscriptions (active or past due) the change affects.
    /// Their renewals stop (or resume) and their subscribers are told, by the billing function's next run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affected_subscriptions: Option<u64>,
}

impl From<&SolutionItem> for SolutionView {
    fn from(s: &SolutionItem) -> Self {
        Self {
            solution_id: s.solution_id.clone(),
            partner_id: s.partner_id.clone(),
            name: s.name.clone(),
            description: s.description.clone(),
            category: s.category.clone(),
            tags: s.tags.clone(),
            website: s.website.clone(),
            time_zone: s.time_zone.clone(),
            status: s.status,
            tiers: declared(&s.tiers),
            pending_tiers: s.pending_tiers.as_deref().map(declared),
            limit_overrides: s.limit_overrides.clone(),
            review_note: s.review_note.clone(),
            assets: s.assets.clone(),
            rating_count: s.rating_count,
            subscribers: s.subscribers,
            created_at: s.created_at.clone(),
            submitted_at: s.submitted_at.clone(),
            published_at: s.published_at.clone(),
            updated_at: s.updated_at.clone(),
            affected_subscriptions: None,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SolutionList {
    pub solutions: Vec<SolutionView>,
    pub next_cursor: Option<String>,
}

pub(crate) fn solution_not_found() -> ApiError {
    let mut e = ApiError::not_found(codes::SOLUTION_NOT_FOUND, "no solution with this id");
    e.errors = vec![FieldError::new("id", "no solution with this id")];
    e
}

fn concurrent() -> ApiError {
    ApiError::conflict(codes::CONCURRENT_UPDATE, "the solution changed meanwhile; read it again and retry")
}

impl PartnerService {
    async fn load_solution(&self, solution_id: &str) -> Result<SolutionItem, ApiError> {
        if !crate::platform::ids::is_valid("sol", solution_id) {
            return Err(solution_not_found());
        }
        self.store.get(&keys::solution(solution_id), true).await?.ok_or_else(solution_not_found)
    }

    /// A solution the caller's approved partner owns (403 for another partner's; admins are not owners).
    pub(crate) async fn own_solution(&self, caller: &Caller, solution_id: &str) -> Result<SolutionItem, ApiError> {
        caller.approved_partner(crate::model::OrgRole::manages_solutions, "change solutions")?;
        let solution = self.load_solution(solution_id).await?;
        if caller.role_in(&solution.partner_id).is_none() {
            return Err(ApiError::forbidden("you may only change your own solutions"));
        }
        caller.approved_role(&solution.partner_id, crate::model::OrgRole::manages_solutions, "change solutions")?;
        Ok(solution)
    }

    pub(crate) async fn save(
        &self,
        item: &SolutionItem,
        expected_version: u64,
        extra: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
    ) -> Result<(), ApiError> {
        let mut items = vec![self.store.tx_put_versioned(item, Some(expected_version))?];
        items.extend(extra);
        match self.store.transact(items).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conditional { index: Some(0) }) => Err(concurrent()),
            Err(e) => Err(e.into()),
        }
    }
}
