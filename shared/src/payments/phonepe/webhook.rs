//! The PhonePe webhook: check the callback's credentials (v2 `Authorization`, or a legacy v1 `X-VERIFY` when
//! a salt is configured), claim it (PhonePe callbacks carry no id, so the claim is on what it names and
//! claims), then re-read the order or refund from PhonePe and apply that state. The body never grants
//! anything: it only says what to look at. A duplicate is acknowledged without a second effect; any order of
//! callbacks converges because the state applied is always PhonePe's current one.

use crate::model::OrderState;
use crate::payments::phonepe::callback::{self, Callback, WebhookCredentials};
use crate::payments::phonepe::rail::PhonePeRail;
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, codes};
use crate::store::subscriptions::WebhookEventItem;
use crate::store::{Claim, keys};
use serde::Serialize;

/// Largest body accepted (PhonePe's callbacks are a few KiB).
pub const BODY_LIMIT: usize = 64 * 1024;
const RETENTION_SECONDS: i64 = 35 * 86_400;
const LEASE_SECONDS: i64 = 60;
/// The callback events the metrics name; any other is counted as `other`.
const EVENT_TYPES: &[&str] = &[
    "checkout.order.completed",
    "checkout.order.failed",
    "checkout.order.pending",
    "pg.order.completed",
    "pg.order.failed",
    "pg.refund.accepted",
    "pg.refund.completed",
    "pg.refund.failed",
];

/// One callback's outcome as a metric (`crate::platform::metrics::webhook`).
fn count(event_type: &'static str, outcome: &'static str) {
    crate::platform::metrics::webhook("phonepe", event_type, outcome);
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Ack {
    pub received: bool,
    pub duplicate: bool,
    pub event: String,
}

#[derive(Clone)]
pub struct PhonePeWebhookService {
    rail: PhonePeRail,
    credentials: WebhookCredentials,
}

fn unauthorized(field: &str) -> ApiError {
    let mut e = ApiError::new(
        401,
        codes::INVALID_SIGNATURE,
        "Invalid callback credentials",
        "the callback is not from PhonePe",
    );
    e.errors = vec![crate::FieldError::new(field, "does not match the configured credentials")];
    e
}

impl PhonePeWebhookService {
    pub fn new(rail: PhonePeRail, credentials: WebhookCredentials) -> Self {
        Self { rail, credentials }
    }

    /// Handle one callback: `authorization` and `x_verify` are the headers, `body` the raw bytes.
    pub async fn receive(
        &self,
        authorization: Option<&str>,
        x_verify: Option<&str>,
        body: &[u8],
    ) -> Result<Ack, ApiError> {
        if body.len() > BODY_LIMIT {
            return Err(ApiError::payload_too_large(BODY_LIMIT));
        }
        let c = &self.credentials;
        let parsed = match (x_verify, &c.salt_key) {
            (Some(_), Some(salt)) => {
                let response = callback::v1_response(body)
                    .inspect_err(|_| count("other", "invalid"))
                    .map_err(|why| ApiError::malformed_json("body", why))?;
                if !callback::x_verify_matches(&response, x_verify, salt, &c.salt_index) {
                    tracing::warn!("phonepe v1 callback refused");
                    count("other", "refused");
                    return Err(unauthorized("X-VERIFY"));
                }
                callback::parse_v1(&response)
                    .inspect_err(|_| count("other", "invalid"))
                    .map_err(|why| ApiError::malformed_json("body", why))?
            }
            _ => {
                if c.username.is_empty() || !callback::authorization_matches(authorization, &c.username, &c.password) {
                    tracing::warn!("phonepe callback refused");
                    count("other", "refused");
                    return Err(unauthorized("Authorization"));
                }
                callback::parse_v2(body)
                    .inspect_err(|_| count("other", "invalid"))
                    .map_err(|why| ApiError::malformed_json("body", why))?
            }
        };
        let ack = |duplicate| Ack { received: true, duplicate, event: parsed.event.clone() };
        let kind = crate::platform::metrics::bounded(&parsed.event, EVENT_TYPES);
        if !(parsed.is_order_event() || parsed.is_refund_event()) || parsed.merchant_order_id.is_none() {
            tracing::info!(event = %parsed.event, "phonepe callback acknowledged, nothing to do");
            count(kind, "ignored");
            return Ok(ack(false));
        }
        // The amount is part of the claim, so a callback whose claims do not match PhonePe's (recorded
        // nowhere) cannot use up the claim of the genuine one.
        let id = crate::platform::crypto::sha256_hex(
            format!(
                "{}\n{}\n{}\n{}\n{}",
                parsed.event,
                parsed.merchant_order_id.as_deref().unwrap_or(""),
                parsed.merchant_refund_id.as_deref().unwrap_or(""),
                parsed.state.as_deref().unwrap_or(""),
                parsed.amount.map(|a| a.to_string()).unwrap_or_default()
            )
            .as_bytes(),
        );
        let now = self.rail.writer.clock.now().timestamp();
        let key = keys::webhook_event("phonepe", &id);
        let at = |t: i64| chrono::DateTime::from_timestamp(t, 0).map(rfc3339).unwrap_or_default();
        let record = WebhookEventItem::processing(
            "phonepe",
            &id,
            &parsed.event,
            now + LEASE_SECONDS,
            at(now),
            now + RETENTION_SECONDS,
        );
        match self.rail.writer.store.claim_webhook_event(&record, now).await.inspect_err(|_| count(kind, "failed"))? {
            Claim::Done => {
                tracing::info!(event = %parsed.event, "duplicate phonepe callback");
                count(kind, "duplicate");
                return Ok(ack(true));
            }
            Claim::InProgress => {
                count(kind, "in_progress");
                let mut e =
                    ApiError::conflict(codes::EVENT_IN_PROGRESS, "this callback is being processed; retry later");
                e.retry_after = Some(LEASE_SECONDS as u64);
                return Err(e);
            }
            Claim::Claimed => {}
        }
        self.apply(&parsed).await.inspect_err(|_| count(kind, "failed"))?;
        self.rail
            .writer
            .store
            .finish_webhook_event(&key, &at(self.rail.writer.clock.now().timestamp()))
            .await
            .inspect_err(|_| count(kind, "failed"))?;
        count(kind, "processed");
        Ok(ack(false))
    }

    async fn apply(&self, c: &Callback) -> Result<(), ApiError> {
        let order = c.merchant_order_id.as_deref().unwrap_or_default();
        if let Some(refund) = &c.merchant_refund_id {
            return self.rail.apply_refund(refund, c.merchant_order_id.as_deref(), c.amount).await;
        }
        match self.rail.apply_order(order).await {
            Ok(v) if v.state == OrderState::Pending => {
                // PhonePe has not settled it yet: let the callback come again (the claim's lease runs out).
                tracing::info!(merchant_order_id = order, claimed = ?c.state, "phonepe order still pending");
                Err(ApiError::unavailable(LEASE_SECONDS as u64))
            }
            Ok(v) => {
                if c.state.as_deref() == Some("COMPLETED") && v.state != OrderState::Completed {
                    tracing::warn!(
                        merchant_order_id = order,
                        "callback claims COMPLETED, PhonePe says otherwise: nothing granted"
                    );
                }
                Ok(())
            }
            // An order we never made (another integration's, or forged ids): nothing to do.
            Err(e) if e.status == 404 => {
                tracing::warn!(merchant_order_id = order, "phonepe callback for an unknown order");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}
