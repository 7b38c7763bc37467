//! The Stripe stand-in of the tests: the same `infra/local/stripe_local.py` that `make dev` runs (localstripe
//! plus what it lacks, listed in that file's docstring), one process per test environment on 127.0.0.1, driven
//! through its `/_test` control API: its clock, a fail or hang mode, the requests it received, and the
//! customer's and Stripe's own actions (paying at Checkout, renewals, refunds from the dashboard), each
//! answering the events it made so the test delivers them when and in the order it wants.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

pub const DAY: i64 = 86_400;

/// How the stand-in answers `/v1` calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Every request gets HTTP 500 (Stripe's `api_error`).
    Fail,
    /// Requests are read and never answered.
    Hang,
}

/// One `/v1` request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Query and form parameters, in order.
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

/// A running stand-in. Dropping it stops the process.
pub struct StripeLocal {
    /// `http://127.0.0.1:PORT`: the functions' `STRIPE_API_BASE`.
    pub base: String,
    addr: String,
    child: Child,
}

impl Drop for StripeLocal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl StripeLocal {
    /// Starts a stand-in whose clock reads `now` (epoch seconds).
    pub async fn start(now: i64) -> Self {
        tokio::task::spawn_blocking(move || Self::start_blocking(now)).await.expect("start stripe_local")
    }

    fn start_blocking(now: i64) -> Self {
        let root = crate::workspace_root();
        let python = root.join(".local/localstripe-venv/bin/python");
        let mut child = Command::new(&python)
            .arg(root.join("infra/local/stripe_local.py"))
            .args(["--port", "0", "--quiet", "--webhook-delay", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e} (run `make tools`)", python.display()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("stripe_local's first line");
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("stripe_local did not start: {line:?}"))
            .to_owned();
        let addr = base.trim_start_matches("http://").to_owned();
        let stand_in = Self { base, addr, child };
        stand_in.set_now(now);
        stand_in
    }

