//! Whom billing acts for: a customer is a user's own account (`usr_…`, the personal organization's) or a team
//! or partner organization (`org_…`). A subscription, its invoices, payments and Stripe customer belong to the
//! customer; its tier applies to every member of an organization. Owners manage an organization's billing
//! (buy, change, cancel, pay); owners and admins read it; members neither.

use crate::identity::Principal;
use crate::identity::orgs::{check_org_id, member_of, role_required};
use crate::model::{OrgKind, OrgRole};
use crate::platform::error::ApiError;
use crate::store::Store;

fn not_yours(what: &str) -> ApiError {
    ApiError::forbidden(format!("you may only {what} your own or your organizations'"))
}

/// The caller's role in the organization `customer_id` names: 403 for another user's id, 404
/// `org_not_found` for an organization the caller is not a member of (as for one that does not exist).
async fn role_in(store: &Store, caller: &Principal, customer_id: &str, what: &str) -> Result<OrgRole, ApiError> {
    if !crate::platform::ids::is_valid("org", customer_id) {
        return Err(not_yours(what));
    }
    match store.get_membership(customer_id, &caller.user_id).await? {
        Some(m) => Ok(m.role),
        None => Err(crate::identity::orgs::org_not_found()),
    }
}

fn reads_billing(r: OrgRole) -> bool {
    r.manages_billing() || r.reads_all_usage()
}

/// The caller may change `customer_id`'s billing: their own account, an organization they own, or any as admin.
pub(crate) async fn may_manage(
    store: &Store,
    caller: &Principal,
    customer_id: &str,
    what: &str,
) -> Result<(), ApiError> {
    if caller.is_admin() || customer_id == caller.user_id {
        return Ok(());
    }
    let role = role_in(store, caller, customer_id, what).await?;
    role_required(role, OrgRole::manages_billing, what)
}

/// The caller may read `customer_id`'s billing: their own, an organization they own or administer, or any
/// as admin.
pub(crate) async fn may_read(store: &Store, caller: &Principal, customer_id: &str, what: &str) -> Result<(), ApiError> {
    if caller.is_admin() || customer_id == caller.user_id {
        return Ok(());
    }
    let role = role_in(store, caller, customer_id, what).await?;
    role_required(role, reads_billing, what)
}

/// The customer a purchase is for: the caller's own account, or the organization `org_id` the caller owns
/// (the caller's personal organization is the caller's own account).
pub(crate) async fn buyer(store: &Store, caller: &Principal, org_id: Option<&str>) -> Result<String, ApiError> {
    let Some(org_id) = org_id else {
        return Ok(caller.user_id.clone());
    };
    check_org_id("org_id", org_id)?;
    let access = member_of(store, org_id, &caller.user_id).await?;
    access.require(OrgRole::manages_billing, "buy for the organization")?;
    Ok(match access.org.kind {
        OrgKind::Personal => caller.user_id.clone(),
        OrgKind::Team | OrgKind::Partner => access.org.customer_id,
    })
}
