//! Shared set-up of the property-based fuzz targets: one `fuzz` test module beside each
//! parser or checker it drives (`cargo test fuzz::` runs them all; docs/fuzzing.md lists them).
//!
//! A normal `cargo test` runs each target for the small case count it names, so the suite
//! stays quick; `scripts/fuzz.sh` sets `PROPTEST_CASES` to run every target much longer.

use proptest::test_runner::Config;

/// `cases` per run unless `PROPTEST_CASES` says otherwise; failures are kept in
/// `proptest-regressions/` (committed: each one is replayed first on every run).
pub(crate) fn config(cases: u32) -> Config {
    // `Config::default()` reads the PROPTEST_* variables.
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    // Shrinking a failure is worth the time; an unbounded one is not.
    config.max_shrink_time = 60_000;
    config
}
