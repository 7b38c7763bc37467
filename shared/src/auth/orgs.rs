//! Organizations and their members: create, rename, list mine, get; members listed, roles changed, members
//! removed or leaving, ownership transferred. Every user has a personal organization (made at registration,
//! on first use for accounts older than organizations, or by the `billing` job `migrate-orgs`) whose customer
//! is the user's own account, so nothing a user had before organizations changes.
//!
//! Rules: owners manage billing, members and ownership; admins manage members other than owners; members
//! use the organization's solutions. The organization's counts of members and owners move in the same
//! transaction as each membership, so the last owner can neither leave, be removed nor be demoted.

use super::AuthService;
use super::accounts;
use crate::identity::Principal;
use crate::identity::orgs::{OrgAccess, member_of};
use crate::model::{OrgKind, OrgRole};
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, FieldError, codes};
use crate::platform::ids;
use crate::store::Store;
use crate::store::orgs::{MembershipItem, MembershipRefusal, OrgItem, PersonalOrgItem};
use crate::store::users::UserItem;
use serde::{Deserialize, Serialize};

/// The name a personal organization gets.
pub const PERSONAL_ORG_NAME: &str = "Personal";
const MAX_NAME: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgRequest {
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    pub role: OrgRole,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// The member who becomes an owner.
    pub user_id: String,
    /// What the caller becomes (`admin` unless given; `owner` keeps the caller an owner too).
    #[serde(default)]
    pub new_role: Option<OrgRole>,
}

/// An organization as its member sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgView {
    pub org_id: String,
    pub name: String,
    pub kind: OrgKind,
    /// The customer id its usage, quotas and subscriptions are under (the user's own id for a personal
    /// organization, the organization's id otherwise).
    pub customer_id: String,
    /// The caller's role.
    pub role: OrgRole,
    pub member_count: u32,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<String>,
}

