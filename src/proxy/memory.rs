//! Giving freed heap memory back to the kernel when traffic pauses.
//!
//! glibc's allocator returns memory only from the top of the heap; what a burst leaves free
//! below live allocations (closed connections' buffers, finished requests) stays resident.
//! Measured on the benchmark pair (bench/syscalls.sh, 64 HTTP/1.1 connections then 128
//! h2 streams): right after the load the outbound proxy held 4.0 MiB of anonymous memory
//! and 1.8 MiB after `malloc_trim(0)`; the inbound 7.4 and 6.0 MiB. That is the measured
//! need for this module's one `unsafe` call (the crate otherwise denies unsafe code).
//!
//! The trim runs once each time the proxy goes quiet (no new request or TCP connection for
//! [`QUIET`], long enough for idle pooled app connections to have been closed first) after
//! activity, and at most every [`BUSY_TRIM_INTERVAL`] while traffic goes on, so a steady load
//! does not pay for giving back pages it is about to reuse.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::proxy::limits;
use crate::proxy::telemetry::metrics::Metrics;

/// How often the activity counter is read.
const TICK: Duration = Duration::from_secs(1);

/// Traffic that stopped for this long has stopped: trim. Past the app pool's idle timeout
/// (and one reaper pass), so the burst's connections are already closed and freed.
pub const QUIET: Duration = Duration::from_secs(
    limits::APP_POOL_IDLE_TIMEOUT.as_secs() + 2 * limits::APP_POOL_REAP_INTERVAL.as_secs(),
);

const _: () = assert!(
    QUIET.as_secs()
        > limits::APP_POOL_IDLE_TIMEOUT.as_secs() + limits::APP_POOL_REAP_INTERVAL.as_secs()
);

/// Under continuous traffic, trim at most this often.
pub const BUSY_TRIM_INTERVAL: Duration = Duration::from_secs(60);

/// Runs until the runtime stops: trims the heap whenever traffic pauses after activity.
pub async fn release_when_quiet(metrics: Arc<Metrics>) {
    let mut seen = metrics.activity();
    let mut last_activity = Instant::now();
    let mut last_trim = Instant::now();
    let mut dirty = false;
    let mut tick = tokio::time::interval(TICK);
    loop {
        tick.tick().await;
        let now = metrics.activity();
        if now != seen {
            seen = now;
            last_activity = Instant::now();
            dirty = true;
        }
        if should_trim(dirty, last_activity.elapsed(), last_trim.elapsed()) {
            let released = trim();
            tracing::trace!(released, "heap trimmed");
            last_trim = Instant::now();
            dirty = false;
        }
    }
}

/// Whether to trim now: traffic was seen since the last trim (`dirty`) and it has paused
/// for [`QUIET`], or it has gone on for [`BUSY_TRIM_INTERVAL`] since the last trim.
fn should_trim(dirty: bool, idle_for: Duration, since_trim: Duration) -> bool {
    dirty && (idle_for >= QUIET || since_trim >= BUSY_TRIM_INTERVAL)
}

/// Returns free heap pages to the kernel; `true` if any were released.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn trim() -> bool {
    // SAFETY: malloc_trim only reorganises glibc's own free lists (under the arena locks);
    // it takes no pointers from us and is safe to call from any thread at any time.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Other allocators (musl, macOS) return memory on their own.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_after_traffic_pauses_for_the_quiet_period() {
        let short = Duration::from_secs(1);
        // Nothing happened since the last trim: never.
        assert!(!should_trim(false, QUIET * 10, BUSY_TRIM_INTERVAL * 10));
        // Traffic a moment ago: not yet.
        assert!(!should_trim(true, short, short));
        assert!(!should_trim(true, QUIET - short, QUIET));
        // Quiet for the whole period: now.
        assert!(should_trim(true, QUIET, QUIET));
    }

    #[test]
    fn trims_under_continuous_traffic_only_every_busy_interval() {
        assert!(!should_trim(true, Duration::ZERO, BUSY_TRIM_INTERVAL / 2));
        assert!(should_trim(true, Duration::ZERO, BUSY_TRIM_INTERVAL));
    }

    #[test]
    fn trimming_is_harmless_at_any_time() {
        // Allocate and free a spread of blocks, then trim: nothing breaks, live data intact.
        let keep: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 4096]).collect();
        drop((0..256).map(|_| vec![0u8; 8192]).collect::<Vec<_>>());
        let _ = trim();
        assert!(
            keep.iter()
                .enumerate()
                .all(|(i, v)| v.iter().all(|&b| b == i as u8))
        );
    }
}
