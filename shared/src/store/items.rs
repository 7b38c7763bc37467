//! Stored items, one struct per entity. Constructors take domain values and fill the keys from [`keys`];
//! every item carries its `entity_type` discriminator.

use super::keys;
use crate::model::Role;
use crate::model::TokenKind;
use crate::model::{SolutionStatus, Tier};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<String>,
    /// The address was proven through a verification link (items written before verification existed:
    /// false). Money, reviews, partner applications and mail other than the link itself need it.
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified_at: Option<String>,
}

impl UserItem {
    pub fn new(user_id: &str, email: &str, name: &str, role: Role, password_hash: String, created_at: String) -> Self {
        let key = keys::user(user_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "user".into(),
            user_id: user_id.into(),
            email: email.into(),
            name: name.into(),
            role,
            password_hash,
            created_at,
            partner_id: None,
            email_verified: false,
            email_verified_at: None,
        }
    }
}

/// An email verification link: only the SHA-256 of its token is stored. Single use (`used_at`), valid
/// until `valid_until`; DynamoDB's TTL removes it a day after that.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailVerificationItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub user_id: String,
    /// The address the link proves (a link for an address the account no longer has proves nothing).
    pub email: String,
    pub created_at: String,
    /// Epoch seconds: the link is refused from then on.
    pub valid_until: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<String>,
    /// TTL (epoch seconds).
    pub expires_at: i64,
}

impl EmailVerificationItem {
    pub fn new(hash_hex: &str, user_id: &str, email: &str, created_at: String, valid_until: i64) -> Self {
        let key = keys::email_verification(hash_hex);
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "email_verification".into(),
            user_id: user_id.into(),
            email: email.into(),
            created_at,
            valid_until,
            used_at: None,
            expires_at: valid_until + 86_400,
        }
    }
}

/// How many verification mails a user was sent in the current window (the resend throttle), and when the
/// last one was. TTL'd at the end of the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationSendsItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub user_id: String,
    /// Epoch seconds: the window's start.
    pub window_start: i64,
    /// Mails sent in the window.
    pub sent: u32,
    /// Epoch seconds of the last mail.
    pub last_sent: i64,
    /// TTL (epoch seconds): the window's end.
    pub expires_at: i64,
}

impl VerificationSendsItem {
    /// The first mail of a window, sent at `now` (epoch seconds); the window lasts `window_seconds`.
    pub fn first(user_id: &str, now: i64, window_seconds: i64) -> Self {
        let key = keys::verification_sends(user_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "verification_sends".into(),
            user_id: user_id.into(),
            window_start: now,
            sent: 1,
            last_sent: now,
            expires_at: now + window_seconds,
        }
    }
}

/// The uniqueness guard of an email address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub user_id: String,
}

impl EmailItem {
    pub fn new(email: &str, user_id: &str) -> Self {
        let key = keys::email(email);
        Self { pk: key.pk, sk: key.sk, entity_type: "email".into(), user_id: user_id.into() }
    }
}

/// A user's tier for one solution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntitlementItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub user_id: String,
    pub solution_id: String,
    pub tier: Tier,
    pub updated_at: String,
    pub updated_by: String,
    /// When `tier` stops applying (epoch seconds); `None` = until changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<i64>,
    /// The tier after `valid_until` (free when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then_tier: Option<Tier>,
    /// The subscription this tier comes from, when it is paid for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
}

impl EntitlementItem {
    /// What this entitlement grants (the switch at `valid_until` applied by readers).
    pub fn grant(&self) -> crate::model::Grant {
        crate::model::Grant {
            tier: self.tier,
            valid_until: self.valid_until,
            then: self.then_tier.unwrap_or(Tier::Free),
        }
    }

    /// The tier in force at `now` (epoch seconds).
    pub fn tier_at(&self, now: i64) -> Tier {
        match self.valid_until {
            Some(until) if now >= until => self.then_tier.unwrap_or(Tier::Free),
            _ => self.tier,
        }
    }

