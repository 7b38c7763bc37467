//! Runs the real handlers against DynamoDB Local: each `TestEnv` gets its own table created from the
//! template. The endpoint comes from `AWS_ENDPOINT_URL_DYNAMODB`, set by `make test`
//! (`infra/local/services.py run -- cargo test`).

use crate::iam::IamRecorder;
use aws_sdk_dynamodb::Client;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use lambda_http::http::{HeaderMap, Method};
use lambda_http::{Body, Request};
use serde_json::Value;
use shared::auth::Session;
use shared::identity::jwt::KeySet;
use shared::model::Role;
use shared::model::SolutionStatus;
use shared::platform::clock::ManualClock;
use shared::store::Store;
use shared::store::solutions::SolutionItem;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub const ISSUER: &str = "https://issuer.test";
pub const PASSWORD: &str = "correct horse battery staple";

/// Counts the DynamoDB requests a client sends (every attempt) and the write capacity its responses report.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    requests: Arc<AtomicU64>,
    /// Write capacity units × 1000 (responses carry fractional units for transactions).
    milli_wcu: Arc<AtomicU64>,
}

impl RequestCounter {
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// Capacity units reported by responses that carry `ConsumedCapacity`.
    pub fn capacity_units(&self) -> f64 {
        self.milli_wcu.load(Ordering::SeqCst) as f64 / 1000.0
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        ctx: &AfterDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(bytes) = ctx.response().body().bytes() else {
            return Ok(());
        };
        let Ok(doc) = serde_json::from_slice::<Value>(bytes) else {
            return Ok(());
        };
        let units = |c: &Value| c["CapacityUnits"].as_f64().unwrap_or(0.0);
        let total: f64 = match &doc["ConsumedCapacity"] {
            Value::Array(list) => list.iter().map(units).sum(),
            Value::Object(_) => units(&doc["ConsumedCapacity"]),
            _ => 0.0,
        };
        self.milli_wcu.fetch_add((total * 1000.0).round() as u64, Ordering::SeqCst);
        Ok(())
    }
}

/// A DynamoDB client for the local endpoint. Panics with instructions when the endpoint is not configured,
/// so a test never silently passes without a database.
pub async fn dynamo_client() -> Client {
    dynamo_client_counted(RequestCounter::default()).await
}

pub async fn dynamo_client_counted(counter: RequestCounter) -> Client {
    assert!(
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok(),
        "AWS_ENDPOINT_URL_DYNAMODB is not set: run the integration tests with `make test` \
         (or `python3 infra/local/services.py run -- cargo test`)"
    );
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "tests"))
        .http_client(shared::platform::https::aws_http_client())
        .load()
        .await;
    let conf = aws_sdk_dynamodb::config::Builder::from(&config).interceptor(counter).build();
    Client::from_conf(conf)
}

/// A copy of `store` whose client checks every request against `function`'s IAM policy (the table is the
/// function's `TABLE_NAME`).
pub fn function_store(store: &Store, function: &str) -> Store {
    let recorder = IamRecorder::new(function).bind(store.table(), "TABLE_NAME");
    let conf = store.client().config().to_builder().interceptor(recorder).build();
    Store::new(Client::from_conf(conf), store.table())
}

/// A copy of an S3 client whose requests (presigned ones too) are checked against `recorder`'s function policy.
pub fn function_s3(s3: &aws_sdk_s3::Client, recorder: IamRecorder) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(s3.config().to_builder().interceptor(recorder).build())
}

/// A copy of an SES client whose requests are checked against `recorder`'s function policy.
pub fn function_ses(ses: &aws_sdk_sesv2::Client, recorder: IamRecorder) -> aws_sdk_sesv2::Client {
    aws_sdk_sesv2::Client::from_conf(ses.config().to_builder().interceptor(recorder).build())
}

/// A response, decoded.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn content_type(&self) -> &str {
        self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

