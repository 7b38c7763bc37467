//! Solutions of partners: drafts with tiers and prices, and their lifecycle
//! draft → submitted → published → suspended / retired, with an admin's approval to publish. A change of
//! tiers or prices of a published solution waits for approval (`pending_tiers`); once approved it applies to
//! new subscriptions at once and to existing subscribers at their next renewal (their subscription keeps the
//! price it was bought at until then).

use super::{Caller, PartnerService, admin_only, bad_cursor, now_rfc3339, page_limit, text, website};
use crate::model::{LimitsOverride, SolutionStatus, Tier, TierSpec, with_overrides};
use crate::platform::error::{ApiError, FieldError, codes};
use crate::store::items::{SolutionHoldItem, SolutionItem, TierDefinitionItem};
use crate::store::{StoreError, keys};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

const MAX_TAGS: usize = 10;
const MAX_LIMIT: u64 = 1_000_000_000;

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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    #[serde(default)]
    pub reason: Option<String>,
}

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

/// A lowercase slug of 1..=`max` characters of `[a-z0-9-]`.
fn slug(field: &str, raw: &str, max: usize, errors: &mut Vec<FieldError>) -> String {
    let s = raw.trim().to_lowercase();
    let ok =
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        errors.push(FieldError::new(field, format!("must be 1 to {max} characters of [a-z0-9-]")));
    }
    s
}

fn tags(raw: &[String], errors: &mut Vec<FieldError>) -> Vec<String> {
    if raw.len() > MAX_TAGS {
        errors.push(FieldError::new("tags", format!("at most {MAX_TAGS} tags")));
    }
    let mut out: Vec<String> =
        raw.iter().enumerate().map(|(i, t)| slug(&format!("tags[{i}]"), t, 30, errors)).collect();
    out.sort();
    out.dedup();
    out
}

fn time_zone(raw: &str, errors: &mut Vec<FieldError>) -> String {
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
    }
}

/// Partners declare a price as amount, currency and period: the Stripe Price is the platform's, made when
/// an admin approves the tier.
fn declared_only(tiers: &[TierSpec], errors: &mut Vec<FieldError>) {
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

fn sorted(mut tiers: Vec<TierSpec>) -> Vec<TierSpec> {
    tiers.sort_by_key(|t| t.tier);
    tiers
}

pub(crate) fn solution_not_found() -> ApiError {
    let mut e = ApiError::not_found(codes::SOLUTION_NOT_FOUND, "no solution with this id");
    e.errors = vec![FieldError::new("id", "no solution with this id")];
    e
}

fn invalid_transition(from: SolutionStatus, action: Action) -> ApiError {
    ApiError::conflict(codes::INVALID_TRANSITION, format!("a {} solution cannot {}", from.as_str(), action.as_str()))
        .with_extension("status", from.as_str().into())
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
        let partner = caller.approved_partner()?;
        let solution = self.load_solution(solution_id).await?;
        if solution.partner_id != partner.partner_id {
            return Err(ApiError::forbidden("you may only change your own solutions"));
        }
        Ok(solution)
    }

    /// `POST /api/partners/solutions`: a draft of the caller's partner.
    pub async fn create_solution(&self, caller: &Caller, req: SolutionRequest) -> Result<SolutionView, ApiError> {
        let partner = caller.approved_partner()?;
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
        self.store.put(&item, Some("attribute_not_exists(PK)")).await?;
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
        if action.by_admin() || caller.is_admin() {
            let audit = self.audit(&format!("solution#{solution_id}"), action.as_str(), caller, reason.as_deref());
            extra.push(self.store.tx_put(&audit, None)?);
        }
        // Subscribers are billed only for a solution they can use: a suspension or retirement of a solution
        // that had subscribers stops their renewals, a reinstatement restores them (applied to each
        // subscription by the billing run; `subscriptions::holds`).
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

    /// One solution for its partner or an admin (any status).
    pub async fn solution(&self, caller: &Caller, solution_id: &str) -> Result<SolutionView, ApiError> {
        let s = self.load_solution(solution_id).await?;
        if !caller.is_admin() && caller.partner.as_ref().is_none_or(|p| p.partner_id != s.partner_id) {
            return Err(ApiError::forbidden("you may only read your own solutions"));
        }
        Ok(SolutionView::from(&s))
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

    fn price(amount: i64, currency: &str) -> crate::model::Price {
        crate::model::Price {
            amount,
            currency: currency.into(),
            period: crate::model::BillingPeriod::Monthly,
            stripe_price_id: None,
        }
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
}
