//! The HTTPS client of the payment providers' APIs (Stripe, PhonePe), on the functions' one HTTP/TLS stack
//! ([`crate::platform::https`]: rustls on aws-lc-rs, webpki roots compiled in). Bounded connect and request
//! timeouts; each attempt is also capped by the invocation's time budget ([`attempt_timeout`]).

use std::time::Duration;

/// A client whose every request times out after `timeout` (connecting: after 3 s).
pub fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    crate::platform::https::reqwest_client(Duration::from_secs(3), Some(timeout))
}

/// Send `request` within a client span of `provider` (`platform::telemetry::client_span`: method, host, route
/// template, then the status; nothing when tracing is off). The answer's body is read by the caller.
pub async fn send(
    provider: &'static str,
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, reqwest::Error> {
    use tracing::Instrument;
    let (client, request) = request.build_split();
    let request = request?;
    let span = crate::platform::telemetry::client_span(provider, request.method().as_str(), request.url());
    let result = client.execute(request).instrument(span.clone()).await;
    match &result {
        Ok(response) => {
            span.record("http.response.status_code", response.status().as_u16());
            if response.status().is_server_error() {
                span.record("otel.status_code", "error");
            }
        }
        Err(_) => {
            span.record("otel.status_code", "error");
        }
    }
    result
}

/// The shortest attempt worth making: with less of the budget left, a call is not started.
pub const MIN_ATTEMPT: Duration = Duration::from_millis(50);

/// The timeout of the next attempt of a provider call: the client's own per-attempt `timeout`, capped by what
/// is left of the invocation's time budget (`crate::platform::budget`), so a chain of calls (token, order, status;
/// customer, checkout session; a retry) ends within the budget. `None` when the budget is spent: the call is
/// then not made, and the caller answers 503 (the provider "did not answer in time").
pub fn attempt_timeout(timeout: Duration) -> Option<Duration> {
    match crate::platform::budget::remaining().map(|left| left.saturating_sub(ANSWER_RESERVE)) {
        None => Some(timeout),
        Some(left) if left >= MIN_ATTEMPT => Some(timeout.min(left)),
        Some(_) => None,
    }
}

/// What an attempt leaves of the budget for the handler to record the outcome and answer (a timed-out call
/// must end before the budget does, or the answer is the budget's bare 503 instead of the provider's).
pub const ANSWER_RESERVE: Duration = Duration::from_millis(100);

/// Whether a retry after `pause` still fits in the budget (always, outside a budget).
pub fn retry_fits(pause: Duration) -> bool {
    crate::platform::budget::remaining().is_none_or(|left| left >= pause + MIN_ATTEMPT + ANSWER_RESERVE)
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn attempts_are_capped_by_the_budget() {
        use std::time::Duration;
        assert_eq!(super::attempt_timeout(Duration::from_secs(10)), Some(Duration::from_secs(10)));
        let (capped, retry) = crate::platform::budget::within(Duration::from_millis(800), async {
            (super::attempt_timeout(Duration::from_secs(10)), super::retry_fits(Duration::from_secs(1)))
        })
        .await
        .expect("in time");
        assert!(capped.is_some_and(|t| t <= Duration::from_millis(800)), "{capped:?}");
        assert!(!retry);
        let spent = crate::platform::budget::within(Duration::from_millis(10), async {
            super::attempt_timeout(Duration::from_secs(10))
        })
        .await
        .expect("in time");
        assert_eq!(spent, None);
    }

    #[test]
    fn builds() {
        assert!(super::client(std::time::Duration::from_secs(1)).is_ok());
    }
}
