//! Durations and fault percentages: never a panic; percentages print and parse back.
use meshctl::duration::HumanDuration;
use meshctl::policy::fault::{format_percent, parse_percent};

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let _ = text.parse::<HumanDuration>();
        if let Ok(p) = parse_percent(text) {
            assert_eq!(parse_percent(&format_percent(p)).ok(), Some(p));
        }
    });
}
