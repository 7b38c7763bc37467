//! The credentials contract: for every operation of `infra/openapi.yaml`, the credentials its `security`
//! says it accepts are exactly the ones its handler accepts. Each operation is called through the real
//! handlers (against DynamoDB Local) with no credential, a session token, a solution token and a partner API
//! key; an accepted credential never gets a 401, a refused one always does.
//!
//! Webhooks are authenticated by provider signatures (tested in the billing suite); they must be documented
//! as `security: []`.

use integration_tests::billing::BillingEnv;
use integration_tests::harness::{Reply, api_request, decode, unique_email};
use integration_tests::partners::{application, solution_body};
use lambda_http::Body;
use serde_json::{Value, json};
use serde_yaml::Value as Yaml;
use shared::platform::sealed::Sealer;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The kinds of credential a caller can present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Credential {
    None,
    Session,
    Solution,
    ApiKey,
}

const ALL: [Credential; 4] = [Credential::None, Credential::Session, Credential::Solution, Credential::ApiKey];

/// What an operation's `security` documents: the credential kinds of its alternatives.
#[derive(Debug, Default)]
struct Documented {
    anonymous: bool,
    session: bool,
    solution: bool,
    api_key: bool,
}

impl Documented {
    fn parse(requirements: &Yaml) -> Self {
        let mut d = Self::default();
        let alternatives = requirements.as_sequence().expect("security is a list");
        // `security: []` removes every requirement: a public operation.
        d.anonymous = alternatives.is_empty();
        for alternative in alternatives {
            let schemes: Vec<&str> =
                alternative.as_mapping().map(|m| m.keys().filter_map(Yaml::as_str).collect()).unwrap_or_default();
            match schemes.as_slice() {
                [] => d.anonymous = true,
                ["sessionToken"] => d.session = true,
                ["solutionToken"] => d.solution = true,
                ["partnerApiKey"] => d.api_key = true,
                // A key together with a user's solution token: covered by the two alone.
                [_, _] if schemes.contains(&"partnerApiKey") && schemes.contains(&"solutionToken") => {}
                other => panic!("unknown security requirement {other:?}"),
            }
        }
        d
    }

    /// Is a request with this credential one the handler must take (never a 401)? A credential the operation
    /// does not read at all (a bearer on a route without bearer schemes, a key on a route without the key
    /// scheme) is simply ignored by a public route.
    fn accepts(&self, c: Credential) -> bool {
        let reads_bearer = self.session || self.solution;
        match c {
            Credential::None => self.anonymous,
            Credential::Session => self.session || (self.anonymous && !reads_bearer),
            Credential::Solution => self.solution || (self.anonymous && !reads_bearer),
            Credential::ApiKey => self.api_key || self.anonymous,
        }
    }
}

struct World {
    billing: BillingEnv,
    partners: partners::AppState,
    market: marketplace::AppState,
    user_id: String,
    session: String,
    solution_token: String,
    api_key: String,
    partner_id: String,
    solution_id: String,
}

impl World {
    async fn new() -> Self {
        let billing = BillingEnv::new().await;
        let env = &billing.env;
        let sealer = Sealer::new(&shared::platform::crypto::random_bytes::<32>()).expect("sealer");
        let partners =
            partners::AppState::new(env.store_for("partners"), env.keys(), Arc::new(env.clock.clone()), sealer);
        let market =
            marketplace::AppState::new(env.store_for("marketplace"), env.keys(), Arc::new(env.clock.clone()), 0);
        let mut world = Self {
            billing,
            partners,
            market,
            user_id: String::new(),
            session: String::new(),
            solution_token: String::new(),
            api_key: String::new(),
            partner_id: String::new(),
            solution_id: String::new(),
        };
        world.populate().await;
        world
    }

