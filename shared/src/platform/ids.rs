//! Identifiers: a short type prefix and a ULID, so ids sort by creation time and say what they name.

pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::new().to_string().to_ascii_lowercase())
}

pub fn user_id() -> String {
    new_id("usr")
}
pub fn token_id() -> String {
    new_id("tok")
}
pub fn family_id() -> String {
    new_id("fam")
}
pub fn solution_id() -> String {
    new_id("sol")
}
pub fn org_id() -> String {
    new_id("org")
}
pub fn invitation_id() -> String {
    new_id("ivt")
}
pub fn partner_id() -> String {
    new_id("prt")
}

/// True when `id` looks like one of ours with the given prefix (cheap input check before a lookup).
pub fn is_valid(prefix: &str, id: &str) -> bool {
    id.len() == prefix.len() + 27
        && id.starts_with(prefix)
        && id.as_bytes()[prefix.len()] == b'_'
        && id[prefix.len() + 1..].bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_validate() {
        let id = user_id();
        assert!(id.starts_with("usr_"));
        assert!(is_valid("usr", &id));
        assert!(!is_valid("sol", &id));
        assert!(!is_valid("usr", "usr_../../etc"));
    }
}