    pub fn new(user_id: &str, solution_id: &str, tier: Tier, updated_at: String, updated_by: &str) -> Self {
        let key = keys::entitlement(user_id, solution_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "entitlement".into(),
            user_id: user_id.into(),
            solution_id: solution_id.into(),
            tier,
            updated_at,
            updated_by: updated_by.into(),
            valid_until: None,
            then_tier: None,
            subscription_id: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SolutionItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    /// The partner's solutions (`keys::partner_solutions`).
    #[serde(rename = "GSI2PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi2pk: Option<String>,
    #[serde(rename = "GSI2SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi2sk: Option<String>,
    pub entity_type: String,
    pub solution_id: String,
    pub partner_id: String,
    /// The partner's company name, shown in the catalog.
    #[serde(default)]
    pub partner_name: String,
    pub name: String,
    pub description: String,
    pub status: SolutionStatus,
    /// IANA time zone in which the solution's day is counted.
    pub time_zone: String,
    #[serde(default)]
    pub category: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// The tiers (limits and prices) in force once published; a draft's proposed tiers before that.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<crate::model::TierSpec>,
    /// A change of tiers or prices of a published solution, waiting for an admin's approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_tiers: Option<Vec<crate::model::TierSpec>>,
    /// Limits an admin set per tier (by tier name): in force over the partner's (`tiers` shows them).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub limit_overrides: std::collections::BTreeMap<String, crate::model::LimitsOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_submitted_at: Option<String>,
    /// The last admin decision's reason (a rejection, a suspension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
    /// Uploaded assets: kind (`logo`, `docs`) to S3 object key.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub assets: std::collections::BTreeMap<String, String>,
    /// Rating summary of its reviews.
    #[serde(default)]
    pub rating_count: u64,
    #[serde(default)]
    pub rating_sum: u64,
    /// Paid subscriptions ever started (the catalog's popularity).
    #[serde(default)]
    pub subscribers: u64,
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
    #[serde(default)]
    pub version: u64,
}

impl SolutionItem {
    pub fn new(
        solution_id: &str,
        partner_id: &str,
        name: &str,
        description: &str,
        status: SolutionStatus,
        time_zone: &str,
        created_at: String,
    ) -> Self {
        let key = keys::solution(solution_id);
        let gsi = keys::solutions_by_status(status.as_str(), &created_at, solution_id);
        let (g2pk, g2sk) = keys::partner_solutions(partner_id, &created_at, solution_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: gsi.pk,
            gsi1sk: gsi.sk,
            gsi2pk: Some(g2pk),
            gsi2sk: Some(g2sk),
            entity_type: "solution".into(),
            solution_id: solution_id.into(),
            partner_id: partner_id.into(),
            partner_name: String::new(),
            name: name.into(),
            description: description.into(),
            status,
            time_zone: time_zone.into(),
            category: String::new(),
            tags: Vec::new(),
            website: None,
            tiers: Vec::new(),
            pending_tiers: None,
            limit_overrides: Default::default(),
            pending_submitted_at: None,
            review_note: None,
            submitted_at: None,
            published_at: None,
            assets: Default::default(),
            rating_count: 0,
            rating_sum: 0,
            subscribers: 0,
            updated_at: created_at.clone(),
            created_at,
            version: 0,
        }
    }

    /// Move to `status`, keeping the by-status index entry in step.
    pub fn set_status(&mut self, status: SolutionStatus) {
        self.status = status;
        let gsi = keys::solutions_by_status(status.as_str(), &self.created_at, &self.solution_id);
        self.gsi1pk = gsi.pk;
        self.gsi1sk = gsi.sk;
    }
}

/// Limits of a tier: platform defaults (`solution_id` = None) or a solution's own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierDefinitionItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solution_id: Option<String>,
    pub tier: Tier,
    /// `None` = unlimited.
    pub daily_limit: Option<u64>,
    pub monthly_limit: Option<u64>,
    /// What the tier costs (paid tiers of a solution).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prices: Vec<crate::model::Price>,
    pub updated_at: String,
}

impl TierDefinitionItem {
    pub fn new(
        solution_id: Option<&str>,
        tier: Tier,
        daily_limit: Option<u64>,
        monthly_limit: Option<u64>,
        updated_at: String,
    ) -> Self {
        let key = match solution_id {
            Some(sid) => keys::solution_tier(sid, tier.as_str()),
            None => keys::default_tier(tier.as_str()),
        };
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "tier_definition".into(),
            solution_id: solution_id.map(str::to_owned),
            tier,
            daily_limit,
            monthly_limit,
            prices: Vec::new(),
            updated_at,
        }
    }
}

/// A partner: its application (pending, rejected) and, once approved, its profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnerItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    /// Partners by status (`keys::partners_by_status`).
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
    pub entity_type: String,
    pub partner_id: String,
    pub user_id: String,
    pub company: String,
    pub contact_email: String,
    /// `pending`, `approved`, `rejected` or `suspended`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gstin: Option<String>,
    /// How the partner is paid: `bank` or `upi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payout_method: Option<String>,
    /// The payout details as shown to anyone (masked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payout_masked: Option<String>,
    /// The payout details, sealed with AES-256-GCM (`crate::platform::sealed`); never returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payout_sealed: Option<String>,
    /// The platform's commission for this partner in basis points; the default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commission_bp: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    pub created_at: String,
    #[serde(default)]
    pub version: u64,
}

impl PartnerItem {
    pub fn new(
        partner_id: &str,
        user_id: &str,
        company: &str,
        contact_email: &str,
        status: &str,
        created_at: String,
    ) -> Self {
        let key = keys::partner(partner_id);
        let mut item = Self {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: None,
            gsi1sk: None,
            entity_type: "partner".into(),
            partner_id: partner_id.into(),
            user_id: user_id.into(),
            company: company.into(),
            contact_email: contact_email.into(),
            status: String::new(),
            website: None,
            gstin: None,
            payout_method: None,
            payout_masked: None,
            payout_sealed: None,
            commission_bp: None,
            decision_reason: None,
            decided_by: None,
            decided_at: None,
            created_at,
            version: 0,
        };
        item.set_status(status);
        item
    }

