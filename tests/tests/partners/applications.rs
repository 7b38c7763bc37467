//! Applying, the admin's review with its audit trail, and what approval grants.

use crate::fields;
use integration_tests::harness::unique_email;
use integration_tests::partners::{PartnersEnv, application};
use serde_json::json;
use shared::store::keys;
use shared::store::partners::PartnerItem;

#[tokio::test]
async fn an_application_is_pending_with_payout_details_sealed_and_shown_masked() {
    let t = PartnersEnv::new().await;
    let user = t.env.register(&unique_email("applicant")).await;
    let token = Some(user.access_token.as_str());
    let applied = t.call("POST", "/api/partners/apply", Some(application("Acme Labs")), token).await;
    assert_eq!(applied.status, 201, "{:?}", applied.body);
    assert_eq!(applied.body["status"], "pending");
    assert_eq!(applied.body["payout"]["method"], "bank");
    assert_eq!(applied.body["payout"]["details"], "HDFC0001234 ••••7890");
    assert!(!applied.body.to_string().contains("001234567890"), "the account number is never returned");
    let id = applied.body["partner_id"].as_str().expect("id").to_owned();
    // At rest: sealed, not readable in the item.
    let raw: PartnerItem = t.env.store.get(&keys::partner(&id), true).await.expect("read").expect("stored");
    let sealed = raw.payout_sealed.clone().expect("sealed");
    assert!(sealed.starts_with("v1.") && !sealed.contains("001234567890"));
    let details = t.partners.partners.payout_details(&raw).await.expect("opens").expect("details");
    assert_eq!(serde_json::to_value(details).expect("json")["details"]["account_number"], "001234567890");
    // The owner reads it back (masked); one live application per user.
    let mine = t.call("GET", &format!("/api/partners/{id}"), None, token).await;
    assert_eq!((mine.status, mine.body["status"].as_str()), (200, Some("pending")));
    let again = t.call("POST", "/api/partners/apply", Some(application("Acme Labs")), token).await;
    assert_eq!((again.status, again.body["code"].as_str()), (409, Some("partner_exists")));
    // Pending is not yet a partner.
    let draft =
        t.call("POST", "/api/partners/solutions", Some(integration_tests::partners::solution_body("X")), token).await;
    assert_eq!((draft.status, draft.body["code"].as_str()), (403, Some("not_a_partner")));
}

