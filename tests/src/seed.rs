//! Seed data: default tier limits, users of each role, a partner and a solution. Used by `devstack` (local
//! stack) and by the tests, so both exercise the same paths as production.

use chrono::{SecondsFormat, Utc};
use shared::ApiError;
use shared::auth::AuthService;
use shared::model::Role;
use shared::model::{SolutionStatus, Tier};
use shared::store::partners::PartnerItem;
use shared::store::solutions::{SolutionItem, TierDefinitionItem};
use shared::store::users::UserItem;
use shared::store::{Store, StoreError};

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
    let partner_id = shared::platform::ids::partner_id();
    let profile = PartnerItem::new(&partner_id, &account.user_id, company, &account.email, "approved", now());
    // The partner and the user's link to it (what `authenticate` finds a partner caller by), as an application
    // writes them.
    let link = shared::store::partners::PartnerLinkItem::new(&account.user_id, &partner_id);
    auth.store().put_application(&profile, &link, None).await?;
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
    solution_with_id(store, &shared::platform::ids::solution_id(), partner_id, name, status).await
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

/// One solution of the seeded catalog: (id suffix, name, category, tags, pro price in paise, rating sum and
/// count, paid subscriptions, description).
type CatalogEntry =
    (&'static str, &'static str, &'static str, &'static [&'static str], i64, u64, u64, u64, &'static str);

const CATALOG: &[CatalogEntry] = &[
    (
        "search",
        "Vector Search API",
        "developer-tools",
        &["search", "ai", "api"],
        49_900,
        46,
        10,
        120,
        "Semantic search over your documents with a single API call.",
    ),
    (
        "invoice",
        "GST Invoice Generator",
        "finance",
        &["gst", "invoices", "india"],
        29_900,
        27,
        6,
        310,
        "Compliant GST tax invoices as PDF, numbered gaplessly per financial year.",
    ),
    (
        "ocr",
        "Document OCR",
        "ai",
        &["ocr", "documents", "ai"],
        99_900,
        18,
        4,
        45,
        "Text, tables and key fields from scanned PDFs and photos.",
    ),
    (
        "sms",
        "SMS Gateway",
        "communication",
        &["sms", "otp", "india"],
        19_900,
        40,
        9,
        280,
        "Transactional SMS and OTPs across Indian operators with delivery reports.",
    ),
    (
        "translate",
        "Indic Translate",
        "ai",
        &["translation", "indic", "ai"],
        59_900,
        9,
        2,
        30,
        "Translation between English and 11 Indian languages.",
    ),
    (
        "maps",
        "Pincode Geocoder",
        "developer-tools",
        &["maps", "geocoding", "india"],
        9_900,
        0,
        0,
        12,
        "Latitude and longitude for every Indian pincode and locality.",
    ),
    (
        "kyc",
        "PAN & Aadhaar KYC",
        "finance",
        &["kyc", "compliance", "india"],
        149_900,
        35,
        8,
        95,
        "Identity checks against PAN and masked Aadhaar, with an audit trail.",
    ),
    (
        "mail",
        "Email Warmup",
        "communication",
        &["email", "deliverability"],
        39_900,
        12,
        4,
        60,
        "Builds sender reputation for new domains before your first campaign.",
    ),
];

/// A browsable catalog for the local stack: published solutions of the demo partner in several categories,
/// with tiers, prices, ratings and popularity, plus a draft and a suspended solution the catalog must never
/// show. Idempotent (fixed ids); returns how many are published.
pub async fn catalog(store: &Store, partner_id: &str, partner_name: &str) -> Result<usize, StoreError> {
    use shared::model::TierSpec;
    use shared::model::{BillingPeriod, Price};
    let price = |amount: i64, currency: &str, period| Price::new(amount, currency, period);
    let mut published = 0;
    let extra: [(&str, &str, SolutionStatus); 2] = [
        ("draftx", "Unreleased Draft", SolutionStatus::Draft),
        ("suspnd", "Suspended Tool", SolutionStatus::Suspended),
    ];
    let entries = CATALOG
        .iter()
        .map(|e| (e.0, e.1, SolutionStatus::Published, Some(e)))
        .chain(extra.iter().map(|(id, name, status)| (*id, *name, *status, None)));
    for (i, (suffix, name, status, entry)) in entries.enumerate() {
        let solution_id = format!("sol_{suffix:0>26}");
        if store.get_solution(&solution_id).await?.is_some() {
            published += usize::from(status == SolutionStatus::Published);
            continue;
        }
        let day = chrono::Utc::now() - chrono::Duration::days(30 - i as i64 * 3);
        let at = day.to_rfc3339_opts(SecondsFormat::Secs, true);
        let description = entry.map_or("Not for the catalog.", |e| e.8);
        let mut item =
            SolutionItem::new(&solution_id, partner_id, name, description, status, "Asia/Kolkata", at.clone());
        item.partner_name = partner_name.into();
        let pro = entry.map_or(49_900, |e| e.4);
        item.tiers = vec![
            TierSpec { tier: Tier::Free, daily_limit: Some(100), monthly_limit: None, prices: vec![] },
            TierSpec {
                tier: Tier::Pro,
                daily_limit: Some(10_000),
                monthly_limit: None,
                prices: vec![price(pro, "inr", BillingPeriod::Monthly), price(pro * 10, "inr", BillingPeriod::Yearly)],
            },
        ];
        if let Some(e) = entry {
            item.category = e.2.into();
            item.tags = e.3.iter().map(|t| (*t).to_owned()).collect();
            item.rating_sum = e.5;
            item.rating_count = e.6;
            item.subscribers = e.7;
            item.published_at = Some(at.clone());
        }
        for t in &item.tiers {
            let mut def = TierDefinitionItem::new(Some(&solution_id), t.tier, t.daily_limit, t.monthly_limit, now());
            def.prices.clone_from(&t.prices);
            store.put_tier_definition(&def).await?;
        }
        store.put(&item, Some("attribute_not_exists(PK)")).await?;
        published += usize::from(status == SolutionStatus::Published);
    }
    Ok(published)
}
