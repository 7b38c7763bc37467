//! The marketplace function beside auth and usage on one table (a fresh table per test), with solutions
//! seeded straight into the store so that every sort key (subscribers, ratings, publication time, prices) is
//! exactly what a test says.

use crate::harness::{Reply, TestEnv, decode};
use chrono::SecondsFormat;
use lambda_http::Body;
use serde_json::Value;
use shared::model::{BillingPeriod, Price};
use shared::model::{SolutionStatus, Tier, TierSpec};
use shared::platform::clock::Clock;
use shared::store::keys;
use shared::store::solutions::SolutionItem;
use shared::store::usage::UsageCounterItem;
use std::sync::Arc;

pub struct MarketEnv {
    pub env: TestEnv,
    /// The marketplace function, on the test clock.
    pub market: Arc<marketplace::AppState>,
    /// The partner every seeded solution belongs to.
    pub partner_id: String,
}

/// A solution id from a short suffix (`sol_0000…<suffix>`), valid and stable within a test.
pub fn sol(suffix: &str) -> String {
    format!("sol_{suffix:0>26}")
}

/// A price of a paid tier, monthly.
pub fn price(amount: i64, currency: &str) -> Price {
    Price::new(amount, currency, BillingPeriod::Monthly)
}

/// A free tier and, when `prices` is not empty, a `pro` tier sold at them.
pub fn tiers(prices: &[Price]) -> Vec<TierSpec> {
    let mut out = vec![TierSpec { tier: Tier::Free, daily_limit: Some(100), monthly_limit: None, prices: vec![] }];
    if !prices.is_empty() {
        out.push(TierSpec {
            tier: Tier::Pro,
            daily_limit: Some(10_000),
            monthly_limit: Some(200_000),
            prices: prices.to_vec(),
        });
    }
    out
}

