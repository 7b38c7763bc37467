//! Partners, their API keys, their solutions (by partner and by status) and admin audit records in the
//! store. Every read-modify-write is version-checked (`tx_put_versioned`).

use super::items::{ApiKeyItem, AuditItem, PartnerItem, PartnerLinkItem, SolutionItem};
use super::{Item, Store, StoreError, build_err, classify, from_item, keys, to_item};
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde::Serialize;

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

    /// Audit records about a subject, newest first.
    pub async fn audit_trail(&self, subject: &str) -> Result<Vec<AuditItem>, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(keys::audit_partition(subject)))
            .scan_index_forward(false);
        self.query_all(q).await?.into_iter().map(from_item).collect()
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
    pub async fn statements_of(&self, partner_id: &str) -> Result<Vec<super::items::StatementItem>, StoreError> {
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
    async fn index_partition<T: serde::de::DeserializeOwned>(
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
