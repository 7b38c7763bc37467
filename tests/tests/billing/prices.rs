//! Prices are the platform's: partners declare amount, currency and period; an admin's approval makes the
//! Stripe Product and Prices (found again by lookup key, never duplicated), a replaced price is archived,
//! Checkout charges exactly what the partner declared, and nobody sees a provider id.

use integration_tests::billing::{BillingEnv, stripe_client};
use integration_tests::harness::{Reply, decode, unique_email};
use integration_tests::partners::{application, solution_body};
use serde_json::{Value, json};
use shared::model::Tier;
use shared::payments::stripe::prices::PriceBook;
use shared::platform::sealed::Sealer;
use shared::store::keys;
use shared::store::solutions::TierDefinitionItem;
use std::sync::Arc;
use std::time::Duration;

/// The subscriptions and Stripe webhook functions with the partners function beside them (its price book
/// pointed at the Stripe stand-in), on one table.
struct Market {
    b: BillingEnv,
    partners: Arc<partners::AppState>,
    admin: String,
}

impl Market {
    async fn new() -> Self {
        let b = BillingEnv::new().await;
        let sealer = Sealer::new(&shared::platform::crypto::random_bytes::<32>()).expect("sealer");
        let mut state =
            partners::AppState::new(b.env.store_for("partners"), b.env.keys(), Arc::new(b.env.clock.clone()), sealer);
        let book = PriceBook::new(stripe_client(&b.stripe.base, Duration::from_secs(2)));
        state.partners = state.partners.with_price_book(book);
        let admin = b.env.admin().await.access_token;
        Self { b, partners: Arc::new(state), admin }
    }

    async fn call(&self, method: &str, uri: &str, body: Option<Value>, bearer: &str) -> Reply {
        let path = uri.split('?').next().unwrap_or(uri);
        if shared::platform::http::match_route(partners::ROUTES, method, path)
            != shared::platform::http::RouteMatch::NotFound
        {
            let body = body.map_or(lambda_http::Body::Empty, |b| lambda_http::Body::Text(b.to_string()));
            let req = integration_tests::harness::api_request(method, uri, body, Some(bearer), &[]);
            return decode(partners::handle(&self.partners, req).await);
        }
        self.b.call(method, uri, body, Some(bearer)).await
    }

    /// An approved partner's session token.
    async fn partner(&self) -> String {
        let email = unique_email("partner");
        let session = self.b.env.register(&email).await;
        let applied = self.call("POST", "/api/partners/apply", Some(application("Acme")), &session.access_token).await;
        assert_eq!(applied.status, 201, "{:?}", applied.body);
        let id = applied.body["partner_id"].as_str().expect("partner id").to_owned();
        let approved = self.call("POST", &format!("/api/admin/partners/{id}/approve"), None, &self.admin).await;
        assert_eq!(approved.status, 200, "{:?}", approved.body);
        self.b.env.login(&email).await.access_token
    }

    /// A solution drafted and submitted (not yet approved): its id.
    async fn submitted(&self, partner: &str, body: Value) -> String {
        let created = self.call("POST", "/api/partners/solutions", Some(body), partner).await;
        assert_eq!(created.status, 201, "{:?}", created.body);
        let id = created.body["solution_id"].as_str().expect("solution id").to_owned();
        let submitted = self.call("POST", &format!("/api/partners/solutions/{id}/submit"), None, partner).await;
        assert_eq!(submitted.status, 200, "{:?}", submitted.body);
        id
    }

    async fn approve(&self, id: &str) -> Reply {
        self.call("POST", &format!("/api/admin/solutions/{id}/approve"), None, &self.admin).await
    }

    async fn tier_prices(&self, id: &str, tier: Tier) -> Vec<shared::model::Price> {
        let def: Option<TierDefinitionItem> =
            self.b.env.store.get(&keys::solution_tier(id, tier.as_str()), true).await.expect("read");
        def.map(|d| d.prices).unwrap_or_default()
    }

    /// The Stripe prices made for a solution, by lookup key: (id, amount, active).
    fn stripe_prices(&self, id: &str) -> Vec<(String, String, i64, bool)> {
        let mut out: Vec<_> = self
            .b
            .stripe
            .prices()
            .into_values()
            .filter(|p| p["metadata"]["solution_id"] == id)
            .map(|p| {
                (
                    p["lookup_key"].as_str().unwrap_or_default().to_owned(),
                    p["id"].as_str().unwrap_or_default().to_owned(),
                    p["unit_amount"].as_i64().unwrap_or_default(),
                    p["active"].as_bool().unwrap_or_default(),
                )
            })
            .collect();
        out.sort();
        out
    }
}

