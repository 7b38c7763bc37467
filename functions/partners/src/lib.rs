//! The `partners` function: partner applications and their admin review, partner API keys, solutions and
//! their lifecycle (with admin approval), asset uploads, analytics, revenue and payouts, and the admins' view of
//! dead-lettered email notifications (list, retry). Handlers are thin:
//! parse, call one use case of `shared::partners::PartnerService` (or `shared::ledger`), respond.

use lambda_http::{Body, Request, Response};
use shared::ApiError;
use shared::identity::jwt::KeySet;
use shared::ledger::PartnerLedger;
use shared::model::OrgRole;
use shared::partners::solutions::Action;
use shared::partners::{AssetStore, PartnerService};
use shared::payments::stripe::prices::PriceBook;
use shared::platform::client_address::OriginVerify;
use shared::platform::clock::{Clock, SystemClock};
use shared::platform::deferred::Deferred;
use shared::platform::http;
use shared::platform::sealed::Sealer;
use shared::setup;
use shared::store::Store;
use std::sync::Arc;

/// Every route this function serves; `infra/template.yaml` must declare exactly these (a test checks).
/// Literal segments come before parameters where both could match.
pub const ROUTES: &[http::Route<Route>] = &[
    ("POST", "/api/partners/apply", Route::Apply),
    ("POST", "/api/partners/solutions", Route::CreateSolution),
    ("GET", "/api/partners/solutions/{id}", Route::Solution),
    ("PUT", "/api/partners/solutions/{id}", Route::UpdateSolution),
    ("POST", "/api/partners/solutions/{id}/submit", Route::SubmitSolution),
    ("POST", "/api/partners/solutions/{id}/withdraw", Route::WithdrawSolution),
    ("POST", "/api/partners/solutions/{id}/retire", Route::RetireSolution),
    ("POST", "/api/partners/solutions/{id}/assets", Route::AssetUpload),
    ("GET", "/api/partners/{id}", Route::Partner),
    ("GET", "/api/partners/{id}/solutions", Route::PartnerSolutions),
    ("GET", "/api/partners/{id}/api-keys", Route::ListKeys),
    ("POST", "/api/partners/{id}/api-keys", Route::CreateKey),
    ("DELETE", "/api/partners/{id}/api-keys/{key_id}", Route::RevokeKey),
    ("GET", "/api/partners/{id}/analytics", Route::Analytics),
    ("GET", "/api/partners/{id}/revenue", Route::Revenue),
    ("GET", "/api/partners/{id}/payouts", Route::Payouts),
    ("GET", "/api/admin/partners", Route::ListPartners),
    ("POST", "/api/admin/partners/{id}/approve", Route::ApprovePartner),
    ("POST", "/api/admin/partners/{id}/reject", Route::RejectPartner),
    ("GET", "/api/admin/solutions", Route::ReviewQueue),
    ("POST", "/api/admin/solutions/{id}/approve", Route::ApproveSolution),
    ("POST", "/api/admin/solutions/{id}/reject", Route::RejectSolution),
    ("POST", "/api/admin/solutions/{id}/suspend", Route::SuspendSolution),
    ("POST", "/api/admin/solutions/{id}/reinstate", Route::ReinstateSolution),
    ("GET", "/api/admin/notifications/dead", Route::DeadNotifications),
    ("POST", "/api/admin/notifications/{id}/retry", Route::RetryNotification),
];

/// What each row of [`ROUTES`] serves; the handler matches on it (exhaustively: no route goes unhandled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Apply,
    CreateSolution,
    Solution,
    UpdateSolution,
    SubmitSolution,
    WithdrawSolution,
    RetireSolution,
    AssetUpload,
    Partner,
    PartnerSolutions,
    ListKeys,
    CreateKey,
    RevokeKey,
    Analytics,
    Revenue,
    Payouts,
    ListPartners,
    ApprovePartner,
    RejectPartner,
    ReviewQueue,
    ApproveSolution,
    RejectSolution,
    SuspendSolution,
    ReinstateSolution,
    DeadNotifications,
    RetryNotification,
}

