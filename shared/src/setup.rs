//! Secrets Manager access. Secrets are read once per cold start and kept in memory; they are never logged
//! (errors name the secret id, never its value).

use aws_sdk_secretsmanager::Client;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret {id} could not be read: {reason}")]
    Unavailable { id: String, reason: String },
    #[error("secret {id} has no string value")]
    Empty { id: String },
}

pub fn client(config: &aws_config::SdkConfig) -> Client {
    Client::new(config)
}

/// The current string value of a secret.
pub async fn get_string(client: &Client, id: &str) -> Result<String, SecretError> {
    let out = client.get_secret_value().secret_id(id).send().await.map_err(|e| SecretError::Unavailable {
        id: id.to_owned(),
        reason: aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string(),
    })?;
    out.secret_string.filter(|s| !s.is_empty()).ok_or_else(|| SecretError::Empty { id: id.to_owned() })
}

/// What every HTTP function loads at cold start: the store and the token keys (from Secrets Manager).
pub struct Platform {
    pub store: crate::store::Store,
    pub keys: crate::identity::jwt::KeySet,
}

/// A verify-only function's cold start (usage, subscriptions, partners, marketplace): the store and the public
/// token keys, from configuration only (see [`public_keys_from_env`]): no call before the first request.
pub async fn load_platform() -> Result<Platform, Box<dyn std::error::Error + Send + Sync>> {
    platform_from_env(&crate::platform::aws::load().await)
}

/// As [`load_platform`], with an SDK configuration the caller keeps for other clients.
pub fn platform_from_env(sdk: &aws_config::SdkConfig) -> Result<Platform, Box<dyn std::error::Error + Send + Sync>> {
    Ok(Platform { store: store_from_env(sdk)?, keys: public_keys_from_env()? })
}

/// The public token keys from `TOKEN_PUBLIC_KEYS`: the JWKS the deployment configures (the template's
/// `TokenPublicKeys`, what the auth function serves at `/.well-known/jwks.json`; current and next during a
/// rotation). A function holding them verifies tokens exactly as the auth function does and cannot sign, and its
/// role cannot read the private signing key.
pub fn public_keys_from_env() -> Result<crate::identity::jwt::KeySet, Box<dyn std::error::Error + Send + Sync>> {
    let issuer = crate::platform::config::required("JWT_ISSUER")?;
    let jwks = crate::platform::config::required("TOKEN_PUBLIC_KEYS")?;
    crate::identity::jwt::KeySet::from_jwks_json(&issuer, &jwks).map_err(|e| {
        format!(
            "TOKEN_PUBLIC_KEYS: {e}; set the TokenPublicKeys parameter of the deployment to what the auth function \
             serves at GET /.well-known/jwks.json (after the first deployment and at each key rotation)"
        )
        .into()
    })
}

/// The signing function's cold start (auth): the private key material from `SIGNING_KEY_SECRET_ID`. When the
/// configured public keys (`TOKEN_PUBLIC_KEYS`) lack the key it signs with, the other functions would refuse its
/// tokens: that is logged as an error naming the key (the JWKS route keeps serving what to configure).
pub async fn load_signing_platform() -> Result<Platform, Box<dyn std::error::Error + Send + Sync>> {
    let sdk = crate::platform::aws::load().await;
    let config = crate::platform::config::Config::from_env()?;
    let secret = get_string(&client(&sdk), &config.signing_key_secret_id).await?;
    let keys = crate::identity::jwt::KeySet::from_secret_json(&config.jwt_issuer, &secret)?;
    let configured = std::env::var("TOKEN_PUBLIC_KEYS").unwrap_or_default();
    if let Some(missing) = unconfigured_signing_key(&keys, &configured) {
        tracing::error!(
            kid = %missing,
            "the signing key is not in TOKEN_PUBLIC_KEYS: the functions that verify tokens will refuse the tokens \
             signed now; set the TokenPublicKeys parameter to GET /.well-known/jwks.json and deploy"
        );
    }
    let store = crate::store::Store::new(crate::platform::aws::dynamodb(&sdk), config.table_name);
    Ok(Platform { store, keys })
}

/// The key `keys` signs with when the configured public keys (a JWKS text) do not hold it.
pub fn unconfigured_signing_key(keys: &crate::identity::jwt::KeySet, configured: &str) -> Option<String> {
    let published = serde_json::from_str::<crate::identity::jwt::Jwks>(configured).ok();
    let current = keys.jwks().keys.into_iter().next()?;
    let known = published.is_some_and(|p| p.keys.contains(&current));
    (!known).then_some(current.kid)
}

/// The store alone (`TABLE_NAME`), for functions that verify no tokens (the Stripe webhook).
pub fn store_from_env(
    sdk: &aws_config::SdkConfig,
) -> Result<crate::store::Store, crate::platform::config::ConfigError> {
    Ok(crate::store::Store::new(crate::platform::aws::dynamodb(sdk), crate::platform::config::required("TABLE_NAME")?))
}

#[cfg(feature = "payments")]
/// The Stripe secret (JSON in Secrets Manager): `{"secret_key": "sk_…", "webhook_secrets": ["whsec_…", …]}`
/// (`webhook_secret` with one value is accepted too; several allow a rotation).
#[derive(serde::Deserialize)]
struct StripeSecret {
    #[serde(default)]
    secret_key: Option<String>,
    #[serde(default)]
    webhook_secrets: Vec<String>,
    #[serde(default)]
    webhook_secret: Option<String>,
}

