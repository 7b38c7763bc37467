//! The `stripe-webhook` function: `POST /api/webhooks/stripe`. The raw body is verified against
//! `Stripe-Signature` before anything is read from it; then
//! `shared::payments::stripe::webhook::StripeWebhookService` deduplicates and applies the event.

use lambda_http::{Body, Request, Response};
use shared::ApiError;
use shared::billing::writer::SubscriptionWriter;
use shared::payments::stripe::client::StripeClient;
use shared::payments::stripe::webhook::{BODY_LIMIT, StripeWebhookService};
use shared::platform::clock::{Clock, SystemClock};
use shared::platform::http;
use shared::setup;
use shared::store::Store;
use std::sync::Arc;

/// Every route this function serves; `infra/template.yaml` must declare exactly these (a test checks).
pub const ROUTES: &[http::Route<Route>] = &[("POST", "/api/webhooks/stripe", Route::Receive)];

/// What each row of [`ROUTES`] serves; the handler matches on it (exhaustively: no route goes unhandled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Receive,
}

pub struct AppState {
    pub webhook: StripeWebhookService,
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl AppState {
    /// Cold start: the store and the Stripe secrets (read once from Secrets Manager). No token keys: the
    /// webhook verifies Stripe's signature, not our tokens.
    pub async fn from_env() -> Result<Self, BoxError> {
        let sdk = shared::platform::aws::load().await;
        let store = setup::store_from_env(&sdk)?;
        let stripe = setup::load_stripe(&sdk).await?;
        if stripe.webhook_secrets.is_empty() {
            return Err("the Stripe secret has no webhook secret".into());
        }
        let grace = shared::platform::config::grace_seconds()?;
        let mut state = Self::new(store, Arc::new(SystemClock), stripe.client, stripe.webhook_secrets, grace);
        // Tax invoices for paid periods when the seller is configured (as in the template).
        if std::env::var_os("SELLER_GSTIN").is_some() {
            let seller = Arc::new(shared::billing::invoicing::Seller::from_env()?);
            state.webhook = state.webhook.with_seller(seller);
        }
        Ok(state)
    }

    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        stripe: StripeClient,
        webhook_secrets: Vec<String>,
        grace_seconds: i64,
    ) -> Self {
        let ledger = SubscriptionWriter::new(store, clock, grace_seconds);
        Self { webhook: StripeWebhookService::new(ledger, stripe, webhook_secrets) }
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
    let ack = state.webhook.receive(http::header_str(req, "stripe-signature"), body).await?;
    Ok(http::json(200, &ack))
}
