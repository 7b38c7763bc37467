//! Partner API keys: `mk_` + 32 random bytes (base64url), shown once; stored as the SHA-256 of the key.
//! A partner's backend presents one as `X-Api-Key` to `validate-token` and `track-usage`, and may act only
//! for its own solutions (all of them, or those the key names).

use super::{Caller, PartnerService, now_rfc3339, text};
use crate::audit::{self, AuditKind, Event, subject};
use crate::identity::api_keys::KEY_PREFIX;
use crate::model::OrgRole;
use crate::platform::crypto;
use crate::platform::error::{ApiError, FieldError, codes};
use crate::store::partners::ApiKeyItem;
use crate::store::solutions::SolutionItem;
use serde::{Deserialize, Serialize};

/// Characters of a key shown in lists (`mk_` + 8).
const SHOWN: usize = 11;
const MAX_KEYS: usize = 20;
const MAX_SOLUTIONS: usize = 50;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    pub name: String,
    /// Restrict the key to these solutions of the partner; absent or empty = all of them.
    #[serde(default)]
    pub solution_ids: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct KeyView {
    pub key_id: String,
    pub name: String,
    pub prefix: String,
    pub solution_ids: Vec<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl From<&ApiKeyItem> for KeyView {
    fn from(k: &ApiKeyItem) -> Self {
        Self {
            key_id: k.key_id.clone(),
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            solution_ids: k.solution_ids.clone(),
            created_at: k.created_at.clone(),
            revoked_at: k.revoked_at.clone(),
        }
    }
}

/// A new key: the only time `key` is ever shown.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreatedKey {
    pub key: String,
    #[serde(flatten)]
    pub info: KeyView,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct KeyList {
    pub keys: Vec<KeyView>,
}

impl PartnerService {
    /// `POST /api/partners/{id}/api-keys`.
    pub async fn create_key(
        &self,
        caller: &Caller,
        partner_id: &str,
        req: CreateKeyRequest,
    ) -> Result<CreatedKey, ApiError> {
        let partner = self.own_approved(caller, partner_id, OrgRole::manages_solutions, "manage API keys")?;
        let mut errors = Vec::new();
        let name = text("name", &req.name, 1, 100, &mut errors);
        let mut solution_ids = req.solution_ids;
        solution_ids.sort();
        solution_ids.dedup();
        if solution_ids.len() > MAX_SOLUTIONS {
            errors.push(FieldError::new("solution_ids", format!("at most {MAX_SOLUTIONS} solutions")));
        }
        for (i, sid) in solution_ids.iter().enumerate() {
            if !crate::platform::ids::is_valid("sol", sid) {
                errors.push(FieldError::new(format!("solution_ids[{i}]"), "must be a sol_ id"));
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        if !solution_ids.is_empty() {
            let wanted: Vec<_> = solution_ids.iter().map(|s| crate::store::keys::solution(s)).collect();
            let mut found = self.store.batch_get(&wanted, true).await?;
            for (i, key) in wanted.iter().enumerate() {
                let s: Option<SolutionItem> = crate::store::take(&mut found, key)?;
                if s.is_none_or(|s| s.partner_id != partner.partner_id) {
                    errors.push(FieldError::new(format!("solution_ids[{i}]"), "is not one of your solutions"));
                }
            }
            if !errors.is_empty() {
                return Err(ApiError::validation(errors));
            }
        }
        let live = self.store.partner_api_keys(partner_id).await?.iter().filter(|k| k.revoked_at.is_none()).count();
        if live >= MAX_KEYS {
            return Err(ApiError::field("name", format!("a partner may have at most {MAX_KEYS} live keys")));
        }
        let key = format!("{KEY_PREFIX}{}", crypto::random_token::<32>());
        let hash = crypto::sha256_hex(key.as_bytes());
        let key_id = crate::platform::ids::new_id("key");
        let item = ApiKeyItem::new(
            &hash,
            &key_id,
            partner_id,
            &name,
            &key[..SHOWN],
            solution_ids,
            now_rfc3339(self.clock.as_ref()),
        );
        self.store.put_new(&item).await?;
        tracing::info!(partner_id, key_id = %key_id, "partner API key created");
        let event = Event::new(AuditKind::ApiKeyCreated, &caller.principal.user_id, subject::api_key(&key_id))
            .detail("partner_id", partner_id)
            .detail("solutions", item.solution_ids.len())
            .source_ip(caller.source_ip.as_deref());
        audit::record_after(&self.store, &[self.audit(event)]).await;
        Ok(CreatedKey { key, info: KeyView::from(&item) })
    }

    /// `GET /api/partners/{id}/api-keys` (the owner or an admin): never the key or its hash.
    pub async fn list_keys(&self, caller: &Caller, partner_id: &str) -> Result<KeyList, ApiError> {
        self.partner_with_role(caller, partner_id, OrgRole::manages_solutions, "see API keys").await?;
        let keys = self.store.partner_api_keys(partner_id).await?;
        Ok(KeyList { keys: keys.iter().map(KeyView::from).collect() })
    }

    /// `DELETE /api/partners/{id}/api-keys/{key_id}` (the owner or an admin): the key stops working at once
    /// (functions that cache keys re-read them within their cache lifetime, seconds).
    pub async fn revoke_key(&self, caller: &Caller, partner_id: &str, key_id: &str) -> Result<(), ApiError> {
        if !caller.is_admin() {
            caller.approved_role(partner_id, OrgRole::manages_solutions, "manage API keys")?;
        }
        let keys = self.store.partner_api_keys(partner_id).await?;
        let Some(key) = keys.iter().find(|k| k.key_id == key_id) else {
            let mut e = ApiError::not_found(codes::API_KEY_NOT_FOUND, "no API key with this id");
            e.errors = vec![FieldError::new("key_id", "no API key with this id")];
            return Err(e);
        };
        if self.store.revoke_api_key(key, &now_rfc3339(self.clock.as_ref())).await? {
            tracing::info!(partner_id, key_id, "partner API key revoked");
            let event = Event::new(AuditKind::ApiKeyRevoked, &caller.principal.user_id, subject::api_key(key_id))
                .detail("partner_id", partner_id)
                .source_ip(caller.source_ip.as_deref());
            audit::record_after(&self.store, &[self.audit(event)]).await;
        }
        Ok(())
    }
}
