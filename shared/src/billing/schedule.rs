//! The billing schedule: which step each subscription needs next and when. PhonePe has no subscription
//! engine, so for PhonePe subscriptions we are it: a renewal notice before the period ends, a renewal invoice
//! (a payment request) when it ends, reminders while it is unpaid, and the end of the grace period. On both
//! rails, pending subscriptions abandoned for a day expire and downgrades scheduled for a period end apply.
//!
//! Every step has a key `<step>@<period_end>` recorded in the subscription's `billing_done` when done, and a
//! due time; the earliest undone step's time is the subscription's `billing_due_at` (the sparse GSI2 the run
//! queries), recomputed on every save. A step's effects are idempotent (deterministic ids, conditional
//! writes), so a run that repeats or dies midway never does one twice.

use crate::model::{LATE_EVENT_SECONDS, Provider, SubscriptionStatus};
use crate::store::subscriptions::SubscriptionItem;

pub const DAY: i64 = 86_400;

/// When the steps happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Renewal notice this long before a period ends (at least a day before the payment request).
    pub notice_seconds: i64,
    /// Reminders to pay, this many days after a period ended unpaid.
    pub reminder_days: Vec<i64>,
    /// A subscription never paid expires after this long.
    pub pending_expiry_seconds: i64,
}

impl Default for Schedule {
    fn default() -> Self {
        Self { notice_seconds: 3 * DAY, reminder_days: vec![1, 3, 5], pending_expiry_seconds: DAY }
    }
}

impl Schedule {
    /// `BILLING_REMINDER_DAYS` (e.g. `1,3,5`) overrides the reminder days.
    pub fn from_env() -> Result<Self, crate::platform::config::ConfigError> {
        let mut s = Self::default();
        if let Ok(raw) = std::env::var("BILLING_REMINDER_DAYS") {
            let days: Result<Vec<i64>, _> = raw.split(',').map(|d| d.trim().parse::<i64>()).collect();
            match days {
                Ok(d) if d.iter().all(|x| (1..=60).contains(x)) => s.reminder_days = d,
                _ => {
                    return Err(crate::platform::config::ConfigError {
                        name: "BILLING_REMINDER_DAYS",
                        reason: "must be comma-separated days from 1 to 60",
                    });
                }
            }
        }
        Ok(s)
    }
}

/// One thing the billing run does for a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A pending subscription nobody paid: expire it (and withdraw its invoice).
    ExpirePending,
    /// Tell the user the period ends soon and what the renewal costs.
    RenewalNotice,
    /// The period ended: the renewal invoice and a payment request; past due from the period end.
    Renewal,
    /// Still unpaid this many days after the period end: ask again.
    Reminder(i64),
    /// The grace period is over: the tier falls back to free; the invoice is withdrawn; tell the user.
    GraceEnd,
    /// Canceled at period end, and the period ended.
    End,
    /// A downgrade scheduled for the period end takes over (Stripe's renewal may come later).
    Downgrade,
    /// Stripe, a notice period before the end: when the tier's price changed since, Stripe's next renewal is
    /// switched to the price in force (no proration) and the subscriber told, as the PhonePe renewal notice.
    Reprice,
    /// A usage-priced billing period (the one ending at this time) is over, late events included: its
    /// counter is closed and its overage charged on its own (Stripe; PhonePe when no renewal carries it).
    Overage(i64),
}

impl Step {
    fn name(self) -> String {
        match self {
            Self::ExpirePending => "expire-pending".into(),
            Self::RenewalNotice => "notice".into(),
            Self::Renewal => "renewal".into(),
            Self::Reminder(d) => format!("reminder-{d}"),
            Self::GraceEnd => "grace-end".into(),
            Self::End => "end".into(),
            Self::Downgrade => "downgrade".into(),
            Self::Reprice => "reprice".into(),
            Self::Overage(_) => "overage".into(),
        }
    }
}

/// A step with its due time and its once-only key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub step: Step,
    pub at: i64,
    pub key: String,
}

fn due(step: Step, at: i64, period_end: i64) -> Due {
    Due { step, at, key: format!("{}@{period_end}", step.name()) }
}