fn with_pro_price(body: &mut Value, amount: i64) {
    body["tiers"][1]["prices"][0]["amount"] = amount.into();
}

fn has_provider_ids(v: &Value) -> bool {
    v.to_string().contains("stripe_price_id") || v.to_string().contains("price_")
}

#[tokio::test]
async fn an_approval_makes_the_platforms_stripe_price_and_checkout_charges_what_the_partner_declared() {
    let m = Market::new().await;
    let partner = m.partner().await;
    let mut body = solution_body("Priced Search");
    with_pro_price(&mut body, 64_900);
    let id = m.submitted(&partner, body).await;
    assert!(m.stripe_prices(&id).is_empty(), "nothing at Stripe before approval");
    let approved = m.approve(&id).await;
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    assert!(!has_provider_ids(&approved.body), "{:?}", approved.body);
    let made = m.stripe_prices(&id);
    assert_eq!(made.len(), 1, "{made:?}");
    let (lookup, price_id, amount, active) = made[0].clone();
    assert_eq!((lookup.as_str(), amount, active), (format!("{id}:pro:inr:monthly:64900").as_str(), 64_900, true));
    assert_eq!(m.b.stripe.products()[&format!("mk_{id}")]["metadata"]["solution_id"], id.as_str());
    let sellable = m.tier_prices(&id, Tier::Pro).await;
    assert_eq!(sellable[0].stripe_price_id.as_deref(), Some(price_id.as_str()));

    // A user buys pro: Checkout names the platform's price and charges the declared ₹649.
    let user = m.b.env.register(&unique_email("buyer")).await;
    let (sub, _) = m.b.subscribe(&user.access_token, &id, "pro").await;
    let checkout = m.b.stripe.requests().into_iter().find(|r| r.path == "/v1/checkout/sessions").expect("checkout");
    assert_eq!(checkout.param("line_items[0][price]"), Some(price_id.as_str()));
    let history = m.b.call("GET", "/api/payments/history", None, Some(&user.access_token)).await;
    assert_eq!(history.body["items"][0]["amount"], 64_900, "{:?}", history.body);
    assert_eq!(history.body["items"][0]["subscription_id"], sub.as_str());
    // Neither the partner's view nor the user's subscription shows a provider price id.
    let view = m.call("GET", &format!("/api/partners/solutions/{id}"), None, &partner).await;
    assert!(!has_provider_ids(&view.body), "{:?}", view.body);
    let subs = m.b.call("GET", &format!("/api/subscriptions/{}", user.user_id), None, Some(&user.access_token)).await;
    assert!(!has_provider_ids(&subs.body), "{:?}", subs.body);
}

#[tokio::test]
async fn a_partner_cannot_name_a_stripe_price() {
    let m = Market::new().await;
    let partner = m.partner().await;
    let mut body = solution_body("Sneaky");
    body["tiers"][1]["prices"][0]["stripe_price_id"] = "price_someone_elses_1999".into();
    let r = m.call("POST", "/api/partners/solutions", Some(body), &partner).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["errors"][0]["field"], "tiers[1].prices[0].stripe_price_id", "{:?}", r.body);
    // Nor in a change of a published solution's tiers.
    let id = m.submitted(&partner, solution_body("Honest")).await;
    assert_eq!(m.approve(&id).await.status, 200);
    let mut tiers = solution_body("Honest")["tiers"].clone();
    tiers[1]["prices"][0]["stripe_price_id"] = "price_someone_elses_1999".into();
    let r = m.call("PUT", &format!("/api/partners/solutions/{id}"), Some(json!({"tiers": tiers})), &partner).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["errors"][0]["field"], "tiers[1].prices[0].stripe_price_id", "{:?}", r.body);
    // The tiers read back from the partner's view can be sent back unchanged (no pending change results).
    let view = m.call("GET", &format!("/api/partners/solutions/{id}"), None, &partner).await;
    let same = json!({"tiers": view.body["tiers"].clone()});
    let r = m.call("PUT", &format!("/api/partners/solutions/{id}"), Some(same), &partner).await;
    assert_eq!((r.status, &r.body["pending_tiers"]), (200, &Value::Null), "{:?}", r.body);
}

