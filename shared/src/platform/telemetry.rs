//! Tracing: OpenTelemetry spans made from the `tracing` spans of the code, one trace per invocation.
//!
//! - The exporter is chosen at cold start by the standard variables ([`exporter_from`]): OTLP/HTTP (protobuf) when
//!   `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set — in AWS, the ADOT collector
//!   extension on `http://localhost:4318`, which forwards to X-Ray —, the console (stdout) with
//!   `OTEL_TRACES_EXPORTER=console`, and nothing otherwise: no provider, no layer, no span made for it (locally and
//!   in tests by default). `OTEL_TRACES_EXPORTER=none` or `OTEL_SDK_DISABLED=true` turn it off.
//! - Spans: the invocation ([`Invocations`], a layer of the Lambda runtime: `faas.invocation_id` = Lambda's request
//!   id, `faas.trigger`, `faas.coldstart`; its parent is the invocation's X-Ray trace header when there is one, so
//!   the trace joins API Gateway's and Lambda's in X-Ray); each AWS SDK operation (the SDK's own span:
//!   `rpc.system` aws-api, `rpc.service` DynamoDB / S3 / SESv2, `rpc.method` GetItem…); each payment provider
//!   request ([`client_span`]: method, host, route template, status — never the query string, a header or a body).
//! - Spans are kept in memory during an invocation and exported when it ends (after the response is sent, before
//!   the runtime asks for the next event: Lambda freezes the process in between), bounded by [`FLUSH_BOUND`].
//!
//! The OTLP exporter sends on the functions' one HTTP stack (`platform::https`: the same reqwest, no second TLS
//! stack); trace ids are X-Ray's (time-prefixed).

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter, SpanProcessor};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;
use tracing::{Instrument, Level, Metadata};
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

/// The longest an invocation's export may take (the collector extension is local: milliseconds).
pub const FLUSH_BOUND: Duration = Duration::from_secs(1);

/// The most spans kept for one invocation; more are dropped (a runaway loop must not grow memory).
pub const MAX_SPANS: usize = 2_048;

/// Where spans go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exporter {
    /// OTLP over HTTP (protobuf) to the endpoint the standard variables name.
    Otlp,
    /// Printed to stdout (local runs).
    Console,
}

/// The exporter the environment asks for, `var` reading a variable: `None` (nothing installed) unless
/// `OTEL_TRACES_EXPORTER=console`, or an OTLP endpoint is set and `OTEL_TRACES_EXPORTER` is unset or `otlp`.
/// `OTEL_SDK_DISABLED=true` and `OTEL_TRACES_EXPORTER=none` (or any other value) install nothing.
pub fn exporter_from(var: impl Fn(&str) -> Option<String>) -> Option<Exporter> {
    let var = |name: &str| var(name).map(|v| v.trim().to_ascii_lowercase()).filter(|v| !v.is_empty());
    if var("OTEL_SDK_DISABLED").as_deref() == Some("true") {
        return None;
    }
    let endpoint = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| var("OTEL_EXPORTER_OTLP_ENDPOINT"));
    match var("OTEL_TRACES_EXPORTER").as_deref() {
        Some("console" | "stdout") => Some(Exporter::Console),
        Some("otlp") | None => endpoint.map(|_| Exporter::Otlp),
        Some(_) => None,
    }
}

/// Install the exporter the environment asks for (see [`exporter_from`]) and return the tracer to bridge
/// `tracing` to, or `None`: nothing configured, or the exporter could not be built (logged to stderr: the
/// subscriber is not installed yet).
pub fn install_from_env() -> Option<SdkTracer> {
    let exporter = exporter_from(|name| std::env::var(name).ok())?;
    let installed = match exporter {
        Exporter::Console => install(opentelemetry_stdout::SpanExporter::default()),
        Exporter::Otlp => {
            use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
            let client = match crate::platform::https::reqwest_client(Duration::from_millis(500), Some(FLUSH_BOUND)) {
                Ok(client) => client,
                Err(e) => {
                    eprintln!("tracing is off: {e}");
                    return None;
                }
            };
            let built = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_http_client(client)
                .with_timeout(FLUSH_BOUND)
                .build();
            match built {
                Ok(exporter) => install(exporter),
                Err(e) => {
                    eprintln!("tracing is off: the OTLP exporter: {e}");
                    return None;
                }
            }
        }
    };
    installed.ok()
}

