//! Signed tokens: EdDSA (Ed25519) JWTs, each naming its key by `kid`, verified against the current and the
//! previous key so the key can rotate without breaking tokens in flight. The public keys are published as a
//! JWKS so partners can verify tokens offline.
//!
//! Key material: the signing-key secret holds `{"current": "...", "previous"?: "...", "next"?: "..."}` of random
//! strings (CloudFormation generates the first). `current` signs; all three verify and are published. Rotation
//! without a window in which a warm function refuses a fresh token: (1) add `next` and let every function
//! cold-start with it (redeploy or wait); (2) move `current` to `previous` and `next` to `current`. Each string is stretched into an Ed25519 seed with SHA-256
//! under a domain-separation label; the `kid` is derived from the public key.

use crate::model::TokenKind;
use crate::platform::crypto;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// `aud` of session access tokens (those that call this platform's API).
pub const ACCESS_AUDIENCE: &str = "monetization-api";
const SEED_LABEL: &[u8] = b"monetization/jwt/ed25519/v1:";
/// Clock skew tolerated on `exp`.
const LEEWAY_SECONDS: u64 = 5;

/// The claims of every token we mint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub typ: TokenKind,
    /// The token family (session): revoking it revokes every token and refresh token in it.
    pub fid: String,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<crate::model::Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solution_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<crate::model::Tier>,
    /// The organization a solution token acts for (its quota and tier are the organization's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

/// Why a token was refused; `code()` is the stable wire code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token signature, key or issuer is not trusted")]
    InvalidSignature,
    #[error("the token is malformed")]
    Malformed,
    #[error("the token was not issued for this audience")]
    WrongAudience,
    #[error("this kind of token is not accepted here")]
    WrongKind,
}

impl TokenError {
    pub fn code(self) -> &'static str {
        use crate::platform::error::codes;
        match self {
            Self::Expired => codes::EXPIRED,
            Self::InvalidSignature => codes::INVALID_SIGNATURE,
            Self::Malformed => codes::MALFORMED,
            Self::WrongAudience => codes::WRONG_AUDIENCE,
            Self::WrongKind => codes::WRONG_TOKEN_KIND,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("signing key secret is not valid JSON with a non-empty \"current\" member")]
    BadSecret,
    #[error("signing key material is too short (at least 32 characters)")]
    TooShort,
    #[error("key derivation failed")]
    Derivation,
    #[error("public-key secret is not a JWKS of Ed25519 keys with their derived kids (at least one key)")]
    BadPublicKeys,
}

struct SigningKey {
    kid: String,
    x: String,
    /// `None` for a key known only by its public half (a verify-only [`KeySet`], from the public JWKS).
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
}

impl SigningKey {
    fn derive(material: &str) -> Result<Self, KeyError> {
        if material.len() < 32 {
            return Err(KeyError::TooShort);
        }
        let mut input = SEED_LABEL.to_vec();
        input.extend_from_slice(material.as_bytes());
        let seed = crypto::sha256(&input);
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| KeyError::Derivation)?;
        let pkcs8 = pair.to_pkcs8().map_err(|_| KeyError::Derivation)?;
        let public = pair.public_key().as_ref().to_vec();
        let x = URL_SAFE_NO_PAD.encode(&public);
        let kid = URL_SAFE_NO_PAD.encode(&crypto::sha256(&public)[..12]);
        let decoding = DecodingKey::from_ed_components(&x).map_err(|_| KeyError::Derivation)?;
        Ok(Self { kid, x, encoding: Some(EncodingKey::from_ed_der(pkcs8.as_ref())), decoding })
    }

    /// A verify-only key from its published JWK; its `kid` must be the one derived from its public key.
    fn public(jwk: &Jwk) -> Result<Self, KeyError> {
        if (jwk.kty.as_str(), jwk.crv.as_str(), jwk.alg.as_str()) != ("OKP", "Ed25519", "EdDSA") {
            return Err(KeyError::BadPublicKeys);
        }
        let public = URL_SAFE_NO_PAD.decode(&jwk.x).map_err(|_| KeyError::BadPublicKeys)?;
        if public.len() != 32 || URL_SAFE_NO_PAD.encode(&crypto::sha256(&public)[..12]) != jwk.kid {
            return Err(KeyError::BadPublicKeys);
        }
        let decoding = DecodingKey::from_ed_components(&jwk.x).map_err(|_| KeyError::BadPublicKeys)?;
        Ok(Self { kid: jwk.kid.clone(), x: jwk.x.clone(), encoding: None, decoding })
    }
}

