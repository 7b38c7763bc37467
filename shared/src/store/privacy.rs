//! Data rights in the store: every item about one user, read a bounded page at a time (the export), and the
//! writes of an erasure (each idempotent, so a retry after a crash resumes; the tombstone is written last).
//!
//! Where each kind is found: the user's partition (`USER#<id>`: profile, tiers, partner link, personal
//! organization guard, verification-mail counter), the user's GSI1 lists (tokens, organizations, subscriptions,
//! payments and refunds, invoices), the usage partition (`USAGE#<id>`), the invitations to the address (GSI2),
//! the reviews (`SOLUTION#<sol>`, `REVIEW#<id>` of the solutions the user used or paid for), the postings of the
//! user's payments and refunds (`POSTING#<source>`), the audit records about the user (`AUDIT#user#<id>`), and
//! the partner the user applied as (its API keys, solutions and statements).

use super::audit::AuditItem;
use super::invoices::InvoiceItem;
use super::ledger::PostingItem;
use super::partners::PartnerItem;
use super::reviews::ReviewItem;
use super::tokens::TokenItem;
use super::usage::UsageCounterItem;
use super::users::UserItem;
use super::{Item, Store, StoreError, build_err, classify, from_item, keys};
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Items one request reads (a page of a partition or an index).
pub const READ_PAGE: i32 = 100;
/// Deletes in one `TransactWriteItems` (each authorized as a `DeleteItem`).
const DELETE_BATCH: usize = 25;

/// What is left of an erased account: its id (the pseudonymous key that invoices, postings, payments and audit
/// records keep), when it was created and erased, and until when the kept records must be kept. No email, no
/// name, no password hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErasedAccountItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub user_id: String,
    pub created_at: String,
    pub erased_at: String,
    /// The latest date a kept record (an invoice, its PDF, a posting) must be kept until (`yyyy-mm-dd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_kept_until: Option<String>,
}

impl ErasedAccountItem {
    pub fn new(user_id: &str, created_at: &str, erased_at: &str, records_kept_until: Option<String>) -> Self {
        let key = keys::erased_account(user_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "erased_account".into(),
            user_id: user_id.into(),
            created_at: created_at.into(),
            erased_at: erased_at.into(),
            records_kept_until,
        }
    }
}

/// At most a bound of items of one kind: `truncated` when there were more.
#[derive(Debug, Clone, PartialEq)]
pub struct Bounded<T> {
    pub items: Vec<T>,
    pub truncated: bool,
}

impl<T> Default for Bounded<T> {
    fn default() -> Self {
        Self { items: Vec::new(), truncated: false }
    }
}

/// Where a query reads: the table (a partition) or an index partition.
enum Source<'a> {
    Partition(String),
    Index(&'a str, String),
}

