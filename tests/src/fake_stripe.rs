//! A recorded-fixture stand-in for the parts of the Stripe API that localstripe lacks (Checkout Sessions,
//! prorated price changes, basil-shaped objects): a small stateful HTTP server on 127.0.0.1 that answers with
//! the JSON shapes of `tests/fixtures/stripe/*.json` (Stripe API 2025-03-31.basil, taken from Stripe's API
//! reference), records every request (method, path, form, `Idempotency-Key`, `Stripe-Version`) and builds the
//! events Stripe would send. It can be told to fail (HTTP 500) or to hang (for timeouts).
//!
//! It is not Stripe: it models one subscription item per subscription, one invoice per change and
//! immediate successful payments, which is what the tests need.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const DAY: i64 = 86_400;

fn fixture(name: &str) -> Value {
    let path = crate::workspace_root().join("tests/fixtures/stripe").join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// How the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Every request gets HTTP 500 (Stripe's `api_error`).
    Fail,
    /// Requests are read and never answered.
    Hang,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub form: Vec<(String, String)>,
    pub idempotency_key: Option<String>,
    pub stripe_version: Option<String>,
    pub authorization: Option<String>,
}

impl Recorded {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    mode: Option<Mode>,
    seq: u64,
    now: i64,
    requests: Vec<Recorded>,
    sessions: HashMap<String, Value>,
    subscriptions: HashMap<String, Value>,
    invoices: HashMap<String, Value>,
    products: HashMap<String, Value>,
    /// Every event made, oldest first.
    events: Vec<Value>,
    prices: HashMap<String, Value>,
    /// Responses already given per idempotency key (Stripe replays them).
    replays: HashMap<String, (u16, Value)>,
}

