//! The public catalog: searching the published solutions (terms, category and tag filters, four sort orders,
//! keyset cursors bound to their query) from a per-instance cache of them, and a published solution's details.

use super::{Marketplace, Rating, rating_of};
use crate::model::{SolutionStatus, TierSpec};
use crate::platform::error::ApiError;
use crate::store::solutions::SolutionItem;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::DateTime;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError};

const MAX_LIMIT: usize = 100;
const DEFAULT_LIMIT: usize = 20;

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
    /// Usage-based terms: the allowance and what overage costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<crate::model::UsagePricing>,
}

fn tier_view(t: &TierSpec) -> TierView {
    TierView {
        tier: t.tier,
        daily_limit: t.daily_limit,
        monthly_limit: t.monthly_limit,
        prices: t
            .prices
            .iter()
            .map(|p| PriceView {
                amount: p.amount,
                currency: p.currency.clone(),
                period: p.period,
                usage: p.usage.clone(),
            })
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

impl Marketplace {
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
                prices: vec![crate::model::Price::new(amount, currency, crate::model::BillingPeriod::Monthly)],
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
    fn a_tiers_view_shows_its_usage_terms_and_no_provider_ids() {
        let usage = crate::model::UsagePricing {
            included_monthly: 5_000,
            limit: crate::model::UsageLimit::Soft,
            block_size: 1_000,
            blocks: vec![crate::model::OverageBlock { up_to: None, amount: 1_000 }],
        };
        let price = crate::model::Price {
            stripe_price_id: Some("price_x".into()),
            usage: Some(usage.clone()),
            ..crate::model::Price::new(49_900, "inr", crate::model::BillingPeriod::Monthly)
        };
        let spec =
            TierSpec { tier: crate::model::Tier::Pro, daily_limit: None, monthly_limit: None, prices: vec![price] };
        let json = serde_json::to_value(tier_view(&spec)).expect("json");
        assert_eq!(json["prices"][0]["usage"]["included_monthly"], 5_000);
        assert!(json["prices"][0].get("stripe_price_id").is_none());
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