impl Store {
    /// At most `max` items of a partition or index partition, newest first for indexes, `READ_PAGE` at a time.
    async fn bounded_items(&self, source: Source<'_>, max: usize) -> Result<(Vec<Item>, bool), StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let q = self.client.query().table_name(&self.table).limit(READ_PAGE).set_exclusive_start_key(start.take());
            let q = match &source {
                Source::Partition(pk) => q
                    .key_condition_expression("PK = :pk")
                    .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
                    .consistent_read(true),
                Source::Index(index, pk) => {
                    let attr = if *index == keys::GSI2 { keys::GSI2PK } else { keys::GSI1PK };
                    q.index_name(*index)
                        .key_condition_expression("#pk = :pk")
                        .expression_attribute_names("#pk", attr)
                        .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
                        .scan_index_forward(false)
                }
            };
            let page = q.send().await.map_err(classify)?;
            for item in page.items.unwrap_or_default() {
                if out.len() == max {
                    return Ok((out, true));
                }
                out.push(item);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok((out, false)),
            }
        }
    }

    async fn bounded<T: DeserializeOwned>(&self, source: Source<'_>, max: usize) -> Result<Bounded<T>, StoreError> {
        let (items, truncated) = self.bounded_items(source, max).await?;
        Ok(Bounded { items: items.into_iter().map(from_item).collect::<Result<_, _>>()?, truncated })
    }

    /// The tombstone of an erased account.
    pub async fn get_erased_account(&self, user_id: &str) -> Result<Option<ErasedAccountItem>, StoreError> {
        self.get(&keys::erased_account(user_id), true).await
    }

    /// A user's token records (expired ones too, until their TTL removes them), newest first.
    pub async fn user_token_records(&self, user_id: &str, max: usize) -> Result<Bounded<TokenItem>, StoreError> {
        self.bounded(Source::Index(keys::GSI1, keys::user_tokens_partition(user_id)), max).await
    }

    /// A customer's usage counters (days and months), oldest first.
    pub async fn usage_counters(&self, customer_id: &str, max: usize) -> Result<Bounded<UsageCounterItem>, StoreError> {
        self.bounded(Source::Partition(keys::usage_partition(customer_id)), max).await
    }

    /// A user's invoices, newest first.
    pub async fn user_invoice_records(&self, user_id: &str, max: usize) -> Result<Bounded<InvoiceItem>, StoreError> {
        self.bounded(Source::Index(keys::GSI1, keys::user_invoices_partition(user_id)), max).await
    }

    /// The audit records about a user, newest first (the current shape only: user subjects have no older one).
    pub async fn audit_about(&self, subject: &str, max: usize) -> Result<Bounded<AuditItem>, StoreError> {
        let (items, truncated) = self.bounded_items(Source::Partition(keys::audit_partition(subject)), max).await?;
        Ok(Bounded { items: items.into_iter().map(AuditItem::from_stored).collect::<Result<_, _>>()?, truncated })
    }

    /// The postings of payments and refunds (by their ids), those that exist.
    pub async fn postings_of(&self, source_ids: &[String]) -> Result<Vec<PostingItem>, StoreError> {
        let mut out = Vec::new();
        for chunk in source_ids.chunks(100) {
            let wanted: Vec<keys::Key> = chunk.iter().map(|id| keys::posting(id)).collect();
            let mut found = self.batch_get(&wanted, true).await?;
            for key in &wanted {
                if let Some(p) = super::take::<PostingItem>(&mut found, key)? {
                    out.push(p);
                }
            }
        }
        Ok(out)
    }

    /// A user's reviews of these solutions (a review is keyed by solution and user: these are the solutions the
    /// user could have reviewed, those used or paid for).
    pub async fn reviews_by(&self, user_id: &str, solution_ids: &[String]) -> Result<Vec<ReviewItem>, StoreError> {
        let mut out = Vec::new();
        for chunk in solution_ids.chunks(100) {
            let wanted: Vec<keys::Key> = chunk.iter().map(|sol| keys::review(sol, user_id)).collect();
            let mut found = self.batch_get(&wanted, true).await?;
            for key in &wanted {
                if let Some(r) = super::take::<ReviewItem>(&mut found, key)? {
                    out.push(r);
                }
            }
        }
        Ok(out)
    }

    /// Delete items by key, `DELETE_BATCH` per transaction (unconditional: deleting what is gone is a no-op).
    pub async fn delete_keys(&self, keys_to_delete: &[keys::Key]) -> Result<(), StoreError> {
        for chunk in keys_to_delete.chunks(DELETE_BATCH) {
            let mut items = Vec::with_capacity(chunk.len());
            for key in chunk {
                let delete =
                    Delete::builder().table_name(&self.table).set_key(Some(key.to_map())).build().map_err(build_err)?;
                items.push(TransactWriteItem::builder().delete(delete).build());
            }
            self.transact(items).await?;
        }
        Ok(())
    }

    /// Delete every item of a partition except the sort keys in `keep`, a page at a time: the number deleted.
    async fn delete_partition(&self, pk: String, keep: &[&str]) -> Result<usize, StoreError> {
        let mut deleted = 0;
        loop {
            let (items, more) = self.bounded_items(Source::Partition(pk.clone()), READ_PAGE as usize).await?;
            let doomed: Vec<keys::Key> = items
                .iter()
                .filter_map(|i| {
                    let sk = i.get(keys::SK).and_then(|v| v.as_s().ok())?;
                    (!keep.contains(&sk.as_str())).then(|| keys::Key { pk: pk.clone(), sk: sk.clone() })
                })
                .collect();
            self.delete_keys(&doomed).await?;
            deleted += doomed.len();
            if !more || doomed.is_empty() {
                return Ok(deleted);
            }
        }
    }

    /// Delete a customer's usage counters (days and months): how many.
    pub async fn delete_usage(&self, customer_id: &str) -> Result<usize, StoreError> {
        self.delete_partition(keys::usage_partition(customer_id), &[]).await
    }

    /// Delete a user's partition but its profile and tombstone (tiers, partner link, personal-organization
    /// guard, verification-mail counter): how many.
    pub async fn delete_user_extras(&self, user_id: &str) -> Result<usize, StoreError> {
        let profile = keys::user(user_id).sk;
        let tombstone = keys::erased_account(user_id).sk;
        self.delete_partition(keys::user_partition(user_id), &[&profile, &tombstone]).await
    }

    /// Delete an organization whose only member is `user_id`: its membership and its partition (meta, tiers),
    /// provided it still has one member. `false` when it has others now.
    pub async fn delete_sole_member_org(&self, org_id: &str, user_id: &str) -> Result<bool, StoreError> {
        let meta = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(keys::org(org_id).to_map()))
            .condition_expression("attribute_not_exists(PK) OR member_count <= :one")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .build()
            .map_err(build_err)?;
        let member = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(keys::org_member(org_id, user_id).to_map()))
            .build()
            .map_err(build_err)?;
        let items = vec![
            TransactWriteItem::builder().delete(meta).build(),
            TransactWriteItem::builder().delete(member).build(),
        ];
        if !super::applied(self.transact(items).await)? {
            return Ok(false);
        }
        self.delete_partition(keys::org_partition(org_id), &[]).await?;
        Ok(true)
    }

    /// A review with its author and text removed (its rating kept, so the solution's rating summary stands).
    pub async fn anonymise_review(&self, review: &ReviewItem, author: &str, at: &str) -> Result<bool, StoreError> {
        let mut next = review.clone();
        next.author = author.into();
        next.text = String::new();
        next.updated_at = at.into();
        next.version = review.version + 1;
        super::applied(self.transact(vec![self.tx_put_versioned(&next, Some(review.version))?]).await)
    }

    /// A partner with its contact and payout details removed (company, GSTIN and status kept: statements and
    /// the ledger name the partner).
    pub async fn redact_partner(&self, partner: &PartnerItem) -> Result<bool, StoreError> {
        let mut next = partner.clone();
        next.contact_email = String::new();
        next.website = None;
        next.payout_method = None;
        next.payout_masked = None;
        next.payout_sealed = None;
        next.version = partner.version + 1;
        super::applied(self.transact(vec![self.tx_put_versioned(&next, Some(partner.version))?]).await)
    }

    /// The last step of an erasure, at once: the profile and the address's guard deleted (the guard only while
    /// it still names this user, so a new account with the address is never touched), the tombstone and the
    /// audit record written.
    pub async fn finish_erasure(
        &self,
        user: &UserItem,
        tombstone: &ErasedAccountItem,
        audit: &AuditItem,
    ) -> Result<(), StoreError> {
        let guard = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(keys::email(&user.email).to_map()))
            .condition_expression("attribute_not_exists(PK) OR user_id = :uid")
            .expression_attribute_values(":uid", AttributeValue::S(user.user_id.clone()))
            .build()
            .map_err(build_err)?;
        let profile = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(keys::user(&user.user_id).to_map()))
            .build()
            .map_err(build_err)?;
        self.transact(vec![
            TransactWriteItem::builder().delete(guard).build(),
            TransactWriteItem::builder().delete(profile).build(),
            self.tx_put(tombstone, None)?,
            self.tx_put_audit(audit)?,
        ])
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::stored_shape::assert_stored;

    #[test]
    fn the_tombstone_is_stored_under_its_attribute_names() {
        let item =
            ErasedAccountItem::new("usr_1", "2026-01-01T00:00:00Z", "2026-12-03T00:00:00Z", Some("2033-12-31".into()));
        assert_stored(
            &item,
            &keys::erased_account("usr_1"),
            "erased_account",
            &["PK", "SK", "entity_type", "user_id", "created_at", "erased_at", "records_kept_until"],
        );
    }
}