/// The fake server. Dropping it stops the listener task.
pub struct FakeStripe {
    pub base: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FakeStripe {
    pub async fn start(now: i64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State { mode: Some(Mode::Normal), now, ..Default::default() }));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let _ = serve(stream, state).await;
                });
            }
        });
        Self { base, state, task }
    }

    pub fn set_mode(&self, mode: Mode) {
        lock(&self.state).mode = Some(mode);
    }

    /// Stripe's clock (event and period times).
    pub fn set_now(&self, now: i64) {
        lock(&self.state).now = now;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state).requests.clone()
    }

    /// The PaymentIntent that paid an invoice.
    pub fn payment_intent_of(&self, invoice_id: &str) -> Option<String> {
        lock(&self.state).invoices.get(invoice_id)?["payments"]["data"][0]["payment"]["payment_intent"]
            .as_str()
            .map(str::to_owned)
    }

    /// The Prices made through the API (by id).
    pub fn prices(&self) -> HashMap<String, Value> {
        lock(&self.state).prices.clone()
    }

    pub fn products(&self) -> HashMap<String, Value> {
        lock(&self.state).products.clone()
    }

    pub fn subscription(&self, id: &str) -> Option<Value> {
        lock(&self.state).subscriptions.get(id).cloned()
    }

    /// The customer pays the Checkout Session: Stripe creates the subscription and its first invoice and
    /// sends `checkout.session.completed`, `customer.subscription.created` and `invoice.paid` (returned
    /// here, in Stripe's order, for the test to deliver).
    pub fn complete_checkout(&self, session_id: &str) -> Vec<Value> {
        let mut st = lock(&self.state);
        let now = st.now;
        let mut session = st.sessions.get(session_id).cloned().expect("session");
        // An expired (or already paid) session has no payment page any more.
        if session["status"] != "open" {
            return Vec::new();
        }
        let sub_id = next_id(&mut st, "sub");
        let item_id = next_id(&mut st, "si");
        let price = session["line_items_price"].as_str().unwrap_or_default().to_owned();
        let amount = session["amount_total"].as_i64().unwrap_or(0);
        let mut sub = fixture("subscription");
        sub["id"] = sub_id.clone().into();
        sub["customer"] = session["customer"].clone();
        sub["status"] = "active".into();
        sub["created"] = now.into();
        sub["metadata"] = session["subscription_metadata"].clone();
        sub["items"]["data"][0]["id"] = item_id.into();
        sub["items"]["data"][0]["subscription"] = sub_id.clone().into();
        sub["items"]["data"][0]["price"]["id"] = price.into();
        sub["items"]["data"][0]["price"]["unit_amount"] = amount.into();
        sub["items"]["data"][0]["current_period_start"] = now.into();
        sub["items"]["data"][0]["current_period_end"] = (now + 30 * DAY).into();
        st.subscriptions.insert(sub_id.clone(), sub.clone());
        session["status"] = "complete".into();
        session["payment_status"] = "paid".into();
        session["subscription"] = sub_id.clone().into();
        st.sessions.insert(session_id.to_owned(), session.clone());
        let invoice = new_invoice(&mut st, &sub, amount, "subscription_create");
        let mut public_session = session.clone();
        strip_private(&mut public_session);
        vec![
            event(&mut st, "checkout.session.completed", public_session),
            event(&mut st, "customer.subscription.created", sub),
            event(&mut st, "invoice.paid", invoice),
        ]
    }

    /// The subscription renews into its next period: `invoice.paid` and `customer.subscription.updated`.
    pub fn renew(&self, sub_id: &str) -> Vec<Value> {
        let mut st = lock(&self.state);
        let mut sub = st.subscriptions.get(sub_id).cloned().expect("subscription");
        let end = sub["items"]["data"][0]["current_period_end"].as_i64().unwrap_or(0);
        sub["items"]["data"][0]["current_period_start"] = end.into();
        sub["items"]["data"][0]["current_period_end"] = (end + 30 * DAY).into();
        let amount = sub["items"]["data"][0]["price"]["unit_amount"].as_i64().unwrap_or(0);
        st.subscriptions.insert(sub_id.to_owned(), sub.clone());
        let invoice = new_invoice(&mut st, &sub, amount, "subscription_cycle");
        vec![event(&mut st, "invoice.paid", invoice), event(&mut st, "customer.subscription.updated", sub)]
    }

    /// A renewal fails: `invoice.payment_failed` and the subscription `past_due`.
    pub fn fail_renewal(&self, sub_id: &str) -> Vec<Value> {
        let mut st = lock(&self.state);
        let mut sub = st.subscriptions.get(sub_id).cloned().expect("subscription");
        let end = sub["items"]["data"][0]["current_period_end"].as_i64().unwrap_or(0);
        sub["items"]["data"][0]["current_period_start"] = end.into();
        sub["items"]["data"][0]["current_period_end"] = (end + 30 * DAY).into();
        sub["status"] = "past_due".into();
        st.subscriptions.insert(sub_id.to_owned(), sub.clone());
        let amount = sub["items"]["data"][0]["price"]["unit_amount"].as_i64().unwrap_or(0);
        let mut invoice = new_invoice(&mut st, &sub, amount, "subscription_cycle");
        invoice["status"] = "open".into();
        invoice["amount_paid"] = 0.into();
        invoice["attempt_count"] = 1.into();
        invoice["status_transitions"]["paid_at"] = Value::Null;
        vec![event(&mut st, "invoice.payment_failed", invoice), event(&mut st, "customer.subscription.updated", sub)]
    }

    /// The subscription object as it is now, as a `customer.subscription.updated` event.
    pub fn updated_event(&self, sub_id: &str, status: &str) -> Value {
        let mut st = lock(&self.state);
        let mut sub = st.subscriptions.get(sub_id).cloned().expect("subscription");
        sub["status"] = status.into();
        st.subscriptions.insert(sub_id.to_owned(), sub.clone());
        event(&mut st, "customer.subscription.updated", sub)
    }

    /// Stripe ends a subscription (at its period end, or canceled now): `customer.subscription.deleted`.
    pub fn deleted_event(&self, sub_id: &str) -> Value {
        let mut st = lock(&self.state);
        let mut sub = st.subscriptions.get(sub_id).cloned().expect("subscription");
        sub["status"] = "canceled".into();
        st.subscriptions.insert(sub_id.to_owned(), sub.clone());
        event(&mut st, "customer.subscription.deleted", sub)
    }

    /// `charge.refunded` for the refunds made so far of a payment intent.
    pub fn refunded_event(&self, payment_intent: &str, refunds: &[(String, i64)], customer: &str) -> Value {
        let mut st = lock(&self.state);
        let mut charge = fixture("charge");
        charge["id"] = format!("ch_for_{payment_intent}").into();
        charge["payment_intent"] = payment_intent.into();
        charge["customer"] = customer.into();
        charge["amount_refunded"] = refunds.iter().map(|(_, a)| a).sum::<i64>().into();
        charge["refunded"] = true.into();
        let now = st.now;
        charge["refunds"]["data"] = refunds
            .iter()
            .map(|(id, amount)| {
                json!({"id": id, "object": "refund", "amount": amount, "currency": "inr", "created": now,
                       "status": "succeeded", "payment_intent": payment_intent})
            })
            .collect::<Vec<_>>()
            .into();
        event(&mut st, "charge.refunded", charge)
    }
}

