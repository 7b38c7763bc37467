//! The `subscriptions` function: paid subscriptions on Stripe (Checkout) and PhonePe (payments we initiate
//! and verify), their listing, tier changes, cancellations, the payment history, invoices and admin refunds.
//! Handlers are thin: parse, call one use case of `shared::billing::service::SubscriptionService`, respond.

use lambda_http::{Body, Request, Response};
use shared::ApiError;
use shared::billing::invoicing::InvoiceFiles;
use shared::billing::invoicing::Seller;
use shared::billing::service::{SubscriptionService, SubscriptionSettings};
use shared::identity::jwt::KeySet;
use shared::payments::phonepe::rail::{PhonePeRail, PhonePeSettings};
use shared::payments::stripe::client::StripeClient;
use shared::payments::stripe::rail::StripeRail;
use shared::platform::clock::{Clock, SystemClock};
use shared::platform::http;
use shared::setup;
use shared::store::Store;
use std::sync::Arc;

/// Every route this function serves; `infra/template.yaml` must declare exactly these (a test checks).
pub const ROUTES: &[http::Route<Route>] = &[
    ("POST", "/api/subscriptions", Route::Create),
    ("GET", "/api/subscriptions", Route::Page),
    ("GET", "/api/subscriptions/{id}", Route::List),
    ("PUT", "/api/subscriptions/{id}/upgrade", Route::Upgrade),
    ("PUT", "/api/subscriptions/{id}/spending-cap", Route::SpendingCap),
    ("DELETE", "/api/subscriptions/{id}", Route::Cancel),
    ("GET", "/api/payments/history", Route::PaymentHistory),
    ("POST", "/api/payments/{id}/refund", Route::Refund),
    ("POST", "/api/payments/initiate", Route::InitiatePayment),
    ("POST", "/api/payments/verify", Route::VerifyPayment),
    ("GET", "/api/invoices", Route::Invoices),
];

/// What each row of [`ROUTES`] serves; the handler matches on it (exhaustively: no route goes unhandled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Create,
    /// A page of a customer's subscriptions (`customer_id`, `solution_id`, `limit`, `cursor` in the query).
    Page,
    /// Every subscription of the customer named in the path.
    List,
    Upgrade,
    SpendingCap,
    Cancel,
    PaymentHistory,
    Refund,
    InitiatePayment,
    VerifyPayment,
    Invoices,
}

