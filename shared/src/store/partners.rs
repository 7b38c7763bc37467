//! Partners, their API keys and their solutions (by partner and by status) in the store. Every read-modify-write is version-checked (`tx_put_versioned`).

use super::solutions::SolutionItem;
use super::{Item, Store, StoreError, build_err, classify, from_item, keys, to_item};
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

/// A partner: its application (pending, rejected) and, once approved, its profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnerItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    /// Partners by status (`keys::partners_by_status`).
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
    pub entity_type: String,
    pub partner_id: String,
    pub user_id: String,
    pub company: String,
    pub contact_email: String,
    /// `pending`, `approved`, `rejected` or `suspended`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gstin: Option<String>,
    /// How the partner is paid: `bank` or `upi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payout_method: Option<String>,
    /// The payout details as shown to anyone (masked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payout_masked: Option<String>,
    /// The payout details, sealed with AES-256-GCM (`crate::platform::sealed`); never returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payout_sealed: Option<String>,
    /// The platform's commission for this partner in basis points; the default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commission_bp: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    pub created_at: String,
    #[serde(default)]
    pub version: u64,
}

impl PartnerItem {
    pub fn new(
        partner_id: &str,
        user_id: &str,
        company: &str,
        contact_email: &str,
        status: &str,
        created_at: String,
    ) -> Self {
        let key = keys::partner(partner_id);
        let mut item = Self {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: None,
            gsi1sk: None,
            entity_type: "partner".into(),
            partner_id: partner_id.into(),
            user_id: user_id.into(),
            company: company.into(),
            contact_email: contact_email.into(),
            status: String::new(),
            website: None,
            gstin: None,
            payout_method: None,
            payout_masked: None,
            payout_sealed: None,
            commission_bp: None,
            decision_reason: None,
            decided_by: None,
            decided_at: None,
            created_at,
            version: 0,
        };
        item.set_status(status);
        item
    }

    /// Move to `status`, keeping the by-status index entry in step.
    pub fn set_status(&mut self, status: &str) {
        self.status = status.into();
        let gsi = keys::partners_by_status(status, &self.created_at, &self.partner_id);
        self.gsi1pk = Some(gsi.pk);
        self.gsi1sk = Some(gsi.sk);
    }
}

/// The guard that keeps one partner application per user (points at it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnerLinkItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub user_id: String,
    pub partner_id: String,
}

impl PartnerLinkItem {
    pub fn new(user_id: &str, partner_id: &str) -> Self {
        let key = keys::user_partner(user_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "partner_link".into(),
            user_id: user_id.into(),
            partner_id: partner_id.into(),
        }
    }
}

/// A partner API key, stored by the SHA-256 of the key (the key itself is shown once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub entity_type: String,
    pub key_id: String,
    pub partner_id: String,
    pub name: String,
    /// The first characters of the key, to recognise it in a list.
    pub prefix: String,
    /// The solutions the key may act for; empty = every solution of the partner.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub solution_ids: Vec<String>,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

impl ApiKeyItem {
    pub fn new(
        hash_hex: &str,
        key_id: &str,
        partner_id: &str,
        name: &str,
        prefix: &str,
        solution_ids: Vec<String>,
        created_at: String,
    ) -> Self {
        let key = keys::api_key(hash_hex);
        let gsi = keys::partner_api_keys(partner_id, &created_at, key_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: gsi.pk,
            gsi1sk: gsi.sk,
            entity_type: "api_key".into(),
            key_id: key_id.into(),
            partner_id: partner_id.into(),
            name: name.into(),
            prefix: prefix.into(),
            solution_ids,
            created_at,
            revoked_at: None,
        }
    }
}

/// `BatchGetItem` calls in flight at once when reading counters found through a keys-only index.
const BATCH_GETS_IN_FLIGHT: usize = 8;

