//! The audit trail of money: an admin's refund request (after the provider accepted it), and the quota an
//! upgrade restarts (by the upgrading user), listed by `GET /api/admin/audit`. A refused refund records nothing.

use crate::fixture;
use integration_tests::harness::Reply;
use serde_json::{Value, json};

async fn trail(f: &crate::Fixture, query: &str) -> Vec<Value> {
    let r: Reply = f.b.call("GET", &format!("/api/admin/audit?{query}"), None, Some(&f.admin)).await;
    assert_eq!(r.status, 200, "{query}: {:?}", r.body);
    r.body["events"].as_array().expect("events").clone()
}

#[tokio::test]
async fn refunds_and_an_upgrades_quota_restart_are_recorded() {
    let f = fixture().await;
    let (id, _) = f.b.subscribe(&f.access, &f.solution.solution_id, "pro").await;
    for _ in 0..2 {
        assert_eq!(f.track().await, 200);
    }
    let r = f
        .b
        .call("PUT", &format!("/api/subscriptions/{id}/upgrade"), Some(json!({"tier": "enterprise"})), Some(&f.access))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let about = format!("customer%23{}%2Fsolution%23{}", f.user_id, f.solution.solution_id);
    let resets = trail(&f, &format!("subject={about}")).await;
    assert_eq!(resets.len(), 1, "{resets:?}");
    let reset = &resets[0];
    assert_eq!(
        (reset["kind"].as_str(), reset["actor"].as_str(), reset["details"]["previous_used"].as_str()),
        (Some("quota.reset"), Some(f.user_id.as_str()), Some("2"))
    );
    assert_eq!(reset["details"]["subscription_id"], id.as_str());
    assert!(reset["reason"].as_str().is_some_and(|r| r.contains("enterprise")), "{reset}");

    let history = f.history().await;
    let payment_id = history["items"][0]["payment_id"].as_str().expect("payment").to_owned();
    let uri = format!("/api/payments/{payment_id}/refund");
    let too_much = json!({"amount": 10_000_000, "reason": "x"});
    assert_eq!(f.b.call("POST", &uri, Some(too_much), Some(&f.admin)).await.status, 422);
    let r = f.b.call("POST", &uri, Some(json!({"amount": 1_000, "reason": "customer asked"})), Some(&f.admin)).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let refunds = trail(&f, "kind=refund.requested").await;
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    let refund = &refunds[0];
    assert_eq!(
        (refund["subject"].as_str(), refund["reason"].as_str()),
        (Some(format!("payment#{payment_id}").as_str()), Some("customer asked"))
    );
    assert!(refund["actor"].as_str().is_some_and(|a| a.starts_with("usr_") && a != f.user_id), "{refund}");
    let details = &refund["details"];
    assert_eq!(
        (details["amount"].as_str(), details["currency"].as_str(), details["provider"].as_str()),
        (Some("1000"), Some("inr"), Some("stripe"))
    );
    assert_eq!(details["provider_refund_id"], r.body["provider_refund_id"]);
    assert!(refund.get("source_ip").is_none());
}