    /// Move to `status`, keeping the by-status index entry in step.
    pub fn set_status(&mut self, status: &str) {
        self.status = status.into();
        let gsi = keys::partners_by_status(status, &self.created_at, &self.partner_id);
        self.gsi1pk = Some(gsi.pk);
        self.gsi1sk = Some(gsi.sk);
    }
}

/// The guard that keeps one partner application per user (points at it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnerLinkItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub user_id: String,
    pub partner_id: String,
}

impl PartnerLinkItem {
    pub fn new(user_id: &str, partner_id: &str) -> Self {
        let key = keys::user_partner(user_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "partner_link".into(),
            user_id: user_id.into(),
            partner_id: partner_id.into(),
        }
    }
}

/// An admin decision (approve, reject, suspend, publish...), kept for audit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub audit_id: String,
    /// What was decided about: `partner#<id>` or `solution#<id>`.
    pub subject: String,
    pub action: String,
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: String,
}

impl AuditItem {
    pub fn new(subject: &str, action: &str, actor: &str, reason: Option<&str>, at: String) -> Self {
        let audit_id = crate::platform::ids::new_id("aud");
        let key = keys::audit(subject, &at, &audit_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "audit".into(),
            audit_id,
            subject: subject.into(),
            action: action.into(),
            actor: actor.into(),
            reason: reason.map(str::to_owned),
            at,
        }
    }
}

/// A partner API key, stored by the SHA-256 of the key (the key itself is shown once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub entity_type: String,
    pub key_id: String,
    pub partner_id: String,
    pub name: String,
    /// The first characters of the key, to recognise it in a list.
    pub prefix: String,
    /// The solutions the key may act for; empty = every solution of the partner.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub solution_ids: Vec<String>,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

impl ApiKeyItem {
    pub fn new(
        hash_hex: &str,
        key_id: &str,
        partner_id: &str,
        name: &str,
        prefix: &str,
        solution_ids: Vec<String>,
        created_at: String,
    ) -> Self {
        let key = keys::api_key(hash_hex);
        let gsi = keys::partner_api_keys(partner_id, &created_at, key_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: gsi.pk,
            gsi1sk: gsi.sk,
            entity_type: "api_key".into(),
            key_id: key_id.into(),
            partner_id: partner_id.into(),
            name: name.into(),
            prefix: prefix.into(),
            solution_ids,
            created_at,
            revoked_at: None,
        }
    }
}

/// A user's review of a solution (one per user; editing replaces it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub entity_type: String,
    pub solution_id: String,
    pub user_id: String,
    /// The reviewer's name as shown.
    pub author: String,
    /// 1 to 5.
    pub rating: u8,
    pub text: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub version: u64,
}

impl ReviewItem {
    pub fn new(solution_id: &str, user_id: &str, author: &str, rating: u8, text: &str, created_at: String) -> Self {
        let key = keys::review(solution_id, user_id);
        let gsi = keys::solution_reviews(solution_id, &created_at, user_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: gsi.pk,
            gsi1sk: gsi.sk,
            entity_type: "review".into(),
            solution_id: solution_id.into(),
            user_id: user_id.into(),
            author: author.into(),
            rating,
            text: text.into(),
            updated_at: created_at.clone(),
            created_at,
            version: 0,
        }
    }
}

/// Session or solution-token family: the unit of revocation and of refresh-token rotation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub family_id: String,
    pub user_id: String,
    pub kind: TokenKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solution_id: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Lifetime of each token minted in this family.
    pub token_ttl_seconds: i64,
    pub created_at: String,
    /// End of the family's absolute lifetime (epoch seconds); refresh tokens stop working then.
    pub refresh_until: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_reason: Option<String>,
    /// TTL (epoch seconds).
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub family_id: String,
    pub user_id: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<String>,
    /// TTL (epoch seconds).
    pub expires_at: i64,
}

impl RefreshItem {
    pub fn new(hash: &str, family: &FamilyItem, created_at: String) -> Self {
        let key = keys::refresh(hash);
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "refresh_token".into(),
            family_id: family.family_id.clone(),
            user_id: family.user_id.clone(),
            created_at,
            used_at: None,
            expires_at: family.expires_at,
        }
    }
}

/// The record of one issued JWT (never the token itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub entity_type: String,
    pub token_id: String,
    pub user_id: String,
    pub family_id: String,
    pub kind: TokenKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solution_id: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    pub issued_at: String,
    /// The JWT's `exp` (epoch seconds).
    pub exp: i64,
    /// TTL (epoch seconds): a day after `exp`.
    pub expires_at: i64,
}

