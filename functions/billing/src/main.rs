use lambda_runtime::{Error, LambdaEvent, Runtime, service_fn};
use shared::platform::telemetry::{self, Trigger};
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::platform::logging::init();
    shared::platform::metrics::init();
    let state = Arc::new(billing::AppState::from_env().await?);
    let handler = service_fn(move |event: LambdaEvent<billing::Job>| {
        let state = Arc::clone(&state);
        async move {
            let deadline = i64::try_from(event.context.deadline).unwrap_or(i64::MAX);
            let outcome = billing::handle(&state, event.payload, deadline).await;
            shared::platform::metrics::flush(Some(&event.context.request_id));
            outcome
        }
    });
    telemetry::run(Runtime::new(handler), Trigger::Timer).await
}
