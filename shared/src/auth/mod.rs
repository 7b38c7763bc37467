//! Auth primitives: signed tokens (EdDSA JWTs with a published JWKS), passwords (argon2id) and opaque
//! refresh tokens (random, stored hashed).

pub mod jwt;
pub mod password;
pub mod refresh;