impl TokenItem {
    pub fn new(token_id: &str, family: &FamilyItem, issued_at: String, exp: i64) -> Self {
        let key = keys::token(token_id);
        let gsi = keys::user_tokens(&family.user_id, &issued_at, token_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: gsi.pk,
            gsi1sk: gsi.sk,
            entity_type: "token".into(),
            token_id: token_id.into(),
            user_id: family.user_id.clone(),
            family_id: family.family_id.clone(),
            kind: family.kind,
            solution_id: family.solution_id.clone(),
            scopes: family.scopes.clone(),
            issued_at,
            exp,
            expires_at: exp + 86_400,
        }
    }
}

impl FamilyItem {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        family_id: &str,
        user_id: &str,
        kind: TokenKind,
        solution_id: Option<&str>,
        scopes: Vec<String>,
        token_ttl_seconds: i64,
        created_at: String,
        refresh_until: i64,
    ) -> Self {
        let key = keys::family(family_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "token_family".into(),
            family_id: family_id.into(),
            user_id: user_id.into(),
            kind,
            solution_id: solution_id.map(str::to_owned),
            scopes,
            token_ttl_seconds,
            created_at,
            refresh_until,
            revoked_at: None,
            revoked_by: None,
            revoked_reason: None,
            expires_at: refresh_until + 86_400,
        }
    }
}

/// Prefix of the per-action count attributes of a usage counter (`action:<name>` = count).
pub const ACTION_ATTR_PREFIX: &str = "action:";

/// A usage counter: one customer × solution × local day (or month). `used` is what counts against the quota
/// (an admin reset zeroes it); the `action:<name>` attributes count every granted unit by action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageCounterItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(default)]
    pub entity_type: String,
    #[serde(default)]
    pub customer_id: String,
    #[serde(default)]
    pub solution_id: String,
    /// `yyyy-mm-dd` (day counters) or `yyyy-mm` (month counters).
    #[serde(default)]
    pub period: String,
    #[serde(default)]
    pub used: u64,
    #[serde(default)]
    pub tier: Option<Tier>,
    /// The limit in force at the last write (`None` = unlimited).
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub expires_at: Option<i64>,
    #[serde(flatten)]
    pub other: std::collections::HashMap<String, serde_json::Value>,
}

/// On a counter carried into a new account: how many of its units were the visitor's.
pub const CARRIED_ATTR: &str = "carried";

impl UsageCounterItem {
    /// Units counted under this customer itself (not carried from an anonymous visitor).
    pub fn own_units(&self) -> u64 {
        let carried = self.other.get(CARRIED_ATTR).and_then(serde_json::Value::as_u64).unwrap_or(0);
        self.used.saturating_sub(carried)
    }

    /// Per-action counts.
    pub fn actions(&self) -> std::collections::BTreeMap<String, u64> {
        self.other
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(ACTION_ATTR_PREFIX)?.to_owned(), v.as_u64()?)))
            .collect()
    }

    /// A copy of this counter under another customer (anonymous usage carried into a new account).
    pub fn carried_to(&self, customer_id: &str, tier: Tier) -> Self {
        let key = keys::usage_day(customer_id, &self.period, &self.solution_id);
        let mut other = self.other.clone();
        let index = keys::solution_usage(&self.solution_id, &self.period, customer_id);
        other.insert(keys::GSI1PK.to_owned(), serde_json::Value::String(index.pk));
        other.insert(keys::GSI1SK.to_owned(), serde_json::Value::String(index.sk));
        // The units came from the visitor's counter: analytics counts them there, once.
        other.insert(CARRIED_ATTR.to_owned(), serde_json::Value::from(self.used));
        Self { pk: key.pk, sk: key.sk, customer_id: customer_id.to_owned(), tier: Some(tier), other, ..self.clone() }
    }
}

/// The stored first answer of a usage event sent with an idempotency key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdempotencyItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    /// SHA-256 of what the request asked for (action, quantity): a key reused for a different request is refused.
    pub fingerprint: String,
    /// The answer, as JSON text.
    pub answer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
    pub created_at: String,
    pub expires_at: i64,
}

/// Who reset a quota, when, why, and what it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuotaResetAuditItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub audit_id: String,
    pub customer_id: String,
    pub solution_id: String,
    pub date: String,
    pub previous_used: u64,
    pub reset_by: String,
    pub reason: String,
    pub at: String,
}

