//! The subscriptions and stripe-webhook functions on top of a [`TestEnv`], with the Stripe API played by
//! [`StripeLocal`] (`infra/local/stripe_local.py`, the stand-in `make dev` runs too), and helpers to sign and deliver events.

use crate::fake_phonepe::FakePhonePe;
use crate::harness::{Reply, TestEnv, function_s3};
use crate::iam::IamRecorder;
use crate::stripe_local::StripeLocal;
use lambda_http::Body;
use serde_json::{Value, json};
use shared::billing::invoicing::InvoiceFiles;
use shared::billing::invoicing::Seller;
use shared::billing::service::{SubscriptionService, SubscriptionSettings};
use shared::model::{BillingPeriod, Price};
use shared::model::{SolutionStatus, Tier};
use shared::payments::phonepe::callback::WebhookCredentials;
use shared::payments::phonepe::client::{PhonePeClient, PhonePeConfig};
use shared::payments::phonepe::rail::PhonePeSettings;
use shared::payments::stripe::client::{StripeClient, StripeConfig};
use shared::platform::clock::Clock;
use shared::store::solutions::{SolutionItem, TierDefinitionItem};
use std::sync::Arc;
use std::time::Duration;

pub const WEBHOOK_SECRET: &str = "whsec_test_secret_for_the_billing_tests";
pub const SECRET_KEY: &str = "sk_test_billing";

pub struct BillingEnv {
    pub env: TestEnv,
    pub stripe: StripeLocal,
    pub phonepe: FakePhonePe,
    pub subs: Arc<subscriptions::AppState>,
    pub hook: Arc<stripe_webhook::AppState>,
    pub phonepe_hook: Arc<phonepe_webhook::AppState>,
    /// The partners function (solution lifecycle: suspend, reinstate, retire, tier changes).
    pub partners: Arc<partners::AppState>,
    /// The marketplace function (catalog cache off).
    pub market: Arc<marketplace::AppState>,
    /// The private bucket invoice PDFs go to (moto).
    pub bucket: String,
    pub s3: aws_sdk_s3::Client,
}

/// The PhonePe webhook credentials configured in the tests.
pub const PHONEPE_USERNAME: &str = "test_hooks";
pub const PHONEPE_PASSWORD: &str = "Hook7pass9word";

/// The seller on test invoices: a Karnataka GSTIN (state 29).
pub fn test_seller() -> Seller {
    Seller::new(
        "Marketplace Test Pvt Ltd",
        "1 MG Road|Bengaluru 560001",
        shared::gst::Gstin::parse("29AAGCB7383J1Z4").expect("gstin"),
    )
}

pub fn phonepe_client(base: &str, clock: Arc<dyn Clock>) -> PhonePeClient {
    PhonePeClient::new(
        PhonePeConfig {
            api_base: base.to_owned(),
            oauth_base: base.to_owned(),
            client_id: crate::fake_phonepe::CLIENT_ID.to_owned(),
            client_secret: crate::fake_phonepe::CLIENT_SECRET.to_owned(),
            client_version: "1".into(),
            timeout: Duration::from_secs(2),
        },
        clock,
    )
    .expect("phonepe client")
}

pub fn stripe_client(base: &str, timeout: Duration) -> StripeClient {
    StripeClient::new(StripeConfig { api_base: base.to_owned(), secret_key: SECRET_KEY.to_owned(), timeout })
        .expect("stripe client")
}

impl BillingEnv {
    pub async fn new() -> Self {
        let env = TestEnv::new().await;
        let stripe = StripeLocal::start(env.clock.now().timestamp()).await;
        Self::with_stripe(env, stripe, None).await
    }