    /// One control call (`/_test/<what>`), answered with JSON; panics on an error answer.
    /// One control call (`/_test/<what>`): its status and body.
    fn exchange(&self, method: &str, what: &str, body: Option<Value>) -> (String, String) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut stream = TcpStream::connect(&self.addr).expect("connect to stripe_local");
        let request = format!(
            "{method} /_test/{what} HTTP/1.0\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        stream.write_all(request.as_bytes()).expect("write to stripe_local");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read stripe_local's answer");
        let (head, text) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        (head.split_whitespace().nth(1).unwrap_or_default().to_owned(), text.to_owned())
    }

    /// One control call answered with JSON; panics on an error answer.
    fn control(&self, method: &str, what: &str, body: Option<Value>) -> Value {
        let (status, text) = self.exchange(method, what, body);
        assert_eq!(status, "200", "stripe_local {method} /_test/{what}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("stripe_local /_test/{what}: {e}: {text}"))
    }

    fn events(&self, what: &str, body: Value) -> Vec<Value> {
        match self.control("POST", what, Some(body)).get_mut("events").map(Value::take) {
            Some(Value::Array(events)) => events,
            other => panic!("stripe_local /_test/{what}: no events: {other:?}"),
        }
    }

    fn one(&self, what: &str, body: Value, kind: &str) -> Value {
        let events = self.events(what, body);
        events.into_iter().find(|e| e["type"] == kind).unwrap_or_else(|| panic!("no {kind} from /_test/{what}"))
    }

    pub fn set_mode(&self, mode: Mode) {
        let mode = match mode {
            Mode::Normal => "normal",
            Mode::Fail => "fail",
            Mode::Hang => "hang",
        };
        self.control("POST", "mode", Some(json!({"mode": mode})));
    }

    /// Stripe's clock (object, event and period times).
    pub fn set_now(&self, now: i64) {
        self.control("POST", "clock", Some(json!({"now": now})));
    }

    /// Every `/v1` request so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        let answer = self.control("GET", "requests", None);
        let text = |v: &Value| v.as_str().map(str::to_owned);
        answer["requests"]
            .as_array()
            .expect("requests")
            .iter()
            .map(|r| Recorded {
                method: text(&r["method"]).unwrap_or_default(),
                path: text(&r["path"]).unwrap_or_default(),
                form: r["form"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| (text(&p[0]).unwrap_or_default(), text(&p[1]).unwrap_or_default()))
                    .collect(),
                idempotency_key: text(&r["idempotency_key"]),
                stripe_version: text(&r["stripe_version"]),
                authorization: text(&r["authorization"]),
            })
            .collect()
    }

    /// An object as the stand-in holds it now (`kind` as in Stripe's `object` field), without a `/v1` call.
    pub fn object(&self, kind: &str, id: &str) -> Option<Value> {
        self.expanded(kind, id, &[])
    }

    /// As [`Self::object`], with `expand[]` paths (e.g. an invoice's `payments`).
    pub fn expanded(&self, kind: &str, id: &str, expand: &[&str]) -> Option<Value> {
        let what = format!("object?kind={kind}&id={id}&expand={}", expand.join(","));
        let (status, text) = self.exchange("GET", &what, None);
        (status == "200").then(|| serde_json::from_str(&text).ok()).flatten()
    }

    fn objects(&self, kind: &str) -> HashMap<String, Value> {
        let answer = self.control("GET", &format!("objects?kind={kind}"), None);
        answer["data"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|o| (o["id"].as_str().unwrap_or_default().to_owned(), o.clone()))
            .collect()
    }

    /// A recurring price with the given id (as a tier definition names it), and its product.
    pub fn seed_price(&self, id: &str, unit_amount: i64, currency: &str) {
        self.control("POST", "prices", Some(json!({"id": id, "unit_amount": unit_amount, "currency": currency})));
    }

    /// The PaymentIntent that paid an invoice.
    pub fn payment_intent_of(&self, invoice_id: &str) -> Option<String> {
        let invoice = self.expanded("invoice", invoice_id, &["payments"])?;
        invoice.pointer("/payments/data/0/payment/payment_intent")?.as_str().map(str::to_owned)
    }

    /// Every Price (by id).
    pub fn prices(&self) -> HashMap<String, Value> {
        self.objects("price")
    }

    pub fn products(&self) -> HashMap<String, Value> {
        self.objects("product")
    }

    pub fn subscription(&self, id: &str) -> Option<Value> {
        self.object("subscription", id)
    }

    /// The customer pays the Checkout Session with a card that works: Stripe creates the subscription and
    /// its first invoice, charges it and completes the session. Returns the events made, in the order
    /// made (`checkout.session.completed` last); none when the session is no longer open.
    pub fn complete_checkout(&self, session_id: &str) -> Vec<Value> {
        self.events("checkout", json!({"session": session_id}))
    }

    /// The customer's default card becomes `card` (`declined`, `visa` or a 16-digit test number).
    pub fn set_card(&self, customer: &str, card: &str) {
        self.control("POST", "card", Some(json!({"customer": customer, "card": card})));
    }

    /// The subscription renews into its next period, paid: `invoice.*` and `customer.subscription.updated`.
    pub fn renew(&self, sub_id: &str) -> Vec<Value> {
        self.events("renew", json!({"subscription": sub_id}))
    }

    /// A renewal fails (the card now declines): `invoice.payment_failed` and the subscription `past_due`.
    pub fn fail_renewal(&self, sub_id: &str) -> Vec<Value> {
        self.events("fail_renewal", json!({"subscription": sub_id}))
    }

    /// Stripe moves the subscription to `status`: `customer.subscription.updated`.
    pub fn updated_event(&self, sub_id: &str, status: &str) -> Value {
        self.one(
            "subscription_status",
            json!({"subscription": sub_id, "status": status}),
            "customer.subscription.updated",
        )
    }

    /// Stripe ends the subscription: `customer.subscription.deleted`.
    pub fn deleted_event(&self, sub_id: &str) -> Value {
        self.one("subscription_deleted", json!({"subscription": sub_id}), "customer.subscription.deleted")
    }

    /// `charge.refunded` of a payment intent's charge, after the given refunds (made now unless they exist,
    /// as from the dashboard).
    pub fn refunded_event(&self, payment_intent: &str, refunds: &[(String, i64)]) -> Value {
        self.one("charge_refunded", json!({"payment_intent": payment_intent, "refunds": refunds}), "charge.refunded")
    }

    /// `refund.created|updated|failed` for one refund of a payment intent (made unless it exists), now in
    /// `status`.
    pub fn refund_event(&self, kind: &str, refund_id: &str, payment_intent: &str, amount: i64, status: &str) -> Value {
        self.one(
            "refund",
            json!({"type": kind, "refund": refund_id, "payment_intent": payment_intent, "amount": amount,
                   "status": status}),
            kind,
        )
    }
}

/// The object of the first event of type `kind` among `events`.
pub fn object_of<'a>(events: &'a [Value], kind: &str) -> &'a Value {
    &events.iter().find(|e| e["type"] == kind).unwrap_or_else(|| panic!("no {kind} among the events"))["data"]["object"]
}
