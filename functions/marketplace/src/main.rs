use lambda_http::{Error, run, service_fn};
use std::convert::Infallible;
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::platform::logging::init();
    let state = Arc::new(marketplace::AppState::from_env().await?);
    // Each request runs within its invocation's time budget: past it, a 503 problem+json with Retry-After,
    // never Lambda's timeout (see shared::platform::budget).
    run(service_fn(move |req: lambda_http::Request| {
        let state = Arc::clone(&state);
        async move {
            let budget = shared::platform::budget::of_request(&req);
            Ok::<_, Infallible>(
                shared::platform::budget::respond_within(budget, marketplace::handle(&state, req)).await,
            )
        }
    }))
    .await
}