/// What the Stripe functions load at cold start.
#[cfg(feature = "payments")]
pub struct StripeSetup {
    pub client: crate::payments::stripe::client::StripeClient,
    pub webhook_secrets: Vec<String>,
}

/// `STRIPE_SECRET_ID` (Secrets Manager) and `STRIPE_API_BASE` (default `https://api.stripe.com`).
#[cfg(feature = "payments")]
pub async fn load_stripe(sdk: &aws_config::SdkConfig) -> Result<StripeSetup, Box<dyn std::error::Error + Send + Sync>> {
    let id = crate::platform::config::required("STRIPE_SECRET_ID")?;
    let raw = get_string(&client(sdk), &id).await?;
    let secret: StripeSecret =
        serde_json::from_str(&raw).map_err(|_| format!("secret {id} is not the Stripe secret JSON"))?;
    let mut webhook_secrets = secret.webhook_secrets;
    webhook_secrets.extend(secret.webhook_secret);
    webhook_secrets.retain(|s| !s.is_empty());
    let api_base = std::env::var("STRIPE_API_BASE")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| crate::payments::stripe::client::DEFAULT_API_BASE.to_owned());
    let client = crate::payments::stripe::client::StripeClient::new(crate::payments::stripe::client::StripeConfig {
        api_base,
        secret_key: secret.secret_key.unwrap_or_default(),
        timeout: std::time::Duration::from_secs(10),
    })?;
    Ok(StripeSetup { client, webhook_secrets })
}

/// The PhonePe secret (JSON in Secrets Manager): the API client credentials and the webhook credentials,
/// plus the legacy v1 salt when v1 callbacks are accepted.
#[cfg(feature = "payments")]
#[derive(serde::Deserialize)]
struct PhonePeSecret {
    client_id: String,
    client_secret: String,
    #[serde(default = "default_client_version")]
    client_version: String,
    #[serde(default)]
    webhook_username: String,
    #[serde(default)]
    webhook_password: String,
    #[serde(default)]
    salt_key: Option<String>,
    #[serde(default)]
    salt_index: Option<String>,
}

#[cfg(feature = "payments")]
fn default_client_version() -> String {
    "1".into()
}

/// What the PhonePe functions load at cold start.
#[cfg(feature = "payments")]
pub struct PhonePeSetup {
    pub client: crate::payments::phonepe::client::PhonePeClient,
    pub webhook: crate::payments::phonepe::callback::WebhookCredentials,
}

/// `PHONEPE_SECRET_ID` (Secrets Manager) and `PHONEPE_API_BASE` (default: PhonePe's sandbox; production's
/// OAuth host is chosen with it). `None` when `PHONEPE_SECRET_ID` is not set: PhonePe is then not offered.
#[cfg(feature = "payments")]
pub async fn load_phonepe(
    sdk: &aws_config::SdkConfig,
    clock: std::sync::Arc<dyn crate::platform::clock::Clock>,
) -> Result<Option<PhonePeSetup>, Box<dyn std::error::Error + Send + Sync>> {
    use crate::payments::phonepe::client::{PhonePeClient, PhonePeConfig, SANDBOX_BASE};
    let Some(id) = std::env::var("PHONEPE_SECRET_ID").ok().filter(|s| !s.trim().is_empty()) else {
        return Ok(None);
    };
    let raw = get_string(&client(sdk), &id).await?;
    let secret: PhonePeSecret =
        serde_json::from_str(&raw).map_err(|_| format!("secret {id} is not the PhonePe secret JSON"))?;
    let api_base = std::env::var("PHONEPE_API_BASE")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| SANDBOX_BASE.to_owned());
    let config = PhonePeConfig {
        oauth_base: PhonePeConfig::oauth_base_for(&api_base),
        api_base,
        client_id: secret.client_id,
        client_secret: secret.client_secret,
        client_version: secret.client_version,
        timeout: std::time::Duration::from_secs(10),
    };
    let webhook = crate::payments::phonepe::callback::WebhookCredentials {
        username: secret.webhook_username,
        password: secret.webhook_password,
        salt_key: secret.salt_key.filter(|s| !s.is_empty()),
        salt_index: secret.salt_index.unwrap_or_else(|| "1".into()),
    };
    Ok(Some(PhonePeSetup { client: PhonePeClient::new(config, clock)?, webhook }))
}

/// The partners secret (JSON in Secrets Manager, `PARTNERS_SECRET_ID`): `{"payout_key": "…"}`, the
/// AES-256-GCM key that seals partners' payout details (base64 of 32 bytes, or a generated text of at least
/// 32 characters, see `Sealer::from_secret_text`).
pub async fn load_sealer(
    sdk: &aws_config::SdkConfig,
) -> Result<crate::platform::sealed::Sealer, Box<dyn std::error::Error + Send + Sync>> {
    #[derive(serde::Deserialize)]
    struct PartnersSecret {
        payout_key: String,
    }
    let id = crate::platform::config::required("PARTNERS_SECRET_ID")?;
    let raw = get_string(&client(sdk), &id).await?;
    let secret: PartnersSecret =
        serde_json::from_str(&raw).map_err(|_| format!("secret {id} is not the partners secret JSON"))?;
    crate::platform::sealed::Sealer::from_secret_text(&secret.payout_key)
        .map_err(|e| format!("secret {id}: {e}").into())
}
