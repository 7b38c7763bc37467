//! The `auth` function: sign-up, sessions, solution-scoped tokens, user context, the JWKS, the admins'
//! reading of the audit trail and a user's data rights (export, erasure).
//! Handlers are thin: parse the request, call one use case of `shared::auth::AuthService`, respond.

use lambda_http::{Body, Request, Response};
use shared::ApiError;
use shared::audit::{AuditLog, AuditQuery};
use shared::auth::health::Liveness;
use shared::auth::verification::EmailVerification;
use shared::auth::{AuthService, Refreshed, TokenKeys, TokenSettings};
use shared::identity::jwt::KeySet;
use shared::identity::throttle;
use shared::model::TokenKind;
use shared::platform::client_address::OriginVerify;
use shared::platform::clock::{Clock, SystemClock};
use shared::platform::http;
use shared::privacy::DataRights;
use shared::setup;
use shared::store::Store;
use std::sync::Arc;

/// Every route this function serves; `infra/template.yaml` must declare exactly these (a test checks).
pub const ROUTES: &[http::Route<Route>] = &[
    ("POST", "/api/auth/register", Route::Register),
    ("POST", "/api/auth/login", Route::Login),
    ("POST", "/api/auth/verify-email", Route::VerifyEmail),
    ("POST", "/api/auth/resend-verification", Route::ResendVerification),
    ("POST", "/api/generate-token", Route::GenerateToken),
    ("POST", "/api/validate-token", Route::ValidateToken),
    ("POST", "/api/refresh-token", Route::RefreshToken),
    ("DELETE", "/api/revoke-token", Route::RevokeToken),
    ("GET", "/api/tokens", Route::ListTokens),
    ("GET", "/api/user-context", Route::UserContext),
    ("PUT", "/api/user-tier", Route::SetTier),
    ("GET", "/api/admin/users", Route::FindUser),
    ("GET", "/api/admin/audit", Route::AuditTrail),
    ("GET", "/api/admin/health", Route::Readiness),
    ("GET", "/api/health", Route::Health),
    ("GET", "/api/user-solutions", Route::UserSolutions),
    ("GET", "/.well-known/jwks.json", Route::Jwks),
    ("POST", "/api/orgs", Route::CreateOrg),
    ("GET", "/api/orgs", Route::ListOrgs),
    ("GET", "/api/orgs/{org_id}", Route::GetOrg),
    ("PATCH", "/api/orgs/{org_id}", Route::RenameOrg),
    ("GET", "/api/orgs/{org_id}/members", Route::ListMembers),
    ("PUT", "/api/orgs/{org_id}/members/{user_id}", Route::SetMemberRole),
    ("DELETE", "/api/orgs/{org_id}/members/{user_id}", Route::RemoveMember),
    ("POST", "/api/orgs/{org_id}/transfer-ownership", Route::TransferOwnership),
    ("POST", "/api/orgs/{org_id}/invitations", Route::Invite),
    ("GET", "/api/orgs/{org_id}/invitations", Route::ListInvitations),
    ("DELETE", "/api/orgs/{org_id}/invitations/{invitation_id}", Route::RevokeInvitation),
    ("GET", "/api/invitations", Route::MyInvitations),
    ("POST", "/api/invitations/{invitation_id}/accept", Route::AcceptInvitation),
    ("GET", "/api/me/export", Route::ExportMyData),
    ("DELETE", "/api/me", Route::EraseMe),
];

/// What each row of [`ROUTES`] serves; the handler matches on it (exhaustively: no route goes unhandled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Register,
    Login,
    VerifyEmail,
    ResendVerification,
    GenerateToken,
    ValidateToken,
    RefreshToken,
    RevokeToken,
    ListTokens,
    UserContext,
    SetTier,
    /// An admin's look-up of a user by email address.
    FindUser,
    /// The audit trail (admins).
    AuditTrail,
    /// Readiness (admins): the table and the signing key, each with its latency.
    Readiness,
    /// Liveness (public): touches nothing.
    Health,
    UserSolutions,
    Jwks,
    CreateOrg,
    ListOrgs,
    GetOrg,
    RenameOrg,
    ListMembers,
    SetMemberRole,
    RemoveMember,
    TransferOwnership,
    Invite,
    ListInvitations,
    RevokeInvitation,
    MyInvitations,
    AcceptInvitation,
    /// Everything about the caller (sessions only).
    ExportMyData,
    /// Erase the caller's account (sessions only, with the current password and a confirmation).
    EraseMe,
}

const ACCESS: &[TokenKind] = &[TokenKind::Access];
const ANY_TOKEN: &[TokenKind] = &[TokenKind::Access, TokenKind::Solution];

