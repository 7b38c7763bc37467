//! Users: roles, email normalisation and account input rules.

use crate::platform::error::FieldError;

pub const MAX_EMAIL_LEN: usize = 254;
pub const MAX_NAME_CHARS: usize = 100;

/// Trim and lowercase an email address and check its shape: one `@`, a non-empty local part, a domain with a
/// dot and no empty labels, no whitespace or control characters.
pub fn normalize_email(raw: &str) -> Result<String, FieldError> {
    let email = raw.trim().to_lowercase();
    let bad = || FieldError::new("email", "must be a valid email address");
    if email.is_empty() || email.len() > MAX_EMAIL_LEN {
        return Err(bad());
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    if local.is_empty() || local.len() > 64 || domain.contains('@') {
        return Err(bad());
    }
    if !domain.contains('.') || domain.split('.').any(str::is_empty) {
        return Err(bad());
    }
    Ok(email)
}

pub fn validate_password(password: &str) -> Result<(), FieldError> {
    let chars = password.chars().count();
    if chars < crate::identity::password::MIN_LEN {
        return Err(FieldError::new(
            "password",
            format!("must be at least {} characters", crate::identity::password::MIN_LEN),
        ));
    }
    if chars > crate::identity::password::MAX_LEN {
        return Err(FieldError::new(
            "password",
            format!("must be at most {} characters", crate::identity::password::MAX_LEN),
        ));
    }
    Ok(())
}

pub fn normalize_name(raw: &str) -> Result<String, FieldError> {
    let name = raw.trim();
    let n = name.chars().count();
    if n == 0 || n > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(FieldError::new("name", format!("must be 1 to {MAX_NAME_CHARS} printable characters")));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(normalize_email("  Alice@Example.COM ").as_deref(), Ok("alice@example.com"));
        for bad in ["", "a", "a@b", "@b.c", "a@b..c", "a b@c.d", "a@b@c.d", "a@.c"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn password_and_name_rules() {
        assert!(validate_password("123456789").is_err());
        assert!(validate_password("1234567890").is_ok());
        assert!(validate_password(&"x".repeat(257)).is_err());
        assert_eq!(normalize_name("  Ada ").as_deref(), Ok("Ada"));
        assert!(normalize_name("   ").is_err());
    }
}
