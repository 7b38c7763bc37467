//! Partners: applications and admin approval, partner API keys, solutions and their lifecycle, assets and
//! analytics — the use cases behind the `partners` function. Revenue and payouts are `crate::ledger`'s.
//!
//! Who may do what: any signed-in user may apply; an admin decides (with an audit record). The caller's
//! partner is found from the user's record (not from the token's role claim), so an approval takes effect at
//! once. Routes under `/api/partners/{id}` are for that partner's owner (and admins, who may read).

pub mod analytics;
pub mod api_keys;
pub mod applications;
#[cfg(feature = "payments")]
pub mod assets;
pub mod members;
pub mod outbox;
pub mod solutions;

use crate::identity::jwt::KeySet;
use crate::identity::{Principal, authenticate};
use crate::model::{OrgRole, TokenKind};
use crate::platform::clock::Clock;
use crate::platform::deferred::Deferred;
use crate::platform::error::{ApiError, FieldError, codes};
use crate::platform::sealed::Sealer;
use crate::store::Store;
use crate::store::audit::AuditItem;
use crate::store::partners::PartnerItem;
use std::sync::Arc;

pub use crate::model::partner_status::{
    APPROVED as STATUS_APPROVED, PENDING as STATUS_PENDING, REJECTED as STATUS_REJECTED, SUSPENDED as STATUS_SUSPENDED,
};

/// Where solution assets go (the `payments` feature carries the S3 client).
#[cfg(feature = "payments")]
#[derive(Clone)]
pub struct AssetStore {
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    /// How long a presigned upload URL lives.
    pub upload_seconds: u64,
}

#[derive(Clone)]
pub struct PartnerService {
    pub(crate) store: Store,
    keys: Arc<KeySet>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) sealer: Arc<Deferred<Arc<Sealer>>>,
    #[cfg(feature = "payments")]
    pub(crate) assets: Option<AssetStore>,
    /// The platform's Stripe Products and Prices, made when an admin approves tiers (without it, approved
    /// tiers sell on PhonePe only).
    #[cfg(feature = "payments")]
    pub(crate) prices: Option<crate::payments::stripe::prices::PriceBook>,
}

/// The caller of a partner route, with the partners whose organizations it belongs to and its role in each
/// (the partner it applied for first).
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    /// The caller's own partner application (any status; also when its organization has no place for the
    /// caller any more, so the caller still sees what it applied for).
    pub partner: Option<PartnerItem>,
    /// The partners the caller is a member of, with the caller's role.
    pub partners: Vec<(PartnerItem, OrgRole)>,
    /// The client's address (recorded on security events such as API keys made or revoked).
    pub source_ip: Option<String>,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.principal.is_admin()
    }

    /// The caller's role in the partner's organization.
    pub fn role_in(&self, partner_id: &str) -> Option<OrgRole> {
        self.partners.iter().find(|(p, _)| p.partner_id == partner_id).map(|(_, r)| *r)
    }

    /// The caller's approved partner whose organization lets it `action` (`allowed`): the first such (its own
    /// application first); 403 `not_a_partner` without an approved partner, `org_role_required` when its
    /// role does not allow it.
    pub fn approved_partner(&self, allowed: fn(OrgRole) -> bool, action: &str) -> Result<&PartnerItem, ApiError> {
        let approved: Vec<&(PartnerItem, OrgRole)> =
            self.partners.iter().filter(|(p, _)| p.status == STATUS_APPROVED).collect();
        let Some((first, role)) = approved.first() else {
            return Err(not_a_partner());
        };
        match approved.iter().find(|(_, r)| allowed(*r)) {
            Some((p, _)) => Ok(p),
            None => {
                crate::identity::orgs::role_required(*role, allowed, action)?;
                Ok(first)
            }
        }
    }

    /// The caller's role in an approved partner `partner_id`, checked against `allowed` (403 otherwise).
    pub fn approved_role(
        &self,
        partner_id: &str,
        allowed: fn(OrgRole) -> bool,
        action: &str,
    ) -> Result<&PartnerItem, ApiError> {
        let Some((partner, role)) = self.partners.iter().find(|(p, _)| p.partner_id == partner_id) else {
            return Err(ApiError::forbidden("you may only act on your own partner account"));
        };
        if partner.status != STATUS_APPROVED {
            return Err(not_a_partner());
        }
        crate::identity::orgs::role_required(*role, allowed, action)?;
        Ok(partner)
    }
}

pub(crate) fn not_a_partner() -> ApiError {
    ApiError::new(403, codes::NOT_A_PARTNER, "Forbidden", "this needs an approved partner account")
}

pub(crate) fn partner_not_found() -> ApiError {
    let mut e = ApiError::not_found(codes::PARTNER_NOT_FOUND, "no partner with this id");
    e.errors = vec![FieldError::new("id", "no partner with this id")];
    e
}

pub(crate) fn admin_only(caller: &Caller) -> Result<(), ApiError> {
    if caller.is_admin() { Ok(()) } else { Err(ApiError::forbidden("this is for admins only")) }
}

