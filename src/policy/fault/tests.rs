//! Fault tests: percentages and flags parsed (bad ones say why), the wire form's round trip,
//! a live fault's expiry.

use super::*;

#[test]
fn percentages_parse_exactly_into_millionths() {
    for (text, ppm) in [
        ("5", 50_000),
        ("5%", 50_000),
        ("0", 0),
        ("100", 1_000_000),
        ("100.0%", 1_000_000),
        ("0.5", 5_000),
        ("12.3456%", 123_456),
        ("0.0001", 1),
    ] {
        assert_eq!(parse_percent(text), Ok(ppm), "{text}");
    }
    for bad in [
        "", "%", "150", "100.0001", "-1", "5.", ".5", "0.00001", "1e2", "5%%", "abc", "5 %x",
    ] {
        assert!(parse_percent(bad).is_err(), "{bad} was accepted");
    }
    for ppm in [0, 1, 5_000, 50_000, 123_456, 1_000_000] {
        let text = format_percent(ppm);
        assert_eq!(parse_percent(&text), Ok(ppm), "{text}");
    }
    assert_eq!(format_percent(5_000), "0.5%");
}

#[test]
fn flags_parse_and_bad_ones_say_why() {
    assert_eq!(
        "503@5%".parse::<Abort>(),
        Ok(Abort {
            status: 503,
            per_million: 50_000
        })
    );
    assert_eq!(
        "200ms@10%".parse::<Delay>(),
        Ok(Delay {
            ms: 200,
            per_million: 100_000
        })
    );
    assert_eq!("2s@0.5".parse::<Delay>().unwrap().ms, 2_000);
    let err = |s: &str| s.parse::<Abort>().unwrap_err().to_string();
    assert!(err("700@5%").contains("outside 400-599"));
    assert!(err("200@5%").contains("outside 400-599"));
    assert!(err("503@150%").contains("percent `150%`"));
    assert!(err("503").contains("expected STATUS@PERCENT"));
    assert!(err("abc@5%").contains("expected STATUS@PERCENT"));
    let err = |s: &str| s.parse::<Delay>().unwrap_err().to_string();
    assert!(err("0ms@10%").contains("zero"));
    assert!(err("61s@10%").contains("maximum of 60s"));
    assert!(err("200ms").contains("expected DURATION@PERCENT"));
    assert!(err("200@10%").contains("delay `200`"));
}

#[test]
fn the_wire_form_round_trips_and_is_rechecked() {
    let spec = FaultSpec::new(
        Some(Abort {
            status: 503,
            per_million: 1,
        }),
        Some(Delay {
            ms: 300,
            per_million: PER_MILLION,
        }),
    )
    .unwrap();
    let wire = spec.to_pb(Some(42));
    assert_eq!(wire.expires_unix_ms, 42);
    assert_eq!(FaultSpec::from_pb(&wire), Ok(spec));
    let only_delay = pb::Fault {
        delay_ms: 5,
        delay_per_million: 7,
        ..Default::default()
    };
    assert!(FaultSpec::from_pb(&only_delay).unwrap().abort.is_none());
    for (bad, why) in [
        (pb::Fault::default(), FaultError::Empty),
        (
            pb::Fault {
                abort_status: 200,
                abort_per_million: 1,
                ..Default::default()
            },
            FaultError::Status(200),
        ),
        (
            pb::Fault {
                abort_per_million: 1,
                ..Default::default()
            },
            FaultError::NoStatus,
        ),
        (
            pb::Fault {
                delay_ms: 60_001,
                delay_per_million: 1,
                ..Default::default()
            },
            FaultError::DelayTooLong(60_001),
        ),
    ] {
        assert_eq!(FaultSpec::from_pb(&bad), Err(why));
    }
    let over = pb::Fault {
        abort_status: 503,
        abort_per_million: PER_MILLION + 1,
        ..Default::default()
    };
    assert!(matches!(
        FaultSpec::from_pb(&over),
        Err(FaultError::Percent(_))
    ));
}

#[test]
fn a_live_fault_is_in_force_until_its_expiry() {
    let spec = FaultSpec::new(None, Some("1ms@1%".parse().unwrap())).unwrap();
    let timed = LiveFault {
        spec,
        set_unix_ms: 0,
        expires_unix_ms: Some(1_000),
    };
    assert!(timed.in_force(999));
    assert!(!timed.in_force(1_000));
    let forever = LiveFault {
        expires_unix_ms: None,
        ..timed
    };
    assert!(forever.in_force(u64::MAX));
}