    /// Functions pointed at `stripe` (its `base`), or at `api_base` when given.
    pub async fn with_stripe(env: TestEnv, stripe: StripeLocal, api_base: Option<&str>) -> Self {
        let client = stripe_client(api_base.unwrap_or(&stripe.base), Duration::from_secs(2));
        let clock = Arc::new(env.clock.clone());
        let phonepe = FakePhonePe::start().await;
        let pp_client = phonepe_client(&phonepe.base, clock.clone());
        let sdk = shared::platform::aws::load().await;
        let s3 = shared::platform::aws::s3(&sdk);
        let bucket = format!("invoices-{}", ulid::Ulid::new().to_string().to_lowercase());
        s3.create_bucket().bucket(&bucket).send().await.expect("bucket (moto)");
        let seller = Arc::new(test_seller());
        let invoice_s3 = function_s3(&s3, IamRecorder::new("subscriptions").bind(&bucket, "INVOICE_BUCKET"));
        let service = SubscriptionService::new(
            env.store_for("subscriptions"),
            Arc::new(env.keys()),
            clock.clone(),
            shared::payments::stripe::rail::StripeRail::shared(client.clone()),
            SubscriptionSettings::new("https://app.test"),
        )
        .with_invoice_rail(|writer| {
            shared::payments::phonepe::rail::PhonePeRail::shared(
                writer,
                pp_client.clone(),
                seller.clone(),
                PhonePeSettings::new("https://app.test"),
            )
        })
        .with_invoice_files(InvoiceFiles { s3: invoice_s3, bucket: bucket.clone(), link_seconds: 300 });
        let subs = Arc::new(subscriptions::AppState { subscriptions: service });
        let phonepe_hook = Arc::new(phonepe_webhook::AppState::new(
            env.store_for("phonepe-webhook"),
            clock.clone(),
            pp_client,
            WebhookCredentials {
                username: PHONEPE_USERNAME.into(),
                password: PHONEPE_PASSWORD.into(),
                salt_key: Some("test-salt-key".into()),
                salt_index: "1".into(),
            },
            seller.clone(),
            PhonePeSettings::new("https://app.test"),
            7 * 86_400,
        ));
        let mut hook = stripe_webhook::AppState::new(
            env.store_for("stripe-webhook"),
            clock.clone(),
            client,
            vec![WEBHOOK_SECRET.to_owned()],
            7 * 86_400,
        );
        hook.webhook = hook.webhook.with_seller(seller.clone());
        let hook = Arc::new(hook);
        let sealer =
            shared::platform::sealed::Sealer::new(&shared::platform::crypto::random_bytes::<32>()).expect("sealer");
        let partners = Arc::new(partners::AppState::new(env.store_for("partners"), env.keys(), clock.clone(), sealer));
        let market = Arc::new(marketplace::AppState::new(env.store_for("marketplace"), env.keys(), clock.clone(), 0));
        Self { env, stripe, phonepe, subs, hook, phonepe_hook, partners, market, bucket, s3 }
    }

    /// Route a request to the function that serves it.
    pub async fn call_with(
        &self,
        method: &str,
        uri: &str,
        body: Option<Value>,
        bearer: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let body = body.map_or(Body::Empty, |b| Body::Text(b.to_string()));
        self.send(crate::harness::api_request(method, uri, body, bearer, headers)).await
    }

    /// Run a request through the function that serves its route.
    pub async fn send(&self, req: lambda_http::Request) -> Reply {
        let (method, path) = (req.method().as_str().to_owned(), req.uri().path().to_owned());
        if crate::harness::serves(subscriptions::ROUTES, &method, &path) {
            crate::harness::decode(subscriptions::handle(&self.subs, req).await)
        } else if crate::harness::serves(stripe_webhook::ROUTES, &method, &path) {
            crate::harness::decode(stripe_webhook::handle(&self.hook, req).await)
        } else if crate::harness::serves(phonepe_webhook::ROUTES, &method, &path) {
            crate::harness::decode(phonepe_webhook::handle(&self.phonepe_hook, req).await)
        } else if crate::harness::serves(partners::ROUTES, &method, &path) {
            // Boxed: these handlers' futures are large in debug builds and would grow every call's future.
            crate::harness::decode(Box::pin(partners::handle(&self.partners, req)).await)
        } else if crate::harness::serves(marketplace::ROUTES, &method, &path) {
            crate::harness::decode(Box::pin(marketplace::handle(&self.market, req)).await)
        } else {
            self.env.send(req).await
        }
    }

