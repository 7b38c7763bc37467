//! The marketplace: the public catalog of published solutions (search, filters, sort orders, keyset
//! cursors), solution details, and reviews (one per user, editable; the solution's rating summary changes in
//! the same transaction) by verified users who paid for the solution (a payment, or a subscription that was
//! active) or used it on 3 days as its partner attests (events tracked with the partner's API key); never by
//! the partner's own accounts.
//!
//! The catalog reads every published solution from one index partition (`SOLUTIONS#published`) and filters
//! and sorts in memory, with a per-instance cache (`CATALOG_CACHE_SECONDS`): a marketplace holds thousands of
//! solutions, not millions, and one query page holds about 2,000 of them.
//!
//! `catalog` holds the search and a solution's details, `reviews` the reviews; this root holds the service and
//! what both show of a solution (its rating, whether it is published).

mod catalog;
mod reviews;

pub use catalog::{CatalogPage, Details, Listing, PriceView, Query, Sort, TierView};
pub use reviews::{ATTESTED_DAYS_TO_REVIEW, ReviewPage, ReviewRequest, ReviewView, Reviewed};

use crate::identity::jwt::KeySet;
use crate::identity::{Principal, authenticate};
use crate::model::SolutionStatus;
use crate::model::TokenKind;
use crate::platform::clock::Clock;
use crate::platform::error::{ApiError, FieldError, codes};
use crate::store::Store;
use crate::store::solutions::SolutionItem;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

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

fn not_found() -> ApiError {
    let mut e = ApiError::not_found(codes::SOLUTION_NOT_FOUND, "no published solution with this id");
    e.errors = vec![FieldError::new("id", "no published solution with this id")];
    e
}

impl Marketplace {
    pub fn new(store: Store, keys: Arc<KeySet>, clock: Arc<dyn Clock>, cache_seconds: i64) -> Self {
        Self { store, keys, clock, cache_seconds, cache: Arc::new(Mutex::new(None)) }
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

    pub async fn authenticate(&self, bearer: Option<&str>) -> Result<Principal, ApiError> {
        authenticate(&self.keys, &self.store, bearer, &[TokenKind::Access]).await
    }
}
