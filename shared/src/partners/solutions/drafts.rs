//! Drafting and editing a solution: a draft changes freely; on a published or suspended solution the listing
//! text changes at once and a change of tiers or prices waits for an admin's approval (`pending_tiers`).

use super::SolutionView;
use super::checks::{declared, declared_only, slug, sorted, tags, time_zone, validate_tiers};
use crate::model::{SolutionStatus, TierSpec};
use crate::partners::{Caller, PartnerService, now_rfc3339, text, website};
use crate::platform::error::{ApiError, codes};
use crate::store::solutions::SolutionItem;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SolutionRequest {
    pub name: String,
    pub description: String,
    pub category: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub website: Option<String>,
    pub time_zone: String,
    pub tiers: Vec<TierSpec>,
}

/// A partial update: absent members stay as they are.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SolutionPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub tags: Option<Vec<String>>,
    pub website: Option<String>,
    pub time_zone: Option<String>,
    pub tiers: Option<Vec<TierSpec>>,
}

impl PartnerService {
    /// `POST /api/partners/solutions`: a draft of the caller's partner.
    pub async fn create_solution(&self, caller: &Caller, req: SolutionRequest) -> Result<SolutionView, ApiError> {
        let partner = caller.approved_partner(crate::model::OrgRole::manages_solutions, "create solutions")?;
        let mut errors = Vec::new();
        let name = text("name", &req.name, 2, 100, &mut errors);
        let description = text("description", &req.description, 1, 5_000, &mut errors);
        let category = slug("category", &req.category, 40, &mut errors);
        let tags = tags(&req.tags, &mut errors);
        let site = req.website.as_deref().map(|w| website("website", w, &mut errors));
        let tz = time_zone(&req.time_zone, &mut errors);
        validate_tiers(&req.tiers, &mut errors);
        declared_only(&req.tiers, &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let now = now_rfc3339(self.clock.as_ref());
        let solution_id = crate::platform::ids::solution_id();
        let mut item =
            SolutionItem::new(&solution_id, &partner.partner_id, &name, &description, SolutionStatus::Draft, &tz, now);
        item.partner_name.clone_from(&partner.company);
        item.category = category;
        item.tags = tags;
        item.website = site;
        item.tiers = sorted(req.tiers);
        self.store.put_new(&item).await?;
        tracing::info!(solution_id = %solution_id, partner_id = %partner.partner_id, "solution drafted");
        Ok(SolutionView::from(&item))
    }

    /// `PUT /api/partners/solutions/{id}`: a draft changes freely; on a published or suspended solution the
    /// listing text changes at once and new tiers or prices wait for approval. Submitted and retired
    /// solutions do not change.
    pub async fn update_solution(
        &self,
        caller: &Caller,
        solution_id: &str,
        patch: SolutionPatch,
    ) -> Result<SolutionView, ApiError> {
        let current = self.own_solution(caller, solution_id).await?;
        if matches!(current.status, SolutionStatus::Submitted | SolutionStatus::Retired) {
            return Err(ApiError::conflict(
                codes::INVALID_TRANSITION,
                format!("a {} solution cannot be edited", current.status.as_str()),
            ));
        }
        let mut errors = Vec::new();
        let mut next = current.clone();
        if let Some(v) = &patch.name {
            next.name = text("name", v, 2, 100, &mut errors);
        }
        if let Some(v) = &patch.description {
            next.description = text("description", v, 1, 5_000, &mut errors);
        }
        if let Some(v) = &patch.category {
            next.category = slug("category", v, 40, &mut errors);
        }
        if let Some(v) = &patch.tags {
            next.tags = tags(v, &mut errors);
        }
        if let Some(v) = &patch.website {
            next.website = Some(website("website", v, &mut errors));
        }
        if let Some(v) = &patch.time_zone {
            next.time_zone = time_zone(v, &mut errors);
        }
        if let Some(t) = &patch.tiers {
            validate_tiers(t, &mut errors);
            declared_only(t, &mut errors);
        }
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let now = now_rfc3339(self.clock.as_ref());
        if let Some(t) = patch.tiers {
            let t = sorted(t);
            if current.status == SolutionStatus::Draft {
                next.tiers = t;
            } else if t == declared(&current.tiers) {
                next.pending_tiers = None;
                next.pending_submitted_at = None;
            } else {
                next.pending_tiers = Some(t);
                next.pending_submitted_at = Some(now.clone());
            }
        }
        next.updated_at = now;
        next.version = current.version + 1;
        self.save(&next, current.version, Vec::new()).await?;
        Ok(SolutionView::from(&next))
    }
}