#[tokio::test]
async fn an_approved_price_change_makes_a_new_price_archives_the_old_and_reuses_by_lookup_key() {
    let m = Market::new().await;
    let partner = m.partner().await;
    let id = m.submitted(&partner, solution_body("Changing")).await;
    assert_eq!(m.approve(&id).await.status, 200);
    let first = m.stripe_prices(&id);
    assert_eq!(first.len(), 1);
    let change = |amount: i64| {
        let mut tiers = solution_body("Changing")["tiers"].clone();
        tiers[1]["prices"][0]["amount"] = amount.into();
        json!({"tiers": tiers})
    };
    let r = m.call("PUT", &format!("/api/partners/solutions/{id}"), Some(change(59_900)), &partner).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(m.stripe_prices(&id).len(), 1, "a pending change makes nothing at Stripe");
    assert_eq!(m.approve(&id).await.status, 200);
    let after = m.stripe_prices(&id);
    assert_eq!(after.len(), 2, "{after:?}");
    let old = after.iter().find(|p| p.2 == 49_900).expect("old price");
    let new = after.iter().find(|p| p.2 == 59_900).expect("new price");
    assert!(!old.3 && new.3, "the replaced price is archived, the new one active: {after:?}");
    assert_eq!(m.tier_prices(&id, Tier::Pro).await[0].stripe_price_id.as_deref(), Some(new.1.as_str()));
    // Back to ₹499: the archived price is found by its lookup key and made active again, not duplicated.
    let r = m.call("PUT", &format!("/api/partners/solutions/{id}"), Some(change(49_900)), &partner).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(m.approve(&id).await.status, 200);
    let back = m.stripe_prices(&id);
    assert_eq!(back.len(), 2, "{back:?}");
    assert!(back.iter().any(|p| p.1 == old.1 && p.3), "{back:?}");
    assert!(back.iter().any(|p| p.1 == new.1 && !p.3), "{back:?}");
    // Suspension and reinstatement make nothing new either.
    let suspend = m
        .call("POST", &format!("/api/admin/solutions/{id}/suspend"), Some(json!({"reason": "review"})), &m.admin)
        .await;
    assert_eq!(suspend.status, 200, "{:?}", suspend.body);
    assert_eq!(m.call("POST", &format!("/api/admin/solutions/{id}/reinstate"), None, &m.admin).await.status, 200);
    assert_eq!(m.stripe_prices(&id).len(), 2);
}

#[tokio::test]
async fn an_approval_stripe_refuses_changes_nothing_and_can_be_retried() {
    let m = Market::new().await;
    let partner = m.partner().await;
    let id = m.submitted(&partner, solution_body("Unlucky")).await;
    m.b.stripe.set_mode(integration_tests::stripe_local::Mode::Fail);
    let r = m.approve(&id).await;
    assert!(r.status == 502 || r.status == 503, "{:?}", r.body);
    let view = m.call("GET", &format!("/api/partners/solutions/{id}"), None, &partner).await;
    assert_eq!(view.body["status"], "submitted", "{:?}", view.body);
    assert!(m.tier_prices(&id, Tier::Pro).await.is_empty(), "no tier was put in force");
    m.b.stripe.set_mode(integration_tests::stripe_local::Mode::Normal);
    assert_eq!(m.approve(&id).await.status, 200);
    assert_eq!(m.stripe_prices(&id).len(), 1);
}

