//! An admin's tier limits (`PUT /api/tier-limits`) change limits only: the tier keeps its prices (so it stays
//! sellable), the catalog shows what usage enforces, and a partner's later approved change of the tier keeps
//! the admin's limits in force (an override the partner sees on its solution).

use integration_tests::billing::BillingEnv;
use integration_tests::harness::unique_email;
use integration_tests::partners::solution_body;
use serde_json::{Value, json};
use shared::model::Tier;
use shared::store::keys;
use shared::store::solutions::TierDefinitionItem;

async fn definition(b: &BillingEnv, solution_id: &str, tier: Tier) -> TierDefinitionItem {
    b.env.store.get(&keys::solution_tier(solution_id, tier.as_str()), true).await.expect("read").expect("definition")
}

/// The catalog's view of a tier.
async fn catalog_tier(b: &BillingEnv, solution_id: &str, tier: &str) -> Value {
    let r = b.call("GET", &format!("/api/solutions/{solution_id}"), None, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["tiers"].as_array().and_then(|t| t.iter().find(|t| t["tier"] == tier)).cloned().unwrap_or(Value::Null)
}

#[tokio::test]
async fn admin_limits_keep_the_tier_sellable_and_survive_a_partners_approved_change() {
    let b = BillingEnv::new().await;
    let admin = b.env.admin().await.access_token;
    let (partner_id, partner) = b.partner(&admin).await;
    let sid = b.publish(&partner.access_token, &admin, solution_body("Limits")).await;

    // The admin sets the pro tier's limits.
    let set = b
        .call(
            "PUT",
            "/api/tier-limits",
            Some(json!({"solution_id": sid, "tier": "pro", "daily_limit": 7, "monthly_limit": 150})),
            Some(&admin),
        )
        .await;
    assert_eq!(set.status, 200, "{:?}", set.body);

    // Limits changed; the price is still there, and the tier can still be bought.
    let def = definition(&b, &sid, Tier::Pro).await;
    assert_eq!((def.daily_limit, def.monthly_limit), (Some(7), Some(150)));
    assert_eq!(def.prices.iter().map(|p| (p.amount, p.currency.as_str())).collect::<Vec<_>>(), vec![(49_900, "inr")]);
    let user = b.env.register(&unique_email("buyer")).await;
    let body = json!({"solution_id": sid, "tier": "pro", "provider": "phonepe", "period": "monthly"});
    let created = b.call("POST", "/api/subscriptions", Some(body), Some(&user.access_token)).await;
    assert_eq!(created.status, 201, "the tier stays sellable: {:?}", created.body);
    assert_eq!(created.body["price"]["amount"], 49_900, "{:?}", created.body);

    // The catalog shows what usage enforces.
    let listed = catalog_tier(&b, &sid, "pro").await;
    assert_eq!((listed["daily_limit"].as_u64(), listed["monthly_limit"].as_u64()), (Some(7), Some(150)), "{listed:?}");
    assert_eq!(listed["prices"][0]["amount"], 49_900);
    // The free tier is untouched.
    assert_eq!(definition(&b, &sid, Tier::Free).await.daily_limit, Some(5));

    // The partner sees the override on its solution.
    let mine = b.call("GET", &format!("/api/partners/solutions/{sid}"), None, Some(&partner.access_token)).await;
    assert_eq!(mine.status, 200, "{:?}", mine.body);
    assert_eq!(mine.body["limit_overrides"]["pro"]["daily_limit"], 7, "{:?}", mine.body);
    assert_eq!(mine.body["partner_id"], partner_id.as_str());

    // The partner raises the pro price (and proposes its own limits); the admin approves the change.
    let mut tiers = solution_body("Limits")["tiers"].clone();
    tiers[1]["daily_limit"] = json!(2_000);
    tiers[1]["prices"][0]["amount"] = json!(59_900);
    let changed = b
        .call(
            "PUT",
            &format!("/api/partners/solutions/{sid}"),
            Some(json!({"tiers": tiers})),
            Some(&partner.access_token),
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    let approved = b.call("POST", &format!("/api/admin/solutions/{sid}/approve"), None, Some(&admin)).await;
    assert_eq!(approved.status, 200, "{:?}", approved.body);

    // The new price is in force; the admin's limits still are.
    let def = definition(&b, &sid, Tier::Pro).await;
    assert_eq!((def.daily_limit, def.monthly_limit), (Some(7), Some(150)), "the admin's override was reverted");
    assert_eq!(def.prices.iter().map(|p| p.amount).collect::<Vec<_>>(), vec![59_900]);
    let listed = catalog_tier(&b, &sid, "pro").await;
    assert_eq!((listed["daily_limit"].as_u64(), listed["prices"][0]["amount"].as_i64()), (Some(7), Some(59_900)));
    assert_eq!(approved.body["limit_overrides"]["pro"]["monthly_limit"], 150, "{:?}", approved.body);
    // The partner's free tier change (none) and its own limits of tiers without an override still apply.
    assert_eq!(definition(&b, &sid, Tier::Free).await.daily_limit, Some(5));
}

#[tokio::test]
async fn platform_default_limits_change_limits_only() {
    let b = BillingEnv::new().await;
    let admin = b.env.admin().await.access_token;
    let key = keys::default_tier("enterprise");
    let mut def = TierDefinitionItem::new(None, Tier::Enterprise, Some(1), None, "2026-01-01T00:00:00Z".into());
    def.prices = vec![shared::model::Price::new(100, "inr", shared::model::BillingPeriod::Monthly)];
    b.env.store.put_tier_definition(&def).await.expect("seed");
    let r =
        b.call("PUT", "/api/tier-limits", Some(json!({"tier": "enterprise", "daily_limit": null})), Some(&admin)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let after: TierDefinitionItem = b.env.store.get(&key, true).await.expect("read").expect("definition");
    assert_eq!((after.daily_limit, after.monthly_limit, after.prices.len()), (None, None, 1));
}