/// Install `exporter` for this process (once: a second call is refused, `Err`), returning the tracer that
/// [`layer`] bridges `tracing` to. Tests install an in-memory exporter this way.
pub fn install<E: SpanExporter + 'static>(mut exporter: E) -> Result<SdkTracer, &'static str> {
    if INSTALLED.get().is_some() {
        return Err("telemetry is already installed");
    }
    let service = std::env::var("AWS_LAMBDA_FUNCTION_NAME")
        .ok()
        .or_else(|| std::env::var("OTEL_SERVICE_NAME").ok())
        .unwrap_or_else(|| "monetization-backend".into());
    let resource = opentelemetry_sdk::Resource::builder().with_service_name(service).build();
    exporter.set_resource(&resource);
    let spans = Arc::new(Buffer::default());
    let provider = SdkTracerProvider::builder()
        .with_span_processor(Collect(Arc::clone(&spans)))
        .with_id_generator(opentelemetry_aws::trace::XrayIdGenerator::default())
        .with_resource(resource)
        .build();
    let tracer = provider.tracer("monetization-backend");
    let telemetry = Telemetry { _provider: provider, spans, exporter: tokio::sync::Mutex::new(Box::new(exporter)) };
    INSTALLED.set(telemetry).map_err(|_| "telemetry is already installed")?;
    Ok(tracer)
}

/// The `tracing` layer that turns spans into OpenTelemetry spans of `tracer`: spans at INFO and above (not the
/// Lambda runtime's own, which [`Invocations`] replaces), the AWS SDK's operation spans (DEBUG, in the
/// `aws_sdk_*` crates), and WARN and ERROR events as span events. Its filter is its own: the log output keeps
/// `RUST_LOG`'s.
pub fn layer<S>(tracer: SdkTracer) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_location(false)
        .with_filter(tracing_subscriber::filter::filter_fn(exported))
}

/// What the OpenTelemetry layer sees (see [`layer`]).
fn exported(meta: &Metadata<'_>) -> bool {
    let target = meta.target();
    if meta.is_span() {
        !target.starts_with("lambda_runtime")
            && (*meta.level() <= Level::INFO || (*meta.level() <= Level::DEBUG && target.starts_with("aws_sdk_")))
    } else {
        *meta.level() <= Level::WARN
    }
}

/// Whether an exporter is installed (spans are made and exported).
pub fn enabled() -> bool {
    INSTALLED.get().is_some()
}

/// Export the spans ended so far, within [`FLUSH_BOUND`]; a failure is logged, never raised. Nothing to do
/// (and no cost) when no exporter is installed.
pub async fn flush() {
    let Some(telemetry) = INSTALLED.get() else {
        return;
    };
    let batch = std::mem::take(&mut *telemetry.spans.0.lock().unwrap_or_else(PoisonError::into_inner));
    if batch.is_empty() {
        return;
    }
    let count = batch.len();
    let exporter = telemetry.exporter.lock().await;
    match tokio::time::timeout(FLUSH_BOUND, exporter.export(batch)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(spans = count, error = %e, "spans not exported"),
        Err(_) => {
            tracing::warn!(spans = count, bound_ms = FLUSH_BOUND.as_millis() as u64, "spans not exported in time")
        }
    }
}

/// What set an invocation off (`faas.trigger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// An API Gateway request.
    Http,
    /// A schedule (EventBridge).
    Timer,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Timer => "timer",
        }
    }
}

/// One invocation, as its span records it.
#[derive(Debug, Clone, Copy)]
pub struct Invocation<'a> {
    /// Lambda's request id (`aws_request_id`).
    pub request_id: &'a str,
    /// The X-Ray trace header of the invocation (`Root=…;Parent=…;Sampled=…`), the span's parent when present.
    pub xray_trace_id: Option<&'a str>,
    pub function: &'a str,
    pub trigger: Trigger,
    pub cold_start: bool,
}

/// Run `work` within the span of `invocation`, then export its spans ([`flush`]). Without an exporter, just
/// `work`.
pub async fn traced<F: Future>(invocation: Invocation<'_>, work: F) -> F::Output {
    if !enabled() {
        return work.await;
    }
    let span = invocation_span(invocation);
    let output = work.instrument(span).await;
    flush().await;
    output
}

fn invocation_span(invocation: Invocation<'_>) -> tracing::Span {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let span = tracing::info_span!(
        "invocation",
        "otel.name" = invocation.function,
        "otel.kind" = "server",
        "faas.invocation_id" = invocation.request_id,
        "faas.trigger" = invocation.trigger.as_str(),
        "faas.coldstart" = invocation.cold_start,
    );
    if let Some(parent) =
        invocation.xray_trace_id.and_then(opentelemetry_aws::trace::xray_propagator::span_context_from_str)
    {
        use opentelemetry::trace::TraceContextExt;
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(parent));
    }
    span
}

