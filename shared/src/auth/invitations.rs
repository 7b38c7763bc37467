//! Invitations to an organization: sent by email through the outbox, single use, valid for seven days,
//! revocable; accepted by the user who signs in with the invited address, verified (the mail carries no
//! secret: the invitation id only leads the invitee to sign in).

use super::AuthService;
use super::orgs::{check_role_fits, invitation_closed as closed, invitee_email, personal_org};
use crate::identity::Principal;
use crate::model::{OrgKind, OrgRole};
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, FieldError, codes};
use crate::platform::ids;
use crate::store::orgs::{InvitationItem, InvitationStatus, MembershipItem};
use crate::store::outbox::NotificationItem;
use chrono::DateTime;
use serde::{Deserialize, Serialize};

/// How long an invitation can be accepted.
pub const VALID_SECONDS: i64 = 7 * 86_400;
/// How long a closed or expired invitation stays listed.
const KEPT_SECONDS: i64 = 30 * 86_400;
/// The outbox kind of an invitation mail (sent to the invited address, which may have no account yet).
pub const NOTIFICATION_KIND: &str = "org_invitation";
/// Invitations listed per page, at most.
const MAX_PAGE: i32 = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    pub email: String,
    /// `member` unless given.
    #[serde(default)]
    pub role: Option<OrgRole>,
}

/// What became of an invitation (`expired`: still pending past its validity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InvitationState {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvitationView {
    pub invitation_id: String,
    pub org_id: String,
    pub org_name: String,
    pub email: String,
    pub role: OrgRole,
    pub status: InvitationState,
    pub invited_by: String,
    pub created_at: String,
    pub expires_at: String,
}