/// A notification waiting to be delivered (the billing function sends it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    /// In the pending index until sent (then removed).
    #[serde(rename = "GSI1PK", default)]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK", default)]
    pub gsi1sk: String,
    pub entity_type: String,
    pub notification_id: String,
    pub kind: String,
    pub customer_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solution_id: Option<String>,
    pub data: serde_json::Value,
    /// `pending`, `sending` (leased), `sent`, `skipped`, `unverified`, or `dead` (given up on after
    /// `notifications::MAX_ATTEMPTS` failed sends: in the dead-letter index until an admin retries it).
    pub status: String,
    pub created_at: String,
    /// Failed sends so far (reset by an admin's retry).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u32,
    /// When the next send may be tried after a failure (RFC 3339; mirrored in the pending index's sort key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    /// What the last failed send reported (no secrets: the provider's error code and message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_at: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl NotificationItem {
    pub fn new(
        notification_id: &str,
        kind: &str,
        customer_id: &str,
        solution_id: Option<&str>,
        data: serde_json::Value,
        created_at: String,
    ) -> Self {
        let key = keys::outbox(notification_id);
        let gsi = keys::outbox_pending(&created_at, notification_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: gsi.pk,
            gsi1sk: gsi.sk,
            entity_type: "notification".into(),
            notification_id: notification_id.into(),
            kind: kind.into(),
            customer_id: customer_id.into(),
            solution_id: solution_id.map(str::to_owned),
            data,
            status: "pending".into(),
            created_at,
            attempts: 0,
            next_attempt_at: None,
            last_error: None,
            dead_at: None,
        }
    }
}

/// A subscription of a user to a solution's paid tier, on one provider. `reconciled` is the order-independent
/// fold of the provider's facts; `version` guards every read-modify-write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub entity_type: String,
    pub subscription_id: String,
    pub user_id: String,
    pub solution_id: String,
    pub tier: Tier,
    pub period: crate::model::BillingPeriod,
    pub provider: crate::model::Provider,
    /// The price of `tier` when it was chosen (kept: a later price change does not touch this subscription).
    pub price: crate::model::Price,
    /// A lower tier taking effect at the end of the current period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_tier: Option<Tier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_price: Option<crate::model::Price>,
    /// When `pending_tier` takes over (the period end it was scheduled for, epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_effective_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_customer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_subscription_id: Option<String>,
    /// The provider's subscription item (`si_…`) whose price changes on upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_item_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_url: Option<String>,
    #[serde(default)]
    pub reconciled: crate::model::Reconciled,
    /// The buyer's GSTIN (for B2B tax invoices), validated when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_gstin: Option<String>,
    /// The buyer's GST state code (place of supply); from the GSTIN when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_state: Option<String>,
    /// The invoice waiting to be paid (PhonePe: the first period, a renewal or an upgrade).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_invoice_id: Option<String>,
    /// Billing-run steps done, as `<step>@<period_end>` (each happens once per period).
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub billing_done: std::collections::BTreeSet<String>,
    /// When the billing run must next look at this subscription (`None`: nothing to do). Mirrored into the
    /// sparse GSI2 on every save.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_due_at: Option<i64>,
    /// A pending subscription given up for another checkout to the same solution (the one that replaced it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
    #[serde(rename = "GSI2PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi2pk: Option<String>,
    #[serde(rename = "GSI2SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi2sk: Option<String>,
    /// Its solution's subscriptions (`keys::solution_subscriptions`; written before that index existed: set on
    /// the next save).
    #[serde(rename = "GSI3PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi3pk: Option<String>,
    #[serde(rename = "GSI3SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi3sk: Option<String>,
    /// Its solution is suspended or retired: no renewal (Stripe: canceled at period end at Stripe; PhonePe: the
    /// billing run ends it at the period end instead of invoicing a renewal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solution_hold: Option<SubscriptionHold>,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

/// A solution's suspension or retirement as applied to one of its subscriptions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionHold {
    /// `suspended` or `retired`.
    pub state: SolutionStatus,
    /// The solution's version that asked for it (holds of later versions win).
    pub seq: u64,
    pub since: String,
    /// The subscriber had canceled at period end, or did so during the hold: a reinstatement never renews it.
    pub subscriber_canceled: bool,
}

/// What a solution's last suspension, retirement or reinstatement asks of its subscriptions; listed in the
/// pending index until the billing run has applied it to each of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SolutionHoldItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
    pub entity_type: String,
    pub solution_id: String,
    /// The solution's status: `suspended` / `retired` (renewals stop) or `published` (reinstated).
    pub state: SolutionStatus,
    /// The solution's version after the change.
    pub seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub created_at: String,
}

impl SolutionHoldItem {
    pub fn new(solution_id: &str, state: SolutionStatus, seq: u64, reason: Option<String>, at: String) -> Self {
        let key = keys::solution_hold(solution_id);
        let gsi = keys::holds_pending(&at, solution_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: Some(gsi.pk),
            gsi1sk: Some(gsi.sk),
            entity_type: "solution_hold".into(),
            solution_id: solution_id.into(),
            state,
            seq,
            reason,
            created_at: at,
        }
    }
}

impl SubscriptionItem {
    /// Its entry in its solution's subscriptions (GSI3), for items written before that index existed.
    pub fn index_by_solution(&mut self) {
        if self.gsi3pk.is_none() {
            let (pk, sk) = keys::solution_subscriptions(&self.solution_id, &self.created_at, &self.subscription_id);
            self.gsi3pk = Some(pk);
            self.gsi3sk = Some(sk);
        }
    }

