//! Who a caller is in an organization: membership and role checks every capability uses before it reads or
//! writes an organization's data. A caller who is not a member learns nothing: another organization's id
//! answers exactly as an unknown one (404 `org_not_found`).

use crate::model::OrgRole;
use crate::platform::error::{ApiError, FieldError, codes};
use crate::store::Store;
use crate::store::orgs::{MembershipItem, OrgItem};

/// An organization and the caller's membership of it.
#[derive(Debug, Clone)]
pub struct OrgAccess {
    pub org: OrgItem,
    pub membership: MembershipItem,
}

impl OrgAccess {
    pub fn role(&self) -> OrgRole {
        self.membership.role
    }

    /// 403 `org_role_required` unless the caller's role passes `allowed` (see [`role_required`]).
    pub fn require(&self, allowed: fn(OrgRole) -> bool, action: &str) -> Result<&Self, ApiError> {
        role_required(self.role(), allowed, action)?;
        Ok(self)
    }
}

/// 403 `org_role_required` unless `role` passes `allowed`; `required_roles` names the roles that do.
pub fn role_required(role: OrgRole, allowed: fn(OrgRole) -> bool, action: &str) -> Result<(), ApiError> {
    if allowed(role) {
        return Ok(());
    }
    let roles: Vec<serde_json::Value> =
        OrgRole::ALL.iter().filter(|r| allowed(**r)).map(|r| r.as_str().into()).collect();
    Err(ApiError::new(
        403,
        codes::ORG_ROLE_REQUIRED,
        "Forbidden",
        format!("your role in this organization ({}) does not allow you to {action}", role.as_str()),
    )
    .with_extension("required_roles", roles.into()))
}

/// A user's memberships with their organizations (oldest membership first).
pub async fn memberships(store: &Store, user_id: &str) -> Result<Vec<(MembershipItem, OrgItem)>, ApiError> {
    let memberships = store.user_memberships(user_id).await?;
    let mut out = Vec::with_capacity(memberships.len());
    for chunk in memberships.chunks(100) {
        let ids: Vec<String> = chunk.iter().map(|m| m.org_id.clone()).collect();
        let found = store.orgs(&ids).await?;
        for m in chunk {
            if let Some(org) = found.iter().find(|o| o.org_id == m.org_id) {
                out.push((m.clone(), org.clone()));
            }
        }
    }
    Ok(out)
}

pub fn org_not_found() -> ApiError {
    let mut e = ApiError::not_found(codes::ORG_NOT_FOUND, "no organization with this id has you as a member");
    e.errors = vec![FieldError::new("org_id", "no organization with this id has you as a member")];
    e
}

/// 401 `revoked`: a solution token (or its refresh token) acting for an organization the user has left.
pub fn no_longer_member() -> ApiError {
    ApiError::unauthorized_code(codes::REVOKED, "the token's user is no longer a member of its organization")
}

/// 400 naming `field` unless `org_id` is one of ours.
pub fn check_org_id(field: &str, org_id: &str) -> Result<(), ApiError> {
    if crate::platform::ids::is_valid("org", org_id) {
        Ok(())
    } else {
        Err(ApiError::field(field, "must be an org_ id"))
    }
}

/// The organization and the caller's membership (consistent reads, one request): 404 `org_not_found` when
/// there is no such organization or the caller is not a member of it.
pub async fn member_of(store: &Store, org_id: &str, user_id: &str) -> Result<OrgAccess, ApiError> {
    check_org_id("org_id", org_id)?;
    match store.org_and_membership(org_id, user_id).await? {
        (Some(org), Some(membership)) => Ok(OrgAccess { org, membership }),
        _ => Err(org_not_found()),
    }
}

/// Where a customer's mail and invoices go: a user's own name and address; for an organization, its name and
/// the address of its longest-standing owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub name: String,
    pub email: String,
    pub email_verified: bool,
}

pub async fn contact(store: &Store, customer_id: &str) -> Result<Option<Contact>, ApiError> {
    if !crate::store::keys::is_org(customer_id) {
        return Ok(store.get_user(customer_id).await?.map(|u| Contact {
            name: u.name,
            email: u.email,
            email_verified: u.email_verified,
        }));
    }
    let Some(org) = store.get_org(customer_id).await? else {
        return Ok(None);
    };
    let mut owners: Vec<MembershipItem> =
        store.org_members(customer_id).await?.into_iter().filter(|m| m.role == OrgRole::Owner).collect();
    owners.sort_by(|a, b| a.joined_at.cmp(&b.joined_at));
    let Some(owner) = owners.first() else {
        return Ok(None);
    };
    Ok(store.get_user(&owner.user_id).await?.map(|u| Contact {
        name: org.name,
        email: u.email,
        email_verified: u.email_verified,
    }))
}