impl Store {
    /// A put of an item read at `expected_version` (its stored version; the item carries the next one):
    /// fails with `Conditional` when someone else wrote it since. Version 0 also matches an item written
    /// before versions existed; `None` = the item must not exist yet.
    pub fn tx_put_versioned<T: Serialize>(
        &self,
        item: &T,
        expected_version: Option<u64>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut put = Put::builder().table_name(&self.table).set_item(Some(to_item(item)?));
        put = match expected_version {
            None => put.condition_expression("attribute_not_exists(PK)"),
            Some(v) => put
                .condition_expression(if v == 0 {
                    "attribute_exists(PK) AND (attribute_not_exists(#version) OR #version = :v)"
                } else {
                    "#version = :v"
                })
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
        };
        Ok(TransactWriteItem::builder().put(put.build().map_err(build_err)?).build())
    }

    pub async fn get_partner(&self, partner_id: &str) -> Result<Option<PartnerItem>, StoreError> {
        self.get(&keys::partner(partner_id), true).await
    }

    pub async fn get_partner_link(&self, user_id: &str) -> Result<Option<PartnerLinkItem>, StoreError> {
        self.get(&keys::user_partner(user_id), true).await
    }

    /// Record a new application and point the user at it. `replacing` is the rejected application the
    /// user's link pointed at (it must still point there), `None` when the user has none.
    pub async fn put_application(
        &self,
        partner: &PartnerItem,
        link: &PartnerLinkItem,
        replacing: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut link_put = Put::builder().table_name(&self.table).set_item(Some(to_item(link)?));
        link_put = match replacing {
            None => link_put.condition_expression("attribute_not_exists(PK)"),
            Some(old) => link_put
                .condition_expression("partner_id = :old")
                .expression_attribute_values(":old", AttributeValue::S(old.to_owned())),
        };
        let items = vec![
            TransactWriteItem::builder().put(link_put.build().map_err(build_err)?).build(),
            self.tx_put(partner, Some("attribute_not_exists(PK)"))?,
        ];
        self.transact(items).await
    }

    /// One page of partners in a status, newest first.
    pub async fn partners_page(
        &self,
        status: &str,
        limit: i32,
        after: Option<&str>,
    ) -> Result<Result<(Vec<PartnerItem>, Option<String>), ()>, StoreError> {
        self.gsi1_typed_page(keys::partners_status_partition(status), limit, after).await
    }

    /// Every partner in a status (the monthly statements walk them).
    pub async fn partners_by_status(&self, status: &str) -> Result<Vec<PartnerItem>, StoreError> {
        self.index_partition(keys::GSI1, keys::partners_status_partition(status), true).await
    }

    /// A partner's solutions (every status), newest first.
    pub async fn partner_solutions(&self, partner_id: &str) -> Result<Vec<SolutionItem>, StoreError> {
        self.index_partition(keys::GSI2, keys::partner_solutions_partition(partner_id), false).await
    }

    /// One page of solutions in a status, newest first.
    pub async fn solutions_page(
        &self,
        status: &str,
        limit: i32,
        after: Option<&str>,
    ) -> Result<Result<(Vec<SolutionItem>, Option<String>), ()>, StoreError> {
        self.gsi1_typed_page(keys::solutions_status_partition(status), limit, after).await
    }

    /// A partner's API keys, newest first (every key: a partner has few).
    pub async fn partner_api_keys(&self, partner_id: &str) -> Result<Vec<ApiKeyItem>, StoreError> {
        self.index_partition(keys::GSI1, keys::partner_api_keys_partition(partner_id), false).await
    }

    pub async fn get_api_key(&self, hash_hex: &str, consistent: bool) -> Result<Option<ApiKeyItem>, StoreError> {
        self.get(&keys::api_key(hash_hex), consistent).await
    }

