//! Solutions and tiers: what a user can use, and at which tier.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Anonymous,
    Free,
    Pro,
    Enterprise,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::Anonymous, Tier::Free, Tier::Pro, Tier::Enterprise];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Free => "free",
            Self::Pro => "pro",
            Self::Enterprise => "enterprise",
        }
    }

    /// Platform defaults when a solution sets no limits: (daily, monthly); `None` = unlimited.
    pub fn default_limits(self) -> (Option<u64>, Option<u64>) {
        match self {
            Self::Anonymous => (Some(10), None),
            Self::Free => (Some(100), None),
            Self::Pro => (Some(10_000), None),
            Self::Enterprise => (None, None),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SolutionStatus {
    Draft,
    Submitted,
    Published,
    Suspended,
    Retired,
}

impl SolutionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Submitted => "submitted",
            Self::Published => "published",
            Self::Suspended => "suspended",
            Self::Retired => "retired",
        }
    }
}

/// A tier of a solution as a partner defines it: its limits and what it costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierSpec {
    pub tier: Tier,
    /// `None` = unlimited.
    #[serde(default)]
    pub daily_limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_limit: Option<u64>,
    /// Prices of a paid tier (one per currency and period); none for free tiers.
    #[serde(default)]
    pub prices: Vec<super::Price>,
}

/// Limits an admin set for one tier of a solution (`PUT /api/tier-limits`). They win over the partner's
/// limits of that tier, now and in every change of tiers an admin approves later, until an admin sets the
/// tier's limits again; the partner sees them on its solution (`limit_overrides`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitsOverride {
    /// `None` = unlimited.
    pub daily_limit: Option<u64>,
    pub monthly_limit: Option<u64>,
    /// The admin's user id.
    pub set_by: String,
    pub set_at: String,
}

/// `tiers` with an admin's limits wherever one is in force (`overrides` by tier name).
pub fn with_overrides(
    tiers: &[TierSpec],
    overrides: &std::collections::BTreeMap<String, LimitsOverride>,
) -> Vec<TierSpec> {
    tiers
        .iter()
        .map(|t| match overrides.get(t.tier.as_str()) {
            Some(o) => TierSpec { daily_limit: o.daily_limit, monthly_limit: o.monthly_limit, ..t.clone() },
            None => t.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_order_and_defaults() {
        assert!(Tier::Free < Tier::Pro && Tier::Pro < Tier::Enterprise);
        assert_eq!(Tier::Free.default_limits().0, Some(100));
        assert_eq!(Tier::Enterprise.default_limits().0, None);
        assert_eq!(serde_json::to_string(&Tier::Pro).ok().as_deref(), Some("\"pro\""));
    }
}