impl FakeStripe {
    /// `refund.created|updated|failed` for one refund of a payment intent, in the given status.
    pub fn refund_event(&self, kind: &str, refund_id: &str, payment_intent: &str, amount: i64, status: &str) -> Value {
        let mut st = lock(&self.state);
        let now = st.now;
        let refund = json!({"id": refund_id, "object": "refund", "amount": amount, "currency": "inr",
                            "created": now, "status": status, "payment_intent": payment_intent,
                            "charge": format!("ch_for_{payment_intent}"), "reason": "requested_by_customer"});
        event(&mut st, kind, refund)
    }
}

fn next_id(st: &mut State, prefix: &str) -> String {
    st.seq += 1;
    format!("{prefix}_fake{:010}{}", st.seq, ulid::Ulid::new().to_string().to_lowercase())
}

fn strip_private(session: &mut Value) {
    if let Some(o) = session.as_object_mut() {
        o.remove("line_items_price");
        o.remove("subscription_metadata");
    }
}

fn new_invoice(st: &mut State, sub: &Value, amount: i64, reason: &str) -> Value {
    let id = next_id(st, "in");
    let pi = next_id(st, "pi");
    let now = st.now;
    let mut invoice = fixture("invoice");
    invoice["id"] = id.clone().into();
    invoice["customer"] = sub["customer"].clone();
    invoice["amount_due"] = amount.into();
    invoice["amount_paid"] = amount.into();
    invoice["billing_reason"] = reason.into();
    invoice["created"] = now.into();
    invoice["status_transitions"]["paid_at"] = now.into();
    invoice["parent"]["subscription_details"]["subscription"] = sub["id"].clone();
    invoice["parent"]["subscription_details"]["metadata"] = sub["metadata"].clone();
    invoice["lines"]["data"][0]["amount"] = amount.into();
    // As in basil, the payment is not on the invoice itself; `expand[]=payments` shows it.
    let mut stored = invoice.clone();
    stored["payments"] = json!({"object": "list", "data": [{"id": format!("inpay_{id}"), "object": "invoice_payment",
        "amount_paid": amount, "status": "paid", "payment": {"type": "payment_intent", "payment_intent": pi}}]});
    st.invoices.insert(id, stored);
    invoice
}

/// An event as Stripe sends it, kept for `GET /v1/events` (whether or not the test delivers it).
fn event(st: &mut State, kind: &str, object: Value) -> Value {
    let id = next_id(st, "evt");
    let e = json!({"id": id, "object": "event", "api_version": "2025-03-31.basil", "created": st.now,
                   "livemode": false, "pending_webhooks": 1, "request": {"id": null, "idempotency_key": null},
                   "type": kind, "data": {"object": object}});
    st.events.push(e.clone());
    e
}

fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// One HTTP/1.1 request: method, target, lower-case headers, body. `None` when the peer closed first.
pub(crate) async fn read_request(
    stream: &mut TcpStream,
) -> std::io::Result<Option<(String, String, HashMap<String, String>, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_owned();
    let target = first.next().unwrap_or_default().to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[head_end..(head_end + length).min(buf.len())].to_vec();
    Ok(Some((method, target, headers, body)))
}

