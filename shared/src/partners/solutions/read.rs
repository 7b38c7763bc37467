//! Reading solutions: one for its partner or an admin, a partner's solutions, and the admins' review queue
//! (submitted solutions, or published ones with a change of tiers waiting).

use super::{SolutionList, SolutionView};
use crate::model::SolutionStatus;
use crate::partners::{Caller, PartnerService, admin_only, bad_cursor, page_limit};
use crate::platform::error::ApiError;

impl PartnerService {
    /// `GET /api/partners/{id}/solutions`: every solution of the partner, any status (owner or admin).
    pub async fn partner_solutions(&self, caller: &Caller, partner_id: &str) -> Result<SolutionList, ApiError> {
        self.readable_partner(caller, partner_id).await?;
        let items = self.store.partner_solutions(partner_id).await?;
        Ok(SolutionList { solutions: items.iter().map(SolutionView::from).collect(), next_cursor: None })
    }

    /// `GET /api/admin/solutions?status=submitted|changes|...` (admin): the review queue. `changes` lists
    /// published solutions with a change of tiers or prices waiting.
    pub async fn review_queue(
        &self,
        caller: &Caller,
        status: Option<&str>,
        limit: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<SolutionList, ApiError> {
        admin_only(caller)?;
        let wanted = status.unwrap_or("submitted");
        if wanted == "changes" {
            let mut items = self.store.solutions_by_status(SolutionStatus::Published).await?;
            items.extend(self.store.solutions_by_status(SolutionStatus::Suspended).await?);
            items.retain(|s| s.pending_tiers.is_some());
            return Ok(SolutionList { solutions: items.iter().map(SolutionView::from).collect(), next_cursor: None });
        }
        let status: SolutionStatus =
            serde_json::from_value(serde_json::Value::String(wanted.to_owned())).map_err(|_| {
                ApiError::field("status", "must be draft, submitted, published, suspended, retired or changes")
            })?;
        let (items, next_cursor) =
            self.store.solutions_page(status.as_str(), page_limit(limit)?, cursor).await?.map_err(|()| bad_cursor())?;
        Ok(SolutionList { solutions: items.iter().map(SolutionView::from).collect(), next_cursor })
    }

    /// One solution for its partner's members or an admin (any status).
    pub async fn solution(&self, caller: &Caller, solution_id: &str) -> Result<SolutionView, ApiError> {
        let s = self.load_solution(solution_id).await?;
        if !caller.is_admin() && caller.role_in(&s.partner_id).is_none() {
            return Err(ApiError::forbidden("you may only read your own solutions"));
        }
        Ok(SolutionView::from(&s))
    }
}
