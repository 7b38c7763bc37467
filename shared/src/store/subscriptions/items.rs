//! The stored items of the subscriptions family: subscriptions and what points at them (provider references,
//! checkout slots, provider customers).

use crate::model::{SolutionStatus, Tier};
use crate::store::{keys, retention};
use serde::{Deserialize, Serialize};

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
    /// Billing periods of a usage-priced price whose overage is not billed yet, oldest first, each with the
    /// terms that price it (kept by the writer; the billing run removes a period once it billed it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usage_periods: Vec<crate::model::UsagePeriod>,
    /// The subscriber's spending cap on overage, minor units of the price's currency per billing period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spending_cap: Option<i64>,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
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
            usage_periods: Vec::new(),
            spending_cap: None,
            version: 0,
            created_at: created_at.clone(),
            updated_at: created_at,
        }
    }
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
    /// [`retention::CHECKOUT_SLOT_DAYS`] after `created_at` (absent on slots written before it was set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
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
            expires_at: retention::after(&created_at, retention::CHECKOUT_SLOT_DAYS).ok(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BillingPeriod, Price, Provider};
    use crate::store::stored_shape::assert_stored;

    const AT: &str = "2026-04-15T10:00:00Z";

    fn price() -> Price {
        Price::new(49_900, "inr", BillingPeriod::Monthly)
    }

    /// A subscription with every optional attribute set.
    fn full_subscription() -> SubscriptionItem {
        let mut s = SubscriptionItem::new(
            "sub_1",
            "usr_1",
            "sol_1",
            Tier::Enterprise,
            BillingPeriod::Monthly,
            Provider::Stripe,
            price(),
            AT.into(),
        );
        s.pending_tier = Some(Tier::Pro);
        s.pending_price = Some(price());
        s.pending_effective_at = Some(1_778_000_000);
        s.provider_customer_id = Some("cus_1".into());
        s.provider_subscription_id = Some("sub_stripe_1".into());
        s.provider_item_id = Some("si_1".into());
        s.checkout_session_id = Some("cs_1".into());
        s.checkout_url = Some("https://checkout.stripe.com/c/cs_1".into());
        s.buyer_gstin = Some("27AAGCB7383J1Z4".into());
        s.buyer_state = Some("27".into());
        s.open_invoice_id = Some("inv_1".into());
        s.billing_done.insert("renewal_notice@1778000000".into());
        s.set_billing_due(Some(1_777_900_000));
        s.replaced_by = Some("sub_2".into());
        s.solution_hold = Some(SubscriptionHold {
            state: SolutionStatus::Suspended,
            seq: 3,
            since: AT.into(),
            subscriber_canceled: true,
        });
        s.version = 6;
        s
    }

    #[test]
    fn the_subscription_family_is_stored_under_its_attribute_names() {
        assert_stored(
            &full_subscription(),
            &keys::subscription("sub_1"),
            "subscription",
            &[
                "PK",
                "SK",
                "GSI1PK",
                "GSI1SK",
                "GSI2PK",
                "GSI2SK",
                "GSI3PK",
                "GSI3SK",
                "entity_type",
                "subscription_id",
                "user_id",
                "solution_id",
                "tier",
                "period",
                "provider",
                "price",
                "pending_tier",
                "pending_price",
                "pending_effective_at",
                "provider_customer_id",
                "provider_subscription_id",
                "provider_item_id",
                "checkout_session_id",
                "checkout_url",
                "reconciled",
                "buyer_gstin",
                "buyer_state",
                "open_invoice_id",
                "billing_done",
                "billing_due_at",
                "replaced_by",
                "solution_hold",
                "version",
                "created_at",
                "updated_at",
            ],
        );

        let reference = ProviderRefItem::new("stripe", "subscription", "sub_stripe_1", "usr_1", Some("sub_1"));
        assert_stored(
            &reference,
            &keys::provider_ref("stripe", "subscription", "sub_stripe_1"),
            "provider_ref",
            &["PK", "SK", "entity_type", "user_id", "subscription_id"],
        );

        let slot = CheckoutSlotItem::new("usr_1", "sol_1", "sub_1", "ab12", AT.into());
        assert_stored(
            &slot,
            &keys::checkout_slot("usr_1", "sol_1"),
            "checkout_slot",
            &[
                "PK",
                "SK",
                "entity_type",
                "user_id",
                "solution_id",
                "subscription_id",
                "fingerprint",
                "created_at",
                "expires_at",
            ],
        );

        let customer = ProviderCustomerItem::new("stripe", "usr_1", "cus_1", AT.into());
        assert_stored(
            &customer,
            &keys::provider_customer("stripe", "usr_1"),
            "provider_customer",
            &["PK", "SK", "entity_type", "user_id", "customer_id", "created_at"],
        );
    }
}