pub(crate) fn now_rfc3339(clock: &dyn Clock) -> String {
    crate::platform::clock::rfc3339(clock.now())
}

/// `limit` query parameter: 1..=100, default 25.
pub fn page_limit(raw: Option<&str>) -> Result<i32, ApiError> {
    match raw {
        None => Ok(25),
        Some(raw) => raw
            .parse::<i32>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| ApiError::field("limit", "must be an integer from 1 to 100")),
    }
}

pub(crate) fn bad_cursor() -> ApiError {
    ApiError::field("cursor", "is not a cursor of this list")
}

/// A trimmed text of `min..=max` characters.
pub(crate) fn text(field: &str, raw: &str, min: usize, max: usize, errors: &mut Vec<FieldError>) -> String {
    let t = raw.trim();
    let n = t.chars().count();
    if n < min || n > max || t.chars().any(|c| c.is_control() && c != '\n') {
        errors.push(FieldError::new(field, format!("must be {min} to {max} characters")));
    }
    t.to_owned()
}

/// An `https://` URL of at most 200 characters.
pub(crate) fn website(field: &str, raw: &str, errors: &mut Vec<FieldError>) -> String {
    let t = raw.trim();
    let ok = t.len() <= 200 && url::Url::parse(t).is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some());
    if !ok {
        errors.push(FieldError::new(field, "must be an https URL of at most 200 characters"));
    }
    t.to_owned()
}

impl PartnerService {
    pub fn new(store: Store, keys: Arc<KeySet>, clock: Arc<dyn Clock>, sealer: Deferred<Arc<Sealer>>) -> Self {
        Self {
            store,
            keys,
            clock,
            sealer: Arc::new(sealer),
            #[cfg(feature = "payments")]
            assets: None,
            #[cfg(feature = "payments")]
            prices: None,
        }
    }

    /// Make Stripe Products and Prices for approved tiers.
    #[cfg(feature = "payments")]
    pub fn with_price_book(mut self, prices: crate::payments::stripe::prices::PriceBook) -> Self {
        self.prices = Some(prices);
        self
    }

    #[cfg(feature = "payments")]
    pub fn with_assets(mut self, assets: AssetStore) -> Self {
        self.assets = Some(assets);
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// A signed-in user (session token), the partner it applied for, and the partners whose organizations it
    /// belongs to (read consistently). The partner it applied for gets its organization now if it has none
    /// yet (the applicant its owner), so partners older than organizations join them on first use.
    /// `source_ip`: the client's address, as the function determined it.
    pub async fn authenticate(&self, bearer: Option<&str>, source_ip: Option<&str>) -> Result<Caller, ApiError> {
        let principal = authenticate(&self.keys, &self.store, bearer, &[TokenKind::Access]).await?;
        let partner = match self.store.get_partner_link(&principal.user_id).await? {
            Some(link) => self.store.get_partner(&link.partner_id).await?,
            None => None,
        };
        if let Some(own) = &partner {
            members::ensure_partner_org(&self.store, own, &now_rfc3339(self.clock.as_ref())).await?;
        }
        let partners = members::partners_of(&self.store, &principal.user_id).await?;
        Ok(Caller { principal, partner, partners, source_ip: source_ip.map(str::to_owned) })
    }

    /// The partner `partner_id` when the caller belongs to its organization (any role, any status of the
    /// partner) or is an admin; 404 for an unknown id, 403 for someone else's.
    pub async fn readable_partner(&self, caller: &Caller, partner_id: &str) -> Result<PartnerItem, ApiError> {
        if let Some((member_of, _)) = caller.partners.iter().find(|(p, _)| p.partner_id == partner_id) {
            return Ok(member_of.clone());
        }
        if !caller.is_admin() {
            return Err(ApiError::forbidden("you may only act on your own partner account"));
        }
        if !crate::platform::ids::is_valid("prt", partner_id) {
            return Err(partner_not_found());
        }
        self.store.get_partner(partner_id).await?.ok_or_else(partner_not_found)
    }

    /// The partner `partner_id` (any status) when the caller's role in its organization lets it `action`, or the
    /// caller is an admin; 403 otherwise (404 for an unknown id, to an admin).
    pub async fn partner_with_role(
        &self,
        caller: &Caller,
        partner_id: &str,
        allowed: fn(OrgRole) -> bool,
        action: &str,
    ) -> Result<PartnerItem, ApiError> {
        if let Some(role) = caller.role_in(partner_id) {
            crate::identity::orgs::role_required(role, allowed, action)?;
        }
        self.readable_partner(caller, partner_id).await
    }

    /// The approved partner `partner_id` whose organization lets the caller `action` (partner writes), or 403.
    pub fn own_approved<'a>(
        &self,
        caller: &'a Caller,
        partner_id: &str,
        allowed: fn(OrgRole) -> bool,
        action: &str,
    ) -> Result<&'a PartnerItem, ApiError> {
        caller.approved_role(partner_id, allowed, action)
    }

    /// The audit record of `event` happening now.
    pub(crate) fn audit(&self, event: crate::audit::Event) -> AuditItem {
        event.at(self.clock.now())
    }
}
