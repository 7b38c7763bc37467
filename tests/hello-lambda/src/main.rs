//! Hello world on `lambda_http`: the baseline of the cold-start benchmark (`tests/benches/cold_start.rs`).

use lambda_http::{Error, Request, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run(service_fn(|_req: Request| async { Ok::<_, Error>("hello") })).await
}