    /// Set when the billing run must next look at it, and the GSI2 entry that lists it then (and its GSI3
    /// entry when it has none yet: every save indexes it).
    pub fn set_billing_due(&mut self, due: Option<i64>) {
        self.index_by_solution();
        self.billing_due_at = due;
        match due {
            Some(at) => {
                let (pk, sk) = keys::billing_due(at, &self.subscription_id);
                self.gsi2pk = Some(pk);
                self.gsi2sk = Some(sk);
            }
            None => {
                self.gsi2pk = None;
                self.gsi2sk = None;
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn new(
        subscription_id: &str,
        user_id: &str,
        solution_id: &str,
        tier: Tier,
        period: crate::model::BillingPeriod,
        provider: crate::model::Provider,
        price: crate::model::Price,
        created_at: String,
    ) -> Self {
        let key = keys::subscription(subscription_id);
        let gsi = keys::user_subscriptions(user_id, &created_at, subscription_id);
        let gsi3 = keys::solution_subscriptions(solution_id, &created_at, subscription_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: gsi.pk,
            gsi1sk: gsi.sk,
            entity_type: "subscription".into(),
            subscription_id: subscription_id.into(),
            user_id: user_id.into(),
            solution_id: solution_id.into(),
            tier,
            period,
            provider,
            price,
            pending_tier: None,
            pending_price: None,
            pending_effective_at: None,
            provider_customer_id: None,
            provider_subscription_id: None,
            provider_item_id: None,
            checkout_session_id: None,
            checkout_url: None,
            reconciled: Default::default(),
            buyer_gstin: None,
            buyer_state: None,
            open_invoice_id: None,
            billing_done: Default::default(),
            billing_due_at: None,
            replaced_by: None,
            gsi2pk: None,
            gsi2sk: None,
            gsi3pk: Some(gsi3.0),
            gsi3sk: Some(gsi3.1),
            solution_hold: None,
            version: 0,
            created_at: created_at.clone(),
            updated_at: created_at,
        }
    }
}

/// Our id (and owner) of a provider's object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderRefItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
}

impl ProviderRefItem {
    pub fn new(provider: &str, kind: &str, provider_id: &str, user_id: &str, subscription_id: Option<&str>) -> Self {
        let key = keys::provider_ref(provider, kind, provider_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "provider_ref".into(),
            user_id: user_id.into(),
            subscription_id: subscription_id.map(str::to_owned),
        }
    }
}

/// The slot of a user's one unpaid subscription to a solution: which one it is and the request that made it
/// (a hash of solution, tier, provider, period and tax details). Claimed in the transaction that creates the
/// subscription, conditioned on the value read, so two concurrent checkouts never both stay open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckoutSlotItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub user_id: String,
    pub solution_id: String,
    pub subscription_id: String,
    pub fingerprint: String,
    pub created_at: String,
}

impl CheckoutSlotItem {
    pub fn new(user_id: &str, solution_id: &str, subscription_id: &str, fingerprint: &str, created_at: String) -> Self {
        let key = keys::checkout_slot(user_id, solution_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "checkout_slot".into(),
            user_id: user_id.into(),
            solution_id: solution_id.into(),
            subscription_id: subscription_id.into(),
            fingerprint: fingerprint.into(),
            created_at,
        }
    }
}

/// A user's customer object at a provider (one per user and provider).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderCustomerItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub user_id: String,
    pub customer_id: String,
    pub created_at: String,
}

impl ProviderCustomerItem {
    pub fn new(provider: &str, user_id: &str, customer_id: &str, created_at: String) -> Self {
        let key = keys::provider_customer(provider, user_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "provider_customer".into(),
            user_id: user_id.into(),
            customer_id: customer_id.into(),
            created_at,
        }
    }
}

/// A captured payment (recorded once per provider payment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub entity_type: String,
    pub payment_id: String,
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solution_id: Option<String>,
    pub provider: crate::model::Provider,
    /// The provider's payment (Stripe: the PaymentIntent, else the charge, else the invoice).
    pub provider_payment_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_invoice_id: Option<String>,
    pub amount: i64,
    pub currency: String,
    /// When the provider captured it (RFC 3339).
    pub captured_at: String,
    pub recorded_at: String,
    /// Money that arrived for an invoice that could no longer apply (withdrawn or paid meanwhile): kept on
    /// record, granting nothing, and refunded in full.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unapplied: bool,
}

impl PaymentItem {
    /// A captured payment, listed in its user's history by `captured_at`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        payment_id: &str,
        user_id: &str,
        provider: crate::model::Provider,
        provider_payment_id: String,
        amount: i64,
        currency: &str,
        captured_at: String,
        recorded_at: String,
    ) -> Self {
        let key = keys::payment(payment_id);
        let gsi = keys::user_payments(user_id, &captured_at, payment_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: gsi.pk,
            gsi1sk: gsi.sk,
            entity_type: "payment".into(),
            payment_id: payment_id.into(),
            user_id: user_id.into(),
            subscription_id: None,
            solution_id: None,
            provider,
            provider_payment_id,
            provider_invoice_id: None,
            amount,
            currency: currency.into(),
            captured_at,
            recorded_at,
            unapplied: false,
        }
    }
}

