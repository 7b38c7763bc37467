//! Seed data: default tier limits, users of each role, a partner and a solution. Used by `devstack` (local
//! stack) and by the tests, so both exercise the same paths as production.

use chrono::{SecondsFormat, Utc};
use shared::ApiError;
use shared::solutions::{SolutionStatus, Tier};
use shared::store::items::{PartnerItem, SolutionItem, TierDefinitionItem, UserItem};
use shared::store::{Store, StoreError};
use shared::tokens::AuthService;
use shared::users::Role;

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The platform's default limits per tier.
pub async fn default_tiers(store: &Store) -> Result<(), StoreError> {
    for tier in Tier::ALL {
        let (daily, monthly) = tier.default_limits();
        store.put_tier_definition(&TierDefinitionItem::new(None, tier, daily, monthly, now())).await?;
    }
    Ok(())
}

/// An account with the given role, created through the same use case as sign-up.
pub async fn user(
    auth: &AuthService,
    email: &str,
    password: &str,
    name: &str,
    role: Role,
) -> Result<UserItem, ApiError> {
    auth.create_account(email, password, name, role, None).await.map(|(u, _)| u)
}

/// A partner: its account (role `partner`) and its approved partner profile.
pub async fn partner(
    auth: &AuthService,
    email: &str,
    password: &str,
    company: &str,
) -> Result<(UserItem, PartnerItem), ApiError> {
    let mut account = user(auth, email, password, company, Role::Partner).await?;
    let partner_id = shared::ids::partner_id();
    let profile = PartnerItem::new(&partner_id, &account.user_id, company, &account.email, "approved", now());
    auth.store().put(&profile, Some("attribute_not_exists(PK)")).await?;
    account.partner_id = Some(partner_id);
    auth.store().put(&account, Some("attribute_exists(PK)")).await?;
    Ok((account, profile))
}

/// A solution of a partner in the given status.
pub async fn solution(
    store: &Store,
    partner_id: &str,
    name: &str,
    status: SolutionStatus,
) -> Result<SolutionItem, StoreError> {
    solution_with_id(store, &shared::ids::solution_id(), partner_id, name, status).await
}

/// The local stack's demo solution has a fixed id so the README walkthrough works verbatim.
pub const DEMO_SOLUTION_ID: &str = "sol_0000000000000000000000demo";

pub async fn solution_with_id(
    store: &Store,
    solution_id: &str,
    partner_id: &str,
    name: &str,
    status: SolutionStatus,
) -> Result<SolutionItem, StoreError> {
    let item = SolutionItem::new(
        solution_id,
        partner_id,
        name,
        &format!("{name}: a demo solution of the local stack"),
        status,
        "UTC",
        now(),
    );
    store.put_solution(&item).await?;
    Ok(item)
}