pub struct TestEnv {
    pub state: Arc<auth::AppState>,
    pub usage: Arc<usage::AppState>,
    /// The clock of both functions (starts at the real time; tests move it).
    pub clock: ManualClock,
    /// Requests sent to DynamoDB by both functions.
    pub dynamo: RequestCounter,
    pub store: Store,
    /// The signing-key material (so tests can mint or forge tokens with the same or other keys).
    pub key_material: String,
    pub table: String,
}

impl TestEnv {
    pub async fn new() -> Self {
        let table = format!("test-{}", ulid::Ulid::new().to_string().to_lowercase());
        let client = dynamo_client().await;
        crate::template::create_table(&client, &table).await.unwrap_or_else(|e| panic!("creating table {table}: {e}"));
        Self::on_table(&table, &shared::platform::crypto::random_token::<48>()).await
    }

    /// The functions on an existing table (a restored copy), signing with `key_material` (the signing key is
    /// a secret, not in the table), on a clock at the real time.
    pub async fn on_table(table: &str, key_material: &str) -> Self {
        let dynamo = RequestCounter::default();
        let client = dynamo_client_counted(dynamo.clone()).await;
        let table = table.to_owned();
        let store = Store::new(client, &table);
        let key_material = key_material.to_owned();
        let keys = KeySet::from_material(ISSUER, &key_material, None).expect("keys");
        let clock = ManualClock::new(chrono::Utc::now());
        let state = Arc::new(auth::AppState::new(function_store(&store, "auth"), keys, Arc::new(clock.clone())));
        let usage_keys = KeySet::from_material(ISSUER, &key_material, None).expect("keys");
        let usage =
            Arc::new(usage::AppState::new(function_store(&store, "usage"), usage_keys, Arc::new(clock.clone())));
        Self { state, usage, clock, dynamo, store, key_material, table }
    }

    /// The store as `function` (its binary name) gets it: the same table and request counter, with every
    /// request checked against that function's IAM policy in `infra/template.yaml` (see [`crate::iam`]).
    /// Tests seed and inspect through [`Self::store`], which belongs to no function.
    pub fn store_for(&self, function: &str) -> Store {
        function_store(&self.store, function)
    }

    /// Today's date (UTC) by the injected clock.
    pub fn clock_day(&self) -> String {
        use shared::platform::clock::Clock;
        self.clock.now().format("%Y-%m-%d").to_string()
    }

    pub fn keys(&self) -> KeySet {
        KeySet::from_material(ISSUER, &self.key_material, None).expect("keys")
    }

    /// Run a request through the function that serves its route (auth or usage).
    pub async fn send(&self, req: Request) -> Reply {
        let path = req.uri().path().to_owned();
        let method = req.method().as_str().to_owned();
        // Boxed: the handlers' futures are large in debug builds, and tests nest many of these calls.
        let resp = match shared::platform::http::match_route(usage::ROUTES, &method, &path) {
            shared::platform::http::RouteMatch::NotFound => Box::pin(auth::handle(&self.state, req)).await,
            _ => Box::pin(usage::handle(&self.usage, req)).await,
        };
        decode(resp)
    }

    /// Build and run a request with an optional JSON body and bearer token.
    pub async fn call(&self, method: &str, uri: &str, body: Option<Value>, bearer: Option<&str>) -> Reply {
        let body = body.map_or(Body::Empty, |b| Body::Text(b.to_string()));
        self.call_raw(method, uri, body, bearer).await
    }

    pub async fn call_raw(&self, method: &str, uri: &str, body: Body, bearer: Option<&str>) -> Reply {
        self.call_with(method, uri, body, bearer, &[]).await
    }

    /// A request with extra headers.
    pub async fn call_with(
        &self,
        method: &str,
        uri: &str,
        body: Body,
        bearer: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.send(api_request(method, uri, body, bearer, headers)).await
    }

    /// Send JSON POSTs all at once (one task each) and return their statuses in order.
    pub async fn post_concurrently(&self, uri: &str, bodies: Vec<Value>) -> Vec<u16> {
        self.post_concurrently_as(uri, bodies, None).await.into_iter().map(|r| r.status).collect()
    }

