//! Subscription use cases on the Stripe rail: create (Checkout), list, upgrade / downgrade, cancel; payment
//! history and admin refunds. Every change of a subscription is a version-checked write of the subscription
//! together with the entitlement it grants, so concurrent webhooks and API calls never leave the user's tier
//! behind the subscription's state.

use crate::identity::jwt::KeySet;
use crate::identity::{Principal, authenticate};
use crate::model::TokenKind;
use crate::model::{BillingPeriod, Fact, Grant, Price, Provider, RefundStatus, Snapshot, SubscriptionStatus, grant};
use crate::model::{SolutionStatus, Tier};
use crate::payments::stripe::client::{Form, StripeClient, StripeError, field};
use crate::payments::stripe::events;
use crate::platform::clock::Clock;
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, FieldError, codes};
use crate::store::items::{
    CheckoutSlotItem, EntitlementItem, IdempotencyItem, NotificationItem, PaymentItem, ProviderCustomerItem,
    QuotaResetAuditItem, RefundItem, SolutionItem, SubscriptionItem, TierDefinitionItem,
};
use crate::store::{HistoryItem, Store, StoreError, keys, take};
use crate::usage::{Policy, local_day};
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const REQUEST_RECORD_TTL_SECONDS: i64 = 48 * 3_600;
const MAX_SAVE_ATTEMPTS: usize = 8;

/// Unpaid (pending) subscriptions a user may have open at once; they expire a day after creation.
pub const MAX_UNPAID_CHECKOUTS: usize = 5;

#[derive(Debug, Clone)]
pub struct SubscriptionSettings {
    /// How long a past-due subscription keeps its paid tier.
    pub grace_seconds: i64,
    /// Where Checkout sends the user back (`{CHECKOUT_SESSION_ID}` is filled in by Stripe).
    pub success_url: String,
    pub cancel_url: String,
}

impl SubscriptionSettings {
    pub fn new(public_base: &str) -> Self {
        let base = public_base.trim_end_matches('/');
        Self {
            grace_seconds: 7 * 86_400,
            success_url: format!("{base}/billing/success?session_id={{CHECKOUT_SESSION_ID}}"),
            cancel_url: format!("{base}/billing/canceled"),
        }
    }
}