pub(crate) async fn respond(stream: &mut TcpStream, status: u16, text: &str) -> std::io::Result<()> {
    let response = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// A received webhook delivery: the raw body and its `Stripe-Signature` header.
pub type Delivery = (Vec<u8>, Option<String>);

/// A webhook endpoint on 127.0.0.1 that keeps what it receives (raw body, `Stripe-Signature`) and answers 200,
/// so a test can pass real deliveries (e.g. localstripe's) to the webhook handler.
pub struct WebhookSink {
    pub url: String,
    received: Arc<Mutex<Vec<Delivery>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WebhookSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        let url = format!("http://{}/webhook", listener.local_addr().expect("addr"));
        let received: Arc<Mutex<Vec<Delivery>>> = Arc::default();
        let shared = Arc::clone(&received);
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    if let Ok(Some((_, _, headers, body))) = read_request(&mut stream).await {
                        shared
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push((body, headers.get("stripe-signature").cloned()));
                        let _ = respond(&mut stream, 200, "{}").await;
                    }
                });
            }
        });
        Self { url, received, task }
    }

    /// Deliveries received so far (and forgets them).
    pub fn take(&self) -> Vec<Delivery> {
        std::mem::take(&mut *self.received.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Wait (up to `secs`) until a delivery of each event type arrived; returns everything received.
    pub async fn wait_for(&self, types: &[&str], secs: u64) -> Vec<Delivery> {
        let mut got = Vec::new();
        for _ in 0..secs * 10 {
            got.extend(self.take());
            let seen =
                |t: &str| got.iter().any(|(b, _)| serde_json::from_slice::<Value>(b).is_ok_and(|v| v["type"] == t));
            if types.iter().all(|t| seen(t)) {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("webhooks {types:?} not all received within {secs}s; got {}", got.len());
    }
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let Some((method, target, headers, body)) = read_request(&mut stream).await? else {
        return Ok(());
    };
    let body = &body[..];
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut form = parse_form(body);
    form.extend(parse_form(query.as_bytes()));
    let recorded = Recorded {
        method: method.clone(),
        path: path.to_owned(),
        form,
        idempotency_key: headers.get("idempotency-key").cloned(),
        stripe_version: headers.get("stripe-version").cloned(),
        authorization: headers.get("authorization").cloned(),
    };
    let mode = {
        let mut st = lock(&state);
        st.requests.push(recorded.clone());
        st.mode.unwrap_or(Mode::Normal)
    };
    let (status, answer) = match mode {
        Mode::Hang => {
            tokio::time::sleep(std::time::Duration::from_secs(120)).await;
            return Ok(());
        }
        Mode::Fail => (500, json!({"error": {"type": "api_error", "message": "An unknown error occurred"}})),
        Mode::Normal => answer(&state, &recorded),
    };
    respond(&mut stream, status, &answer.to_string()).await
}

/// What a price charges: a Price made through the API, else the seeded test ids (`…enterprise…` is
/// ₹1,999, anything else ₹499).
fn amount_of(st: &State, price: &str) -> i64 {
    match st.prices.get(price).and_then(|p| p["unit_amount"].as_i64()) {
        Some(amount) => amount,
        None if price.contains("enterprise") => 199_900,
        None => 49_900,
    }
}

fn refused(status: u16, kind: &str, message: &str) -> (u16, Value) {
    (status, json!({"error": {"type": kind, "message": message}}))
}

fn answer(state: &Mutex<State>, r: &Recorded) -> (u16, Value) {
    let mut st = lock(state);
    if !r.authorization.as_deref().is_some_and(|a| a.starts_with("Bearer sk_")) {
        return refused(401, "invalid_request_error", "Invalid API Key provided");
    }
    let replay_key = r.idempotency_key.as_ref().map(|k| format!("{} {} {k}", r.method, r.path));
    if let Some(k) = &replay_key
        && let Some(previous) = st.replays.get(k)
    {
        return previous.clone();
    }
    let segments: Vec<&str> = r.path.trim_start_matches('/').split('/').collect();
    let now = st.now;
    let result = match (r.method.as_str(), segments.as_slice()) {
        ("POST", ["v1", "customers"]) => {
            let id = next_id(&mut st, "cus");
            (
                200,
                json!({"id": id, "object": "customer", "email": r.param("email"),
                         "metadata": {"user_id": r.param("metadata[user_id]")}, "created": now}),
            )
        }
        ("POST", ["v1", "checkout", "sessions"]) => {
            if r.param("mode") != Some("subscription") || r.param("line_items[0][price]").is_none() {
                return refused(400, "invalid_request_error", "Missing required param: line_items[0][price].");
            }
            let id = next_id(&mut st, "cs_test");
            let mut session = fixture("checkout_session");
            session["id"] = id.clone().into();
            session["url"] = format!("https://checkout.stripe.test/c/pay/{id}").into();
            session["customer"] = r.param("customer").into();
            session["client_reference_id"] = r.param("client_reference_id").into();
            session["success_url"] = r.param("success_url").into();
            session["cancel_url"] = r.param("cancel_url").into();
            session["created"] = now.into();
            session["expires_at"] = (now + DAY).into();
            session["metadata"] = json!({"subscription_id": r.param("metadata[subscription_id]")});
            let amount = amount_of(&st, r.param("line_items[0][price]").unwrap_or_default());
            session["amount_total"] = amount.into();
            let mut stored = session.clone();
            stored["line_items_price"] = r.param("line_items[0][price]").into();
            stored["subscription_metadata"] = r
                .form
                .iter()
                .filter_map(|(k, v)| {
                    Some((k.strip_prefix("subscription_data[metadata][")?.strip_suffix(']')?.to_owned(), json!(v)))
                })
                .collect::<serde_json::Map<_, _>>()
                .into();
            st.sessions.insert(id, stored);
            (200, session)
        }
        ("POST", ["v1", "checkout", "sessions", id, "expire"]) => match st.sessions.get_mut(*id) {
            // Only an open session can be expired (a paid one is `complete`).
            Some(s) if s["status"] != "open" => refused(
                400,
                "invalid_request_error",
                "Only Checkout Sessions with a status in [\"open\"] can be expired.",
            ),
            Some(s) => {
                s["status"] = "expired".into();
                let mut out = s.clone();
                strip_private(&mut out);
                (200, out)
            }
            None => refused(404, "invalid_request_error", "No such checkout.session"),
        },
        ("GET", ["v1", "checkout", "sessions", id]) => match st.sessions.get(*id) {
            Some(s) => {
                let mut out = s.clone();
                strip_private(&mut out);
                (200, out)
            }
            None => refused(404, "invalid_request_error", "No such checkout.session"),
        },
        ("POST", ["v1", "products"]) => {
            let id = r.param("id").map_or_else(|| next_id(&mut st, "prod"), str::to_owned);
            if st.products.contains_key(&id) {
                return (
                    400,
                    json!({"error": {"type": "invalid_request_error", "code": "resource_already_exists",
                                     "message": "Product already exists."}}),
                );
            }
            let product = json!({"id": id, "object": "product", "active": true, "name": r.param("name"),
                                 "metadata": {"solution_id": r.param("metadata[solution_id]")}, "created": now});
            st.products.insert(id, product.clone());
            (200, product)
        }
        ("GET", ["v1", "events"]) => {
            // Newest first, `created[gte]`, `starting_after` and `limit` as Stripe pages them.
            let since: i64 = r.param("created[gte]").and_then(|v| v.parse().ok()).unwrap_or(0);
            let limit: usize = r.param("limit").and_then(|v| v.parse().ok()).unwrap_or(10).clamp(1, 100);
            let mut listed: Vec<Value> =
                st.events.iter().rev().filter(|e| e["created"].as_i64().unwrap_or(0) >= since).cloned().collect();
            if let Some(after) = r.param("starting_after") {
                let at = listed.iter().position(|e| e["id"] == after).map_or(listed.len(), |i| i + 1);
                listed.drain(..at);
            }
            let has_more = listed.len() > limit;
            listed.truncate(limit);
            (200, json!({"object": "list", "data": listed, "has_more": has_more, "url": "/v1/events"}))
        }
        ("GET", ["v1", "products", id]) => match st.products.get(*id) {
            Some(p) => (200, p.clone()),
            None => refused(404, "invalid_request_error", "No such product"),
        },
        ("POST", ["v1", "prices"]) => {
            let Some(product) = r.param("product").filter(|p| st.products.contains_key(*p)) else {
                return refused(400, "invalid_request_error", "No such product");
            };
            let lookup_key = r.param("lookup_key");
            if let Some(k) = lookup_key
                && let Some(taken) = st.prices.values().find(|p| p["lookup_key"].as_str() == Some(k))
            {
                let message = format!("A price ({}) already uses that lookup key.", taken["id"]);
                return refused(400, "invalid_request_error", &message);
            }
            let id = next_id(&mut st, "price");
            let price = json!({"id": id, "object": "price", "active": true, "product": product,
                               "currency": r.param("currency"),
                               "unit_amount": r.param("unit_amount").and_then(|a| a.parse::<i64>().ok()),
                               "recurring": {"interval": r.param("recurring[interval]")},
                               "lookup_key": lookup_key, "tax_behavior": r.param("tax_behavior"),
                               "metadata": {"solution_id": r.param("metadata[solution_id]"),
                                            "tier": r.param("metadata[tier]")},
                               "created": now});
            st.prices.insert(id, price.clone());
            (200, price)
        }
        ("GET", ["v1", "prices"]) => {
            let keys: Vec<&str> =
                r.form.iter().filter(|(k, _)| k == "lookup_keys[]").map(|(_, v)| v.as_str()).collect();
            let data: Vec<Value> = st
                .prices
                .values()
                .filter(|p| keys.is_empty() || p["lookup_key"].as_str().is_some_and(|k| keys.contains(&k)))
                .cloned()
                .collect();
            (200, json!({"object": "list", "data": data, "has_more": false, "url": "/v1/prices"}))
        }
        ("GET", ["v1", "prices", id]) => match st.prices.get(*id) {
            Some(p) => (200, p.clone()),
            None => refused(404, "invalid_request_error", "No such price"),
        },
        ("POST", ["v1", "prices", id]) => match st.prices.get_mut(*id) {
            Some(p) => {
                if let Some(active) = r.param("active") {
                    p["active"] = (active == "true").into();
                }
                (200, p.clone())
            }
            None => refused(404, "invalid_request_error", "No such price"),
        },
        ("GET", ["v1", "subscriptions", id]) => match st.subscriptions.get(*id) {
            Some(s) => (200, s.clone()),
            None => refused(404, "invalid_request_error", "No such subscription"),
        },
        ("POST", ["v1", "subscriptions", id]) => {
            let Some(mut sub) = st.subscriptions.get(*id).cloned() else {
                return refused(404, "invalid_request_error", "No such subscription");
            };
            match r.param("cancel_at_period_end") {
                Some("true") => {
                    sub["cancel_at_period_end"] = true.into();
                    sub["cancel_at"] = sub["items"]["data"][0]["current_period_end"].clone();
                }
                Some("false") => {
                    sub["cancel_at_period_end"] = false.into();
                    sub["cancel_at"] = Value::Null;
                }
                _ => {}
            }
            if let Some(price) = r.param("items[0][price]") {
                if r.param("items[0][id]") != sub["items"]["data"][0]["id"].as_str() {
                    return refused(400, "invalid_request_error", "No such subscription item");
                }
                let amount = amount_of(&st, price);
                sub["items"]["data"][0]["price"]["id"] = price.into();
                sub["items"]["data"][0]["price"]["unit_amount"] = amount.into();
            }
            st.subscriptions.insert((*id).to_owned(), sub.clone());
            (200, sub)
        }
        ("DELETE", ["v1", "subscriptions", id]) => {
            let Some(mut sub) = st.subscriptions.get(*id).cloned() else {
                return refused(404, "invalid_request_error", "No such subscription");
            };
            sub["status"] = "canceled".into();
            sub["canceled_at"] = now.into();
            st.subscriptions.insert((*id).to_owned(), sub.clone());
            (200, sub)
        }
        ("GET", ["v1", "invoices", id]) => match st.invoices.get(*id) {
            Some(i) => {
                let mut out = i.clone();
                if !r.form.iter().any(|(k, v)| k == "expand[]" && v == "payments")
                    && let Some(o) = out.as_object_mut()
                {
                    o.remove("payments");
                }
                (200, out)
            }
            None => refused(404, "invalid_request_error", "No such invoice"),
        },
        ("GET", ["v1", "charges", id]) => {
            // The stand-in's charges are named after their payment intent (`ch_for_<pi>`).
            let pi = id.strip_prefix("ch_for_").unwrap_or_default();
            let invoice = st
                .invoices
                .values()
                .find(|i| i.pointer("/payments/data/0/payment/payment_intent").and_then(Value::as_str) == Some(pi));
            match invoice {
                Some(i) => {
                    let mut charge = fixture("charge");
                    charge["id"] = (*id).into();
                    charge["payment_intent"] = pi.into();
                    charge["customer"] = i["customer"].clone();
                    (200, charge)
                }
                None => refused(404, "invalid_request_error", "No such charge"),
            }
        }
        ("POST", ["v1", "refunds"]) => {
            let id = next_id(&mut st, "re");
            let amount: i64 = r.param("amount").and_then(|a| a.parse().ok()).unwrap_or(0);
            (
                200,
                json!({"id": id, "object": "refund", "amount": amount, "currency": "inr", "status": "succeeded",
                         "payment_intent": r.param("payment_intent"), "charge": r.param("charge"),
                         "reason": r.param("reason"), "created": now}),
            )
        }
        _ => refused(404, "invalid_request_error", "Unrecognized request URL"),
    };
    if let Some(k) = replay_key {
        st.replays.insert(k, result.clone());
    }
    result
}