    /// Send JSON POSTs all at once with an optional bearer token; the replies in order.
    pub async fn post_concurrently_as(&self, uri: &str, bodies: Vec<Value>, bearer: Option<&str>) -> Vec<Reply> {
        let tasks: Vec<_> = bodies
            .into_iter()
            .map(|body| {
                let auth_state = Arc::clone(&self.state);
                let usage_state = Arc::clone(&self.usage);
                let mut builder = lambda_http::http::Request::builder()
                    .method("POST")
                    .uri(format!("https://api.test{uri}"))
                    .header("content-type", "application/json");
                if let Some(token) = bearer {
                    builder = builder.header("authorization", format!("Bearer {token}"));
                }
                let req = builder.body(Body::Text(body.to_string())).expect("request");
                let is_usage = shared::platform::http::match_route(usage::ROUTES, "POST", uri)
                    != shared::platform::http::RouteMatch::NotFound;
                tokio::spawn(async move {
                    let resp = if is_usage {
                        usage::handle(&usage_state, req).await
                    } else {
                        auth::handle(&auth_state, req).await
                    };
                    decode(resp)
                })
            })
            .collect();
        let mut replies = Vec::with_capacity(tasks.len());
        for t in tasks {
            replies.push(t.await.expect("task"));
        }
        replies
    }

    /// Register a user through the API and verify their address the way a user does: the link's token from
    /// the verification mail the registration put into the outbox, posted to `verify-email`.
    pub async fn register(&self, email: &str) -> Session {
        // Boxed: the handlers' futures are large in debug builds, and tests nest many of these calls.
        let (session, token) = Box::pin(self.register_unverified(email)).await;
        Box::pin(self.verify_email(&token)).await;
        session
    }

    /// Register a user through the API without verifying their address: the session and the token of the
    /// verification link that registration emails.
    pub async fn register_unverified(&self, email: &str) -> (Session, String) {
        let reply = self
            .call(
                "POST",
                "/api/auth/register",
                Some(serde_json::json!({"email": email, "password": PASSWORD, "name": "Test User"})),
                None,
            )
            .await;
        assert_eq!(reply.status, 201, "register {email}: {:?}", reply.body);
        let session: Session = serde_json::from_value(reply.body).expect("session");
        let token =
            self.verification_token(&shared::auth::verification::registration_notification_id(&session.user_id)).await;
        (session, token)
    }

    /// The link token in a verification mail of the outbox (by notification id), as the mail carries it.
    pub async fn verification_token(&self, notification_id: &str) -> String {
        let mail: shared::store::outbox::NotificationItem = self
            .store
            .get(&shared::store::keys::outbox(notification_id), true)
            .await
            .expect("read outbox")
            .unwrap_or_else(|| panic!("no verification mail {notification_id} in the outbox"));
        assert_eq!(mail.kind, shared::auth::verification::NOTIFICATION_KIND);
        mail.data["token"].as_str().expect("token in the verification mail").to_owned()
    }

    /// `POST /api/auth/verify-email` with a link's token; asserts it verified.
    pub async fn verify_email(&self, token: &str) -> Value {
        let reply = self.call("POST", "/api/auth/verify-email", Some(serde_json::json!({"token": token})), None).await;
        assert_eq!(
            (reply.status, &reply.body["email_verified"]),
            (200, &Value::Bool(true)),
            "verify-email: {:?}",
            reply.body
        );
        reply.body
    }

    /// An admin account (seeded, as admins are) and a session for it.
    pub async fn admin(&self) -> Session {
        let email = format!("admin-{}@example.test", ulid::Ulid::new().to_string().to_lowercase());
        crate::seed::user(&self.state.auth, &email, PASSWORD, "Admin", Role::Admin).await.expect("seed admin");
        self.login(&email).await
    }

    pub async fn login(&self, email: &str) -> Session {
        let reply = self
            .call("POST", "/api/auth/login", Some(serde_json::json!({"email": email, "password": PASSWORD})), None)
            .await;
        assert_eq!(reply.status, 200, "login {email}: {:?}", reply.body);
        serde_json::from_value(reply.body).expect("session")
    }

