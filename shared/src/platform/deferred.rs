//! A value loaded on first use and kept for the container's life: what a function needs only on some routes
//! (a provider's secret key, the payout-sealing key, the token-signing key) is read by the first request that
//! needs it instead of at cold start, so a cold start makes no call for it and routes that never need it never
//! wait for it.
//!
//! Concurrent first uses share one load (they wait for it, they do not start their own); a failed load is not
//! kept, so the next use tries again, and the request that met it answers `503 service_unavailable` with
//! `Retry-After` (the reason is logged with the name of what failed, never a value).

use crate::platform::error::ApiError;
use std::future::Future;
use std::pin::Pin;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Loading<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

pub struct Deferred<T> {
    cell: tokio::sync::OnceCell<T>,
    /// What is loaded (a secret's id): named in the log line of a failed load.
    what: String,
    load: Option<Box<dyn Fn() -> Loading<T> + Send + Sync>>,
}

impl<T> std::fmt::Debug for Deferred<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deferred").field("what", &self.what).field("loaded", &self.cell.initialized()).finish()
    }
}

impl<T: Send + Sync> Deferred<T> {
    /// Loaded by `load` on first use. `what` names it in logs (never its value).
    pub fn new<F, Fut>(what: impl Into<String>, load: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, BoxError>> + Send + 'static,
    {
        Self { cell: tokio::sync::OnceCell::new(), what: what.into(), load: Some(Box::new(move || Box::pin(load()))) }
    }

    /// Already loaded (tests, and functions that need the value at cold start anyway).
    pub fn ready(value: T) -> Self {
        Self { cell: tokio::sync::OnceCell::new_with(Some(value)), what: String::new(), load: None }
    }

    /// Whether the value has been loaded.
    pub fn is_loaded(&self) -> bool {
        self.cell.initialized()
    }

    /// The value, loading it if no use has yet; `503 service_unavailable` (`Retry-After: 1`) when the load fails.
    pub async fn get(&self) -> Result<&T, ApiError> {
        self.cell
            .get_or_try_init(|| async {
                let Some(load) = &self.load else {
                    return Err(ApiError::unavailable(1));
                };
                load().await.map_err(|e| {
                    tracing::error!(what = %self.what, error = %e, "could not load on first use");
                    ApiError::unavailable(1)
                })
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn counting(fail_first: usize) -> (Arc<AtomicUsize>, Deferred<String>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let deferred = Deferred::new("secret/test", move || {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            async move {
                tokio::task::yield_now().await;
                if n < fail_first { Err::<String, BoxError>("not yet".into()) } else { Ok(format!("value {n}")) }
            }
        });
        (calls, deferred)
    }

    #[tokio::test]
    async fn loads_once_on_first_use_and_keeps_it() {
        let (calls, deferred) = counting(0);
        assert_eq!(calls.load(Ordering::SeqCst), 0, "nothing is loaded before the first use");
        assert!(!deferred.is_loaded());
        assert_eq!(deferred.get().await.expect("loads"), "value 0");
        assert_eq!(deferred.get().await.expect("kept"), "value 0");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(deferred.is_loaded());
    }

    #[tokio::test]
    async fn concurrent_first_uses_share_one_load() {
        let (calls, deferred) = counting(0);
        let (a, b, c) = tokio::join!(deferred.get(), deferred.get(), deferred.get());
        for got in [a, b, c] {
            assert_eq!(got.expect("loads"), "value 0");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_load_is_a_503_and_the_next_use_tries_again() {
        let (calls, deferred) = counting(1);
        let err = deferred.get().await.expect_err("first load fails");
        assert_eq!((err.status, err.code.as_ref(), err.retry_after), (503, "service_unavailable", Some(1)));
        assert!(!deferred.is_loaded());
        assert_eq!(deferred.get().await.expect("second load"), "value 1");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn ready_needs_no_load() {
        let deferred = Deferred::ready(7_u8);
        assert!(deferred.is_loaded());
        assert_eq!(*deferred.get().await.expect("ready"), 7);
    }
}
