//! "A team buys pro": an organization's owner subscribes for the organization; the tier applies to every
//! member at once (their shared quota), the upgrade restarts the organization's day, the invoice is the
//! organization's, and only owners buy, change or cancel (admins read, members neither).

use crate::fixture;
use chrono::Duration;
use integration_tests::harness::{Reply, unique_email};
use serde_json::{Value, json};
use shared::auth::Session;

fn code(r: &Reply) -> (u16, &str) {
    (r.status, r.body["code"].as_str().unwrap_or(""))
}

#[tokio::test]
async fn a_team_buys_pro_and_every_member_gets_it_at_once() {
    Box::pin(team_buys_pro()).await;
}

async fn team_buys_pro() {
    let f = fixture().await;
    let env = &f.b.env;
    let b = &f.b;
    let sid = f.solution.solution_id.clone();
    // The fixture's user owns the team; an admin and a member join it.
    let org = env.call("POST", "/api/orgs", Some(json!({"name": "Team"})), Some(&f.access)).await.body["org_id"]
        .as_str()
        .expect("org")
        .to_owned();
    let mut joined: Vec<Session> = Vec::new();
    for role in ["admin", "member"] {
        let email = unique_email(role);
        let inv = env
            .call(
                "POST",
                &format!("/api/orgs/{org}/invitations"),
                Some(json!({"email": email, "role": role})),
                Some(&f.access),
            )
            .await;
        let who = env.register(&email).await;
        let id = inv.body["invitation_id"].as_str().expect("id");
        assert_eq!(
            env.call("POST", &format!("/api/invitations/{id}/accept"), Some(json!({})), Some(&who.access_token))
                .await
                .status,
            200
        );
        joined.push(who);
    }
    let (admin, member) = (&joined[0], &joined[1]);
    let org_token = |s: &Session| {
        let body = json!({"solution_id": sid, "org_id": org});
        let token = s.access_token.clone();
        async move {
            let r = env.call("POST", "/api/generate-token", Some(body), Some(&token)).await;
            assert_eq!(r.status, 201, "{:?}", r.body);
            r.body["token"].as_str().unwrap_or("").to_owned()
        }
    };
    let (admin_token, member_token) = (org_token(admin).await, org_token(member).await);
    let track = |t: &str| {
        let t = t.to_owned();
        async move { env.call("POST", "/api/track-usage", Some(json!({"action": "run"})), Some(&t)).await.status }
    };
    // Free is 3 a day, shared: two from the admin, one from the member, then nobody.
    assert_eq!((track(&admin_token).await, track(&admin_token).await, track(&member_token).await), (200, 200, 200));
    assert_eq!(track(&member_token).await, 429);

    // Only an owner buys for the organization.
    let body = json!({"solution_id": sid, "tier": "pro", "provider": "stripe", "org_id": org});
    for who in [admin, member] {
        let r = f.b.call("POST", "/api/subscriptions", Some(body.clone()), Some(&who.access_token)).await;
        assert_eq!(code(&r), (403, "org_role_required"), "{:?}", r.body);
    }
    let outsider = env.register(&unique_email("outsider")).await;
    let r = f.b.call("POST", "/api/subscriptions", Some(body.clone()), Some(&outsider.access_token)).await;
    assert_eq!(code(&r), (404, "org_not_found"));
    let created = f.b.call("POST", "/api/subscriptions", Some(body), Some(&f.access)).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["subscription_id"].as_str().expect("id").to_owned();
    let item = env.store.get_subscription(&id).await.expect("read").expect("subscription");
    assert_eq!(item.user_id, org, "the subscription is the organization's");
    let events = f.b.stripe.complete_checkout(item.checkout_session_id.as_deref().expect("session"));
    for e in &events {
        assert_eq!(f.b.deliver(e).await.status, 200);
    }
    // The Stripe customer is the organization's, opened with the buyer's address.
    let customer = env.store.get_provider_customer("stripe", &org).await.expect("read").expect("customer");
    assert_eq!(item.provider_customer_id.as_deref(), Some(customer.customer_id.as_str()));

    // Pro (5 a day) for every member at once, on their existing tokens (a refusal rechecks a tier cached over 2 s).
    env.clock.advance(Duration::seconds(3));
    assert_eq!(track(&member_token).await, 200);
    assert_eq!(track(&admin_token).await, 200);
    let validated = env.call("POST", "/api/validate-token", Some(json!({"token": member_token})), None).await;
    assert_eq!((validated.body["tier"].as_str(), validated.body["org_id"].as_str()), (Some("pro"), Some(org.as_str())));
    // The owner's own account is untouched: its personal tier is still free.
    assert_eq!(f.tier().await, "free");

    // Owners and admins read the organization's subscriptions and invoices; members do not.
    let list = |who: &Session| {
        let token = who.access_token.clone();
        let uri = format!("/api/subscriptions/{org}");
        async move { b.call("GET", &uri, None, Some(&token)).await }
    };
    let by_admin = list(admin).await;
    assert_eq!(by_admin.status, 200, "{:?}", by_admin.body);
    assert_eq!(by_admin.body["subscriptions"][0]["tier"], "pro");
    assert_eq!(code(&list(member).await), (403, "org_role_required"));
    assert_eq!(code(&list(&outsider).await), (404, "org_not_found"));
    let invoices = f.b.call("GET", &format!("/api/invoices?customer_id={org}"), None, Some(&f.access)).await;
    assert_eq!(invoices.body["items"].as_array().map(Vec::len), Some(1), "{:?}", invoices.body);
    let invoice = env.store.get_invoice(invoices.body["items"][0]["invoice_id"].as_str().expect("invoice")).await;
    let document = invoice.expect("read").expect("invoice").document.expect("document");
    assert_eq!(document.buyer.name, "Team", "the tax invoice names the organization");
    assert_eq!(
        code(&f.b.call("GET", &format!("/api/invoices?customer_id={org}"), None, Some(&member.access_token)).await),
        (403, "org_role_required")
    );

    // The upgrade is the owner's, prorated at once, and restarts the organization's day under enterprise (10).
    let upgrade = |token: &str| {
        let token = token.to_owned();
        let uri = format!("/api/subscriptions/{id}/upgrade");
        async move { b.call("PUT", &uri, Some(json!({"tier": "enterprise"})), Some(&token)).await }
    };
    assert_eq!(code(&upgrade(&admin.access_token).await), (403, "org_role_required"));
    // The spending cap is the owner's too: the role is checked before anything about the subscription.
    let cap = format!("/api/subscriptions/{id}/spending-cap");
    for who in [admin, member] {
        let r = b.call("PUT", &cap, Some(json!({"amount": 100})), Some(&who.access_token)).await;
        assert_eq!(code(&r), (403, "org_role_required"));
    }
    let r = b.call("PUT", &cap, Some(json!({"amount": 100})), Some(&outsider.access_token)).await;
    assert_eq!(code(&r), (404, "org_not_found"));
    let up = upgrade(&f.access).await;
    assert_eq!((up.status, up.body["tier"].as_str()), (200, Some("enterprise")), "{:?}", up.body);
    env.clock.advance(Duration::seconds(3));
    let quota = env.call("GET", &format!("/api/quotas/{org}/{sid}"), None, Some(&member.access_token)).await;
    assert_eq!((quota.body["used"].as_u64(), quota.body["limit"].as_u64()), (Some(0), Some(10)), "{:?}", quota.body);
    let statuses: Vec<u16> = {
        let mut out = Vec::new();
        for i in 0..11 {
            out.push(track(if i % 2 == 0 { &member_token } else { &admin_token }).await);
        }
        out
    };
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 10, "{statuses:?}");
    // Members cannot cancel; the owner can.
    let cancel = |token: &str| {
        let token = token.to_owned();
        let uri = format!("/api/subscriptions/{id}");
        async move { b.call("DELETE", &uri, None, Some(&token)).await }
    };
    assert_eq!(code(&cancel(&member.access_token).await), (403, "org_role_required"));
    let canceled: Value = cancel(&f.access).await.body;
    assert!(
        canceled["cancel_at_period_end"].as_bool().unwrap_or(false) || canceled["status"] == "canceled",
        "{canceled:?}"
    );
}
