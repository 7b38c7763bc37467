//! Partner API key primitives: `mk_` + 32 random bytes (base64url), stored as the SHA-256 of the key; the
//! checks every capability that accepts `X-Api-Key` runs (auth's `validate-token`, usage's `track-usage`). The
//! partners capability issues, lists and revokes keys (`crate::partners::api_keys`).

use crate::platform::crypto;
use crate::platform::error::{ApiError, codes};
use crate::store::partners::ApiKeyItem;

pub const KEY_PREFIX: &str = "mk_";

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
    let stored = crate::store::keys::api_key_hash_of(&item.pk).unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hash_match_and_cover() {
        let key = format!("{KEY_PREFIX}{}", crypto::random_token::<32>());
        let hash = key_hash(&key).expect("well-formed");
        assert_eq!(key_hash("mk_short"), None);
        assert_eq!(key_hash(&key.replace("mk_", "xx_")), None);
        let mut item = ApiKeyItem::new(&hash, "key_1", "prt_a", "ci", &key[..11], vec![], "t".into());
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