    pub async fn call(&self, method: &str, uri: &str, body: Option<Value>, bearer: Option<&str>) -> Reply {
        self.call_with(method, uri, body, bearer, &[]).await
    }

    /// Deliver an event to the webhook, signed now (by the injected clock) with the test secret.
    pub async fn deliver(&self, event: &Value) -> Reply {
        let body = event.to_string();
        let t = self.env.clock.now().timestamp();
        let header =
            format!("t={t},v1={}", shared::payments::stripe::signature::sign(WEBHOOK_SECRET, t, body.as_bytes()));
        self.deliver_raw(body.into_bytes(), Some(&header)).await
    }

    pub async fn deliver_raw(&self, body: Vec<u8>, signature: Option<&str>) -> Reply {
        let mut builder = lambda_http::http::Request::builder()
            .method("POST")
            .uri("https://api.test/api/webhooks/stripe")
            .header("content-type", "application/json; charset=utf-8");
        if let Some(s) = signature {
            builder = builder.header("stripe-signature", s);
        }
        self.send(builder.body(Body::Binary(body)).expect("request")).await
    }

    /// A published solution whose pro and enterprise tiers have monthly INR prices and the given daily
    /// limits.
    pub async fn priced_solution(&self, pro_daily: u64, enterprise_daily: u64) -> SolutionItem {
        self.priced_solution_with(pro_daily, enterprise_daily, "price_pro_monthly", "price_enterprise_monthly").await
    }

    /// As [`Self::priced_solution`], with the given Stripe price ids.
    pub async fn priced_solution_with(
        &self,
        pro_daily: u64,
        enterprise_daily: u64,
        pro_price: &str,
        enterprise_price: &str,
    ) -> SolutionItem {
        let solution = self.env.solution(SolutionStatus::Published).await;
        let now = self.env.clock.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        for (tier, daily, amount, price_id) in
            [(Tier::Pro, pro_daily, 49_900, pro_price), (Tier::Enterprise, enterprise_daily, 199_900, enterprise_price)]
        {
            self.stripe.seed_price(price_id, amount, "inr");
            let mut def = TierDefinitionItem::new(Some(&solution.solution_id), tier, Some(daily), None, now.clone());
            def.prices = vec![Price {
                amount,
                currency: "inr".into(),
                period: BillingPeriod::Monthly,
                stripe_price_id: Some(price_id.to_owned()),
                usage: None,
            }];
            self.env.store.put_tier_definition(&def).await.expect("tier definition");
        }
        let free = TierDefinitionItem::new(Some(&solution.solution_id), Tier::Free, Some(3), None, now);
        self.env.store.put_tier_definition(&free).await.expect("tier definition");
        solution
    }

    /// `POST /api/subscriptions` (monthly) as `token`'s user; asserts 201 and returns the answer.
    pub async fn create_subscription(&self, token: &str, solution_id: &str, tier: &str, provider: &str) -> Value {
        let body = json!({"solution_id": solution_id, "tier": tier, "provider": provider, "period": "monthly"});
        let reply = self.call("POST", "/api/subscriptions", Some(body), Some(token)).await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        reply.body
    }

    /// Subscribe through the API and pay at Checkout; the events are delivered in Stripe's order.
    /// Returns (subscription id, Stripe subscription id).
    pub async fn subscribe(&self, token: &str, solution_id: &str, tier: &str) -> (String, String) {
        let id = self.create_subscription(token, solution_id, tier, "stripe").await["subscription_id"]
            .as_str()
            .expect("id")
            .to_owned();
        let item = self.env.store.get_subscription(&id).await.expect("read").expect("subscription");
        let session = item.checkout_session_id.expect("checkout session");
        let events = self.stripe.complete_checkout(&session);
        let stripe_sub = crate::stripe_local::object_of(&events, "checkout.session.completed")["subscription"]
            .as_str()
            .expect("sub")
            .to_owned();
        for e in &events {
            let r = self.deliver(e).await;
            assert_eq!(r.status, 200, "{:?}", r.body);
        }
        (id, stripe_sub)
    }
}

