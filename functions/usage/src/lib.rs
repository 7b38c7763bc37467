//! The `usage` function: track usage against quotas (the hot path), usage history, current quotas, and the
//! admin's quota resets and tier limits. Handlers are thin: parse, call one use case of
//! `shared::usage::UsageService`, respond.

use chrono::Utc;
use lambda_http::http::HeaderValue;
use lambda_http::{Body, Request, Response};
use shared::ApiError;
use shared::identity::jwt::KeySet;
use shared::platform::client_address::OriginVerify;
use shared::platform::clock::{Clock, SystemClock};
use shared::platform::http;
use shared::setup;
use shared::store::Store;
use shared::usage::{BatchRequest, TrackAnswer, TrackRequest, UsageService, UsageSettings};
use std::sync::Arc;

/// Every route this function serves; `infra/template.yaml` must declare exactly these (a test checks).
pub const ROUTES: &[http::Route<Route>] = &[
    ("POST", "/api/track-usage", Route::Track),
    ("POST", "/api/track-usage/batch", Route::TrackBatch),
    ("GET", "/api/usage/{customer_id}", Route::History),
    ("GET", "/api/quotas/{customer_id}/{solution_id}", Route::Quota),
    ("POST", "/api/reset-quota", Route::ResetQuota),
    ("PUT", "/api/tier-limits", Route::TierLimits),
];

/// What each row of [`ROUTES`] serves; the handler matches on it (exhaustively: no route goes unhandled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Track,
    TrackBatch,
    History,
    Quota,
    ResetQuota,
    TierLimits,
}

/// Usage events are small: a tighter cap than the default.
const TRACK_BODY_LIMIT: usize = 8 * 1024;
/// A batch: up to `MAX_BATCH` events.
const BATCH_BODY_LIMIT: usize = shared::usage::MAX_BATCH * 4 * 1024;

