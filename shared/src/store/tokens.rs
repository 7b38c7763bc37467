//! Token families, refresh tokens and issued-token records in the store.

use super::{Item, Store, StoreError, classify, cursor, from_item, keys};
use crate::model::TokenKind;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Session or solution-token family: the unit of revocation and of refresh-token rotation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub family_id: String,
    pub user_id: String,
    pub kind: TokenKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solution_id: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The organization the family's solution tokens act for (`None`: the user's own account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// Lifetime of each token minted in this family.
    pub token_ttl_seconds: i64,
    pub created_at: String,
    /// End of the family's absolute lifetime (epoch seconds); refresh tokens stop working then.
    pub refresh_until: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_reason: Option<String>,
    /// TTL (epoch seconds).
    pub expires_at: i64,
}

impl FamilyItem {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        family_id: &str,
        user_id: &str,
        kind: TokenKind,
        solution_id: Option<&str>,
        scopes: Vec<String>,
        token_ttl_seconds: i64,
        created_at: String,
        refresh_until: i64,
    ) -> Self {
        let key = keys::family(family_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "token_family".into(),
            family_id: family_id.into(),
            user_id: user_id.into(),
            kind,
            solution_id: solution_id.map(str::to_owned),
            scopes,
            org_id: None,
            token_ttl_seconds,
            created_at,
            refresh_until,
            revoked_at: None,
            revoked_by: None,
            revoked_reason: None,
            expires_at: refresh_until + 86_400,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub family_id: String,
    pub user_id: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<String>,
    /// TTL (epoch seconds).
    pub expires_at: i64,
}

impl RefreshItem {
    pub fn new(hash: &str, family: &FamilyItem, created_at: String) -> Self {
        let key = keys::refresh(hash);
        Self {
            pk: key.pk,
            sk: key.sk,
            entity_type: "refresh_token".into(),
            family_id: family.family_id.clone(),
            user_id: family.user_id.clone(),
            created_at,
            used_at: None,
            expires_at: family.expires_at,
        }
    }
}

/// The record of one issued JWT (never the token itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub entity_type: String,
    pub token_id: String,
    pub user_id: String,
    pub family_id: String,
    pub kind: TokenKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solution_id: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    pub issued_at: String,
    /// The JWT's `exp` (epoch seconds).
    pub exp: i64,
    /// TTL (epoch seconds): a day after `exp`.
    pub expires_at: i64,
}

impl TokenItem {
    pub fn new(token_id: &str, family: &FamilyItem, issued_at: String, exp: i64) -> Self {
        let key = keys::token(token_id);
        let gsi = keys::user_tokens(&family.user_id, &issued_at, token_id);
        Self {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: gsi.pk,
            gsi1sk: gsi.sk,
            entity_type: "token".into(),
            token_id: token_id.into(),
            user_id: family.user_id.clone(),
            family_id: family.family_id.clone(),
            kind: family.kind,
            solution_id: family.solution_id.clone(),
            scopes: family.scopes.clone(),
            issued_at,
            exp,
            expires_at: exp + 86_400,
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::stored_shape::assert_stored;

    #[test]
    fn the_token_family_is_stored_under_its_attribute_names() {
        let mut family = FamilyItem::new(
            "fam_1",
            "usr_1",
            TokenKind::Solution,
            Some("sol_1"),
            vec!["usage:write".into()],
            900,
            "2026-04-15T10:00:00Z".into(),
            1_778_000_000,
        );
        family.revoked_at = Some("2026-04-16T10:00:00Z".into());
        family.revoked_by = Some("usr_admin".into());
        family.revoked_reason = Some("leaked".into());
        assert_stored(
            &family,
            &keys::family("fam_1"),
            "token_family",
            &[
                "PK",
                "SK",
                "entity_type",
                "family_id",
                "user_id",
                "kind",
                "solution_id",
                "scopes",
                "token_ttl_seconds",
                "created_at",
                "refresh_until",
                "revoked_at",
                "revoked_by",
                "revoked_reason",
                "expires_at",
            ],
        );

        let mut refresh = RefreshItem::new("cd34", &family, "2026-04-15T10:00:00Z".into());
        refresh.used_at = Some("2026-04-15T10:15:00Z".into());
        assert_stored(
            &refresh,
            &keys::refresh("cd34"),
            "refresh_token",
            &["PK", "SK", "entity_type", "family_id", "user_id", "created_at", "used_at", "expires_at"],
        );

        let token = TokenItem::new("tok_1", &family, "2026-04-15T10:00:00Z".into(), 1_776_250_900);
        assert_stored(
            &token,
            &keys::token("tok_1"),
            "token",
            &[
                "PK",
                "SK",
                "GSI1PK",
                "GSI1SK",
                "entity_type",
                "token_id",
                "user_id",
                "family_id",
                "kind",
                "solution_id",
                "scopes",
                "issued_at",
                "exp",
                "expires_at",
            ],
        );
    }
}
