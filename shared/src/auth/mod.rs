//! The `auth` function's use cases: accounts (register, login), sessions and solution tokens (generate,
//! validate, refresh, revoke), the user's context and tier, and verified email addresses. The primitives they
//! build on (JWTs, passwords, refresh tokens, throttles) are in `crate::identity`.
//!
//! This root holds the service, its settings and what its use cases share (minting a JWT, starting a token
//! family); `sessions` (sign-up, login, refresh, revoke, the token listing), `tokens` (solution tokens:
//! generate, validate) and `context` (the user's context, tier and usable solutions) hold the use cases.

pub mod accounts;
pub mod context;
pub mod health;
pub mod invitations;
pub mod orgs;
pub mod sessions;
pub mod tokens;
pub mod verification;

pub use context::{
    Entitlement, OrgMembership, Profile, SetTierRequest, SolutionTier, UsableSolution, UserContext, UserSolutions,
};
pub use sessions::{
    LoginRequest, RefreshRequest, Refreshed, RegisterRequest, RevokeRequest, Session, TokenInfo, TokenList,
};
pub use tokens::{GenerateRequest, SolutionToken, ValidateRequest, Validation};

use crate::identity::jwt::{ACCESS_AUDIENCE, Claims, Jwks, KeySet};
use crate::identity::throttle;
use crate::identity::{Principal, authenticate};
use crate::model::{Role, SolutionStatus, Tier, TokenKind};
use crate::platform::clock::{Clock, rfc3339, rfc3339_epoch as epoch_rfc3339};
use crate::platform::deferred::Deferred;
use crate::platform::error::{ApiError, FieldError};
use crate::platform::ids;
use crate::store::Store;
use crate::store::tokens::{FamilyItem, TokenItem};
use std::sync::Arc;

/// Lifetimes and bounds.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub access_ttl_seconds: i64,
    pub session_lifetime_seconds: i64,
    pub solution_default_ttl_seconds: i64,
    pub solution_min_ttl_seconds: i64,
    pub solution_max_ttl_seconds: i64,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            access_ttl_seconds: 900,
            session_lifetime_seconds: 30 * 86_400,
            solution_default_ttl_seconds: 900,
            solution_min_ttl_seconds: 60,
            solution_max_ttl_seconds: 3_600,
        }
    }
}

/// Tokens work while their solution is published (a missing solution item counts as gone).
fn solution_is_live(status: Option<SolutionStatus>) -> bool {
    status == Some(SolutionStatus::Published)
}

fn kind_name(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Access => "session",
        TokenKind::Solution => "solution",
    }
}

fn check_id(field: &str, prefix: &str, value: &str) -> Result<(), FieldError> {
    if ids::is_valid(prefix, value) { Ok(()) } else { Err(FieldError::new(field, format!("must be a {prefix}_ id"))) }
}

/// The auth function's token keys: the signing keys (private, from the signing secret) are loaded on first use,
/// by the first request that signs a token or serves the JWKS; tokens are verified with the configured public
/// keys (`TOKEN_PUBLIC_KEYS`, as every other function verifies them), or with the signing keys while none are
/// configured (before the first configuration of a new deployment).
pub struct TokenKeys {
    configured: Option<KeySet>,
    signing: Deferred<KeySet>,
}

impl TokenKeys {
    /// Signing and verifying with `keys` (tests, the local stack).
    pub fn ready(keys: KeySet) -> Self {
        Self { configured: None, signing: Deferred::ready(keys) }
    }

    /// Verifying with `configured` (when the deployment configures public keys), signing with `signing`.
    pub fn new(configured: Option<KeySet>, signing: Deferred<KeySet>) -> Self {
        Self { configured, signing }
    }

    /// The keys tokens are verified with.
    pub async fn verifying(&self) -> Result<&KeySet, ApiError> {
        match &self.configured {
            Some(keys) => Ok(keys),
            None => self.signing.get().await,
        }
    }

    /// The keys tokens are signed with (loaded on first use).
    pub async fn signing(&self) -> Result<&KeySet, ApiError> {
        self.signing.get().await
    }
}

/// The auth use cases.
#[derive(Clone)]
pub struct AuthService {
    store: Store,
    keys: Arc<TokenKeys>,
    clock: Arc<dyn Clock>,
    settings: TokenSettings,
}

/// What a minted JWT consists of.
struct Minted {
    jwt: String,
    record: TokenItem,
    exp: i64,
}

impl AuthService {
    /// Signing and verifying with `keys`.
    pub fn new(store: Store, keys: KeySet, clock: Arc<dyn Clock>, settings: TokenSettings) -> Self {
        Self::with_keys(store, TokenKeys::ready(keys), clock, settings)
    }