/// One published key of the JWKS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub use_: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// The keys a function signs and verifies with, loaded once per cold start.
pub struct KeySet {
    issuer: String,
    current: SigningKey,
    /// Verify-only keys: the previous key (tokens in flight) and the next one (rotation announced).
    others: Vec<SigningKey>,
}

#[derive(Deserialize)]
struct SecretDoc {
    current: String,
    #[serde(default)]
    previous: Option<String>,
    #[serde(default)]
    next: Option<String>,
}

/// What a verifier expects of a token.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// Token kinds accepted.
    pub kinds: &'a [TokenKind],
    /// When set, `aud` must equal it.
    pub audience: Option<&'a str>,
    /// Accept expired tokens (used only to identify a token being revoked).
    pub allow_expired: bool,
}

impl KeySet {
    pub fn from_secret_json(issuer: &str, json: &str) -> Result<Self, KeyError> {
        let doc: SecretDoc = serde_json::from_str(json).map_err(|_| KeyError::BadSecret)?;
        if doc.current.trim().is_empty() {
            return Err(KeyError::BadSecret);
        }
        let mut keys =
            Self::from_material(issuer, &doc.current, doc.previous.as_deref().filter(|p| !p.trim().is_empty()))?;
        if let Some(next) = doc.next.as_deref().filter(|p| !p.trim().is_empty()) {
            keys.others.push(SigningKey::derive(next)?);
        }
        Ok(keys)
    }

    pub fn from_material(issuer: &str, current: &str, previous: Option<&str>) -> Result<Self, KeyError> {
        Ok(Self {
            issuer: issuer.to_owned(),
            current: SigningKey::derive(current)?,
            others: previous.map(SigningKey::derive).transpose()?.into_iter().collect(),
        })
    }

    /// A verify-only key set from the public JWKS (`{"keys": [...]}`, as `jwks()` publishes it): the first key
    /// is the current one. It verifies exactly as the signing set does and cannot sign.
    pub fn from_jwks_json(issuer: &str, json: &str) -> Result<Self, KeyError> {
        let jwks: Jwks = serde_json::from_str(json).map_err(|_| KeyError::BadPublicKeys)?;
        let mut keys = jwks.keys.iter().map(SigningKey::public);
        let current = keys.next().ok_or(KeyError::BadPublicKeys)??;
        Ok(Self { issuer: issuer.to_owned(), current, others: keys.collect::<Result<_, _>>()? })
    }

    /// Whether this set can sign (it holds the private key).
    pub fn can_sign(&self) -> bool {
        self.current.encoding.is_some()
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn current_kid(&self) -> &str {
        &self.current.kid
    }

    pub fn jwks(&self) -> Jwks {
        let keys = std::iter::once(&self.current)
            .chain(&self.others)
            .map(|k| Jwk {
                kty: "OKP".into(),
                crv: "Ed25519".into(),
                x: k.x.clone(),
                kid: k.kid.clone(),
                alg: "EdDSA".into(),
                use_: "sig".into(),
            })
            .collect();
        Jwks { keys }
    }

    /// Sign claims with the current key.
    pub fn sign(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.current.kid.clone());
        let key = self.current.encoding.as_ref().ok_or(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat)?;
        jsonwebtoken::encode(&header, claims, key)
    }

    fn key_for(&self, kid: &str) -> Option<&SigningKey> {
        std::iter::once(&self.current).chain(&self.others).find(|k| k.kid == kid)
    }

    /// Verify signature, algorithm, key, expiry, issuer, kind and audience, purely in memory.
    pub fn verify(&self, token: &str, expect: Expect<'_>) -> Result<Claims, TokenError> {
        let token = token.trim();
        if token.is_empty() || token.len() > 8192 {
            return Err(TokenError::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| header_error(token))?;
        // One algorithm per key: anything but EdDSA (none, HS256 with the public key, ...) is refused.
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::InvalidSignature);
        }
        let key = header.kid.as_deref().and_then(|kid| self.key_for(kid)).ok_or(TokenError::InvalidSignature)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_aud = false;
        validation.validate_exp = !expect.allow_expired;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::InvalidSignature
            | ErrorKind::InvalidAlgorithm
            | ErrorKind::InvalidAlgorithmName
            | ErrorKind::InvalidKeyFormat => TokenError::InvalidSignature,
            _ => TokenError::Malformed,
        })?;
        let claims = data.claims;
        if !crypto::constant_time_eq(claims.iss.as_bytes(), self.issuer.as_bytes()) {
            return Err(TokenError::InvalidSignature);
        }
        if !expect.kinds.contains(&claims.typ) {
            return Err(TokenError::WrongKind);
        }
        let aud_ok = match claims.typ {
            TokenKind::Access => claims.aud == ACCESS_AUDIENCE,
            TokenKind::Solution => claims.solution_id.as_deref() == Some(claims.aud.as_str()),
        };
        if !aud_ok || expect.audience.is_some_and(|a| a != claims.aud) {
            return Err(TokenError::WrongAudience);
        }
        Ok(claims)
    }
}