/// The Lambda runtime with its request-id span, and with [`Invocations`] when an exporter is installed: the
/// `main` of every function runs through here.
pub async fn run<S>(runtime: lambda_runtime::Runtime<S>, trigger: Trigger) -> Result<(), lambda_runtime::Error>
where
    S: lambda_runtime::Service<lambda_runtime::LambdaInvocation, Response = (), Error = lambda_runtime::Error>,
    S::Future: 'static,
{
    let runtime = runtime.layer(lambda_runtime::layers::TracingLayer::new());
    if enabled() { runtime.layer(Invocations { trigger }).run().await } else { runtime.run().await }
}

/// A layer of the Lambda runtime: each invocation in its span ([`traced`]), its spans exported at its end.
#[derive(Debug, Clone, Copy)]
pub struct Invocations {
    pub trigger: Trigger,
}

impl<S> lambda_runtime::tower::Layer<S> for Invocations {
    type Service = InvocationService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        InvocationService { inner, trigger: self.trigger, cold_start: true }
    }
}

/// The service of [`Invocations`].
#[derive(Debug)]
pub struct InvocationService<S> {
    inner: S,
    trigger: Trigger,
    cold_start: bool,
}

type Invoked = Pin<Box<dyn Future<Output = Result<(), lambda_runtime::Error>>>>;

impl<S> lambda_runtime::Service<lambda_runtime::LambdaInvocation> for InvocationService<S>
where
    S: lambda_runtime::Service<lambda_runtime::LambdaInvocation, Response = (), Error = lambda_runtime::Error>,
    S::Future: 'static,
{
    type Response = ();
    type Error = lambda_runtime::Error;
    type Future = Invoked;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: lambda_runtime::LambdaInvocation) -> Self::Future {
        let context = &req.context;
        let span = invocation_span(Invocation {
            request_id: &context.request_id,
            xray_trace_id: context.xray_trace_id.as_deref(),
            function: &context.env_config.function_name,
            trigger: self.trigger,
            cold_start: std::mem::replace(&mut self.cold_start, false),
        });
        // Entered while the inner service makes its future, so that spans made there are children.
        let future = span.in_scope(|| self.inner.call(req));
        Box::pin(async move {
            let output = future.instrument(span).await;
            flush().await;
            output
        })
    }
}

/// The attributes of a payment provider's client span: the provider (`peer.service`), the method, the host and
/// the route template of `url` (see [`route_template`]); `http.response.status_code` and `otel.status_code` are
/// recorded by the caller. A disabled span (no cost) when no exporter is installed.
pub fn client_span(provider: &'static str, method: &str, url: &reqwest::Url) -> tracing::Span {
    if !enabled() {
        return tracing::Span::none();
    }
    let template = route_template(url.path());
    tracing::info_span!(
        "provider",
        "otel.name" = format!("{method} {template}"),
        "otel.kind" = "client",
        "otel.status_code" = tracing::field::Empty,
        "peer.service" = provider,
        "http.request.method" = method,
        "server.address" = url.host_str().unwrap_or(""),
        "url.template" = template,
        "http.response.status_code" = tracing::field::Empty,
    )
}

/// A path with its ids replaced by `{id}`: a segment is kept when it is a version (`v1`) or lower-case letters
/// and hyphens (`checkout`, `pg-sandbox`), else replaced (`cus_N1x…`, `ord_01J…`, `1234`). The query string is
/// never part of it.
pub fn route_template(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let segments: Vec<&str> = path
        .split('/')
        .map(|segment| {
            let version =
                segment.strip_prefix('v').is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            let word = segment.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
            if version || word { segment } else { "{id}" }
        })
        .collect();
    segments.join("/")
}

static INSTALLED: OnceLock<Telemetry> = OnceLock::new();

struct Telemetry {
    /// Kept so that its tracers stay valid.
    _provider: SdkTracerProvider,
    spans: Arc<Buffer>,
    /// Never called concurrently (the SDK's contract): a lock around it.
    exporter: tokio::sync::Mutex<Box<dyn Export>>,
}

/// The spans ended since the last [`flush`].
#[derive(Debug, Default)]
struct Buffer(Mutex<Vec<SpanData>>);

/// The provider's one processor: it keeps ended spans for [`flush`] (the SDK's batch processor exports from a
/// thread of its own, on a timer; a Lambda function must export before it is frozen, on its own runtime).
#[derive(Debug)]
struct Collect(Arc<Buffer>);

impl SpanProcessor for Collect {
    fn on_start(&self, _: &mut opentelemetry_sdk::trace::Span, _: &opentelemetry::Context) {}

