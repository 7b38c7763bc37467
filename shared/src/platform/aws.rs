//! The AWS SDK configuration, built once per cold start. Local runs point the SDK at DynamoDB Local and moto
//! with the standard `AWS_ENDPOINT_URL_<SERVICE>` variables, which `aws-config` reads itself.
//!
//! Every client built from it has bounded time: a connect timeout, a timeout per attempt and one per operation
//! (all attempts and the back-off between them), sized well below the shortest function `Timeout` in
//! `infra/template.yaml` (10 s), so a slow or unreachable endpoint fails the call (and the request answers
//! `503` with `Retry-After`, see `store::StoreError::Unavailable`) instead of running into Lambda's limit.

use aws_config::timeout::TimeoutConfig;
use std::time::Duration;

/// The SDK's time limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// One attempt (request sent, response read).
    pub attempt: Duration,
    /// A whole operation: every attempt and the back-off between them.
    pub operation: Duration,
}

impl Default for Timeouts {
    /// 1 s to connect, 3 s per attempt, 6 s per operation: DynamoDB answers in milliseconds (a cold DynamoDB
    /// Local in seconds), so two attempts fit, and the operation ends well before a 10 s function's budget
    /// (`crate::platform::budget`), which bounds a handler's chained calls as a whole.
    fn default() -> Self {
        Self { connect: Duration::from_secs(1), attempt: Duration::from_secs(3), operation: Duration::from_secs(6) }
    }
}

impl Timeouts {
    /// The defaults, overridden by `AWS_SDK_ATTEMPT_TIMEOUT_MS` and `AWS_SDK_OPERATION_TIMEOUT_MS` when set
    /// (positive integers; anything else is ignored).
    pub fn from_env() -> Self {
        let ms = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|v| *v > 0)
                .map(Duration::from_millis)
        };
        let mut t = Self::default();
        if let Some(attempt) = ms("AWS_SDK_ATTEMPT_TIMEOUT_MS") {
            t.attempt = attempt;
        }
        if let Some(operation) = ms("AWS_SDK_OPERATION_TIMEOUT_MS") {
            t.operation = operation;
        }
        t.connect = t.connect.min(t.attempt);
        t
    }

    pub fn config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }
}

/// The SDK configuration from the environment, with [`Timeouts::from_env`].
pub async fn load() -> aws_config::SdkConfig {
    load_with(Timeouts::from_env()).await
}

/// The SDK configuration from the environment, with the given time limits, on the functions' one HTTP/TLS stack
/// ([`crate::platform::https::aws_http_client`]). It is what Lambda gives every function and nothing more: the
/// region (`AWS_REGION`, else `AWS_DEFAULT_REGION`), the role's credentials (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) and the standard endpoint variables (`AWS_ENDPOINT_URL_<SERVICE>`,
/// `AWS_ENDPOINT_URL`, for local runs). No profile file, instance-metadata or STS provider is consulted, so
/// none is linked into the functions. Without a region or credentials, calls fail naming what is missing.
pub async fn load_with(timeouts: Timeouts) -> aws_config::SdkConfig {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let mut builder = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts.config())
        .retry_config(aws_config::retry::RetryConfig::standard())
        .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
        .time_source(aws_smithy_async::time::SystemTimeSource::new())
        .http_client(crate::platform::https::aws_http_client())
        .service_config(EndpointVariables);
    if let Some(region) = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")) {
        builder = builder.region(aws_config::Region::new(region));
    }
    if let (Some(key), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        let credentials =
            aws_credential_types::Credentials::new(key, secret, var("AWS_SESSION_TOKEN"), None, "environment");
        builder =
            builder.credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(credentials));
    }
    builder.build()
}

/// The standard per-service settings from the environment: `AWS_ENDPOINT_URL_DYNAMODB` (the key's variable and
/// the service id, upper-cased, spaces as `_`), else `AWS_ENDPOINT_URL`.
#[derive(Debug)]
struct EndpointVariables;

impl aws_types::service_config::LoadServiceConfig for EndpointVariables {
    fn load_config(&self, key: aws_types::service_config::ServiceConfigKey<'_>) -> Option<String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let service = key.service_id().to_ascii_uppercase().replace([' ', '-'], "_");
        var(&format!("{}_{service}", key.env())).or_else(|| var(key.env()))
    }
}

pub fn dynamodb(config: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

/// S3 with path-style addressing when an endpoint override is set (moto, MinIO): a local endpoint has no
/// per-bucket host names. In AWS the default (virtual-hosted style) applies.
#[cfg(feature = "payments")]
pub fn s3(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let overridden =
        std::env::var_os("AWS_ENDPOINT_URL_S3").is_some() || std::env::var_os("AWS_ENDPOINT_URL").is_some();
    let conf = aws_sdk_s3::config::Builder::from(config).force_path_style(overridden).build();
    aws_sdk_s3::Client::from_conf(conf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_come_from_the_service_variable_then_the_global_one() {
        use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};
        let key = ServiceConfigKey::builder()
            .service_id("Secrets Manager")
            .env("AWS_ENDPOINT_URL_TEST_ONLY")
            .profile("endpoint_url")
            .build()
            .expect("key");
        // SAFETY: variables only this test reads.
        unsafe { std::env::set_var("AWS_ENDPOINT_URL_TEST_ONLY", "http://global") };
        assert_eq!(EndpointVariables.load_config(key.clone()).as_deref(), Some("http://global"));
        unsafe { std::env::set_var("AWS_ENDPOINT_URL_TEST_ONLY_SECRETS_MANAGER", "http://service") };
        assert_eq!(EndpointVariables.load_config(key).as_deref(), Some("http://service"));
    }

    #[test]
    fn the_limits_stay_below_the_shortest_function_timeout() {
        let t = Timeouts::default();
        assert!(t.connect <= t.attempt && t.attempt < t.operation);
        assert!(
            t.operation + crate::platform::budget::MARGIN < Duration::from_secs(10),
            "10 s: the template's Globals Timeout"
        );
        let c = t.config();
        assert_eq!(c.operation_timeout(), Some(t.operation));
        assert_eq!(c.operation_attempt_timeout(), Some(t.attempt));
    }
}
