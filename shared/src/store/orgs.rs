//! Organizations, their members and invitations.
//!
//! The organization item counts its members and its owners; every change of membership updates those counts
//! in the same transaction as the membership, under conditions, so "the last owner cannot leave, be removed
//! or be demoted" holds under any concurrency (two owners leaving at once: one of them stays).

use super::{Item, Store, StoreError, applied, build_err, classify, from_item, keys};
use crate::model::{OrgKind, OrgRole};
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub org_id: String,
    pub name: String,
    pub kind: OrgKind,
    /// Whose usage, subscriptions and tiers the organization's are: the user's own id for a personal
    /// organization (so everything the user had before organizations is the personal organization's), the
    /// organization's id otherwise.
    pub customer_id: String,
    /// For a partner organization, the partner it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub member_count: u32,
    pub owner_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

impl OrgItem {
    pub fn new(org_id: &str, name: &str, kind: OrgKind, created_by: &str, created_at: String) -> Self {
        let key = keys::org(org_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "org".into(),
            org_id: org_id.into(),
            name: name.into(),
            kind,
            customer_id: if kind == OrgKind::Personal { created_by.into() } else { org_id.into() },
            partner_id: None,
            created_by: created_by.into(),
            created_at,
            member_count: 1,
            owner_count: 1,
            updated_at: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MembershipItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub entity_type: String,
    pub org_id: String,
    pub user_id: String,
    pub role: OrgRole,
    pub joined_at: String,
    /// The invitation the member joined through (none for the creator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation_id: Option<String>,
}

impl MembershipItem {
    pub fn new(org_id: &str, user_id: &str, role: OrgRole, joined_at: String, invitation_id: Option<&str>) -> Self {
        let key = keys::org_member(org_id, user_id);
        let gsi = keys::user_orgs(user_id, &joined_at, org_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: gsi.pk,
            gsi1sk: gsi.sk,
            entity_type: "org_member".into(),
            org_id: org_id.into(),
            user_id: user_id.into(),
            role,
            joined_at,
            invitation_id: invitation_id.map(str::to_owned),
        }
    }
}

/// The guard of a partner's one organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnerOrgItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub partner_id: String,
    pub org_id: String,
}

impl PartnerOrgItem {
    pub fn new(partner_id: &str, org_id: &str) -> Self {
        let key = keys::partner_org(partner_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "partner_org".into(),
            partner_id: partner_id.into(),
            org_id: org_id.into(),
        }
    }
}

/// The guard of a user's one personal organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonalOrgItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub user_id: String,
    pub org_id: String,
}

impl PersonalOrgItem {
    pub fn new(user_id: &str, org_id: &str) -> Self {
        let key = keys::personal_org(user_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "personal_org".into(),
            user_id: user_id.into(),
            org_id: org_id.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Revoked,
}

/// An invitation to join an organization, sent to an address; accepted by the user who signs in with that
/// address, verified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvitationItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    #[serde(rename = "GSI2PK")]
    pub gsi2pk: String,
    #[serde(rename = "GSI2SK")]
    pub gsi2sk: String,
    pub entity_type: String,
    pub invitation_id: String,
    pub org_id: String,
    pub org_name: String,
    /// The normalised address invited.
    pub email: String,
    pub role: OrgRole,
    pub invited_by: String,
    pub created_at: String,
    /// The invitation cannot be accepted from then on (epoch seconds).
    pub valid_until: i64,
    pub status: InvitationStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    /// TTL (epoch seconds): kept a while after it stops being valid, for the listing.
    pub expires_at: i64,
}

impl InvitationItem {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        invitation_id: &str,
        org: &OrgItem,
        email: &str,
        role: OrgRole,
        invited_by: &str,
        created_at: String,
        valid_until: i64,
        kept_until: i64,
    ) -> Self {
        let key = keys::invitation(invitation_id);
        let by_org = keys::org_invitations(&org.org_id, &created_at, invitation_id);
        let (gsi2pk, gsi2sk) = keys::invitee(email, &created_at, invitation_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: by_org.pk,
            gsi1sk: by_org.sk,
            gsi2pk,
            gsi2sk,
            entity_type: "org_invitation".into(),
            invitation_id: invitation_id.into(),
            org_id: org.org_id.clone(),
            org_name: org.name.clone(),
            email: email.into(),
            role,
            invited_by: invited_by.into(),
            created_at,
            valid_until,
            status: InvitationStatus::Pending,
            decided_by: None,
            decided_at: None,
            expires_at: kept_until,
        }
    }
}

/// Why a membership change was refused by its conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipRefusal {
    /// The membership changed since it was read (or is gone): read again.
    Changed,
    /// It would leave the organization without an owner.
    LastOwner,
    /// The invitation is no longer pending or has expired.
    InvitationClosed,
    /// The user is a member already.
    AlreadyMember,
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