pub struct AppState {
    pub subscriptions: SubscriptionService,
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl AppState {
    /// Cold start: configuration, SDK clients, the public token keys (from the environment), the Stripe key and
    /// the PhonePe credentials (read once, concurrently, from Secrets Manager). PhonePe is offered when `PHONEPE_SECRET_ID` is set;
    /// invoice PDFs are kept when `INVOICE_BUCKET` is.
    pub async fn from_env() -> Result<Self, BoxError> {
        let sdk = shared::platform::aws::load().await;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let platform = setup::platform_from_env(&sdk)?;
        // The providers' credentials are read by the first call to each (checkout, refunds, PhonePe payments).
        let stripe = setup::deferred_stripe(&sdk)?;
        let phonepe = setup::deferred_phonepe(&sdk, clock.clone())?;
        let base = shared::platform::config::required("APP_BASE_URL")?;
        let mut settings = SubscriptionSettings::new(&base);
        settings.grace_seconds = shared::platform::config::grace_seconds()?;
        let mut service = SubscriptionService::new(
            platform.store,
            Arc::new(platform.keys),
            clock,
            StripeRail::shared(stripe),
            settings,
        );
        if let Some(p) = phonepe {
            let seller = Arc::new(Seller::from_env()?);
            let settings = PhonePeSettings::new(&base);
            service = service.with_invoice_rail(|writer| PhonePeRail::shared(writer, p, seller, settings));
        }
        if let Ok(bucket) = shared::platform::config::required("INVOICE_BUCKET") {
            service = service.with_invoice_files(InvoiceFiles {
                s3: shared::platform::aws::s3(&sdk),
                bucket,
                link_seconds: 300,
            });
        }
        Ok(Self { subscriptions: service })
    }

    pub fn new(
        store: Store,
        keys: KeySet,
        clock: Arc<dyn Clock>,
        stripe: StripeClient,
        settings: SubscriptionSettings,
    ) -> Self {
        Self {
            subscriptions: SubscriptionService::new(store, Arc::new(keys), clock, StripeRail::shared(stripe), settings),
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
    let subs = &state.subscriptions;
    match route {
        Route::Create => {
            let caller = subs.authenticate(http::bearer(req)).await?;
            let body = http::json_body(req, http::DEFAULT_BODY_LIMIT)?;
            let created = subs.create(&caller, body, http::header_str(req, "idempotency-key")).await?;
            Ok(http::json(201, &created))
        }
        Route::Page => {
            let caller = subs.authenticate(http::bearer(req)).await?;
            let (customer, solution) = (http::query(req, "customer_id"), http::query(req, "solution_id"));
            let (cursor, limit) = (http::query(req, "cursor"), http::query(req, "limit"));
            let page = subs
                .list_page(&caller, customer.as_deref(), solution.as_deref(), cursor.as_deref(), limit.as_deref())
                .await?;
            Ok(http::json(200, &page))
        }
        Route::List => {
            let caller = subs.authenticate(http::bearer(req)).await?;
            Ok(http::json(200, &subs.list(&caller, &param("id")).await?))
        }
        Route::Upgrade => {
            let caller = subs.authenticate(http::bearer(req)).await?;
            let body = http::json_body(req, http::DEFAULT_BODY_LIMIT)?;
            Ok(http::json(200, &subs.change_tier(&caller, &param("id"), body).await?))
        }
        Route::SpendingCap => {
            let caller = subs.authenticate(http::bearer(req)).await?;
            let body = http::json_body(req, http::DEFAULT_BODY_LIMIT);
            Ok(http::json(200, &subs.set_spending_cap(&caller, &param("id"), body).await?))
        }
        Route::Cancel => {
            let caller = subs.authenticate(http::bearer(req)).await?;
            let immediately = match http::query(req, "immediately").as_deref() {
                None | Some("false") => false,
                Some("true") => true,
                Some(_) => return Err(ApiError::field("immediately", "must be true or false")),
            };
            Ok(http::json(200, &subs.cancel(&caller, &param("id"), immediately).await?))
        }
        Route::PaymentHistory => {
            let caller = subs.authenticate(http::bearer(req)).await?;
            let customer = http::query(req, "customer_id");
            let cursor = http::query(req, "cursor");
            let limit = http::query(req, "limit");
            let history = subs.history(&caller, customer.as_deref(), cursor.as_deref(), limit.as_deref()).await?;
            Ok(http::json(200, &history))
        }
        Route::Refund => {
            let caller = subs.authenticate(http::bearer(req)).await?;
            let body = http::json_body(req, http::DEFAULT_BODY_LIMIT)?;
            let answer = subs.refund(&caller, &param("id"), body, http::header_str(req, "idempotency-key")).await?;
            Ok(http::json(202, &answer))
        }
        Route::InitiatePayment => {
            let caller = subs.authenticate(http::bearer(req)).await?;
            let body = http::json_body(req, http::DEFAULT_BODY_LIMIT)?;
            let initiated = subs.initiate(&caller, body, http::header_str(req, "idempotency-key")).await?;
            Ok(http::json(201, &initiated))
        }
        Route::VerifyPayment => {
            let caller = subs.authenticate(http::bearer(req)).await?;
            let body = http::json_body(req, http::DEFAULT_BODY_LIMIT)?;
            Ok(http::json(200, &subs.verify(&caller, body).await?))
        }
        Route::Invoices => {
            let caller = subs.authenticate(http::bearer(req)).await?;
            let customer = http::query(req, "customer_id");
            let cursor = http::query(req, "cursor");
            let limit = http::query(req, "limit");
            let list = subs.invoices(&caller, customer.as_deref(), cursor.as_deref(), limit.as_deref()).await?;
            Ok(http::json(200, &list))
        }
    }
}
