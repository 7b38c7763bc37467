//! The HTTPS client of the payment providers' APIs (Stripe, PhonePe): reqwest over rustls on aws-lc-rs (the
//! one crypto provider of the workspace) with the webpki roots compiled into the binary, so a cold start
//! never reads or parses the system certificate store. Bounded connect and request timeouts.

use std::sync::Arc;
use std::time::Duration;

fn tls_config() -> Result<rustls::ClientConfig, String> {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// A client whose every request times out after `timeout` (connecting: after 3 s).
pub fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config()?)
        .connect_timeout(Duration::from_secs(3))
        .timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(50))
        .user_agent(concat!("monetization-backend/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("http client: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn builds() {
        assert!(super::tls_config().is_ok());
        assert!(super::client(std::time::Duration::from_secs(1)).is_ok());
    }
}