impl Store {
    fn tx_named_update(
        &self,
        key: &keys::Key,
        update: &str,
        condition: &str,
        names: &[(&str, &str)],
        values: Item,
    ) -> Result<TransactWriteItem, StoreError> {
        let names: HashMap<String, String> = names.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let update = Update::builder()
            .table_name(self.table())
            .set_key(Some(key.to_map()))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names((!names.is_empty()).then_some(names))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The organization's counts moved by a membership change: `members` and `owners` are the changes; a
    /// change that lowers the owners requires one to remain.
    fn tx_org_counts(&self, org_id: &str, members: i64, owners: i64) -> Result<TransactWriteItem, StoreError> {
        let mut values: Item = HashMap::from([(":m".to_owned(), n(members)), (":o".to_owned(), n(owners))]);
        let condition = if owners < 0 {
            values.insert(":min".to_owned(), n(-owners));
            "attribute_exists(PK) AND owner_count > :min"
        } else {
            "attribute_exists(PK)"
        };
        self.tx_named_update(
            &keys::org(org_id),
            "SET member_count = member_count + :m, owner_count = owner_count + :o",
            condition,
            &[],
            values,
        )
    }

    /// Create an organization with its first owner.
    pub async fn create_org(&self, org: &OrgItem, owner: &MembershipItem) -> Result<(), StoreError> {
        self.transact(vec![self.tx_put_new(org)?, self.tx_put_new(owner)?]).await
    }

    /// Create a user's personal organization unless the user has one: `Ok(true)` when this call created it.
    pub async fn create_personal_org(
        &self,
        guard: &PersonalOrgItem,
        org: &OrgItem,
        owner: &MembershipItem,
    ) -> Result<bool, StoreError> {
        let items = self.tx_personal_org(guard, org, owner)?;
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conditional { index: Some(0) }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The transaction items that create a user's personal organization (joined to the registration).
    pub fn tx_personal_org(
        &self,
        guard: &PersonalOrgItem,
        org: &OrgItem,
        owner: &MembershipItem,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        Ok(vec![self.tx_put_new(guard)?, self.tx_put_new(org)?, self.tx_put_new(owner)?])
    }

    /// Create a partner's organization unless it has one: `Ok(true)` when this call created it.
    pub async fn create_partner_org(
        &self,
        guard: &PartnerOrgItem,
        org: &OrgItem,
        owner: &MembershipItem,
    ) -> Result<bool, StoreError> {
        let items = vec![self.tx_put_new(guard)?, self.tx_put_new(org)?, self.tx_put_new(owner)?];
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conditional { index: Some(0) }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn partner_org_id(&self, partner_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self.get::<PartnerOrgItem>(&keys::partner_org(partner_id), true).await?.map(|g| g.org_id))
    }

    pub async fn personal_org_id(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self.get::<PersonalOrgItem>(&keys::personal_org(user_id), true).await?.map(|g| g.org_id))
    }

    pub async fn get_org(&self, org_id: &str) -> Result<Option<OrgItem>, StoreError> {
        self.get(&keys::org(org_id), true).await
    }

    /// The organization and the caller's membership of it, in one read.
    pub async fn org_and_membership(
        &self,
        org_id: &str,
        user_id: &str,
    ) -> Result<(Option<OrgItem>, Option<MembershipItem>), StoreError> {
        let (ok, mk) = (keys::org(org_id), keys::org_member(org_id, user_id));
        let mut found = self.batch_get(&[ok.clone(), mk.clone()], true).await?;
        Ok((super::take(&mut found, &ok)?, super::take(&mut found, &mk)?))
    }

    pub async fn get_membership(&self, org_id: &str, user_id: &str) -> Result<Option<MembershipItem>, StoreError> {
        self.get(&keys::org_member(org_id, user_id), true).await
    }

    /// Organizations by id, in one batch (up to 100).
    pub async fn orgs(&self, org_ids: &[String]) -> Result<Vec<OrgItem>, StoreError> {
        let wanted: Vec<keys::Key> = org_ids.iter().map(|id| keys::org(id)).collect();
        let mut found = self.batch_get(&wanted, false).await?;
        let mut out = Vec::new();
        for k in &wanted {
            if let Some(org) = super::take(&mut found, k)? {
                out.push(org);
            }
        }
        Ok(out)
    }

    /// A user's memberships, oldest first.
    pub async fn user_memberships(&self, user_id: &str) -> Result<Vec<MembershipItem>, StoreError> {
        self.index_partition(keys::GSI1, keys::user_orgs_partition(user_id), true).await
    }

    /// An organization's members.
    pub async fn org_members(&self, org_id: &str) -> Result<Vec<MembershipItem>, StoreError> {
        self.query_partition(&keys::org_partition(org_id), Some(keys::ORG_MEMBER_PREFIX))
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    pub async fn rename_org(&self, org_id: &str, name: &str, at: &str) -> Result<bool, StoreError> {
        let item = self.tx_named_update(
            &keys::org(org_id),
            "SET #name = :name, updated_at = :at",
            "attribute_exists(PK)",
            &[("#name", "name")],
            HashMap::from([(":name".to_owned(), s(name)), (":at".to_owned(), s(at))]),
        )?;
        applied(self.transact(vec![item]).await)
    }

    fn tx_role_change(&self, m: &MembershipItem, to: OrgRole) -> Result<TransactWriteItem, StoreError> {
        self.tx_named_update(
            &keys::org_member(&m.org_id, &m.user_id),
            "SET #role = :to",
            "#role = :from",
            &[("#role", "role")],
            HashMap::from([(":to".to_owned(), s(to.as_str())), (":from".to_owned(), s(m.role.as_str()))]),
        )
    }

    fn membership_refusal(e: StoreError, org_index: usize) -> Result<MembershipRefusal, StoreError> {
        match e {
            StoreError::Conditional { index: Some(i) } if i == org_index => Ok(MembershipRefusal::LastOwner),
            StoreError::Conditional { .. } => Ok(MembershipRefusal::Changed),
            e => Err(e),
        }
    }

    /// Change a member's role from the one read (`m.role`) to `to`, keeping an owner.
    pub async fn change_role(
        &self,
        m: &MembershipItem,
        to: OrgRole,
    ) -> Result<Result<(), MembershipRefusal>, StoreError> {
        let owners = i64::from(to == OrgRole::Owner) - i64::from(m.role == OrgRole::Owner);
        let items = vec![self.tx_role_change(m, to)?, self.tx_org_counts(&m.org_id, 0, owners)?];
        match self.transact(items).await {
            Ok(()) => Ok(Ok(())),
            Err(e) => Ok(Err(Self::membership_refusal(e, 1)?)),
        }
    }

    /// Make `to` an owner and `from` (an owner) `becomes`, at once.
    pub async fn transfer_ownership(
        &self,
        from: &MembershipItem,
        becomes: OrgRole,
        to: &MembershipItem,
    ) -> Result<Result<(), MembershipRefusal>, StoreError> {
        let owners = i64::from(to.role != OrgRole::Owner) - i64::from(becomes != OrgRole::Owner);
        let items = vec![
            self.tx_role_change(from, becomes)?,
            self.tx_role_change(to, OrgRole::Owner)?,
            self.tx_org_counts(&from.org_id, 0, owners)?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(Ok(())),
            Err(e) => Ok(Err(Self::membership_refusal(e, 2)?)),
        }
    }

    /// Remove a member (with the role read), keeping an owner.
    pub async fn remove_member(&self, m: &MembershipItem) -> Result<Result<(), MembershipRefusal>, StoreError> {
        let delete = Delete::builder()
            .table_name(self.table())
            .set_key(Some(keys::org_member(&m.org_id, &m.user_id).to_map()))
            .condition_expression("#role = :role")
            .expression_attribute_names("#role", "role")
            .expression_attribute_values(":role", s(m.role.as_str()))
            .build()
            .map_err(build_err)?;
        let owners = -i64::from(m.role == OrgRole::Owner);
        let items =
            vec![TransactWriteItem::builder().delete(delete).build(), self.tx_org_counts(&m.org_id, -1, owners)?];
        match self.transact(items).await {
            Ok(()) => Ok(Ok(())),
            Err(e) => Ok(Err(Self::membership_refusal(e, 1)?)),
        }
    }

    pub async fn put_invitation(&self, invitation: &InvitationItem) -> Result<(), StoreError> {
        self.put_new(invitation).await
    }

    pub async fn get_invitation(&self, invitation_id: &str) -> Result<Option<InvitationItem>, StoreError> {
        self.get(&keys::invitation(invitation_id), true).await
    }

    fn tx_decide_invitation(
        &self,
        invitation_id: &str,
        status: InvitationStatus,
        by: &str,
        at: &str,
        now: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        let status = match status {
            InvitationStatus::Pending => "pending",
            InvitationStatus::Accepted => "accepted",
            InvitationStatus::Revoked => "revoked",
        };
        self.tx_named_update(
            &keys::invitation(invitation_id),
            "SET #status = :to, decided_by = :by, decided_at = :at",
            "#status = :pending AND valid_until > :now",
            &[("#status", "status")],
            HashMap::from([
                (":to".to_owned(), s(status)),
                (":pending".to_owned(), s("pending")),
                (":by".to_owned(), s(by)),
                (":at".to_owned(), s(at)),
                (":now".to_owned(), n(now)),
            ]),
        )
    }

    /// Revoke a pending invitation: `false` when it was not pending (or had expired).
    pub async fn revoke_invitation(
        &self,
        invitation_id: &str,
        by: &str,
        at: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let item = self.tx_decide_invitation(invitation_id, InvitationStatus::Revoked, by, at, now)?;
        applied(self.transact(vec![item]).await)
    }

    /// Accept a pending invitation: the invitation closed, the membership created and the organization's
    /// counts moved, at once (single use, under any concurrency).
    pub async fn accept_invitation(
        &self,
        invitation: &InvitationItem,
        member: &MembershipItem,
        at: &str,
        now: i64,
    ) -> Result<Result<(), MembershipRefusal>, StoreError> {
        let owners = i64::from(member.role == OrgRole::Owner);
        let items = vec![
            self.tx_decide_invitation(&invitation.invitation_id, InvitationStatus::Accepted, &member.user_id, at, now)?,
            self.tx_put_new(member)?,
            self.tx_org_counts(&member.org_id, 1, owners)?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(Ok(())),
            Err(StoreError::Conditional { index: Some(0) }) => Ok(Err(MembershipRefusal::InvitationClosed)),
            Err(StoreError::Conditional { index: Some(1) }) => Ok(Err(MembershipRefusal::AlreadyMember)),
            Err(StoreError::Conditional { .. }) => Ok(Err(MembershipRefusal::Changed)),
            Err(e) => Err(e),
        }
    }

    /// One page of an organization's invitations, newest first.
    pub async fn org_invitations_page(
        &self,
        org_id: &str,
        limit: i32,
        after: Option<&str>,
    ) -> Result<Result<(Vec<InvitationItem>, Option<String>), ()>, StoreError> {
        self.gsi1_typed_page(keys::org_invitations_partition(org_id), limit, after).await
    }

    /// The invitations sent to an address, newest first.
    pub async fn invitations_to(&self, email: &str) -> Result<Vec<InvitationItem>, StoreError> {
        self.index_partition(keys::GSI2, keys::invitee_partition(email), false).await
    }

    /// Every user id, a page at a time (the personal-organization migration walks them).
    pub async fn user_ids_page(
        &self,
        after: Option<Item>,
        limit: i32,
    ) -> Result<(Vec<String>, Option<Item>), StoreError> {
        let out = self
            .client
            .scan()
            .table_name(self.table())
            .filter_expression("entity_type = :user")
            .expression_attribute_values(":user", s("user"))
            .projection_expression("user_id")
            .set_exclusive_start_key(after)
            .limit(limit)
            .send()
            .await
            .map_err(classify)?;
        let ids = out
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|i| i.get("user_id").and_then(|v| v.as_s().ok()).cloned())
            .collect();
        Ok((ids, out.last_evaluated_key.filter(|k| !k.is_empty())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::stored_shape::assert_stored;

    #[test]
    fn stored_shapes() {
        let org = OrgItem::new("org_1", "Acme", OrgKind::Team, "usr_1", "t".into());
        assert_eq!(org.customer_id, "org_1");
        assert_stored(
            &org,
            &keys::org("org_1"),
            "org",
            &[
                "PK",
                "SK",
                "entity_type",
                "org_id",
                "name",
                "kind",
                "customer_id",
                "created_by",
                "created_at",
                "member_count",
                "owner_count",
            ],
        );
        assert_eq!(OrgItem::new("org_2", "Me", OrgKind::Personal, "usr_1", "t".into()).customer_id, "usr_1");
        let m = MembershipItem::new("org_1", "usr_2", OrgRole::Admin, "t".into(), Some("inv_1"));
        assert_stored(
            &m,
            &keys::org_member("org_1", "usr_2"),
            "org_member",
            &["PK", "SK", "GSI1PK", "GSI1SK", "entity_type", "org_id", "user_id", "role", "joined_at", "invitation_id"],
        );
        assert_stored(
            &PartnerOrgItem::new("prt_1", "org_3"),
            &keys::partner_org("prt_1"),
            "partner_org",
            &["PK", "SK", "entity_type", "partner_id", "org_id"],
        );
        assert_stored(
            &PersonalOrgItem::new("usr_1", "org_2"),
            &keys::personal_org("usr_1"),
            "personal_org",
            &["PK", "SK", "entity_type", "user_id", "org_id"],
        );
        let inv = InvitationItem::new("inv_1", &org, "a@b.c", OrgRole::Member, "usr_1", "t".into(), 10, 20);
        assert_stored(
            &inv,
            &keys::invitation("inv_1"),
            "org_invitation",
            &[
                "PK",
                "SK",
                "GSI1PK",
                "GSI1SK",
                "GSI2PK",
                "GSI2SK",
                "entity_type",
                "invitation_id",
                "org_id",
                "org_name",
                "email",
                "role",
                "invited_by",
                "created_at",
                "valid_until",
                "status",
                "expires_at",
            ],
        );
    }
}
