#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::platform::http::run(phonepe_webhook::AppState::from_env).await
}
