//! The `auth` function: sign-up, sessions, solution-scoped tokens, user context and the JWKS.
//! Handlers are thin: parse the request, call one use case of `shared::auth::tokens::AuthService`, respond.

use lambda_http::{Body, Request, Response};
use shared::ApiError;
use shared::auth::tokens::{AuthService, Refreshed, TokenSettings};
use shared::auth::verification::EmailVerification;
use shared::identity::jwt::KeySet;
use shared::identity::throttle;
use shared::model::TokenKind;
use shared::platform::clock::{Clock, SystemClock};
use shared::platform::http;
use shared::setup;
use shared::store::Store;
use std::sync::Arc;

/// Every route this function serves; `infra/template.yaml` must declare exactly these (a test checks).
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/auth/register"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/verify-email"),
    ("POST", "/api/auth/resend-verification"),
    ("POST", "/api/generate-token"),
    ("POST", "/api/validate-token"),
    ("POST", "/api/refresh-token"),
    ("DELETE", "/api/revoke-token"),
    ("GET", "/api/tokens"),
    ("GET", "/api/user-context"),
    ("PUT", "/api/user-tier"),
    ("GET", "/api/user-solutions"),
    ("GET", "/.well-known/jwks.json"),
];

const ACCESS: &[TokenKind] = &[TokenKind::Access];
const ANY_TOKEN: &[TokenKind] = &[TokenKind::Access, TokenKind::Solution];

pub struct AppState {
    pub auth: AuthService,
    /// Email verification (links and throttled resends).
    pub verification: EmailVerification,
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl AppState {
    /// Cold start: configuration, SDK clients and the token keys (read once from Secrets Manager).
    pub async fn from_env() -> Result<Self, BoxError> {
        let platform = setup::load_signing_platform().await?;
        Ok(Self::new(platform.store, platform.keys, Arc::new(SystemClock)))
    }

    pub fn new(store: Store, keys: KeySet, clock: Arc<dyn Clock>) -> Self {
        Self {
            verification: EmailVerification::new(store.clone(), clock.clone()),
            auth: AuthService::new(store, Arc::new(keys), clock, TokenSettings::default()),
        }
    }
}

/// The function's entry point for one request.
pub async fn handle(state: &AppState, req: Request) -> Response<Body> {
    http::serve(ROUTES, &req, |route, _params| dispatch(state, route, &req)).await
}

async fn dispatch(state: &AppState, route: usize, req: &Request) -> Result<Response<Body>, ApiError> {
    let auth = &state.auth;
    let limit = http::DEFAULT_BODY_LIMIT;
    match ROUTES[route] {
        ("POST", "/api/auth/register") => {
            auth.admit(throttle::REGISTER_PER_IP, http::source_ip(req)).await?;
            let anonymous_id = http::header_str(req, "x-anonymous-id");
            let session = auth.register(http::json_body(req, limit)?, anonymous_id).await?;
            Ok(http::json(201, &session))
        }
        ("POST", "/api/auth/login") => {
            auth.admit(throttle::LOGIN_PER_IP, http::source_ip(req)).await?;
            Ok(http::json(200, &auth.login(http::json_body(req, limit)?).await?))
        }
        ("POST", "/api/auth/verify-email") => {
            auth.admit(throttle::VERIFY_EMAIL_PER_IP, http::source_ip(req)).await?;
            Ok(http::json(200, &state.verification.verify(http::json_body(req, limit)?).await?))
        }
        ("POST", "/api/auth/resend-verification") => {
            let caller = auth.authenticate(http::bearer(req), ACCESS).await?;
            Ok(http::json(202, &state.verification.resend(&caller.user_id).await?))
        }
        ("POST", "/api/generate-token") => {
            let caller = auth.authenticate(http::bearer(req), ACCESS).await?;
            let token = auth.generate(&caller, http::json_body(req, limit)?).await?;
            Ok(http::json(201, &token))
        }
        ("POST", "/api/validate-token") => Ok(http::json(
            200,
            &auth.validate_for(http::header_str(req, "x-api-key"), http::json_body(req, limit)?).await?,
        )),
        ("POST", "/api/refresh-token") => {
            auth.admit(throttle::REFRESH_PER_IP, http::source_ip(req)).await?;
            let refreshed: Refreshed = auth.refresh(http::json_body(req, limit)?).await?;
            Ok(http::json(200, &refreshed))
        }
        ("DELETE", "/api/revoke-token") => {
            let caller = auth.authenticate(http::bearer(req), ACCESS).await?;
            auth.revoke(&caller, http::json_body(req, limit)?).await?;
            Ok(http::no_content())
        }
        ("GET", "/api/tokens") => {
            let caller = auth.authenticate(http::bearer(req), ACCESS).await?;
            let limit = http::query(req, "limit");
            let cursor = http::query(req, "cursor");
            let list = auth.list_tokens(&caller, limit.as_deref(), cursor.as_deref()).await?;
            Ok(http::json(200, &list))
        }
        ("GET", "/api/user-context") => {
            let caller = auth.authenticate(http::bearer(req), ANY_TOKEN).await?;
            Ok(http::json(200, &auth.user_context(&caller).await?))
        }
        ("PUT", "/api/user-tier") => {
            let caller = auth.authenticate(http::bearer(req), ACCESS).await?;
            Ok(http::json(200, &auth.set_tier(&caller, http::json_body(req, limit)?).await?))
        }
        ("GET", "/api/user-solutions") => {
            let caller = auth.authenticate(http::bearer(req), ACCESS).await?;
            Ok(http::json(200, &auth.user_solutions(&caller).await?))
        }
        ("GET", "/.well-known/jwks.json") => Ok(http::json_cacheable(200, &auth.jwks(), 300)),
        _ => Err(ApiError::internal("route table and dispatch disagree")),
    }
}