/// A refund of a payment (one per provider refund; its status only moves forward).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefundItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub entity_type: String,
    pub refund_id: String,
    pub payment_id: String,
    pub user_id: String,
    pub provider: crate::model::Provider,
    pub provider_refund_id: String,
    pub amount: i64,
    pub currency: String,
    #[serde(default)]
    pub status: crate::model::RefundStatus,
    pub refunded_at: String,
    pub recorded_at: String,
    /// A PhonePe refund still pending is listed for the reconciliation (sparse GSI2 `PHONEPE#OPEN`).
    #[serde(rename = "GSI2PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi2pk: Option<String>,
    #[serde(rename = "GSI2SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi2sk: Option<String>,
}

impl RefundItem {
    /// A refund of `payment_id`, listed in its user's history by `refunded_at`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        refund_id: String,
        payment_id: &str,
        user_id: &str,
        provider: crate::model::Provider,
        provider_refund_id: &str,
        amount: i64,
        currency: &str,
        status: crate::model::RefundStatus,
        refunded_at: String,
        recorded_at: String,
    ) -> Self {
        let key = keys::refund(payment_id, provider_refund_id);
        let gsi = keys::user_payments(user_id, &refunded_at, &refund_id);
        let open = (provider == crate::model::Provider::Phonepe && status == crate::model::RefundStatus::Pending)
            .then(|| keys::phonepe_open("refund", &recorded_at, &format!("{payment_id}#{provider_refund_id}")));
        Self {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: gsi.pk,
            gsi1sk: gsi.sk,
            entity_type: "refund".into(),
            refund_id,
            payment_id: payment_id.into(),
            user_id: user_id.into(),
            provider,
            provider_refund_id: provider_refund_id.into(),
            amount,
            currency: currency.into(),
            status,
            refunded_at,
            recorded_at,
            gsi2pk: open.as_ref().map(|o| o.0.clone()),
            gsi2sk: open.map(|o| o.1),
        }
    }
}

/// A webhook event we received: the deduplication record (kept 35 days, longer than Stripe retries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEventItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub provider: String,
    pub event_id: String,
    pub event_type: String,
    /// `processing` (with a lease) or `done`.
    pub status: String,
    pub lease_until: i64,
    pub received_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processed_at: Option<String>,
    pub expires_at: i64,
}

/// One PhonePe checkout order: a payment attempt on an invoice. Its id is our `merchantOrderId`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhonePeOrderItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub merchant_order_id: String,
    pub invoice_id: String,
    pub subscription_id: String,
    pub user_id: String,
    pub amount: i64,
    pub currency: String,
    /// `creating` (asked PhonePe, no answer yet), `pending`, `completed`, `failed`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phonepe_order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    /// Listed for the reconciliation while not final (sparse GSI2 `PHONEPE#OPEN`).
    #[serde(rename = "GSI2PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi2pk: Option<String>,
    #[serde(rename = "GSI2SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi2sk: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl PhonePeOrderItem {
    pub fn new(merchant_order_id: &str, invoice: &InvoiceItem, created_at: String) -> Self {
        let key = keys::phonepe_order(merchant_order_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "phonepe_order".into(),
            merchant_order_id: merchant_order_id.into(),
            invoice_id: invoice.invoice_id.clone(),
            subscription_id: invoice.subscription_id.clone(),
            user_id: invoice.user_id.clone(),
            amount: invoice.amount,
            currency: invoice.currency.clone(),
            state: "creating".into(),
            phonepe_order_id: None,
            redirect_url: None,
            gsi2pk: Some(keys::PHONEPE_OPEN.to_owned()),
            gsi2sk: Some(keys::phonepe_open("order", &created_at, merchant_order_id).1),
            created_at: created_at.clone(),
            updated_at: created_at,
        }
    }
}

/// Why an invoice exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceReason {
    /// The first period of a subscription.
    Subscription,
    Renewal,
    /// The prorated difference of an upgrade.
    Upgrade,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// A payment request (no number yet).
    Open,
    /// Paid: a numbered tax invoice.
    Paid,
    /// Withdrawn unpaid (subscription expired or canceled).
    Void,
}

/// An invoice: first a payment request (open), then, once paid, a GST tax invoice with a number that is
/// gapless per financial year (allocated in the same transaction that records the payment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub entity_type: String,
    pub invoice_id: String,
    pub user_id: String,
    pub subscription_id: String,
    pub solution_id: String,
    pub provider: crate::model::Provider,
    pub tier: Tier,
    pub reason: InvoiceReason,
    /// The period paid for (epoch seconds); a first period starts when it is paid, so it is set then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_start: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_end: Option<i64>,
    /// Tax-inclusive total in minor units.
    pub amount: i64,
    pub currency: String,
    /// The tier's price from this invoice's period on (what the subscription costs once it is paid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<crate::model::Price>,
    pub status: InvoiceStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<i64>,
    /// `INV/2026-27/000001`, once paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    /// The issued document (seller, buyer, lines, tax), as rendered to PDF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<crate::gst::InvoiceDoc>,
    /// The PDF's S3 key, once rendered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdf_key: Option<String>,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

