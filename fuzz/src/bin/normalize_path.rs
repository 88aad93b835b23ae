//! Path normalisation: starts with `/`, no dot segment, idempotent.
use meshctl::policy::normalize::normalize_path;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(path) = std::str::from_utf8(data) else {
            return;
        };
        if let Ok(normal) = normalize_path(path) {
            assert!(normal.starts_with('/'));
            assert!(normal.split('/').all(|s| s != "." && s != ".."));
            assert_eq!(normalize_path(&normal).as_deref(), Ok(normal.as_str()));
        }
    });
}
