//! A solution's lifecycle draft → submitted → published → suspended / retired: the partner's and the admin's
//! actions, an admin's decision on a pending change of tiers, and what an approval puts in force (the platform's
//! Stripe Prices, the tier definitions) or a suspension holds (subscribers' renewals).

use super::SolutionView;
use super::checks::validate_tiers;
use crate::audit::{AuditKind, Event, subject};
use crate::model::{SolutionStatus, Tier, TierSpec, with_overrides};
use crate::partners::{Caller, PartnerService, admin_only, now_rfc3339, text};
use crate::platform::error::{ApiError, FieldError, codes};
use crate::store::keys;
use crate::store::solutions::{SolutionHoldItem, SolutionItem, TierDefinitionItem};
use serde::Deserialize;
use std::collections::HashSet;

/// What moves a solution between states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Partner: ask for review.
    Submit,
    /// Partner: take a submitted solution back to draft.
    Withdraw,
    /// Admin: publish a submitted solution.
    Approve,
    /// Admin: send a submitted solution back to draft, with a reason.
    Reject,
    /// Admin: take a published solution off the catalog, with a reason.
    Suspend,
    /// Admin: publish a suspended solution again.
    Reinstate,
    /// Partner or admin: end it for good.
    Retire,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submit => "submit",
            Self::Withdraw => "withdraw",
            Self::Approve => "approve",
            Self::Reject => "reject",
            Self::Suspend => "suspend",
            Self::Reinstate => "reinstate",
            Self::Retire => "retire",
        }
    }

    pub fn by_admin(self) -> bool {
        matches!(self, Self::Approve | Self::Reject | Self::Suspend | Self::Reinstate)
    }
}

/// The lifecycle (pure): the state `action` leads to from `from`, or `None` when it is not allowed.
pub fn transition(from: SolutionStatus, action: Action) -> Option<SolutionStatus> {
    use SolutionStatus::*;
    match (from, action) {
        (Draft, Action::Submit) => Some(Submitted),
        (Submitted, Action::Withdraw | Action::Reject) => Some(Draft),
        (Submitted, Action::Approve) => Some(Published),
        (Published, Action::Suspend) => Some(Suspended),
        (Suspended, Action::Reinstate) => Some(Published),
        (Draft | Submitted | Published | Suspended, Action::Retire) => Some(Retired),
        _ => None,
    }
}

