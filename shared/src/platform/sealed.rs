//! Sealing small secrets at rest (partners' payout details) with AES-256-GCM on the workspace's one crypto
//! provider. A sealed value is `v1.<base64url(nonce ‖ ciphertext ‖ tag)>`; the additional data binds it to
//! what it belongs to (a partner id), so a sealed value copied onto another record does not open.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

const VERSION: &str = "v1.";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the sealing key must be 32 bytes, base64")]
    BadKey,
    #[error("the sealed value is malformed or was not sealed with this key for this record")]
    Unreadable,
}

/// An AES-256-GCM key. Debug output never shows it.
pub struct Sealer {
    key: LessSafeKey,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    pub fn new(key: &[u8; 32]) -> Result<Self, SealError> {
        let unbound = UnboundKey::new(&AES_256_GCM, key).map_err(|_| SealError::BadKey)?;
        Ok(Self { key: LessSafeKey::new(unbound) })
    }

    /// The key from a secret's text: 32 bytes given as base64 are used as they are; any other text of at
    /// least 32 characters (a generated secret) is stretched with SHA-256 (domain-separated).
    pub fn from_secret_text(text: &str) -> Result<Self, SealError> {
        if let Ok(sealer) = Self::from_base64(text) {
            return Ok(sealer);
        }
        let text = text.trim();
        if text.len() < 32 {
            return Err(SealError::BadKey);
        }
        let mut material = b"monetization/payout-seal/v1\0".to_vec();
        material.extend_from_slice(text.as_bytes());
        Self::new(&crate::platform::crypto::sha256(&material))
    }

    /// A key given as base64 (standard or URL-safe) of 32 bytes.
    pub fn from_base64(encoded: &str) -> Result<Self, SealError> {
        let raw = STANDARD
            .decode(encoded.trim())
            .or_else(|_| URL_SAFE_NO_PAD.decode(encoded.trim()))
            .map_err(|_| SealError::BadKey)?;
        let key: [u8; 32] = raw.try_into().map_err(|_| SealError::BadKey)?;
        Self::new(&key)
    }

    pub fn seal(&self, plaintext: &[u8], bound_to: &str) -> String {
        let nonce_bytes = crate::platform::crypto::random_bytes::<NONCE_LEN>();
        let mut buf = plaintext.to_vec();
        // Sealing only fails for inputs beyond GCM's length limit (64 GiB), far above any payout detail.
        if self
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(bound_to.as_bytes()),
                &mut buf,
            )
            .is_err()
        {
            std::process::abort();
        }
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(out))
    }

    pub fn open(&self, sealed: &str, bound_to: &str) -> Result<Vec<u8>, SealError> {
        let raw = sealed
            .strip_prefix(VERSION)
            .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
            .filter(|r| r.len() > NONCE_LEN)
            .ok_or(SealError::Unreadable)?;
        let (nonce, body) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Unreadable)?;
        let mut buf = body.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(bound_to.as_bytes()), &mut buf)
            .map_err(|_| SealError::Unreadable)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_open_only_with_the_key_and_the_record() {
        let sealer = Sealer::new(&[7u8; 32]).expect("key");
        let sealed = sealer.seal(b"{\"vpa\":\"ravi@okhdfc\"}", "prt_1");
        assert!(sealed.starts_with("v1.") && !sealed.contains("ravi"));
        assert_eq!(sealer.open(&sealed, "prt_1").as_deref(), Ok(&b"{\"vpa\":\"ravi@okhdfc\"}"[..]));
        assert_eq!(sealer.open(&sealed, "prt_2"), Err(SealError::Unreadable));
        let other = Sealer::new(&[8u8; 32]).expect("key");
        assert_eq!(other.open(&sealed, "prt_1"), Err(SealError::Unreadable));
        assert_ne!(sealer.seal(b"x", "a"), sealer.seal(b"x", "a"), "a fresh nonce each time");
        assert_eq!(sealer.open("v1.AAAA", "prt_1"), Err(SealError::Unreadable));
        assert!(Sealer::from_base64("c2hvcnQ=").is_err());
        assert!(Sealer::from_base64(&STANDARD.encode([1u8; 32])).is_ok());
        assert_eq!(format!("{sealer:?}"), "Sealer(..)");
        let generated = "Zq8mWc3TnV1xR7pL0aYbE5kHs2DuJ9fGiQ4oXtN6wMe";
        let a = Sealer::from_secret_text(generated).expect("generated secret");
        let b = Sealer::from_secret_text(generated).expect("generated secret");
        assert_eq!(b.open(&a.seal(b"x", "r"), "r").as_deref(), Ok(&b"x"[..]));
        assert!(Sealer::from_secret_text("too short").is_err());
    }
}
