//! The `partners` function: partner applications and approval, partner API keys, solutions and their
//! lifecycle, assets, analytics, revenue and payouts.

use lambda_http::{Body, Request, Response};
use shared::{ApiError, http};

/// Every route this function serves; `infra/template.yaml` must declare exactly these (a test checks).
pub const ROUTES: &[(&str, &str)] = &[];

pub struct AppState {}

pub async fn handle(_state: &AppState, req: Request) -> Response<Body> {
    http::serve(ROUTES, &req, |_route, _params| async {
        Err::<Response<Body>, ApiError>(ApiError::internal("not yet"))
    })
    .await
}
