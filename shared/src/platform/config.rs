//! Configuration from the environment, read once per cold start. Secrets are not here: they come from
//! Secrets Manager (see `secrets`), named by the ids below.

use std::env;

#[derive(Debug, Clone)]
pub struct Config {
    /// The single DynamoDB table.
    pub table_name: String,
    /// Secrets Manager id (name or ARN) of the token-signing key material.
    pub signing_key_secret_id: String,
    /// `iss` of every token we mint; also the base URL partners see.
    pub jwt_issuer: String,
}

#[derive(Debug, thiserror::Error)]
#[error("missing or invalid environment variable {name}: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub reason: &'static str,
}

pub fn required(name: &'static str) -> Result<String, ConfigError> {
    match env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        Ok(_) => Err(ConfigError { name, reason: "empty" }),
        Err(_) => Err(ConfigError { name, reason: "not set" }),
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            signing_key_secret_id: required("SIGNING_KEY_SECRET_ID")?,
            jwt_issuer: required("JWT_ISSUER")?,
        })
    }
}

/// How long a past-due subscription keeps its paid tier: `GRACE_PERIOD_DAYS` (default 7), in seconds.
pub fn grace_seconds() -> Result<i64, ConfigError> {
    match env::var("GRACE_PERIOD_DAYS") {
        Err(_) => Ok(7 * 86_400),
        Ok(days) => days
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|d| *d >= 0)
            .map(|d| d * 86_400)
            .ok_or(ConfigError { name: "GRACE_PERIOD_DAYS", reason: "not a whole number of days" }),
    }
}
