//! The `auth` function: sign-up, sessions, solution-scoped tokens, user context and the JWKS.
//! Handlers are thin: parse the request, call one use case of `shared::tokens::AuthService`, respond.

use lambda_http::{Body, Request, Response};
use shared::auth::jwt::{KeySet, TokenKind};
use shared::clock::{Clock, SystemClock};
use shared::config::Config;
use shared::http::{self, RouteMatch};
use shared::store::Store;
use shared::tokens::{AuthService, Refreshed, TokenSettings};
use shared::{ApiError, aws, secrets};
use std::sync::Arc;
use std::time::Instant;

/// Every route this function serves; `infra/template.yaml` must declare exactly these (a test checks).
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/auth/register"),
    ("POST", "/api/auth/login"),
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
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl AppState {
    /// Cold start: configuration, SDK clients and the signing keys (read once from Secrets Manager).
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
            auth: AuthService::new(store, Arc::new(keys), clock, TokenSettings::default()),
        }
    }
}

/// The function's entry point for one request.
pub async fn handle(state: &AppState, req: Request) -> Response<Body> {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let (route, result) = match http::match_route(ROUTES, &method, &path) {
        RouteMatch::Found(i, _params) => (ROUTES[i].1, dispatch(state, i, &req).await),
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

async fn dispatch(
    state: &AppState,
    route: usize,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let auth = &state.auth;
    let limit = http::DEFAULT_BODY_LIMIT;
    match ROUTES[route] {
        ("POST", "/api/auth/register") => {
            let anonymous_id = http::header_str(req, "x-anonymous-id");
            let session = auth
                .register(http::json_body(req, limit)?, anonymous_id)
                .await?;
            Ok(http::json(201, &session))
        }
        ("POST", "/api/auth/login") => Ok(http::json(
            200,
            &auth.login(http::json_body(req, limit)?).await?,
        )),
        ("POST", "/api/generate-token") => {
            let caller = auth.authenticate(http::bearer(req), ACCESS).await?;
            let token = auth.generate(&caller, http::json_body(req, limit)?).await?;
            Ok(http::json(201, &token))
        }
        ("POST", "/api/validate-token") => Ok(http::json(
            200,
            &auth.validate(http::json_body(req, limit)?).await?,
        )),
        ("POST", "/api/refresh-token") => {
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
            let list = auth
                .list_tokens(&caller, limit.as_deref(), cursor.as_deref())
                .await?;
            Ok(http::json(200, &list))
        }
        ("GET", "/api/user-context") => {
            let caller = auth.authenticate(http::bearer(req), ANY_TOKEN).await?;
            Ok(http::json(200, &auth.user_context(&caller).await?))
        }
        ("PUT", "/api/user-tier") => {
            let caller = auth.authenticate(http::bearer(req), ACCESS).await?;
            Ok(http::json(
                200,
                &auth.set_tier(&caller, http::json_body(req, limit)?).await?,
            ))
        }
        ("GET", "/api/user-solutions") => {
            let caller = auth.authenticate(http::bearer(req), ACCESS).await?;
            Ok(http::json(200, &auth.user_solutions(&caller).await?))
        }
        ("GET", "/.well-known/jwks.json") => Ok(http::json_cacheable(200, &auth.jwks(), 300)),
        _ => Err(ApiError::internal("route table and dispatch disagree")),
    }
}
