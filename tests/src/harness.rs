//! Runs the real handlers against DynamoDB Local: each `TestEnv` gets its own table created from the
//! template. The endpoint comes from `AWS_ENDPOINT_URL_DYNAMODB`, set by `make test`
//! (`infra/local/services.py run -- cargo test`).

use aws_sdk_dynamodb::Client;
use lambda_http::http::{HeaderMap, Method};
use lambda_http::{Body, Request};
use serde_json::Value;
use shared::auth::jwt::KeySet;
use shared::clock::SystemClock;
use shared::solutions::SolutionStatus;
use shared::store::Store;
use shared::store::items::SolutionItem;
use shared::tokens::Session;
use shared::users::Role;
use std::sync::Arc;

pub const ISSUER: &str = "https://issuer.test";
pub const PASSWORD: &str = "correct horse battery staple";

/// A DynamoDB client for the local endpoint. Panics with instructions when the endpoint is not configured,
/// so a test never silently passes without a database.
pub async fn dynamo_client() -> Client {
    assert!(
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok(),
        "AWS_ENDPOINT_URL_DYNAMODB is not set: run the integration tests with `make test` \
         (or `python3 infra/local/services.py run -- cargo test`)"
    );
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .load()
        .await;
    Client::new(&config)
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
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

pub struct TestEnv {
    pub state: Arc<auth::AppState>,
    pub store: Store,
    /// The signing-key material (so tests can mint or forge tokens with the same or other keys).
    pub key_material: String,
    pub table: String,
}

impl TestEnv {
    pub async fn new() -> Self {
        let client = dynamo_client().await;
        let table = format!("test-{}", ulid::Ulid::new().to_string().to_lowercase());
        crate::template::create_table(&client, &table)
            .await
            .unwrap_or_else(|e| panic!("creating table {table}: {e}"));
        let store = Store::new(client, &table);
        let key_material = shared::crypto::random_token::<48>();
        let keys = KeySet::from_material(ISSUER, &key_material, None).expect("keys");
        let state = Arc::new(auth::AppState::new(
            store.clone(),
            keys,
            Arc::new(SystemClock),
        ));
        Self {
            state,
            store,
            key_material,
            table,
        }
    }

    pub fn keys(&self) -> KeySet {
        KeySet::from_material(ISSUER, &self.key_material, None).expect("keys")
    }

    /// Run a request through the handler.
    pub async fn send(&self, req: Request) -> Reply {
        let resp = auth::handle(&self.state, req).await;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = match resp.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::String(t.clone())),
            Body::Binary(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Build and run a request with an optional JSON body and bearer token.
    pub async fn call(
        &self,
        method: &str,
        uri: &str,
        body: Option<Value>,
        bearer: Option<&str>,
    ) -> Reply {
        let body = body.map_or(Body::Empty, |b| Body::Text(b.to_string()));
        self.call_raw(method, uri, body, bearer).await
    }

    pub async fn call_raw(
        &self,
        method: &str,
        uri: &str,
        body: Body,
        bearer: Option<&str>,
    ) -> Reply {
        let mut builder = lambda_http::http::Request::builder()
            .method(Method::from_bytes(method.as_bytes()).expect("method"))
            .uri(format!("https://api.test{uri}"))
            .header("content-type", "application/json");
        if let Some(token) = bearer {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        self.send(builder.body(body).expect("request")).await
    }

    /// Send JSON POSTs all at once (one task each) and return their statuses in order.
    pub async fn post_concurrently(&self, uri: &str, bodies: Vec<Value>) -> Vec<u16> {
        let tasks: Vec<_> = bodies
            .into_iter()
            .map(|body| {
                let state = Arc::clone(&self.state);
                let req = lambda_http::http::Request::builder()
                    .method("POST")
                    .uri(format!("https://api.test{uri}"))
                    .header("content-type", "application/json")
                    .body(Body::Text(body.to_string()))
                    .expect("request");
                tokio::spawn(async move { auth::handle(&state, req).await.status().as_u16() })
            })
            .collect();
        let mut statuses = Vec::with_capacity(tasks.len());
        for t in tasks {
            statuses.push(t.await.expect("task"));
        }
        statuses
    }

    /// Register a user through the API.
    pub async fn register(&self, email: &str) -> Session {
        let reply = self
            .call(
                "POST",
                "/api/auth/register",
                Some(
                    serde_json::json!({"email": email, "password": PASSWORD, "name": "Test User"}),
                ),
                None,
            )
            .await;
        assert_eq!(reply.status, 201, "register {email}: {:?}", reply.body);
        serde_json::from_value(reply.body).expect("session")
    }

    /// An admin account (seeded, as admins are) and a session for it.
    pub async fn admin(&self) -> Session {
        let email = format!(
            "admin-{}@example.test",
            ulid::Ulid::new().to_string().to_lowercase()
        );
        crate::seed::user(&self.state.auth, &email, PASSWORD, "Admin", Role::Admin)
            .await
            .expect("seed admin");
        self.login(&email).await
    }

    pub async fn login(&self, email: &str) -> Session {
        let reply = self
            .call(
                "POST",
                "/api/auth/login",
                Some(serde_json::json!({"email": email, "password": PASSWORD})),
                None,
            )
            .await;
        assert_eq!(reply.status, 200, "login {email}: {:?}", reply.body);
        serde_json::from_value(reply.body).expect("session")
    }

    /// A solution in the given status, owned by a fresh partner.
    pub async fn solution(&self, status: SolutionStatus) -> SolutionItem {
        let email = format!(
            "partner-{}@example.test",
            ulid::Ulid::new().to_string().to_lowercase()
        );
        let (_, partner) = crate::seed::partner(&self.state.auth, &email, PASSWORD, "Partner Co")
            .await
            .expect("seed partner");
        crate::seed::solution(&self.store, &partner.partner_id, "Test Solution", status)
            .await
            .expect("seed solution")
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

/// A unique email address.
pub fn unique_email(tag: &str) -> String {
    format!(
        "{tag}-{}@example.test",
        ulid::Ulid::new().to_string().to_lowercase()
    )
}
