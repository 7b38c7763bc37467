//! The PhonePe Standard Checkout v2 client: an OAuth client-credentials token (cached, refreshed at half its
//! lifetime or 5 minutes before expiry, whichever is first, and at once after a 401), then JSON calls with
//! `Authorization: O-Bearer <token>` to pay, order status, refund and refund status. The contract follows
//! PhonePe's official SDK (`phonepe-pg-sdk-python` 3.0.1): paths, members, states.
//!
//! Credentials come from Secrets Manager at cold start and only ever go into the token request; the token only
//! into the `Authorization` header. Neither is logged (`Debug` redacts them).
//!
//! Retries: a status or refund-status read is retried once on a transient failure. Creating an order or a
//! refund is never retried blindly: the caller asks the status API first (see `payments::phonepe::rail`).

use crate::model::OrderState;
use crate::platform::clock::Clock;
use crate::platform::deferred::Deferred;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub const SANDBOX_BASE: &str = "https://api-preprod.phonepe.com/apis/pg-sandbox";
pub const PRODUCTION_BASE: &str = "https://api.phonepe.com/apis/pg";
pub const PRODUCTION_OAUTH_BASE: &str = "https://api.phonepe.com/apis/identity-manager";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhonePeError {
    /// PhonePe answered 5xx or 429: try again later.
    #[error("phonepe is failing ({status}): {code}")]
    Upstream { status: u16, code: String },
    /// No answer in time, or no connection.
    #[error("phonepe did not answer: {0}")]
    Timeout(String),
    /// PhonePe refused the request (4xx other than 429).
    #[error("phonepe refused the request ({status} {code}): {message}")]
    Refused { status: u16, code: String, message: String },
    /// An answer we could not read.
    #[error("unreadable phonepe answer: {0}")]
    Decode(String),
    /// The API credentials could not be loaded (Secrets Manager); logged where the load failed.
    #[error("the phonepe credentials are unavailable")]
    CredentialsUnavailable,
}

impl PhonePeError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Refused { status: 404, .. })
    }

    fn transient(&self) -> bool {
        matches!(self, Self::Upstream { .. } | Self::Timeout(_))
    }
}

impl From<PhonePeError> for crate::ApiError {
    fn from(e: PhonePeError) -> Self {
        tracing::warn!(error = %e, "phonepe call failed");
        match e {
            PhonePeError::Upstream { .. } => crate::ApiError::provider_error("the payment provider failed", 5),
            PhonePeError::Timeout(_) => crate::ApiError::provider_unavailable(),
            PhonePeError::Refused { status, .. } => {
                crate::ApiError::provider_error(&format!("the payment provider refused the request ({status})"), 0)
            }
            PhonePeError::Decode(_) => {
                crate::ApiError::provider_error("the payment provider gave an unreadable answer", 0)
            }
            PhonePeError::CredentialsUnavailable => crate::ApiError::unavailable(1),
        }
    }
}

/// The API client credentials (from the PhonePe secret).
pub struct PhonePeCredentials {
    pub client_id: String,
    pub client_secret: String,
    pub client_version: String,
}

/// Where and how to reach PhonePe.
#[derive(Clone)]
pub struct PhonePeConfig {
    /// The PG host (`PHONEPE_API_BASE`): sandbox, production, or a local stand-in.
    pub api_base: String,
    /// The OAuth host: the PG host in the sandbox, the identity manager in production.
    pub oauth_base: String,
    pub client_id: String,
    pub client_secret: String,
    pub client_version: String,
    /// Whole-request timeout of one attempt.
    pub timeout: Duration,
}

impl PhonePeConfig {
    /// The OAuth host that goes with a PG host: production's differs, every other host serves both.
    pub fn oauth_base_for(api_base: &str) -> String {
        if api_base.trim_end_matches('/') == PRODUCTION_BASE {
            PRODUCTION_OAUTH_BASE.to_owned()
        } else {
            api_base.trim_end_matches('/').to_owned()
        }
    }
}

impl std::fmt::Debug for PhonePeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhonePeConfig")
            .field("api_base", &self.api_base)
            .field("oauth_base", &self.oauth_base)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

/// An order's state from PhonePe's (`PENDING`, `COMPLETED`, `FAILED`; `EXPIRED` counts as failed).
pub fn order_state(state: &str) -> OrderState {
    match state {
        "COMPLETED" => OrderState::Completed,
        "FAILED" | "EXPIRED" => OrderState::Failed,
        _ => OrderState::Pending,
    }
}