impl BillingEnv {
    /// A PhonePe callback as PhonePe sends it: the body and `Authorization` = sha256(username:password).
    pub async fn phonepe_callback(&self, body: &str) -> Reply {
        let auth = shared::payments::phonepe::callback::expected_authorization(PHONEPE_USERNAME, PHONEPE_PASSWORD);
        self.phonepe_callback_with(body, Some(&auth)).await
    }

    pub async fn phonepe_callback_with(&self, body: &str, authorization: Option<&str>) -> Reply {
        let mut builder = lambda_http::http::Request::builder()
            .method("POST")
            .uri("https://api.test/api/payments/webhook")
            .header("content-type", "application/json");
        if let Some(a) = authorization {
            builder = builder.header("authorization", a);
        }
        self.send(builder.body(Body::Binary(body.as_bytes().to_vec())).expect("request")).await
    }
}

impl BillingEnv {
    /// A partner applied and approved through the API: its id and its owner's session (signed in after the
    /// approval).
    pub async fn partner(&self, admin_token: &str) -> (String, shared::auth::Session) {
        let email = crate::harness::unique_email("partner");
        let session = self.env.register(&email).await;
        let application = crate::partners::application("Partner Co");
        let applied = self.call("POST", "/api/partners/apply", Some(application), Some(&session.access_token)).await;
        assert_eq!(applied.status, 201, "apply: {:?}", applied.body);
        let partner_id = applied.body["partner_id"].as_str().expect("partner_id").to_owned();
        let approved =
            self.call("POST", &format!("/api/admin/partners/{partner_id}/approve"), None, Some(admin_token)).await;
        assert_eq!(approved.status, 200, "approve: {:?}", approved.body);
        (partner_id, self.env.login(&email).await)
    }

    /// A solution drafted by the partner through the API with `body`, submitted, and approved by the admin;
    /// its id.
    pub async fn publish(&self, partner_token: &str, admin_token: &str, body: Value) -> String {
        let created = self.call("POST", "/api/partners/solutions", Some(body), Some(partner_token)).await;
        assert_eq!(created.status, 201, "create solution: {:?}", created.body);
        let id = created.body["solution_id"].as_str().expect("solution_id").to_owned();
        let submitted =
            self.call("POST", &format!("/api/partners/solutions/{id}/submit"), None, Some(partner_token)).await;
        assert_eq!(submitted.status, 200, "submit: {:?}", submitted.body);
        let approved = self.call("POST", &format!("/api/admin/solutions/{id}/approve"), None, Some(admin_token)).await;
        assert_eq!((approved.status, &approved.body["status"]), (200, &json!("published")), "{:?}", approved.body);
        id
    }
}

/// Suspensions and retirements of solutions with subscribers: the billing function (whose `daily` job applies
/// solution holds before the billing steps) with its Stripe calls going to the fake, and the walks the tests
/// share.
impl BillingEnv {
    /// The billing function on this env's table and clock, calling the fake Stripe.
    pub fn billing(&self) -> billing::AppState {
        let mut state = billing::AppState::new(
            self.env.store_for("billing"),
            Arc::new(self.env.clock.clone()),
            7 * 86_400,
            "https://app.test",
        );
        let stripe = stripe_client(&self.stripe.base, Duration::from_secs(2));
        state.holds.stripe = Some(shared::payments::stripe::rail::StripeRail::shared(stripe.clone()));
        state.run.stripe = Some(shared::payments::stripe::rail::StripeRail::shared(stripe.clone()));
        let writer = state.run.writer.clone();
        let seller = Arc::new(test_seller());
        state.reconcile.stripe = Some(
            shared::payments::stripe::webhook::StripeWebhookService::new(writer.clone(), stripe, Vec::new())
                .with_seller(seller.clone()),
        );
        state.reconcile.phonepe = Some(shared::payments::phonepe::rail::PhonePeRail {
            writer,
            client: phonepe_client(&self.phonepe.base, Arc::new(self.env.clock.clone())),
            seller,
            settings: PhonePeSettings::new("https://app.test"),
        });
        state
    }