/// The steps of a subscription's current state not done yet, earliest first.
pub fn pending_steps(item: &SubscriptionItem, schedule: &Schedule, grace_seconds: i64) -> Vec<Due> {
    let r = &item.reconciled;
    let mut steps = Vec::new();
    // The period end whose overage the PhonePe renewal invoice carries (no step of its own).
    let mut renewal_carries = None;
    let created = chrono::DateTime::parse_from_rfc3339(&item.created_at).map(|d| d.timestamp()).unwrap_or(0);
    match r.latest.as_ref() {
        None => steps.push(due(Step::ExpirePending, created + schedule.pending_expiry_seconds, 0)),
        Some(l) if l.status == SubscriptionStatus::Pending => {
            steps.push(due(Step::ExpirePending, created + schedule.pending_expiry_seconds, 0));
        }
        Some(l) => {
            let end = l.period_end;
            if let (Some(_), Some(at)) = (item.pending_tier, item.pending_effective_at)
                && item.provider == Provider::Stripe
                && matches!(l.status, SubscriptionStatus::Active | SubscriptionStatus::PastDue)
            {
                steps.push(due(Step::Downgrade, at, at));
            }
            // Stripe renews by itself; we only carry an approved price change to its next renewal.
            if item.provider == Provider::Stripe
                && l.status == SubscriptionStatus::Active
                && !l.cancel_at_period_end
                && item.solution_hold.is_none()
            {
                steps.push(due(Step::Reprice, end - schedule.notice_seconds, end));
            }
            if item.provider == Provider::Phonepe {
                // A suspended or retired solution renews nobody: the period ends, and nobody is asked to pay.
                let held = item.solution_hold.is_some();
                match l.status {
                    SubscriptionStatus::Active if l.cancel_at_period_end || held => {
                        steps.push(due(Step::End, end, end));
                    }
                    SubscriptionStatus::Active => {
                        steps.push(due(Step::RenewalNotice, end - schedule.notice_seconds, end));
                        // A usage-priced period's renewal invoice carries its overage: issued once late
                        // events can no longer count in it.
                        let metered = item.usage_periods.iter().any(|p| p.end == end);
                        let at = if metered { end + LATE_EVENT_SECONDS } else { end };
                        steps.push(due(Step::Renewal, at, end));
                        renewal_carries = metered.then_some(end);
                    }
                    SubscriptionStatus::PastDue => {
                        let since = r.past_due_start().unwrap_or(l.created);
                        for d in &schedule.reminder_days {
                            if d * DAY < grace_seconds && !held {
                                steps.push(due(Step::Reminder(*d), since + d * DAY, end));
                            }
                        }
                        steps.push(due(Step::GraceEnd, since + grace_seconds, end));
                    }
                    _ => {}
                }
            }
        }
    }
    // Every usage-priced period not billed yet, whatever became of the subscription since.
    for p in &item.usage_periods {
        if renewal_carries != Some(p.end) {
            steps.push(due(Step::Overage(p.end), p.end + LATE_EVENT_SECONDS, p.end));
        }
    }
    steps.retain(|s| !item.billing_done.contains(&s.key));
    steps.sort_by_key(|s| s.at);
    steps
}

/// When the run must next look at the subscription (`None`: nothing left to do).
pub fn next_due(item: &SubscriptionItem, schedule: &Schedule, grace_seconds: i64) -> Option<i64> {
    pending_steps(item, schedule, grace_seconds).first().map(|s| s.at)
}

