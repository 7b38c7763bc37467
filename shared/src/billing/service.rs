//! The subscriptions service: create (a hosted checkout on the `HostedRail`, or a first invoice on the
//! `InvoiceRail`) and list; `changes`, `refunds`, `invoiced` and `checkout` extend it. Every change of a
//! subscription goes through `writer`: a version-checked write of the subscription together with the
//! entitlement it grants, so concurrent webhooks and API calls never leave the user's tier behind.

use crate::billing::rail::{CheckoutRequest, HostedRail, InvoiceRail};
use crate::billing::views::{CreateRequest, Created, SubscriptionList, SubscriptionListPage, SubscriptionView};
use crate::billing::writer::{PENDING_EXPIRY_SECONDS, SubscriptionWriter, derived_id};
use crate::identity::jwt::KeySet;
use crate::identity::{Principal, authenticate};
use crate::model::TokenKind;
use crate::model::{BillingPeriod, Price, Provider, SubscriptionStatus};
use crate::model::{SolutionStatus, Tier};
use crate::platform::clock::Clock;
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, FieldError, codes};
use crate::store::solutions::{SolutionItem, TierDefinitionItem};
use crate::store::subscriptions::{CheckoutSlotItem, ProviderCustomerItem, SubscriptionItem};
use crate::store::usage::IdempotencyItem;
use crate::store::{Store, StoreError, keys, take};
use chrono::{DateTime, Utc};
use std::sync::Arc;

const REQUEST_RECORD_TTL_SECONDS: i64 = 48 * 3_600;

/// Unpaid (pending) subscriptions a user may have open at once; they expire a day after creation.
pub const MAX_UNPAID_CHECKOUTS: usize = 5;

/// The page size of `GET /api/subscriptions` when `limit` is absent.
pub const SUBSCRIPTION_PAGE_SIZE: i32 = 20;
/// The page size of the payment history and the invoices when `limit` is absent.
pub const HISTORY_PAGE_SIZE: i32 = 25;

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
use crate::money::Money;

#[derive(Clone)]
pub struct SubscriptionService {
    pub(crate) writer: SubscriptionWriter,
    keys: Arc<KeySet>,
    /// The hosted rail (Stripe).
    pub(crate) stripe: Arc<dyn HostedRail>,
    settings: SubscriptionSettings,
    /// The PhonePe rail, when configured.
    pub(crate) phonepe: Option<Arc<dyn InvoiceRail>>,
    /// Where invoice PDFs are kept, when configured.
    pub(crate) invoice_files: Option<crate::billing::invoicing::InvoiceFiles>,
}

/// One try at creating a subscription.
enum Attempt {
    Done(Box<Created>),
    /// A concurrent checkout for the same solution claimed the slot first.
    SlotTaken,
}

pub(crate) fn not_found() -> ApiError {
    ApiError::not_found(codes::SUBSCRIPTION_NOT_FOUND, "no subscription with this id")
}

