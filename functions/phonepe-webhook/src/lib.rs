//! The `phonepe-webhook` function: `POST /api/payments/webhook`, PhonePe's server-to-server callbacks. The
//! credentials are checked before anything is read from the body; then
//! `shared::payments::phonepe::webhook::PhonePeWebhookService` deduplicates the callback, re-reads the
//! order or refund from PhonePe and applies that state.

use lambda_http::{Body, Request, Response};
use shared::ApiError;
use shared::billing::invoicing::Seller;
use shared::billing::writer::SubscriptionWriter;
use shared::payments::phonepe::callback::WebhookCredentials;
use shared::payments::phonepe::client::PhonePeClient;
use shared::payments::phonepe::rail::{PhonePeRail, PhonePeSettings};
use shared::payments::phonepe::webhook::{BODY_LIMIT, PhonePeWebhookService};
use shared::platform::clock::{Clock, SystemClock};
use shared::platform::http;
use shared::setup;
use shared::store::Store;
use std::sync::Arc;

/// Every route this function serves; `infra/template.yaml` must declare exactly these (a test checks).
pub const ROUTES: &[http::Route<Route>] = &[("POST", "/api/payments/webhook", Route::Receive)];

/// What each row of [`ROUTES`] serves; the handler matches on it (exhaustively: no route goes unhandled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Receive,
}

pub struct AppState {
    pub webhook: PhonePeWebhookService,
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl AppState {
    /// Cold start: the store, the PhonePe secret (API and callback credentials, read once) and the seller's
    /// invoice details. No token keys: callbacks carry PhonePe's credentials, not our tokens.
    pub async fn from_env() -> Result<Self, BoxError> {
        let sdk = shared::platform::aws::load().await;
        let store = setup::store_from_env(&sdk)?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let phonepe = setup::load_phonepe(&sdk, clock.clone()).await?.ok_or("PHONEPE_SECRET_ID is not set")?;
        if phonepe.webhook.username.is_empty() && phonepe.webhook.salt_key.is_none() {
            return Err("the PhonePe secret has no webhook credentials".into());
        }
        let seller = Arc::new(Seller::from_env()?);
        let settings = PhonePeSettings::new(&shared::platform::config::required("APP_BASE_URL")?);
        let grace = shared::platform::config::grace_seconds()?;
        Ok(Self::new(store, clock, phonepe.client, phonepe.webhook, seller, settings, grace))
    }

    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        client: PhonePeClient,
        credentials: WebhookCredentials,
        seller: Arc<Seller>,
        settings: PhonePeSettings,
        grace_seconds: i64,
    ) -> Self {
        let rail =
            PhonePeRail { writer: SubscriptionWriter::new(store, clock, grace_seconds), client, seller, settings };
        Self { webhook: PhonePeWebhookService::new(rail, credentials) }
    }
}

pub async fn handle(state: &AppState, req: Request) -> Response<Body> {
    http::serve(ROUTES, &req, |Route::Receive, _| receive(state, &req)).await
}

impl http::Handler for AppState {
    fn handle(&self, req: Request) -> impl Future<Output = Response<Body>> + Send {
        handle(self, req)
    }
}

async fn receive(state: &AppState, req: &Request) -> Result<Response<Body>, ApiError> {
    let body = http::body_bytes(req, BODY_LIMIT)?;
    let ack =
        state.webhook.receive(http::header_str(req, "authorization"), http::header_str(req, "x-verify"), body).await?;
    Ok(http::json(200, &ack))
}