pub struct AppState {
    pub auth: AuthService,
    /// Email verification (links and throttled resends).
    pub verification: EmailVerification,
    /// The console distribution's origin secret: which requests' viewer address the per-IP limits count.
    pub origin: OriginVerify,
    /// The admins' reading of the audit trail.
    pub audit: AuditLog,
    /// A user's data rights: export and erasure.
    pub rights: DataRights,
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl AppState {
    /// Cold start: configuration and SDK clients, with no call: the signing key is read from Secrets Manager
    /// by the first request that signs a token or serves the JWKS, and kept (see `setup::load_signing_platform`);
    /// the distribution's origin secret comes with the configuration (`ORIGIN_VERIFY_SECRET`).
    pub async fn from_env() -> Result<Self, BoxError> {
        let origin = OriginVerify::from_env()?;
        let (store, keys) = setup::load_signing_platform().await?;
        Ok(Self::with_keys(store, keys, Arc::new(SystemClock)).with_origin_verify(origin))
    }

    pub fn new(store: Store, keys: KeySet, clock: Arc<dyn Clock>) -> Self {
        Self::with_keys(store, TokenKeys::ready(keys), clock)
    }

    pub fn with_keys(store: Store, keys: TokenKeys, clock: Arc<dyn Clock>) -> Self {
        Self {
            verification: EmailVerification::new(store.clone(), clock.clone()),
            audit: AuditLog::new(store.clone(), clock.clone()),
            rights: DataRights::new(store.clone(), clock.clone()),
            auth: AuthService::with_keys(store, keys, clock, TokenSettings::default()),
            origin: OriginVerify::none(),
        }
    }

    /// Behind the console's distribution: believe the viewer address of requests that carry `origin`'s secret.
    pub fn with_origin_verify(mut self, origin: OriginVerify) -> Self {
        self.origin = origin;
        self
    }
}

/// The function's entry point for one request.
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
    let auth = &state.auth;
    let limit = http::DEFAULT_BODY_LIMIT;
    match route {
        Route::Register => {
            auth.admit(throttle::REGISTER_PER_IP, http::client_ip(req, &state.origin)).await?;
            let anonymous_id = http::header_str(req, "x-anonymous-id");
            let session = auth.register(http::json_body(req, limit)?, anonymous_id).await?;
            Ok(http::json(201, &session))
        }
        Route::Login => {
            let source_ip = http::client_ip(req, &state.origin);
            auth.admit(throttle::LOGIN_PER_IP, source_ip).await?;
            Ok(http::json(200, &auth.login(http::json_body(req, limit)?, source_ip).await?))
        }
        Route::VerifyEmail => {
            auth.admit(throttle::VERIFY_EMAIL_PER_IP, http::client_ip(req, &state.origin)).await?;
            Ok(http::json(200, &state.verification.verify(http::json_body(req, limit)?).await?))
        }
        Route::ResendVerification => {
            let caller = auth.authenticate(http::bearer(req), ACCESS).await?;
            Ok(http::json(202, &state.verification.resend(&caller.user_id).await?))
        }
        Route::GenerateToken => {
            let caller = auth.authenticate(http::bearer(req), ACCESS).await?;
            let token = auth.generate(&caller, http::json_body(req, limit)?).await?;
            Ok(http::json(201, &token))
        }
        Route::ValidateToken => Ok(http::json(
            200,
            &auth.validate_for(http::header_str(req, "x-api-key"), http::json_body(req, limit)?).await?,
        )),
        Route::RefreshToken => {
            auth.admit(throttle::REFRESH_PER_IP, http::client_ip(req, &state.origin)).await?;
            let refreshed: Refreshed = auth.refresh(http::json_body(req, limit)?).await?;
            Ok(http::json(200, &refreshed))
        }
        Route::RevokeToken => {
            let caller = auth.authenticate(http::bearer(req), ACCESS).await?;
            auth.revoke(&caller, http::json_body(req, limit)?, http::client_ip(req, &state.origin)).await?;
            Ok(http::no_content())
        }
        Route::ListTokens => {
            let caller = auth.authenticate(http::bearer(req), ACCESS).await?;
            let limit = http::query(req, "limit");
            let cursor = http::query(req, "cursor");
            let list = auth.list_tokens(&caller, limit.as_deref(), cursor.as_deref()).await?;
            Ok(http::json(200, &list))
        }
        Route::UserContext => {
            let caller = auth.authenticate(http::bearer(req), ANY_TOKEN).await?;
            Ok(http::json(200, &auth.user_context(&caller).await?))
        }
        Route::SetTier => {
            let caller = auth.authenticate(http::bearer(req), ACCESS).await?;
            Ok(http::json(200, &auth.set_tier(&caller, http::json_body(req, limit)?).await?))
        }
        Route::FindUser => {
            let caller = auth.authenticate(http::bearer(req), ACCESS).await?;
            Ok(http::json(200, &auth.find_user(&caller, http::query(req, "email").as_deref()).await?))
        }
        Route::AuditTrail => {
            let caller = auth.authenticate(http::bearer(req), ACCESS).await?;
            let query = AuditQuery {
                kind: http::query(req, "kind"),
                actor: http::query(req, "actor"),
                subject: http::query(req, "subject"),
                from: http::query(req, "from"),
                to: http::query(req, "to"),
                limit: http::query(req, "limit"),
                cursor: http::query(req, "cursor"),
            };
            Ok(http::json(200, &state.audit.list(&caller, query).await?))
        }
        Route::Readiness => {
            // The session check reads the table too: its failing is this route's 503, never another 5xx.
            let caller = auth
                .authenticate(http::bearer(req), ACCESS)
                .await
                .map_err(|e| if e.status >= 500 { ApiError::unavailable(1) } else { e })?;
            let readiness = auth.readiness(&caller).await?;
            Ok(http::json(if readiness.ready() { 200 } else { 503 }, &readiness))
        }
        Route::Health => Ok(http::json(200, &Liveness::new("auth", env!("CARGO_PKG_VERSION")))),
        Route::UserSolutions => {
            let caller = auth.authenticate(http::bearer(req), ACCESS).await?;
            Ok(http::json(200, &auth.user_solutions(&caller).await?))
        }
        Route::Jwks => Ok(http::json_cacheable(200, &auth.jwks().await?, 300)),
        Route::ExportMyData => {
            let caller = auth.authenticate(http::bearer(req), ACCESS).await?;
            Ok(http::json(200, &state.rights.export(&caller, http::client_ip(req, &state.origin)).await?))
        }
        Route::EraseMe => {
            let caller = auth.authenticate(http::bearer(req), ACCESS).await?;
            let body = http::json_body(req, limit)?;
            Ok(http::json(200, &state.rights.erase(&caller, body, http::client_ip(req, &state.origin)).await?))
        }
        // Boxed: the organization routes keep their (large) future off every other route's.
        _ => Box::pin(organizations(auth, route, &params, req)).await,
    }
}

