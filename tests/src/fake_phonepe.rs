//! A stand-in for PhonePe's Standard Checkout v2 API on 127.0.0.1, implementing the documented contract (as
//! PhonePe's official SDK speaks it): OAuth client credentials (`/v1/oauth/token`), `POST /checkout/v2/pay`,
//! `GET /checkout/v2/order/{id}/status`, `POST /payments/v2/refund`, `GET /payments/v2/refund/{id}/status`,
//! with `Authorization: O-Bearer <token>` checked on every call. Orders move only when told: by the test
//! (`complete`, `fail`) or, for `make dev`, by opening the hosted payment page `/pay/<orderId>`, which
//! completes the order, sends the signed S2S callback to the configured webhook and redirects back.
//!
//! Used by the integration tests and, through `devstack phonepe`, by the local stack. Payment APIs are never
//! called for real.

use crate::http_stub::{read_request, respond};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

pub const CLIENT_ID: &str = "TESTMERCHANTUAT";
pub const CLIENT_SECRET: &str = "test-client-secret-0123456789";

/// Where the hosted page sends callbacks (`make dev`): the webhook URL and its configured credentials.
#[derive(Debug, Clone)]
pub struct CallbackTarget {
    pub url: String,
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub merchant_order_id: String,
    pub order_id: String,
    pub amount: i64,
    pub state: String,
    pub redirect_url: String,
    pub expire_at_ms: i64,
    pub completed_at_ms: Option<i64>,
    pub transaction_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Refund {
    pub merchant_refund_id: String,
    pub refund_id: String,
    pub original_merchant_order_id: String,
    pub amount: i64,
    pub state: String,
}

#[derive(Default)]
struct State {
    seq: u64,
    /// The stand-in's clock (ms); 0 = the real time.
    now_ms: i64,
    tokens: HashMap<String, i64>,
    token_ttl_seconds: i64,
    orders: HashMap<String, Order>,
    refunds: HashMap<String, Refund>,
    /// The next this-many `pay` calls create their order and then never answer.
    pay_hangs: u32,
    /// Every request fails with 500.
    failing: bool,
    requests: Vec<(String, String)>,
    callback: Option<CallbackTarget>,
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now_ms(st: &State) -> i64 {
    if st.now_ms > 0 { st.now_ms } else { chrono::Utc::now().timestamp_millis() }
}

pub struct FakePhonePe {
    pub base: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakePhonePe {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakePhonePe {
    /// Listen on `127.0.0.1:port` (0: any free port).
    pub async fn start_on(port: u16) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let base = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(Mutex::new(State { token_ttl_seconds: 3_600, ..Default::default() }));
        let shared = Arc::clone(&state);
        let public = base.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&shared);
                let public = public.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, state, public).await;
                });
            }
        });
        Ok(Self { base, state, task })
    }

    pub async fn start() -> Self {
        Self::start_on(0).await.expect("bind 127.0.0.1")
    }

    pub fn set_now_ms(&self, ms: i64) {
        lock(&self.state).now_ms = ms;
    }

    pub fn set_callback(&self, target: CallbackTarget) {
        lock(&self.state).callback = Some(target);
    }

    pub fn set_failing(&self, failing: bool) {
        lock(&self.state).failing = failing;
    }

    /// The next `n` pay calls create their order and never answer (a lost response).
    pub fn hang_next_pays(&self, n: u32) {
        lock(&self.state).pay_hangs = n;
    }

    /// Tokens issued so far stop working (as after a key rotation): calls answer 401 until a new token.
    pub fn revoke_tokens(&self) {
        lock(&self.state).tokens.clear();
    }

    /// `(method, path)` of every request so far.
    pub fn requests(&self) -> Vec<(String, String)> {
        lock(&self.state).requests.clone()
    }

    pub fn order(&self, merchant_order_id: &str) -> Option<Order> {
        lock(&self.state).orders.get(merchant_order_id).cloned()
    }

    /// The user paid: the order is COMPLETED with one successful attempt.
    pub fn complete(&self, merchant_order_id: &str) {
        let mut st = lock(&self.state);
        complete_order(&mut st, merchant_order_id);
    }

    /// The payment failed.
    pub fn fail(&self, merchant_order_id: &str) {
        if let Some(o) = lock(&self.state).orders.get_mut(merchant_order_id) {
            o.state = "FAILED".into();
        }
    }

    /// The refund went through (or not).
    pub fn settle_refund(&self, merchant_refund_id: &str, completed: bool) {
        if let Some(r) = lock(&self.state).refunds.get_mut(merchant_refund_id) {
            r.state = if completed { "COMPLETED" } else { "FAILED" }.into();
        }
    }

    /// The refunds PhonePe holds for an order (whoever asked for them).
    pub fn refunds_of(&self, original_merchant_order_id: &str) -> Vec<Refund> {
        let st = lock(&self.state);
        let mut list: Vec<Refund> = st
            .refunds
            .values()
            .filter(|r| r.original_merchant_order_id == original_merchant_order_id)
            .cloned()
            .collect();
        list.sort_by(|a, b| a.refund_id.cmp(&b.refund_id));
        list
    }

    /// Put a refund into PhonePe's records as is (one made outside our API, or PhonePe reporting another
    /// amount than we asked for).
    pub fn put_refund(&self, refund: Refund) {
        lock(&self.state).refunds.insert(refund.merchant_refund_id.clone(), refund);
    }

    pub fn refund(&self, merchant_refund_id: &str) -> Option<Refund> {
        lock(&self.state).refunds.get(merchant_refund_id).cloned()
    }

    /// The body of an S2S callback for an order, in PhonePe's v2 shape, claiming `state` (which may differ
    /// from what the status API says: the body is not signed).
    pub fn order_callback(&self, merchant_order_id: &str, state: &str) -> String {
        let st = lock(&self.state);
        let (order_id, amount) =
            st.orders.get(merchant_order_id).map(|o| (o.order_id.clone(), o.amount)).unwrap_or_default();
        let event = if state == "COMPLETED" { "checkout.order.completed" } else { "checkout.order.failed" };
        callback_body(
            event,
            &json!({"merchantId": CLIENT_ID, "merchantOrderId": merchant_order_id,
                                    "orderId": order_id, "state": state, "amount": amount}),
        )
    }

    pub fn refund_callback(&self, merchant_refund_id: &str) -> String {
        let st = lock(&self.state);
        let r = st.refunds.get(merchant_refund_id);
        let state = r.map_or("FAILED".to_owned(), |r| r.state.clone());
        let event = if state == "COMPLETED" { "pg.refund.completed" } else { "pg.refund.failed" };
        callback_body(
            event,
            &json!({"merchantId": CLIENT_ID, "merchantRefundId": merchant_refund_id,
            "originalMerchantOrderId": r.map(|r| r.original_merchant_order_id.clone()),
            "refundId": r.map(|r| r.refund_id.clone()), "amount": r.map(|r| r.amount), "state": state}),
        )
    }
}

