//! The `marketplace` function: the public catalog of published solutions (search, filters, sort orders,
//! cursors), solution details, and reviews. Handlers are thin: parse, call one use case of
//! `shared::marketplace::Marketplace`, respond.

use lambda_http::{Body, Request, Response};
use shared::ApiError;
use shared::identity::jwt::KeySet;
use shared::marketplace::{Marketplace, Query};
use shared::platform::clock::{Clock, SystemClock};
use shared::platform::http;
use shared::setup;
use shared::store::Store;
use std::sync::Arc;

/// Every route this function serves; `infra/template.yaml` must declare exactly these (a test checks).
pub const ROUTES: &[http::Route<Route>] = &[
    ("GET", "/api/solutions", Route::Search),
    ("GET", "/api/solutions/{id}", Route::Details),
    ("POST", "/api/solutions/{id}/reviews", Route::PostReview),
    ("GET", "/api/solutions/{id}/reviews", Route::ListReviews),
];

/// What each row of [`ROUTES`] serves; the handler matches on it (exhaustively: no route goes unhandled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Search,
    Details,
    PostReview,
    ListReviews,
}

/// How long the catalog's list stays cached by default (`CATALOG_CACHE_SECONDS`).
pub const DEFAULT_CACHE_SECONDS: i64 = 30;

pub struct AppState {
    pub marketplace: Marketplace,
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl AppState {
    /// Cold start: configuration, the store and the public token keys (all from the environment).
    pub async fn from_env() -> Result<Self, BoxError> {
        let cache = cache_seconds(std::env::var("CATALOG_CACHE_SECONDS").ok().as_deref())?;
        let sdk = shared::platform::aws::load().await;
        let platform = setup::platform_from_env(&sdk)?;
        Ok(Self::new(platform.store, platform.keys, Arc::new(SystemClock), cache))
    }

    pub fn new(store: Store, keys: KeySet, clock: Arc<dyn Clock>, cache_seconds: i64) -> Self {
        Self { marketplace: Marketplace::new(store, Arc::new(keys), clock, cache_seconds) }
    }
}

/// `CATALOG_CACHE_SECONDS`: how long the catalog's list stays cached per instance (0 turns the cache off);
/// [`DEFAULT_CACHE_SECONDS`] when unset.
pub fn cache_seconds(raw: Option<&str>) -> Result<i64, BoxError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(DEFAULT_CACHE_SECONDS),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=86_400).contains(n))
            .ok_or_else(|| "CATALOG_CACHE_SECONDS must be a number of seconds from 0 to 86400".into()),
    }
}

pub async fn handle(state: &AppState, req: Request) -> Response<Body> {
    http::serve(ROUTES, &req, |route, params| dispatch(state, route, params, &req)).await
}

impl http::Handler for AppState {
    fn handle(&self, req: Request) -> impl Future<Output = Response<Body>> + Send {
        handle(self, req)
    }
}

async fn dispatch(
    state: &AppState,
    route: Route,
    params: Vec<(String, String)>,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let param = |name: &str| http::param(&params, name).to_owned();
    let q = |name: &str| http::query(req, name);
    let m = &state.marketplace;
    match route {
        Route::Search => {
            let query = Query {
                q: q("q"),
                category: q("category"),
                tag: q("tag"),
                sort: q("sort"),
                currency: q("currency"),
                limit: q("limit"),
                cursor: q("cursor"),
            };
            Ok(http::json(200, &m.search(&query).await?))
        }
        Route::Details => Ok(http::json(200, &m.details(&param("id")).await?)),
        Route::PostReview => {
            let caller = m.authenticate(http::bearer(req)).await?;
            let body = http::json_body(req, http::DEFAULT_BODY_LIMIT)?;
            let done = m.review(&caller, &param("id"), body).await?;
            let answer = serde_json::json!({"review": done.review, "rating": done.rating});
            Ok(http::json(if done.created { 201 } else { 200 }, &answer))
        }
        Route::ListReviews => {
            Ok(http::json(200, &m.reviews(&param("id"), q("limit").as_deref(), q("cursor").as_deref()).await?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_seconds_default_zero_and_bounds() {
        assert_eq!(cache_seconds(None).ok(), Some(DEFAULT_CACHE_SECONDS));
        assert_eq!(cache_seconds(Some("0")).ok(), Some(0));
        assert_eq!(cache_seconds(Some(" 120 ")).ok(), Some(120));
        assert!(cache_seconds(Some("-1")).is_err());
        assert!(cache_seconds(Some("soon")).is_err());
    }
}