    /// The scheduled `daily` job with the clock at `at` (epoch seconds).
    pub async fn run_billing(&self, at: i64) -> billing::Outcome {
        self.env.clock.set(chrono::DateTime::from_timestamp(at, 0).expect("time"));
        let job: billing::Job = serde_json::from_value(json!({"job": "daily"})).expect("job");
        let deadline = chrono::Utc::now().timestamp_millis() + 600_000;
        billing::handle(&self.billing(), job, deadline).await.expect("billing run")
    }

    /// A lifecycle action on a solution (`suspend`, `reinstate` as admin paths; `retire` on the partner path,
    /// which admins may use too) with an optional reason.
    pub async fn solution_action(&self, token: &str, solution_id: &str, action: &str, reason: Option<&str>) -> Reply {
        let path = match action {
            "retire" | "submit" | "withdraw" => format!("/api/partners/solutions/{solution_id}/{action}"),
            _ => format!("/api/admin/solutions/{solution_id}/{action}"),
        };
        let body = reason.map(|r| json!({"reason": r}));
        self.call("POST", &path, body, Some(token)).await
    }

    /// A PhonePe subscription to `tier` paid through the API; its id and period end.
    pub async fn paid_phonepe(&self, access: &str, solution_id: &str, tier: &str) -> (String, i64) {
        let body = json!({"solution_id": solution_id, "tier": tier, "provider": "phonepe", "period": "monthly"});
        let r = self.call("POST", "/api/subscriptions", Some(body), Some(access)).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let id = r.body["subscription_id"].as_str().expect("id").to_owned();
        let mid = r.body["payment"]["merchant_order_id"].as_str().expect("order").to_owned();
        self.phonepe.complete(&mid);
        let v = self.call("POST", "/api/payments/verify", Some(json!({"merchant_order_id": mid})), Some(access)).await;
        assert_eq!(v.body["state"], "completed", "{:?}", v.body);
        let item = self.env.store.get_subscription(&id).await.expect("read").expect("subscription");
        (id, item.reconciled.latest.expect("period").period_end)
    }

    /// The end of a subscription's paid period (epoch seconds), as recorded.
    pub async fn period_end(&self, id: &str) -> i64 {
        let item = self.env.store.get_subscription(id).await.expect("read").expect("subscription");
        item.reconciled.latest.expect("period").period_end
    }

    /// Both clocks (the functions' and Stripe's) at `at` (epoch seconds).
    pub fn set_clocks(&self, at: i64) {
        self.env.clock.set(chrono::DateTime::from_timestamp(at, 0).expect("time"));
        self.stripe.set_now(at);
    }

    /// How many revenue postings a partner's ledger holds (each payment credits one).
    pub async fn partner_postings(&self, partner_id: &str) -> usize {
        let out = self
            .env
            .store
            .client()
            .query()
            .table_name(self.env.store.table())
            .index_name(shared::store::keys::GSI1)
            .key_condition_expression("GSI1PK = :pk")
            .expression_attribute_values(
                ":pk",
                aws_sdk_dynamodb::types::AttributeValue::S(shared::store::keys::partner_ledger_partition(partner_id)),
            )
            .send()
            .await
            .expect("partner ledger");
        out.items.unwrap_or_default().len()
    }

    /// A notification in the outbox, by id.
    pub async fn notification(&self, id: &str) -> Option<shared::store::outbox::NotificationItem> {
        self.env.store.get(&shared::store::keys::outbox(id), true).await.expect("read outbox")
    }
}
