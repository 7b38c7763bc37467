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
/// token keys from `SIGNING_PUBLIC_KEY_SECRET_ID` (the JWKS the auth function publishes there), so that it never
/// holds, and its IAM role cannot read, the private signing key.
pub async fn load_platform() -> Result<Platform, Box<dyn std::error::Error + Send + Sync>> {
    load_platform_with(&crate::platform::aws::load().await).await
}

/// As [`load_platform`], with an SDK configuration the caller keeps for other clients.
pub async fn load_platform_with(
    sdk: &aws_config::SdkConfig,
) -> Result<Platform, Box<dyn std::error::Error + Send + Sync>> {
    let (table, issuer) =
        (crate::platform::config::required("TABLE_NAME")?, crate::platform::config::required("JWT_ISSUER")?);
    let id = crate::platform::config::required("SIGNING_PUBLIC_KEY_SECRET_ID")?;
    let secret = get_string(&client(sdk), &id).await?;
    let keys = crate::identity::jwt::KeySet::from_jwks_json(&issuer, &secret).map_err(|e| {
        format!(
            "secret {id}: {e}; the auth function publishes the public keys there at its cold start \
             (invoke it once, e.g. GET /.well-known/jwks.json, after the first deployment or a key rotation)"
        )
    })?;
    Ok(Platform { store: crate::store::Store::new(crate::platform::aws::dynamodb(sdk), table), keys })
}

/// The signing function's cold start (auth): the private key material from `SIGNING_KEY_SECRET_ID`; then the
/// public keys it derives are published to `SIGNING_PUBLIC_KEY_SECRET_ID` when that secret holds anything else
/// (first deployment, rotation), idempotently (the version token is the hash of the JWKS).
pub async fn load_signing_platform() -> Result<Platform, Box<dyn std::error::Error + Send + Sync>> {
    let sdk = crate::platform::aws::load().await;
    let config = crate::platform::config::Config::from_env()?;
    let secrets = client(&sdk);
    let secret = get_string(&secrets, &config.signing_key_secret_id).await?;
    let keys = crate::identity::jwt::KeySet::from_secret_json(&config.jwt_issuer, &secret)?;
    let public_id = crate::platform::config::required("SIGNING_PUBLIC_KEY_SECRET_ID")?;
    publish_public_keys(&secrets, &public_id, &keys.jwks()).await?;
    let store = crate::store::Store::new(crate::platform::aws::dynamodb(&sdk), config.table_name);
    Ok(Platform { store, keys })
}

/// Write `jwks` to the public-key secret `id` unless it already holds exactly those keys.
pub async fn publish_public_keys(
    client: &Client,
    id: &str,
    jwks: &crate::identity::jwt::Jwks,
) -> Result<(), SecretError> {
    let published =
        get_string(client, id).await.ok().and_then(|s| serde_json::from_str::<crate::identity::jwt::Jwks>(&s).ok());
    if published.as_ref() == Some(jwks) {
        return Ok(());
    }
    let text = serde_json::to_string(jwks)
        .map_err(|e| SecretError::Unavailable { id: id.to_owned(), reason: e.to_string() })?;
    let token = crate::platform::crypto::sha256_hex(text.as_bytes());
    client.put_secret_value().secret_id(id).secret_string(text).client_request_token(token).send().await.map_err(
        |e| SecretError::Unavailable {
            id: id.to_owned(),
            reason: aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string(),
        },
    )?;
    tracing::info!(secret = id, keys = jwks.keys.len(), "published the public token keys");
    Ok(())
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

/// The store alone (`TABLE_NAME`), for functions that verify no tokens (the Stripe webhook).
pub fn store_from_env(
    sdk: &aws_config::SdkConfig,
) -> Result<crate::store::Store, crate::platform::config::ConfigError> {
    Ok(crate::store::Store::new(crate::platform::aws::dynamodb(sdk), crate::platform::config::required("TABLE_NAME")?))
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
