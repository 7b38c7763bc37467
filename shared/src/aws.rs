//! The AWS SDK configuration, built once per cold start. Local runs point the SDK at DynamoDB Local and moto
//! with the standard `AWS_ENDPOINT_URL_<SERVICE>` variables, which `aws-config` reads itself.

pub async fn load() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await
}

pub fn dynamodb(config: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}
