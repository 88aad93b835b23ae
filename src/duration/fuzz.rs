//! Fuzz target (docs/fuzzing.md): human durations.

use proptest::prelude::*;

use super::{HumanDuration, format_compact};
use crate::fuzzing::config;

const UNITS: [(&str, u64); 5] = [
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
];

proptest! {
    #![proptest_config(config(1024))]

    /// Any text: parsing never panics and what parses is positive and at most 100 years.
    #[test]
    fn duration_parse_any_text(text in "[0-9a-z -]{0,12}|\\PC{0,16}") {
        if let Ok(d) = text.parse::<HumanDuration>() {
            prop_assert!(!d.0.is_zero());
            prop_assert!(d.0.as_millis() <= 100 * 365 * 86_400_000);
            let _ = d.to_string();
        }
    }

    /// `<number><unit>` groups add up, whatever their order and repetition.
    #[test]
    fn duration_groups_add_up(groups in prop::collection::vec((0u64..100_000, 0..UNITS.len()), 1..5)) {
        let text: String = groups.iter().map(|(n, u)| format!("{n}{}", UNITS[*u].0)).collect();
        let total: u64 = groups.iter().map(|(n, u)| n * UNITS[*u].1).sum();
        match text.parse::<HumanDuration>() {
            Ok(d) => prop_assert_eq!(d.0.as_millis(), u128::from(total)),
            Err(_) => prop_assert!(total == 0 || total > 100 * 365 * 86_400_000),
        }
    }

    /// What a table shows reads back as at most the value, short of it by less than the
    /// unit it dropped.
    #[test]
    fn format_compact_reads_back(seconds in 1i64..400 * 86_400) {
        let shown = format_compact(seconds);
        let read: HumanDuration = shown.parse().unwrap();
        let read = read.0.as_secs() as i64;
        // `89d`, `1d23h`, `23h59m`, `4m10s`: what each form leaves out.
        let dropped = match seconds {
            s if s >= 2 * 86_400 => 86_400,
            s if s >= 86_400 => 3_600,
            s if s >= 3_600 => 60,
            _ => 1,
        };
        prop_assert!(read <= seconds && seconds - read < dropped, "{seconds} shown as {shown}");
    }
}
