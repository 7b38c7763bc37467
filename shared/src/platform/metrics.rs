//! Business and technical metrics as CloudWatch Embedded Metric Format (EMF) log lines, through the `metrics`
//! facade and `metrics_cloudwatch_embedded` (no hand-formatted JSON). The capabilities call the typed
//! functions below where an event happens; nothing is sent anywhere: the counters are atomics in memory and
//! [`flush`] writes them once per invocation (the HTTP wrapper and the billing entry do it) as one JSON line per
//! dimension set on stdout, which CloudWatch Logs turns into metrics. No request, no await, on any path.
//!
//! Namespace [`NAMESPACE`]; every metric has the `function` dimension (the Lambda function's name, `local`
//! elsewhere). Dimensions are bounded sets only (route templates, status codes, problem codes, provider, event
//! kinds from a fixed list, outcomes): never a user, solution or request id. The request id goes with each
//! flushed line as the `request_id` property. `METRICS=off` leaves the recorder out (every call a no-op).

use metrics::{SharedString, Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use std::io::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "Marketplace";
/// The dimension every metric carries: the Lambda function's name (`AWS_LAMBDA_FUNCTION_NAME`).
pub const FUNCTION: &str = "function";
/// The property carrying the invocation's request id (a property: searchable in the logs, not a dimension).
pub const REQUEST_ID: &str = "request_id";

/// Metric names (what the template's alarms and dashboard name).
pub mod names {
    /// One per process, at its first invocation's flush.
    pub const COLD_START: &str = "ColdStart";
    /// HTTP requests: `method`, `route` (the template; `unmatched` for 404/405), `status`, `status_class`.
    pub const REQUESTS: &str = "Requests";
    /// HTTP latency in milliseconds: `method`, `route`.
    pub const LATENCY: &str = "Latency";
    /// Tracked events: `decision` (allowed, refused, error) and `reason` (`ok` or the problem code).
    pub const TRACK_EVENTS: &str = "TrackEvents";
    /// A customer's daily quota crossed `threshold` (80 or 100 percent), counted by the event that crossed it.
    pub const QUOTA_THRESHOLD_CROSSED: &str = "QuotaThresholdCrossed";
    /// Webhook deliveries: `provider`, `event_type` (a known kind or `other`), `outcome`.
    pub const WEBHOOK_EVENTS: &str = "WebhookEvents";
    /// Payments recorded: `rail`, `outcome` (succeeded, failed, action_required, pending).
    pub const PAYMENTS: &str = "Payments";
    /// Refunds: `rail`, `outcome` (requested, pending, succeeded, failed…).
    pub const REFUNDS: &str = "Refunds";
    /// Billing run steps: `step`, `outcome` (done, failed).
    pub const BILLING_STEPS: &str = "BillingSteps";
    /// Billing function jobs: `job`, `outcome` (done, errors, failed).
    pub const BILLING_JOBS: &str = "BillingJobs";
    /// Outbox notifications: `outcome` (sent, skipped, unverified, retrying, dead_lettered).
    pub const NOTIFICATIONS: &str = "Notifications";
    /// Notifications dead-lettered now, waiting for an admin (a gauge set by each outbox run).
    pub const DEAD_LETTERS: &str = "DeadLetters";
}

static COLLECTOR: OnceLock<Option<&'static metrics_cloudwatch_embedded::Collector>> = OnceLock::new();
/// Off: every recording call returns at once (the bench's metrics-off runs; `METRICS=off` never installs).
static ENABLED: AtomicBool = AtomicBool::new(true);

/// Install the EMF recorder once per process (later calls do nothing) and count the cold start.
pub fn init() {
    COLLECTOR.get_or_init(|| {
        if std::env::var("METRICS").is_ok_and(|v| v.eq_ignore_ascii_case("off")) {
            return None;
        }
        let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok().filter(|f| !f.is_empty());
        let installed = metrics_cloudwatch_embedded::Builder::new()
            .cloudwatch_namespace(NAMESPACE)
            .with_dimension(FUNCTION, function.unwrap_or_else(|| "local".to_owned()))
            .init();
        match installed {
            Ok(collector) => {
                describe();
                counter!(names::COLD_START).increment(1);
                Some(collector)
            }
            Err(e) => {
                tracing::warn!(error = %e, "metrics recorder not installed: no metrics from this process");
                None
            }
        }
    });
}

fn describe() {
    for name in [
        names::COLD_START,
        names::REQUESTS,
        names::TRACK_EVENTS,
        names::QUOTA_THRESHOLD_CROSSED,
        names::WEBHOOK_EVENTS,
        names::PAYMENTS,
        names::REFUNDS,
        names::BILLING_STEPS,
        names::BILLING_JOBS,
        names::NOTIFICATIONS,
    ] {
        describe_counter!(name, Unit::Count, "");
    }
    describe_histogram!(names::LATENCY, Unit::Milliseconds, "");
    describe_gauge!(names::DEAD_LETTERS, Unit::Count, "");
}

/// Turn recording on or off at run time (the track bench compares both in one process).
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Write what was recorded since the last flush to stdout (one EMF line per dimension set), with the
/// invocation's request id. Serialised first, then one write: the lines never interleave with log lines.
pub fn flush(request_id: Option<&str>) {
    let mut lines = Vec::with_capacity(1024);
    flush_to(&mut lines, request_id);
    if !lines.is_empty() {
        let mut out = std::io::stdout().lock();
        if let Err(e) = out.write_all(&lines).and_then(|()| out.flush()) {
            tracing::warn!(error = %e, "metrics not written");
        }
    }
}

/// Write what was recorded since the last flush to `writer` (tests read the lines back), with `request_id`.
pub fn flush_to(writer: &mut Vec<u8>, request_id: Option<&str>) {
    let Some(Some(collector)) = COLLECTOR.get() else { return };
    match request_id {
        Some(id) => collector.set_property(REQUEST_ID, id),
        None => collector.remove_property(REQUEST_ID),
    };
    if let Err(e) = collector.flush(&mut *writer) {
        tracing::warn!(error = %e, "metrics not serialised");
    }
}

/// `2xx`, `4xx`, … of an HTTP status.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// `kind` when it is one of `known`, otherwise `other`: what keeps a provider's event types a bounded set.
pub fn bounded(kind: &str, known: &[&'static str]) -> &'static str {
    known.iter().find(|k| **k == kind).copied().unwrap_or("other")
}

/// One HTTP request served: `method` and `route` are the matched route's (`other` and `unmatched` when none
/// matched: a 404 or 405).
pub fn request(method: &'static str, route: &'static str, status: u16, elapsed: Duration) {
    if !enabled() {
        return;
    }
    let (class, status) = (status_class(status), status_label(status));
    counter!(names::REQUESTS, "method" => method, "route" => route, "status" => status, "status_class" => class)
        .increment(1);
    histogram!(names::LATENCY, "method" => method, "route" => route).record(elapsed.as_secs_f64() * 1000.0);
}

/// Status codes as label values without an allocation for the ones this API answers.
fn status_label(status: u16) -> SharedString {
    const CODES: &[(u16, &str)] = &[
        (200, "200"),
        (201, "201"),
        (202, "202"),
        (204, "204"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (405, "405"),
        (409, "409"),
        (413, "413"),
        (422, "422"),
        (429, "429"),
        (500, "500"),
        (502, "502"),
        (503, "503"),
    ];
    match CODES.iter().find(|(c, _)| *c == status) {
        Some((_, text)) => SharedString::from(*text),
        None => SharedString::from(status.to_string()),
    }
}

/// A track-usage decision: allowed (`reason` `ok`), refused (`reason`: the problem code, e.g.
/// `quota_exceeded`, `rate_limited`, `unauthorized`, `validation_failed`) or an error (5xx, `reason` its code).
pub fn track_decision(decision: &'static str, reason: impl Into<SharedString>) {
    if !enabled() {
        return;
    }
    counter!(names::TRACK_EVENTS, "decision" => decision, "reason" => reason.into()).increment(1);
}

/// An event took a customer's daily count across `percent` (80 or 100) of the quota.
pub fn quota_threshold_crossed(percent: u64) {
    if !enabled() {
        return;
    }
    let threshold = match percent {
        80 => "80",
        100 => "100",
        _ => "other",
    };
    counter!(names::QUOTA_THRESHOLD_CROSSED, "threshold" => threshold).increment(1);
}

/// A webhook delivery: `provider` (stripe, phonepe), `event_type` (see [`bounded`]) and `outcome` (processed,
/// ignored, duplicate, refused, invalid, in_progress, failed).
pub fn webhook(provider: &'static str, event_type: &'static str, outcome: &'static str) {
    if !enabled() {
        return;
    }
    counter!(names::WEBHOOK_EVENTS, "provider" => provider, "event_type" => event_type, "outcome" => outcome)
        .increment(1);
}

/// A payment's outcome on a rail (stripe, phonepe).
pub fn payment(rail: &'static str, outcome: &'static str) {
    if !enabled() {
        return;
    }
    counter!(names::PAYMENTS, "rail" => rail, "outcome" => outcome).increment(1);
}

/// A refund's outcome on a rail (stripe, phonepe).
pub fn refund(rail: &'static str, outcome: &'static str) {
    if !enabled() {
        return;
    }
    counter!(names::REFUNDS, "rail" => rail, "outcome" => outcome).increment(1);
}

/// A billing run step done or failed.
pub fn billing_step(step: &'static str, done: bool) {
    if !enabled() {
        return;
    }
    counter!(names::BILLING_STEPS, "step" => step, "outcome" => if done { "done" } else { "failed" }).increment(1);
}

/// A billing job's end: done, errors (it ran, some items failed) or failed.
pub fn billing_job(job: &'static str, outcome: &'static str) {
    if !enabled() {
        return;
    }
    counter!(names::BILLING_JOBS, "job" => job, "outcome" => outcome).increment(1);
}

/// An outbox notification: sent, skipped, unverified, retrying (a failed attempt) or dead_lettered.
pub fn notification(outcome: &'static str) {
    if !enabled() {
        return;
    }
    counter!(names::NOTIFICATIONS, "outcome" => outcome).increment(1);
}

/// The dead-letter index's depth, as counted after an outbox run.
pub fn dead_letters(depth: u64) {
    if !enabled() {
        return;
    }
    gauge!(names::DEAD_LETTERS).set(depth as f64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The EMF lines of one flush, parsed.
    pub(crate) fn lines(bytes: &[u8]) -> Vec<Value> {
        std::str::from_utf8(bytes)
            .expect("utf-8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON document per line"))
            .collect()
    }

    #[test]
    fn labels_are_bounded() {
        assert_eq!([status_class(204), status_class(404), status_class(503)], ["2xx", "4xx", "5xx"]);
        assert_eq!(bounded("invoice.paid", &["invoice.paid"]), "invoice.paid");
        assert_eq!(bounded("usr_123", &["invoice.paid"]), "other");
        assert_eq!(status_label(429).as_ref(), "429");
        assert_eq!(status_label(418).as_ref(), "418");
    }

    /// The one test of this crate that installs the process's recorder: every event below, flushed, read back
    /// as EMF (namespace, dimension set, metric names and units, values, the request id property).
    #[test]
    fn events_flush_as_embedded_metric_format() {
        init();
        let mut first = Vec::new();
        flush_to(&mut first, None);
        let cold = lines(&first);
        assert_eq!(cold.len(), 1, "{cold:?}");
        assert_eq!(cold[0]["ColdStart"], 1);

        request("POST", "/api/track-usage", 200, Duration::from_millis(12));
        request("POST", "/api/track-usage", 200, Duration::from_millis(8));
        request("other", "unmatched", 404, Duration::from_micros(300));
        track_decision("refused", "quota_exceeded");
        quota_threshold_crossed(80);
        webhook("stripe", bounded("invoice.paid", &["invoice.paid"]), "processed");
        billing_step("renewal_invoice", false);
        let mut out = Vec::new();
        flush_to(&mut out, Some("req-1"));
        let docs = lines(&out);
        let find = |metric: &str, dims: &[(&str, &str)]| -> Value {
            docs.iter()
                .find(|d| d.get(metric).is_some() && dims.iter().all(|(k, v)| d[*k] == *v))
                .cloned()
                .unwrap_or_else(|| panic!("{metric} {dims:?} not in {docs:#?}"))
        };
        let ok = find(names::REQUESTS, &[("method", "POST"), ("route", "/api/track-usage"), ("status", "200")]);
        assert_eq!(ok["Requests"], 2);
        assert_eq!(ok["status_class"], "2xx");
        assert_eq!(ok["function"], "local");
        assert_eq!(ok["request_id"], "req-1");
        let aws = &ok["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(aws["Namespace"], NAMESPACE);
        let dims: Vec<&str> = aws["Dimensions"][0].as_array().expect("dims").iter().filter_map(Value::as_str).collect();
        assert_eq!(dims, ["function", "method", "route", "status", "status_class"]);
        assert_eq!(aws["Metrics"][0], serde_json::json!({"Name": "Requests", "Unit": "Count"}));
        assert!(ok["_aws"]["Timestamp"].as_u64().is_some_and(|t| t > 1_600_000_000_000));
        let latency = find(names::LATENCY, &[("route", "/api/track-usage")]);
        assert_eq!(latency["Latency"], serde_json::json!([12.0, 8.0]));
        assert_eq!(latency["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"], "Milliseconds");
        assert_eq!(find(names::REQUESTS, &[("route", "unmatched"), ("status", "404")])["status_class"], "4xx");
        assert_eq!(
            find(names::TRACK_EVENTS, &[("decision", "refused"), ("reason", "quota_exceeded")])["TrackEvents"],
            1
        );
        assert_eq!(find(names::QUOTA_THRESHOLD_CROSSED, &[("threshold", "80")])["QuotaThresholdCrossed"], 1);
        assert_eq!(
            find(names::WEBHOOK_EVENTS, &[("event_type", "invoice.paid"), ("outcome", "processed")])["provider"],
            "stripe"
        );
        assert_eq!(
            find(names::BILLING_STEPS, &[("step", "renewal_invoice"), ("outcome", "failed")])["BillingSteps"],
            1
        );
        assert!(docs.iter().all(|d| d.get("ColdStart").is_none()), "one cold start per process");

        // Counters are deltas: nothing new, nothing written; switched off, nothing recorded.
        // (Other tests of this process may record meanwhile: only this test's label sets are looked at.)
        let mut again = Vec::new();
        flush_to(&mut again, None);
        assert!(lines(&again).iter().all(|d| d["route"] != "/api/track-usage" && d.get("ColdStart").is_none()));
        set_enabled(false);
        notification("unverified");
        set_enabled(true);
        flush_to(&mut again, None);
        assert!(lines(&again).iter().all(|d| d["outcome"] != "unverified"));
    }
}
