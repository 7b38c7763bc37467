//! Token families, refresh tokens and issued-token records in the store.

use super::items::{FamilyItem, RefreshItem, TokenItem};
use super::{Item, Store, StoreError, classify, cursor, from_item, keys};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use std::collections::HashMap;

/// Why a refresh-token rotation was refused.
#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error("refresh token already used")]
    Reused,
    #[error("family revoked")]
    Revoked,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// The writes that start a family: the family, its first refresh token and its first token record.
    pub fn family_start_items(
        &self,
        family: &FamilyItem,
        refresh: &RefreshItem,
        token: &TokenItem,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        Ok(vec![
            self.tx_put(family, Some("attribute_not_exists(PK)"))?,
            self.tx_put(refresh, Some("attribute_not_exists(PK)"))?,
            self.tx_put(token, None)?,
        ])
    }

    pub async fn start_family(
        &self,
        family: &FamilyItem,
        refresh: &RefreshItem,
        token: &TokenItem,
    ) -> Result<(), StoreError> {
        self.transact(self.family_start_items(family, refresh, token)?).await
    }

    pub async fn get_family(&self, family_id: &str) -> Result<Option<FamilyItem>, StoreError> {
        self.get(&keys::family(family_id), true).await
    }

    /// A refresh token and its family, in one strongly consistent round trip.
    pub async fn refresh_and_family(
        &self,
        hash: &str,
        family_id: &str,
    ) -> Result<(Option<RefreshItem>, Option<FamilyItem>), StoreError> {
        let rk = keys::refresh(hash);
        let fk = keys::family(family_id);
        let mut found = self.batch_get(&[rk.clone(), fk.clone()], true).await?;
        let refresh = found.remove(&(rk.pk, rk.sk)).map(from_item).transpose()?;
        let family = found.remove(&(fk.pk, fk.sk)).map(from_item).transpose()?;
        Ok((refresh, family))
    }

    /// Use a refresh token once: mark it used, store its successor and the new token record, provided the
    /// family is not revoked. All or nothing.
    pub async fn rotate_refresh(
        &self,
        old_hash: &str,
        used_at: &str,
        next: &RefreshItem,
        token: &TokenItem,
    ) -> Result<(), RotateError> {
        let values: Item = HashMap::from([(":now".to_owned(), AttributeValue::S(used_at.to_owned()))]);
        let items = vec![
            self.tx_update(
                &keys::refresh(old_hash),
                "SET used_at = :now",
                Some("attribute_exists(PK) AND attribute_not_exists(used_at)"),
                values,
            )?,
            self.tx_check(&keys::family(&next.family_id), "attribute_exists(PK) AND attribute_not_exists(revoked_at)")?,
            self.tx_put(next, Some("attribute_not_exists(PK)"))?,
            self.tx_put(token, None)?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conditional { index: Some(0) }) => Err(RotateError::Reused),
            Err(StoreError::Conditional { index: Some(1) }) => Err(RotateError::Revoked),
            Err(e) => Err(RotateError::Store(e)),
        }
    }

    /// Revoke a family. The first revocation's time, actor and reason are kept. Returns false when the
    /// family does not exist.
    pub async fn revoke_family(&self, family_id: &str, by: &str, reason: &str, at: &str) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::family(family_id).to_map()))
            .update_expression(
                "SET revoked_at = if_not_exists(revoked_at, :at), revoked_by = if_not_exists(revoked_by, :by), \
                 revoked_reason = if_not_exists(revoked_reason, :reason)",
            )
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":at", AttributeValue::S(at.to_owned()))
            .expression_attribute_values(":by", AttributeValue::S(by.to_owned()))
            .expression_attribute_values(":reason", AttributeValue::S(reason.to_owned()))
            .send()
            .await
            .map_err(classify);
        match result {
            Ok(_) => Ok(true),
            Err(StoreError::Conditional { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn get_token(&self, token_id: &str) -> Result<Option<TokenItem>, StoreError> {
        self.get(&keys::token(token_id), true).await
    }

    /// Several families by id (one round trip per 100).
    pub async fn families(&self, family_ids: &[String]) -> Result<HashMap<String, FamilyItem>, StoreError> {
        let mut out = HashMap::new();
        let mut ids: Vec<&String> = family_ids.iter().collect();
        ids.sort();
        ids.dedup();
        for chunk in ids.chunks(100) {
            let wanted: Vec<keys::Key> = chunk.iter().map(|id| keys::family(id)).collect();
            for (_, item) in self.batch_get(&wanted, true).await? {
                let family: FamilyItem = from_item(item)?;
                out.insert(family.family_id.clone(), family);
            }
        }
        Ok(out)
    }

    /// A page of a user's unexpired token records, newest first. `cursor` must come from a previous page of
    /// the same user; `Err(None)`-style invalid cursors are reported by returning `Ok(None)`.
    pub async fn user_tokens_page(
        &self,
        user_id: &str,
        now_epoch: i64,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Option<(Vec<TokenItem>, Option<String>)>, StoreError> {
        let partition = keys::user_tokens_partition(user_id);
        let start = match cursor {
            Some(c) => match cursor::decode(c, keys::GSI1PK, &partition) {
                Some(k) => Some(k),
                None => return Ok(None),
            },
            None => None,
        };
        let page = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("GSI1PK = :pk")
            .filter_expression("#exp > :now")
            .expression_attribute_names("#exp", "exp")
            .expression_attribute_values(":pk", AttributeValue::S(partition))
            .expression_attribute_values(":now", AttributeValue::N(now_epoch.to_string()))
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(classify)?;
        let tokens =
            page.items.unwrap_or_default().into_iter().map(from_item).collect::<Result<Vec<TokenItem>, _>>()?;
        Ok(Some((tokens, cursor::encode(page.last_evaluated_key.as_ref()))))
    }
}
