//! The AWS SDK configuration, built once per cold start. Local runs point the SDK at DynamoDB Local and moto
//! with the standard `AWS_ENDPOINT_URL_<SERVICE>` variables, which `aws-config` reads itself.

pub async fn load() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await
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
