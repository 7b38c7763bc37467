//! The Stripe API client: form-encoded requests with a pinned `Stripe-Version`, an `Idempotency-Key` on every
//! POST and DELETE, bounded timeouts and one retry of transient failures (safe: the retry carries the same
//! idempotency key). TLS is rustls on aws-lc-rs (the one crypto provider of the workspace) with the embedded
//! webpki roots, so a cold start never reads the system certificate store.
//!
//! The secret key comes from Secrets Manager (on first use, see `Deferred`) and is only ever placed in the `Authorization`
//! header; it is never logged. Errors carry Stripe's `type`/`code`/`param`/`message` (never the key).

use crate::platform::deferred::Deferred;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// The API version every request pins (and the event shapes `stripe::events` reads first).
pub const API_VERSION: &str = "2025-03-31.basil";
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StripeError {
    /// Stripe answered 5xx (or 429): try again later.
    #[error("stripe is failing ({status}): {message}")]
    Upstream { status: u16, message: String, retry_after: u64 },
    /// No answer in time, or no connection.
    #[error("stripe did not answer: {0}")]
    Timeout(String),
    /// Stripe refused the request (4xx).
    #[error("stripe refused the request ({status} {kind} {code:?} {param:?}): {message}")]
    Refused { status: u16, kind: String, code: Option<String>, param: Option<String>, message: String },
    /// An answer we could not read.
    #[error("unreadable stripe answer: {0}")]
    Decode(String),
    /// The secret key could not be loaded (Secrets Manager); logged where the load failed.
    #[error("the stripe secret key is unavailable")]
    KeyUnavailable,
}

impl StripeError {
    /// A card was declined or needs authentication (HTTP 402 / `card_error`).
    pub fn is_card_error(&self) -> bool {
        matches!(self, Self::Refused { status, kind, .. } if *status == 402 || kind == "card_error")
    }

    /// Stripe has no such object (HTTP 404).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Refused { status: 404, .. })
    }

    fn transient(&self) -> bool {
        matches!(self, Self::Upstream { .. } | Self::Timeout(_))
    }
}

impl From<StripeError> for crate::ApiError {
    fn from(e: StripeError) -> Self {
        use crate::ApiError;
        tracing::warn!(error = %e, "stripe call failed");
        match e {
            StripeError::Upstream { retry_after, .. } => {
                ApiError::provider_error("the payment provider failed; nothing was charged; retry later", retry_after)
            }
            StripeError::Timeout(_) => ApiError::provider_unavailable(),
            ref refused @ StripeError::Refused { ref message, .. } if refused.is_card_error() => ApiError::new(
                402,
                crate::platform::error::codes::PAYMENT_FAILED,
                "Payment failed",
                format!("the payment was declined: {message}"),
            ),
            StripeError::Refused { status, .. } => {
                ApiError::provider_error(&format!("the payment provider refused the request ({status})"), 0)
            }
            StripeError::Decode(_) => ApiError::provider_error("the payment provider gave an unreadable answer", 0),
            StripeError::KeyUnavailable => ApiError::unavailable(1),
        }
    }
}

/// Where and how to reach Stripe.
#[derive(Clone)]
pub struct StripeConfig {
    /// `https://api.stripe.com` in production; localstripe or a test server locally (`STRIPE_API_BASE`).
    pub api_base: String,
    pub secret_key: String,
    /// Whole-request timeout of one attempt.
    pub timeout: Duration,
}

impl std::fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeConfig").field("api_base", &self.api_base).field("secret_key", &"<redacted>").finish()
    }
}

/// A cheap-to-clone Stripe API client.
#[derive(Clone, Debug)]
pub struct StripeClient {
    http: reqwest::Client,
    /// The host and timeout (the key is in `key`, never here).
    config: Arc<StripeConfig>,
    key: Arc<Deferred<String>>,
}

/// A form: ordered `(name, value)` pairs in Stripe's bracket notation (`line_items[0][price]`).
pub type Form = Vec<(String, String)>;

pub fn field(name: &str, value: impl ToString) -> (String, String) {
    (name.to_owned(), value.to_string())
}

impl StripeClient {
    pub fn new(mut config: StripeConfig) -> Result<Self, StripeError> {
        let key = Deferred::ready(std::mem::take(&mut config.secret_key));
        Self::with_key(config, key)
    }