    /// A solution in the given status, owned by a fresh partner.
    pub async fn solution(&self, status: SolutionStatus) -> SolutionItem {
        let email = format!("partner-{}@example.test", ulid::Ulid::new().to_string().to_lowercase());
        let (_, partner) =
            crate::seed::partner(&self.state.auth, &email, PASSWORD, "Partner Co").await.expect("seed partner");
        crate::seed::solution(&self.store, &partner.partner_id, "Test Solution", status).await.expect("seed solution")
    }

    /// A fresh user invited to `org` as `role` by `inviter` (a session token) and joined through the API:
    /// their session.
    pub async fn join_org(&self, org: &str, inviter: &str, role: &str) -> Session {
        let email = unique_email(role);
        let invite = serde_json::json!({"email": email, "role": role});
        let invited = self.call("POST", &format!("/api/orgs/{org}/invitations"), Some(invite), Some(inviter)).await;
        assert_eq!(invited.status, 201, "invite: {:?}", invited.body);
        let who = self.register(&email).await;
        let id = invited.body["invitation_id"].as_str().expect("invitation_id");
        let uri = format!("/api/invitations/{id}/accept");
        let accepted = self.call("POST", &uri, Some(serde_json::json!({})), Some(&who.access_token)).await;
        assert_eq!(accepted.status, 200, "accept: {:?}", accepted.body);
        who
    }

    /// Generate a solution token through the API.
    pub async fn solution_token(&self, access_token: &str, solution_id: &str) -> Value {
        let reply = self
            .call(
                "POST",
                "/api/generate-token",
                Some(serde_json::json!({"solution_id": solution_id})),
                Some(access_token),
            )
            .await;
        assert_eq!(reply.status, 201, "generate-token: {:?}", reply.body);
        reply.body
    }
}

/// A request as the handlers receive it: JSON content type, an optional bearer token and extra headers.
/// Does a function with this route table serve `method` `path` (a 405 counts: the path is the function's)?
pub fn serves<R>(routes: &[shared::platform::http::Route<R>], method: &str, path: &str) -> bool {
    shared::platform::http::match_route(routes, method, path) != shared::platform::http::RouteMatch::NotFound
}

pub fn api_request(method: &str, uri: &str, body: Body, bearer: Option<&str>, headers: &[(&str, &str)]) -> Request {
    let mut builder = lambda_http::http::Request::builder()
        .method(Method::from_bytes(method.as_bytes()).expect("method"))
        .uri(format!("https://api.test{uri}"))
        .header("content-type", "application/json");
    if let Some(token) = bearer {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body).expect("request")
}

/// `req` as API Gateway delivers it from `source_ip` (its HTTP API request context).
pub fn from_source_ip(mut req: Request, source_ip: &str) -> Request {
    use lambda_http::aws_lambda_events::apigw::{
        ApiGatewayV2httpRequestContext, ApiGatewayV2httpRequestContextHttpDescription,
    };
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.http = ApiGatewayV2httpRequestContextHttpDescription::default();
    context.http.method = req.method().clone();
    context.http.path = Some(req.uri().path().to_owned());
    context.http.source_ip = Some(source_ip.to_owned());
    req.extensions_mut().insert(lambda_http::request::RequestContext::ApiGatewayV2(context));
    req
}

pub fn decode(resp: lambda_http::Response<Body>) -> Reply {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = match resp.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::String(t.clone())),
        Body::Binary(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    Reply { status, headers, body }
}

/// A unique email address.
pub fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.test", ulid::Ulid::new().to_string().to_lowercase())
}

/// The status a sample event expects: the first three-digit number in its file name
/// (`register-409-taken.json` → 409).
pub fn expected_status(name: &str) -> u16 {
    name.trim_end_matches(".json")
        .split('-')
        .find_map(|part| (part.len() == 3).then(|| part.parse::<u16>().ok()).flatten())
        .unwrap_or_else(|| panic!("{name} has no status in its name"))
}

/// The sample event files of some functions (`events/<function>/*.json`), sorted.
pub fn sample_events(functions: &[&str]) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for function in functions {
        let dir = crate::workspace_root().join("events").join(function);
        files.extend(
            std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json")),
        );
    }
    files.sort();
    files
}
