//! The `usage` function: track usage against quotas (the hot path), usage history, current quotas, and the
//! admin's quota resets and tier limits. Handlers are thin: parse, call one use case of
//! `shared::usage::UsageService`, respond.

use chrono::Utc;
use lambda_http::http::HeaderValue;
use lambda_http::{Body, Request, Response};
use shared::auth::jwt::KeySet;
use shared::clock::{Clock, SystemClock};
use shared::config::Config;
use shared::http::{self, RouteMatch};
use shared::store::Store;
use shared::usage::{TrackAnswer, UsageService, UsageSettings};
use shared::{ApiError, aws, secrets};
use std::sync::Arc;
use std::time::Instant;

/// Every route this function serves; `infra/template.yaml` must declare exactly these (a test checks).
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/track-usage"),
    ("GET", "/api/usage/{customer_id}"),
    ("GET", "/api/quotas/{customer_id}/{solution_id}"),
    ("POST", "/api/reset-quota"),
    ("PUT", "/api/tier-limits"),
];

/// Usage events are small: a tighter cap than the default.
const TRACK_BODY_LIMIT: usize = 8 * 1024;

pub struct AppState {
    pub usage: UsageService,
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl AppState {
    /// Cold start: configuration, SDK clients and the token-verification keys (read once).
    pub async fn from_env() -> Result<Self, BoxError> {
        let config = Config::from_env()?;
        let sdk = aws::load().await;
        let secret =
            secrets::get_string(&secrets::client(&sdk), &config.signing_key_secret_id).await?;
        let keys = KeySet::from_secret_json(&config.jwt_issuer, &secret)?;
        let store = Store::new(aws::dynamodb(&sdk), config.table_name);
        Ok(Self::new(store, keys, Arc::new(SystemClock)))
    }

    pub fn new(store: Store, keys: KeySet, clock: Arc<dyn Clock>) -> Self {
        Self {
            usage: UsageService::new(store, Arc::new(keys), clock, UsageSettings::default()),
        }
    }
}

pub async fn handle(state: &AppState, req: Request) -> Response<Body> {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let (route, result) = match http::match_route(ROUTES, &method, &path) {
        RouteMatch::Found(i, params) => (ROUTES[i].1, dispatch(state, i, &params, &req).await),
        RouteMatch::MethodNotAllowed => ("-", Err(ApiError::method_not_allowed(&method, &path))),
        RouteMatch::NotFound => ("-", Err(ApiError::route_not_found(&method, &path))),
    };
    let code = result.as_ref().err().map(|e| e.code.to_string());
    let resp = http::render(result);
    tracing::info!(
        method = %method,
        route,
        status = resp.status().as_u16(),
        code = code.as_deref().unwrap_or(""),
        elapsed_us = started.elapsed().as_micros() as u64,
        "request"
    );
    resp
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

async fn dispatch(
    state: &AppState,
    route: usize,
    params: &[(String, String)],
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let usage = &state.usage;
    match ROUTES[route] {
        ("POST", "/api/track-usage") => {
            let body = http::json_body(req, TRACK_BODY_LIMIT)?;
            let answer = usage
                .track(
                    http::bearer(req),
                    http::header_str(req, "x-anonymous-id"),
                    http::header_str(req, "idempotency-key"),
                    body,
                )
                .await?;
            Ok(track_response(&answer, usage.now()))
        }
        ("GET", "/api/usage/{customer_id}") => {
            let caller = usage.authenticate(http::bearer(req)).await?;
            let solution_id = http::query(req, "solution_id");
            let from = http::query(req, "from");
            let to = http::query(req, "to");
            let history = usage
                .history(
                    &caller,
                    param(params, "customer_id"),
                    solution_id.as_deref(),
                    from.as_deref(),
                    to.as_deref(),
                )
                .await?;
            Ok(http::json(200, &history))
        }
        ("GET", "/api/quotas/{customer_id}/{solution_id}") => {
            let caller = usage.authenticate(http::bearer(req)).await?;
            let quota = usage
                .quota(
                    &caller,
                    param(params, "customer_id"),
                    param(params, "solution_id"),
                )
                .await?;
            Ok(http::json(200, &quota))
        }
        ("POST", "/api/reset-quota") => {
            let caller = usage.authenticate(http::bearer(req)).await?;
            let answer = usage
                .reset(&caller, http::json_body(req, http::DEFAULT_BODY_LIMIT)?)
                .await?;
            Ok(http::json(200, &answer))
        }
        ("PUT", "/api/tier-limits") => {
            let caller = usage.authenticate(http::bearer(req)).await?;
            let answer = usage
                .set_limits(&caller, http::json_body(req, http::DEFAULT_BODY_LIMIT)?)
                .await?;
            Ok(http::json(200, &answer))
        }
        _ => Err(ApiError::internal("route table and dispatch disagree")),
    }
}

/// 200 or 429, with the `RateLimit-*` headers (and `Retry-After` on 429).
fn track_response(answer: &TrackAnswer, now: chrono::DateTime<Utc>) -> Response<Body> {
    let reset_in = answer
        .reset_at()
        .map_or(0, |t| (t - now).num_seconds().max(0));
    let mut resp = if answer.allowed {
        http::json(200, answer)
    } else {
        let mut err = ApiError::new(
            429,
            "quota_exceeded",
            "Quota exceeded",
            "the daily quota of this tier is used up",
        );
        err.retry_after = Some(u64::try_from(reset_in).unwrap_or(0).max(1));
        let err = err
            .with_extension("allowed", false.into())
            .with_extension("used", answer.used.into())
            .with_extension("limit", answer.limit.into())
            .with_extension("reset_at", answer.reset_at.clone().into());
        http::problem(&err)
    };
    if let Some(limit) = answer.limit {
        let remaining = limit.saturating_sub(answer.used);
        let headers = resp.headers_mut();
        for (name, value) in [
            ("ratelimit-limit", limit.to_string()),
            ("ratelimit-remaining", remaining.to_string()),
            ("ratelimit-reset", reset_in.to_string()),
        ] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        }
    }
    resp
}
