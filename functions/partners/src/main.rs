use lambda_http::{Error, run, service_fn};
use std::convert::Infallible;
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    let state = Arc::new(partners::AppState::from_env().await?);
    run(service_fn(move |req| {
        let state = Arc::clone(&state);
        async move { Ok::<_, Infallible>(partners::handle(&state, req).await) }
    }))
    .await
}