    /// A partner with a published solution and an API key; a user with a session and a solution token.
    async fn populate(&mut self) {
        let admin = self.billing.env.admin().await;
        let email = unique_email("partner");
        let owner = self.billing.env.register(&email).await;
        let applied = self
            .call("POST", "/api/partners/apply", Some(application("Cred Co")), Some(&owner.access_token), &[])
            .await;
        assert_eq!(applied.status, 201, "apply: {:?}", applied.body);
        self.partner_id = applied.body["partner_id"].as_str().expect("partner_id").to_owned();
        let approve = format!("/api/admin/partners/{}/approve", self.partner_id);
        assert_eq!(self.call("POST", &approve, None, Some(&admin.access_token), &[]).await.status, 200);
        let owner = self.billing.env.login(&email).await;
        let created = self
            .call("POST", "/api/partners/solutions", Some(solution_body("Cred")), Some(&owner.access_token), &[])
            .await;
        assert_eq!(created.status, 201, "solution: {:?}", created.body);
        self.solution_id = created.body["solution_id"].as_str().expect("id").to_owned();
        let submit = format!("/api/partners/solutions/{}/submit", self.solution_id);
        assert_eq!(self.call("POST", &submit, None, Some(&owner.access_token), &[]).await.status, 200);
        let approve = format!("/api/admin/solutions/{}/approve", self.solution_id);
        assert_eq!(self.call("POST", &approve, None, Some(&admin.access_token), &[]).await.status, 200);
        let keys = format!("/api/partners/{}/api-keys", self.partner_id);
        let key = self
            .call(
                "POST",
                &keys,
                Some(json!({"name": "backend", "solution_ids": [self.solution_id]})),
                Some(&owner.access_token),
                &[],
            )
            .await;
        assert_eq!(key.status, 201, "key: {:?}", key.body);
        self.api_key = key.body["key"].as_str().expect("key").to_owned();

        let user = self.billing.env.register(&unique_email("user")).await;
        self.user_id = user.user_id.clone();
        self.session = user.access_token.clone();
        let token = self.billing.env.solution_token(&user.access_token, &self.solution_id).await;
        self.solution_token = token["token"].as_str().expect("token").to_owned();
    }

    async fn call(
        &self,
        method: &str,
        uri: &str,
        body: Option<Value>,
        bearer: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let path = uri.split('?').next().unwrap_or(uri).to_owned();
        let body = body.map_or(Body::Empty, |b| Body::Text(b.to_string()));
        let req = api_request(method, uri, body, bearer, headers);
        if integration_tests::harness::serves(partners::ROUTES, method, &path) {
            decode(partners::handle(&self.partners, req).await)
        } else if integration_tests::harness::serves(marketplace::ROUTES, method, &path) {
            decode(marketplace::handle(&self.market, req).await)
        } else {
            self.billing.send(req).await
        }
    }

    /// A concrete path for a template: the world's own objects where the route reads them.
    fn concrete(&self, template: &str) -> String {
        let solution_scoped = template.starts_with("/api/solutions/")
            || template.starts_with("/api/partners/solutions/")
            || template.starts_with("/api/admin/solutions/");
        let mut out = Vec::new();
        for segment in template.split('/') {
            let value = match segment {
                "{customer_id}" => self.user_id.clone(),
                "{solution_id}" => self.solution_id.clone(),
                "{key_id}" => "key_01j0000000000000000000000x".to_owned(),
                "{org_id}" => "org_01j0000000000000000000000x".to_owned(),
                "{user_id}" => self.user_id.clone(),
                "{invitation_id}" => "ivt_01j0000000000000000000000x".to_owned(),
                "{id}" if solution_scoped => self.solution_id.clone(),
                "{id}" if template.starts_with("/api/partners/") || template.starts_with("/api/admin/partners/") => {
                    self.partner_id.clone()
                }
                "{id}" if template.starts_with("/api/subscriptions/") => "sub_01j0000000000000000000000x".to_owned(),
                "{id}" if template.starts_with("/api/payments/") => "pay_01j0000000000000000000000x".to_owned(),
                "{id}" if template.starts_with("/api/admin/notifications/") => {
                    "payment-received:pay_01j0000000000000000000000x".to_owned()
                }
                s if s.starts_with('{') => panic!("no value for {s} in {template}: extend `concrete`"),
                s => s.to_owned(),
            };
            out.push(value);
        }
        out.join("/")
    }

