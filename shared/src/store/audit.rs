//! Audit records in the store: one item per recorded event (`crate::audit` says which events, who builds
//! them and how long they are kept), under its subject's partition and in two indexes, all sorted by
//! `<at>#<audit_id>`:
//!
//! - the subject's partition (`keys::audit`): everything about one partner, solution, user, payment, …;
//! - GSI1, one partition per UTC day (`keys::audit_day`): everything, newest first, a day at a time;
//! - GSI2, one partition per actor (`keys::audit_actor`): what one admin (or `system`) did.
//!
//! Records written before this shape are read as it ([`AuditItem::from_stored`]): admin decisions about
//! partners and solutions (`entity_type` `audit` with an `action` and no `kind`) and quota resets
//! (`entity_type` `quota_reset_audit`). They are in their subject's partition only (not in the day or actor
//! indexes) and have no expiry.

use super::{Item, Store, StoreError, classify, from_item, keys};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `entity_type` of an audit record.
const AUDIT: &str = "audit";
/// The `entity_type` quota resets were recorded under before they were audit records like the others.
const LEGACY_QUOTA_RESET: &str = "quota_reset_audit";

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    /// The records of a UTC day (`keys::audit_day`); absent on records older than the index.
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
    /// The records of an actor (`keys::audit_actor`); absent on records older than the index.
    #[serde(rename = "GSI2PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi2pk: Option<String>,
    #[serde(rename = "GSI2SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi2sk: Option<String>,
    pub entity_type: String,
    pub audit_id: String,
    /// When, RFC 3339 UTC to the second.
    pub at: String,
    /// What happened: a stable dotted name (`partner.approved`, `auth.login_failed`, …).
    pub kind: String,
    /// Who did it: a user id, or `system`.
    pub actor: String,
    /// What it happened to: `partner#<id>`, `user#<id>`, `customer#<id>/solution#<id>`, …
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A few facts (ids, hashes, amounts, counts): never a secret, token, password or payout detail.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, String>,
    /// The client's address, on security events only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// When DynamoDB deletes it (TTL, epoch seconds); absent on records older than the retention rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl AuditItem {
    /// A record of `kind` by `actor` about `subject` at `at` (RFC 3339 UTC), deleted at `expires_at`, with a new
    /// id; its keys and index entries filled in. Reason, details and address are set on the result.
    pub fn new(kind: &str, actor: &str, subject: &str, at: String, expires_at: i64) -> Self {
        let audit_id = crate::platform::ids::new_id("aud");
        let key = keys::audit(subject, &at, &audit_id);
        let day = keys::audit_day(at.get(..10).unwrap_or_default(), &at, &audit_id);
        let (gsi2pk, gsi2sk) = keys::audit_actor(actor, &at, &audit_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: Some(day.pk),
            gsi1sk: Some(day.sk),
            gsi2pk: Some(gsi2pk),
            gsi2sk: Some(gsi2sk),
            entity_type: AUDIT.into(),
            audit_id,
            at,
            kind: kind.into(),
            actor: actor.into(),
            subject: subject.into(),
            reason: None,
            details: BTreeMap::new(),
            source_ip: None,
            expires_at: Some(expires_at),
        }
    }

    /// A stored record, of this shape or of an older one (read as this shape).
    pub fn from_stored(item: Item) -> Result<Self, StoreError> {
        let entity_type = item.get("entity_type").and_then(|v| v.as_s().ok()).map(String::as_str);
        if entity_type == Some(LEGACY_QUOTA_RESET) {
            return Ok(from_item::<LegacyQuotaReset>(item)?.into());
        }
        if entity_type == Some(AUDIT) && !item.contains_key("kind") {
            return Ok(from_item::<LegacyDecision>(item)?.into());
        }
        from_item(item)
    }
}

/// An admin decision about a partner or a solution as it was stored before audit records had a kind.
#[derive(Debug, Deserialize)]
struct LegacyDecision {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    audit_id: String,
    subject: String,
    /// The partner's new status (`approved`, `rejected`) or the solution's action (`approve`, `suspend`, …).
    action: String,
    actor: String,
    #[serde(default)]
    reason: Option<String>,
    at: String,
}

