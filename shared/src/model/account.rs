//! Who a caller is: account roles and the kinds of token we mint.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Partner,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Partner => "partner",
            Self::Admin => "admin",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// A session token from register/login/refresh: calls the platform API.
    Access,
    /// A solution-scoped token from generate-token: presented to a partner solution.
    Solution,
}

/// A partner's status, as stored on the partner item.
pub mod partner_status {
    pub const PENDING: &str = "pending";
    pub const APPROVED: &str = "approved";
    pub const REJECTED: &str = "rejected";
    pub const SUSPENDED: &str = "suspended";
}

/// A member's role in an organization. Owners manage billing and members (and may delete nothing they do not
/// own); admins manage members (but not owners); members use the organization's solutions. In a partner
/// organization, `developer` manages API keys and solutions and `finance` reads revenue and payouts; both
/// use solutions as members do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum OrgRole {
    Owner,
    Admin,
    Developer,
    Finance,
    Member,
}

impl OrgRole {
    pub const ALL: [Self; 5] = [Self::Owner, Self::Admin, Self::Developer, Self::Finance, Self::Member];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Developer => "developer",
            Self::Finance => "finance",
            Self::Member => "member",
        }
    }

    /// Buys, changes and cancels the organization's subscriptions; renames it; transfers ownership.
    pub fn manages_billing(self) -> bool {
        self == Self::Owner
    }

    /// Invites, removes and changes the roles of members (an admin never touches an owner).
    pub fn manages_members(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }

    /// Sees every member's share of the organization's usage (a member sees their own).
    pub fn reads_all_usage(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }

    /// A partner organization's API keys and solutions.
    pub fn manages_solutions(self) -> bool {
        matches!(self, Self::Owner | Self::Admin | Self::Developer)
    }

    /// A partner organization's revenue, statements and payouts.
    pub fn reads_revenue(self) -> bool {
        matches!(self, Self::Owner | Self::Admin | Self::Finance)
    }

    /// The roles only a partner organization has.
    pub fn is_partner_only(self) -> bool {
        matches!(self, Self::Developer | Self::Finance)
    }
}

/// What an organization is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrgKind {
    /// Every user's own organization: its only member is the user, its customer is the user's account (so the
    /// user's subscriptions, usage and tokens are the personal organization's).
    Personal,
    /// A company or a team: members invited by email, its own subscriptions, one shared quota.
    Team,
    /// A partner's organization: the partner's solutions, API keys, analytics and revenue, shared by role.
    Partner,
}