pub struct AppState {
    pub partners: PartnerService,
    /// Revenue postings and payout statements (read side).
    pub ledger: PartnerLedger,
    /// How the client's address is told behind the console's distribution (for the audit of API keys).
    pub origin: OriginVerify,
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl AppState {
    /// Cold start: configuration, SDK clients and the public token keys (from the environment), with no call;
    /// the payout-sealing key and the Stripe key are read from Secrets Manager on first use and kept. Asset
    /// uploads are offered when `ASSET_BUCKET` is set.
    pub async fn from_env() -> Result<Self, BoxError> {
        let sdk = shared::platform::aws::load().await;
        // Stripe (when `STRIPE_SECRET_ID` is set): approved tiers get the platform's Stripe Prices. Its key and
        // the payout-sealing key are read by the first request that needs each, not at cold start.
        let platform = setup::platform_from_env(&sdk)?;
        let sealer = setup::deferred_sealer(&sdk)?;
        let mut state = Self::with_sealer(platform.store, platform.keys, Arc::new(SystemClock), sealer);
        state.origin = OriginVerify::from_env()?;
        if std::env::var_os("STRIPE_SECRET_ID").is_some() {
            state.partners = state.partners.with_price_book(PriceBook::new(setup::deferred_stripe(&sdk)?));
        }
        if let Ok(bucket) = shared::platform::config::required("ASSET_BUCKET") {
            let assets = AssetStore { s3: shared::platform::aws::s3(&sdk), bucket, upload_seconds: 600 };
            state.partners = state.partners.with_assets(assets);
        }
        Ok(state)
    }

    pub fn new(store: Store, keys: KeySet, clock: Arc<dyn Clock>, sealer: Sealer) -> Self {
        Self::with_sealer(store, keys, clock, Deferred::ready(Arc::new(sealer)))
    }

    pub fn with_sealer(store: Store, keys: KeySet, clock: Arc<dyn Clock>, sealer: Deferred<Arc<Sealer>>) -> Self {
        let ledger = PartnerLedger::new(store.clone(), clock.clone());
        Self {
            partners: PartnerService::new(store, Arc::new(keys), clock, sealer),
            ledger,
            origin: OriginVerify::none(),
        }
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
    let p = &state.partners;
    let caller = p.authenticate(http::bearer(req), http::client_ip(req, &state.origin)).await?;
    let q = |name: &str| http::query(req, name);
    let act = |action: Action| {
        let id = param("id");
        let caller = &caller;
        async move { p.act(caller, &id, action, optional_body(req)?).await }
    };
    match route {
        Route::Apply => Ok(http::json(201, &p.apply(&caller, http::json_body(req, http::DEFAULT_BODY_LIMIT)?).await?)),
        Route::CreateSolution => {
            Ok(http::json(201, &p.create_solution(&caller, http::json_body(req, http::DEFAULT_BODY_LIMIT)?).await?))
        }
        Route::Solution => Ok(http::json(200, &p.solution(&caller, &param("id")).await?)),
        Route::UpdateSolution => Ok(http::json(
            200,
            &p.update_solution(&caller, &param("id"), http::json_body(req, http::DEFAULT_BODY_LIMIT)?).await?,
        )),
        Route::SubmitSolution => Ok(http::json(200, &act(Action::Submit).await?)),
        Route::WithdrawSolution => Ok(http::json(200, &act(Action::Withdraw).await?)),
        Route::RetireSolution => Ok(http::json(200, &act(Action::Retire).await?)),
        Route::AssetUpload => Ok(http::json(
            201,
            &p.asset_upload(&caller, &param("id"), http::json_body(req, http::DEFAULT_BODY_LIMIT)?).await?,
        )),
        Route::Partner => Ok(http::json(200, &p.get(&caller, &param("id")).await?)),
        Route::PartnerSolutions => Ok(http::json(200, &p.partner_solutions(&caller, &param("id")).await?)),
        Route::ListKeys => Ok(http::json(200, &p.list_keys(&caller, &param("id")).await?)),
        Route::CreateKey => Ok(http::json(
            201,
            &p.create_key(&caller, &param("id"), http::json_body(req, http::DEFAULT_BODY_LIMIT)?).await?,
        )),
        Route::RevokeKey => {
            p.revoke_key(&caller, &param("id"), &param("key_id")).await?;
            Ok(http::no_content())
        }
        Route::Analytics => {
            let report =
                p.analytics(&caller, &param("id"), q("from").as_deref(), q("to").as_deref(), &state.ledger).await?;
            Ok(http::json(200, &report))
        }
        Route::Revenue => {
            let partner = p.partner_with_role(&caller, &param("id"), OrgRole::reads_revenue, "see revenue").await?;
            let view = state.ledger.revenue(&partner.partner_id, q("from").as_deref(), q("to").as_deref()).await?;
            Ok(http::json(200, &view))
        }
        Route::Payouts => {
            let partner = p.partner_with_role(&caller, &param("id"), OrgRole::reads_revenue, "see payouts").await?;
            let limit = shared::partners::page_limit(q("limit").as_deref())?;
            Ok(http::json(200, &state.ledger.payouts(&partner.partner_id, limit, q("cursor").as_deref()).await?))
        }
        Route::ListPartners => Ok(http::json(
            200,
            &p.list(&caller, q("status").as_deref(), q("limit").as_deref(), q("cursor").as_deref()).await?,
        )),
        Route::ApprovePartner => Ok(http::json(200, &p.approve(&caller, &param("id"), optional_body(req)?).await?)),
        Route::RejectPartner => Ok(http::json(200, &p.reject(&caller, &param("id"), optional_body(req)?).await?)),
        Route::ReviewQueue => Ok(http::json(
            200,
            &p.review_queue(&caller, q("status").as_deref(), q("limit").as_deref(), q("cursor").as_deref()).await?,
        )),
        Route::ApproveSolution => Ok(http::json(200, &act(Action::Approve).await?)),
        Route::RejectSolution => Ok(http::json(200, &act(Action::Reject).await?)),
        Route::SuspendSolution => Ok(http::json(200, &act(Action::Suspend).await?)),
        Route::ReinstateSolution => Ok(http::json(200, &act(Action::Reinstate).await?)),
        Route::DeadNotifications => {
            Ok(http::json(200, &p.dead_notifications(&caller, q("limit").as_deref(), q("cursor").as_deref()).await?))
        }
        Route::RetryNotification => Ok(http::json(200, &p.retry_notification(&caller, &param("id")).await?)),
    }
}

/// A JSON body that may be left out (an empty body is the default request).
fn optional_body<T: serde::de::DeserializeOwned + Default>(req: &Request) -> Result<T, ApiError> {
    if http::body_bytes(req, http::DEFAULT_BODY_LIMIT)?.is_empty() {
        Ok(T::default())
    } else {
        http::json_body(req, http::DEFAULT_BODY_LIMIT)
    }
}
