//! The partners function beside auth and usage on one table, with asset uploads to moto's S3, and the API
//! walks the partner tests share: a partner approved through the API, a solution published through it.

use crate::harness::{Reply, TestEnv, decode, function_s3, unique_email};
use crate::iam::IamRecorder;
use lambda_http::Body;
use serde_json::{Value, json};
use shared::auth::Session;
use shared::platform::sealed::Sealer;
use std::sync::Arc;

pub struct PartnersEnv {
    pub env: TestEnv,
    pub partners: Arc<partners::AppState>,
    /// The marketplace function (catalog cache off, so every test sees its writes at once).
    pub market: Arc<marketplace::AppState>,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    /// An admin's session.
    pub admin: Session,
}

/// A partner approved through the API: its owner's session (signed in after approval) and its id.
pub struct Partner {
    pub session: Session,
    pub partner_id: String,
    pub email: String,
}

impl PartnersEnv {
    pub async fn new() -> Self {
        let env = TestEnv::new().await;
        let sdk = shared::platform::aws::load().await;
        let s3 = shared::platform::aws::s3(&sdk);
        let bucket = format!("assets-{}", ulid::Ulid::new().to_string().to_lowercase());
        s3.create_bucket().bucket(&bucket).send().await.expect("bucket (moto)");
        let sealer = Sealer::new(&shared::platform::crypto::random_bytes::<32>()).expect("sealer");
        let mut state =
            partners::AppState::new(env.store_for("partners"), env.keys(), Arc::new(env.clock.clone()), sealer);
        state.partners = state.partners.with_assets(shared::partners::AssetStore {
            s3: function_s3(&s3, IamRecorder::new("partners").bind(&bucket, "ASSET_BUCKET")),
            bucket: bucket.clone(),
            upload_seconds: 600,
        });
        let market =
            marketplace::AppState::new(env.store_for("marketplace"), env.keys(), Arc::new(env.clock.clone()), 0);
        let admin = env.admin().await;
        Self { env, partners: Arc::new(state), market: Arc::new(market), s3, bucket, admin }
    }

    /// A request to whichever function serves its route, with extra headers.
    pub async fn call_with(
        &self,
        method: &str,
        uri: &str,
        body: Option<Value>,
        bearer: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let path = uri.split('?').next().unwrap_or(uri);
        let body = body.map_or(Body::Empty, |b| Body::Text(b.to_string()));
        let is_partners = shared::platform::http::match_route(partners::ROUTES, method, path)
            != shared::platform::http::RouteMatch::NotFound;
        let is_market = shared::platform::http::match_route(marketplace::ROUTES, method, path)
            != shared::platform::http::RouteMatch::NotFound;
        if !is_partners && !is_market {
            return self.env.call_with(method, uri, body, bearer, headers).await;
        }
        let req = crate::harness::api_request(method, uri, body, bearer, headers);
        if is_market {
            return decode(marketplace::handle(&self.market, req).await);
        }
        decode(partners::handle(&self.partners, req).await)
    }

    pub async fn call(&self, method: &str, uri: &str, body: Option<Value>, bearer: Option<&str>) -> Reply {
        self.call_with(method, uri, body, bearer, &[]).await
    }

    /// A user applies, an admin approves, and the user signs in again as a partner.
    pub async fn partner(&self, company: &str) -> Partner {
        let email = unique_email("partner");
        let session = self.env.register(&email).await;
        let applied =
            self.call("POST", "/api/partners/apply", Some(application(company)), Some(&session.access_token)).await;
        assert_eq!(applied.status, 201, "apply: {:?}", applied.body);
        let partner_id = applied.body["partner_id"].as_str().expect("partner_id").to_owned();
        let approved = self
            .call("POST", &format!("/api/admin/partners/{partner_id}/approve"), None, Some(&self.admin.access_token))
            .await;
        assert_eq!(approved.status, 200, "approve: {:?}", approved.body);
        let session = self.env.login(&email).await;
        Partner { session, partner_id, email }
    }

    /// A solution drafted, submitted and approved through the API; its id.
    pub async fn published(&self, partner: &Partner, name: &str, body: Option<Value>) -> String {
        let id = self.draft(partner, name, body).await;
        let token = Some(partner.session.access_token.as_str());
        let submitted = self.call("POST", &format!("/api/partners/solutions/{id}/submit"), None, token).await;
        assert_eq!(submitted.status, 200, "submit: {:?}", submitted.body);
        let approved = self
            .call("POST", &format!("/api/admin/solutions/{id}/approve"), None, Some(&self.admin.access_token))
            .await;
        assert_eq!(approved.status, 200, "approve: {:?}", approved.body);
        assert_eq!(approved.body["status"], "published");
        id
    }

    pub async fn draft(&self, partner: &Partner, name: &str, body: Option<Value>) -> String {
        let body = body.unwrap_or_else(|| solution_body(name));
        let created =
            self.call("POST", "/api/partners/solutions", Some(body), Some(&partner.session.access_token)).await;
        assert_eq!(created.status, 201, "create solution: {:?}", created.body);
        assert_eq!(created.body["status"], "draft");
        created.body["solution_id"].as_str().expect("solution_id").to_owned()
    }

    /// A partner API key (optionally limited to some solutions): the key itself.
    pub async fn api_key(&self, partner: &Partner, solution_ids: &[&str]) -> String {
        let reply = self
            .call(
                "POST",
                &format!("/api/partners/{}/api-keys", partner.partner_id),
                Some(json!({"name": "backend", "solution_ids": solution_ids})),
                Some(&partner.session.access_token),
            )
            .await;
        assert_eq!(reply.status, 201, "create key: {:?}", reply.body);
        reply.body["key"].as_str().expect("key").to_owned()
    }
}

/// A complete partner application.
pub fn application(company: &str) -> Value {
    json!({
        "company": company,
        "contact_email": "finance@partner.example",
        "website": "https://partner.example",
        "gstin": "29AAGCB7383J1Z4",
        "payout": {"method": "bank", "details": {
            "account_name": company, "account_number": "001234567890", "ifsc": "HDFC0001234"}}
    })
}

/// A solution with a free tier and a paid `pro` tier at ₹499.00 a month.
pub fn solution_body(name: &str) -> Value {
    json!({
        "name": name,
        "description": format!("{name} does useful things"),
        "category": "developer-tools",
        "tags": ["api", "search"],
        "website": "https://solution.example",
        "time_zone": "Asia/Kolkata",
        "tiers": [
            {"tier": "free", "daily_limit": 5},
            {"tier": "pro", "daily_limit": 1000, "prices": [{"currency": "inr", "amount": 49900, "period": "monthly"}]}
        ]
    })
}
