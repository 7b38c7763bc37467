//! The `auth` function's use cases: accounts (register, login), sessions and solution tokens (generate,
//! validate, refresh, revoke), the user's context and tier, and verified email addresses. The primitives they
//! build on (JWTs, passwords, refresh tokens, throttles) are in `crate::identity`.

pub mod accounts;
pub mod tokens;
pub mod verification;
