//! The marketplace: the public catalog of published solutions (search, filters, sort orders, keyset
//! cursors), solution details, and reviews (one per user, editable; the solution's rating summary changes in
//! the same transaction) by verified users who paid for the solution (a payment, or a subscription that was
//! active) or used it on 3 days as its partner attests (events tracked with the partner's API key); never by
//! the partner's own accounts.
//!
//! The catalog reads every published solution from one index partition (`SOLUTIONS#published`) and filters
//! and sorts in memory, with a per-instance cache (`CATALOG_CACHE_SECONDS`): a marketplace holds thousands of
//! solutions, not millions, and one query page holds about 2,000 of them.

use crate::identity::jwt::KeySet;
use crate::identity::{Principal, authenticate};
use crate::model::TokenKind;
use crate::model::{SolutionStatus, TierSpec};
use crate::platform::clock::Clock;
use crate::platform::error::{ApiError, FieldError, codes};
use crate::store::items::{ReviewItem, SolutionItem};
use crate::store::{Store, StoreError, keys};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

const MAX_LIMIT: usize = 100;
const DEFAULT_LIMIT: usize = 20;
const MAX_REVIEW_CHARS: usize = 2_000;
/// Days of partner-attested use (events the partner tracked with its API key) that let a user review.
pub const ATTESTED_DAYS_TO_REVIEW: usize = 3;
/// Writes of one review that lost to a concurrent edit are retried on top of it this often.
const MAX_REVIEW_ATTEMPTS: u32 = 12;

/// Sort orders of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Popular,
    Rating,
    Newest,
    Price,
}

impl Sort {
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        match raw.unwrap_or("popular") {
            "popular" => Ok(Self::Popular),
            "rating" => Ok(Self::Rating),
            "newest" => Ok(Self::Newest),
            "price" => Ok(Self::Price),
            _ => Err(ApiError::field("sort", "must be popular, rating, newest or price")),
        }
    }
}

/// The catalog query.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub q: Option<String>,
    pub category: Option<String>,
    pub tag: Option<String>,
    pub sort: Option<String>,
    pub currency: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rating {
    /// One decimal; `null` when unrated.
    pub average: Option<f64>,
    pub count: u64,
}

