#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::platform::http::run(subscriptions::AppState::from_env).await
}
