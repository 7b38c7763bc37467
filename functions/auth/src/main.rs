#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::platform::http::run(auth::AppState::from_env).await
}
