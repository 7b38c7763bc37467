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
    let config = crate::config::Config::from_env()?;
    let sdk = crate::aws::load().await;
    let secret = get_string(&client(&sdk), &config.signing_key_secret_id).await?;
    let keys = crate::auth::jwt::KeySet::from_secret_json(&config.jwt_issuer, &secret)?;
    let store = crate::store::Store::new(crate::aws::dynamodb(&sdk), config.table_name);
    Ok(Platform { store, keys })
}
