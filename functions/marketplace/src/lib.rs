//! The `marketplace` function: the public catalog of published solutions (search, filters, sort orders,
//! cursors), solution details, and reviews. Handlers are thin: parse, call one use case of
//! `shared::catalog::Marketplace`, respond.

use lambda_http::{Body, Request, Response};
use shared::auth::jwt::KeySet;
use shared::catalog::{Marketplace, Query};
use shared::clock::{Clock, SystemClock};
use shared::store::Store;
use shared::{ApiError, http, secrets};
use std::sync::Arc;

/// Every route this function serves; `infra/template.yaml` must declare exactly these (a test checks).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/solutions"),
    ("GET", "/api/solutions/{id}"),
    ("POST", "/api/solutions/{id}/reviews"),
    ("GET", "/api/solutions/{id}/reviews"),
];

/// How long the catalog's list stays cached by default (`CATALOG_CACHE_SECONDS`).
pub const DEFAULT_CACHE_SECONDS: i64 = 30;

pub struct AppState {
    pub marketplace: Marketplace,
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl AppState {
    /// Cold start: configuration, the store and the token keys (read once from Secrets Manager).
    pub async fn from_env() -> Result<Self, BoxError> {
        let platform = secrets::load_platform().await?;
        let cache = match std::env::var("CATALOG_CACHE_SECONDS") {
            Ok(v) => v.parse::<i64>().map_err(|_| "CATALOG_CACHE_SECONDS must be a number of seconds")?,
            Err(_) => DEFAULT_CACHE_SECONDS,
        };
        Ok(Self::new(platform.store, platform.keys, Arc::new(SystemClock), cache))
    }

    pub fn new(store: Store, keys: KeySet, clock: Arc<dyn Clock>, cache_seconds: i64) -> Self {
        Self { marketplace: Marketplace::new(store, Arc::new(keys), clock, cache_seconds) }
    }
}

pub async fn handle(state: &AppState, req: Request) -> Response<Body> {
    http::serve(ROUTES, &req, |route, params| dispatch(state, route, params, &req)).await
}

async fn dispatch(
    state: &AppState,
    route: usize,
    params: Vec<(String, String)>,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let param = |name: &str| http::param(&params, name).to_owned();
    let q = |name: &str| http::query(req, name);
    let m = &state.marketplace;
    match ROUTES[route] {
        ("GET", "/api/solutions") => {
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
        ("GET", "/api/solutions/{id}") => Ok(http::json(200, &m.details(&param("id")).await?)),
        ("POST", "/api/solutions/{id}/reviews") => {
            let caller = m.authenticate(http::bearer(req)).await?;
            let body = http::json_body(req, http::DEFAULT_BODY_LIMIT)?;
            let done = m.review(&caller, &param("id"), body).await?;
            let answer = serde_json::json!({"review": done.review, "rating": done.rating});
            Ok(http::json(if done.created { 201 } else { 200 }, &answer))
        }
        ("GET", "/api/solutions/{id}/reviews") => {
            Ok(http::json(200, &m.reviews(&param("id"), q("limit").as_deref(), q("cursor").as_deref()).await?))
        }
        _ => Err(ApiError::internal("route table and dispatch disagree")),
    }
}
