//! The metrics the functions write, read back in tests: `shared::platform::metrics` keeps its counters in
//! memory and writes them, once per invocation, as CloudWatch Embedded Metric Format (EMF) lines; here those
//! lines are written into a buffer instead of stdout and parsed. Every document is checked as CloudWatch reads
//! it (namespace, one dimension set with `function`, each dimension and metric present, a timestamp) and for
//! bounded dimensions (no user, solution or request id among their values).
//!
//! The recorder is one per process and tests run in parallel: a test holds [`capture`]'s turn (one at a time
//! per test binary), and counts what it caused as at least what it expects (other tests of the binary may
//! record the same label sets meanwhile).

use serde_json::Value;
use shared::platform::metrics;
use std::sync::OnceLock;
use tokio::sync::{Mutex, MutexGuard};

static TURN: Mutex<()> = Mutex::const_new(());
static FIRST: OnceLock<Vec<Value>> = OnceLock::new();

/// A test's turn at the process's metrics: what was recorded before it is dropped.
pub struct Capture {
    _turn: MutexGuard<'static, ()>,
}

/// Install the recorder (once per process, as a function's cold start does; its first flush is kept for
/// [`cold_start`]) and take the turn.
pub async fn capture() -> Capture {
    let turn = TURN.lock().await;
    metrics::init();
    FIRST.get_or_init(|| flush("cold-start"));
    flush("before");
    Capture { _turn: turn }
}

impl Capture {
    /// What was recorded since the turn began (or the last `take`), as the invocation's log lines would carry it.
    pub fn take(&self) -> Metrics {
        Metrics(flush("req-test"))
    }
}

/// The process's first flush after the recorder was installed: where its cold start is.
pub fn cold_start() -> Metrics {
    Metrics(FIRST.get().cloned().unwrap_or_default())
}

fn flush(request_id: &str) -> Vec<Value> {
    let mut out = Vec::new();
    metrics::flush_to(&mut out, Some(request_id));
    parse(&out, request_id)
}

/// EMF lines parsed and checked.
pub fn parse(bytes: &[u8], request_id: &str) -> Vec<Value> {
    let text = std::str::from_utf8(bytes).expect("EMF is UTF-8");
    text.lines()
        .map(|line| {
            let doc: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            let block = &doc["_aws"]["CloudWatchMetrics"][0];
            assert_eq!(block["Namespace"], metrics::NAMESPACE, "{line}");
            assert!(doc["_aws"]["Timestamp"].as_u64().is_some(), "{line}");
            let dims = block["Dimensions"][0].as_array().expect("one dimension set");
            assert_eq!(dims.first().and_then(Value::as_str), Some(metrics::FUNCTION), "{line}");
            for dim in dims {
                let value = doc[dim.as_str().expect("dimension name")].as_str().expect("dimension value");
                assert!(
                    !["usr_", "sol_", "org_", "pay_", "sub_"].iter().any(|p| value.starts_with(p)),
                    "an id as a dimension: {line}"
                );
            }
            for metric in block["Metrics"].as_array().expect("metrics") {
                let name = metric["Name"].as_str().expect("metric name");
                assert!(doc[name].is_number() || doc[name].is_array(), "{name} has no value: {line}");
            }
            assert_eq!(doc[metrics::REQUEST_ID], request_id, "{line}");
            doc
        })
        .collect()
}

/// One flush's documents.
#[derive(Debug, Clone)]
pub struct Metrics(pub Vec<Value>);

impl Metrics {
    /// The documents carrying `metric` whose dimensions include each of `dims`.
    pub fn matching<'a>(&'a self, metric: &'a str, dims: &'a [(&str, &str)]) -> impl Iterator<Item = &'a Value> {
        self.0.iter().filter(move |d| {
            let declared = &d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0];
            d.get(metric).is_some()
                && dims
                    .iter()
                    .all(|(k, v)| d[*k] == *v && declared.as_array().is_some_and(|a| a.iter().any(|n| n == *k)))
        })
    }

    /// A counter's total over the matching documents (a histogram: how many values).
    pub fn count(&self, metric: &str, dims: &[(&str, &str)]) -> u64 {
        self.matching(metric, dims)
            .map(|d| match &d[metric] {
                Value::Array(values) => values.len() as u64,
                v => v.as_u64().unwrap_or(0),
            })
            .sum()
    }

    /// A gauge's last value over the matching documents.
    pub fn gauge(&self, metric: &str, dims: &[(&str, &str)]) -> Option<f64> {
        self.matching(metric, dims).filter_map(|d| d[metric].as_f64()).last()
    }

    /// Asserts that `metric` with `dims` was counted at least `at_least` times.
    #[track_caller]
    pub fn expect(&self, metric: &str, dims: &[(&str, &str)], at_least: u64) {
        let n = self.count(metric, dims);
        assert!(n >= at_least, "{metric} {dims:?}: {n} < {at_least} in {:#?}", self.0);
    }
}