/// What the audit trail calls an admin's step (`deciding_change`: an approval or rejection of a published
/// solution's pending change); `None` for the partner's own steps.
fn audit_kind(action: Action, deciding_change: bool) -> Option<AuditKind> {
    Some(match (action, deciding_change) {
        (Action::Approve, true) => AuditKind::SolutionChangeApproved,
        (Action::Reject, true) => AuditKind::SolutionChangeRejected,
        (Action::Approve, false) => AuditKind::SolutionApproved,
        (Action::Reject, false) => AuditKind::SolutionRejected,
        (Action::Suspend, _) => AuditKind::SolutionSuspended,
        (Action::Reinstate, _) => AuditKind::SolutionReinstated,
        (Action::Retire, _) => AuditKind::SolutionRetired,
        (Action::Submit | Action::Withdraw, _) => return None,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    #[serde(default)]
    pub reason: Option<String>,
}

fn invalid_transition(from: SolutionStatus, action: Action) -> ApiError {
    ApiError::conflict(codes::INVALID_TRANSITION, format!("a {} solution cannot {}", from.as_str(), action.as_str()))
        .with_extension("status", from.as_str().into())
}

impl PartnerService {
    /// A lifecycle step by the owning partner (`submit`, `withdraw`, `retire`) or an admin (`approve`,
    /// `reject`, `suspend`, `reinstate`, `retire`). An admin's `approve` / `reject` of a published solution
    /// decides its pending change of tiers and prices.
    pub async fn act(
        &self,
        caller: &Caller,
        solution_id: &str,
        action: Action,
        req: ReasonRequest,
    ) -> Result<SolutionView, ApiError> {
        let current = if action.by_admin() {
            admin_only(caller)?;
            self.load_solution(solution_id).await?
        } else if action == Action::Retire && caller.is_admin() {
            self.load_solution(solution_id).await?
        } else {
            self.own_solution(caller, solution_id).await?
        };
        let mut errors = Vec::new();
        let reason = req.reason.as_deref().map(|r| text("reason", r, 1, 500, &mut errors));
        if matches!(action, Action::Reject | Action::Suspend) && reason.is_none() {
            errors.push(FieldError::new("reason", "is required"));
        }
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let now = now_rfc3339(self.clock.as_ref());
        let mut next = current.clone();
        next.updated_at = now.clone();
        next.version = current.version + 1;
        let mut extra = Vec::new();
        let deciding_change = matches!(action, Action::Approve | Action::Reject)
            && matches!(current.status, SolutionStatus::Published | SolutionStatus::Suspended);
        if deciding_change {
            let Some(pending) = current.pending_tiers.clone() else {
                return Err(ApiError::conflict(
                    codes::NO_PENDING_CHANGE,
                    "this solution has no change waiting for approval",
                ));
            };
            if action == Action::Approve {
                // An admin's limit override outlives the partner's change: its limits stay in force.
                let tiers = self.priced(&current, with_overrides(&pending, &current.limit_overrides)).await?;
                extra = self.tier_writes(&current, &tiers, &now)?;
                next.tiers = tiers;
            }
            next.pending_tiers = None;
            next.pending_submitted_at = None;
            next.review_note.clone_from(&reason);
        } else {
            let status =
                transition(current.status, action).ok_or_else(|| invalid_transition(current.status, action))?;
            next.set_status(status);
            match action {
                Action::Submit => {
                    let mut errors = Vec::new();
                    validate_tiers(&current.tiers, &mut errors);
                    if !errors.is_empty() {
                        return Err(ApiError::validation(errors));
                    }
                    next.submitted_at = Some(now.clone());
                    next.review_note = None;
                }
                Action::Approve | Action::Reinstate => {
                    let tiers = self.priced(&current, with_overrides(&current.tiers, &current.limit_overrides)).await?;
                    extra = self.tier_writes(&current, &tiers, &now)?;
                    next.tiers = tiers;
                    if current.published_at.is_none() {
                        next.published_at = Some(now.clone());
                    }
                    next.review_note.clone_from(&reason);
                }
                Action::Reject | Action::Suspend | Action::Retire | Action::Withdraw => {
                    next.review_note.clone_from(&reason);
                }
            }
        }
        if let Some(kind) = audit_kind(action, deciding_change).filter(|_| action.by_admin() || caller.is_admin()) {
            let event = Event::new(kind, &caller.principal.user_id, subject::solution(solution_id));
            extra.push(self.store.tx_put_audit(&self.audit(event.reason(reason.as_deref())))?);
        }
        // Subscribers are billed only for a solution they can use: a suspension or retirement of a solution
        // that had subscribers stops their renewals, a reinstatement restores them (applied to each
        // subscription by the billing run; `billing::holds`).
        let holds = matches!(action, Action::Suspend | Action::Retire | Action::Reinstate)
            && matches!(current.status, SolutionStatus::Published | SolutionStatus::Suspended);
        let mut affected = None;
        if holds {
            // Counted first: a failure here changes nothing, so the admin can simply retry.
            affected = Some(self.store.count_live_subscriptions(solution_id).await?);
            let hold = SolutionHoldItem::new(solution_id, next.status, next.version, reason.clone(), now.clone());
            extra.push(self.store.tx_put(&hold, None)?);
        }
        self.save(&next, current.version, extra).await?;
        if next.tiers != current.tiers {
            self.archive_replaced(solution_id, &current.tiers, &next.tiers).await;
        }
        let mut view = SolutionView::from(&next);
        view.affected_subscriptions = affected;
        tracing::info!(solution_id, action = action.as_str(), status = next.status.as_str(), affected = ?view.affected_subscriptions, by = %caller.principal.user_id, "solution lifecycle");
        Ok(view)
    }

    /// Approved tiers with the platform's Stripe Price of each price (made or found by lookup key); as they
    /// are when Stripe is not configured (they sell on PhonePe only).
    async fn priced(&self, solution: &SolutionItem, tiers: Vec<TierSpec>) -> Result<Vec<TierSpec>, ApiError> {
        #[cfg(feature = "payments")]
        if let Some(book) = &self.prices {
            let mut tiers = tiers;
            book.provision(&solution.solution_id, &solution.name, &mut tiers).await?;
            return Ok(tiers);
        }
        let _ = solution;
        Ok(tiers)
    }

    /// Archive at Stripe the prices an approved change replaced (after the change is saved; a failure is
    /// logged, and nobody can buy them through our API anyway).
    async fn archive_replaced(&self, solution_id: &str, replaced: &[TierSpec], tiers: &[TierSpec]) {
        #[cfg(feature = "payments")]
        if let Some(book) = &self.prices {
            match book.archive_replaced(solution_id, replaced, tiers).await {
                Ok(n) => tracing::info!(archived = n, "replaced stripe prices archived"),
                Err(e) => tracing::warn!(error = %e, "replaced stripe prices not archived"),
            }
        }
        let _ = (solution_id, replaced, tiers);
    }

    /// The tier definitions that put `tiers` in force (what usage limits and new subscriptions read), and
    /// the removal of tiers no longer offered.
    fn tier_writes(
        &self,
        current: &SolutionItem,
        tiers: &[TierSpec],
        now: &str,
    ) -> Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>, ApiError> {
        let mut out = Vec::new();
        for t in tiers {
            let mut def = TierDefinitionItem::new(
                Some(&current.solution_id),
                t.tier,
                t.daily_limit,
                t.monthly_limit,
                now.to_owned(),
            );
            def.prices.clone_from(&t.prices);
            out.push(self.store.tx_put(&def, None)?);
        }
        let offered: HashSet<Tier> = tiers.iter().map(|t| t.tier).collect();
        for old in &current.tiers {
            if !offered.contains(&old.tier) {
                out.push(self.store.tx_delete(&keys::solution_tier(&current.solution_id, old.tier.as_str()))?);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SolutionStatus::*;

    const ACTIONS: [Action; 7] = [
        Action::Submit,
        Action::Withdraw,
        Action::Approve,
        Action::Reject,
        Action::Suspend,
        Action::Reinstate,
        Action::Retire,
    ];

    #[test]
    fn the_lifecycle_allows_exactly_these_transitions() {
        let allowed = [
            (Draft, Action::Submit, Submitted),
            (Submitted, Action::Withdraw, Draft),
            (Submitted, Action::Reject, Draft),
            (Submitted, Action::Approve, Published),
            (Published, Action::Suspend, Suspended),
            (Suspended, Action::Reinstate, Published),
            (Draft, Action::Retire, Retired),
            (Submitted, Action::Retire, Retired),
            (Published, Action::Retire, Retired),
            (Suspended, Action::Retire, Retired),
        ];
        let mut count = 0;
        for from in [Draft, Submitted, Published, Suspended, Retired] {
            for action in ACTIONS {
                let expected = allowed.iter().find(|(f, a, _)| *f == from && *a == action).map(|(_, _, to)| *to);
                assert_eq!(transition(from, action), expected, "{from:?} {action:?}");
                count += usize::from(expected.is_some());
            }
        }
        assert_eq!(count, allowed.len());
        // Nothing leaves retired; nothing publishes without an admin's approve or reinstate.
        assert!(ACTIONS.iter().all(|a| transition(Retired, *a).is_none()));
        for from in [Draft, Submitted, Published, Suspended, Retired] {
            for a in ACTIONS {
                if transition(from, a) == Some(Published) && from != Published {
                    assert!(a.by_admin(), "{a:?} publishes without an admin");
                }
            }
        }
    }
}