pub(crate) fn check_idempotency_key(key: Option<&str>) -> Result<Option<&str>, ApiError> {
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
        stripe: Arc<dyn HostedRail>,
        settings: SubscriptionSettings,
    ) -> Self {
        let writer = SubscriptionWriter::new(store, clock, settings.grace_seconds);
        Self { writer, keys, stripe, settings, phonepe: None, invoice_files: None }
    }

    /// Sell on an invoice rail too (PhonePe), built over this service's subscription writer.
    pub fn with_invoice_rail(mut self, rail: impl FnOnce(SubscriptionWriter) -> Arc<dyn InvoiceRail>) -> Self {
        self.phonepe = Some(rail(self.writer.clone()));
        self
    }

    /// Keep invoice PDFs in S3 (listed with presigned download URLs).
    pub fn with_invoice_files(mut self, files: crate::billing::invoicing::InvoiceFiles) -> Self {
        self.invoice_files = Some(files);
        self
    }

    pub(crate) fn store(&self) -> &Store {
        &self.writer.store
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.writer.clock.now()
    }

    /// Subscriptions, payments and invoices are the account's own: session tokens only (a solution token,
    /// which partner backends hold, gets 401 `wrong_token_kind`).
    pub async fn authenticate(&self, bearer: Option<&str>) -> Result<Principal, ApiError> {
        authenticate(&self.keys, self.store(), bearer, &[TokenKind::Access]).await
    }

    /// The solution (published) and the price of `tier` for `period`.
    pub(crate) async fn price_of(
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
            crate::billing::invoicing::buyer_tax_details(req.gstin.as_deref(), req.state.as_deref(), &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let period = req.period.unwrap_or(BillingPeriod::Monthly);
        // Whom it is for: the caller's own account, or an organization the caller owns.
        let customer = crate::billing::customers::buyer(self.store(), caller, req.org_id.as_deref()).await?;
        let fingerprint = crate::platform::crypto::sha256_hex(
            format!(
                "{}\n{}\n{}\n{:?}\n{:?}\n{:?}\n{}",
                req.solution_id,
                req.tier.as_str(),
                req.provider.as_str(),
                period,
                req.gstin,
                req.state,
                customer
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
                self.store().get_checkout_slot(&customer, &req.solution_id),
                self.store().user_subscriptions(&customer)
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
                        s.reconciled.status_at(now.timestamp(), self.writer.grace_seconds),
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
                    s.reconciled.status_at(now.timestamp(), self.writer.grace_seconds),
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
            &CheckoutSlotItem::new(&customer, &req.solution_id, &subscription_id, &fingerprint, rfc3339(now)),
            seen.as_deref(),
        )?;
        if req.provider == Provider::Phonepe {
            let Some(created) = self
                .create_on_phonepe(caller, &customer, req, period, &subscription_id, price, buyer, now, claim)
                .await?
            else {
                return Ok(Attempt::SlotTaken);
            };
            if let Some(key) = &record_key {
                let record = request_record(key, &fingerprint, &created, now)?;
                self.store().put_new(&record).await.or_else(|e| match e {
                    StoreError::Conditional { .. } => Ok(()),
                    e => Err(e),
                })?;
            }
            return Ok(Attempt::Done(Box::new(created)));
        }
        let stripe_customer = self.customer_for(&customer, &caller.email).await?;
        let price_id = price.stripe_price_id.clone().unwrap_or_default();
        let opened = self
            .stripe
            .open_checkout(CheckoutRequest {
                subscription_id: &subscription_id,
                user_id: &customer,
                solution_id: &req.solution_id,
                customer: &stripe_customer,
                price_id: &price_id,
                success_url: &self.settings.success_url,
                cancel_url: &self.settings.cancel_url,
            })
            .await?;
        let (session_id, checkout_url) = (opened.session_id, opened.url);
        let mut item = SubscriptionItem::new(
            &subscription_id,
            &customer,
            &req.solution_id,
            req.tier,
            period,
            Provider::Stripe,
            price.clone(),
            rfc3339(now),
        );
        item.provider_customer_id = Some(stripe_customer);
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
                tracing::info!(subscription_id = %subscription_id, customer_id = %customer, by = %caller.user_id, solution_id = %req.solution_id, tier = req.tier.as_str(), "subscription created (pending checkout)");
                Ok(Attempt::Done(Box::new(created)))
            }
            // Lost the slot to a concurrent checkout: this session is never shown, so close it.
            Err(StoreError::Conditional { index: Some(i) }) if i == slot_index => {
                if let Some(session) = &item.checkout_session_id
                    && let Err(e) = self.stripe.expire_checkout(session).await
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

    /// The customer's (user's or organization's) Stripe customer, created once (with the buyer's address).
    async fn customer_for(&self, customer_id: &str, email: &str) -> Result<String, ApiError> {
        if let Some(c) = self.store().get_provider_customer("stripe", customer_id).await? {
            return Ok(c.customer_id);
        }
        let id = self.stripe.create_customer(customer_id, email).await?;
        let item = ProviderCustomerItem::new("stripe", customer_id, &id, rfc3339(self.now()));
        Ok(self.store().put_provider_customer("stripe", &item).await?)
    }

    pub(crate) async fn owned(&self, caller: &Principal, subscription_id: &str) -> Result<SubscriptionItem, ApiError> {
        if !crate::platform::ids::is_valid("sub", subscription_id) {
            return Err(not_found());
        }
        let item = self.store().get_subscription(subscription_id).await?.ok_or_else(not_found)?;
        crate::billing::customers::may_manage(self.store(), caller, &item.user_id, "manage subscriptions").await?;
        Ok(item)
    }

    pub(crate) fn view(&self, item: &SubscriptionItem) -> SubscriptionView {
        SubscriptionView::of(item, self.now().timestamp(), self.writer.grace_seconds)
    }

    /// `GET /api/subscriptions/{customer_id}` (owner or admin).
    pub async fn list(&self, caller: &Principal, customer_id: &str) -> Result<SubscriptionList, ApiError> {
        crate::billing::customers::may_read(self.store(), caller, customer_id, "read subscriptions").await?;
        let items = self.store().user_subscriptions(customer_id).await?;
        Ok(SubscriptionList {
            customer_id: customer_id.to_owned(),
            subscriptions: items.iter().map(|i| self.view(i)).collect(),
        })
    }

    /// `GET /api/subscriptions`: one page of a customer's subscriptions (the caller's own when `customer_id` is
    /// absent), newest first, of one solution when `solution_id` is given. Read as `/api/invoices` is: the
    /// customer, an organization's owners and admins, or an admin.
    pub async fn list_page(
        &self,
        caller: &Principal,
        customer_id: Option<&str>,
        solution_id: Option<&str>,
        cursor: Option<&str>,
        limit: Option<&str>,
    ) -> Result<SubscriptionListPage, ApiError> {
        let mut errors = Vec::new();
        if let Some(c) = customer_id
            && !crate::platform::ids::is_valid("usr", c)
            && !crate::platform::ids::is_valid("org", c)
        {
            errors.push(FieldError::new("customer_id", "must be a usr_ or org_ id"));
        }
        if let Some(s) = solution_id
            && !crate::platform::ids::is_valid("sol", s)
        {
            errors.push(FieldError::new("solution_id", "must be a sol_ id"));
        }
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let (customer, limit) =
            list_request(self.store(), caller, customer_id, limit, "subscriptions", SUBSCRIPTION_PAGE_SIZE).await?;
        let page = self
            .store()
            .user_subscriptions_page(customer, solution_id, limit, cursor)
            .await?
            .map_err(|()| ApiError::field("cursor", "is not a cursor of this list"))?;
        Ok(SubscriptionListPage {
            customer_id: customer.to_owned(),
            subscriptions: page.items.iter().map(|i| self.view(i)).collect(),
            next_cursor: page.cursor,
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
    Ok(IdempotencyItem::request_record(
        key,
        fingerprint.to_owned(),
        serde_json::to_string(created).map_err(ApiError::internal)?,
        rfc3339(now),
        now.timestamp() + REQUEST_RECORD_TTL_SECONDS,
    ))
}

/// A list request of a customer's `what`: whose (the caller's, or any customer's for an admin) and the page
/// size (`limit`: 1 to 100, `default_limit` when absent).
pub(crate) async fn list_request<'a>(
    store: &crate::store::Store,
    caller: &'a Principal,
    customer_id: Option<&'a str>,
    limit: Option<&str>,
    what: &str,
    default_limit: i32,
) -> Result<(&'a str, i32), ApiError> {
    let customer = customer_id.unwrap_or(&caller.user_id);
    crate::billing::customers::may_read(store, caller, customer, &format!("read {what}")).await?;
    let limit = match limit {
        None => default_limit,
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
