//! Partner applications: apply (payout details sealed, only ever shown masked), admin review with an audit
//! record; approval makes the applicant a partner.

use super::{
    Caller, PartnerService, STATUS_APPROVED, STATUS_PENDING, STATUS_REJECTED, admin_only, bad_cursor, now_rfc3339,
    page_limit, partner_not_found, text, website,
};
use crate::audit::{AuditKind, Event, subject};
use crate::auth::accounts;
use crate::gst::Gstin;
use crate::model::Role;
use crate::platform::error::{ApiError, FieldError, codes};
use crate::store::StoreError;
use crate::store::keys;
use crate::store::partners::{PartnerItem, PartnerLinkItem};
use crate::store::users::UserItem;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplyRequest {
    pub company: String,
    pub contact_email: String,
    pub website: String,
    #[serde(default)]
    pub gstin: Option<String>,
    pub payout: Payout,
}

/// How a partner is paid.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "method", content = "details", rename_all = "lowercase", deny_unknown_fields)]
pub enum Payout {
    Bank(BankAccount),
    Upi(UpiAddress),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankAccount {
    pub account_name: String,
    pub account_number: String,
    pub ifsc: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpiAddress {
    pub vpa: String,
}

impl Payout {
    /// Check and normalise; errors name `payout.details.<field>`.
    fn validated(self, errors: &mut Vec<FieldError>) -> Self {
        match self {
            Payout::Bank(b) => {
                let account_name = text("payout.details.account_name", &b.account_name, 2, 100, errors);
                let account_number: String = b.account_number.chars().filter(|c| !c.is_whitespace()).collect();
                if !(9..=18).contains(&account_number.len()) || !account_number.bytes().all(|c| c.is_ascii_digit()) {
                    errors.push(FieldError::new("payout.details.account_number", "must be 9 to 18 digits"));
                }
                let ifsc = b.ifsc.trim().to_ascii_uppercase();
                let i = ifsc.as_bytes();
                let ifsc_ok = i.len() == 11
                    && i[..4].iter().all(u8::is_ascii_uppercase)
                    && i[4] == b'0'
                    && i[5..].iter().all(u8::is_ascii_alphanumeric);
                if !ifsc_ok {
                    errors.push(FieldError::new("payout.details.ifsc", "must be an IFSC code like HDFC0001234"));
                }
                Payout::Bank(BankAccount { account_name, account_number, ifsc })
            }
            Payout::Upi(u) => {
                let vpa = u.vpa.trim().to_owned();
                let ok = vpa.split_once('@').is_some_and(|(name, psp)| {
                    (2..=256).contains(&name.len())
                        && name.bytes().all(|c| c.is_ascii_alphanumeric() || b".-_".contains(&c))
                        && (2..=64).contains(&psp.len())
                        && psp.bytes().all(|c| c.is_ascii_alphabetic())
                });
                if !ok {
                    errors.push(FieldError::new("payout.details.vpa", "must be a UPI address like name@bank"));
                }
                Payout::Upi(UpiAddress { vpa })
            }
        }
    }

    pub fn method(&self) -> &'static str {
        match self {
            Payout::Bank(_) => "bank",
            Payout::Upi(_) => "upi",
        }
    }

    /// What anyone may see: enough to recognise the account, never enough to use it.
    pub fn masked(&self) -> String {
        match self {
            Payout::Bank(b) => {
                let last4: String =
                    b.account_number.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
                format!("{} ••••{last4}", b.ifsc)
            }
            Payout::Upi(u) => match u.vpa.split_once('@') {
                Some((name, psp)) => format!("{}•••@{psp}", name.chars().take(2).collect::<String>()),
                None => "•••".to_owned(),
            },
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    #[serde(default)]
    pub reason: Option<String>,
    /// Approve only: the platform's commission for this partner (basis points), when not the default.
    #[serde(default)]
    pub commission_bp: Option<u32>,
}

/// A partner as its owner and admins see it (payout details masked).
#[derive(Debug, Serialize, Deserialize)]
pub struct PartnerView {
    pub partner_id: String,
    pub user_id: String,
    pub company: String,
    pub contact_email: String,
    pub website: Option<String>,
    pub gstin: Option<String>,
    pub status: String,
    pub payout: PayoutView,
    pub commission_bp: u32,
    pub decision_reason: Option<String>,
    pub decided_at: Option<String>,
    pub created_at: String,
    /// The partner's organization: its members (invited through `/api/orgs/{org_id}/invitations`) share the
    /// partner by role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct PayoutView {
    pub method: Option<String>,
    pub details: Option<String>,
}

impl From<&PartnerItem> for PartnerView {
    fn from(p: &PartnerItem) -> Self {
        Self {
            partner_id: p.partner_id.clone(),
            user_id: p.user_id.clone(),
            company: p.company.clone(),
            contact_email: p.contact_email.clone(),
            website: p.website.clone(),
            gstin: p.gstin.clone(),
            status: p.status.clone(),
            payout: PayoutView { method: p.payout_method.clone(), details: p.payout_masked.clone() },
            commission_bp: p.commission_bp.unwrap_or(crate::money::split::DEFAULT_COMMISSION_BP),
            decision_reason: p.decision_reason.clone(),
            decided_at: p.decided_at.clone(),
            created_at: p.created_at.clone(),
            org_id: None,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct PartnerList {
    pub partners: Vec<PartnerView>,
    pub next_cursor: Option<String>,
}

impl PartnerService {
    /// `POST /api/partners/apply`: a pending application (one live application per user; a rejected
    /// applicant may apply again).
    pub async fn apply(&self, caller: &Caller, req: ApplyRequest) -> Result<PartnerView, ApiError> {
        let mut errors = Vec::new();
        let company = text("company", &req.company, 2, 200, &mut errors);
        let contact_email = accounts::normalize_email(&req.contact_email)
            .map_err(|e| errors.push(FieldError::new("contact_email", e.message)))
            .ok();
        let site = website("website", &req.website, &mut errors);
        let gstin = match req.gstin.as_deref().map(str::trim).filter(|g| !g.is_empty()) {
            None => None,
            Some(g) => match Gstin::parse(g) {
                Ok(g) => Some(g.as_str().to_owned()),
                Err(why) => {
                    errors.push(FieldError::new("gstin", why));
                    None
                }
            },
        };
        let payout = req.payout.validated(&mut errors);
        let (Some(contact_email), true) = (contact_email, errors.is_empty()) else {
            return Err(ApiError::validation(errors));
        };
        // Applying needs a verified address (the applicant's own record, not the token).
        let applicant = Box::pin(self.store.get_user(&caller.principal.user_id)).await?;
        crate::auth::verification::ensure_verified(applicant.as_ref())?;
        let replacing = match &caller.partner {
            Some(p) if p.status == STATUS_REJECTED => Some(p.partner_id.clone()),
            Some(p) => {
                return Err(ApiError::conflict(
                    codes::PARTNER_EXISTS,
                    format!("you already have a partner account ({})", p.status),
                ));
            }
            None => None,
        };
        let partner_id = crate::platform::ids::partner_id();
        let mut item = PartnerItem::new(
            &partner_id,
            &caller.principal.user_id,
            &company,
            &contact_email,
            STATUS_PENDING,
            now_rfc3339(self.clock.as_ref()),
        );
        item.website = Some(site);
        item.gstin = gstin;
        item.payout_method = Some(payout.method().to_owned());
        item.payout_masked = Some(payout.masked());
        let details = serde_json::to_vec(&payout).map_err(ApiError::internal)?;
        item.payout_sealed = Some(self.sealer.get().await?.seal(&details, &partner_id));
        let link = PartnerLinkItem::new(&caller.principal.user_id, &partner_id);
        match self.store.put_application(&item, &link, replacing.as_deref()).await {
            Ok(()) => {}
            Err(StoreError::Conditional { index: Some(0) }) => {
                return Err(ApiError::conflict(codes::PARTNER_EXISTS, "you already have a partner application"));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(partner_id = %partner_id, user_id = %caller.principal.user_id, "partner application received");
        Ok(PartnerView::from(&item))
    }

    /// `GET /api/partners/{id}`: its members or an admin, with the partner's organization.
    pub async fn get(&self, caller: &Caller, partner_id: &str) -> Result<PartnerView, ApiError> {
        let mut view = PartnerView::from(&self.readable_partner(caller, partner_id).await?);
        view.org_id = self.store.partner_org_id(partner_id).await?;
        Ok(view)
    }

    /// `GET /api/admin/partners?status=`: applications to review (admin).
    pub async fn list(
        &self,
        caller: &Caller,
        status: Option<&str>,
        limit: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<PartnerList, ApiError> {
        admin_only(caller)?;
        let status = status.unwrap_or(STATUS_PENDING);
        if ![STATUS_PENDING, STATUS_APPROVED, STATUS_REJECTED, super::STATUS_SUSPENDED].contains(&status) {
            return Err(ApiError::field("status", "must be pending, approved, rejected or suspended"));
        }
        let (items, next_cursor) =
            self.store.partners_page(status, page_limit(limit)?, cursor).await?.map_err(|()| bad_cursor())?;
        Ok(PartnerList { partners: items.iter().map(PartnerView::from).collect(), next_cursor })
    }

    /// `POST /api/admin/partners/{id}/approve`: the applicant becomes a partner (role `partner`).
    pub async fn approve(
        &self,
        caller: &Caller,
        partner_id: &str,
        req: DecisionRequest,
    ) -> Result<PartnerView, ApiError> {
        admin_only(caller)?;
        let mut errors = Vec::new();
        let reason = req.reason.as_deref().map(|r| text("reason", r, 1, 500, &mut errors));
        if req.commission_bp.is_some_and(|bp| bp > 10_000) {
            errors.push(FieldError::new("commission_bp", "must be 0 to 10000 basis points"));
        }
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        self.decide(caller, partner_id, STATUS_APPROVED, reason, req.commission_bp).await
    }

    /// `POST /api/admin/partners/{id}/reject` `{reason}` (required).
    pub async fn reject(
        &self,
        caller: &Caller,
        partner_id: &str,
        req: DecisionRequest,
    ) -> Result<PartnerView, ApiError> {
        admin_only(caller)?;
        let mut errors = Vec::new();
        let reason = text("reason", req.reason.as_deref().unwrap_or(""), 1, 500, &mut errors);
        if req.commission_bp.is_some() {
            errors.push(FieldError::new("commission_bp", "only applies to an approval"));
        }
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        self.decide(caller, partner_id, STATUS_REJECTED, Some(reason), None).await
    }

    async fn decide(
        &self,
        caller: &Caller,
        partner_id: &str,
        status: &str,
        reason: Option<String>,
        commission_bp: Option<u32>,
    ) -> Result<PartnerView, ApiError> {
        if !crate::platform::ids::is_valid("prt", partner_id) {
            return Err(partner_not_found());
        }
        let current = self.store.get_partner(partner_id).await?.ok_or_else(partner_not_found)?;
        if current.status != STATUS_PENDING {
            return Err(ApiError::conflict(
                codes::PARTNER_NOT_PENDING,
                format!("this application was already decided ({})", current.status),
            ));
        }
        let now = now_rfc3339(self.clock.as_ref());
        let mut next = current.clone();
        next.set_status(status);
        next.decision_reason = reason.clone();
        next.decided_by = Some(caller.principal.user_id.clone());
        next.decided_at = Some(now);
        next.commission_bp = commission_bp.or(current.commission_bp);
        next.version = current.version + 1;
        let kind = if status == STATUS_APPROVED { AuditKind::PartnerApproved } else { AuditKind::PartnerRejected };
        let mut event =
            Event::new(kind, &caller.principal.user_id, subject::partner(partner_id)).reason(reason.as_deref());
        if let Some(bp) = commission_bp {
            event = event.detail("commission_bp", bp);
        }
        let audit = self.audit(event);
        let mut items =
            vec![self.store.tx_put_versioned(&next, Some(current.version))?, self.store.tx_put_audit(&audit)?];
        if status == STATUS_APPROVED {
            let user: UserItem = self
                .store
                .get(&keys::user(&current.user_id), true)
                .await?
                .ok_or_else(|| ApiError::internal("partner applicant has no user record"))?;
            let mut user = user;
            // An admin who is also a partner stays an admin.
            if user.role == Role::User {
                user.role = Role::Partner;
            }
            user.partner_id = Some(partner_id.to_owned());
            items.push(self.store.tx_put_existing(&user)?);
        }
        match self.store.transact(items).await {
            Ok(()) => {}
            Err(StoreError::Conditional { .. }) => {
                return Err(ApiError::conflict(codes::CONCURRENT_UPDATE, "the application changed meanwhile; retry"));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(partner_id, status, admin = %caller.principal.user_id, "partner application decided");
        Ok(PartnerView::from(&next))
    }

    /// The partner's payout details, unsealed (for the payout file; never returned by the API).
    pub async fn payout_details(&self, partner: &PartnerItem) -> Result<Option<Payout>, ApiError> {
        let Some(sealed) = &partner.payout_sealed else {
            return Ok(None);
        };
        let plain = self.sealer.get().await?.open(sealed, &partner.partner_id).map_err(ApiError::internal)?;
        serde_json::from_slice(&plain).map(Some).map_err(ApiError::internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payout_details_validate_and_mask() {
        let mut errors = Vec::new();
        let bank = Payout::Bank(BankAccount {
            account_name: " Acme Pvt Ltd ".into(),
            account_number: "0012 3456 7890".into(),
            ifsc: "hdfc0001234".into(),
        })
        .validated(&mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(bank.masked(), "HDFC0001234 ••••7890");
        let upi = Payout::Upi(UpiAddress { vpa: "ravi.k@okhdfc".into() }).validated(&mut errors);
        assert_eq!(upi.masked(), "ra•••@okhdfc");
        let _ =
            Payout::Bank(BankAccount { account_name: "A".into(), account_number: "12ab".into(), ifsc: "XYZ".into() })
                .validated(&mut errors);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["payout.details.account_name", "payout.details.account_number", "payout.details.ifsc"]);
        let v: Result<Payout, _> = serde_json::from_value(serde_json::json!({"method": "cash", "details": {}}));
        assert!(v.is_err());
    }
}