impl From<LegacyDecision> for AuditItem {
    fn from(old: LegacyDecision) -> Self {
        let family = old.subject.split('#').next().unwrap_or_default();
        let done = match old.action.as_str() {
            "approve" => "approved",
            "reject" => "rejected",
            "suspend" => "suspended",
            "reinstate" => "reinstated",
            "retire" => "retired",
            other => other,
        };
        let mut item = unindexed(old.pk, old.sk, old.audit_id, old.at);
        item.kind = format!("{family}.{done}");
        item.actor = old.actor;
        item.subject = old.subject;
        item.reason = old.reason;
        item
    }
}

/// A quota reset as it was stored before it was an audit record like the others.
#[derive(Debug, Deserialize)]
struct LegacyQuotaReset {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    audit_id: String,
    customer_id: String,
    solution_id: String,
    date: String,
    previous_used: u64,
    /// An admin's user id, the upgrading user's, or `payment:<order>` (an upgrade paid through PhonePe).
    reset_by: String,
    reason: String,
    at: String,
}

impl From<LegacyQuotaReset> for AuditItem {
    fn from(old: LegacyQuotaReset) -> Self {
        let mut details = BTreeMap::from([
            ("date".to_owned(), old.date),
            ("previous_used".to_owned(), old.previous_used.to_string()),
        ]);
        let actor = match old.reset_by.strip_prefix("payment:") {
            Some(order) => {
                details.insert("merchant_order_id".to_owned(), order.to_owned());
                "system".to_owned()
            }
            None => old.reset_by,
        };
        let mut item = unindexed(old.pk, old.sk, old.audit_id, old.at);
        item.kind = "quota.reset".into();
        item.actor = actor;
        item.subject = format!("customer#{}/solution#{}", old.customer_id, old.solution_id);
        item.reason = Some(old.reason);
        item.details = details;
        item
    }
}

/// A record of an older shape as far as every older shape goes: keyed by its subject only, with no expiry (what
/// it says is filled in by its conversion).
fn unindexed(pk: String, sk: String, audit_id: String, at: String) -> AuditItem {
    AuditItem {
        pk,
        sk,
        gsi1pk: None,
        gsi1sk: None,
        gsi2pk: None,
        gsi2sk: None,
        entity_type: AUDIT.into(),
        audit_id,
        at,
        kind: String::new(),
        actor: String::new(),
        subject: String::new(),
        reason: None,
        details: BTreeMap::new(),
        source_ip: None,
        expires_at: None,
    }
}

/// Which records a listing reads: a subject's (table), an actor's (GSI2) or a UTC day's (GSI1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditIndex<'a> {
    Subject(&'a str),
    Actor(&'a str),
    /// A date, `yyyy-mm-dd`.
    Day(&'a str),
}

impl AuditIndex<'_> {
    /// The index name (none for the table), its partition and sort attributes, and the partition.
    fn layout(self) -> (Option<&'static str>, &'static str, &'static str, String) {
        match self {
            Self::Subject(subject) => (None, keys::PK, keys::SK, keys::audit_partition(subject)),
            Self::Actor(actor) => (Some(keys::GSI2), keys::GSI2PK, keys::GSI2SK, keys::audit_actor_partition(actor)),
            Self::Day(date) => (Some(keys::GSI1), keys::GSI1PK, keys::GSI1SK, keys::audit_day_partition(date)),
        }
    }

    /// The attributes of a position in this index: the index's key and the table's.
    fn position_attributes(self) -> Vec<&'static str> {
        let (index, pk, sk, _) = self.layout();
        let mut names = vec![keys::PK, keys::SK];
        if index.is_some() {
            names.extend([pk, sk]);
        }
        names
    }
}

/// Where a read of an index stands after an item: its key attributes, as strings (what a cursor carries).
pub type Position = BTreeMap<String, String>;

