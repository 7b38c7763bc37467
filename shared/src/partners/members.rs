//! A partner is an organization: its members share its solutions, API keys, analytics and revenue by role —
//! owners and admins everything, developers the solutions and API keys, finance the revenue, statements and
//! payouts; every member reads the partner's profile, solutions and analytics. Members are invited and managed
//! through the organization routes (`/api/orgs/{org_id}/…`, the partner's `org_id` is on its profile).

use crate::model::{OrgKind, OrgRole};
use crate::platform::error::ApiError;
use crate::platform::ids;
use crate::store::Store;
use crate::store::orgs::{MembershipItem, OrgItem, PartnerOrgItem};
use crate::store::partners::PartnerItem;

/// The partner's organization, made unless it has one (the applicant its owner; exactly one, whoever races).
/// Its id.
pub async fn ensure_partner_org(store: &Store, partner: &PartnerItem, now: &str) -> Result<String, ApiError> {
    if let Some(org_id) = store.partner_org_id(&partner.partner_id).await? {
        return Ok(org_id);
    }
    let org_id = ids::org_id();
    let mut org = OrgItem::new(&org_id, &partner.company, OrgKind::Partner, &partner.user_id, now.to_owned());
    org.partner_id = Some(partner.partner_id.clone());
    let owner = MembershipItem::new(&org_id, &partner.user_id, OrgRole::Owner, now.to_owned(), None);
    let guard = PartnerOrgItem::new(&partner.partner_id, &org_id);
    if store.create_partner_org(&guard, &org, &owner).await? {
        tracing::info!(partner_id = %partner.partner_id, org_id = %org_id, "partner organization created");
        return Ok(org_id);
    }
    // Another request made it first.
    store.partner_org_id(&partner.partner_id).await?.ok_or_else(|| ApiError::unavailable(1))
}

/// The partners whose organizations the user belongs to, with the user's role in each.
pub async fn partners_of(store: &Store, user_id: &str) -> Result<Vec<(PartnerItem, OrgRole)>, ApiError> {
    let mut out = Vec::new();
    for (m, org) in crate::identity::orgs::memberships(store, user_id).await? {
        let Some(partner_id) = org.partner_id.filter(|_| org.kind == OrgKind::Partner) else {
            continue;
        };
        if let Some(partner) = store.get_partner(&partner_id).await? {
            out.push((partner, m.role));
        }
    }
    Ok(out)
}

/// Give every partner older than organizations its organization (the `billing` job `migrate-orgs`, after
/// the personal organizations). Rerun-safe. `(partners looked at, organizations made, complete)`.
pub async fn migrate_partner_orgs(
    store: &Store,
    now: &str,
    has_time: &(dyn Fn() -> bool + Sync),
) -> Result<(u64, u64, bool), ApiError> {
    let (mut seen, mut made) = (0, 0);
    for status in [
        crate::model::partner_status::PENDING,
        crate::model::partner_status::APPROVED,
        crate::model::partner_status::REJECTED,
        crate::model::partner_status::SUSPENDED,
    ] {
        for partner in store.partners_by_status(status).await? {
            if !has_time() {
                return Ok((seen, made, false));
            }
            seen += 1;
            if store.partner_org_id(&partner.partner_id).await?.is_none() {
                ensure_partner_org(store, &partner, now).await?;
                made += 1;
            }
        }
    }
    Ok((seen, made, true))
}
