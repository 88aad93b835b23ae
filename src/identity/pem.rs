//! PEM in, DER out: the small conversions every identity path needs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::IdentityError;

/// Every certificate in a PEM text, in order. Errors when there is none.
pub fn certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, IdentityError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| IdentityError::Pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(IdentityError::Pem("no CERTIFICATE block found".into()));
    }
    Ok(certs)
}

/// Each CERTIFICATE block of a PEM text as its own PEM text (other blocks are skipped).
pub fn cert_blocks(pem: &str) -> Vec<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let Some(len) = rest[start..].find(END) else {
            break;
        };
        let end = start + len + END.len();
        out.push(format!("{}\n", &rest[start..end]));
        rest = &rest[end..];
    }
    out
}

/// The first certificate in a PEM text.
pub fn first_cert(pem: &str) -> Result<CertificateDer<'static>, IdentityError> {
    certs(pem)?
        .into_iter()
        .next()
        .ok_or_else(|| IdentityError::Pem("no CERTIFICATE block found".into()))
}

/// Parses DER with x509-parser, mapping its error into ours.
pub fn parse(der: &[u8]) -> Result<X509Certificate<'_>, IdentityError> {
    X509Certificate::from_der(der)
        .map(|(_, c)| c)
        .map_err(|e| IdentityError::Pem(format!("not a valid X.509 certificate: {e}")))
}

/// A certificate's notAfter as a `SystemTime`.
pub fn not_after(der: &[u8]) -> Result<SystemTime, IdentityError> {
    let cert = parse(der)?;
    Ok(to_system_time(cert.validity().not_after.timestamp()))
}

pub fn to_system_time(unix: i64) -> SystemTime {
    if unix >= 0 {
        UNIX_EPOCH + Duration::from_secs(unix as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(unix.unsigned_abs())
    }
}

/// Seconds since the Unix epoch (negative before it).
pub fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// Colon-separated uppercase hex, as `openssl x509 -serial` style tools show serials.
pub fn hex_serial(raw: &[u8]) -> String {
    raw.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// SHA-256 of a DER certificate, hex: how bundles and anchors are identified in status output.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}
