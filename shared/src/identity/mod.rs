//! Who is calling: the authenticated principal of a request (session or solution token), its scopes and
//! confinement to one solution, and bearer verification. Every capability authenticates through here; the
//! `auth` capability (`tokens`) issues the tokens.

pub mod api_keys;
pub mod jwt;
pub mod orgs;
pub mod password;
pub mod refresh;
pub mod throttle;

use crate::identity::jwt::{Claims, Expect, KeySet};
use crate::model::Role;
use crate::model::TokenKind;
use crate::platform::error::{ApiError, codes};
use crate::store::Store;

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub user_id: String,
    pub email: String,
    pub role: Role,
    pub token_id: String,
    pub family_id: String,
    pub kind: TokenKind,
    pub solution_id: Option<String>,
    /// The organization a solution token acts for (`None`: the user's own account).
    pub org_id: Option<String>,
    pub scopes: Vec<String>,
    pub issued_at: i64,
    pub exp: i64,
}

/// The scope a solution token needs to report usage.
pub const SCOPE_TRACK: &str = "usage:track";
/// The scope a solution token needs to read its user's usage, quota and context.
pub const SCOPE_READ: &str = "usage:read";

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// The customer a solution token acts for: its organization's, else its user's. A session acts for the
    /// user's own account.
    pub fn customer_id(&self) -> &str {
        self.org_id.as_deref().unwrap_or(&self.user_id)
    }

    /// A solution token's confinement: `None` for a session (the whole account), the token's solution
    /// otherwise, after checking it carries `scope` (403 `insufficient_scope`).
    pub fn confined_to(&self, scope: &str) -> Result<Option<&str>, ApiError> {
        match self.kind {
            TokenKind::Access => Ok(None),
            TokenKind::Solution => {
                require_scope(&self.scopes, scope)?;
                Ok(Some(self.solution_id.as_deref().unwrap_or_default()))
            }
        }
    }

    /// A solution token may only touch its own solution (403 `solution_mismatch`); a session may touch any.
    pub fn may_use_solution(&self, scope: &str, solution_id: &str) -> Result<(), ApiError> {
        match self.confined_to(scope)? {
            Some(own) if own != solution_id => Err(solution_mismatch()),
            _ => Ok(()),
        }
    }
}

/// 403 `insufficient_scope` unless `scopes` holds `scope`.
pub fn require_scope(scopes: &[String], scope: &str) -> Result<(), ApiError> {
    if scopes.iter().any(|s| s == scope) {
        Ok(())
    } else {
        Err(ApiError::new(
            403,
            codes::INSUFFICIENT_SCOPE,
            "Insufficient scope",
            format!("this solution token lacks the `{scope}` scope"),
        )
        .with_extension("required_scope", scope.into()))
    }
}

/// 403 `solution_unavailable`: the token's solution is suspended or retired, so its tokens no longer work
/// (they work again if an admin reinstates a suspended solution and they have not expired).
pub fn solution_unavailable() -> ApiError {
    ApiError::new(
        403,
        codes::SOLUTION_UNAVAILABLE,
        "Solution unavailable",
        "this token's solution is suspended or retired",
    )
}

/// 403 `solution_mismatch`: a solution token presented for another solution's data.
pub fn solution_mismatch() -> ApiError {
    ApiError::new(403, codes::SOLUTION_MISMATCH, "Forbidden", "this solution token is for another solution")
}

/// Authenticate a bearer token for the platform API: in-memory verification plus a consistent read of its
/// family, so a revoked session stops at once.
pub async fn authenticate(
    keys: &KeySet,
    store: &Store,
    bearer: Option<&str>,
    kinds: &[TokenKind],
) -> Result<Principal, ApiError> {
    let token = bearer.ok_or_else(|| ApiError::unauthorized("a bearer token is required"))?;
    let claims = verify_bearer(keys, token, kinds)?;
    let family = store.get_family(&claims.fid).await?;
    if family.is_none_or(|f| f.revoked_at.is_some()) {
        return Err(ApiError::unauthorized_code(codes::REVOKED, "the token has been revoked"));
    }
    Ok(Principal::from(claims))
}

/// Verify a bearer token in memory only (signature, expiry, issuer, kind).
pub fn verify_bearer(keys: &KeySet, token: &str, kinds: &[TokenKind]) -> Result<Claims, ApiError> {
    keys.verify(token, Expect { kinds, audience: None, allow_expired: false })
        .map_err(|e| ApiError::unauthorized_code(e.code(), e.to_string()))
}

impl From<Claims> for Principal {
    fn from(claims: Claims) -> Self {
        Self {
            user_id: claims.sub,
            email: claims.email,
            role: claims.role.unwrap_or(Role::User),
            token_id: claims.jti,
            family_id: claims.fid,
            kind: claims.typ,
            solution_id: claims.solution_id,
            org_id: claims.org_id,
            scopes: claims.scopes,
            issued_at: claims.iat,
            exp: claims.exp,
        }
    }
}
