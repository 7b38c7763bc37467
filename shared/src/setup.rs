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

/// The signing function's cold start (auth): the store and its token keys, with no call. The private key
/// material (`SIGNING_KEY_SECRET_ID`) is read by the first request that signs a token or serves the JWKS;
/// tokens are verified with the configured public keys (`TOKEN_PUBLIC_KEYS`, see [`configured_public_keys`]).
/// When the configuration lacks the key it signs with, the other functions would refuse its tokens: that is
/// logged as an error naming the key when the signing key is loaded (the JWKS route serves what to configure).
pub async fn load_signing_platform()
-> Result<(crate::store::Store, crate::auth::TokenKeys), Box<dyn std::error::Error + Send + Sync>> {
    let sdk = crate::platform::aws::load().await;
    let config = crate::platform::config::Config::from_env()?;
    let configured = configured_public_keys(&config.jwt_issuer)?;
    let secrets = client(&sdk);
    let (issuer, id) = (config.jwt_issuer.clone(), config.signing_key_secret_id.clone());
    let published = std::env::var("TOKEN_PUBLIC_KEYS").unwrap_or_default();
    let signing = crate::platform::deferred::Deferred::new(id.clone(), move || {
        let (secrets, issuer, id, published) = (secrets.clone(), issuer.clone(), id.clone(), published.clone());
        async move {
            let secret = get_string(&secrets, &id).await?;
            let keys = crate::identity::jwt::KeySet::from_secret_json(&issuer, &secret)?;
            if let Some(missing) = unconfigured_signing_key(&keys, &published) {
                tracing::error!(
                    kid = %missing,
                    "the signing key is not in TOKEN_PUBLIC_KEYS: the functions that verify tokens will refuse the \
                     tokens signed now; set the TokenPublicKeys parameter to GET /.well-known/jwks.json and deploy"
                );
            }
            Ok(keys)
        }
    });
    let store = crate::store::Store::new(crate::platform::aws::dynamodb(&sdk), config.table_name);
    Ok((store, crate::auth::TokenKeys::new(configured, signing)))
}

/// The public keys `TOKEN_PUBLIC_KEYS` configures, `None` while it holds none (unset, or the template's
/// `{"keys": []}` before the first configuration); malformed keys are an error.
pub fn configured_public_keys(
    issuer: &str,
) -> Result<Option<crate::identity::jwt::KeySet>, Box<dyn std::error::Error + Send + Sync>> {
    let text = std::env::var("TOKEN_PUBLIC_KEYS").unwrap_or_default();
    let empty = serde_json::from_str::<crate::identity::jwt::Jwks>(&text).is_ok_and(|j| j.keys.is_empty());
    if text.trim().is_empty() || empty {
        return Ok(None);
    }
    crate::identity::jwt::KeySet::from_jwks_json(issuer, &text)
        .map(Some)
        .map_err(|e| format!("TOKEN_PUBLIC_KEYS: {e}").into())
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

/// `STRIPE_SECRET_ID` (Secrets Manager) and `STRIPE_API_BASE` (default `https://api.stripe.com`), read now:
/// for the functions that need the webhook secrets to answer at all (the Stripe webhook) or run as one job
/// (billing).
#[cfg(feature = "payments")]
pub async fn load_stripe(sdk: &aws_config::SdkConfig) -> Result<StripeSetup, Box<dyn std::error::Error + Send + Sync>> {
    let id = crate::platform::config::required("STRIPE_SECRET_ID")?;
    let secret: StripeSecret = read_json(&client(sdk), &id, "Stripe").await?;
    let mut webhook_secrets = secret.webhook_secrets;
    webhook_secrets.extend(secret.webhook_secret);
    webhook_secrets.retain(|s| !s.is_empty());
    let key = crate::platform::deferred::Deferred::ready(secret.secret_key.unwrap_or_default());
    let client = crate::payments::stripe::client::StripeClient::with_key(stripe_config(), key)?;
    Ok(StripeSetup { client, webhook_secrets })
}

/// The Stripe API client of a function that calls Stripe on some routes only (subscriptions, partners): its
/// secret key (`STRIPE_SECRET_ID`) is read by the first call to Stripe, not at cold start.
#[cfg(feature = "payments")]
pub fn deferred_stripe(
    sdk: &aws_config::SdkConfig,
) -> Result<crate::payments::stripe::client::StripeClient, Box<dyn std::error::Error + Send + Sync>> {
    let id = crate::platform::config::required("STRIPE_SECRET_ID")?;
    let key = on_first_use(sdk, id, "Stripe", |s: StripeSecret| Ok(s.secret_key.unwrap_or_default()));
    Ok(crate::payments::stripe::client::StripeClient::with_key(stripe_config(), key)?)
}

#[cfg(feature = "payments")]
fn stripe_config() -> crate::payments::stripe::client::StripeConfig {
    let api_base = std::env::var("STRIPE_API_BASE")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| crate::payments::stripe::client::DEFAULT_API_BASE.to_owned());
    crate::payments::stripe::client::StripeConfig {
        api_base,
        secret_key: String::new(),
        timeout: std::time::Duration::from_secs(10),
    }
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
/// OAuth host is chosen with it), read now (the PhonePe webhook needs its credentials to answer at all).
/// `None` when `PHONEPE_SECRET_ID` is not set: PhonePe is then not offered.
#[cfg(feature = "payments")]
pub async fn load_phonepe(
    sdk: &aws_config::SdkConfig,
    clock: std::sync::Arc<dyn crate::platform::clock::Clock>,
) -> Result<Option<PhonePeSetup>, Box<dyn std::error::Error + Send + Sync>> {
    let Some(id) = phonepe_secret_id() else {
        return Ok(None);
    };
    let secret: PhonePeSecret = read_json(&client(sdk), &id, "PhonePe").await?;
    let webhook = crate::payments::phonepe::callback::WebhookCredentials {
        username: secret.webhook_username.clone(),
        password: secret.webhook_password.clone(),
        salt_key: secret.salt_key.clone().filter(|s| !s.is_empty()),
        salt_index: secret.salt_index.clone().unwrap_or_else(|| "1".into()),
    };
    let credentials = crate::platform::deferred::Deferred::ready(secret.credentials());
    let client =
        crate::payments::phonepe::client::PhonePeClient::with_credentials(phonepe_config(), credentials, clock)?;
    Ok(Some(PhonePeSetup { client, webhook }))
}

/// The PhonePe API client of a function that calls PhonePe on some routes only (subscriptions): its
/// credentials (`PHONEPE_SECRET_ID`) are read by the first call, not at cold start. `None` when PhonePe is not
/// configured.
#[cfg(feature = "payments")]
pub fn deferred_phonepe(
    sdk: &aws_config::SdkConfig,
    clock: std::sync::Arc<dyn crate::platform::clock::Clock>,
) -> Result<Option<crate::payments::phonepe::client::PhonePeClient>, Box<dyn std::error::Error + Send + Sync>> {
    let Some(id) = phonepe_secret_id() else {
        return Ok(None);
    };
    let credentials = on_first_use(sdk, id, "PhonePe", |s: PhonePeSecret| Ok(s.credentials()));
    Ok(Some(crate::payments::phonepe::client::PhonePeClient::with_credentials(phonepe_config(), credentials, clock)?))
}

#[cfg(feature = "payments")]
fn phonepe_secret_id() -> Option<String> {
    std::env::var("PHONEPE_SECRET_ID").ok().filter(|s| !s.trim().is_empty())
}

#[cfg(feature = "payments")]
impl PhonePeSecret {
    fn credentials(&self) -> crate::payments::phonepe::client::PhonePeCredentials {
        crate::payments::phonepe::client::PhonePeCredentials {
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            client_version: self.client_version.clone(),
        }
    }
}

#[cfg(feature = "payments")]
fn phonepe_config() -> crate::payments::phonepe::client::PhonePeConfig {
    use crate::payments::phonepe::client::{PhonePeConfig, SANDBOX_BASE};
    let api_base = std::env::var("PHONEPE_API_BASE")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| SANDBOX_BASE.to_owned());
    PhonePeConfig {
        oauth_base: PhonePeConfig::oauth_base_for(&api_base),
        api_base,
        client_id: String::new(),
        client_secret: String::new(),
        client_version: String::new(),
        timeout: std::time::Duration::from_secs(10),
    }
}

