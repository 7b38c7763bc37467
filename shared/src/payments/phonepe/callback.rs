//! PhonePe server-to-server callbacks (pure).
//!
//! * **v2** (Standard Checkout v2): `Authorization` is the lowercase hex SHA-256 of `username:password`, the
//!   webhook credentials configured on PhonePe's dashboard. The check is the official SDK's
//!   (`StandardCheckoutClient.validate_callback`, pinned by `tests/vectors/phonepe/`): the whole header value
//!   must equal that digest (no prefix, no case folding), here compared in constant time. The header does
//!   not cover the body, so a callback only tells us *which* order or refund to look at; its state is always
//!   re-fetched from PhonePe before anything is granted.
//! * **v1** (legacy, when a salt key is configured): body `{"response": "<base64 JSON>"}`, `X-VERIFY` =
//!   hex SHA-256 of `response + saltKey`, then `###` and the salt index.
//!
//! The body is read leniently: `event` (or, failing that, the older `type`, `CHECKOUT_ORDER_COMPLETED` →
//! `checkout.order.completed`), and from `payload` only the ids we look up. Unknown events are acknowledged.
//! Unlike the SDK, an unknown `type` or payment mode is not an error: PhonePe adds values over time.

use crate::platform::crypto::{constant_time_eq, sha256_hex};
use base64::Engine;
use serde_json::Value;

/// The configured callback credentials: v2 username/password, and the v1 salt when legacy callbacks are
/// accepted. Never logged (`Debug` redacts).
#[derive(Clone, Default)]
pub struct WebhookCredentials {
    pub username: String,
    pub password: String,
    pub salt_key: Option<String>,
    pub salt_index: String,
}

impl std::fmt::Debug for WebhookCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookCredentials").field("username", &self.username).finish_non_exhaustive()
    }
}

/// What a callback names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    /// `checkout.order.completed`, `checkout.order.failed`, `pg.refund.completed`, `pg.refund.failed`, …
    /// (empty when the body names none: acknowledged, nothing to do).
    pub event: String,
    /// The order it is about (for refunds: the refunded order).
    pub merchant_order_id: Option<String>,
    pub merchant_refund_id: Option<String>,
    /// The state the body claims (never trusted on its own).
    pub state: Option<String>,
    pub amount: Option<i64>,
}

impl Callback {
    pub fn is_order_event(&self) -> bool {
        self.event.starts_with("checkout.order.") || self.event.starts_with("pg.order.")
    }

    pub fn is_refund_event(&self) -> bool {
        self.event.starts_with("pg.refund.")
    }
}

/// The expected `Authorization` value for the configured credentials.
pub fn expected_authorization(username: &str, password: &str) -> String {
    sha256_hex(format!("{username}:{password}").as_bytes())
}

/// v2: whether `header` is exactly the digest of the configured credentials (constant time).
pub fn authorization_matches(header: Option<&str>, username: &str, password: &str) -> bool {
    let Some(header) = header else { return false };
    constant_time_eq(header.as_bytes(), expected_authorization(username, password).as_bytes())
}

/// v1: whether `x_verify` is `sha256_hex(response + salt_key) + "###" + salt_index` (constant time).
pub fn x_verify_matches(response_b64: &str, x_verify: Option<&str>, salt_key: &str, salt_index: &str) -> bool {
    let Some(header) = x_verify else { return false };
    let expected = format!("{}###{salt_index}", sha256_hex(format!("{response_b64}{salt_key}").as_bytes()));
    constant_time_eq(header.as_bytes(), expected.as_bytes())
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// Parse a v2 callback body. `Err` names what is wrong (the caller answers 400).
pub fn parse_v2(body: &[u8]) -> Result<Callback, &'static str> {
    let v: Value = serde_json::from_slice(body).map_err(|_| "the body is not JSON")?;
    let Value::Object(_) = v else { return Err("the body is not a JSON object") };
    let event = text(&v, "event")
        .or_else(|| text(&v, "type").map(|t| t.to_ascii_lowercase().replace('_', ".")))
        .unwrap_or_default();
    let payload = v.get("payload").cloned().unwrap_or(Value::Null);
    let refund = text(&payload, "merchantRefundId");
    Ok(Callback {
        merchant_order_id: if refund.is_some() {
            text(&payload, "originalMerchantOrderId")
        } else {
            text(&payload, "merchantOrderId")
        },
        merchant_refund_id: refund,
        state: text(&payload, "state"),
        amount: payload.get("amount").and_then(Value::as_i64),
        event,
    })
}

/// The `response` member of a v1 callback body.
pub fn v1_response(body: &[u8]) -> Result<String, &'static str> {
    let v: Value = serde_json::from_slice(body).map_err(|_| "the body is not JSON")?;
    text(&v, "response").ok_or("the body has no response")
}