/// Withdraw an open invoice (its subscription ended unpaid). Idempotent.
pub async fn void_invoice(
    store: &crate::store::Store,
    invoice_id: &str,
    at: String,
) -> Result<(), crate::platform::error::ApiError> {
    use crate::store::invoices::InvoiceStatus;
    for _ in 0..5 {
        let Some(mut invoice) = store.get_invoice(invoice_id).await? else { return Ok(()) };
        if invoice.status != InvoiceStatus::Open {
            return Ok(());
        }
        let expected = invoice.version;
        invoice.status = InvoiceStatus::Void;
        invoice.version += 1;
        invoice.updated_at = at.clone();
        match store.save_invoice(&invoice, expected).await {
            Ok(()) => return Ok(()),
            Err(crate::store::StoreError::Conditional { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(crate::platform::error::ApiError::unavailable(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Tier;
    use crate::model::{BillingPeriod, Fact, Price, Snapshot};

    fn sub(provider: Provider) -> SubscriptionItem {
        let price = Price::new(49_900, "inr", BillingPeriod::Monthly);
        SubscriptionItem::new(
            "sub_1",
            "usr_1",
            "sol_1",
            Tier::Pro,
            BillingPeriod::Monthly,
            provider,
            price,
            "2026-11-01T00:00:00Z".into(),
        )
    }

    fn snap(status: SubscriptionStatus, created: i64, start: i64, end: i64, cancel: bool) -> Fact {
        Fact::Snapshot(Snapshot {
            event_id: format!("e{created}"),
            created,
            status,
            period_start: start,
            period_end: end,
            cancel_at_period_end: cancel,
            price_id: None,
        })
    }

    #[test]
    fn a_phonepe_period_is_noticed_renewed_reminded_and_ended() {
        let s = Schedule::default();
        let grace = 7 * DAY;
        let (start, end) = (1_800_000_000, 1_800_000_000 + 30 * DAY);
        let mut item = sub(Provider::Phonepe);
        assert_eq!(pending_steps(&item, &s, grace)[0].step, Step::ExpirePending);
        item.reconciled.apply(snap(SubscriptionStatus::Active, start, start, end, false));
        let steps = pending_steps(&item, &s, grace);
        assert_eq!(
            steps.iter().map(|d| (d.step, d.at)).collect::<Vec<_>>(),
            vec![(Step::RenewalNotice, end - 3 * DAY), (Step::Renewal, end)]
        );
        item.billing_done.insert(steps[0].key.clone());
        assert_eq!(next_due(&item, &s, grace), Some(end));
        item.reconciled.apply(snap(SubscriptionStatus::PastDue, end, start, end, false));
        let steps: Vec<_> = pending_steps(&item, &s, grace).into_iter().map(|d| (d.step, d.at)).collect();
        assert_eq!(
            steps,
            vec![
                (Step::Reminder(1), end + DAY),
                (Step::Reminder(3), end + 3 * DAY),
                (Step::Reminder(5), end + 5 * DAY),
                (Step::GraceEnd, end + grace)
            ]
        );
        // Paid: the next period's steps, keyed by the new period end.
        let next_end = end + 31 * DAY;
        item.reconciled.apply(snap(SubscriptionStatus::Active, end + 2 * DAY, end, next_end, false));
        assert_eq!(next_due(&item, &s, grace), Some(next_end - 3 * DAY));
    }

    #[test]
    fn a_held_phonepe_subscription_ends_at_period_end_and_renews_again_once_released() {
        let s = Schedule::default();
        let grace = 7 * DAY;
        let (start, end) = (1_800_000_000, 1_800_000_000 + 30 * DAY);
        let mut item = sub(Provider::Phonepe);
        item.reconciled.apply(snap(SubscriptionStatus::Active, start, start, end, false));
        item.solution_hold = Some(crate::store::subscriptions::SubscriptionHold {
            state: crate::model::SolutionStatus::Suspended,
            seq: 3,
            since: "2026-11-02T00:00:00Z".into(),
            subscriber_canceled: false,
        });
        let steps: Vec<_> = pending_steps(&item, &s, grace).into_iter().map(|d| (d.step, d.at)).collect();
        assert_eq!(steps, vec![(Step::End, end)], "no notice, no renewal invoice");
        item.reconciled.apply(snap(SubscriptionStatus::PastDue, end, start, end, false));
        let steps: Vec<_> = pending_steps(&item, &s, grace).into_iter().map(|d| d.step).collect();
        assert_eq!(steps, vec![Step::GraceEnd], "no reminders to pay for a solution nobody can use");
        item.solution_hold = None;
        assert_eq!(pending_steps(&item, &s, grace).len(), 4, "released: reminders again");
    }

    #[test]
    fn cancellation_ends_at_period_end_and_stripe_needs_only_downgrades() {
        let s = Schedule::default();
        let (start, end) = (1_800_000_000, 1_800_000_000 + 30 * DAY);
        let mut item = sub(Provider::Phonepe);
        item.reconciled.apply(snap(SubscriptionStatus::Active, start + 5, start, end, true));
        let steps = pending_steps(&item, &s, 7 * DAY);
        assert_eq!((steps.len(), steps[0].step, steps[0].at), (1, Step::End, end));
        let mut stripe = sub(Provider::Stripe);
        stripe.reconciled.apply(snap(SubscriptionStatus::Active, start, start, end, false));
        // Stripe renews by itself: only a look at the price in force before it does.
        let steps = pending_steps(&stripe, &s, 7 * DAY);
        assert_eq!((steps.len(), steps[0].step, steps[0].at), (1, Step::Reprice, end - 3 * DAY));
        stripe.billing_done.insert(steps[0].key.clone());
        assert_eq!(next_due(&stripe, &s, 7 * DAY), None);
        stripe.pending_tier = Some(Tier::Free);
        stripe.pending_effective_at = Some(end);
        assert_eq!(next_due(&stripe, &s, 7 * DAY), Some(end));
        stripe.reconciled.apply(snap(SubscriptionStatus::Canceled, end, start, end, false));
        assert_eq!(next_due(&stripe, &s, 7 * DAY), None);
    }
}