/// RFC 3339 (seconds) of a time `days` before `base`.
pub fn days_before(base: chrono::DateTime<chrono::Utc>, days: i64) -> String {
    (base - chrono::Duration::days(days)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl MarketEnv {
    /// The catalog cache off: every request sees the table as it is.
    pub async fn new() -> Self {
        Self::with_cache(0).await
    }

    /// The catalog cached for `cache_seconds` of the test clock.
    pub async fn with_cache(cache_seconds: i64) -> Self {
        let env = TestEnv::new().await;
        let market = marketplace::AppState::new(
            env.store_for("marketplace"),
            env.keys(),
            Arc::new(env.clock.clone()),
            cache_seconds,
        );
        Self { env, market: Arc::new(market), partner_id: shared::platform::ids::partner_id() }
    }

    /// Run a request through whichever function serves its route (marketplace, else auth or usage).
    pub async fn call(&self, method: &str, uri: &str, body: Option<Value>, bearer: Option<&str>) -> Reply {
        self.call_raw(method, uri, body.map_or(Body::Empty, |b| Body::Text(b.to_string())), bearer).await
    }

    /// As [`Self::call`], with the body as is (malformed JSON, say).
    pub async fn call_raw(&self, method: &str, uri: &str, body: Body, bearer: Option<&str>) -> Reply {
        let path = uri.split('?').next().unwrap_or(uri);
        if shared::platform::http::match_route(marketplace::ROUTES, method, path)
            == shared::platform::http::RouteMatch::NotFound
        {
            return self.env.call_raw(method, uri, body, bearer).await;
        }
        decode(marketplace::handle(&self.market, request(method, uri, body, bearer)).await)
    }

    /// A GET that must succeed: its body.
    pub async fn get(&self, uri: &str) -> Value {
        let r = self.call("GET", uri, None, None).await;
        assert_eq!(r.status, 200, "GET {uri}: {:?}", r.body);
        r.body
    }

    /// Follow `next_cursor` from the first page of `uri` (which has no cursor) to the end, checking that no
    /// solution repeats: the ids in order.
    pub async fn walk(&self, uri: &str) -> Vec<String> {
        self.walk_from(uri, None).await
    }

    /// As [`Self::walk`], starting at `cursor`.
    pub async fn walk_from(&self, uri: &str, mut cursor: Option<String>) -> Vec<String> {
        let sep = if uri.contains('?') { '&' } else { '?' };
        let mut out: Vec<String> = Vec::new();
        for _ in 0..1_000 {
            let page_uri = match &cursor {
                Some(c) => format!("{uri}{sep}cursor={c}"),
                None => uri.to_owned(),
            };
            let page = self.get(&page_uri).await;
            for id in ids(&page) {
                assert!(!out.contains(&id), "{uri}: {id} repeated");
                out.push(id);
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return out,
            }
        }
        panic!("{uri}: the cursors never end");
    }

    /// A solution of the test partner, published 30 days ago by default, shaped by `f`, written as is.
    pub async fn solution(&self, suffix: &str, f: impl FnOnce(&mut SolutionItem)) -> SolutionItem {
        let now = self.env.clock.now();
        let id = sol(suffix);
        let mut item = SolutionItem::new(
            &id,
            &self.partner_id,
            &format!("Solution {suffix}"),
            "A solution of the test catalog.",
            SolutionStatus::Published,
            "Asia/Kolkata",
            days_before(now, 60),
        );
        item.partner_name = "Test Partner Ltd".into();
        item.published_at = Some(days_before(now, 30));
        item.tiers = tiers(&[]);
        f(&mut item);
        let status = item.status;
        item.set_status(status);
        self.env.store.put(&item, None).await.expect("put solution");
        item
    }

    /// A day counter of `customer_id`'s use of `solution_id`, as the usage function writes it.
    pub async fn usage_day(&self, customer_id: &str, solution_id: &str, date: &str) {
        let key = keys::usage_day(customer_id, date, solution_id);
        let counter = UsageCounterItem {
            pk: key.pk,
            sk: key.sk,
            entity_type: "usage_counter".into(),
            customer_id: customer_id.into(),
            solution_id: solution_id.into(),
            period: date.into(),
            used: 3,
            tier: Some(Tier::Free),
            limit: Some(100),
            expires_at: None,
            other: Default::default(),
        };
        self.env.store.put(&counter, None).await.expect("put counter");
    }

    /// A live API key of the test partner (as `POST /api/partners/{id}/api-keys` makes one): the key.
    pub async fn api_key(&self) -> String {
        let key =
            format!("{}{}", shared::identity::api_keys::KEY_PREFIX, shared::platform::crypto::random_token::<32>());
        let item = shared::store::partners::ApiKeyItem::new(
            &shared::platform::crypto::sha256_hex(key.as_bytes()),
            &shared::platform::ids::new_id("key"),
            &self.partner_id,
            "backend",
            &key[..11],
            Vec::new(),
            shared::platform::clock::rfc3339(self.env.clock.now()),
        );
        self.env.store.put(&item, None).await.expect("put api key");
        key
    }

    /// One event the partner's backend tracks for `user_id` with its API key (`X-Api-Key`, `customer_id`).
    pub async fn attest(&self, api_key: &str, user_id: &str, solution_id: &str) {
        let body = serde_json::json!({"action": "query", "customer_id": user_id, "solution_id": solution_id});
        let r = Box::pin(self.env.call_with(
            "POST",
            "/api/track-usage",
            Body::Text(body.to_string()),
            None,
            &[("x-api-key", api_key)],
        ))
        .await;
        assert_eq!(r.status, 200, "partner-tracked usage: {:?}", r.body);
    }

    /// A captured payment of `user_id` for `solution_id` in the user's payment history (as a paid
    /// subscription's webhook or verification records it).
    pub async fn payment(&self, user_id: &str, solution_id: &str) {
        let id = shared::platform::ids::new_id("pay");
        let now = shared::platform::clock::rfc3339(self.env.clock.now());
        let mut item = shared::store::subscriptions::PaymentItem::new(
            &id,
            user_id,
            shared::model::Provider::Stripe,
            format!("pi_{id}"),
            49_900,
            "inr",
            now.clone(),
            now,
        );
        item.solution_id = Some(solution_id.to_owned());
        item.subscription_id = Some(shared::platform::ids::new_id("sub"));
        self.env.store.put(&item, None).await.expect("put payment");
    }

    /// Today's date minus `days`, as day counters name it.
    pub fn date_before(&self, days: i64) -> String {
        (self.env.clock.now() - chrono::Duration::days(days)).format("%Y-%m-%d").to_string()
    }
}

/// An API Gateway-like request.
pub fn request(method: &str, uri: &str, body: Body, bearer: Option<&str>) -> lambda_http::Request {
    crate::harness::api_request(method, uri, body, bearer, &[])
}

/// The solution ids of a catalog page, in order.
pub fn ids(page: &Value) -> Vec<String> {
    page["solutions"]
        .as_array()
        .map(|list| list.iter().filter_map(|s| s["solution_id"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// The fields a problem document names.
pub fn fields(reply: &Reply) -> Vec<String> {
    reply.body["errors"]
        .as_array()
        .map_or_else(Vec::new, |a| a.iter().filter_map(|e| e["field"].as_str().map(str::to_owned)).collect())
}