/// The partners secret (JSON in Secrets Manager, `PARTNERS_SECRET_ID`): `{"payout_key": "…"}`, the
/// AES-256-GCM key that seals partners' payout details (base64 of 32 bytes, or a generated text of at least
/// 32 characters, see `Sealer::from_secret_text`). Read by the first request that seals or opens payout details.
pub fn deferred_sealer(
    sdk: &aws_config::SdkConfig,
) -> Result<
    crate::platform::deferred::Deferred<std::sync::Arc<crate::platform::sealed::Sealer>>,
    crate::platform::config::ConfigError,
> {
    #[derive(serde::Deserialize)]
    struct PartnersSecret {
        payout_key: String,
    }
    let id = crate::platform::config::required("PARTNERS_SECRET_ID")?;
    Ok(on_first_use(sdk, id, "partners", |secret: PartnersSecret| {
        let sealer = crate::platform::sealed::Sealer::from_secret_text(&secret.payout_key)
            .map_err(|e| format!("the partners secret: {e}"))?;
        Ok(std::sync::Arc::new(sealer))
    }))
}

/// A secret's JSON value; an error names the secret, never its value.
async fn read_json<S: serde::de::DeserializeOwned>(
    secrets: &Client,
    id: &str,
    what: &str,
) -> Result<S, Box<dyn std::error::Error + Send + Sync>> {
    let raw = get_string(secrets, id).await?;
    serde_json::from_str(&raw).map_err(|_| format!("secret {id} is not the {what} secret JSON").into())
}

/// What `make` builds from the JSON value of secret `id`, read by the first use (see `Deferred`).
fn on_first_use<S, T>(
    sdk: &aws_config::SdkConfig,
    id: String,
    what: &'static str,
    make: impl Fn(S) -> Result<T, Box<dyn std::error::Error + Send + Sync>> + Send + Sync + 'static,
) -> crate::platform::deferred::Deferred<T>
where
    S: serde::de::DeserializeOwned + Send + 'static,
    T: Send + Sync + 'static,
{
    let secrets = client(sdk);
    let make = std::sync::Arc::new(make);
    crate::platform::deferred::Deferred::new(id.clone(), move || {
        let (secrets, id, make) = (secrets.clone(), id.clone(), make.clone());
        async move { make(read_json::<S>(&secrets, &id, what).await?) }
    })
}
