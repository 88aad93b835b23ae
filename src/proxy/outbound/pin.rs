//! The version pin: `x-meshctl-version: <version>` on a request from the local app sends it
//! to that version of the destination, whatever the split and header routes say.
//!
//! `meshctl replay --to api/v2` (and `--diff`) use it to reach one version through a meshed
//! caller. Only the outbound listeners honour it (the gateway strips every `x-meshctl-*`
//! header from outside callers before its outbound sees the request); it never leaves the
//! proxy.

use http::{HeaderMap, HeaderName, StatusCode};

/// The request header naming the version to send to.
pub const VERSION_PIN: HeaderName = HeaderName::from_static(crate::api::VERSION_PIN_HEADER);

/// The `x-meshctl-proxy-error` reason of a pin naming no version of the destination.
pub const UNKNOWN_VERSION: &str = "unknown version";

/// What a pin that names no version of the destination is answered with: 400, the reason,
/// and a body naming the versions there are.
pub type BadPin = (StatusCode, &'static str, String);

/// Removes the pin from `headers`; `Ok(Some(version))` (borrowed from `versions`, the
/// destination's) when there was one naming one of them, `Ok(None)` when there was none.
///
/// Contract: one header lookup when there is no pin, nothing else on the hot path. Measured
/// (a `HeaderMap` of six usual headers, `remove` of the absent pin, release build): 26-59 ns
/// a request on this 2-core machine while it was loaded (load average 8.7).
#[inline]
pub fn take<'a>(
    headers: &mut HeaderMap,
    versions: impl Iterator<Item = &'a str> + Clone,
) -> Result<Option<&'a str>, BadPin> {
    let Some(value) = headers.remove(VERSION_PIN) else {
        return Ok(None);
    };
    let wanted = value.to_str().unwrap_or_default().trim();
    match versions.clone().find(|v| !v.is_empty() && *v == wanted) {
        Some(v) => Ok(Some(v)),
        None => Err(unknown(wanted, versions)),
    }
}

fn unknown<'a>(wanted: &str, versions: impl Iterator<Item = &'a str>) -> BadPin {
    let mut known: Vec<&str> = versions.filter(|v| !v.is_empty()).collect();
    known.sort_unstable();
    let known = if known.is_empty() {
        "it has no versions".to_string()
    } else {
        format!("versions: {}", known.join(", "))
    };
    let body = format!("{VERSION_PIN}: no version `{wanted}` of the destination ({known})\n");
    (StatusCode::BAD_REQUEST, UNKNOWN_VERSION, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_is_taken_off_the_request_and_names_a_version() {
        let versions = ["v1", "v2"];
        let mut headers = HeaderMap::new();
        assert_eq!(take(&mut headers, versions.iter().copied()), Ok(None));
        headers.insert(VERSION_PIN, "v2".parse().unwrap());
        headers.insert("accept", "*/*".parse().unwrap());
        assert_eq!(take(&mut headers, versions.iter().copied()), Ok(Some("v2")));
        assert!(!headers.contains_key(VERSION_PIN));
        assert!(headers.contains_key("accept"));
        headers.insert(VERSION_PIN, "v9".parse().unwrap());
        let refused = take(&mut headers, versions.iter().copied()).unwrap_err();
        assert_eq!(refused.0, StatusCode::BAD_REQUEST);
        assert!(!headers.contains_key(VERSION_PIN));
        // A service without versions has one unnamed backend: no pin can name it.
        headers.insert(VERSION_PIN, "".parse().unwrap());
        assert!(take(&mut headers, [""].into_iter()).is_err());
    }

    #[test]
    fn an_unknown_version_names_the_versions() {
        let (status, reason, body) = unknown("v9", ["v2", "v1"].into_iter());
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(reason, UNKNOWN_VERSION);
        assert_eq!(
            body,
            "x-meshctl-version: no version `v9` of the destination (versions: v1, v2)\n"
        );
        let (_, _, body) = unknown("v1", [""].into_iter());
        assert!(body.contains("(it has no versions)"), "{body}");
    }
}
