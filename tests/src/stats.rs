//! Latency summaries for the benchmarks (`make bench`): percentiles of microsecond samples, one printed line
//! per series, and the process's CPU time.

/// Percentile `p` (0..=1) of sorted samples (nearest rank).
pub fn percentile(sorted: &[u128], p: f64) -> u128 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// p50/p99 of a series, after printing it as one line.
pub fn report(name: &str, mut samples: Vec<u128>) -> (u128, u128) {
    samples.sort_unstable();
    let (p50, p99) = (percentile(&samples, 0.50), percentile(&samples, 0.99));
    println!(
        "{name:<44} n={:<5} p50={p50:>6} us  p90={:>6} us  p99={p99:>6} us  max={:>6} us",
        samples.len(),
        percentile(&samples, 0.90),
        samples.last().copied().unwrap_or(0)
    );
    (p50, p99)
}

/// CPU time used by this process so far, in seconds.
pub fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}