// ---------- requests and answers ----------

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    pub solution_id: String,
    pub tier: Tier,
    pub provider: Provider,
    #[serde(default)]
    pub period: Option<BillingPeriod>,
    /// The buyer's GSTIN, for a B2B tax invoice (format and check digit validated).
    #[serde(default)]
    pub gstin: Option<String>,
    /// The buyer's GST state code (place of supply) when there is no GSTIN, e.g. `29`.
    #[serde(default)]
    pub state: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpgradeRequest {
    pub tier: Tier,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Minor units; the whole remaining amount when absent.
    #[serde(default)]
    pub amount: Option<i64>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Money {
    pub amount: i64,
    pub currency: String,
}

/// A subscription as callers see it (the status with the grace period applied).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionView {
    pub subscription_id: String,
    pub customer_id: String,
    pub solution_id: String,
    pub tier: Tier,
    pub status: SubscriptionStatus,
    pub provider: Provider,
    pub period: BillingPeriod,
    pub price: Money,
    pub current_period_start: Option<String>,
    pub current_period_end: Option<String>,
    pub cancel_at_period_end: bool,
    pub pending_tier: Option<Tier>,
    pub pending_effective_at: Option<String>,
    /// While past due: when the paid tier stops.
    pub grace_until: Option<String>,
    /// While pending: where to pay.
    pub checkout_url: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Created {
    pub subscription_id: String,
    pub status: SubscriptionStatus,
    pub checkout_url: Option<String>,
    pub tier: Tier,
    pub period: BillingPeriod,
    pub price: Money,
    /// PhonePe: the first period's payment (its page is `checkout_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<crate::payments::phonepe::rail::Initiated>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionList {
    pub customer_id: String,
    pub subscriptions: Vec<SubscriptionView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    /// `payment` or `refund`.
    pub kind: &'static str,
    /// The payment id (for a refund: of the refunded payment).
    pub payment_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    /// A refund's status (`pending`, `succeeded`, `failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<RefundStatus>,
    pub provider: Provider,
    pub provider_id: String,
    pub amount: i64,
    pub currency: String,
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solution_id: Option<String>,
    /// A payment that arrived for an invoice that could no longer apply: it granted nothing and is refunded.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unapplied: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct History {
    pub customer_id: String,
    pub items: Vec<HistoryEntry>,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RefundAnswer {
    pub payment_id: String,
    pub provider_refund_id: String,
    /// The provider's status (`pending`, `succeeded`, …); the refund is recorded when its webhook arrives.
    pub status: String,
    pub amount: i64,
    pub currency: String,
}

fn epoch(at: i64) -> Option<String> {
    DateTime::from_timestamp(at, 0).map(rfc3339)
}

/// A deterministic id with our prefix: `<prefix>_` + 26 base32 characters of SHA-256(`seed`). Used where a
/// retry must land on the same id (idempotent creates, payments keyed by the provider's id).
pub fn derived_id(prefix: &str, seed: &str) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let digest = crate::platform::crypto::sha256(seed.as_bytes());
    let mut out = String::with_capacity(prefix.len() + 27);
    out.push_str(prefix);
    out.push('_');
    let mut acc: u32 = 0;
    let mut bits = 0;
    for byte in digest {
        acc = (acc << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 && out.len() < prefix.len() + 27 {
            bits -= 5;
            out.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
        }
    }
    out
}

impl SubscriptionView {
    pub fn of(item: &SubscriptionItem, now: i64, grace_seconds: i64) -> Self {
        let r = &item.reconciled;
        let status = r.status_at(now, grace_seconds).unwrap_or(SubscriptionStatus::Pending);
        let latest = r.latest.as_ref();
        let grace_until = match status {
            SubscriptionStatus::PastDue => r.past_due_start().and_then(|since| epoch(since + grace_seconds)),
            _ => None,
        };
        Self {
            subscription_id: item.subscription_id.clone(),
            customer_id: item.user_id.clone(),
            solution_id: item.solution_id.clone(),
            tier: item.tier,
            status,
            provider: item.provider,
            period: item.period,
            price: Money { amount: item.price.amount, currency: item.price.currency.clone() },
            current_period_start: latest.and_then(|l| epoch(l.period_start)),
            current_period_end: latest.and_then(|l| epoch(l.period_end)),
            // A suspended or retired solution's subscription ends at the period end on either rail.
            cancel_at_period_end: latest.is_some_and(|l| l.cancel_at_period_end) || item.solution_hold.is_some(),
            pending_tier: item.pending_tier,
            pending_effective_at: item.pending_effective_at.and_then(epoch),
            grace_until,
            checkout_url: (status == SubscriptionStatus::Pending).then(|| item.checkout_url.clone()).flatten(),
            created_at: item.created_at.clone(),
            updated_at: item.updated_at.clone(),
        }
    }
}

/// The engine shared by the API and the webhook: version-checked read-modify-write of a subscription with
/// its entitlement.
#[derive(Clone)]
pub struct Ledger {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub grace_seconds: i64,
    /// When the billing run looks at subscriptions (every save records the next time).
    pub schedule: crate::billing::schedule::Schedule,
}

/// A pending (never paid) subscription expires after this long.
pub const PENDING_EXPIRY_SECONDS: i64 = crate::billing::schedule::DAY;

impl Ledger {
    pub fn new(store: Store, clock: Arc<dyn Clock>, grace_seconds: i64) -> Self {
        Self { store, clock, grace_seconds, schedule: crate::billing::schedule::Schedule::default() }
    }
}

impl Ledger {
    /// Load, change with `f` (which returns false for "nothing to do" and may add writes to the same
    /// transaction), save with the entitlement; retried when another writer got there first. Returns the
    /// saved (or unchanged) item.
    pub async fn update<F>(&self, subscription_id: &str, mut f: F) -> Result<Option<SubscriptionItem>, ApiError>
    where
        F: FnMut(&mut SubscriptionItem, &mut Vec<TransactWriteItem>) -> Result<bool, ApiError>,
    {
        for _ in 0..MAX_SAVE_ATTEMPTS {
            let Some(mut item) = self.store.get_subscription(subscription_id).await? else {
                return Ok(None);
            };
            let before = item.clone();
            let mut extra = Vec::new();
            if !f(&mut item, &mut extra)? || item == before && extra.is_empty() {
                return Ok(Some(item));
            }
            self.promote_pending(&mut item);
            let due = crate::billing::schedule::next_due(&item, &self.schedule, self.grace_seconds);
            item.set_billing_due(due);
            let expected = item.version;
            item.version += 1;
            item.updated_at = rfc3339(self.clock.now());
            let entitlement = self.entitlement_for(&item).await?;
            match self.store.save_subscription(&item, expected, entitlement.as_ref(), extra).await {
                Ok(()) => return Ok(Some(item)),
                Err(StoreError::Conditional { index: Some(0) }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::unavailable(1))
    }

    /// A renewal into the period a downgrade was scheduled for makes the scheduled tier current.
    fn promote_pending(&self, item: &mut SubscriptionItem) {
        let (Some(next), Some(at), Some(latest)) =
            (item.pending_tier, item.pending_effective_at, &item.reconciled.latest)
        else {
            return;
        };
        if latest.period_start >= at {
            item.tier = next;
            if let Some(price) = item.pending_price.take() {
                item.price = price;
            }
            item.pending_tier = None;
            item.pending_effective_at = None;
        }
    }

    /// The writes that restart today's quota under `tier`: the day counter back to 0 with the new limit and
    /// an audit record (nothing when there is no counter yet).
    pub async fn quota_restart(
        &self,
        item: &SubscriptionItem,
        tier: Tier,
        by: &str,
    ) -> Result<Vec<TransactWriteItem>, ApiError> {
        let mut found = self.store.batch_get(&Policy::read_keys(&item.solution_id), true).await?;
        let Some(policy) = Policy::from_found(&item.solution_id, &mut found)? else {
            return Ok(Vec::new());
        };
        let now = self.clock.now();
        let today = local_day(now, policy.tz);
        let key = keys::usage_day(&item.user_id, &today.day, &item.solution_id);
        let Some(counter) = self.store.get_counter(&key, true).await? else {
            return Ok(Vec::new());
        };
        let at = rfc3339(now);
        let audit_id = crate::platform::ids::new_id("aud");
        let audit_key = keys::quota_audit(&item.user_id, &item.solution_id, &at, &audit_id);
        let audit = QuotaResetAuditItem {
            pk: audit_key.pk,
            sk: audit_key.sk,
            entity_type: "quota_reset_audit".into(),
            audit_id,
            customer_id: item.user_id.clone(),
            solution_id: item.solution_id.clone(),
            date: today.day,
            previous_used: counter.used,
            reset_by: by.to_owned(),
            reason: format!("upgrade to {} (subscription {})", tier.as_str(), item.subscription_id),
            at,
        };
        Ok(vec![
            self.store.tx_restart_counter(&key, tier, policy.limits(tier).daily)?,
            self.store.tx_put(&audit, Some("attribute_not_exists(PK)"))?,
        ])
    }

    /// The entitlement to write with this version: the subscription's grant; or, when it grants nothing and
    /// was the source of the user's tier, free.
    async fn entitlement_for(&self, item: &SubscriptionItem) -> Result<Option<EntitlementItem>, ApiError> {
        let now = rfc3339(self.clock.now());
        let by = format!("subscription:{}", item.subscription_id);
        let mut g: Option<Grant> = grant(&item.reconciled, item.tier, item.pending_tier, self.grace_seconds);
        // PhonePe does not renew by itself: a paid period grants its tier until its end plus the grace period
        // even if no billing run ever marks it past due.
        if let (Provider::Phonepe, Some(gr), Some(latest)) = (item.provider, g.as_mut(), &item.reconciled.latest)
            && gr.valid_until.is_none()
        {
            gr.valid_until = Some(latest.period_end + self.grace_seconds);
        }
        let g = match g {
            Some(g) => g,
            None => {
                let current = self.store.get_entitlement(&item.user_id, &item.solution_id).await?;
                if current.is_none_or(|c| c.subscription_id.as_deref() != Some(item.subscription_id.as_str())) {
                    return Ok(None);
                }
                Grant::free()
            }
        };
        let mut e = EntitlementItem::new(&item.user_id, &item.solution_id, g.tier, now, &by);
        e.valid_until = g.valid_until;
        e.then_tier = (g.valid_until.is_some()).then_some(g.then);
        e.subscription_id = (g.tier != Tier::Free).then(|| item.subscription_id.clone());
        Ok(Some(e))
    }
}

/// A read snapshot stamped with the version of the subscription it is folded into, so that of two reads in
/// the same second the later one wins.
pub fn at_version(fact: &Fact, version: u64) -> Fact {
    match fact {
        Fact::Snapshot(s) if s.event_id.starts_with("~read:") => Fact::Snapshot(Snapshot {
            event_id: format!("~read:{version:012}:{}", &s.event_id["~read:".len()..]),
            ..s.clone()
        }),
        other => other.clone(),
    }
}

/// A snapshot of a subscription object returned by the Stripe API (not from an event): ordered by the time we
/// read it. Its id starts with `~read:`, which sorts after Stripe's `evt_…` ids: a read at second T reflects
/// every change up to T, so it wins a tie with an event created in the same second.
pub fn api_snapshot(object: &serde_json::Value, label: &str, now: i64) -> Option<(events::SubscriptionObject, Fact)> {
    let s = events::subscription(object)?;
    let snap = Snapshot {
        event_id: format!("~read:{label}"),
        created: now,
        status: s.status?,
        period_start: s.period_start?,
        period_end: s.period_end?,
        cancel_at_period_end: s.cancel_at_period_end,
        price_id: s.price_id.clone(),
    };
    Some((s, Fact::Snapshot(snap)))
}

#[derive(Clone)]
pub struct SubscriptionService {
    pub(crate) ledger: Ledger,
    keys: Arc<KeySet>,
    stripe: StripeClient,
    settings: SubscriptionSettings,
    /// The PhonePe rail, when configured.
    pub(crate) phonepe: Option<crate::payments::phonepe::rail::PhonePeRail>,
    /// Where invoice PDFs are kept, when configured.
    pub(crate) invoice_files: Option<crate::billing::invoiced::InvoiceFiles>,
}

/// One try at creating a subscription.
enum Attempt {
    Done(Box<Created>),
    /// A concurrent checkout for the same solution claimed the slot first.
    SlotTaken,
}

fn not_found() -> ApiError {
    ApiError::not_found(codes::SUBSCRIPTION_NOT_FOUND, "no subscription with this id")
}

fn check_idempotency_key(key: Option<&str>) -> Result<Option<&str>, ApiError> {
    match key {
        Some(k) if k.is_empty() || k.len() > 255 || !k.bytes().all(|b| b.is_ascii_graphic()) => {
            Err(ApiError::field("Idempotency-Key", "must be 1 to 255 printable ASCII characters"))
        }
        other => Ok(other),
    }
}

impl SubscriptionService {
    pub fn new(
        store: Store,
        keys: Arc<KeySet>,
        clock: Arc<dyn Clock>,
        stripe: StripeClient,
        settings: SubscriptionSettings,
    ) -> Self {
        let ledger = Ledger::new(store, clock, settings.grace_seconds);
        Self { ledger, keys, stripe, settings, phonepe: None, invoice_files: None }
    }

    /// Sell on PhonePe too.
    pub fn with_phonepe(
        mut self,
        client: crate::payments::phonepe::client::PhonePeClient,
        settings: crate::payments::phonepe::rail::PhonePeSettings,
        seller: Arc<crate::billing::invoicing::Seller>,
    ) -> Self {
        self.phonepe =
            Some(crate::payments::phonepe::rail::PhonePeRail { ledger: self.ledger.clone(), client, seller, settings });
        self
    }

    /// Keep invoice PDFs in S3 (listed with presigned download URLs).
    pub fn with_invoice_files(mut self, files: crate::billing::invoiced::InvoiceFiles) -> Self {
        self.invoice_files = Some(files);
        self
    }

    pub(crate) fn stripe(&self) -> &StripeClient {
        &self.stripe
    }

    /// Close a Checkout Session at Stripe (only an open one can be: a paid one answers an error).
    pub(crate) async fn expire_checkout(&self, session: &str) -> Result<serde_json::Value, StripeError> {
        let path = format!("/v1/checkout/sessions/{session}/expire");
        self.stripe.post(&path, &Vec::new(), &format!("expire-{session}")).await
    }

    pub(crate) fn store(&self) -> &Store {
        &self.ledger.store
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.ledger.clock.now()
    }

    /// Subscriptions, payments and invoices are the account's own: session tokens only (a solution token,
    /// which partner backends hold, gets 401 `wrong_token_kind`).
    pub async fn authenticate(&self, bearer: Option<&str>) -> Result<Principal, ApiError> {
        authenticate(&self.keys, self.store(), bearer, &[TokenKind::Access]).await
    }

    /// The solution (published) and the price of `tier` for `period`.
    async fn price_of(
        &self,
        solution_id: &str,
        tier: Tier,
        period: BillingPeriod,
        currency: Option<&str>,
        provider: Provider,
    ) -> Result<(SolutionItem, Price), ApiError> {
        let sk = keys::solution(solution_id);
        let own = keys::solution_tier(solution_id, tier.as_str());
        let default = keys::default_tier(tier.as_str());
        let mut found = self.store().batch_get(&[sk.clone(), own.clone(), default.clone()], true).await?;
        let solution: SolutionItem = take::<SolutionItem>(&mut found, &sk)?
            .filter(|s| s.status == SolutionStatus::Published)
            .ok_or_else(|| {
                let mut e = ApiError::not_found(codes::SOLUTION_NOT_FOUND, "no published solution with this id");
                e.errors = vec![FieldError::new("solution_id", "no published solution with this id")];
                e
            })?;
        let own: Option<TierDefinitionItem> = take(&mut found, &own)?;
        let default: Option<TierDefinitionItem> = take(&mut found, &default)?;
        let prices = own.filter(|d| !d.prices.is_empty()).or(default).map(|d| d.prices).unwrap_or_default();
        let price = prices
            .into_iter()
            .find(|p| {
                p.period == period
                    && currency.is_none_or(|c| c == p.currency)
                    && match provider {
                        Provider::Stripe => p.stripe_price_id.is_some(),
                        // PhonePe takes rupees only.
                        Provider::Phonepe => p.currency == "inr",
                    }
            })
            .ok_or_else(|| {
                let mut e = ApiError::new(
                    422,
                    codes::PRICE_NOT_FOUND,
                    "No price",
                    format!("the {} tier has no {} price for this period", tier.as_str(), provider.as_str()),
                );
                e.errors = vec![FieldError::new("tier", "has no price for this period on this provider")];
                e
            })?;
        Ok((solution, price))
    }

    /// `POST /api/subscriptions`: a pending subscription and a Stripe Checkout Session (or PhonePe order) to pay
    /// it. A user has at most one pending subscription per solution: the same request again answers with it,
    /// a different tier, period or provider replaces it (its checkout expired at Stripe, its PhonePe invoice
    /// withdrawn so a late payment is refunded), unless it was paid meanwhile.
    pub async fn create(
        &self,
        caller: &Principal,
        req: CreateRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Created, ApiError> {
        match Box::pin(self.create_attempt(caller, &req, idempotency_key)).await? {
            Attempt::Done(created) => Ok(*created),
            // Another checkout for this solution took the slot first: answer as the request now finds it.
            Attempt::SlotTaken => match Box::pin(self.create_attempt(caller, &req, idempotency_key)).await? {
                Attempt::Done(created) => Ok(*created),
                Attempt::SlotTaken => Err(ApiError::conflict(
                    codes::CHECKOUT_IN_PROGRESS,
                    "another checkout for this solution is being created; retry",
                )),
            },
        }
    }

    async fn create_attempt(
        &self,
        caller: &Principal,
        req: &CreateRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Attempt, ApiError> {
        let idempotency_key = check_idempotency_key(idempotency_key)?;
        let mut errors = Vec::new();
        if !crate::platform::ids::is_valid("sol", &req.solution_id) {
            errors.push(FieldError::new("solution_id", "must be a sol_ id"));
        }
        if !matches!(req.tier, Tier::Pro | Tier::Enterprise) {
            errors.push(FieldError::new("tier", "must be a paid tier (pro or enterprise)"));
        }
        if req.provider == Provider::Phonepe && self.phonepe.is_none() {
            errors.push(FieldError::new("provider", "phonepe is not configured here"));
        }
        let buyer =
            crate::billing::invoiced::buyer_tax_details(req.gstin.as_deref(), req.state.as_deref(), &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let period = req.period.unwrap_or(BillingPeriod::Monthly);
        let fingerprint = crate::platform::crypto::sha256_hex(
            format!(
                "{}\n{}\n{}\n{:?}\n{:?}\n{:?}",
                req.solution_id,
                req.tier.as_str(),
                req.provider.as_str(),
                period,
                req.gstin,
                req.state
            )
            .as_bytes(),
        );
        let record_key = idempotency_key.map(|k| {
            keys::request_idempotency(
                "subscriptions",
                &caller.user_id,
                &crate::platform::crypto::sha256_hex(k.as_bytes()),
            )
        });
        if let Some(key) = &record_key
            && let Some(stored) = self.store().get_request_record(key).await?
        {
            return replay(&stored, &fingerprint).map(|c| Attempt::Done(Box::new(c)));
        }
        // A retry with the same key lands on the same id, so Stripe's own idempotency keys repeat too.
        let subscription_id = match idempotency_key {
            Some(k) => derived_id("sub", &format!("{}\n{k}", caller.user_id)),
            None => crate::platform::ids::new_id("sub"),
        };
        // The buyer's own record says whether their address is verified (read alongside the price).
        let (priced, buyer_account) = Box::pin(async {
            tokio::join!(
                self.price_of(&req.solution_id, req.tier, period, None, req.provider),
                self.store().get_user(&caller.user_id)
            )
        })
        .await;
        let (_, price) = priced?;
        crate::auth::verification::ensure_verified(buyer_account?.as_ref())?;
        let now = self.now();
        // The user's pending subscription to this solution, if any: resumed when asked for again, else replaced.
        let (slot, mine) = Box::pin(async {
            tokio::join!(
                self.store().get_checkout_slot(&caller.user_id, &req.solution_id),
                self.store().user_subscriptions(&caller.user_id)
            )
        })
        .await;
        let (slot, mine) = (slot?, mine?);
        let seen = slot.as_ref().map(|s| s.subscription_id.clone());
        // Unpaid checkouts are capped per user: each one is a provider checkout session or order.
        let unpaid: Vec<i64> = mine
            .iter()
            .filter(|s| {
                s.subscription_id != subscription_id
                    && seen.as_deref() != Some(s.subscription_id.as_str())
                    && matches!(
                        s.reconciled.status_at(now.timestamp(), self.ledger.grace_seconds),
                        None | Some(SubscriptionStatus::Pending)
                    )
            })
            .filter_map(|s| DateTime::parse_from_rfc3339(&s.created_at).ok().map(|t| t.timestamp()))
            .filter(|created| now.timestamp() < created + crate::billing::schedule::DAY)
            .collect();
        if unpaid.len() >= MAX_UNPAID_CHECKOUTS {
            let oldest = unpaid.iter().min().copied().unwrap_or(now.timestamp());
            return Err(ApiError::too_many_requests(
                format!(
                    "{MAX_UNPAID_CHECKOUTS} unpaid checkouts are open; pay or cancel one, or wait until they expire"
                ),
                u64::try_from(oldest + crate::billing::schedule::DAY - now.timestamp()).unwrap_or(1),
            ));
        }
        let open = mine.into_iter().find(|s| {
            s.solution_id == req.solution_id
                && s.subscription_id != subscription_id
                && matches!(
                    s.reconciled.status_at(now.timestamp(), self.ledger.grace_seconds),
                    Some(SubscriptionStatus::Active | SubscriptionStatus::PastDue)
                )
        });
        if let Some(open) = open {
            return Err(ApiError::conflict(
                codes::SUBSCRIPTION_EXISTS,
                "an active subscription to this solution exists; upgrade or cancel it instead",
            )
            .with_extension("subscription_id", open.subscription_id.into()));
        }
        if let Some(slot) = &slot
            && slot.subscription_id != subscription_id
            && let Some(old) = self.store().get_subscription(&slot.subscription_id).await?
            && self.is_pending(&old)
        {
            if slot.fingerprint == fingerprint && self.is_fresh(&old) {
                return Box::pin(self.resume(&old)).await.map(|c| Attempt::Done(Box::new(c)));
            }
            Box::pin(self.give_up_checkout(&old, &subscription_id)).await?;
        }
        let claim = self.store().tx_claim_checkout_slot(
            &CheckoutSlotItem::new(&caller.user_id, &req.solution_id, &subscription_id, &fingerprint, rfc3339(now)),
            seen.as_deref(),
        )?;
        if req.provider == Provider::Phonepe {
            let Some(created) =
                self.create_on_phonepe(caller, req, period, &subscription_id, price, buyer, now, claim).await?
            else {
                return Ok(Attempt::SlotTaken);
            };
            if let Some(key) = &record_key {
                let record = request_record(key, &fingerprint, &created, now)?;
                self.store().put(&record, Some("attribute_not_exists(PK)")).await.or_else(|e| match e {
                    StoreError::Conditional { .. } => Ok(()),
                    e => Err(e),
                })?;
            }
            return Ok(Attempt::Done(Box::new(created)));
        }
        let customer = self.customer_for(caller).await?;
        let stripe_price = price.stripe_price_id.clone().unwrap_or_default();
        let form: Form = vec![
            field("mode", "subscription"),
            field("customer", &customer),
            field("line_items[0][price]", &stripe_price),
            field("line_items[0][quantity]", 1),
            field("success_url", &self.settings.success_url),
            field("cancel_url", &self.settings.cancel_url),
            field("client_reference_id", &subscription_id),
            field("metadata[subscription_id]", &subscription_id),
            field("subscription_data[metadata][subscription_id]", &subscription_id),
            field("subscription_data[metadata][user_id]", &caller.user_id),
            field("subscription_data[metadata][solution_id]", &req.solution_id),
        ];
        let session = self.stripe.post("/v1/checkout/sessions", &form, &format!("checkout-{subscription_id}")).await?;
        let session_id = session.get("id").and_then(|v| v.as_str()).map(str::to_owned);
        let checkout_url = session.get("url").and_then(|v| v.as_str()).map(str::to_owned);
        let (Some(session_id), Some(checkout_url)) = (session_id, checkout_url) else {
            return Err(crate::payments::stripe::client::StripeError::Decode(
                "checkout session without id or url".into(),
            )
            .into());
        };
        let mut item = SubscriptionItem::new(
            &subscription_id,
            &caller.user_id,
            &req.solution_id,
            req.tier,
            period,
            Provider::Stripe,
            price.clone(),
            rfc3339(now),
        );
        item.provider_customer_id = Some(customer);
        item.checkout_session_id = Some(session_id);
        item.checkout_url = Some(checkout_url.clone());
        item.buyer_gstin = buyer.gstin;
        item.buyer_state = buyer.state;
        let created = Created {
            subscription_id: subscription_id.clone(),
            status: SubscriptionStatus::Pending,
            checkout_url: Some(checkout_url),
            tier: req.tier,
            period,
            price: Money { amount: price.amount, currency: price.currency },
            payment: None,
        };
        let record = record_key.as_ref().map(|k| request_record(k, &fingerprint, &created, now)).transpose()?;
        item.set_billing_due(Some(now.timestamp() + PENDING_EXPIRY_SECONDS));
        let slot_index = 1 + usize::from(record.is_some());
        match self.store().create_subscription(&item, record.as_ref(), vec![claim]).await {
            Ok(()) => {
                tracing::info!(subscription_id = %subscription_id, user_id = %caller.user_id, solution_id = %req.solution_id, tier = req.tier.as_str(), "subscription created (pending checkout)");
                Ok(Attempt::Done(Box::new(created)))
            }
            // Lost the slot to a concurrent checkout: this session is never shown, so close it.
            Err(StoreError::Conditional { index: Some(i) }) if i == slot_index => {
                if let Some(session) = &item.checkout_session_id
                    && let Err(e) = self.expire_checkout(session).await
                {
                    tracing::warn!(error = %e, "unused checkout session not expired");
                }
                Ok(Attempt::SlotTaken)
            }
            // The same idempotent request finished first (concurrent retry): answer as it did.
            Err(StoreError::Conditional { .. }) if record_key.is_some() => {
                let stored = match &record_key {
                    Some(k) => self.store().get_request_record(k).await?,
                    None => None,
                };
                match stored {
                    Some(s) => replay(&s, &fingerprint).map(|c| Attempt::Done(Box::new(c))),
                    None => Ok(Attempt::Done(Box::new(created))),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The user's Stripe customer, created once.
    async fn customer_for(&self, caller: &Principal) -> Result<String, ApiError> {
        if let Some(c) = self.store().get_provider_customer("stripe", &caller.user_id).await? {
            return Ok(c.customer_id);
        }
        let form: Form = vec![field("email", &caller.email), field("metadata[user_id]", &caller.user_id)];
        let customer = self.stripe.post("/v1/customers", &form, &format!("customer-{}", caller.user_id)).await?;
        let id = customer.get("id").and_then(|v| v.as_str()).ok_or_else(|| {
            ApiError::from(crate::payments::stripe::client::StripeError::Decode("customer without id".into()))
        })?;
        let item = ProviderCustomerItem::new("stripe", &caller.user_id, id, rfc3339(self.now()));
        Ok(self.store().put_provider_customer("stripe", &item).await?)
    }

    pub(crate) async fn owned(&self, caller: &Principal, subscription_id: &str) -> Result<SubscriptionItem, ApiError> {
        if !crate::platform::ids::is_valid("sub", subscription_id) {
            return Err(not_found());
        }
        let item = self.store().get_subscription(subscription_id).await?.ok_or_else(not_found)?;
        if item.user_id != caller.user_id && !caller.is_admin() {
            return Err(ApiError::forbidden("you may only manage your own subscriptions"));
        }
        Ok(item)
    }

    pub(crate) fn view(&self, item: &SubscriptionItem) -> SubscriptionView {
        SubscriptionView::of(item, self.now().timestamp(), self.ledger.grace_seconds)
    }

    /// `GET /api/subscriptions/{customer_id}` (owner or admin).
    pub async fn list(&self, caller: &Principal, customer_id: &str) -> Result<SubscriptionList, ApiError> {
        if caller.user_id != customer_id && !caller.is_admin() {
            return Err(ApiError::forbidden("you may only read your own subscriptions"));
        }
        let items = self.store().user_subscriptions(customer_id).await?;
        Ok(SubscriptionList {
            customer_id: customer_id.to_owned(),
            subscriptions: items.iter().map(|i| self.view(i)).collect(),
        })
    }

    /// `PUT /api/subscriptions/{id}/upgrade`: a higher tier now (prorated by Stripe, charged at once, the
    /// day's quota restarts under the new tier); a lower tier at the end of the period; the current tier
    /// again cancels a scheduled downgrade.
    pub async fn change_tier(
        &self,
        caller: &Principal,
        subscription_id: &str,
        req: UpgradeRequest,
    ) -> Result<crate::billing::invoiced::TierChange, ApiError> {
        let item = self.owned(caller, subscription_id).await?;
        let now = self.now();
        let status = item.reconciled.status_at(now.timestamp(), self.ledger.grace_seconds);
        // A PhonePe renewal invoice is open: it is the one to pay (a tier change would not replace it).
        if item.provider == Provider::Phonepe
            && status == Some(SubscriptionStatus::PastDue)
            && item.open_invoice_id.is_some()
        {
            return Err(ApiError::conflict(
                codes::RENEWAL_UNPAID,
                "the renewal invoice is unpaid: pay it first, then change the tier",
            ));
        }
        if status != Some(SubscriptionStatus::Active) {
            return Err(ApiError::conflict(
                codes::SUBSCRIPTION_NOT_ACTIVE,
                "only an active subscription can change tier",
            ));
        }
        if !matches!(req.tier, Tier::Pro | Tier::Enterprise) {
            return Err(ApiError::field("tier", "must be a paid tier; cancel the subscription to go back to free"));
        }
        if req.tier == item.tier && item.pending_tier.is_none() {
            return Err(ApiError::field("tier", "is already the subscription's tier"));
        }
        if item.provider == Provider::Phonepe {
            let currency = item.price.currency.clone();
            let (_, price) =
                self.price_of(&item.solution_id, req.tier, item.period, Some(&currency), item.provider).await?;
            let change = self.change_tier_on_phonepe(item, &req, price).await?;
            tracing::info!(subscription_id = %subscription_id, tier = req.tier.as_str(), by = %caller.user_id, "tier change (phonepe)");
            return Ok(change);
        }
        let (Some(stripe_sub), Some(stripe_item)) = (&item.provider_subscription_id, &item.provider_item_id) else {
            return Err(ApiError::conflict(codes::SUBSCRIPTION_NOT_ACTIVE, "the subscription is not set up yet"));
        };
        let (_, price) =
            self.price_of(&item.solution_id, req.tier, item.period, Some(&item.price.currency), item.provider).await?;
        let upgrade = req.tier > item.tier;
        let form: Form = vec![
            field("items[0][id]", stripe_item),
            field("items[0][price]", price.stripe_price_id.clone().unwrap_or_default()),
            // Upgrade: prorate and invoice the difference now, refusing the change if the payment fails.
            // Downgrade (or undoing one): no proration; the next renewal bills the new price.
            field("proration_behavior", if upgrade { "always_invoice" } else { "none" }),
            field("payment_behavior", if upgrade { "error_if_incomplete" } else { "allow_incomplete" }),
            field("metadata[subscription_id]", &item.subscription_id),
        ];
        let idem = format!("tier-{}-{}-{}", item.subscription_id, item.version, req.tier.as_str());
        let object = self.stripe.post(&format!("/v1/subscriptions/{stripe_sub}"), &form, &idem).await?;
        let snapshot = api_snapshot(&object, &idem, now.timestamp()).map(|(_, f)| f);
        let restart =
            if upgrade { self.ledger.quota_restart(&item, req.tier, &caller.user_id).await? } else { Vec::new() };
        let tier = req.tier;
        let saved = self
            .ledger
            .update(subscription_id, |s, extra| {
                if let Some(f) = &snapshot {
                    s.reconciled.apply(at_version(f, s.version));
                }
                if upgrade || tier == s.tier {
                    s.tier = tier;
                    s.price = price.clone();
                    s.pending_tier = None;
                    s.pending_price = None;
                    s.pending_effective_at = None;
                } else {
                    s.pending_tier = Some(tier);
                    s.pending_price = Some(price.clone());
                    s.pending_effective_at = s.reconciled.latest.as_ref().map(|l| l.period_end);
                }
                extra.clone_from(&restart);
                Ok(true)
            })
            .await?
            .ok_or_else(not_found)?;
        if upgrade {
            let note = NotificationItem::new(
                &format!("upgrade:{}:{}", saved.subscription_id, saved.version),
                "upgrade_confirmation",
                &saved.user_id,
                Some(&saved.solution_id),
                serde_json::json!({"subscription_id": saved.subscription_id, "tier": tier, "price": saved.price}),
                rfc3339(now),
            );
            self.store().put_notification_once(&note).await?;
        }
        tracing::info!(subscription_id = %subscription_id, tier = tier.as_str(), upgrade, by = %caller.user_id, "tier change");
        Ok(crate::billing::invoiced::TierChange { subscription: self.view(&saved), payment: None })
    }

    /// `DELETE /api/subscriptions/{id}`: cancel at period end (access continues until then);
    /// `immediately` (admins only) ends it now. A pending subscription is abandoned.
    pub async fn cancel(
        &self,
        caller: &Principal,
        subscription_id: &str,
        immediately: bool,
    ) -> Result<SubscriptionView, ApiError> {
        if immediately && !caller.is_admin() {
            return Err(ApiError::forbidden("only admins may cancel immediately"));
        }
        let item = self.owned(caller, subscription_id).await?;
        if item.provider == Provider::Phonepe {
            let saved = self.cancel_on_phonepe(&item, immediately).await?;
            tracing::info!(subscription_id = %subscription_id, immediately, by = %caller.user_id, "subscription canceled (phonepe)");
            return Ok(self.view(&saved));
        }
        let now = self.now().timestamp();
        let status = item.reconciled.status_at(now, self.ledger.grace_seconds).unwrap_or(SubscriptionStatus::Pending);
        let fact = match (status, &item.provider_subscription_id) {
            (SubscriptionStatus::Canceled | SubscriptionStatus::Expired, _) => return Ok(self.view(&item)),
            (_, Some(stripe_sub)) => {
                let idem = format!("cancel-{}-{}-{immediately}", item.subscription_id, item.version);
                let object = if immediately {
                    self.stripe.delete(&format!("/v1/subscriptions/{stripe_sub}"), &idem).await?
                } else {
                    let form = vec![field("cancel_at_period_end", "true")];
                    self.stripe.post(&format!("/v1/subscriptions/{stripe_sub}"), &form, &idem).await?
                };
                api_snapshot(&object, &idem, now).map(|(_, f)| f)
            }
            (_, None) => {
                // Not paid yet: close the checkout (best effort: it may have completed meanwhile, and then the
                // subscription's events win by their later time).
                if let Some(session) = &item.checkout_session_id
                    && let Err(e) = self.expire_checkout(session).await
                {
                    tracing::warn!(error = %e, "checkout session not expired");
                }
                Some(Fact::Snapshot(Snapshot::never_paid(format!("~read:abandon-{}", item.subscription_id), now)))
            }
        };
        let saved = self
            .ledger
            .update(subscription_id, |s, _| {
                if let Some(f) = &fact {
                    s.reconciled.apply(at_version(f, s.version));
                }
                // Canceled by the subscriber while its solution is suspended: a reinstatement leaves it canceled.
                if let Some(hold) = s.solution_hold.as_mut() {
                    hold.subscriber_canceled = true;
                }
                Ok(true)
            })
            .await?
            .ok_or_else(not_found)?;
        tracing::info!(subscription_id = %subscription_id, immediately, by = %caller.user_id, "subscription canceled");
        Ok(self.view(&saved))
    }

    /// `GET /api/payments/history`: the caller's payments and refunds, newest first (admins may name a
    /// customer).
    pub async fn history(
        &self,
        caller: &Principal,
        customer_id: Option<&str>,
        cursor: Option<&str>,
        limit: Option<&str>,
    ) -> Result<History, ApiError> {
        let (customer, limit) = list_request(caller, customer_id, limit, "payments")?;
        let page = self
            .store()
            .payment_history(customer, limit, cursor)
            .await?
            .map_err(|()| ApiError::field("cursor", "is not a cursor of this list"))?;
        let items = page
            .items
            .into_iter()
            .map(|entry| match entry {
                HistoryItem::Payment(p) => HistoryEntry {
                    kind: "payment",
                    payment_id: p.payment_id,
                    refund_id: None,
                    status: None,
                    provider: p.provider,
                    provider_id: p.provider_payment_id,
                    amount: p.amount,
                    currency: p.currency,
                    at: p.captured_at,
                    subscription_id: p.subscription_id,
                    solution_id: p.solution_id,
                    unapplied: p.unapplied,
                },
                HistoryItem::Refund(r) => HistoryEntry {
                    kind: "refund",
                    payment_id: r.payment_id,
                    refund_id: Some(r.refund_id),
                    status: Some(r.status),
                    provider: r.provider,
                    provider_id: r.provider_refund_id,
                    amount: r.amount,
                    currency: r.currency,
                    at: r.refunded_at,
                    subscription_id: None,
                    solution_id: None,
                    unapplied: false,
                },
            })
            .collect();
        Ok(History { customer_id: customer.to_owned(), items, cursor: page.cursor })
    }

    /// `POST /api/payments/{id}/refund` (admin): ask Stripe for a refund; it is recorded when Stripe
    /// reports it (`refund.*`, `charge.refunded`).
    pub async fn refund(
        &self,
        caller: &Principal,
        payment_id: &str,
        req: RefundRequest,
        idempotency_key: Option<&str>,
    ) -> Result<RefundAnswer, ApiError> {
        if !caller.is_admin() {
            return Err(ApiError::forbidden("only admins may refund"));
        }
        let idempotency_key = check_idempotency_key(idempotency_key)?;
        let missing = || ApiError::not_found(codes::PAYMENT_NOT_FOUND, "no payment with this id");
        if !crate::platform::ids::is_valid("pay", payment_id) {
            return Err(missing());
        }
        let reason = req.reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(ApiError::field("reason", "must be 1 to 500 characters"));
        }
        let (payment, refunds) = self.store().payment_with_refunds(payment_id).await?;
        let payment: PaymentItem = payment.ok_or_else(missing)?;
        let refunded: i64 = refunds.iter().filter(|r: &&RefundItem| r.status.counts()).map(|r| r.amount).sum();
        let remaining = payment.amount - refunded;
        let amount = req.amount.unwrap_or(remaining);
        if amount <= 0 || amount > remaining {
            let mut e = ApiError::new(
                422,
                codes::REFUND_EXCEEDS_PAYMENT,
                "Refund too large",
                format!("at most {remaining} {} can be refunded", payment.currency),
            );
            e.errors = vec![FieldError::new("amount", format!("must be from 1 to {remaining}"))];
            return Err(e);
        }
        if payment.provider == Provider::Phonepe {
            let key = match idempotency_key {
                Some(k) => crate::platform::crypto::sha256_hex(k.as_bytes()),
                None => crate::platform::ids::new_id("rfq"),
            };
            return self.rail()?.refund(&payment, amount, &key).await;
        }
        let target = if payment.provider_payment_id.starts_with("pi_") {
            "payment_intent"
        } else if payment.provider_payment_id.starts_with("ch_") || payment.provider_payment_id.starts_with("py_") {
            "charge"
        } else {
            return Err(ApiError::field("payment_id", "this payment has no refundable charge"));
        };
        let form: Form = vec![
            field(target, &payment.provider_payment_id),
            field("amount", amount),
            field("reason", "requested_by_customer"),
            field("metadata[payment_id]", payment_id),
            field("metadata[requested_by]", &caller.user_id),
            field("metadata[reason]", reason),
        ];
        let idem = match idempotency_key {
            Some(k) => format!("refund-{payment_id}-{}", crate::platform::crypto::sha256_hex(k.as_bytes())),
            None => format!("refund-{payment_id}-{}", crate::platform::ids::new_id("rfq")),
        };
        let refund = self.stripe.post("/v1/refunds", &form, &idem).await?;
        let text = |k: &str| refund.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        tracing::info!(payment_id, amount, by = %caller.user_id, "refund requested");
        Ok(RefundAnswer {
            payment_id: payment_id.to_owned(),
            provider_refund_id: text("id"),
            status: text("status"),
            amount: refund.get("amount").and_then(serde_json::Value::as_i64).unwrap_or(amount),
            currency: payment.currency,
        })
    }
}

/// The stored answer of an idempotent create.
fn request_record(
    key: &keys::Key,
    fingerprint: &str,
    created: &Created,
    now: DateTime<Utc>,
) -> Result<IdempotencyItem, ApiError> {
    Ok(IdempotencyItem {
        pk: key.pk.clone(),
        sk: key.sk.clone(),
        entity_type: "request_record".into(),
        fingerprint: fingerprint.to_owned(),
        answer: serde_json::to_string(created).map_err(ApiError::internal)?,
        metadata: None,
        created_at: rfc3339(now),
        expires_at: now.timestamp() + REQUEST_RECORD_TTL_SECONDS,
    })
}

/// A list request of a customer's `what`: whose (the caller's, or any customer's for an admin) and the page
/// size (`limit`: 1 to 100, 25 when absent).
pub(crate) fn list_request<'a>(
    caller: &'a Principal,
    customer_id: Option<&'a str>,
    limit: Option<&str>,
    what: &str,
) -> Result<(&'a str, i32), ApiError> {
    let customer = customer_id.unwrap_or(&caller.user_id);
    if customer != caller.user_id && !caller.is_admin() {
        return Err(ApiError::forbidden(format!("you may only read your own {what}")));
    }
    let limit = match limit {
        None => 25,
        Some(raw) => raw
            .parse::<i32>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| ApiError::field("limit", "must be an integer from 1 to 100"))?,
    };
    Ok((customer, limit))
}

fn replay(stored: &IdempotencyItem, fingerprint: &str) -> Result<Created, ApiError> {
    if stored.fingerprint != fingerprint {
        let mut e =
            ApiError::conflict(codes::IDEMPOTENCY_KEY_REUSED, "this idempotency key was used for a different request");
        e.errors = vec![FieldError::new("Idempotency-Key", "was used for a different request")];
        return Err(e);
    }
    serde_json::from_str(&stored.answer).map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_valid_and_stable() {
        let a = derived_id("pay", "stripe:pi_123");
        assert!(crate::platform::ids::is_valid("pay", &a), "{a}");
        assert_eq!(a, derived_id("pay", "stripe:pi_123"));
        assert_ne!(a, derived_id("pay", "stripe:pi_124"));
    }
}
