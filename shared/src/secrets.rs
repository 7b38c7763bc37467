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
    pub keys: crate::auth::jwt::KeySet,
}

/// Configuration from the environment, SDK clients, and the signing keys, read once.
pub async fn load_platform() -> Result<Platform, Box<dyn std::error::Error + Send + Sync>> {
    load_platform_with(&crate::aws::load().await).await
}

/// As [`load_platform`], with an SDK configuration the caller keeps for other clients.
pub async fn load_platform_with(
    sdk: &aws_config::SdkConfig,
) -> Result<Platform, Box<dyn std::error::Error + Send + Sync>> {
    let config = crate::config::Config::from_env()?;
    let secret = get_string(&client(sdk), &config.signing_key_secret_id).await?;
    let keys = crate::auth::jwt::KeySet::from_secret_json(&config.jwt_issuer, &secret)?;
    let store = crate::store::Store::new(crate::aws::dynamodb(sdk), config.table_name);
    Ok(Platform { store, keys })
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
pub fn store_from_env(sdk: &aws_config::SdkConfig) -> Result<crate::store::Store, crate::config::ConfigError> {
    Ok(crate::store::Store::new(crate::aws::dynamodb(sdk), crate::config::required("TABLE_NAME")?))
}

/// What the Stripe functions load at cold start.
#[cfg(feature = "payments")]
pub struct StripeSetup {
    pub client: crate::stripe::client::StripeClient,
    pub webhook_secrets: Vec<String>,
}

/// `STRIPE_SECRET_ID` (Secrets Manager) and `STRIPE_API_BASE` (default `https://api.stripe.com`).
#[cfg(feature = "payments")]
pub async fn load_stripe(sdk: &aws_config::SdkConfig) -> Result<StripeSetup, Box<dyn std::error::Error + Send + Sync>> {
    let id = crate::config::required("STRIPE_SECRET_ID")?;
    let raw = get_string(&client(sdk), &id).await?;
    let secret: StripeSecret =
        serde_json::from_str(&raw).map_err(|_| format!("secret {id} is not the Stripe secret JSON"))?;
    let mut webhook_secrets = secret.webhook_secrets;
    webhook_secrets.extend(secret.webhook_secret);
    webhook_secrets.retain(|s| !s.is_empty());
    let api_base = std::env::var("STRIPE_API_BASE")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| crate::stripe::client::DEFAULT_API_BASE.to_owned());
    let client = crate::stripe::client::StripeClient::new(crate::stripe::client::StripeConfig {
        api_base,
        secret_key: secret.secret_key.unwrap_or_default(),
        timeout: std::time::Duration::from_secs(10),
    })?;
    Ok(StripeSetup { client, webhook_secrets })
}
