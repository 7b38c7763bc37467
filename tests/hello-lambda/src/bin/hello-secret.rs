//! Hello world that first reads one secret from Secrets Manager (`HELLO_SECRET_ID`) the way the functions do
//! (the same SDK configuration and HTTP/TLS stack): in the cold-start benchmark, its init minus hello-world's is
//! what one Secrets Manager read costs a cold start, the allowance of the functions that must read a secret
//! before their first answer (the webhooks).

use lambda_http::{Error, Request, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let id = std::env::var("HELLO_SECRET_ID")?;
    let sdk = shared::platform::aws::load().await;
    let secret = shared::setup::get_string(&shared::setup::client(&sdk), &id).await?;
    let length = secret.len();
    run(service_fn(move |_req: Request| async move { Ok::<_, Error>(format!("hello ({length})")) })).await
}