    pub fn with_keys(store: Store, keys: TokenKeys, clock: Arc<dyn Clock>, settings: TokenSettings) -> Self {
        Self { store, keys: Arc::new(keys), clock, settings }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The public signing keys (current, and next or previous during a rotation).
    pub async fn jwks(&self) -> Result<Jwks, ApiError> {
        Ok(self.keys.signing().await?.jwks())
    }

    async fn mint(&self, family: &FamilyItem, email: &str, role: Role, tier: Option<Tier>) -> Result<Minted, ApiError> {
        let signing = self.keys.signing().await?;
        let now = self.clock.now();
        let iat = now.timestamp();
        let exp = iat + family.token_ttl_seconds;
        let token_id = ids::token_id();
        let claims = Claims {
            iss: signing.issuer().to_owned(),
            sub: family.user_id.clone(),
            aud: match family.kind {
                TokenKind::Access => ACCESS_AUDIENCE.to_owned(),
                TokenKind::Solution => family.solution_id.clone().unwrap_or_default(),
            },
            exp,
            iat,
            jti: token_id.clone(),
            typ: family.kind,
            fid: family.family_id.clone(),
            email: email.to_owned(),
            role: (family.kind == TokenKind::Access).then_some(role),
            solution_id: family.solution_id.clone(),
            tier,
            org_id: family.org_id.clone(),
            scopes: family.scopes.clone(),
        };
        let jwt = signing.sign(&claims).map_err(ApiError::internal)?;
        let record = TokenItem::new(&token_id, family, rfc3339(now), exp);
        Ok(Minted { jwt, record, exp })
    }

    fn new_family(&self, user_id: &str, kind: TokenKind, solution: Option<(&str, Vec<String>, i64)>) -> FamilyItem {
        let now = self.clock.now();
        let (solution_id, scopes, ttl) = match solution {
            Some((sid, scopes, ttl)) => (Some(sid), scopes, ttl),
            None => (None, Vec::new(), self.settings.access_ttl_seconds),
        };
        FamilyItem::new(
            &ids::family_id(),
            user_id,
            kind,
            solution_id,
            scopes,
            ttl,
            rfc3339(now),
            now.timestamp() + self.settings.session_lifetime_seconds,
        )
    }

    /// The per-source-IP limit of a public auth route (see [`throttle`]).
    pub async fn admit(&self, limit: throttle::Limit, source_ip: Option<&str>) -> Result<(), ApiError> {
        throttle::admit(&self.store, limit, source_ip, self.clock.now().timestamp()).await
    }

    /// Authenticate a bearer token for the platform API (see [`authenticate`]).
    pub async fn authenticate(&self, bearer: Option<&str>, kinds: &[TokenKind]) -> Result<Principal, ApiError> {
        authenticate(self.keys.verifying().await?, &self.store, bearer, kinds).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const ISSUER: &str = "https://keys.test";

    fn signing(material: &'static str) -> (Arc<AtomicUsize>, Deferred<KeySet>) {
        let loads = Arc::new(AtomicUsize::new(0));
        let seen = loads.clone();
        let deferred = Deferred::new("signing", move || {
            seen.fetch_add(1, Ordering::SeqCst);
            async move { Ok(KeySet::from_material(ISSUER, material, None)?) }
        });
        (loads, deferred)
    }

    #[tokio::test]
    async fn configured_public_keys_verify_without_loading_the_signing_key() {
        let current = "a".repeat(40);
        let public = KeySet::from_jwks_json(
            ISSUER,
            &serde_json::to_string(&KeySet::from_material(ISSUER, &current, None).expect("keys").jwks()).expect("jwks"),
        )
        .expect("public keys");
        let (loads, deferred) = signing("b-signing-material-of-forty-characters--");
        let keys = TokenKeys::new(Some(public), deferred);
        let verifying = keys.verifying().await.expect("configured");
        assert!(!verifying.can_sign());
        assert_eq!(loads.load(Ordering::SeqCst), 0, "verifying loaded the signing key");
        // Signing loads it, once; the configured keys stay what tokens are verified with.
        let kid = keys.signing().await.expect("loads").current_kid().to_owned();
        keys.signing().await.expect("kept");
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert_ne!(keys.verifying().await.expect("configured").current_kid(), kid);
    }

    #[tokio::test]
    async fn without_configured_keys_tokens_are_verified_with_the_signing_keys() {
        let (loads, deferred) = signing("c-signing-material-of-forty-characters--");
        let keys = TokenKeys::new(None, deferred);
        let verifying = keys.verifying().await.expect("signing keys");
        assert!(verifying.can_sign());
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }
}