/// A header we cannot use: an algorithm we don't support (`none`, ...) is an untrusted signature; anything
/// that is not a JSON header at all is malformed.
fn header_error(token: &str) -> TokenError {
    let parsed = token
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok());
    match parsed {
        Some(header) if header.get("alg").is_some() => TokenError::InvalidSignature,
        _ => TokenError::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Tier;

    const ISS: &str = "https://issuer.test";

    fn keys() -> KeySet {
        KeySet::from_material(ISS, &"a".repeat(64), None).expect("keys")
    }

    fn claims(kind: TokenKind, exp_in: i64) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims {
            iss: ISS.into(),
            sub: "usr_1".into(),
            aud: match kind {
                TokenKind::Access => ACCESS_AUDIENCE.into(),
                TokenKind::Solution => "sol_1".into(),
            },
            exp: now + exp_in,
            iat: now,
            jti: "tok_1".into(),
            typ: kind,
            fid: "fam_1".into(),
            email: "a@b.test".into(),
            role: None,
            solution_id: (kind == TokenKind::Solution).then(|| "sol_1".into()),
            tier: Some(Tier::Free),
            org_id: None,
            scopes: vec![],
        }
    }

    const SOLUTION: Expect<'static> = Expect { kinds: &[TokenKind::Solution], audience: None, allow_expired: false };

    #[test]
    fn derivation_is_deterministic_and_rotation_verifies_old_tokens() {
        let old = KeySet::from_material(ISS, &"o".repeat(64), None).expect("old");
        let token = old.sign(&claims(TokenKind::Solution, 60)).expect("sign");
        let rotated = KeySet::from_material(ISS, &"n".repeat(64), Some(&"o".repeat(64))).expect("new");
        assert_eq!(rotated.jwks().keys.len(), 2);
        assert_eq!(rotated.jwks().keys[1].kid, old.current_kid());
        assert!(rotated.verify(&token, SOLUTION).is_ok());
        let unrelated = KeySet::from_material(ISS, &"z".repeat(64), None).expect("z");
        assert_eq!(unrelated.verify(&token, SOLUTION), Err(TokenError::InvalidSignature));
    }

    #[test]
    fn expired_wrong_kind_and_audience_are_told_apart() {
        let k = keys();
        let expired = k.sign(&claims(TokenKind::Solution, -60)).expect("sign");
        assert_eq!(k.verify(&expired, SOLUTION), Err(TokenError::Expired));
        let access = k.sign(&claims(TokenKind::Access, 60)).expect("sign");
        assert_eq!(k.verify(&access, SOLUTION), Err(TokenError::WrongKind));
        let sol = k.sign(&claims(TokenKind::Solution, 60)).expect("sign");
        let other = Expect { audience: Some("sol_2"), ..SOLUTION };
        assert_eq!(k.verify(&sol, other), Err(TokenError::WrongAudience));
        assert_eq!(k.verify("not.a.jwt", SOLUTION), Err(TokenError::Malformed));
    }

    #[test]
    fn announced_next_key_verifies_before_it_signs() {
        let (old, new) = ("o".repeat(64), "n".repeat(64));
        let phase1 = KeySet::from_secret_json(ISS, &format!(r#"{{"current":"{old}","next":"{new}"}}"#)).expect("1");
        let phase2 = KeySet::from_secret_json(ISS, &format!(r#"{{"current":"{new}","previous":"{old}"}}"#)).expect("2");
        assert_eq!(phase1.jwks().keys.len(), 2);
        // A function still on phase 1 accepts what a phase-2 function signs, and vice versa.
        let fresh = phase2.sign(&claims(TokenKind::Solution, 60)).expect("sign");
        assert!(phase1.verify(&fresh, SOLUTION).is_ok());
        let older = phase1.sign(&claims(TokenKind::Solution, 60)).expect("sign");
        assert!(phase2.verify(&older, SOLUTION).is_ok());
    }

    #[test]
    fn secret_json_is_parsed_and_validated() {
        assert!(KeySet::from_secret_json(ISS, r#"{"current":"short"}"#).is_err());
        assert!(KeySet::from_secret_json(ISS, "nope").is_err());
        let k = KeySet::from_secret_json(ISS, &format!(r#"{{"current":"{}"}}"#, "q".repeat(64))).expect("ok");
        assert_eq!(k.jwks().keys.len(), 1);
        assert_eq!(k.jwks().keys[0].crv, "Ed25519");
    }
}
