//! Reviews: one per user and solution, editable, with the solution's rating summary changed in the same
//! transaction; only by verified users who paid for the solution or used it on enough days as its partner
//! attests, never by the partner's own accounts.

use super::{Marketplace, Rating, not_found, rating_of};
use crate::identity::Principal;
use crate::platform::error::{ApiError, FieldError, codes};
use crate::store::reviews::ReviewItem;
use crate::store::solutions::SolutionItem;
use crate::store::{StoreError, keys};
use serde::{Deserialize, Serialize};

const MAX_REVIEW_CHARS: usize = 2_000;
/// Days of partner-attested use (events the partner tracked with its API key) that let a user review.
pub const ATTESTED_DAYS_TO_REVIEW: usize = 3;
/// Writes of one review that lost to a concurrent edit are retried on top of it this often.
const MAX_REVIEW_ATTEMPTS: u32 = 12;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    pub rating: i64,
    #[serde(default)]
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviewView {
    pub solution_id: String,
    pub user_id: String,
    pub author: String,
    pub rating: u8,
    pub text: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&ReviewItem> for ReviewView {
    fn from(r: &ReviewItem) -> Self {
        Self {
            solution_id: r.solution_id.clone(),
            user_id: r.user_id.clone(),
            author: r.author.clone(),
            rating: r.rating,
            text: r.text.clone(),
            created_at: r.created_at.clone(),
            updated_at: r.updated_at.clone(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ReviewPage {
    pub reviews: Vec<ReviewView>,
    pub next_cursor: Option<String>,
}

/// A review written: `created` false when it replaced the user's earlier one.
#[derive(Debug)]
pub struct Reviewed {
    pub created: bool,
    pub review: ReviewView,
    pub rating: Rating,
}

impl Marketplace {
    /// Whether `user_id` paid for the solution at some time: a payment recorded for it, or a subscription
    /// to it that was paid or active (a canceled one counts; a pending, never-paid one does not).
    async fn paid_for(&self, user_id: &str, solution_id: &str) -> Result<bool, ApiError> {
        use crate::model::SubscriptionStatus;
        let paid = self.store.user_subscriptions(user_id).await?.iter().any(|s| {
            s.solution_id == solution_id
                && (!s.reconciled.payments.is_empty()
                    || s.reconciled
                        .latest
                        .as_ref()
                        .is_some_and(|l| matches!(l.status, SubscriptionStatus::Active | SubscriptionStatus::PastDue)))
        });
        if paid {
            return Ok(true);
        }
        Ok(self.store.paid_for_solution(user_id, solution_id).await?)
    }

    /// Whether the user belongs to the partner's organization (any role).
    async fn partner_member(&self, user_id: &str, partner_id: &str) -> Result<bool, ApiError> {
        let Some(org_id) = self.store.partner_org_id(partner_id).await? else {
            return Ok(false);
        };
        Ok(self.store.get_membership(&org_id, user_id).await?.is_some())
    }

    /// Why `reviewer` may not review `solution` (`None`: it may): the partner's own accounts never; others
    /// after paying for it, or after [`ATTESTED_DAYS_TO_REVIEW`] days of use its partner attested (tracked
    /// with the partner's API key; usage the user's own token reports proves nothing).
    async fn review_refusal(
        &self,
        reviewer: &crate::store::users::UserItem,
        solution: &SolutionItem,
    ) -> Result<Option<ApiError>, ApiError> {
        let own = reviewer.partner_id.as_deref() == Some(solution.partner_id.as_str())
            || self
                .store
                .get_partner_link(&reviewer.user_id)
                .await?
                .is_some_and(|link| link.partner_id == solution.partner_id)
            || self.partner_member(&reviewer.user_id, &solution.partner_id).await?;
        if own {
            return Ok(Some(ApiError::new(
                403,
                codes::REVIEW_OWN_SOLUTION,
                "Forbidden",
                "the partner's own accounts cannot review its solutions",
            )));
        }
        if self.paid_for(&reviewer.user_id, &solution.solution_id).await? {
            return Ok(None);
        }
        let days = self.store.attested_days(&reviewer.user_id, &solution.solution_id, ATTESTED_DAYS_TO_REVIEW).await?;
        if days >= ATTESTED_DAYS_TO_REVIEW {
            return Ok(None);
        }
        Ok(Some(ApiError::new(
            403,
            codes::REVIEW_NOT_ALLOWED,
            "Forbidden",
            format!(
                "only users who paid for this solution, or used it on at least {ATTESTED_DAYS_TO_REVIEW} days as \
                 its partner reports, may review it"
            ),
        )))
    }

    /// `POST /api/solutions/{id}/reviews`: create (201) or edit (200) the caller's review.
    pub async fn review(
        &self,
        caller: &Principal,
        solution_id: &str,
        req: ReviewRequest,
    ) -> Result<Reviewed, ApiError> {
        let mut errors = Vec::new();
        if !(1..=5).contains(&req.rating) {
            errors.push(FieldError::new("rating", "must be an integer from 1 to 5"));
        }
        let text = req.text.trim().to_owned();
        if text.chars().count() > MAX_REVIEW_CHARS {
            errors.push(FieldError::new("text", format!("must be at most {MAX_REVIEW_CHARS} characters")));
        }
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let rating = u8::try_from(req.rating).map_err(ApiError::internal)?;
        let solution = self.published_solution(solution_id).await?;
        // Reviews need a verified address (the reviewer's own record, also the author's name).
        let reviewer = Box::pin(self.store.get_user(&caller.user_id)).await?;
        crate::auth::verification::ensure_verified(reviewer.as_ref())?;
        let reviewer = reviewer.ok_or_else(|| ApiError::unauthorized("the account no longer exists"))?;
        if let Some(refused) = Box::pin(self.review_refusal(&reviewer, &solution)).await? {
            return Err(refused);
        }
        let author = reviewer.name;
        let now = crate::platform::clock::rfc3339(self.clock.now());
        for attempt in 0..MAX_REVIEW_ATTEMPTS {
            if attempt > 0 {
                // Another edit of the same review won: back off a little (with jitter) and apply on top of it.
                let jitter = u64::from(crate::platform::crypto::random_bytes::<1>()[0] % 16);
                tokio::time::sleep(std::time::Duration::from_millis(5 * u64::from(attempt) + jitter)).await;
            }
            let existing: Option<ReviewItem> =
                self.store.get(&keys::review(solution_id, &caller.user_id), true).await?;
            let (item, delta_count, delta_sum, expected) = match &existing {
                None => (
                    ReviewItem::new(solution_id, &caller.user_id, &author, rating, &text, now.clone()),
                    1,
                    i64::from(rating),
                    None,
                ),
                Some(old) => {
                    let mut next = old.clone();
                    next.rating = rating;
                    next.text.clone_from(&text);
                    next.author.clone_from(&author);
                    next.updated_at.clone_from(&now);
                    next.version = old.version + 1;
                    (next, 0, i64::from(rating) - i64::from(old.rating), Some(old.version))
                }
            };
            match self.store.write_review(&item, expected, delta_count, delta_sum).await {
                Ok(()) => {
                    // The summary as it is now (a strongly consistent read: it includes this write).
                    let s: Option<SolutionItem> = self.store.get(&keys::solution(solution_id), true).await?;
                    let s = s.ok_or_else(not_found)?;
                    return Ok(Reviewed {
                        created: existing.is_none(),
                        review: ReviewView::from(&item),
                        rating: rating_of(&s),
                    });
                }
                Err(StoreError::Conditional { index: Some(0) }) => continue,
                Err(StoreError::Conditional { .. }) => return Err(not_found()),
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::conflict(codes::CONCURRENT_UPDATE, "the review changed meanwhile; retry"))
    }

    /// `GET /api/solutions/{id}/reviews`: newest first.
    pub async fn reviews(
        &self,
        solution_id: &str,
        limit: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<ReviewPage, ApiError> {
        self.published_solution(solution_id).await?;
        let limit = crate::partners::page_limit(limit)?;
        let (items, next_cursor) = self
            .store
            .gsi1_typed_page(keys::solution_reviews_partition(solution_id), limit, cursor)
            .await?
            .map_err(|()| ApiError::field("cursor", "is not a cursor of this list"))?;
        let items: Vec<ReviewItem> = items;
        let reviews = items.iter().map(ReviewView::from).collect();
        Ok(ReviewPage { reviews, next_cursor })
    }
}