    async fn attempt(&self, method: &str, path: &str, credential: Credential) -> Reply {
        let body = matches!(method, "POST" | "PUT" | "DELETE" | "PATCH").then(|| json!({}));
        let anonymous = ("x-anonymous-id", "contract-visitor-0001");
        match credential {
            Credential::None => self.call(method, path, body, None, &[anonymous]).await,
            Credential::Session => self.call(method, path, body, Some(&self.session), &[]).await,
            Credential::Solution => self.call(method, path, body, Some(&self.solution_token), &[]).await,
            Credential::ApiKey => self.call(method, path, body, None, &[("x-api-key", &self.api_key)]).await,
        }
    }
}

fn openapi() -> Yaml {
    let path = integration_tests::workspace_root().join("infra/openapi.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(&path).expect("openapi.yaml")).expect("yaml")
}

/// (method, path template, documented security) of every operation.
fn operations(doc: &Yaml) -> Vec<(String, String, Documented)> {
    let default = doc.get("security").cloned().unwrap_or(Yaml::Sequence(Vec::new()));
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_mapping().expect("paths") {
        let path = path.as_str().expect("path");
        for (method, op) in item.as_mapping().expect("path item") {
            let method = method.as_str().expect("method").to_uppercase();
            if !["GET", "POST", "PUT", "DELETE", "PATCH"].contains(&method.as_str()) {
                continue;
            }
            let security = op.get("security").unwrap_or(&default);
            out.push((method, path.to_owned(), Documented::parse(security)));
        }
    }
    out
}

#[test]
fn security_schemes_are_the_three_credentials() {
    let doc = openapi();
    let schemes = doc["components"]["securitySchemes"].as_mapping().expect("securitySchemes");
    let names: BTreeSet<&str> = schemes.keys().filter_map(Yaml::as_str).collect();
    assert_eq!(names, BTreeSet::from(["partnerApiKey", "sessionToken", "solutionToken"]));
    assert_eq!(doc["components"]["securitySchemes"]["partnerApiKey"]["in"].as_str(), Some("header"));
    assert_eq!(doc["components"]["securitySchemes"]["partnerApiKey"]["name"].as_str(), Some("X-Api-Key"));
    for (method, path, documented) in operations(&doc) {
        if path.starts_with("/api/webhooks/") || path == "/api/payments/webhook" {
            assert!(
                documented.anonymous && !documented.session && !documented.solution && !documented.api_key,
                "{method} {path}: webhooks are authenticated by signature, security: []"
            );
        }
        if path.starts_with("/api/admin/")
            || path.starts_with("/api/partners/")
            || path.starts_with("/api/subscriptions")
        {
            assert!(
                documented.session && !documented.solution && !documented.anonymous,
                "{method} {path}: account routes take session tokens only"
            );
        }
    }
}

#[tokio::test]
async fn every_operation_accepts_exactly_its_documented_credentials() {
    let world = World::new().await;
    let doc = openapi();
    let mut problems = Vec::new();
    let mut checked = BTreeMap::new();
    for (method, template, documented) in operations(&doc) {
        if template.starts_with("/api/webhooks/") || template == "/api/payments/webhook" {
            continue;
        }
        let path = world.concrete(&template);
        for credential in ALL {
            let reply = world.attempt(&method, &path, credential).await;
            assert_ne!(reply.status, 500, "{method} {path} with {credential:?}: {:?}", reply.body);
            let refused = reply.status == 401;
            let expected_refused = !documented.accepts(credential);
            if refused != expected_refused {
                problems.push(format!(
                    "{method} {template} with {credential:?}: documented {}, handler answered {} {}",
                    if expected_refused { "refused" } else { "accepted" },
                    reply.status,
                    reply.body["code"].as_str().unwrap_or("")
                ));
            }
            // A bearer of the wrong kind is told so.
            if refused
                && matches!(credential, Credential::Session | Credential::Solution)
                && (documented.session || documented.solution)
            {
                let code = reply.body["code"].as_str().unwrap_or("");
                if code != "wrong_token_kind" {
                    problems.push(format!("{method} {template} with {credential:?}: 401 {code}, not wrong_token_kind"));
                }
            }
            *checked.entry(credential).or_insert(0) += 1;
        }
    }
    assert!(problems.is_empty(), "{} disagreements:\n{}", problems.len(), problems.join("\n"));
    assert!(checked.get(&Credential::Session).copied().unwrap_or(0) > 50, "{checked:?}");
}