/// Parse a v1 callback's (verified) `response`: base64 JSON `{code, data: {merchantTransactionId, state, …}}`.
pub fn parse_v1(response_b64: &str) -> Result<Callback, &'static str> {
    let raw = base64::engine::general_purpose::STANDARD.decode(response_b64).map_err(|_| "response is not base64")?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| "response is not JSON")?;
    let data = v.get("data").cloned().unwrap_or(Value::Null);
    let code = text(&v, "code").unwrap_or_default();
    let event = match code.as_str() {
        "PAYMENT_SUCCESS" => "checkout.order.completed",
        "PAYMENT_PENDING" => "checkout.order.pending",
        _ => "checkout.order.failed",
    };
    Ok(Callback {
        event: event.into(),
        merchant_order_id: Some(text(&data, "merchantTransactionId").ok_or("response has no merchantTransactionId")?),
        merchant_refund_id: None,
        state: text(&data, "state"),
        amount: data.get("amount").and_then(Value::as_i64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Vectors {
        cases: Vec<Case>,
        v1_cases: Vec<V1Case>,
    }

    #[derive(Deserialize)]
    struct Case {
        name: String,
        username: String,
        password: String,
        authorization: String,
        body: String,
        expect: String,
    }

    #[derive(Deserialize)]
    struct V1Case {
        name: String,
        salt_key: String,
        salt_index: String,
        x_verify: String,
        body: String,
        expect: String,
    }

    fn vectors() -> Vectors {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/phonepe/callback-vectors.json");
        serde_json::from_str(&std::fs::read_to_string(path).expect("vectors")).expect("vectors json")
    }

    /// Vectors made with PhonePe's official Python SDK (see `tests/vectors/phonepe/make_vectors.py`): the
    /// header check agrees on every case. On the body we are deliberately more lenient than the SDK in one
    /// way only: an unknown `type` value is accepted (and acknowledged as an event we do not handle).
    #[test]
    fn v2_agrees_with_the_official_sdk() {
        let v = vectors();
        assert!(v.cases.len() >= 9);
        for c in &v.cases {
            let authorized = authorization_matches(Some(&c.authorization), &c.username, &c.password);
            assert_eq!(authorized, c.expect != "unauthorized", "{}", c.name);
            if c.expect == "ok" {
                parse_v2(c.body.as_bytes()).unwrap_or_else(|e| panic!("{}: {e}", c.name));
            }
            if c.expect == "invalid_body" && c.name != "unknown_type_value" {
                assert!(parse_v2(c.body.as_bytes()).is_err(), "{}", c.name);
            }
        }
        let names: Vec<&str> = v.cases.iter().map(|c| c.name.as_str()).collect();
        for required in
            ["valid_order_completed", "wrong_password", "uppercase_hex", "sha256_space_prefix", "basic_auth"]
        {
            assert!(names.contains(&required), "missing vector {required}");
        }
        assert!(!authorization_matches(None, "u", "p"));
    }

    #[test]
    fn v2_bodies_name_the_order_or_refund() {
        let v = vectors();
        let case = |n: &str| v.cases.iter().find(|c| c.name == n).expect("case");
        let completed = parse_v2(case("valid_order_completed").body.as_bytes()).expect("parse");
        assert_eq!(completed.event, "checkout.order.completed");
        assert!(completed.is_order_event());
        assert_eq!(completed.merchant_order_id.as_deref(), Some("ord_01JGZ8W4X0K7M2QF"));
        assert_eq!(completed.amount, Some(249_900));
        let refund = parse_v2(case("valid_refund_completed").body.as_bytes()).expect("parse");
        assert!(refund.is_refund_event());
        assert_eq!(refund.merchant_refund_id.as_deref(), Some("rfd_01JH0A2C5D6E7F8G"));
        assert_eq!(refund.merchant_order_id.as_deref(), Some("ord_01JGZ8W4X0K7M2QF"));
        let typed = parse_v2(br#"{"type": "PG_REFUND_FAILED", "payload": {"merchantRefundId": "r1"}}"#).expect("p");
        assert_eq!(typed.event, "pg.refund.failed");
    }

    #[test]
    fn v1_x_verify_follows_the_documented_formula() {
        let v = vectors();
        assert!(!v.v1_cases.is_empty());
        for c in &v.v1_cases {
            let response = v1_response(c.body.as_bytes()).unwrap_or_default();
            let header = (!c.x_verify.is_empty()).then_some(c.x_verify.as_str());
            let ok = x_verify_matches(&response, header, &c.salt_key, &c.salt_index);
            assert_eq!(ok, c.expect == "ok", "{}", c.name);
            if ok {
                let parsed = parse_v1(&response).expect("v1 parse");
                assert_eq!(parsed.event, "checkout.order.completed");
                assert!(parsed.merchant_order_id.is_some());
            }
        }
    }
}