    /// A client whose secret key is loaded on first use (`config.secret_key` is not read).
    pub fn with_key(mut config: StripeConfig, key: Deferred<String>) -> Result<Self, StripeError> {
        config.secret_key.clear();
        let http = crate::platform::provider_http::client(config.timeout).map_err(StripeError::Decode)?;
        Ok(Self { http, config: Arc::new(config), key: Arc::new(key) })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.api_base.trim_end_matches('/'))
    }

    async fn send(&self, build: impl Fn() -> reqwest::RequestBuilder) -> Result<Value, StripeError> {
        let mut attempt = 0;
        loop {
            let result = self.once(build()).await;
            match result {
                Err(e)
                    if e.transient()
                        && attempt == 0
                        && crate::platform::provider_http::retry_fits(Duration::from_millis(250)) =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                other => return other,
            }
        }
    }

    async fn once(&self, request: reqwest::RequestBuilder) -> Result<Value, StripeError> {
        let key = self.key.get().await.map_err(|_| StripeError::KeyUnavailable)?;
        let timeout = crate::platform::provider_http::attempt_timeout(self.config.timeout)
            .ok_or_else(|| StripeError::Timeout("the time budget is spent".into()))?;
        let request = request.timeout(timeout).bearer_auth(key).header("Stripe-Version", API_VERSION);
        let response = crate::platform::provider_http::send("stripe", request)
            .await
            .map_err(|e| StripeError::Timeout(describe(e)))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(2);
        let bytes = response.bytes().await.map_err(|e| StripeError::Timeout(describe(e)))?;
        if status >= 500 || status == 429 {
            return Err(StripeError::Upstream { status, message: error_message(&bytes), retry_after });
        }
        let body: Value = serde_json::from_slice(&bytes).map_err(|e| StripeError::Decode(e.to_string()))?;
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let err = &body["error"];
        let text = |k: &str| err.get(k).and_then(Value::as_str).map(str::to_owned);
        Err(StripeError::Refused {
            status,
            kind: text("type").unwrap_or_default(),
            code: text("code").or_else(|| text("decline_code")),
            param: text("param"),
            message: text("message").unwrap_or_default(),
        })
    }

    /// `POST {path}` with a form and an idempotency key.
    pub async fn post(&self, path: &str, form: &Form, idempotency_key: &str) -> Result<Value, StripeError> {
        let url = self.url(path);
        self.send(|| self.http.post(&url).header("Idempotency-Key", idempotency_key).form(form)).await
    }

    /// `GET {path}` with query pairs (e.g. `expand[]`).
    pub async fn get(&self, path: &str, query: &Form) -> Result<Value, StripeError> {
        let url = self.url(path);
        self.send(|| self.http.get(&url).query(query)).await
    }

    /// `DELETE {path}` with an idempotency key.
    pub async fn delete(&self, path: &str, idempotency_key: &str) -> Result<Value, StripeError> {
        let url = self.url(path);
        self.send(|| self.http.delete(&url).header("Idempotency-Key", idempotency_key)).await
    }
}

/// A transport error's kind and text, without the URL.
fn describe(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "transport"
    };
    format!("{kind}: {}", e.without_url())
}

fn error_message(bytes: &[u8]) -> String {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| v.pointer("/error/message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| format!("{} bytes", bytes.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_the_documented_statuses() {
        let upstream = StripeError::Upstream { status: 500, message: "x".into(), retry_after: 7 };
        let e = crate::ApiError::from(upstream);
        assert_eq!((e.status, e.retry_after), (502, Some(7)));
        let e = crate::ApiError::from(StripeError::Timeout("timeout".into()));
        assert_eq!(e.status, 503);
        assert!(e.retry_after.is_some());
        let declined = StripeError::Refused {
            status: 402,
            kind: "card_error".into(),
            code: Some("card_declined".into()),
            param: None,
            message: "Your card was declined.".into(),
        };
        assert_eq!(crate::ApiError::from(declined).status, 402);
        let bad = StripeError::Refused {
            status: 400,
            kind: "invalid_request_error".into(),
            code: Some("resource_missing".into()),
            param: Some("price".into()),
            message: "No such price".into(),
        };
        assert_eq!(crate::ApiError::from(bad).status, 502);
    }

    #[test]
    fn the_secret_key_is_not_in_debug_output() {
        let c = StripeConfig {
            api_base: DEFAULT_API_BASE.into(),
            secret_key: "sk_live_secret".into(),
            timeout: Duration::from_secs(10),
        };
        assert!(!format!("{c:?}").contains("sk_live"));
    }
}