pub struct AppState {
    pub usage: UsageService,
    /// The console distribution's origin secret: which requests' viewer address anonymous tracking counts.
    pub origin: OriginVerify,
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl AppState {
    /// Cold start: configuration, SDK clients, the public token keys and the distribution's origin secret, all
    /// from the environment: no network call before the first request.
    pub async fn from_env() -> Result<Self, BoxError> {
        let origin = OriginVerify::from_env()?;
        let platform = setup::load_platform().await?;
        Ok(Self::new(platform.store, platform.keys, Arc::new(SystemClock)).with_origin_verify(origin))
    }

    pub fn new(store: Store, keys: KeySet, clock: Arc<dyn Clock>) -> Self {
        Self {
            usage: UsageService::new(store, Arc::new(keys), clock, UsageSettings::default()),
            origin: OriginVerify::none(),
        }
    }

    /// Behind the console's distribution: believe the viewer address of requests that carry `origin`'s secret.
    pub fn with_origin_verify(mut self, origin: OriginVerify) -> Self {
        self.origin = origin;
        self
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
    let usage = &state.usage;
    match route {
        Route::Track => {
            // Parsed here, judged after the credentials (an unauthenticated caller gets 401, not 400).
            let body = http::json_body(req, TRACK_BODY_LIMIT);
            let answer = usage
                .track_for(
                    http::header_str(req, "x-api-key"),
                    http::bearer(req),
                    http::header_str(req, "x-anonymous-id"),
                    http::header_str(req, "idempotency-key"),
                    http::client_ip(req, &state.origin),
                    body,
                )
                .await?;
            Ok(track_response(&answer, usage.now()))
        }
        Route::TrackBatch => {
            // Judged after the credentials, like the single route's body. Each event is read on its own: a bad
            // one is that event's 400, not the batch's.
            let events = match http::header_str(req, "idempotency-key") {
                Some(_) => {
                    Err(ApiError::field("Idempotency-Key", "is per event in a batch: each event's idempotency_key"))
                }
                None => http::json_body::<BatchRequest>(req, BATCH_BODY_LIMIT).map(|batch| {
                    batch
                        .events
                        .iter()
                        .map(|event| http::parse_json::<TrackRequest>(event.to_string().as_bytes()))
                        .collect()
                }),
            };
            let answer = usage
                .track_batch(
                    http::header_str(req, "x-api-key"),
                    http::bearer(req),
                    http::header_str(req, "x-anonymous-id"),
                    http::client_ip(req, &state.origin),
                    events,
                )
                .await?;
            Ok(http::json(200, &answer))
        }
        Route::History => {
            let caller = usage.authenticate_reader(http::bearer(req)).await?;
            let solution_id = http::query(req, "solution_id");
            let from = http::query(req, "from");
            let to = http::query(req, "to");
            let history = usage
                .history(&caller, &param("customer_id"), solution_id.as_deref(), from.as_deref(), to.as_deref())
                .await?;
            Ok(http::json(200, &history))
        }
        Route::Quota => {
            let caller = usage.authenticate_reader(http::bearer(req)).await?;
            let quota = usage.quota(&caller, &param("customer_id"), &param("solution_id")).await?;
            Ok(http::json(200, &quota))
        }
        Route::ResetQuota => {
            let caller = usage.authenticate(http::bearer(req)).await?;
            let answer = usage.reset(&caller, http::json_body(req, http::DEFAULT_BODY_LIMIT)?).await?;
            Ok(http::json(200, &answer))
        }
        Route::TierLimits => {
            let caller = usage.authenticate(http::bearer(req)).await?;
            let answer = usage.set_limits(&caller, http::json_body(req, http::DEFAULT_BODY_LIMIT)?).await?;
            Ok(http::json(200, &answer))
        }
    }
}

/// 200 or 429, with the `RateLimit-*` headers (and `Retry-After` on 429).
fn track_response(answer: &TrackAnswer, now: chrono::DateTime<Utc>) -> Response<Body> {
    let reset_in = answer.reset_at().map_or(0, |t| (t - now).num_seconds().max(0));
    let mut resp = if answer.allowed {
        http::json(200, answer)
    } else {
        let by_period = answer
            .billing_period
            .as_ref()
            .filter(|_| matches!(answer.refused_by.as_deref(), Some("allowance" | "spending_cap")));
        let (code, title, detail) = match answer.refused_by.as_deref() {
            Some("spending_cap") => (
                shared::platform::error::codes::SPENDING_CAP_REACHED,
                "Spending cap reached",
                "the spending cap on overage is reached for this billing period",
            ),
            Some("allowance") => (
                shared::platform::error::codes::QUOTA_EXCEEDED,
                "Quota exceeded",
                "the allowance of this billing period is used up",
            ),
            Some("monthly_limit") => (
                shared::platform::error::codes::QUOTA_EXCEEDED,
                "Quota exceeded",
                "the monthly quota of this tier is used up",
            ),
            _ => (
                shared::platform::error::codes::QUOTA_EXCEEDED,
                "Quota exceeded",
                "the daily quota of this tier is used up",
            ),
        };
        // Refused for the billing period: it is over when the period ends.
        let retry_in = by_period
            .and_then(|p| chrono::DateTime::parse_from_rfc3339(&p.period_end).ok())
            .map_or(reset_in, |end| (end.with_timezone(&Utc) - now).num_seconds().max(0));
        let mut err = ApiError::new(429, code, title, detail);
        err.retry_after = Some(u64::try_from(retry_in).unwrap_or(0).max(1));
        let mut err = err
            .with_extension("allowed", false.into())
            .with_extension("used", answer.used.into())
            .with_extension("limit", answer.limit.into())
            .with_extension(
                "reset_at",
                by_period.map_or_else(|| answer.reset_at.clone(), |p| p.period_end.clone()).into(),
            );
        if let Some(by) = &answer.refused_by {
            err = err.with_extension("refused_by", by.clone().into());
        }
        if let Some(period) = &answer.billing_period {
            err = err.with_extension("billing_period", serde_json::to_value(period).unwrap_or_default());
        }
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
