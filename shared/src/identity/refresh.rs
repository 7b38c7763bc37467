//! Opaque refresh tokens: `rt_<family id>.<32 random bytes, base64url>`. Only the SHA-256 of the whole string
//! is stored. The family id in clear lets one batched read fetch both the token record and its family.

use crate::platform::crypto;

pub struct NewRefreshToken {
    /// Give this to the client once; never store or log it.
    pub secret: String,
    /// Store this.
    pub hash: String,
}

pub fn generate(family_id: &str) -> NewRefreshToken {
    let secret = format!("rt_{family_id}.{}", crypto::random_token::<32>());
    let hash = crypto::sha256_hex(secret.as_bytes());
    NewRefreshToken { secret, hash }
}

/// Parsed presented token: its family id and the hash to look up.
pub struct Presented {
    pub family_id: String,
    pub hash: String,
}

pub fn parse(token: &str) -> Option<Presented> {
    let rest = token.strip_prefix("rt_")?;
    let (family_id, random) = rest.split_once('.')?;
    if !crate::platform::ids::is_valid("fam", family_id) || random.len() != 43 {
        return None;
    }
    if !random.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return None;
    }
    Some(Presented { family_id: family_id.to_owned(), hash: crypto::sha256_hex(token.as_bytes()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects_garbage() {
        let fid = crate::platform::ids::family_id();
        let t = generate(&fid);
        let p = parse(&t.secret).expect("parses");
        assert_eq!(p.family_id, fid);
        assert_eq!(p.hash, t.hash);
        assert!(parse("rt_fam_x.y").is_none());
        assert!(parse("garbage").is_none());
        assert!(parse(&format!("{}!", t.secret)).is_none());
    }
}