fn callback_body(event: &str, payload: &Value) -> String {
    let kind = event.to_ascii_uppercase().replace('.', "_");
    json!({"event": event, "type": kind, "payload": payload}).to_string()
}

fn next(st: &mut State, prefix: &str) -> String {
    st.seq += 1;
    format!("{prefix}{:019}", st.seq)
}

fn complete_order(st: &mut State, merchant_order_id: &str) {
    let at = now_ms(st);
    let tx = next(st, "OM");
    if let Some(o) = st.orders.get_mut(merchant_order_id)
        && o.state == "PENDING"
    {
        o.state = "COMPLETED".into();
        o.completed_at_ms = Some(at);
        o.transaction_id = Some(tx);
    }
}

fn status_json(o: &Order) -> Value {
    let details: Vec<Value> = match (&o.transaction_id, o.completed_at_ms) {
        (Some(tx), Some(at)) => vec![json!({"transactionId": tx, "paymentMode": "UPI_QR", "timestamp": at,
                                             "amount": o.amount, "state": "COMPLETED"})],
        _ => Vec::new(),
    };
    json!({"orderId": o.order_id, "state": o.state, "amount": o.amount, "expireAt": o.expire_at_ms,
           "metaInfo": {}, "paymentDetails": details})
}

fn error(status: u16, code: &str, message: &str) -> (u16, Value) {
    (status, json!({"code": code, "message": message, "data": {}}))
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>, public: String) -> std::io::Result<()> {
    let Some((method, target, headers, body)) = read_request(&mut stream).await? else { return Ok(()) };
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let segments: Vec<String> = path.trim_start_matches('/').split('/').map(str::to_owned).collect();
    let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
    let failing = {
        let mut st = lock(&state);
        st.requests.push((method.clone(), path.to_owned()));
        st.failing
    };
    if failing {
        return respond(&mut stream, 500, &error(500, "INTERNAL_SERVER_ERROR", "stand-in failing").1.to_string()).await;
    }
    // The hosted payment page (a browser, no token): pay, call back, go back to the merchant.
    if method == "GET" && seg.first() == Some(&"pay") && seg.len() == 2 {
        return hosted_page(stream, state, seg[1], query).await;
    }
    if method == "POST" && path == "/v1/oauth/token" {
        let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
        let ok = form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
            && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
            && form.get("grant_type").map(String::as_str) == Some("client_credentials");
        if !ok {
            let answer = json!({"errorCode": "INVALID_CLIENT", "message": "Client authentication failed"});
            return respond(&mut stream, 401, &answer.to_string()).await;
        }
        let answer = {
            let mut st = lock(&state);
            let token = next(&mut st, "tok-");
            let issued = now_ms(&st) / 1000;
            let expires = issued + st.token_ttl_seconds;
            st.tokens.insert(token.clone(), expires);
            json!({"access_token": token, "encrypted_access_token": token, "expires_in": null,
                   "issued_at": issued, "expires_at": expires, "session_expires_at": expires,
                   "token_type": "O-Bearer"})
        };
        return respond(&mut stream, 200, &answer.to_string()).await;
    }
    let authorized = {
        let st = lock(&state);
        headers
            .get("authorization")
            .and_then(|a| a.strip_prefix("O-Bearer "))
            .and_then(|t| st.tokens.get(t))
            .is_some_and(|exp| *exp > now_ms(&st) / 1000)
    };
    if !authorized {
        let (s, v) = error(401, "UNAUTHORIZED", "Unauthorized");
        return respond(&mut stream, s, &v.to_string()).await;
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut hang = false;
    let (status, answer) = {
        let mut st = lock(&state);
        match (method.as_str(), seg.as_slice()) {
            ("POST", ["checkout", "v2", "pay"]) => {
                let mid = request["merchantOrderId"].as_str().unwrap_or_default().to_owned();
                let amount = request["amount"].as_i64().unwrap_or(0);
                let redirect = request.pointer("/paymentFlow/merchantUrls/redirectUrl").and_then(Value::as_str);
                let valid_id = crate_valid_id(&mid);
                if !valid_id || amount < 100 || redirect.is_none() {
                    error(400, "BAD_REQUEST", "Invalid request")
                } else if st.orders.contains_key(&mid) {
                    error(409, "DUPLICATE_ORDER", "merchantOrderId already used")
                } else {
                    let order_id = next(&mut st, "OMO");
                    let ttl = request["expireAfter"].as_i64().unwrap_or(1200);
                    let order = Order {
                        merchant_order_id: mid.clone(),
                        order_id: order_id.clone(),
                        amount,
                        state: "PENDING".into(),
                        redirect_url: redirect.unwrap_or_default().to_owned(),
                        expire_at_ms: now_ms(&st) + ttl * 1000,
                        completed_at_ms: None,
                        transaction_id: None,
                    };
                    st.orders.insert(mid, order);
                    if st.pay_hangs > 0 {
                        st.pay_hangs -= 1;
                        hang = true;
                    }
                    (
                        200,
                        json!({"orderId": order_id, "state": "PENDING", "expireAt": now_ms(&st) + ttl * 1000,
                                 "redirectUrl": format!("{public}/pay/{order_id}")}),
                    )
                }
            }
            ("GET", ["checkout", "v2", "order", mid, "status"]) => match st.orders.get(*mid) {
                Some(o) => (200, status_json(o)),
                None => error(404, "ORDER_NOT_FOUND", "No order with this merchantOrderId"),
            },
            ("POST", ["payments", "v2", "refund"]) => {
                let mrid = request["merchantRefundId"].as_str().unwrap_or_default().to_owned();
                let original = request["originalMerchantOrderId"].as_str().unwrap_or_default().to_owned();
                let amount = request["amount"].as_i64().unwrap_or(0);
                let refunded: i64 = st
                    .refunds
                    .values()
                    .filter(|r| r.original_merchant_order_id == original && r.state != "FAILED")
                    .map(|r| r.amount)
                    .sum();
                let paid = st.orders.get(&original).filter(|o| o.state == "COMPLETED").map(|o| o.amount);
                if let Some(existing) = st.refunds.get(&mrid) {
                    (200, json!({"refundId": existing.refund_id, "amount": existing.amount, "state": existing.state}))
                } else if paid.is_none_or(|p| amount < 100 || amount > p - refunded) {
                    error(400, "INVALID_REFUND_AMOUNT", "Refund amount invalid")
                } else {
                    let refund_id = next(&mut st, "OMR");
                    st.refunds.insert(
                        mrid.clone(),
                        Refund {
                            merchant_refund_id: mrid,
                            refund_id: refund_id.clone(),
                            original_merchant_order_id: original,
                            amount,
                            state: "PENDING".into(),
                        },
                    );
                    (200, json!({"refundId": refund_id, "amount": amount, "state": "PENDING"}))
                }
            }
            ("GET", ["payments", "v2", "refund", mrid, "status"]) => match st.refunds.get(*mrid) {
                Some(r) => (
                    200,
                    json!({"merchantRefundId": r.merchant_refund_id, "refundId": r.refund_id,
                           "originalMerchantOrderId": r.original_merchant_order_id, "amount": r.amount,
                           "state": r.state, "paymentDetails": []}),
                ),
                None => error(404, "REFUND_NOT_FOUND", "No refund with this merchantRefundId"),
            },
            _ => error(404, "NOT_FOUND", "Unknown path"),
        }
    };
    if hang {
        tokio::time::sleep(std::time::Duration::from_secs(120)).await;
        return Ok(());
    }
    respond(&mut stream, status, &answer.to_string()).await
}

fn crate_valid_id(id: &str) -> bool {
    (1..=63).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `/pay/<orderId>?outcome=failure` fails the payment; otherwise it completes. Then the callback (when a
/// target is set) and a redirect to the merchant's URL.
async fn hosted_page(
    mut stream: TcpStream,
    state: Arc<Mutex<State>>,
    order_id: &str,
    query: &str,
) -> std::io::Result<()> {
    let failure = query.contains("outcome=failure");
    let (found, callback) = {
        let mut st = lock(&state);
        let mid = st.orders.values().find(|o| o.order_id == order_id).map(|o| o.merchant_order_id.clone());
        match mid {
            Some(mid) => {
                if failure {
                    if let Some(o) = st.orders.get_mut(&mid) {
                        o.state = "FAILED".into();
                    }
                } else {
                    complete_order(&mut st, &mid);
                }
                let o = st.orders.get(&mid).cloned();
                (o, st.callback.clone())
            }
            None => (None, None),
        }
    };
    let Some(order) = found else {
        return respond(&mut stream, 404, "{\"message\":\"no such order\"}").await;
    };
    if let Some(target) = callback {
        let event = if order.state == "COMPLETED" { "checkout.order.completed" } else { "checkout.order.failed" };
        let body = callback_body(
            event,
            &json!({"merchantId": CLIENT_ID, "merchantOrderId": order.merchant_order_id,
            "orderId": order.order_id, "state": order.state, "amount": order.amount}),
        );
        let auth = shared::payments::phonepe::callback::expected_authorization(&target.username, &target.password);
        if let Err(e) = post(&target.url, &auth, &body).await {
            eprintln!("phonepe stand-in: callback to {} failed: {e}", target.url);
        }
    }
    let page = format!(
        "HTTP/1.1 302 Found\r\nLocation: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        order.redirect_url
    );
    stream.write_all(page.as_bytes()).await?;
    stream.shutdown().await
}

/// A plain-HTTP POST of JSON (callbacks go to the local gateway).
async fn post(url: &str, authorization: &str, body: &str) -> std::io::Result<()> {
    use tokio::io::AsyncReadExt;
    let rest = url.strip_prefix("http://").ok_or_else(|| std::io::Error::other("http:// only"))?;
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut s = TcpStream::connect(host).await?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nAuthorization: {authorization}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await?;
    Ok(())
}