/// A read of audit records, newest first.
#[derive(Debug, Default)]
pub struct AuditBatch {
    /// The records read, each with its position (to go on after it).
    pub items: Vec<(AuditItem, Position)>,
    /// Where the next read goes on, when DynamoDB stopped at the limit.
    pub more: Option<Position>,
}

impl Store {
    /// The put of a new audit record, for the transaction of the action it records.
    pub fn tx_put_audit(&self, item: &AuditItem) -> Result<TransactWriteItem, StoreError> {
        self.tx_put_new(item)
    }

    /// Record audit records after the action they record: one `PutItem`, or one transaction for several.
    pub async fn put_audit(&self, items: &[AuditItem]) -> Result<(), StoreError> {
        match items {
            [] => Ok(()),
            [one] => self.put_new(one).await,
            many => self.transact(many.iter().map(|i| self.tx_put_audit(i)).collect::<Result<_, _>>()?).await,
        }
    }

    /// Every audit record about a subject, newest first (older shapes included).
    pub async fn audit_trail(&self, subject: &str) -> Result<Vec<AuditItem>, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(keys::audit_partition(subject)))
            .scan_index_forward(false);
        self.query_all(q).await?.into_iter().map(AuditItem::from_stored).collect()
    }

    /// One read of at most `limit` audit records of `index` at times in `[from, to)` (RFC 3339 UTC), newest
    /// first, after `after` (a position of this index and partition within those times; `Err(())` for any
    /// other).
    pub async fn audit_batch(
        &self,
        index: AuditIndex<'_>,
        from: &str,
        to: &str,
        after: Option<&Position>,
        limit: i32,
    ) -> Result<Result<AuditBatch, ()>, StoreError> {
        let (index_name, pk_attr, sk_attr, partition) = index.layout();
        let (lo, hi) = keys::time_range(from, to);
        let names = index.position_attributes();
        let start = match after {
            None => None,
            Some(position) => {
                let fits = position.len() == names.len()
                    && names.iter().all(|n| position.contains_key(*n))
                    && position.get(pk_attr) == Some(&partition)
                    && position.get(sk_attr).is_some_and(|sk| lo.as_str() <= sk.as_str() && sk.as_str() <= hi.as_str());
                if !fits {
                    return Ok(Err(()));
                }
                Some(position.iter().map(|(k, v)| (k.clone(), AttributeValue::S(v.clone()))).collect::<Item>())
            }
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index_name.map(str::to_owned))
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
            .expression_attribute_names("#pk", pk_attr)
            .expression_attribute_names("#sk", sk_attr)
            .expression_attribute_values(":pk", AttributeValue::S(partition))
            .expression_attribute_values(":lo", AttributeValue::S(lo))
            .expression_attribute_values(":hi", AttributeValue::S(hi))
            .scan_index_forward(false)
            .limit(limit.max(1))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(classify)?;
        let position = |item: &Item| -> Position {
            names
                .iter()
                .filter_map(|n| item.get(*n).and_then(|v| v.as_s().ok()).map(|s| ((*n).to_owned(), s.clone())))
                .collect()
        };
        let mut items = Vec::new();
        for item in out.items.unwrap_or_default() {
            let at = position(&item);
            items.push((AuditItem::from_stored(item)?, at));
        }
        let more = out.last_evaluated_key.filter(|k| !k.is_empty()).map(|k| position(&k));
        Ok(Ok(AuditBatch { items, more }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::stored_shape::assert_stored;

    /// An item's attributes as an older version of the code wrote them.
    fn stored(pairs: &[(&str, &str)], numbers: &[(&str, u64)]) -> Item {
        let mut item: Item = pairs.iter().map(|(k, v)| ((*k).to_owned(), AttributeValue::S((*v).to_owned()))).collect();
        item.extend(numbers.iter().map(|(k, n)| ((*k).to_owned(), AttributeValue::N(n.to_string()))));
        item
    }

    #[test]
    fn an_audit_record_is_stored_under_its_attribute_names() {
        let at = "2026-04-15T10:00:00Z";
        let mut audit = AuditItem::new("auth.login_failed", "usr_1", "user#usr_1", at.into(), 1_810_000_000);
        audit.reason = Some("wrong password".into());
        audit.details.insert("failures".into(), "3".into());
        audit.source_ip = Some("203.0.113.10".into());
        let stored = assert_stored(
            &audit,
            &keys::audit("user#usr_1", at, &audit.audit_id),
            "audit",
            &[
                "PK",
                "SK",
                "GSI1PK",
                "GSI1SK",
                "GSI2PK",
                "GSI2SK",
                "entity_type",
                "audit_id",
                "at",
                "kind",
                "actor",
                "subject",
                "reason",
                "details",
                "source_ip",
                "expires_at",
            ],
        );
        assert_eq!(stored["GSI1PK"].as_s().ok().map(String::as_str), Some("AUDITDAY#2026-04-15"));
        assert_eq!(stored["GSI2PK"].as_s().ok().map(String::as_str), Some("AUDITACTOR#usr_1"));
        assert_eq!(AuditItem::from_stored(stored).expect("reads"), audit);
    }

    #[test]
    fn records_of_the_older_shapes_read_as_audit_records() {
        // An admin decision about a partner, as `store::partners::AuditItem` wrote it.
        let at = "2026-04-15T10:00:00Z";
        let key = keys::audit("partner#prt_1", at, "aud_1");
        let old = stored(
            &[
                ("PK", &key.pk),
                ("SK", &key.sk),
                ("entity_type", "audit"),
                ("audit_id", "aud_1"),
                ("subject", "partner#prt_1"),
                ("action", "rejected"),
                ("actor", "usr_admin"),
                ("reason", "no website"),
                ("at", at),
            ],
            &[],
        );
        let read = AuditItem::from_stored(old).expect("reads");
        assert_eq!(
            (read.kind.as_str(), read.actor.as_str(), read.subject.as_str(), read.reason.as_deref()),
            ("partner.rejected", "usr_admin", "partner#prt_1", Some("no website"))
        );
        assert_eq!((read.gsi1pk, read.expires_at), (None, None));
        let key = keys::audit("solution#sol_1", at, "aud_2");
        let old = stored(
            &[
                ("PK", &key.pk),
                ("SK", &key.sk),
                ("entity_type", "audit"),
                ("audit_id", "aud_2"),
                ("subject", "solution#sol_1"),
                ("action", "suspend"),
                ("actor", "usr_admin"),
                ("at", at),
            ],
            &[],
        );
        let read = AuditItem::from_stored(old).expect("reads");
        assert_eq!((read.kind.as_str(), read.reason), ("solution.suspended", None));

        // A quota reset, as `store::usage::QuotaResetAuditItem` wrote it (by an admin, and by a payment).
        let key = keys::audit("customer#usr_1/solution#sol_1", at, "aud_3");
        assert_eq!(key.pk, "AUDIT#quota#usr_1#sol_1");
        for (by, actor, order) in [("usr_admin", "usr_admin", None), ("payment:po_1", "system", Some("po_1"))] {
            let old = stored(
                &[
                    ("PK", &key.pk),
                    ("SK", &key.sk),
                    ("entity_type", "quota_reset_audit"),
                    ("audit_id", "aud_3"),
                    ("customer_id", "usr_1"),
                    ("solution_id", "sol_1"),
                    ("date", "2026-04-15"),
                    ("reset_by", by),
                    ("reason", "support ticket"),
                    ("at", at),
                ],
                &[("previous_used", 42)],
            );
            let read = AuditItem::from_stored(old).expect("reads");
            assert_eq!(
                (read.kind.as_str(), read.actor.as_str(), read.subject.as_str(), read.reason.as_deref()),
                ("quota.reset", actor, "customer#usr_1/solution#sol_1", Some("support ticket"))
            );
            assert_eq!(read.details.get("previous_used").map(String::as_str), Some("42"));
            assert_eq!(read.details.get("date").map(String::as_str), Some("2026-04-15"));
            assert_eq!(read.details.get("merchant_order_id").map(String::as_str), order);
        }
    }
}