    /// Mark a key revoked (once). `false` when it was revoked already.
    pub async fn revoke_api_key(&self, key: &ApiKeyItem, at: &str) -> Result<bool, StoreError> {
        let k = keys::Key { pk: key.pk.clone(), sk: key.sk.clone() };
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(k.to_map()))
            .update_expression("SET revoked_at = :at")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(revoked_at)")
            .expression_attribute_values(":at", AttributeValue::S(at.to_owned()))
            .send()
            .await;
        super::applied(out.map_err(classify))
    }

    /// Items of a GSI1 partition between two sort keys (inclusive), every page.
    pub async fn gsi1_range(&self, partition: &str, from: &str, to: &str) -> Result<Vec<Item>, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("GSI1PK = :pk AND GSI1SK BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", AttributeValue::S(partition.to_owned()))
            .expression_attribute_values(":lo", AttributeValue::S(from.to_owned()))
            .expression_attribute_values(":hi", AttributeValue::S(to.to_owned()));
        self.query_all(q).await
    }

    /// A solution's day counters between two GSI4 sort keys (inclusive; [`keys::solution_usage_range`]): the
    /// keys from GSI4 (keys only), then the counters by `BatchGetItem` (100 keys a call, a few calls in
    /// flight); plus the counters written before GSI4, still in GSI1 under the same keys until moved (an item
    /// seen in both is returned once; deployment 2 drops this GSI1 half: see `keys`, "GSI4").
    /// Reads: ~0.5 unit per counter (measured on DynamoDB Local: 1,000 counters of ~530 bytes 518.5 read
    /// units, against 38.5 for the GSI1 query of whole items before GSI4).
    pub async fn solution_usage_counters(
        &self,
        solution_id: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let partition = keys::solution_usage_partition(solution_id);
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI4)
            .key_condition_expression("GSI4PK = :pk AND GSI4SK BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", AttributeValue::S(partition.clone()))
            .expression_attribute_values(":lo", AttributeValue::S(from.to_owned()))
            .expression_attribute_values(":hi", AttributeValue::S(to.to_owned()));
        let entries = self.query_all(q).await?;
        let wanted: Vec<keys::Key> = entries
            .iter()
            .map(|e| keys::Key { pk: super::string_attr(e, keys::PK), sk: super::string_attr(e, keys::SK) })
            .collect();
        let mut found = std::collections::BTreeMap::new();
        // Owned chunks: a stream of futures borrowing `wanted` would not be `Send` for every lifetime.
        let chunks: Vec<Vec<keys::Key>> = wanted.chunks(100).map(<[keys::Key]>::to_vec).collect();
        let mut batches = futures::stream::iter(chunks)
            .map(|chunk| async move { self.batch_get(&chunk, false).await })
            .buffer_unordered(BATCH_GETS_IN_FLIGHT);
        while let Some(batch) = batches.next().await {
            found.extend(batch?);
        }
        for item in self.gsi1_range(&partition, from, to).await? {
            let key = (super::string_attr(&item, keys::PK), super::string_attr(&item, keys::SK));
            found.entry(key).or_insert(item);
        }
        Ok(found.into_values().collect())
    }

    /// Items of a table partition between two sort keys (inclusive), every page.
    pub async fn partition_range(&self, partition: &str, from: &str, to: &str) -> Result<Vec<Item>, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND SK BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", AttributeValue::S(partition.to_owned()))
            .expression_attribute_values(":lo", AttributeValue::S(from.to_owned()))
            .expression_attribute_values(":hi", AttributeValue::S(to.to_owned()));
        self.query_all(q).await
    }
}

impl Store {
    pub fn tx_delete(&self, key: &keys::Key) -> Result<TransactWriteItem, StoreError> {
        let delete = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key.to_map()))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }
}