fn rating_of(s: &SolutionItem) -> Rating {
    let average = (s.rating_count > 0).then(|| (s.rating_sum as f64 * 10.0 / s.rating_count as f64).round() / 10.0);
    Rating { average, count: s.rating_count }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Listing {
    pub solution_id: String,
    pub name: String,
    pub description: String,
    pub partner_name: String,
    pub category: String,
    pub tags: Vec<String>,
    pub rating: Rating,
    /// The lowest price per currency (minor units); empty for free-only solutions.
    pub prices_from: BTreeMap<String, i64>,
    pub published_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatalogPage {
    pub solutions: Vec<Listing>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Details {
    #[serde(flatten)]
    pub listing: Listing,
    pub website: Option<String>,
    pub time_zone: String,
    pub tiers: Vec<TierView>,
}

/// A tier as the catalog shows it: its limits and prices (not the partner's provider configuration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierView {
    pub tier: crate::model::Tier,
    /// `None` = unlimited.
    pub daily_limit: Option<u64>,
    pub monthly_limit: Option<u64>,
    pub prices: Vec<PriceView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceView {
    /// Minor units.
    pub amount: i64,
    pub currency: String,
    pub period: crate::model::BillingPeriod,
}

fn tier_view(t: &TierSpec) -> TierView {
    TierView {
        tier: t.tier,
        daily_limit: t.daily_limit,
        monthly_limit: t.monthly_limit,
        prices: t
            .prices
            .iter()
            .map(|p| PriceView { amount: p.amount, currency: p.currency.clone(), period: p.period })
            .collect(),
    }
}

fn prices_from(s: &SolutionItem) -> BTreeMap<String, i64> {
    let mut out: BTreeMap<String, i64> = BTreeMap::new();
    for p in s.tiers.iter().flat_map(|t| &t.prices) {
        let e = out.entry(p.currency.clone()).or_insert(p.amount);
        *e = (*e).min(p.amount);
    }
    out
}

fn listing(s: &SolutionItem) -> Listing {
    Listing {
        solution_id: s.solution_id.clone(),
        name: s.name.clone(),
        description: s.description.clone(),
        partner_name: s.partner_name.clone(),
        category: s.category.clone(),
        tags: s.tags.clone(),
        rating: rating_of(s),
        prices_from: prices_from(s),
        published_at: s.published_at.clone(),
    }
}

/// A solution's position in a sort order, compared ascending: first the exact average rating (highest first,
/// unrated last; only the `rating` order sets it), then `key` (descending criteria negated), then the id, so
/// the order is total. A cursor carries the position of the last item it returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Position {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    avg: Option<(u64, u64)>,
    key: Vec<i64>,
    id: String,
}

impl Ord for Position {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let by_avg = match (self.avg, other.avg) {
            // a/b against c/d without rounding: c·b against a·d (reversed: highest first).
            (Some((a, b)), Some((c, d))) => (u128::from(c) * u128::from(b)).cmp(&(u128::from(a) * u128::from(d))),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        by_avg.then_with(|| self.key.cmp(&other.key)).then_with(|| self.id.cmp(&other.id))
    }
}

impl PartialOrd for Position {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The lowest price in `currency`: 0 for free-only solutions, `None` when it is sold but not in `currency`.
fn lowest(s: &SolutionItem, currency: &str) -> Option<i64> {
    let all = prices_from(s);
    if all.is_empty() { Some(0) } else { all.get(currency).copied() }
}

/// When it was published (created, for items without a publication time) in epoch microseconds; unreadable
/// times count as the oldest.
fn published_micros(s: &SolutionItem) -> Option<i64> {
    let at = s.published_at.as_deref().unwrap_or(&s.created_at);
    DateTime::parse_from_rfc3339(at).ok().map(|t| t.timestamp_micros())
}

fn desc(n: u64) -> i64 {
    -i64::try_from(n).unwrap_or(i64::MAX)
}

fn position(s: &SolutionItem, sort: Sort, currency: &str) -> Position {
    // Newest first: negated microseconds (unreadable times last).
    let newest = published_micros(s).map_or(i64::MAX, |t| t.saturating_neg());
    let (avg, key) = match sort {
        Sort::Popular => (None, vec![desc(s.subscribers), desc(s.rating_count), newest]),
        Sort::Rating => {
            let avg = (s.rating_count > 0).then_some((s.rating_sum, s.rating_count));
            (avg, vec![desc(s.rating_count)])
        }
        Sort::Newest => (None, vec![newest]),
        Sort::Price => match lowest(s, currency) {
            Some(p) => (None, vec![0, p]),
            None => (None, vec![1, 0]),
        },
    };
    Position { avg, key, id: s.solution_id.clone() }
}

fn matches(s: &SolutionItem, q: &[String], category: Option<&str>, tag: Option<&str>) -> bool {
    if category.is_some_and(|c| !s.category.eq_ignore_ascii_case(c)) {
        return false;
    }
    if tag.is_some_and(|t| !s.tags.iter().any(|x| x.eq_ignore_ascii_case(t))) {
        return false;
    }
    if q.is_empty() {
        return true;
    }
    let hay =
        format!("{} {} {} {} {}", s.name, s.description, s.category, s.tags.join(" "), s.partner_name).to_lowercase();
    q.iter().all(|term| hay.contains(term.as_str()))
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    /// A short hash of the query the cursor belongs to.
    h: String,
    after: Position,
}

/// A filter parameter as it applies: trimmed, lowercase; blank = absent.
fn filter_value(raw: Option<&str>) -> Option<String> {
    raw.map(str::trim).filter(|v| !v.is_empty()).map(str::to_lowercase)
}

fn terms(q: Option<&str>) -> Vec<String> {
    q.unwrap_or("").split_whitespace().map(str::to_lowercase).collect()
}

/// A short hash of what decides a query's order and members (not its page size): a cursor is bound to it.
fn query_hash(terms: &[String], category: Option<&str>, tag: Option<&str>, sort: Sort, currency: &str) -> String {
    let text = format!(
        "{}\u{1}{}\u{1}{}\u{1}{sort:?}\u{1}{currency}",
        terms.join(" "),
        category.unwrap_or(""),
        tag.unwrap_or("")
    );
    crate::platform::crypto::sha256_hex(text.as_bytes())[..12].to_owned()
}

fn bad_cursor() -> ApiError {
    ApiError::field("cursor", "is not a cursor of this query")
}

/// The published solutions as last read, and when.
type Cached = (DateTime<Utc>, Arc<Vec<SolutionItem>>);

/// The catalog and review use cases.
#[derive(Clone)]
pub struct Marketplace {
    store: Store,
    keys: Arc<KeySet>,
    clock: Arc<dyn Clock>,
    cache_seconds: i64,
    cache: Arc<Mutex<Option<Cached>>>,
}

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

fn not_found() -> ApiError {
    let mut e = ApiError::not_found(codes::SOLUTION_NOT_FOUND, "no published solution with this id");
    e.errors = vec![FieldError::new("id", "no published solution with this id")];
    e
}

impl Marketplace {
    pub fn new(store: Store, keys: Arc<KeySet>, clock: Arc<dyn Clock>, cache_seconds: i64) -> Self {
        Self { store, keys, clock, cache_seconds, cache: Arc::new(Mutex::new(None)) }
    }

    async fn published(&self) -> Result<Arc<Vec<SolutionItem>>, ApiError> {
        let now = self.clock.now();
        if self.cache_seconds > 0
            && let Some((at, list)) = self.cache.lock().unwrap_or_else(PoisonError::into_inner).as_ref()
            && (now - *at).num_seconds() < self.cache_seconds
        {
            return Ok(Arc::clone(list));
        }
        let list = Arc::new(self.store.solutions_by_status(SolutionStatus::Published).await?);
        *self.cache.lock().unwrap_or_else(PoisonError::into_inner) = Some((now, Arc::clone(&list)));
        Ok(list)
    }

    /// `GET /api/solutions`.
    pub async fn search(&self, query: &Query) -> Result<CatalogPage, ApiError> {
        let sort = Sort::parse(query.sort.as_deref())?;
        let currency = query.currency.as_deref().unwrap_or("inr").to_lowercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(ApiError::field("currency", "must be an ISO 4217 code like inr"));
        }
        let limit = match &query.limit {
            None => DEFAULT_LIMIT,
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| ApiError::field("limit", format!("must be an integer from 1 to {MAX_LIMIT}")))?,
        };
        if query.q.as_deref().is_some_and(|q| q.len() > 200) {
            return Err(ApiError::field("q", "must be at most 200 characters"));
        }
        let terms = terms(query.q.as_deref());
        let category = filter_value(query.category.as_deref());
        let tag = filter_value(query.tag.as_deref());
        let hash = query_hash(&terms, category.as_deref(), tag.as_deref(), sort, &currency);
        let after = match &query.cursor {
            None => None,
            Some(c) => {
                let raw = URL_SAFE_NO_PAD.decode(c.as_bytes()).map_err(|_| bad_cursor())?;
                let cursor: Cursor = serde_json::from_slice(&raw).map_err(|_| bad_cursor())?;
                if cursor.h != hash {
                    return Err(bad_cursor());
                }
                Some(cursor.after)
            }
        };
        let all = self.published().await?;
        let mut hits: Vec<(Position, &SolutionItem)> = all
            .iter()
            .filter(|s| s.status == SolutionStatus::Published)
            .filter(|s| matches(s, &terms, category.as_deref(), tag.as_deref()))
            .map(|s| (position(s, sort, &currency), s))
            .filter(|(p, _)| after.as_ref().is_none_or(|a| p > a))
            .collect();
        hits.sort_by(|a, b| a.0.cmp(&b.0));
        let more = hits.len() > limit;
        hits.truncate(limit);
        let next_cursor = if more {
            hits.last().and_then(|(p, _)| {
                serde_json::to_vec(&Cursor { h: hash.clone(), after: p.clone() })
                    .ok()
                    .map(|j| URL_SAFE_NO_PAD.encode(j))
            })
        } else {
            None
        };
        Ok(CatalogPage { solutions: hits.iter().map(|(_, s)| listing(s)).collect(), next_cursor })
    }

    async fn published_solution(&self, solution_id: &str) -> Result<SolutionItem, ApiError> {
        if !crate::platform::ids::is_valid("sol", solution_id) {
            return Err(not_found());
        }
        match self.store.get_solution(solution_id).await? {
            Some(s) if s.status == SolutionStatus::Published => Ok(s),
            _ => Err(not_found()),
        }
    }

    /// `GET /api/solutions/{id}`: published solutions only.
    pub async fn details(&self, solution_id: &str) -> Result<Details, ApiError> {
        let s = self.published_solution(solution_id).await?;
        Ok(Details {
            listing: listing(&s),
            website: s.website.clone(),
            time_zone: s.time_zone.clone(),
            tiers: s.tiers.iter().map(tier_view).collect(),
        })
    }

    pub async fn authenticate(&self, bearer: Option<&str>) -> Result<Principal, ApiError> {
        authenticate(&self.keys, &self.store, bearer, &[TokenKind::Access]).await
    }

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

    /// Why `reviewer` may not review `solution` (`None`: it may): the partner's own accounts never; others
    /// after paying for it, or after [`ATTESTED_DAYS_TO_REVIEW`] days of use its partner attested (tracked
    /// with the partner's API key; usage the user's own token reports proves nothing).
    async fn review_refusal(
        &self,
        reviewer: &crate::store::items::UserItem,
        solution: &SolutionItem,
    ) -> Result<Option<ApiError>, ApiError> {
        let own = reviewer.partner_id.as_deref() == Some(solution.partner_id.as_str())
            || self
                .store
                .get_partner_link(&reviewer.user_id)
                .await?
                .is_some_and(|link| link.partner_id == solution.partner_id);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sol(id: &str, subs: u64, sum: u64, count: u64, published: &str, price: Option<(i64, &str)>) -> SolutionItem {
        let mut s = SolutionItem::new(id, "prt_1", id, "d", SolutionStatus::Published, "UTC", published.into());
        s.subscribers = subs;
        s.rating_sum = sum;
        s.rating_count = count;
        s.published_at = Some(published.into());
        if let Some((amount, currency)) = price {
            s.tiers = vec![TierSpec {
                tier: crate::model::Tier::Pro,
                daily_limit: None,
                monthly_limit: None,
                prices: vec![crate::model::Price {
                    amount,
                    currency: currency.into(),
                    period: crate::model::BillingPeriod::Monthly,
                    stripe_price_id: None,
                }],
            }];
        }
        s
    }

    fn order(list: &[SolutionItem], sort: Sort) -> Vec<String> {
        let mut v: Vec<_> = list.iter().map(|s| (position(s, sort, "inr"), s.solution_id.clone())).collect();
        v.sort();
        v.into_iter().map(|(_, id)| id).collect()
    }

    #[test]
    fn sort_orders_are_total_and_as_documented() {
        let list = vec![
            sol("a", 5, 9, 2, "2026-01-01T00:00:00Z", Some((49_900, "inr"))), // 4.5
            sol("b", 9, 0, 0, "2026-03-01T00:00:00Z", None),                  // unrated, free
            sol("c", 5, 25, 5, "2026-02-01T00:00:00Z", Some((100, "usd"))),   // 5.0, no inr price
            sol("d", 1, 8, 2, "2026-02-01T00:00:00Z", Some((9_900, "inr"))),  // 4.0
        ];
        assert_eq!(order(&list, Sort::Popular), ["b", "c", "a", "d"]);
        assert_eq!(order(&list, Sort::Rating), ["c", "a", "d", "b"]);
        assert_eq!(order(&list, Sort::Newest), ["b", "c", "d", "a"]);
        assert_eq!(order(&list, Sort::Price), ["b", "d", "a", "c"]);
        assert_eq!(rating_of(&list[0]).average, Some(4.5));
        assert_eq!(rating_of(&list[1]).average, None);
    }

    #[test]
    fn averages_compare_exactly_and_times_by_instant() {
        // 4.999999 (10M reviews) against 4.9999995 (2M reviews): equal to six decimals, the second is higher.
        let list = vec![
            sol("a", 0, 49_999_990, 10_000_000, "2026-01-01T00:00:00Z", None),
            sol("b", 0, 9_999_999, 2_000_000, "2026-01-01T00:00:00.5Z", None),
            sol("c", 0, 10, 2, "2026-01-01T05:30:00+05:30", None),
        ];
        assert_eq!(order(&list, Sort::Rating), ["c", "b", "a"]);
        // c was published at the same instant as a (another offset): the id breaks the tie.
        assert_eq!(order(&list, Sort::Newest), ["b", "a", "c"]);
    }

    #[test]
    fn cursors_are_bound_to_what_orders_the_list() {
        let t = terms(Some("  Vector   SEARCH "));
        assert_eq!(t, ["vector", "search"]);
        let base = query_hash(&t, Some("ai"), None, Sort::Price, "inr");
        assert_eq!(base, query_hash(&terms(Some("vector search")), Some("ai"), None, Sort::Price, "inr"));
        assert_ne!(base, query_hash(&t, Some("ai"), None, Sort::Price, "usd"));
        assert_ne!(base, query_hash(&t, Some("ai"), None, Sort::Rating, "inr"));
        assert_ne!(base, query_hash(&t, None, Some("ai"), Sort::Price, "inr"));
        assert_eq!(filter_value(Some("  ")), None);
        assert_eq!(filter_value(Some(" AI ")).as_deref(), Some("ai"));
    }
}