#[tokio::test]
async fn an_approved_price_change_reaches_stripe_subscribers_at_their_next_renewal_with_notice() {
    use shared::billing::run::BillingRun;
    use shared::billing::writer::SubscriptionWriter;
    use shared::platform::clock::Clock;
    let m = Market::new().await;
    let partner = m.partner().await;
    let id = m.submitted(&partner, solution_body("Repriced")).await;
    assert_eq!(m.approve(&id).await.status, 200);
    let early = m.b.env.register(&unique_email("early")).await;
    let (sub, stripe_sub) = m.b.subscribe(&early.access_token, &id, "pro").await;
    // The partner raises pro to ₹599 and an admin approves.
    let mut tiers = solution_body("Repriced")["tiers"].clone();
    tiers[1]["prices"][0]["amount"] = 59_900.into();
    let r = m.call("PUT", &format!("/api/partners/solutions/{id}"), Some(json!({"tiers": tiers})), &partner).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(m.approve(&id).await.status, 200);
    let new_price = m.tier_prices(&id, Tier::Pro).await[0].clone();
    assert_eq!(new_price.amount, 59_900);
    // A new subscriber pays the new price at once; the early one keeps ₹499 for the period it paid.
    let late = m.b.env.register(&unique_email("late")).await;
    m.b.subscribe(&late.access_token, &id, "pro").await;
    let paid = |token: String| {
        let b = &m.b;
        async move {
            let h = b.call("GET", "/api/payments/history", None, Some(&token)).await;
            h.body["items"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|i| i["amount"].clone())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(paid(late.access_token.clone()).await, vec![json!(59_900)]);
    assert_eq!(paid(early.access_token.clone()).await, vec![json!(49_900)]);
    let mut run = BillingRun::new(
        SubscriptionWriter::new(m.b.env.store_for("billing"), Arc::new(m.b.env.clock.clone()), 7 * 86_400),
        "https://app.test",
    );
    run.stripe = Some(shared::payments::stripe::rail::StripeRail::shared(stripe_client(
        &m.b.stripe.base,
        Duration::from_secs(2),
    )));
    let repriced = |m: &Market| {
        m.b.stripe
            .requests()
            .into_iter()
            .filter(|r| r.path == format!("/v1/subscriptions/{stripe_sub}") && r.method == "POST")
            .collect::<Vec<_>>()
    };
    // Before the notice period, nothing changes at Stripe.
    let renewal = m.b.period_end(&sub).await;
    m.b.set_clocks(renewal - 3 * 86_400 - 1);
    run.run(|| true).await.expect("run");
    assert!(repriced(&m).is_empty());
    // Three days before the renewal: Stripe's next renewal is switched (no proration) and the subscriber told.
    m.b.set_clocks(renewal - 3 * 86_400 + 1);
    let report = run.run(|| true).await.expect("run");
    // Both subscriptions are looked at; only the early one's price differs from the one in force.
    assert_eq!(report.steps.get("stripe_reprice"), Some(&2), "{report:?}");
    let calls = repriced(&m);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].param("items[0][price]"), new_price.stripe_price_id.as_deref());
    assert_eq!(calls[0].param("proration_behavior"), Some("none"));
    let item = m.b.env.store.get_subscription(&sub).await.expect("read").expect("sub");
    let period_end = item.reconciled.latest.as_ref().expect("period").period_end;
    let note: Option<shared::store::outbox::NotificationItem> =
        m.b.env.store.get(&keys::outbox(&format!("renewal-notice:{sub}:{period_end}")), true).await.expect("read");
    let note = note.expect("the subscriber is told");
    assert_eq!((note.data["amount"].as_i64(), note.data["previous_amount"].as_i64()), (Some(59_900), Some(49_900)));
    assert_eq!(paid(early.access_token.clone()).await, vec![json!(49_900)], "nothing charged before the renewal");
    // Rerun-safe.
    run.run(|| true).await.expect("run");
    assert_eq!(repriced(&m).len(), 1);
    // Stripe renews at the new price; our record follows.
    m.b.env.clock.advance(chrono::Duration::days(3));
    m.b.stripe.set_now(m.b.env.clock.now().timestamp());
    for e in m.b.stripe.renew(&stripe_sub) {
        assert_eq!(m.b.deliver(&e).await.status, 200);
    }
    let mut amounts = paid(early.access_token.clone()).await;
    amounts.sort_by_key(Value::to_string);
    assert_eq!(amounts, vec![json!(49_900), json!(59_900)]);
    let subs = m.b.call("GET", &format!("/api/subscriptions/{}", early.user_id), None, Some(&early.access_token)).await;
    assert_eq!(subs.body["subscriptions"][0]["price"]["amount"], 59_900, "{:?}", subs.body);
}

#[tokio::test]
async fn a_price_id_a_partner_once_typed_is_never_archived_by_their_change() {
    let m = Market::new().await;
    let victim = m.submitted(&m.partner().await, solution_body("Victim")).await;
    assert_eq!(m.approve(&victim).await.status, 200);
    let victims_price = m.stripe_prices(&victim)[0].1.clone();
    // Before prices were the platform's, another partner typed the victim's price id into its tiers.
    let partner = m.partner().await;
    let id = m.submitted(&partner, solution_body("Legacy")).await;
    assert_eq!(m.approve(&id).await.status, 200);
    let key = keys::solution(&id);
    let mut legacy: shared::store::solutions::SolutionItem =
        m.b.env.store.get(&key, true).await.expect("read").expect("solution");
    legacy.tiers[1].prices[0].stripe_price_id = Some(victims_price.clone());
    m.b.env.store.put(&legacy, None).await.expect("seed legacy tiers");
    let mut tiers = solution_body("Legacy")["tiers"].clone();
    tiers[1]["prices"][0]["amount"] = 79_900.into();
    let r = m.call("PUT", &format!("/api/partners/solutions/{id}"), Some(json!({"tiers": tiers})), &partner).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(m.approve(&id).await.status, 200);
    assert!(
        m.b.stripe.prices()[&victims_price]["active"].as_bool().unwrap_or(false),
        "the victim's price stays on sale"
    );
}