/// The organization routes: sessions only (a solution token acts for an organization, never manages one).
async fn organizations(
    auth: &AuthService,
    route: Route,
    params: &[(String, String)],
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let param = |name: &str| http::param(params, name).to_owned();
    let caller = auth.authenticate(http::bearer(req), ACCESS).await?;
    let limit = http::DEFAULT_BODY_LIMIT;
    let org = || param("org_id");
    match route {
        Route::CreateOrg => Ok(http::json(201, &auth.create_org(&caller, http::json_body(req, limit)?).await?)),
        Route::ListOrgs => Ok(http::json(200, &auth.list_orgs(&caller).await?)),
        Route::GetOrg => Ok(http::json(200, &auth.get_org(&caller, &org()).await?)),
        Route::RenameOrg => Ok(http::json(200, &auth.rename_org(&caller, &org(), http::json_body(req, limit)?).await?)),
        Route::ListMembers => Ok(http::json(200, &auth.list_members(&caller, &org()).await?)),
        Route::SetMemberRole => {
            let body = http::json_body(req, limit)?;
            Ok(http::json(200, &auth.set_member_role(&caller, &org(), &param("user_id"), body).await?))
        }
        Route::RemoveMember => {
            auth.remove_member(&caller, &org(), &param("user_id")).await?;
            Ok(http::no_content())
        }
        Route::TransferOwnership => {
            Ok(http::json(200, &auth.transfer_ownership(&caller, &org(), http::json_body(req, limit)?).await?))
        }
        Route::Invite => {
            let invited = auth.invite(&caller, &org(), http::json_body(req, limit)?).await?;
            Ok(http::json(if invited.created { 201 } else { 200 }, &invited.invitation))
        }
        Route::ListInvitations => {
            let (limit, cursor) = (http::query(req, "limit"), http::query(req, "cursor"));
            Ok(http::json(200, &auth.org_invitations(&caller, &org(), limit.as_deref(), cursor.as_deref()).await?))
        }
        Route::RevokeInvitation => {
            auth.revoke_invitation(&caller, &org(), &param("invitation_id")).await?;
            Ok(http::no_content())
        }
        Route::MyInvitations => Ok(http::json(200, &auth.my_invitations(&caller).await?)),
        Route::AcceptInvitation => {
            Ok(http::json(200, &auth.accept_invitation(&caller, &param("invitation_id")).await?))
        }
        _ => Err(ApiError::route_not_found(req.method().as_str(), req.uri().path())),
    }
}