impl OrgView {
    pub fn new(org: &OrgItem, role: OrgRole) -> Self {
        Self {
            org_id: org.org_id.clone(),
            name: org.name.clone(),
            kind: org.kind,
            customer_id: org.customer_id.clone(),
            role,
            member_count: org.member_count,
            created_at: org.created_at.clone(),
            partner_id: org.partner_id.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgList {
    pub orgs: Vec<OrgView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberView {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: OrgRole,
    pub joined_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberList {
    pub org_id: String,
    pub members: Vec<MemberView>,
}

fn org_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::field("name", format!("must be 1 to {MAX_NAME} printable characters")));
    }
    Ok(name.to_owned())
}

fn owner_only(r: OrgRole) -> bool {
    r == OrgRole::Owner
}

pub(super) fn personal_org() -> ApiError {
    ApiError::conflict(
        codes::PERSONAL_ORG,
        "a personal organization has one member, its user: create a team organization",
    )
}

pub(super) fn invitation_closed() -> ApiError {
    ApiError::conflict(codes::INVITATION_CLOSED, "this invitation was accepted or revoked, or it has expired")
}

fn last_owner() -> ApiError {
    ApiError::conflict(codes::LAST_OWNER, "the organization would have no owner left: transfer ownership first")
}

fn member_not_found() -> ApiError {
    let mut e = ApiError::not_found(codes::MEMBER_NOT_FOUND, "this user is not a member of the organization");
    e.errors = vec![FieldError::new("user_id", "is not a member of the organization")];
    e
}

pub(super) fn refused(r: MembershipRefusal) -> ApiError {
    match r {
        MembershipRefusal::LastOwner => last_owner(),
        MembershipRefusal::AlreadyMember => {
            ApiError::conflict(codes::ALREADY_MEMBER, "you are a member of this organization already")
        }
        MembershipRefusal::InvitationClosed => invitation_closed(),
        MembershipRefusal::Changed => {
            ApiError::conflict(codes::CONCURRENT_UPDATE, "the membership changed meanwhile: read it again")
        }
    }
}

/// A role only a partner organization gives, asked of another kind (400 naming `field`).
pub(super) fn check_role_fits(org: &OrgItem, role: OrgRole, field: &str) -> Result<(), ApiError> {
    if role.is_partner_only() && org.kind != OrgKind::Partner {
        return Err(ApiError::field(field, "developer and finance are roles of partner organizations"));
    }
    Ok(())
}

impl AuthService {
    /// The items that give a new account its personal organization (committed with the account).
    pub(super) fn personal_org_items(
        &self,
        user_id: &str,
    ) -> Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>, ApiError> {
        let (guard, org, owner) = self.personal_org_of(user_id);
        Ok(self.store.tx_personal_org(&guard, &org, &owner)?)
    }

    fn personal_org_of(&self, user_id: &str) -> (PersonalOrgItem, OrgItem, MembershipItem) {
        personal_org_items(user_id, &rfc3339(self.clock.now()))
    }

    /// The user's personal organization, made now when the account predates organizations (see
    /// [`ensure_personal_org`]). `true` when this call made it.
    pub async fn ensure_personal_org(&self, user_id: &str) -> Result<bool, ApiError> {
        ensure_personal_org(&self.store, user_id, &rfc3339(self.clock.now())).await
    }

    /// `POST /api/orgs`: a team organization with the caller as its owner.
    pub async fn create_org(&self, caller: &Principal, req: OrgRequest) -> Result<OrgView, ApiError> {
        let name = org_name(&req.name)?;
        let now = rfc3339(self.clock.now());
        let org_id = ids::org_id();
        let org = OrgItem::new(&org_id, &name, OrgKind::Team, &caller.user_id, now.clone());
        let owner = MembershipItem::new(&org_id, &caller.user_id, OrgRole::Owner, now, None);
        self.store.create_org(&org, &owner).await?;
        tracing::info!(org_id = %org_id, user_id = %caller.user_id, "organization created");
        Ok(OrgView::new(&org, OrgRole::Owner))
    }

    /// `GET /api/orgs`: the caller's organizations (the personal one first), with the caller's role in each.
    pub async fn list_orgs(&self, caller: &Principal) -> Result<OrgList, ApiError> {
        self.ensure_personal_org(&caller.user_id).await?;
        let mut orgs: Vec<OrgView> = crate::identity::orgs::memberships(&self.store, &caller.user_id)
            .await?
            .iter()
            .map(|(m, org)| OrgView::new(org, m.role))
            .collect();
        orgs.sort_by_key(|o| o.kind != OrgKind::Personal);
        Ok(OrgList { orgs })
    }

    /// The organization, if the caller is a member (404 otherwise).
    pub async fn org_access(&self, caller: &Principal, org_id: &str) -> Result<OrgAccess, ApiError> {
        member_of(&self.store, org_id, &caller.user_id).await
    }

    /// `GET /api/orgs/{org_id}`.
    pub async fn get_org(&self, caller: &Principal, org_id: &str) -> Result<OrgView, ApiError> {
        let access = self.org_access(caller, org_id).await?;
        Ok(OrgView::new(&access.org, access.role()))
    }

    /// `PATCH /api/orgs/{org_id}`: rename (owners).
    pub async fn rename_org(&self, caller: &Principal, org_id: &str, req: OrgRequest) -> Result<OrgView, ApiError> {
        let access = self.org_access(caller, org_id).await?;
        access.require(owner_only, "rename the organization")?;
        let name = org_name(&req.name)?;
        self.store.rename_org(org_id, &name, &rfc3339(self.clock.now())).await?;
        let mut org = access.org.clone();
        org.name = name;
        Ok(OrgView::new(&org, access.role()))
    }

    /// `GET /api/orgs/{org_id}/members` (any member).
    pub async fn list_members(&self, caller: &Principal, org_id: &str) -> Result<MemberList, ApiError> {
        self.org_access(caller, org_id).await?;
        let members = self.store.org_members(org_id).await?;
        let mut out = Vec::with_capacity(members.len());
        for chunk in members.chunks(100) {
            let wanted: Vec<_> = chunk.iter().map(|m| crate::store::keys::user(&m.user_id)).collect();
            let mut found = self.store.batch_get(&wanted, false).await?;
            for (m, k) in chunk.iter().zip(&wanted) {
                let user: Option<UserItem> = crate::store::take(&mut found, k)?;
                let (email, name) = user.map(|u| (u.email, u.name)).unwrap_or_default();
                out.push(MemberView {
                    user_id: m.user_id.clone(),
                    email,
                    name,
                    role: m.role,
                    joined_at: m.joined_at.clone(),
                });
            }
        }
        out.sort_by(|a, b| a.joined_at.cmp(&b.joined_at));
        Ok(MemberList { org_id: org_id.to_owned(), members: out })
    }

    /// The target member of a management action (404 `member_not_found`).
    async fn target_member(&self, org_id: &str, user_id: &str) -> Result<MembershipItem, ApiError> {
        if !ids::is_valid("usr", user_id) {
            return Err(ApiError::field("user_id", "must be a usr_ id"));
        }
        self.store.get_membership(org_id, user_id).await?.ok_or_else(member_not_found)
    }

    /// `PUT /api/orgs/{org_id}/members/{user_id}`: change a member's role. Admins manage members other than
    /// owners; only an owner makes or unmakes an owner.
    pub async fn set_member_role(
        &self,
        caller: &Principal,
        org_id: &str,
        user_id: &str,
        req: RoleRequest,
    ) -> Result<MemberView, ApiError> {
        let access = self.org_access(caller, org_id).await?;
        access.require(OrgRole::manages_members, "change members' roles")?;
        if access.org.kind == OrgKind::Personal {
            return Err(personal_org());
        }
        check_role_fits(&access.org, req.role, "role")?;
        let target = self.target_member(org_id, user_id).await?;
        if target.role == OrgRole::Owner || req.role == OrgRole::Owner {
            access.require(owner_only, "make or unmake an owner")?;
        }
        if target.role != req.role {
            self.store.change_role(&target, req.role).await?.map_err(refused)?;
            tracing::info!(org_id, user_id, role = req.role.as_str(), by = %caller.user_id, "member role changed");
        }
        let user = self.store.get_user(user_id).await?;
        Ok(MemberView {
            user_id: user_id.to_owned(),
            email: user.as_ref().map(|u| u.email.clone()).unwrap_or_default(),
            name: user.map(|u| u.name).unwrap_or_default(),
            role: req.role,
            joined_at: target.joined_at,
        })
    }

    /// `DELETE /api/orgs/{org_id}/members/{user_id}`: a member leaves (their own id) or is removed (by an
    /// admin, or by an owner when the member is an owner). The last owner cannot go.
    pub async fn remove_member(&self, caller: &Principal, org_id: &str, user_id: &str) -> Result<(), ApiError> {
        let access = self.org_access(caller, org_id).await?;
        if access.org.kind == OrgKind::Personal {
            return Err(personal_org());
        }
        let target = if user_id == caller.user_id {
            access.membership.clone()
        } else {
            access.require(OrgRole::manages_members, "remove members")?;
            let target = self.target_member(org_id, user_id).await?;
            if target.role == OrgRole::Owner {
                access.require(owner_only, "remove an owner")?;
            }
            target
        };
        self.store.remove_member(&target).await?.map_err(refused)?;
        tracing::info!(org_id, user_id, by = %caller.user_id, "member removed");
        Ok(())
    }

    /// `POST /api/orgs/{org_id}/transfer-ownership` (owners): another member becomes an owner and the caller
    /// `new_role` (admin by default), at once.
    pub async fn transfer_ownership(
        &self,
        caller: &Principal,
        org_id: &str,
        req: TransferRequest,
    ) -> Result<OrgView, ApiError> {
        let access = self.org_access(caller, org_id).await?;
        access.require(owner_only, "transfer ownership")?;
        if access.org.kind == OrgKind::Personal {
            return Err(personal_org());
        }
        let becomes = req.new_role.unwrap_or(OrgRole::Admin);
        check_role_fits(&access.org, becomes, "new_role")?;
        if req.user_id == caller.user_id {
            return Err(ApiError::field("user_id", "must be another member"));
        }
        let target = self.target_member(org_id, &req.user_id).await?;
        self.store.transfer_ownership(&access.membership, becomes, &target).await?.map_err(refused)?;
        tracing::info!(org_id, to = %req.user_id, by = %caller.user_id, "ownership transferred");
        Ok(OrgView::new(&access.org, becomes))
    }
}

fn personal_org_items(user_id: &str, now: &str) -> (PersonalOrgItem, OrgItem, MembershipItem) {
    let org_id = ids::org_id();
    let org = OrgItem::new(&org_id, PERSONAL_ORG_NAME, OrgKind::Personal, user_id, now.to_owned());
    let owner = MembershipItem::new(&org_id, user_id, OrgRole::Owner, now.to_owned(), None);
    (PersonalOrgItem::new(user_id, &org_id), org, owner)
}

/// A user's personal organization, made unless the user has one (rerun-safe: the guard item makes exactly one,
/// whoever races). `true` when this call made it.
pub async fn ensure_personal_org(store: &Store, user_id: &str, now: &str) -> Result<bool, ApiError> {
    if store.personal_org_id(user_id).await?.is_some() {
        return Ok(false);
    }
    let (guard, org, owner) = personal_org_items(user_id, now);
    Ok(store.create_personal_org(&guard, &org, &owner).await?)
}

/// What the personal-organization migration did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationReport {
    /// Accounts looked at.
    pub users: u64,
    /// Personal organizations made (0 on a rerun).
    pub created: u64,
    /// Partners looked at, and their organizations made.
    pub partners: u64,
    pub partner_orgs_created: u64,
    /// Every account was looked at (false: the time ran out; run it again).
    pub complete: bool,
}

/// Give every account that predates organizations its personal organization (the `billing` job
/// `migrate-orgs`). Rerun-safe: an account that has one is skipped; a run cut short is simply run again.
pub async fn migrate_personal_orgs(
    store: &Store,
    now: &str,
    has_time: &(dyn Fn() -> bool + Sync),
) -> Result<MigrationReport, ApiError> {
    let mut report = MigrationReport::default();
    let mut start = None;
    loop {
        if !has_time() {
            return Ok(report);
        }
        let (users, next) = store.user_ids_page(start.take(), 100).await?;
        for user in users {
            report.users += 1;
            if ensure_personal_org(store, &user, now).await? {
                report.created += 1;
            }
        }
        match next {
            Some(k) => start = Some(k),
            None => {
                report.complete = true;
                tracing::info!(users = report.users, created = report.created, "personal organizations migrated");
                return Ok(report);
            }
        }
    }
}

/// A normalised address, 400 naming `email` otherwise.
pub(super) fn invitee_email(raw: &str) -> Result<String, ApiError> {
    accounts::normalize_email(raw).map_err(|e| ApiError::validation(vec![e]))
}