impl Store {
    /// Items of a GSI2 partition between two sort keys (inclusive), every page.
    pub async fn gsi2_range(&self, partition: &str, from: &str, to: &str) -> Result<Vec<Item>, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI2)
            .key_condition_expression("GSI2PK = :pk AND GSI2SK BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", AttributeValue::S(partition.to_owned()))
            .expression_attribute_values(":lo", AttributeValue::S(from.to_owned()))
            .expression_attribute_values(":hi", AttributeValue::S(to.to_owned()));
        self.query_all(q).await
    }

    /// Every statement of a partner (a dozen a year per currency).
    pub async fn statements_of(&self, partner_id: &str) -> Result<Vec<super::ledger::StatementItem>, StoreError> {
        self.index_partition(keys::GSI1, keys::partner_statements_partition(partner_id), true).await
    }
}

impl Store {
    /// One page of a GSI1 partition, newest first, as items of `T` (`Err(())`: the cursor is not of this
    /// partition).
    pub async fn gsi1_typed_page<T: serde::de::DeserializeOwned>(
        &self,
        partition: String,
        limit: i32,
        after: Option<&str>,
    ) -> Result<Result<(Vec<T>, Option<String>), ()>, StoreError> {
        let Ok((items, cursor)) = self.gsi1_page(partition, limit, after).await? else {
            return Ok(Err(()));
        };
        let items = items.into_iter().map(from_item).collect::<Result<Vec<_>, _>>()?;
        Ok(Ok((items, cursor)))
    }

    /// Every item of an index partition (`GSI1` or `GSI2`), as `T`; newest first unless `oldest_first`.
    pub(crate) async fn index_partition<T: serde::de::DeserializeOwned>(
        &self,
        index: &str,
        partition: String,
        oldest_first: bool,
    ) -> Result<Vec<T>, StoreError> {
        let pk = if index == keys::GSI2 { keys::GSI2PK } else { keys::GSI1PK };
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", pk)
            .expression_attribute_values(":pk", AttributeValue::S(partition))
            .scan_index_forward(oldest_first);
        self.query_all(q).await?.into_iter().map(from_item).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::stored_shape::assert_stored;

    #[test]
    fn the_partner_family_is_stored_under_its_attribute_names() {
        let at = "2026-04-15T10:00:00Z";
        let mut partner = PartnerItem::new("prt_1", "usr_1", "Acme", "ops@acme.example", "pending", at.into());
        partner.set_status("approved");
        partner.website = Some("https://acme.example".into());
        partner.gstin = Some("29AAGCB7383J1Z4".into());
        partner.payout_method = Some("upi".into());
        partner.payout_masked = Some("ac***@upi".into());
        partner.payout_sealed = Some("sealed".into());
        partner.commission_bp = Some(1_500);
        partner.decision_reason = Some("looks good".into());
        partner.decided_by = Some("usr_admin".into());
        partner.decided_at = Some(at.into());
        partner.version = 1;
        assert_stored(
            &partner,
            &keys::partner("prt_1"),
            "partner",
            &[
                "PK",
                "SK",
                "GSI1PK",
                "GSI1SK",
                "entity_type",
                "partner_id",
                "user_id",
                "company",
                "contact_email",
                "status",
                "website",
                "gstin",
                "payout_method",
                "payout_masked",
                "payout_sealed",
                "commission_bp",
                "decision_reason",
                "decided_by",
                "decided_at",
                "created_at",
                "version",
            ],
        );

        let link = PartnerLinkItem::new("usr_1", "prt_1");
        assert_stored(
            &link,
            &keys::user_partner("usr_1"),
            "partner_link",
            &["PK", "SK", "entity_type", "user_id", "partner_id"],
        );

        let mut api_key =
            ApiKeyItem::new("ef56", "key_1", "prt_1", "ci", "sk_live_ab", vec!["sol_1".into()], at.into());
        api_key.revoked_at = Some(at.into());
        assert_stored(
            &api_key,
            &keys::api_key("ef56"),
            "api_key",
            &[
                "PK",
                "SK",
                "GSI1PK",
                "GSI1SK",
                "entity_type",
                "key_id",
                "partner_id",
                "name",
                "prefix",
                "solution_ids",
                "created_at",
                "revoked_at",
            ],
        );
    }
}
