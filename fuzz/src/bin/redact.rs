//! Tap body redaction (JSON and form): never a panic on any body.
use meshctl::proxy::telemetry::redact::BodyRedaction;

fn main() {
    let redaction = BodyRedaction::new(["authorization", "x-api-key"]);
    afl::fuzz!(|data: &[u8]| {
        for content_type in [
            Some("application/json"),
            Some("application/x-www-form-urlencoded"),
            None,
        ] {
            let _ = redaction.apply(content_type, data);
        }
    });
}