impl InvitationView {
    pub fn new(i: &InvitationItem, now: i64) -> Self {
        let status = match i.status {
            InvitationStatus::Pending if i.valid_until <= now => InvitationState::Expired,
            InvitationStatus::Pending => InvitationState::Pending,
            InvitationStatus::Accepted => InvitationState::Accepted,
            InvitationStatus::Revoked => InvitationState::Revoked,
        };
        Self {
            invitation_id: i.invitation_id.clone(),
            org_id: i.org_id.clone(),
            org_name: i.org_name.clone(),
            email: i.email.clone(),
            role: i.role,
            status,
            invited_by: i.invited_by.clone(),
            created_at: i.created_at.clone(),
            expires_at: DateTime::from_timestamp(i.valid_until, 0).map(rfc3339).unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvitationList {
    pub invitations: Vec<InvitationView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// The outcome of an invitation request: a new invitation, or the pending one the address has already.
pub struct Invited {
    pub invitation: InvitationView,
    pub created: bool,
}

fn not_found() -> ApiError {
    let mut e = ApiError::not_found(codes::INVITATION_NOT_FOUND, "no such invitation");
    e.errors = vec![FieldError::new("invitation_id", "no such invitation")];
    e
}

fn check_invitation_id(id: &str) -> Result<(), ApiError> {
    if ids::is_valid("ivt", id) { Ok(()) } else { Err(ApiError::field("invitation_id", "must be an ivt_ id")) }
}

/// The outbox id of an invitation's mail.
pub fn notification_id(invitation_id: &str) -> String {
    format!("org-invitation:{invitation_id}")
}

impl AuthService {
    /// `POST /api/orgs/{org_id}/invitations` (owners and admins; only an owner invites an owner). An address
    /// with a pending invitation for the same role gets that one back (200; for another role the pending one is
    /// revoked and a new one sent); a member's address is 409 `already_member`.
    pub async fn invite(&self, caller: &Principal, org_id: &str, req: InviteRequest) -> Result<Invited, ApiError> {
        let access = self.org_access(caller, org_id).await?;
        access.require(OrgRole::manages_members, "invite members")?;
        if access.org.kind == OrgKind::Personal {
            return Err(personal_org());
        }
        let role = req.role.unwrap_or(OrgRole::Member);
        check_role_fits(&access.org, role, "role")?;
        if role == OrgRole::Owner {
            access.require(|r| r == OrgRole::Owner, "invite an owner")?;
        }
        let email = invitee_email(&req.email)?;
        let now = self.clock.now();
        if let Some(user_id) = self.store.user_id_by_email(&email).await?
            && self.store.get_membership(org_id, &user_id).await?.is_some()
        {
            let mut e = ApiError::conflict(codes::ALREADY_MEMBER, "this address belongs to a member already");
            e.errors = vec![FieldError::new("email", "belongs to a member already")];
            return Err(e);
        }
        let pending =
            self.store.invitations_to(&email).await?.into_iter().find(|i| {
                i.org_id == org_id && i.status == InvitationStatus::Pending && i.valid_until > now.timestamp()
            });
        if let Some(existing) = pending {
            if existing.role == role {
                return Ok(Invited { invitation: InvitationView::new(&existing, now.timestamp()), created: false });
            }
            // Another role asked for: the pending invitation gives way to a new one (and a new mail).
            self.store
                .revoke_invitation(&existing.invitation_id, &caller.user_id, &rfc3339(now), now.timestamp())
                .await?;
        }
        // Each invitation mails an address nobody has proven: a day's number is limited per organization.
        crate::identity::throttle::admit_subject(
            &self.store,
            crate::identity::throttle::INVITATIONS_PER_ORG,
            org_id,
            now.timestamp(),
        )
        .await?;
        let id = ids::invitation_id();
        let valid_until = now.timestamp() + VALID_SECONDS;
        let invitation = InvitationItem::new(
            &id,
            &access.org,
            &email,
            role,
            &caller.user_id,
            rfc3339(now),
            valid_until,
            valid_until + KEPT_SECONDS,
        );
        let mail = NotificationItem::new(
            &notification_id(&id),
            NOTIFICATION_KIND,
            org_id,
            None,
            serde_json::json!({
                "email": email,
                "invitation_id": id,
                "org_name": access.org.name,
                "role": role.as_str(),
                "invited_by": caller.email,
                "expires_at": valid_until,
            }),
            rfc3339(now),
        );
        self.store.transact(vec![self.store.tx_put_new(&invitation)?, self.store.tx_put_new(&mail)?]).await?;
        tracing::info!(org_id, invitation_id = %id, by = %caller.user_id, "invitation sent");
        Ok(Invited { invitation: InvitationView::new(&invitation, now.timestamp()), created: true })
    }

    /// `GET /api/orgs/{org_id}/invitations` (owners and admins), newest first.
    pub async fn org_invitations(
        &self,
        caller: &Principal,
        org_id: &str,
        limit: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<InvitationList, ApiError> {
        let access = self.org_access(caller, org_id).await?;
        access.require(OrgRole::manages_members, "see invitations")?;
        let limit = match limit {
            None => 50,
            Some(raw) => raw
                .parse::<i32>()
                .ok()
                .filter(|n| (1..=MAX_PAGE).contains(n))
                .ok_or_else(|| ApiError::field("limit", format!("must be an integer from 1 to {MAX_PAGE}")))?,
        };
        let (items, cursor) = self
            .store
            .org_invitations_page(org_id, limit, cursor)
            .await?
            .map_err(|()| ApiError::field("cursor", "is not a cursor of this list"))?;
        let now = self.clock.now().timestamp();
        Ok(InvitationList { invitations: items.iter().map(|i| InvitationView::new(i, now)).collect(), cursor })
    }

    /// `DELETE /api/orgs/{org_id}/invitations/{invitation_id}` (owners and admins): 409 when no longer pending.
    pub async fn revoke_invitation(
        &self,
        caller: &Principal,
        org_id: &str,
        invitation_id: &str,
    ) -> Result<(), ApiError> {
        let access = self.org_access(caller, org_id).await?;
        access.require(OrgRole::manages_members, "revoke invitations")?;
        check_invitation_id(invitation_id)?;
        let invitation = self.store.get_invitation(invitation_id).await?.filter(|i| i.org_id == org_id);
        if invitation.is_none() {
            return Err(not_found());
        }
        let now = self.clock.now();
        if !self.store.revoke_invitation(invitation_id, &caller.user_id, &rfc3339(now), now.timestamp()).await? {
            return Err(closed());
        }
        tracing::info!(org_id, invitation_id, by = %caller.user_id, "invitation revoked");
        Ok(())
    }

    /// The caller's verified address (403 `email_not_verified` otherwise).
    async fn verified_email(&self, caller: &Principal) -> Result<String, ApiError> {
        let user = self.store.get_user(&caller.user_id).await?.ok_or_else(|| ApiError::unauthorized("no such user"))?;
        if !user.email_verified {
            return Err(crate::auth::verification::not_verified());
        }
        Ok(user.email)
    }

    /// `GET /api/invitations`: the pending invitations to the caller's verified address.
    pub async fn my_invitations(&self, caller: &Principal) -> Result<InvitationList, ApiError> {
        let email = self.verified_email(caller).await?;
        let now = self.clock.now().timestamp();
        let invitations = self
            .store
            .invitations_to(&email)
            .await?
            .iter()
            .map(|i| InvitationView::new(i, now))
            .filter(|v| v.status == InvitationState::Pending)
            .collect();
        Ok(InvitationList { invitations, cursor: None })
    }

    /// `POST /api/invitations/{invitation_id}/accept`: the caller joins, when the invitation is pending and
    /// for the caller's verified address.
    pub async fn accept_invitation(
        &self,
        caller: &Principal,
        invitation_id: &str,
    ) -> Result<super::orgs::OrgView, ApiError> {
        check_invitation_id(invitation_id)?;
        let email = self.verified_email(caller).await?;
        let invitation = self.store.get_invitation(invitation_id).await?.ok_or_else(not_found)?;
        if invitation.email != email {
            return Err(ApiError::new(
                403,
                codes::INVITATION_EMAIL_MISMATCH,
                "Forbidden",
                "this invitation is for another address: sign in with the address it was sent to",
            ));
        }
        let now = self.clock.now();
        if invitation.status != InvitationStatus::Pending || invitation.valid_until <= now.timestamp() {
            return Err(closed());
        }
        let member = MembershipItem::new(
            &invitation.org_id,
            &caller.user_id,
            invitation.role,
            rfc3339(now),
            Some(invitation_id),
        );
        self.store
            .accept_invitation(&invitation, &member, &rfc3339(now), now.timestamp())
            .await?
            .map_err(super::orgs::refused)?;
        tracing::info!(org_id = %invitation.org_id, invitation_id, user_id = %caller.user_id, "invitation accepted");
        let org = self.store.get_org(&invitation.org_id).await?.ok_or_else(crate::identity::orgs::org_not_found)?;
        Ok(super::orgs::OrgView::new(&org, invitation.role))
    }
}
