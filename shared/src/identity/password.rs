//! Password hashing with argon2id (OWASP parameters: 19 MiB, 2 iterations, 1 lane), PHC strings.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

pub const MIN_LEN: usize = 10;
/// An upper bound keeps hashing cost bounded for hostile input.
pub const MAX_LEN: usize = 256;

fn hasher() -> Argon2<'static> {
    // These constants are valid argon2 parameters; `Params::DEFAULT` is the fallback that cannot fail.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or(Params::DEFAULT);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError;

pub fn hash(password: &str) -> Result<String, HashError> {
    let salt_bytes = crate::platform::crypto::random_bytes::<16>();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|_| HashError)?;
    hasher().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|_| HashError)
}

/// Verify a password against a stored PHC string. A malformed stored hash verifies as false.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => hasher().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Spend the same work as a real verification when the account does not exist, so that response time does
/// not reveal which emails are registered.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    if let Some(phc) = DUMMY.get_or_init(|| hash(&crate::platform::crypto::random_token::<16>()).ok()) {
        let _ = verify(password, phc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash("correct horse battery").expect("hash");
        let b = hash("correct horse battery").expect("hash");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_ne!(a, b, "salted");
        assert!(verify("correct horse battery", &a));
        assert!(!verify("correct horse batterY", &a));
        assert!(!verify("anything", "not a phc string"));
    }
}
