//! JSON logs through `tracing`. The Lambda runtime opens a span per invocation carrying `requestId`, which the
//! JSON formatter prints with every event. Never log a secret, token, password or signature: log ids only.

use tracing_subscriber::EnvFilter;

/// Install the global subscriber once at cold start. `RUST_LOG` sets the filter (default `info`).
/// `LOG_FORMAT=text` switches to human-readable output for local runs.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let text = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("text"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).without_time();
    let result = if text {
        builder.try_init()
    } else {
        builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init()
    };
    // A second init (tests) is harmless.
    let _ = result;
}