impl InvoiceItem {
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        invoice_id: &str,
        subscription: &SubscriptionItem,
        tier: Tier,
        reason: InvoiceReason,
        amount: i64,
        currency: &str,
        period: Option<(i64, i64)>,
        created_at: String,
    ) -> Self {
        let key = keys::invoice(invoice_id);
        let gsi = keys::user_invoices(&subscription.user_id, &created_at, invoice_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: gsi.pk,
            gsi1sk: gsi.sk,
            entity_type: "invoice".into(),
            invoice_id: invoice_id.into(),
            user_id: subscription.user_id.clone(),
            subscription_id: subscription.subscription_id.clone(),
            solution_id: subscription.solution_id.clone(),
            provider: subscription.provider,
            tier,
            reason,
            period_start: period.map(|p| p.0),
            period_end: period.map(|p| p.1),
            amount,
            currency: currency.into(),
            price: None,
            status: InvoiceStatus::Open,
            due_at: None,
            number: None,
            issued_at: None,
            payment_id: None,
            document: None,
            pdf_key: None,
            version: 0,
            created_at: created_at.clone(),
            updated_at: created_at,
        }
    }
}

/// The last invoice number given out in a financial year.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceCounterItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub financial_year: String,
    pub last: u64,
}

/// What a revenue posting records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostingKind {
    /// A captured payment: cash in; GST, commission and the partner's earnings owed.
    Payment,
    /// A refund: the reverse of its proportional part of the payment.
    Refund,
    /// A monthly payout to the partner: what it was owed, paid out.
    Payout,
    /// A refund that failed after its reversal was posted: that reversal undone (the payment's direction).
    Reinstatement,
}

/// A revenue posting: balanced ledger entries for one payment, refund or payout (posted once: keyed by it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostingItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    /// The partner's ledger (`keys::partner_ledger`).
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    /// The solution's revenue (`keys::solution_revenue`), payments and refunds only.
    #[serde(rename = "GSI2PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi2pk: Option<String>,
    #[serde(rename = "GSI2SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi2sk: Option<String>,
    pub entity_type: String,
    pub posting_id: String,
    /// The payment, refund or statement posted.
    pub source_id: String,
    pub kind: PostingKind,
    pub partner_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solution_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<crate::model::Provider>,
    /// Refunds: the payment they reverse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    pub currency: String,
    /// The parts (never negative; `kind` gives the direction).
    pub split: crate::money::split::Split,
    pub entries: Vec<crate::money::split::Entry>,
    pub commission_bp: u32,
    /// When it was posted (RFC 3339): statements take postings by this time.
    pub at: String,
    /// Payments: the paid period (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_start: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_end: Option<i64>,
    /// Payments: the first paid period of a subscription (a free → paid conversion).
    #[serde(default)]
    pub first_payment: bool,
    /// Payments: what refunds have reversed so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reversed: Option<crate::money::split::Split>,
    #[serde(default)]
    pub version: u64,
}

/// A partner's monthly statement in one currency, with its payout (rerun-safe: one per month and currency).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatementItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub entity_type: String,
    pub statement_id: String,
    pub partner_id: String,
    /// `yyyy-mm` (India time).
    pub month: String,
    pub currency: String,
    /// The balance carried in from the previous statement (negative: refunds exceeded earnings).
    pub opening: i64,
    /// The partner's share of payments posted since the previous statement (normally: the month).
    pub earned: i64,
    /// The partner's share of refunds posted since the previous statement, net of reinstatements.
    pub reversed: i64,
    /// `opening + earned − reversed`.
    pub closing: i64,
    /// What is paid out: the closing balance when positive, else nothing.
    pub payout: i64,
    /// What carries into the next month (`closing − payout`, zero or negative).
    pub carried: i64,
    pub payments: u64,
    pub refunds: u64,
    /// `pending` until an operator confirms the transfer.
    pub payout_status: String,
    /// The statement document in S3, once written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_key: Option<String>,
    pub created_at: String,
}

/// An account's recent login failures (by the hash of its normalised email; TTL'd a day after the last one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginThrottleItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    /// Failures since the last success (or since the item expired).
    #[serde(default)]
    pub failures: u32,
    /// No login is tried before this instant (epoch seconds); 0 = not locked.
    #[serde(default)]
    pub locked_until: i64,
    pub expires_at: i64,
}

impl LoginThrottleItem {
    pub fn new(email_hash: &str, failures: u32, locked_until: i64, expires_at: i64) -> Self {
        let key = keys::login_throttle(email_hash);
        Self { pk: key.pk, sk: key.sk, entity_type: "login_throttle".into(), failures, locked_until, expires_at }
    }
}