#[tokio::test]
async fn bad_applications_name_their_fields() {
    let t = PartnersEnv::new().await;
    let user = t.env.register(&unique_email("applicant")).await;
    let bad = json!({
        "company": "A", "contact_email": "nope", "website": "http://plain.example", "gstin": "29AAGCB7383J1Z5",
        "payout": {"method": "bank", "details": {"account_name": "Acme", "account_number": "12", "ifsc": "HDFC1234"}}
    });
    let reply = t.call("POST", "/api/partners/apply", Some(bad), Some(&user.access_token)).await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert_eq!(
        fields(&reply),
        ["company", "contact_email", "website", "gstin", "payout.details.account_number", "payout.details.ifsc"]
    );
    let upi = json!({"company": "Acme", "contact_email": "a@b.example", "website": "https://a.example",
                     "payout": {"method": "upi", "details": {"vpa": "not-a-vpa"}}});
    let reply = t.call("POST", "/api/partners/apply", Some(upi), Some(&user.access_token)).await;
    assert_eq!(fields(&reply), ["payout.details.vpa"]);
    let unknown = json!({"company": "Acme", "contact_email": "a@b.example", "website": "https://a.example",
                         "status": "approved", "payout": {"method": "upi", "details": {"vpa": "acme@okaxis"}}});
    let reply = t.call("POST", "/api/partners/apply", Some(unknown), Some(&user.access_token)).await;
    assert_eq!(reply.status, 400, "a caller cannot set its own status: {:?}", reply.body);
    let anonymous = t.call("POST", "/api/partners/apply", Some(application("Acme")), None).await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn an_admin_approves_with_an_audit_record_and_the_user_becomes_a_partner() {
    let t = PartnersEnv::new().await;
    let email = unique_email("applicant");
    let user = t.env.register(&email).await;
    let applied = t.call("POST", "/api/partners/apply", Some(application("Acme Labs")), Some(&user.access_token)).await;
    let id = applied.body["partner_id"].as_str().expect("id").to_owned();
    let admin = Some(t.admin.access_token.as_str());
    let queue = t.call("GET", "/api/admin/partners?status=pending", None, admin).await;
    assert_eq!(queue.status, 200);
    assert!(queue.body["partners"].as_array().expect("list").iter().any(|p| p["partner_id"] == id.as_str()));
    // Users cannot see the queue or decide.
    let peek = t.call("GET", "/api/admin/partners", None, Some(&user.access_token)).await;
    assert_eq!(peek.status, 403);
    let self_approve =
        t.call("POST", &format!("/api/admin/partners/{id}/approve"), None, Some(&user.access_token)).await;
    assert_eq!(self_approve.status, 403);
    let approved =
        t.call("POST", &format!("/api/admin/partners/{id}/approve"), Some(json!({"commission_bp": 1500})), admin).await;
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    assert_eq!(
        (approved.body["status"].as_str(), approved.body["commission_bp"].as_u64()),
        (Some("approved"), Some(1500))
    );
    let twice = t.call("POST", &format!("/api/admin/partners/{id}/reject"), Some(json!({"reason": "x"})), admin).await;
    assert_eq!((twice.status, twice.body["code"].as_str()), (409, Some("partner_not_pending")));
    let trail = t.env.store.audit_trail(&format!("partner#{id}")).await.expect("audit");
    assert_eq!(trail.len(), 1);
    assert_eq!((trail[0].kind.as_str(), trail[0].actor.as_str()), ("partner.approved", t.admin.user_id.as_str()));
    // The account's role is partner from the next sign-in; partner routes work at once.
    let session = t.env.login(&email).await;
    let claims = t.env.keys().verify(
        &session.access_token,
        shared::identity::jwt::Expect {
            kinds: &[shared::model::TokenKind::Access],
            audience: None,
            allow_expired: false,
        },
    );
    assert_eq!(claims.expect("claims").role, Some(shared::model::Role::Partner));
    let draft = t
        .call(
            "POST",
            "/api/partners/solutions",
            Some(integration_tests::partners::solution_body("Search API")),
            Some(&user.access_token),
        )
        .await;
    assert_eq!(draft.status, 201, "{:?}", draft.body);
}

#[tokio::test]
async fn a_rejection_needs_a_reason_and_the_applicant_may_apply_again() {
    let t = PartnersEnv::new().await;
    let user = t.env.register(&unique_email("applicant")).await;
    let token = Some(user.access_token.as_str());
    let admin = Some(t.admin.access_token.as_str());
    let applied = t.call("POST", "/api/partners/apply", Some(application("Acme Labs")), token).await;
    let id = applied.body["partner_id"].as_str().expect("id").to_owned();
    let no_reason = t.call("POST", &format!("/api/admin/partners/{id}/reject"), None, admin).await;
    assert_eq!((no_reason.status, fields(&no_reason)), (400, vec!["reason".to_owned()]));
    let rejected =
        t.call("POST", &format!("/api/admin/partners/{id}/reject"), Some(json!({"reason": "no website"})), admin).await;
    assert_eq!(rejected.status, 200);
    assert_eq!(
        (rejected.body["status"].as_str(), rejected.body["decision_reason"].as_str()),
        (Some("rejected"), Some("no website"))
    );
    let trail = t.env.store.audit_trail(&format!("partner#{id}")).await.expect("audit");
    assert_eq!((trail.len(), trail[0].reason.as_deref()), (1, Some("no website")));
    let again = t.call("POST", "/api/partners/apply", Some(application("Acme Labs")), token).await;
    assert_eq!(again.status, 201, "{:?}", again.body);
    assert_ne!(again.body["partner_id"], id.as_str());
    let unknown = t.call("POST", "/api/admin/partners/prt_00000000000000000000000000/approve", None, admin).await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn an_unverified_address_cannot_apply_until_verified() {
    let t = PartnersEnv::new().await;
    let (user, link) = t.env.register_unverified(&unique_email("applicant")).await;
    let token = Some(user.access_token.as_str());
    let refused = t.call("POST", "/api/partners/apply", Some(application("Acme Labs")), token).await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (403, Some("email_not_verified")),
        "{:?}",
        refused.body
    );
    assert_eq!(refused.content_type(), "application/problem+json");
    let link_item: Option<serde_json::Value> =
        t.env.store.get(&keys::user_partner(&user.user_id), true).await.expect("read");
    assert!(link_item.is_none(), "no application was recorded");
    t.env.verify_email(&link).await;
    let applied = t.call("POST", "/api/partners/apply", Some(application("Acme Labs")), token).await;
    assert_eq!(applied.status, 201, "{:?}", applied.body);
}
