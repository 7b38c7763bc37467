//! The one HTTP/TLS stack of every function: reqwest (hyper) over rustls on aws-lc-rs, with the webpki roots
//! compiled into the binary. The payment providers' clients use it directly (`provider_http`) and the AWS SDK
//! through [`aws_http_client`], so no function links a second stack, loads the system certificate store or
//! parses certificates at a cold start.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// TLS 1.2/1.3 with aws-lc-rs (the workspace's one crypto provider) and the compiled-in webpki roots.
pub fn tls_config() -> Result<rustls::ClientConfig, String> {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// A reqwest client on that stack; `connect` bounds connecting, `timeout` (when set) every request. Redirects
/// are not followed (neither AWS nor the providers' APIs answer with one that a caller should follow blindly).
pub fn reqwest_client(connect: Duration, timeout: Option<Duration>) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tls_backend_preconfigured(tls_config()?)
        .connect_timeout(connect)
        .pool_idle_timeout(Duration::from_secs(50))
        .user_agent(concat!("monetization-backend/", env!("CARGO_PKG_VERSION")));
    if let Some(t) = timeout {
        builder = builder.timeout(t);
    }
    builder.build().map_err(|e| format!("http client: {e}"))
}

/// The AWS SDK's HTTP client: requests go through a reqwest client per connect timeout the SDK asks for (one, in
/// practice), made on first use; the SDK's own attempt and operation timeouts bound each call.
pub fn aws_http_client() -> SharedHttpClient {
    SharedHttpClient::new(AwsHttp::default())
}

#[derive(Debug, Default)]
struct AwsHttp {
    connectors: Mutex<HashMap<Option<Duration>, SharedHttpConnector>>,
}

impl HttpClient for AwsHttp {
    fn http_connector(&self, settings: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        let connect = settings.connect_timeout();
        let mut cache = self.connectors.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .entry(connect)
            .or_insert_with(|| {
                let client = reqwest_client(connect.unwrap_or(Duration::from_secs(3)), None);
                SharedHttpConnector::new(AwsConnector { client: client.map_err(Arc::new) })
            })
            .clone()
    }
}

#[derive(Debug)]
struct AwsConnector {
    client: Result<reqwest::Client, Arc<String>>,
}

fn connector_error(e: reqwest::Error) -> ConnectorError {
    if e.is_timeout() {
        ConnectorError::timeout(e.into())
    } else if e.is_connect() || e.is_request() || e.is_body() {
        ConnectorError::io(e.into())
    } else {
        ConnectorError::other(e.into(), None)
    }
}

impl HttpConnector for AwsConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        HttpConnectorFuture::new(async move {
            let client = client.map_err(|e| ConnectorError::user(e.to_string().into()))?;
            let request = request.try_into_http1x().map_err(|e| ConnectorError::user(e.into()))?;
            let (parts, body) = request.into_parts();
            let body = match body.bytes() {
                Some(bytes) => reqwest::Body::from(bytes.to_vec()),
                None => reqwest::Body::wrap(body),
            };
            let url = parts.uri.to_string();
            let response = client
                .request(parts.method, url)
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(connector_error)?;
            let response = http::Response::from(response).map(SdkBody::from_body_1_x);
            HttpResponse::try_from(response).map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn builds() {
        assert!(super::tls_config().is_ok());
        assert!(super::reqwest_client(std::time::Duration::from_secs(1), None).is_ok());
    }
}