    fn on_end(&self, span: SpanData) {
        let mut spans = self.0.0.lock().unwrap_or_else(PoisonError::into_inner);
        if spans.len() < MAX_SPANS {
            spans.push(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// A span exporter behind a pointer.
trait Export: Send + Sync {
    fn export(&self, batch: Vec<SpanData>) -> Pin<Box<dyn Future<Output = OTelSdkResult> + Send + '_>>;
}

impl<E: SpanExporter> Export for E {
    fn export(&self, batch: Vec<SpanData>) -> Pin<Box<dyn Future<Output = OTelSdkResult> + Send + '_>> {
        Box::pin(SpanExporter::export(self, batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn the_exporter_is_chosen_by_the_standard_variables() {
        assert_eq!(exporter_from(env(&[])), None);
        assert_eq!(
            exporter_from(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318")])),
            Some(Exporter::Otlp)
        );
        assert_eq!(
            exporter_from(env(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c/v1/traces")])),
            Some(Exporter::Otlp)
        );
        assert_eq!(exporter_from(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")])), None);
        assert_eq!(exporter_from(env(&[("OTEL_TRACES_EXPORTER", "console")])), Some(Exporter::Console));
        assert_eq!(exporter_from(env(&[("OTEL_TRACES_EXPORTER", "Console")])), Some(Exporter::Console));
        assert_eq!(exporter_from(env(&[("OTEL_TRACES_EXPORTER", "otlp")])), None, "otlp without an endpoint");
        assert_eq!(
            exporter_from(env(&[("OTEL_TRACES_EXPORTER", "otlp"), ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c")])),
            Some(Exporter::Otlp)
        );
        assert_eq!(
            exporter_from(env(&[("OTEL_TRACES_EXPORTER", "none"), ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c")])),
            None
        );
        assert_eq!(exporter_from(env(&[("OTEL_TRACES_EXPORTER", "zipkin")])), None);
        assert_eq!(exporter_from(env(&[("OTEL_SDK_DISABLED", "TRUE"), ("OTEL_TRACES_EXPORTER", "console")])), None);
    }

    #[test]
    fn templates_keep_words_and_versions_and_drop_ids_and_queries() {
        assert_eq!(route_template("/v1/customers"), "/v1/customers");
        assert_eq!(route_template("/v1/checkout/sessions/cs_test_a1B2/expire"), "/v1/checkout/sessions/{id}/expire");
        assert_eq!(route_template("/v1/prices/price_123?expand[]=product"), "/v1/prices/{id}");
        assert_eq!(
            route_template("/apis/pg-sandbox/checkout/v2/order/ORD_01JABC/status"),
            "/apis/pg-sandbox/checkout/v2/order/{id}/status"
        );
        assert_eq!(route_template("/payments/v2/refund/1234/status"), "/payments/v2/refund/{id}/status");
        assert_eq!(route_template("/v1/oauth/token"), "/v1/oauth/token");
    }

    #[test]
    fn the_otel_layer_takes_info_spans_sdk_operations_and_warnings() {
        use tracing::callsite::Identifier;
        use tracing::metadata::Kind;
        struct Site;
        impl tracing::Callsite for Site {
            fn set_interest(&self, _: tracing::subscriber::Interest) {}
            fn metadata(&self) -> &Metadata<'_> {
                unreachable!()
            }
        }
        static SITE: Site = Site;
        let meta = |target: &'static str, level: Level, kind: Kind| {
            Metadata::new(
                "x",
                target,
                level,
                None,
                None,
                None,
                tracing::field::FieldSet::new(&[], Identifier(&SITE)),
                kind,
            )
        };
        assert!(exported(&meta("shared::platform::telemetry", Level::INFO, Kind::SPAN)));
        assert!(exported(&meta("aws_sdk_dynamodb::operation::get_item", Level::DEBUG, Kind::SPAN)));
        assert!(!exported(&meta("aws_smithy_runtime::client::orchestrator", Level::DEBUG, Kind::SPAN)));
        assert!(!exported(&meta("lambda_runtime::layers::trace", Level::INFO, Kind::SPAN)));
        assert!(!exported(&meta("shared", Level::INFO, Kind::EVENT)));
        assert!(exported(&meta("shared", Level::WARN, Kind::EVENT)));
    }

    #[tokio::test]
    async fn with_no_exporter_configured_nothing_is_installed() {
        // The unit tests run without OTEL_* variables: the cold start installs nothing and traced work runs bare.
        assert_eq!(exporter_from(|name| std::env::var(name).ok()), None);
        crate::platform::logging::init();
        assert!(!enabled());
        let invocation = Invocation {
            request_id: "r",
            xray_trace_id: None,
            function: "f",
            trigger: Trigger::Http,
            cold_start: true,
        };
        assert!(traced(invocation, async { tracing::Span::current().is_none() }).await);
        assert!(client_span("stripe", "GET", &"https://api.stripe.com/v1/x".parse().expect("url")).is_none());
        flush().await;
    }
}