/// A refund's state: `PENDING`/`CONFIRMED` are pending, `COMPLETED` succeeded, `FAILED` failed.
pub fn refund_state(state: &str) -> crate::model::RefundStatus {
    use crate::model::RefundStatus;
    match state {
        "COMPLETED" => RefundStatus::Succeeded,
        "FAILED" => RefundStatus::Failed,
        _ => RefundStatus::Pending,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedOrder {
    pub order_id: String,
    pub state: OrderState,
    /// Epoch milliseconds.
    pub expire_at: Option<i64>,
    pub redirect_url: String,
}

/// One payment attempt of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub transaction_id: String,
    pub payment_mode: Option<String>,
    /// Epoch milliseconds.
    pub timestamp: Option<i64>,
    pub amount: i64,
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderStatus {
    pub order_id: String,
    pub state: OrderState,
    pub amount: i64,
    pub error_code: Option<String>,
    /// The latest attempt first, as PhonePe lists it.
    pub attempts: Vec<Attempt>,
}

impl OrderStatus {
    /// The attempt that completed the order.
    pub fn completed_attempt(&self) -> Option<&Attempt> {
        self.attempts.iter().find(|a| a.state == "COMPLETED")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundAnswer {
    pub refund_id: Option<String>,
    /// The refunded order, as PhonePe records it (the refund status API names it; the refund call does not).
    pub original_merchant_order_id: Option<String>,
    pub amount: i64,
    pub state: String,
}

#[derive(Clone)]
struct Token {
    /// `"{token_type} {access_token}"`.
    header: String,
    refresh_at: i64,
    expires_at: i64,
}

/// A cheap-to-clone PhonePe client; clones share the token cache.
#[derive(Clone)]
pub struct PhonePeClient {
    http: reqwest::Client,
    /// The hosts and timeout (the credentials are in `credentials`, never here).
    config: Arc<PhonePeConfig>,
    credentials: Arc<Deferred<PhonePeCredentials>>,
    token: Arc<tokio::sync::Mutex<Option<Token>>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for PhonePeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhonePeClient").field("config", &self.config).finish()
    }
}

fn str_at(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() { "timed out".into() } else { e.without_url().to_string() }
}

impl PhonePeClient {
    pub fn new(mut config: PhonePeConfig, clock: Arc<dyn Clock>) -> Result<Self, PhonePeError> {
        let credentials = PhonePeCredentials {
            client_id: std::mem::take(&mut config.client_id),
            client_secret: std::mem::take(&mut config.client_secret),
            client_version: std::mem::take(&mut config.client_version),
        };
        Self::with_credentials(config, Deferred::ready(credentials), clock)
    }

    /// A client whose credentials are loaded on first use (`config`'s credential fields are not read).
    pub fn with_credentials(
        mut config: PhonePeConfig,
        credentials: Deferred<PhonePeCredentials>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, PhonePeError> {
        config.client_secret.clear();
        let http = crate::platform::provider_http::client(config.timeout).map_err(PhonePeError::Decode)?;
        Ok(Self { http, config: Arc::new(config), credentials: Arc::new(credentials), token: Arc::default(), clock })
    }

    fn url(base: &str, path: &str) -> String {
        format!("{}{path}", base.trim_end_matches('/'))
    }

    /// A valid token, from the cache or fetched (`force`: after a 401).
    async fn token(&self, force: bool) -> Result<String, PhonePeError> {
        let mut cached = self.token.lock().await;
        let now = self.clock.now().timestamp();
        if let Some(t) = cached.as_ref()
            && !force
            && now < t.refresh_at
        {
            return Ok(t.header.clone());
        }
        match self.fetch_token().await {
            Ok(t) => {
                let header = t.header.clone();
                *cached = Some(t);
                Ok(header)
            }
            // A refresh that fails while the old token is still valid keeps the old one (as the SDK does).
            Err(e) => match cached.as_ref() {
                Some(t) if !force && e.transient() && now + 30 < t.expires_at => Ok(t.header.clone()),
                _ => Err(e),
            },
        }
    }

    async fn fetch_token(&self) -> Result<Token, PhonePeError> {
        let credentials = self.credentials.get().await.map_err(|_| PhonePeError::CredentialsUnavailable)?;
        let form = [
            ("client_id", credentials.client_id.as_str()),
            ("client_secret", credentials.client_secret.as_str()),
            ("grant_type", "client_credentials"),
            ("client_version", credentials.client_version.as_str()),
        ];
        let request = self
            .http
            .post(Self::url(&self.config.oauth_base, "/v1/oauth/token"))
            .header("Accept", "application/json")
            .form(&form);
        let body = self.exchange(request).await?;
        let access = str_at(&body, "access_token").ok_or_else(|| PhonePeError::Decode("no access_token".into()))?;
        let kind = str_at(&body, "token_type").unwrap_or_else(|| "O-Bearer".into());
        let now = self.clock.now().timestamp();
        let issued_at = body.get("issued_at").and_then(Value::as_i64).unwrap_or(now);
        let expires_at = body.get("expires_at").and_then(Value::as_i64).unwrap_or(now + 3_600);
        let refresh_at = (issued_at + (expires_at - issued_at) / 2).min(expires_at - 300);
        Ok(Token { header: format!("{kind} {access}"), refresh_at, expires_at })
    }

    /// One HTTP exchange; the body of a 2xx answer, else the classified error.
    async fn exchange(&self, request: reqwest::RequestBuilder) -> Result<Value, PhonePeError> {
        let timeout = crate::platform::provider_http::attempt_timeout(self.config.timeout)
            .ok_or_else(|| PhonePeError::Timeout("the time budget is spent".into()))?;
        let response = crate::platform::provider_http::send("phonepe", request.timeout(timeout))
            .await
            .map_err(|e| PhonePeError::Timeout(describe(e)))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| PhonePeError::Timeout(describe(e)))?;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return if body.is_object() { Ok(body) } else { Err(PhonePeError::Decode("not a JSON object".into())) };
        }
        let code = str_at(&body, "code").or_else(|| str_at(&body, "errorCode")).unwrap_or_default();
        if status >= 500 || status == 429 {
            return Err(PhonePeError::Upstream { status, code });
        }
        Err(PhonePeError::Refused { status, code, message: str_at(&body, "message").unwrap_or_default() })
    }

    /// An authorized JSON call; a 401 refreshes the token and tries once more (the request was refused, so
    /// repeating it is safe).
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Result<Value, PhonePeError> {
        let url = Self::url(&self.config.api_base, path);
        let mut force = false;
        loop {
            let token = self.token(force).await?;
            let mut request = self
                .http
                .request(method.clone(), &url)
                .header("Authorization", token)
                .header("Accept", "application/json");
            if let Some(b) = body {
                request = request.json(b);
            }
            match self.exchange(request).await {
                Err(PhonePeError::Refused { status: 401, .. }) if !force => force = true,
                other => return other,
            }
        }
    }

    async fn read(&self, path: &str) -> Result<Value, PhonePeError> {
        match self.call(reqwest::Method::GET, path, None).await {
            Err(e) if e.transient() && crate::platform::provider_http::retry_fits(Duration::from_millis(250)) => {
                tokio::time::sleep(Duration::from_millis(250)).await;
                self.call(reqwest::Method::GET, path, None).await
            }
            other => other,
        }
    }

    /// `POST /checkout/v2/pay`: an order for `amount` paise; the user pays at `redirect_url`.
    pub async fn pay(
        &self,
        merchant_order_id: &str,
        amount: i64,
        redirect_url: &str,
        expire_after_seconds: i64,
        udf1: &str,
    ) -> Result<CreatedOrder, PhonePeError> {
        let body = serde_json::json!({
            "merchantOrderId": merchant_order_id,
            "amount": amount,
            "expireAfter": expire_after_seconds,
            "metaInfo": {"udf1": udf1},
            "paymentFlow": {"type": "PG_CHECKOUT", "message": "Subscription payment",
                            "merchantUrls": {"redirectUrl": redirect_url}},
        });
        let v = self.call(reqwest::Method::POST, "/checkout/v2/pay", Some(&body)).await?;
        Ok(CreatedOrder {
            order_id: str_at(&v, "orderId").ok_or_else(|| PhonePeError::Decode("no orderId".into()))?,
            state: order_state(&str_at(&v, "state").unwrap_or_default()),
            expire_at: v.get("expireAt").and_then(Value::as_i64),
            redirect_url: str_at(&v, "redirectUrl").ok_or_else(|| PhonePeError::Decode("no redirectUrl".into()))?,
        })
    }

    /// `GET /checkout/v2/order/{id}/status`: the order's state and its latest attempt.
    pub async fn order_status(&self, merchant_order_id: &str) -> Result<OrderStatus, PhonePeError> {
        let v = self.read(&format!("/checkout/v2/order/{merchant_order_id}/status?details=false")).await?;
        let attempts = v
            .get("paymentDetails")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|a| {
                        Some(Attempt {
                            transaction_id: str_at(a, "transactionId")?,
                            payment_mode: str_at(a, "paymentMode"),
                            timestamp: a.get("timestamp").and_then(Value::as_i64),
                            amount: a.get("amount").and_then(Value::as_i64).unwrap_or(0),
                            state: str_at(a, "state").unwrap_or_default(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(OrderStatus {
            order_id: str_at(&v, "orderId").unwrap_or_default(),
            state: order_state(&str_at(&v, "state").ok_or_else(|| PhonePeError::Decode("no state".into()))?),
            amount: v.get("amount").and_then(Value::as_i64).unwrap_or(0),
            error_code: str_at(&v, "errorCode"),
            attempts,
        })
    }

    /// `POST /payments/v2/refund`.
    pub async fn refund(
        &self,
        merchant_refund_id: &str,
        original_merchant_order_id: &str,
        amount: i64,
    ) -> Result<RefundAnswer, PhonePeError> {
        let body = serde_json::json!({"merchantRefundId": merchant_refund_id, "amount": amount,
                                      "originalMerchantOrderId": original_merchant_order_id});
        let v = self.call(reqwest::Method::POST, "/payments/v2/refund", Some(&body)).await?;
        Ok(RefundAnswer {
            refund_id: str_at(&v, "refundId"),
            original_merchant_order_id: str_at(&v, "originalMerchantOrderId"),
            amount: v.get("amount").and_then(Value::as_i64).unwrap_or(amount),
            state: str_at(&v, "state").unwrap_or_else(|| "PENDING".into()),
        })
    }

    /// `GET /payments/v2/refund/{id}/status`.
    pub async fn refund_status(&self, merchant_refund_id: &str) -> Result<RefundAnswer, PhonePeError> {
        let v = self.read(&format!("/payments/v2/refund/{merchant_refund_id}/status")).await?;
        Ok(RefundAnswer {
            refund_id: str_at(&v, "refundId"),
            original_merchant_order_id: str_at(&v, "originalMerchantOrderId"),
            amount: v.get("amount").and_then(Value::as_i64).unwrap_or(0),
            state: str_at(&v, "state").ok_or_else(|| PhonePeError::Decode("no state".into()))?,
        })
    }
}

/// Whether a merchant order or refund id is one PhonePe accepts: 1–63 of `[A-Za-z0-9_-]`.
pub fn valid_merchant_id(id: &str) -> bool {
    (1..=63).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_ids() {
        assert_eq!(order_state("COMPLETED"), OrderState::Completed);
        assert_eq!(order_state("EXPIRED"), OrderState::Failed);
        assert_eq!(order_state("SOMETHING_NEW"), OrderState::Pending);
        assert_eq!(refund_state("CONFIRMED"), crate::model::RefundStatus::Pending);
        assert!(valid_merchant_id("po_01JH0A2C5D6E7F8G-1"));
        assert!(!valid_merchant_id(&"a".repeat(64)));
        assert!(!valid_merchant_id("has space"));
        assert_eq!(PhonePeConfig::oauth_base_for(PRODUCTION_BASE), PRODUCTION_OAUTH_BASE);
        assert_eq!(PhonePeConfig::oauth_base_for("http://127.0.0.1:9/"), "http://127.0.0.1:9");
    }

    #[test]
    fn debug_redacts_the_secret() {
        let config = PhonePeConfig {
            api_base: SANDBOX_BASE.into(),
            oauth_base: SANDBOX_BASE.into(),
            client_id: "M1".into(),
            client_secret: "very-secret".into(),
            client_version: "1".into(),
            timeout: Duration::from_secs(1),
        };
        assert!(!format!("{config:?}").contains("very-secret"));
    }
}
