//! Partner analytics: per solution and day — active users, usage, subscribers by tier, conversions
//! (anonymous → registered, free → paid) and revenue (gross, tax, commission, net) per currency.
//!
//! Sources, all written by the events themselves (nothing is recounted from scratch):
//! - usage and active users: the day counters, indexed by solution (`keys::solution_usage`, written by the
//!   same `UpdateItem` that counts the use);
//! - anonymous → registered: the solution's day counter `anonymous_to_registered` (written with the sign-up
//!   that carries a visitor's usage into the new account);
//! - revenue, subscribers and free → paid: the revenue postings of the solution (`keys::solution_revenue`):
//!   a subscriber counts on every day its paid period covers, unless the payment was refunded in full.
//!
//! Days are the solution's own: usage days in its time zone, postings by their time in that zone.

use super::{Caller, PartnerService};
use crate::ledger::revenue::{FactKind, RevenueFact, RevenueSource};
use crate::model::OrgRole;
use crate::platform::clock::date_range;
use crate::platform::error::ApiError;
use crate::store::{from_item, keys};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// How far back a paid period can start and still cover a day of the range (yearly plans, with a margin).
const LOOKBACK_DAYS: i64 = 400;

/// A day's usage of one customer (a day counter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub date: NaiveDate,
    pub customer_id: String,
    pub used: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money4 {
    pub gross: i64,
    pub tax: i64,
    pub commission: i64,
    /// The partner's earnings.
    pub net: i64,
    /// Of `gross`: overage (usage beyond tiers' allowances) paid that day.
    #[serde(default)]
    pub overage_gross: i64,
    /// Of `net`: the partner's share of that overage.
    #[serde(default)]
    pub overage_net: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversions {
    pub anonymous_to_registered: u64,
    pub free_to_paid: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayStats {
    pub date: String,
    /// Signed-in users who used the solution that day.
    pub active_users: u64,
    /// Anonymous visitors who used it.
    pub anonymous_visitors: u64,
    /// Units counted.
    pub usage: u64,
    /// Paying subscribers by tier.
    pub subscribers: BTreeMap<String, u64>,
    pub conversions: Conversions,
    /// Per currency; refunds are subtracted on the day they were posted. Empty for members of the partner
    /// whose role does not read revenue (developers, members).
    pub revenue: BTreeMap<String, Money4>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SolutionAnalytics {
    pub solution_id: String,
    pub name: String,
    pub time_zone: String,
    pub days: Vec<DayStats>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartnerAnalytics {
    pub partner_id: String,
    pub from: String,
    pub to: String,
    pub solutions: Vec<SolutionAnalytics>,
}

/// Fold one solution's facts into its days `from..=to` (pure).
pub fn aggregate(
    from: NaiveDate,
    to: NaiveDate,
    tz: Tz,
    usage: &[UsageRow],
    registered: &BTreeMap<NaiveDate, u64>,
    revenue: &[RevenueFact],
) -> Vec<DayStats> {
    let mut days: BTreeMap<NaiveDate, DayStats> = BTreeMap::new();
    let mut d = from;
    while d <= to {
        days.insert(d, DayStats { date: d.format("%Y-%m-%d").to_string(), ..Default::default() });
        match d.succ_opt() {
            Some(n) => d = n,
            None => break,
        }
    }
    for row in usage {
        if let Some(day) = days.get_mut(&row.date) {
            day.usage += row.used;
            if row.customer_id.starts_with("anon:") {
                day.anonymous_visitors += 1;
            } else {
                day.active_users += 1;
            }
        }
    }
    for (date, n) in registered {
        if let Some(day) = days.get_mut(date) {
            day.conversions.anonymous_to_registered += n;
        }
    }
    let local_date = |at: DateTime<Utc>| at.with_timezone(&tz).date_naive();
    // Subscribers: per day, the distinct subscriptions whose paid period covers some part of that day.
    let mut covering: BTreeMap<NaiveDate, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for f in revenue {
        let date = local_date(f.at);
        if let Some(day) = days.get_mut(&date) {
            let m = day.revenue.entry(f.currency.clone()).or_default();
            let sign = if f.kind == FactKind::Payment { 1 } else { -1 };
            m.gross += sign * f.gross;
            m.tax += sign * f.tax;
            m.commission += sign * f.commission;
            m.net += sign * f.partner;
            if let Some(o) = &f.overage {
                m.overage_gross += o.gross;
                m.overage_net += o.partner;
            }
            if f.kind == FactKind::Payment && f.first_payment && !f.fully_refunded {
                day.conversions.free_to_paid += 1;
            }
        }
        let (FactKind::Payment, false, Some((start, end)), Some(sub), Some(tier)) =
            (f.kind, f.fully_refunded, f.period, &f.subscription_id, f.tier)
        else {
            continue;
        };
        for date in days.keys() {
            let day_start = tz.from_local_datetime(&date.and_time(chrono::NaiveTime::MIN)).earliest();
            let Some(day_start) = day_start.map(|t| t.with_timezone(&Utc).timestamp()) else { continue };
            let day_end = day_start + 86_400;
            if start < day_end && end > day_start {
                covering.entry(*date).or_default().entry(tier.as_str().to_owned()).or_default().insert(sub.clone());
            }
        }
    }
    for (date, tiers) in covering {
        if let Some(day) = days.get_mut(&date) {
            day.subscribers = tiers.into_iter().map(|(t, subs)| (t, subs.len() as u64)).collect();
        }
    }
    days.into_values().collect()
}

impl PartnerService {
    /// `GET /api/partners/{id}/analytics?from=&to=` (the owner or an admin).
    pub async fn analytics(
        &self,
        caller: &Caller,
        partner_id: &str,
        from: Option<&str>,
        to: Option<&str>,
        revenue: &(dyn RevenueSource + Sync),
    ) -> Result<PartnerAnalytics, ApiError> {
        self.readable_partner(caller, partner_id).await?;
        let (from, to) = date_range(from, to, self.clock.now().date_naive())?;
        let solutions = self.store.partner_solutions(partner_id).await?;
        let mut out = Vec::new();
        for s in solutions.iter().filter(|s| s.published_at.is_some()) {
            let tz: Tz = s.time_zone.parse().unwrap_or(Tz::UTC);
            let (f, t) = (from.format("%Y-%m-%d").to_string(), to.format("%Y-%m-%d").to_string());
            let (lo, hi) = keys::solution_usage_range(&f, &t);
            let usage = self
                .store
                .solution_usage_counters(&s.solution_id, &lo, &hi)
                .await?
                .into_iter()
                .filter_map(|item| {
                    let c: crate::store::usage::UsageCounterItem = from_item(item).ok()?;
                    let date = NaiveDate::parse_from_str(&c.period, "%Y-%m-%d").ok()?;
                    Some(UsageRow { date, used: c.own_units(), customer_id: c.customer_id })
                })
                .collect::<Vec<_>>();
            let mut registered = BTreeMap::new();
            for (day, n) in self.store.conversions_by_day(&s.solution_id, &f, &t).await? {
                if let Ok(date) = NaiveDate::parse_from_str(&day, "%Y-%m-%d") {
                    registered.insert(date, n);
                }
            }
            let start = tz
                .from_local_datetime(&from.and_time(chrono::NaiveTime::MIN))
                .earliest()
                .map_or_else(|| from.and_time(chrono::NaiveTime::MIN).and_utc(), |t| t.with_timezone(&Utc));
            let end = start + Duration::days((to - from).num_days() + 1);
            let facts = revenue.facts(&s.solution_id, start - Duration::days(LOOKBACK_DAYS), end).await?;
            out.push(SolutionAnalytics {
                solution_id: s.solution_id.clone(),
                name: s.name.clone(),
                time_zone: s.time_zone.clone(),
                days: aggregate(from, to, tz, &usage, &registered, &facts),
            });
        }
        // Money is for the roles that read revenue (owners, admins, finance) and platform admins.
        let sees_revenue = caller.is_admin() || caller.role_in(partner_id).is_some_and(OrgRole::reads_revenue);
        if !sees_revenue {
            for day in out.iter_mut().flat_map(|s| s.days.iter_mut()) {
                day.revenue.clear();
            }
        }
        Ok(PartnerAnalytics {
            partner_id: partner_id.to_owned(),
            from: from.format("%Y-%m-%d").to_string(),
            to: to.format("%Y-%m-%d").to_string(),
            solutions: out,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Tier;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
    }

    fn payment(sub: &str, tier: Tier, posted: &str, start: &str, end: &str, first: bool) -> RevenueFact {
        RevenueFact {
            kind: FactKind::Payment,
            at: at(posted),
            subscription_id: Some(sub.into()),
            tier: Some(tier),
            currency: "inr".into(),
            gross: 49_900,
            tax: 7_612,
            commission: 8_458,
            partner: 33_830,
            period: Some((at(start).timestamp(), at(end).timestamp())),
            first_payment: first,
            overage: None,
            fully_refunded: false,
        }
    }

    #[test]
    fn days_fold_usage_conversions_subscribers_and_revenue() {
        let tz: Tz = "Asia/Kolkata".parse().expect("tz");
        let usage = vec![
            UsageRow { date: date("2026-11-02"), customer_id: "usr_a".into(), used: 7 },
            UsageRow { date: date("2026-11-02"), customer_id: "anon:v1".into(), used: 2 },
            UsageRow { date: date("2026-11-03"), customer_id: "usr_a".into(), used: 1 },
            UsageRow { date: date("2026-12-01"), customer_id: "usr_b".into(), used: 9 },
        ];
        let registered = BTreeMap::from([(date("2026-11-02"), 1)]);
        let mut refunded = payment(
            "sub_2",
            Tier::Enterprise,
            "2026-11-02T10:00:00Z",
            "2026-11-02T10:00:00Z",
            "2026-12-02T10:00:00Z",
            true,
        );
        refunded.fully_refunded = true;
        let refund = RevenueFact { kind: FactKind::Refund, first_payment: false, period: None, ..refunded.clone() };
        let revenue = vec![
            // An October period still covers the first days of November.
            payment("sub_1", Tier::Pro, "2026-10-02T20:00:00Z", "2026-10-02T20:00:00Z", "2026-11-02T20:00:00Z", true),
            payment("sub_1", Tier::Pro, "2026-11-02T20:00:00Z", "2026-11-02T20:00:00Z", "2026-12-02T20:00:00Z", false),
            refunded,
            refund,
        ];
        let days = aggregate(date("2026-11-01"), date("2026-11-03"), tz, &usage, &registered, &revenue);
        assert_eq!(days.len(), 3);
        let d2 = &days[1];
        assert_eq!((d2.date.as_str(), d2.active_users, d2.anonymous_visitors, d2.usage), ("2026-11-02", 1, 1, 9));
        assert_eq!(d2.conversions, Conversions { anonymous_to_registered: 1, free_to_paid: 0 });
        assert_eq!(d2.subscribers, BTreeMap::from([("pro".to_owned(), 1)]), "refunded in full: not a subscriber");
        // 2026-11-02T20:00Z is 2026-11-03 01:30 in India: that renewal's revenue lands on the 3rd.
        assert_eq!(d2.revenue.get("inr"), Some(&Money4::default()));
        assert_eq!(
            days[2].revenue.get("inr"),
            Some(&Money4 { gross: 49_900, tax: 7_612, commission: 8_458, net: 33_830, ..Default::default() })
        );
        assert_eq!(days[0].subscribers.get("pro"), Some(&1));
        assert_eq!(days[0].conversions.free_to_paid, 0, "the conversion was in October");
        let total: u64 = days.iter().map(|d| d.usage).sum();
        assert_eq!(total, 10, "usage outside the range is not counted");
    }

    #[test]
    fn ranges_are_checked() {
        let today = date("2026-11-22");
        assert_eq!(date_range(None, None, today).ok(), Some((date("2026-10-24"), today)));
        assert!(date_range(Some("2026-11-10"), Some("2026-11-01"), today).is_err());
        assert!(date_range(Some("2026-01-01"), Some("2026-11-01"), today).is_err());
        assert!(date_range(Some("yesterday"), None, today).is_err());
    }
}
