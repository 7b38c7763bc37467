//! Partner API keys: `mk_` + 32 random bytes (base64url), shown once; stored as the SHA-256 of the key.
//! A partner's backend presents one as `X-Api-Key` to `validate-token` and `track-usage`, and may act only
//! for its own solutions (all of them, or those the key names).

use super::{Caller, PartnerService, now_rfc3339, text};
use crate::platform::crypto;
use crate::platform::error::{ApiError, FieldError, codes};
use crate::store::items::{ApiKeyItem, SolutionItem};
use serde::{Deserialize, Serialize};

pub const KEY_PREFIX: &str = "mk_";
/// Characters of a key shown in lists (`mk_` + 8).
const SHOWN: usize = 11;
const MAX_KEYS: usize = 20;
const MAX_SOLUTIONS: usize = 50;

/// The store hash of a presented key, or `None` when it cannot be one of ours (checked before any read).
pub fn key_hash(presented: &str) -> Option<String> {
    let body = presented.strip_prefix(KEY_PREFIX)?;
    let ok = body.len() == 43 && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| crypto::sha256_hex(presented.as_bytes()))
}

/// Whether a stored key (found by the hash of `presented`) is live and matches it. The lookup is by hash,
/// and the stored hash is compared again in constant time.
pub fn key_matches(item: &ApiKeyItem, presented: &str) -> bool {
    let hash = crypto::sha256_hex(presented.as_bytes());
    let stored = item.pk.strip_prefix("APIKEY#").unwrap_or_default();
    item.revoked_at.is_none() && crypto::constant_time_eq(stored.as_bytes(), hash.as_bytes())
}

/// Whether a key may act for a solution: the solution is its partner's, and the key names it (or names none).
pub fn key_covers(item: &ApiKeyItem, solution_partner_id: &str, solution_id: &str) -> bool {
    item.partner_id == solution_partner_id
        && (item.solution_ids.is_empty() || item.solution_ids.iter().any(|s| s == solution_id))
}

pub fn invalid_key() -> ApiError {
    ApiError::unauthorized_code(codes::INVALID_API_KEY, "the API key is not valid")
}

pub fn key_not_allowed() -> ApiError {
    ApiError::new(403, codes::API_KEY_NOT_ALLOWED, "Forbidden", "this API key may not act for this solution")
}

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
        let partner = self.own_approved(caller, partner_id)?;
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
        self.store.put(&item, Some("attribute_not_exists(PK)")).await?;
        tracing::info!(partner_id, key_id = %key_id, "partner API key created");
        Ok(CreatedKey { key, info: KeyView::from(&item) })
    }

    /// `GET /api/partners/{id}/api-keys` (the owner or an admin): never the key or its hash.
    pub async fn list_keys(&self, caller: &Caller, partner_id: &str) -> Result<KeyList, ApiError> {
        self.readable_partner(caller, partner_id).await?;
        let keys = self.store.partner_api_keys(partner_id).await?;
        Ok(KeyList { keys: keys.iter().map(KeyView::from).collect() })
    }

    /// `DELETE /api/partners/{id}/api-keys/{key_id}` (the owner or an admin): the key stops working at once
    /// (functions that cache keys re-read them within their cache lifetime, seconds).
    pub async fn revoke_key(&self, caller: &Caller, partner_id: &str, key_id: &str) -> Result<(), ApiError> {
        if caller.partner.as_ref().is_none_or(|p| p.partner_id != partner_id) && !caller.is_admin() {
            return Err(ApiError::forbidden("you may only act on your own partner account"));
        }
        let keys = self.store.partner_api_keys(partner_id).await?;
        let Some(key) = keys.iter().find(|k| k.key_id == key_id) else {
            let mut e = ApiError::not_found(codes::API_KEY_NOT_FOUND, "no API key with this id");
            e.errors = vec![FieldError::new("key_id", "no API key with this id")];
            return Err(e);
        };
        if self.store.revoke_api_key(key, &now_rfc3339(self.clock.as_ref())).await? {
            tracing::info!(partner_id, key_id, "partner API key revoked");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hash_match_and_cover() {
        let key = format!("{KEY_PREFIX}{}", crypto::random_token::<32>());
        let hash = key_hash(&key).expect("well-formed");
        assert_eq!(key_hash("mk_short"), None);
        assert_eq!(key_hash(&key.replace("mk_", "xx_")), None);
        let mut item = ApiKeyItem::new(&hash, "key_1", "prt_a", "ci", &key[..SHOWN], vec![], "t".into());
        assert!(key_matches(&item, &key));
        assert!(!key_matches(&item, &format!("{KEY_PREFIX}{}", crypto::random_token::<32>())));
        assert!(key_covers(&item, "prt_a", "sol_x"));
        assert!(!key_covers(&item, "prt_b", "sol_x"));
        item.solution_ids = vec!["sol_x".into()];
        assert!(key_covers(&item, "prt_a", "sol_x"));
        assert!(!key_covers(&item, "prt_a", "sol_y"));
        item.revoked_at = Some("t".into());
        assert!(!key_matches(&item, &key));
    }
}
