//! JSON logs through `tracing`. The Lambda runtime opens a span per invocation carrying `requestId`, which the
//! JSON formatter prints with every event. Never log a secret, token, password or signature: log ids only.

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Install the global subscriber once at cold start. `RUST_LOG` sets the filter as a level and per-target levels
/// (`info`, `warn,shared=debug`; default `info`; a value that does not parse is `info`): targets, not
/// `EnvFilter`'s span and field matching, so no regular-expression engine is linked into the functions.
/// `LOG_FORMAT=text` switches to human-readable output for local runs.
pub fn init() {
    let filter = filter(std::env::var("RUST_LOG").ok().as_deref());
    let text = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("text"));
    if let Some(tracer) = crate::platform::telemetry::install_from_env() {
        return init_traced(filter, text, tracer);
    }
    let builder = tracing_subscriber::fmt().with_target(false).without_time();
    let result = if text {
        builder.finish().with(filter).try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .finish()
            .with(filter)
            .try_init()
    };
    // A second init (tests) is harmless.
    let _ = result;
}

/// The same logs, each layer with its own filter, and the OpenTelemetry layer (`platform::telemetry`) next to them.
fn init_traced(filter: Targets, text: bool, tracer: opentelemetry_sdk::trace::SdkTracer) {
    use tracing_subscriber::Layer;
    let telemetry = crate::platform::telemetry::layer(tracer);
    let builder = tracing_subscriber::fmt::layer().with_target(false).without_time();
    let registry = tracing_subscriber::registry().with(telemetry);
    let result = if text {
        registry.with(builder.with_filter(filter)).try_init()
    } else {
        let json = builder.json().flatten_event(true).with_current_span(true).with_span_list(false);
        registry.with(json.with_filter(filter)).try_init()
    };
    let _ = result;
}

/// The filter `RUST_LOG` asks for.
fn filter(raw: Option<&str>) -> Targets {
    raw.map(str::trim)
        .filter(|v| !v.is_empty())
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO))
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    #[test]
    fn rust_log_sets_levels_per_target() {
        let f = super::filter(Some("warn,shared=debug"));
        assert!(f.would_enable("shared::usage", &Level::DEBUG));
        assert!(!f.would_enable("usage", &Level::INFO));
        assert!(f.would_enable("usage", &Level::WARN));
        let default = super::filter(None);
        assert!(default.would_enable("anything", &Level::INFO) && !default.would_enable("anything", &Level::DEBUG));
        assert!(super::filter(Some("not a filter ==")).would_enable("x", &Level::INFO));
    }
}
